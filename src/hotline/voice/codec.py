"""Opus for the voice line: one 20 ms mono frame of PCM in, one Opus frame out, and back.

Both ends must agree on the shape of the audio, so it is fixed here rather than negotiated: 48 kHz,
mono, signed 16-bit little-endian, 20 ms frames (:data:`FRAME_BYTES` bytes each). libopus is driven
through ``opuslib_next`` (ctypes bindings with a bundled libopus), and this module is the only one
that knows: the rest of the package sees bytes and :class:`~hotline.voice.errors.VoiceError`.

Settings, and why:

* VOIP application and the voice signal hint: speech, and libopus then favours SILK and hybrid
  modes, which are the ones that carry in-band FEC (LBRR).
* In-band FEC (on by default here), sized by ``expected_loss``: each frame carries a coarse copy of
  the previous one, which the receiver uses when a frame is missing but the next one is there. It
  costs the primary a lot of quality at a given bitrate, so :class:`~hotline.voice.stream.VoiceSender`
  turns it off when it sends full redundant copies instead. ``expected_loss`` also makes the encoder
  lean less on the previous frame, which helps recovery after a loss even without FEC.
* Constant bitrate: the network side pads every datagram to one size anyway, and a steady frame size
  keeps the redundant copies in :mod:`hotline.voice.payload` predictable.
* Every frame is capped at :data:`~hotline.voice.payload.MAX_FRAME_BYTES` so it always fits a payload.

Encoders and decoders hold codec state from frame to frame: one per direction of one call, fed in
order. They are not safe for concurrent use.
"""

from __future__ import annotations

from typing import Any, cast

import opuslib_next  # type: ignore[import-untyped]

from hotline.voice.errors import VoiceError
from hotline.voice.payload import MAX_FRAME_BYTES

SAMPLE_RATE = 48000
CHANNELS = 1
FRAME_MS = 20
#: Samples per channel in one frame.
FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000
#: Bytes of s16le mono PCM in one frame.
FRAME_BYTES = FRAME_SAMPLES * 2 * CHANNELS

#: Measured, not guessed: see the quality regression test (tests/unit/voice/test_quality.py).
DEFAULT_BITRATE = 32000
MIN_BITRATE = 6000
#: Opus CBR at this rate makes 240-byte frames; above it the redundant copies stop fitting a payload.
MAX_BITRATE = 96000


def _opus_error(what: str, exc: Exception) -> VoiceError:
    return VoiceError(f"{what}: libopus says {exc}")


class Encoder:
    """An Opus encoder for one direction of one call. Not safe for concurrent use.

    Args:
        bitrate: bits per second, :data:`MIN_BITRATE` .. :data:`MAX_BITRATE`.
        fec: put in-band FEC (a coarse copy of the previous frame) in every frame.
        expected_loss: the packet loss, in percent, the in-band FEC is sized for.

    Raises:
        VoiceError: a setting is out of range, or libopus cannot be set up.
    """

    def __init__(self, bitrate: int = DEFAULT_BITRATE, fec: bool = True, expected_loss: int = 10) -> None:
        if not MIN_BITRATE <= bitrate <= MAX_BITRATE:
            raise VoiceError(f"bitrate {bitrate} is out of range; choose {MIN_BITRATE}..{MAX_BITRATE} bit/s")
        _check_loss(expected_loss)
        try:
            self._opus: Any = opuslib_next.Encoder(SAMPLE_RATE, CHANNELS, opuslib_next.APPLICATION_VOIP)
            self._opus.signal = opuslib_next.SIGNAL_VOICE
            self._opus.complexity = 10
            self._opus.vbr = 0
            self._opus.bitrate = bitrate
            self._opus.inband_fec = 1 if fec else 0
            self._opus.packet_loss_perc = expected_loss
        except opuslib_next.OpusError as exc:
            raise _opus_error("cannot set up the Opus encoder", exc) from None
        self._fec = fec

    @property
    def bitrate(self) -> int:
        """The encoder's bitrate in bits per second."""
        return int(self._opus.bitrate)

    @property
    def fec(self) -> bool:
        """Whether frames carry in-band FEC."""
        return self._fec

    @property
    def expected_loss(self) -> int:
        """The packet loss, in percent, the in-band FEC is currently sized for."""
        return int(self._opus.packet_loss_perc)

    def set_expected_loss(self, percent: int) -> None:
        """Size the in-band FEC for ``percent`` packet loss (0..100), e.g. from the far end's reports.

        Raises:
            VoiceError: ``percent`` is out of range.
        """
        _check_loss(percent)
        self._opus.packet_loss_perc = percent

    def encode(self, pcm: bytes) -> bytes:
        """Encode one frame.

        Args:
            pcm: exactly :data:`FRAME_BYTES` bytes of 48 kHz mono s16le audio.

        Returns:
            One Opus frame of at most :data:`~hotline.voice.payload.MAX_FRAME_BYTES` bytes.

        Raises:
            VoiceError: ``pcm`` is the wrong size, or libopus failed.
        """
        if not isinstance(pcm, bytes | bytearray | memoryview) or len(pcm) != FRAME_BYTES:
            size = len(pcm) if isinstance(pcm, bytes | bytearray | memoryview) else type(pcm).__name__
            raise VoiceError(
                f"a frame to encode is {FRAME_BYTES} bytes of 48 kHz mono 16-bit PCM (20 ms), got {size}"
            )
        try:
            frame = opuslib_next.api.encoder.encode(
                self._opus.encoder_state, bytes(pcm), FRAME_SAMPLES, MAX_FRAME_BYTES
            )
        except opuslib_next.OpusError as exc:
            raise _opus_error("cannot encode the frame", exc) from None
        return cast(bytes, frame)


class Decoder:
    """An Opus decoder for one direction of one call. Not safe for concurrent use.

    Feed it every frame in order, calling :meth:`decode_fec` or :meth:`conceal` in place of each
    missing one: its state runs from frame to frame, and the concealment relies on it.

    Raises:
        VoiceError: libopus cannot be set up.
    """

    def __init__(self) -> None:
        try:
            self._opus: Any = opuslib_next.Decoder(SAMPLE_RATE, CHANNELS)
        except opuslib_next.OpusError as exc:
            raise _opus_error("cannot set up the Opus decoder", exc) from None

    def decode(self, frame: bytes) -> bytes:
        """Decode one received frame into :data:`FRAME_BYTES` bytes of PCM.

        Raises:
            VoiceError: the frame is empty, corrupt, or not 20 ms long; play :meth:`conceal` instead.
        """
        return self._run(frame, fec=False, what="decode the frame")

    def decode_fec(self, next_frame: bytes) -> bytes:
        """Recover the missing frame *before* ``next_frame`` from ``next_frame``'s in-band FEC.

        If ``next_frame`` carries no FEC, libopus conceals instead, so the result is always usable.
        Decode ``next_frame`` itself afterwards, as usual.

        Raises:
            VoiceError: ``next_frame`` is empty or corrupt; play :meth:`conceal` instead.
        """
        return self._run(next_frame, fec=True, what="recover a frame from in-band FEC")

    def conceal(self) -> bytes:
        """Make up :data:`FRAME_BYTES` bytes of PCM for a frame that never came (Opus PLC).

        Raises:
            VoiceError: libopus failed, which would be a bug.
        """
        # opus_decode treats a zero-length packet as "lost": that is how libopus is asked for PLC.
        return self._run(b"", fec=False, what="conceal a lost frame")

    def _run(self, frame: bytes, *, fec: bool, what: str) -> bytes:
        if not isinstance(frame, bytes | bytearray | memoryview):
            raise VoiceError(f"cannot {what}: an Opus frame is bytes, not {type(frame).__name__}")
        if not frame and (fec or what != "conceal a lost frame"):
            raise VoiceError(f"cannot {what}: the frame is empty; call conceal() for a missing frame")
        try:
            pcm = cast(bytes, self._opus.decode(bytes(frame), FRAME_SAMPLES, fec))
        except opuslib_next.OpusError as exc:
            raise _opus_error(f"cannot {what}", exc) from None
        if len(pcm) != FRAME_BYTES:
            raise VoiceError(
                f"cannot {what}: it holds {len(pcm) // 2 * 1000 // SAMPLE_RATE} ms of audio, "
                f"and this line uses {FRAME_MS} ms frames"
            )
        return pcm


def _check_loss(percent: int) -> None:
    if not 0 <= percent <= 100:
        raise VoiceError(f"expected loss {percent} is out of range; give a percentage 0..100")


__all__ = [
    "CHANNELS",
    "DEFAULT_BITRATE",
    "FRAME_BYTES",
    "FRAME_MS",
    "FRAME_SAMPLES",
    "MAX_BITRATE",
    "MIN_BITRATE",
    "SAMPLE_RATE",
    "Decoder",
    "Encoder",
]
