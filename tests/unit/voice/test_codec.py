"""The Opus wrapper: frame sizes, settings, FEC, concealment, and errors as VoiceError."""

from __future__ import annotations

import math
import struct
from typing import Any

import pytest

from hotline.voice.codec import FRAME_BYTES, FRAME_SAMPLES, SAMPLE_RATE, Decoder, Encoder
from hotline.voice.errors import VoiceError
from hotline.voice.payload import MAX_FRAME_BYTES


def tone(frame: int, freq: float = 440.0) -> bytes:
    """One frame of a sine tone, continuing across frame numbers."""
    start = frame * FRAME_SAMPLES
    return b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * freq * (start + i) / SAMPLE_RATE)))
        for i in range(FRAME_SAMPLES)
    )


def test_constants_describe_20ms_of_48k_mono_s16() -> None:
    assert (SAMPLE_RATE, FRAME_SAMPLES, FRAME_BYTES) == (48000, 960, 1920)


def test_round_trip_gives_whole_frames() -> None:
    encoder, decoder = Encoder(), Decoder()
    for i in range(10):
        frame = encoder.encode(tone(i))
        assert 0 < len(frame) <= MAX_FRAME_BYTES
        assert len(decoder.decode(frame)) == FRAME_BYTES


def test_constant_bitrate_gives_steady_frame_sizes() -> None:
    encoder = Encoder(32000, fec=False)
    sizes = {len(encoder.encode(tone(i))) for i in range(20)}
    assert sizes == {80}  # 32 kbit/s * 20 ms / 8


def test_settings_are_applied_and_readable() -> None:
    encoder = Encoder(24000, fec=True, expected_loss=5)
    assert encoder.bitrate == 24000
    assert encoder.fec
    assert encoder.expected_loss == 5
    encoder.set_expected_loss(20)
    assert encoder.expected_loss == 20


@pytest.mark.parametrize("kwargs", [{"bitrate": 100}, {"bitrate": 10**6}, {"expected_loss": -1}])
def test_bad_settings_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(VoiceError, match="out of range"):
        Encoder(**kwargs)


def test_set_expected_loss_checks_range() -> None:
    with pytest.raises(VoiceError, match=r"0\.\.100"):
        Encoder().set_expected_loss(101)


@pytest.mark.parametrize("pcm", [b"", bytes(FRAME_BYTES - 2), bytes(FRAME_BYTES + 2)])
def test_encode_wants_exactly_one_frame(pcm: bytes) -> None:
    with pytest.raises(VoiceError, match="1920 bytes"):
        Encoder().encode(pcm)


def test_conceal_and_fec_give_whole_frames() -> None:
    encoder, decoder = Encoder(fec=True, expected_loss=20), Decoder()
    frames = [encoder.encode(tone(i)) for i in range(6)]
    decoder.decode(frames[0])
    decoder.decode(frames[1])
    assert len(decoder.conceal()) == FRAME_BYTES  # frame 2 lost
    assert len(decoder.decode_fec(frames[4])) == FRAME_BYTES  # frame 3 from frame 4's LBRR
    assert len(decoder.decode(frames[4])) == FRAME_BYTES


def test_fec_recovers_audio_not_silence() -> None:
    """A frame recovered from in-band FEC carries the tone, close to the real thing."""
    encoder, decoder = Encoder(fec=True, expected_loss=20), Decoder()
    frames = [encoder.encode(tone(i)) for i in range(30)]
    for frame in frames[:20]:
        decoder.decode(frame)
    recovered = struct.unpack(f"<{FRAME_SAMPLES}h", decoder.decode_fec(frames[21]))
    rms = math.sqrt(sum(s * s for s in recovered) / FRAME_SAMPLES)
    assert rms > 2000  # the tone's RMS is about 5600


def test_corrupt_frame_raises_voice_error() -> None:
    with pytest.raises(VoiceError, match="libopus"):
        Decoder().decode(b"\xff\xff\xff")


def test_empty_frame_points_to_conceal() -> None:
    with pytest.raises(VoiceError, match="conceal"):
        Decoder().decode(b"")
    with pytest.raises(VoiceError, match="conceal"):
        Decoder().decode_fec(b"")


def test_wrong_duration_frame_is_refused() -> None:
    """A peer's 10 ms packet is not a frame of this line."""
    import opuslib_next  # type: ignore[import-untyped]

    short = opuslib_next.Encoder(SAMPLE_RATE, 1, "voip").encode(bytes(FRAME_BYTES // 2), FRAME_SAMPLES // 2)
    with pytest.raises(VoiceError, match="20 ms"):
        Decoder().decode(short)
