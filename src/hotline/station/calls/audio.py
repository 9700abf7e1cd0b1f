"""Where a call's sound comes from and goes to: WAV files, silence, or the sound card.

Every source gives 20 ms frames of 48 kHz mono 16-bit PCM (:data:`hotline.voice.codec.FRAME_BYTES`)
and every sink takes them, one per tick of the call's media clock. The sound card needs the optional
``sounddevice`` package (``pip install 'hotline[audio]'``) and a device; where either is missing the
error says how to use WAV files instead.
"""

from __future__ import annotations

import collections
import contextlib
import threading
from pathlib import Path
from typing import Any, Protocol

from hotline.station import outfile
from hotline.station.errors import StationError
from hotline.voice.codec import FRAME_BYTES, FRAME_SAMPLES, SAMPLE_RATE
from hotline.voice.errors import VoiceError
from hotline.voice.wavio import WavSink, WavSource

SILENCE = bytes(FRAME_BYTES)
#: Frames the sound card may run ahead of or behind the media clock before frames are dropped.
_DEVICE_SLACK = 10


class Source(Protocol):
    """Gives one frame per tick; None once it has nothing more to say."""

    def read(self) -> bytes | None: ...

    def close(self) -> None: ...


class Sink(Protocol):
    """Takes one frame per tick."""

    def write(self, pcm: bytes) -> None: ...

    def close(self) -> None: ...


class Silence:
    """A source that never ends and says nothing (an auto-answered line with nothing to play)."""

    def read(self) -> bytes | None:
        return SILENCE

    def close(self) -> None:
        pass


class Discard:
    """A sink that drops what it hears."""

    def write(self, pcm: bytes) -> None:
        pass

    def close(self) -> None:
        pass


class WavFileSource:
    """Plays a WAV file (any rate, mono or stereo), then ends."""

    def __init__(self, path: Path) -> None:
        try:
            self._wav: WavSource | None = WavSource(path)
        except VoiceError as exc:
            raise StationError("bad-audio", str(exc)) from None

    def read(self) -> bytes | None:
        if self._wav is None:
            return None
        frame = self._wav.read_frame()
        if frame is None:
            self.close()
        return frame

    def close(self) -> None:
        if self._wav is not None:
            self._wav.close()
            self._wav = None


class WavFileSink:
    """Records to a new 48 kHz mono WAV file (mode 0600; never an existing file or a link: F7).

    Raises:
        StationError: ``bad-request`` when the path exists or is a link, ``bad-file`` when it cannot
            be created.
    """

    def __init__(self, path: Path, *, make_folder: bool = False) -> None:
        file = outfile.create(path, make_folder=make_folder)
        try:
            self._wav: WavSink | None = WavSink(path, file=file)
        except (OSError, VoiceError) as exc:
            file.close()
            raise StationError("bad-audio", f"cannot record to {path}: {exc}") from None

    def write(self, pcm: bytes) -> None:
        if self._wav is not None:
            self._wav.write_frame(pcm)

    def close(self) -> None:
        if self._wav is not None:
            with contextlib.suppress(OSError, VoiceError):
                self._wav.close()
            self._wav = None


class SoundCard:
    """The default input and output device, through PortAudio.

    The device runs on its own clock in its own thread; small queues between it and the media
    clock absorb the difference, dropping or repeating silence when the two drift apart.
    """

    def __init__(self) -> None:
        sd = _sounddevice()
        self._in: collections.deque[bytes] = collections.deque(maxlen=_DEVICE_SLACK)
        self._out: collections.deque[bytes] = collections.deque(maxlen=_DEVICE_SLACK)
        self._lock = threading.Lock()
        try:
            self._stream = sd.RawStream(
                samplerate=SAMPLE_RATE,
                blocksize=FRAME_SAMPLES,
                channels=1,
                dtype="int16",
                callback=self._callback,
            )
            self._stream.start()
        except Exception as exc:  # PortAudio raises its own error types, and OSError for no device
            raise StationError("no-audio-device", f"cannot open the sound card: {exc}. {_USE_WAV}") from None

    def _callback(self, indata: Any, outdata: Any, frames: int, time: Any, status: Any) -> None:
        with self._lock:
            self._in.append(bytes(indata))
            frame = self._out.popleft() if self._out else SILENCE
        outdata[:] = frame[: len(outdata)]

    def read(self) -> bytes | None:
        with self._lock:
            return self._in.popleft() if self._in else SILENCE

    def write(self, pcm: bytes) -> None:
        with self._lock:
            self._out.append(pcm)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._stream.stop()
            self._stream.close()


_USE_WAV = (
    "Without a sound card, give WAV files: --play IN.wav sends a file, --record OUT.wav keeps what you hear"
)


def _sounddevice() -> Any:
    try:
        import sounddevice  # type: ignore[import-not-found, unused-ignore]
    except (ImportError, OSError) as exc:
        raise StationError(
            "no-audio-device",
            f"no sound card support here ({exc}; install it with `pip install 'hotline[audio]'` and the "
            f"PortAudio library). {_USE_WAV}",
        ) from None
    try:
        sounddevice.query_devices(kind="input")
        sounddevice.query_devices(kind="output")
    except Exception:
        raise StationError("no-audio-device", f"this machine has no sound card. {_USE_WAV}") from None
    return sounddevice


def open_endpoints(play: str | None, record: str | None) -> tuple[Source, Sink]:
    """The source and sink for a call: files where given, else the sound card.

    Raises:
        StationError: ``bad-audio`` for a file that cannot be used, ``no-audio-device`` when the
            sound card is needed and there is none.
    """
    source: Source | None = WavFileSource(Path(play)) if play else None
    try:
        sink: Sink | None = WavFileSink(Path(record)) if record else None
    except StationError:
        if source is not None:
            source.close()
        raise
    if source is not None and sink is not None:
        return source, sink
    if source is not None and sink is None:
        # a file to play and nothing to record to: the far end is heard nowhere, which is what a
        # scripted announcement wants
        return source, Discard()
    if sink is not None:
        # recording only: we say nothing (silence), which is what a listening post wants
        return Silence(), sink
    card = SoundCard()
    return card, card


__all__ = ["SILENCE", "Discard", "Silence", "Sink", "SoundCard", "Source", "WavFileSink", "WavFileSource"]
