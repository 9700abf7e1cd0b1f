"""The voice package's exceptions.

Everything this package raises on purpose is a :class:`VoiceError`, so the station can catch one type
around a call. Messages say what went wrong and what to do about it, because they end up in front of
an operator or an integrator, not in a debugger.
"""

from __future__ import annotations


class VoiceError(Exception):
    """A voice operation failed: bad audio, a bad file, or the codec refused."""


class PayloadError(VoiceError):
    """A voice payload is malformed, or a frame cannot be packed into one.

    On the receive side this is the only exception :func:`hotline.voice.payload.unpack_payload` raises,
    whatever bytes it is given; the receiver counts the payload and drops it.
    """


__all__ = ["PayloadError", "VoiceError"]
