"""The voice payload: one per 20 ms, carrying the new Opus frame and copies of the ones before it.

A lost datagram costs us nothing if the next one also carries its frame, so every payload repeats the
last few frames (the idea of RFC 2198 redundant audio, without its RTP framing, which we do not need:
the session already numbers, encrypts and authenticates each datagram). Bandwidth is cheap on our
line and loss is not, so we spend bytes on copies rather than on clever coding.

Layout, all integers big-endian::

    offset  size  field
    0       1     version, always 1
    1       4     index: number of the primary frame, counted in 20 ms frames since the call started
    5       1     n: how many frames follow (1..255)
    6       ...   n times: u16 length L (1..MAX_FRAME_BYTES), then L bytes of one Opus frame

Frame ``k`` (0-based) is frame number ``index - k``: frame 0 is the primary, the rest are older
copies, newest first. ``n - 1 <= index`` (there is no frame before the call started), and nothing may
follow the last frame. A payload never exceeds :data:`MAX_PAYLOAD` bytes, so the network side can
pad every datagram to one size and the call's traffic shape says nothing about the speech.

This module is pure: bytes in, bytes out, no clock and no codec.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from hotline.voice.errors import PayloadError

#: The only payload version we write and accept.
VERSION = 1
#: Upper bound on a packed payload, in bytes; pad datagrams to this.
MAX_PAYLOAD = 400

_HEADER = struct.Struct(">BIB")
_LENGTH = struct.Struct(">H")
_MAX_INDEX = 0xFFFF_FFFF
_MAX_FRAMES = 0xFF

#: The largest single frame that fits a payload on its own (the encoder is capped to this).
MAX_FRAME_BYTES = MAX_PAYLOAD - _HEADER.size - _LENGTH.size


def pack_payload(index: int, frames: Sequence[bytes]) -> bytes:
    """Pack frame ``index`` and its predecessors into one payload.

    Args:
        index: the number of ``frames[0]``, in 20 ms frames since the call started.
        frames: ``frames[k]`` is the encoded frame number ``index - k``. The oldest copies that do
            not fit in :data:`MAX_PAYLOAD` are left out; the primary never is.

    Returns:
        The payload, at most :data:`MAX_PAYLOAD` bytes.

    Raises:
        PayloadError: ``index`` is out of range, there is no frame, a frame is empty, there are
            frames from before the call started, or the primary alone does not fit.
    """
    if not 0 <= index <= _MAX_INDEX:
        raise PayloadError(f"frame index {index} is out of range 0..{_MAX_INDEX}; start a new call")
    if not frames:
        raise PayloadError("a payload needs at least the primary frame")
    if len(frames) - 1 > index:
        raise PayloadError(
            f"frame {index} cannot have {len(frames) - 1} earlier frames; pass only frames of this call"
        )
    if len(frames[0]) > MAX_FRAME_BYTES:
        raise PayloadError(
            f"the primary frame is {len(frames[0])} bytes, more than the {MAX_FRAME_BYTES} that fit in a "
            "payload; lower the encoder's bitrate"
        )
    parts = []
    size = _HEADER.size
    for frame in frames[:_MAX_FRAMES]:
        if not frame:
            raise PayloadError("an encoded frame is empty; the encoder never produces one, so this is a bug")
        size += _LENGTH.size + len(frame)
        if size > MAX_PAYLOAD:
            # Older copies are worth less than newer ones (they arrive later than any jitter buffer
            # waits for), so we stop at the first that does not fit rather than skip over it.
            break
        parts.append(_LENGTH.pack(len(frame)))
        parts.append(bytes(frame))
    return _HEADER.pack(VERSION, index, len(parts) // 2) + b"".join(parts)


def unpack_payload(data: bytes) -> tuple[int, list[bytes]]:
    """Parse one payload.

    Returns:
        ``(index, frames)`` where ``frames[k]`` is frame number ``index - k``.

    Raises:
        PayloadError: for any malformed input, and nothing else.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise PayloadError(f"a payload is bytes, not {type(data).__name__}")
    data = bytes(data)
    if len(data) > MAX_PAYLOAD:
        raise PayloadError(f"payload of {len(data)} bytes is larger than {MAX_PAYLOAD}")
    if len(data) < _HEADER.size:
        raise PayloadError(f"payload of {len(data)} bytes is shorter than its {_HEADER.size}-byte header")
    version, index, count = _HEADER.unpack_from(data)
    if version != VERSION:
        raise PayloadError(f"unknown payload version {version}; this station speaks version {VERSION}")
    if count == 0:
        raise PayloadError("payload carries no frame")
    if count - 1 > index:
        raise PayloadError(f"payload for frame {index} claims {count - 1} earlier frames")
    frames = []
    offset = _HEADER.size
    for _ in range(count):
        if offset + _LENGTH.size > len(data):
            raise PayloadError("payload ends inside a frame length")
        (length,) = _LENGTH.unpack_from(data, offset)
        offset += _LENGTH.size
        if length == 0:
            raise PayloadError("payload carries an empty frame")
        if offset + length > len(data):
            raise PayloadError("payload ends inside a frame")
        frames.append(data[offset : offset + length])
        offset += length
    if offset != len(data):
        raise PayloadError(f"{len(data) - offset} stray bytes after the last frame")
    return index, frames


__all__ = ["MAX_FRAME_BYTES", "MAX_PAYLOAD", "VERSION", "PayloadError", "pack_payload", "unpack_payload"]
