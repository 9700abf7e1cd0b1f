"""WAV in and out: formats, rates, channel counts, and plain errors for bad files."""

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path

import numpy as np
import pytest

from hotline.voice import FRAME_BYTES, VoiceError, WavSink, WavSource
from hotline.voice.wavio import read_mono


def write_tone(path: Path, *, rate: int, channels: int, width: int = 2, seconds: float = 0.5) -> None:
    """A 440 Hz tone at half scale, same in every channel."""
    n = int(rate * seconds)
    full = (1 << (8 * width - 1)) - 1
    frames = bytearray()
    for i in range(n):
        value = int(0.5 * full * math.sin(2 * math.pi * 440 * i / rate))
        if width == 1:
            sample = bytes([value + 128])
        else:
            sample = value.to_bytes(width, "little", signed=True)
        frames += sample * channels
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(width)
        wav.setframerate(rate)
        wav.writeframes(bytes(frames))


def read_all(source: WavSource) -> list[bytes]:
    return list(iter(source.read_frame, None))


@pytest.mark.parametrize("rate", [8000, 16000, 44100, 48000])
@pytest.mark.parametrize("channels", [1, 2])
def test_any_rate_and_channels_come_out_as_48k_mono_frames(tmp_path: Path, rate: int, channels: int) -> None:
    path = tmp_path / "in.wav"
    write_tone(path, rate=rate, channels=channels)
    with WavSource(path) as source:
        assert source.duration == pytest.approx(0.5, abs=1e-3)
        frames = read_all(source)
        assert source.read_frame() is None
    assert all(len(f) == FRAME_BYTES for f in frames)
    assert len(frames) == 25  # 0.5 s exactly, however the resampler chunks it
    samples = np.frombuffer(b"".join(frames[2:-2]), dtype="<i2").astype(np.float64)
    rms = math.sqrt(float(np.mean(samples * samples)))
    assert rms == pytest.approx(0.5 * 32767 / math.sqrt(2), rel=0.05)


@pytest.mark.parametrize("width", [1, 3, 4])
def test_8_24_and_32_bit_are_read(tmp_path: Path, width: int) -> None:
    path = tmp_path / "in.wav"
    write_tone(path, rate=48000, channels=1, width=width)
    samples, rate = read_mono(path)
    assert rate == 48000
    assert float(np.max(samples)) == pytest.approx(0.5, abs=0.01)
    with WavSource(path) as source:
        assert len(read_all(source)) == 25


def test_last_partial_frame_is_padded(tmp_path: Path) -> None:
    path = tmp_path / "in.wav"
    write_tone(path, rate=48000, channels=1, seconds=0.03)
    with WavSource(path) as source:
        frames = read_all(source)
    assert len(frames) == 2
    assert frames[1][960:] == bytes(960)


def test_sink_writes_48k_mono_16bit(tmp_path: Path) -> None:
    path = tmp_path / "out.wav"
    pcm = struct.pack("<960h", *range(960))
    with WavSink(path) as sink:
        sink.write_frame(pcm)
        sink.write_frame(pcm)
        assert sink.frames_written == 2
        with pytest.raises(VoiceError, match="1920 bytes"):
            sink.write_frame(b"\x00\x00")
    with wave.open(str(path), "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth(), wav.getnframes()) == (
            48000,
            1,
            2,
            1920,
        )
    with WavSource(path) as source:
        assert read_all(source) == [pcm, pcm]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(VoiceError, match=r"no such file.*PCM WAV"):
        WavSource(tmp_path / "nope.wav")


def test_garbage_file(tmp_path: Path) -> None:
    path = tmp_path / "garbage.wav"
    path.write_bytes(b"this is not a wav file at all" * 10)
    with pytest.raises(VoiceError, match=r"garbage\.wav: not a readable WAV"):
        WavSource(path)


def test_float_wav_is_refused_with_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "float.wav"
    data = struct.pack("<4f", 0.0, 0.1, 0.2, 0.3)
    fmt = struct.pack("<HHIIHH", 3, 1, 48000, 48000 * 4, 4, 32)
    riff = (
        b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    )
    path.write_bytes(b"RIFF" + struct.pack("<I", len(riff)) + riff)
    with pytest.raises(VoiceError, match="float WAVs are not accepted"):
        WavSource(path)


def test_sink_in_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(VoiceError, match="cannot create"):
        WavSink(tmp_path / "no" / "such" / "out.wav")


def test_closed_source_and_sink_refuse(tmp_path: Path) -> None:
    path = tmp_path / "in.wav"
    write_tone(path, rate=16000, channels=1)
    source = WavSource(path)
    source.close()
    source.close()
    with pytest.raises(VoiceError, match="closed"):
        source.read_frame()
    sink = WavSink(tmp_path / "out.wav")
    sink.close()
    with pytest.raises(VoiceError, match="closed"):
        sink.write_frame(bytes(FRAME_BYTES))
