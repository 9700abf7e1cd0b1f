"""WAV files in and out of a call, 20 ms at a time: for tests, line checks and recorded messages.

:class:`WavSource` reads whatever integer PCM WAV the stdlib :mod:`wave` module can open (8, 16, 24 or
32 bits, any number of channels, any sample rate) and hands out call frames: 48 kHz mono s16le,
:data:`~hotline.voice.codec.FRAME_BYTES` at a time. Channels are averaged, and other rates are
resampled with soxr's streaming resampler, so a long recording is never held in memory.
:class:`WavSink` writes call frames back out.

Float WAVs (format 3) are refused: :mod:`wave` cannot read them, and we would rather say so plainly
than guess. This module does file I/O, so the sans-IO modules never import it.
"""

from __future__ import annotations

import wave
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Self

import numpy as np
import numpy.typing as npt
import soxr  # type: ignore[import-untyped]

from hotline.voice.codec import FRAME_BYTES, SAMPLE_RATE
from hotline.voice.errors import VoiceError

_ACCEPTED = "an uncompressed integer PCM WAV file (8, 16, 24 or 32 bits, mono or stereo, any sample rate)"
#: Input read per step, in seconds: small enough to stream, big enough to keep numpy calls few.
_CHUNK_SECONDS = 0.5

FloatArray = npt.NDArray[np.float32]


def _open_wav(path: Path) -> wave.Wave_read:
    try:
        return wave.open(str(path), "rb")
    except FileNotFoundError:
        raise VoiceError(f"{path}: no such file; give the path of {_ACCEPTED}") from None
    except (wave.Error, EOFError) as exc:
        hint = " (float WAVs are not accepted; convert to 16-bit)" if "format: 3" in str(exc) else ""
        raise VoiceError(f"{path}: not a readable WAV ({exc}){hint}; give {_ACCEPTED}") from None
    except OSError as exc:
        raise VoiceError(f"{path}: cannot open ({exc.strerror or exc}); give {_ACCEPTED}") from None


def _to_mono_float(raw: bytes, width: int, channels: int) -> FloatArray:
    """Interleaved integer PCM of ``width`` bytes per sample to mono float32 in [-1, 1)."""
    if width == 1:
        # 8-bit WAV is the one unsigned format.
        samples = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        samples = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    elif width == 3:
        triples = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        ints = triples[:, 0] | (triples[:, 1] << 8) | (triples[:, 2] << 16)
        ints = np.where(ints >= 1 << 23, ints - (1 << 24), ints)
        samples = ints.astype(np.float32) / float(1 << 23)
    else:
        samples = (np.frombuffer(raw, dtype="<i4").astype(np.float64) / float(1 << 31)).astype(np.float32)
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1, dtype=np.float32)
    return samples


def _to_s16(samples: FloatArray) -> bytes:
    return bytes(np.clip(np.round(samples * 32768.0), -32768, 32767).astype("<i2").tobytes())


def read_mono(path: Path) -> tuple[FloatArray, int]:
    """The whole of a WAV file as mono float32 samples and its sample rate (for measurement, not calls).

    Raises:
        VoiceError: the file is missing, unreadable, or not an integer PCM WAV.
    """
    with _open_wav(path) as wav:
        _check_format(path, wav)
        raw = wav.readframes(wav.getnframes())
        return _to_mono_float(raw, wav.getsampwidth(), wav.getnchannels()), wav.getframerate()


def _check_format(path: Path, wav: wave.Wave_read) -> None:
    if wav.getsampwidth() not in (1, 2, 3, 4):
        raise VoiceError(f"{path}: {wav.getsampwidth() * 8}-bit samples; give {_ACCEPTED}")
    if wav.getnchannels() < 1 or wav.getframerate() < 1:
        raise VoiceError(f"{path}: the WAV header is broken; give {_ACCEPTED}")


class WavSource:
    """Reads a WAV file as 20 ms call frames. Not safe for concurrent use; close it (or use ``with``).

    Args:
        path: the file to read.

    Raises:
        VoiceError: the file is missing, unreadable, or not an integer PCM WAV.
    """

    def __init__(self, path: Path | str) -> None:
        self._path = Path(path)
        self._wav = _open_wav(self._path)
        try:
            _check_format(self._path, self._wav)
        except VoiceError:
            self._wav.close()
            raise
        self._width = self._wav.getsampwidth()
        self._channels = self._wav.getnchannels()
        self._rate = self._wav.getframerate()
        self._nframes = self._wav.getnframes()
        self._chunk = max(1, round(self._rate * _CHUNK_SECONDS))
        self._resampler: Any = (
            None if self._rate == SAMPLE_RATE else soxr.ResampleStream(self._rate, SAMPLE_RATE, 1, "float32")
        )
        #: Converted 48 kHz s16le not yet read, from offset ``_at``.
        self._pcm = bytearray()
        self._at = 0
        self._eof = False
        self._closed = False

    @property
    def duration(self) -> float:
        """The file's length in seconds."""
        return self._nframes / self._rate

    @property
    def sample_rate(self) -> int:
        """The file's own sample rate (frames come out at 48 kHz whatever it is)."""
        return self._rate

    def read_frame(self) -> bytes | None:
        """The next :data:`~hotline.voice.codec.FRAME_BYTES` of 48 kHz mono s16le, or ``None`` at the end.

        The last frame is padded with silence.

        Raises:
            VoiceError: the file is closed, or turns out to be truncated or unreadable.
        """
        if self._closed:
            raise VoiceError(f"{self._path}: read from a closed WavSource")
        while len(self._pcm) - self._at < FRAME_BYTES and not self._eof:
            self._fill()
        left = len(self._pcm) - self._at
        if left <= 0:
            return None
        if left < FRAME_BYTES:
            self._pcm += bytes(FRAME_BYTES - left)  # the last frame, padded with silence
        pcm = bytes(self._pcm[self._at : self._at + FRAME_BYTES])
        self._at += FRAME_BYTES
        return pcm

    def _fill(self) -> None:
        try:
            raw = self._wav.readframes(self._chunk)
        except (wave.Error, EOFError, OSError) as exc:
            raise VoiceError(f"{self._path}: cannot read audio ({exc}); is the file truncated?") from None
        usable = len(raw) - len(raw) % (self._width * self._channels)
        self._eof = usable == 0 or len(raw) < self._chunk * self._width * self._channels
        samples = _to_mono_float(raw[:usable], self._width, self._channels)
        if self._resampler is not None:
            samples = self._resampler.resample_chunk(samples, last=self._eof).astype(np.float32, copy=False)
        # converted a chunk at a time, not a frame at a time: a call reads one frame every 20 ms
        del self._pcm[: self._at]
        self._at = 0
        self._pcm += _to_s16(samples)

    def close(self) -> None:
        """Close the file. Closing twice is harmless."""
        if not self._closed:
            self._closed = True
            self._wav.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class WavSink:
    """Writes 20 ms call frames to a 48 kHz mono 16-bit WAV file. Close it (or use ``with``).

    Args:
        path: the file to create (replaced if it exists), or only its name when ``file`` is given.
        file: a file already open for writing (the sink closes it), for callers that create files
            their own way (the station: new, private, never through a link).

    Raises:
        VoiceError: the file cannot be created.
    """

    def __init__(self, path: Path | str, *, file: BinaryIO | None = None) -> None:
        self._path = Path(path)
        if file is not None:
            self._file = file
        else:
            try:
                # We open the file ourselves: wave.open(str) leaves a half-built object that complains
                # when it is collected, if the open fails.
                self._file = open(self._path, "wb")  # noqa: SIM115 - closed by close()
            except OSError as exc:
                reason = exc.strerror or exc
                raise VoiceError(f"{self._path}: cannot create ({reason}); check the folder exists") from None
        self._wav = wave.open(self._file, "wb")  # noqa: SIM115 - closed by close()
        self._wav.setnchannels(1)
        self._wav.setsampwidth(2)
        self._wav.setframerate(SAMPLE_RATE)
        self._frames = 0
        self._closed = False

    @property
    def frames_written(self) -> int:
        """How many 20 ms frames have been written."""
        return self._frames

    def write_frame(self, pcm: bytes) -> None:
        """Append one frame of :data:`~hotline.voice.codec.FRAME_BYTES` bytes of 48 kHz mono s16le.

        Raises:
            VoiceError: the frame is the wrong size, the sink is closed, or the write failed.
        """
        if self._closed:
            raise VoiceError(f"{self._path}: write to a closed WavSink")
        if len(pcm) != FRAME_BYTES:
            raise VoiceError(f"a frame is {FRAME_BYTES} bytes of 48 kHz mono 16-bit PCM, got {len(pcm)}")
        try:
            self._wav.writeframesraw(pcm)
        except OSError as exc:
            raise VoiceError(f"{self._path}: cannot write ({exc.strerror or exc})") from None
        self._frames += 1

    def close(self) -> None:
        """Finish the header and close the file. Closing twice is harmless."""
        if not self._closed:
            self._closed = True
            try:
                self._wav.close()
            except OSError as exc:
                raise VoiceError(f"{self._path}: cannot finish ({exc.strerror or exc})") from None
            finally:
                self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


__all__ = ["WavSink", "WavSource", "read_mono"]
