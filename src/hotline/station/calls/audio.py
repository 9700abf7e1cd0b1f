"""Where a call's sound comes from and goes to: WAV files, silence, or the sound card.

Every source gives 20 ms frames of 48 kHz mono 16-bit PCM (:data:`hotline.voice.codec.FRAME_BYTES`)
and every sink takes them, one per tick of the call's media clock. The sound card needs the optional
``sounddevice`` package (``pip install 'hotline[audio]'``) and a device; where either is missing the
error says how to use WAV files instead. Which devices: the ``[audio]`` table of ``station.toml``
(:class:`hotline.station.config.AudioSettings`), else the system's defaults.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import threading
from pathlib import Path
from typing import Any, Protocol

from hotline.station import outfile
from hotline.station.config import AudioSettings
from hotline.station.errors import StationError
from hotline.voice.codec import FRAME_BYTES, FRAME_SAMPLES, SAMPLE_RATE
from hotline.voice.errors import VoiceError
from hotline.voice.wavio import WavSink, WavSource

log = logging.getLogger("hotline.calls")

SILENCE = bytes(FRAME_BYTES)
#: Frames held between a sound device and the media clock before the first one is passed on (and
#: again after the queue ran dry): the two clocks tick 20 ms apart each, but a few milliseconds
#: early or late, and without this cushion every late tick would cut 20 ms of silence into speech.
CUSHION = 2
#: Frames the queue holds at most; past that, the device's clock runs ahead of the media clock's
#: (or the other way round) and the oldest frame is dropped, so the delay stays bounded.
MOST_QUEUED = CUSHION + 4
#: PortAudio's own buffering per device ("high": its safe choice for the device). The callbacks are
#: Python, sharing the interpreter with the daemon's cryptography: a buffer of a few milliseconds
#: ("low") would run dry whenever they wait for it.
LATENCY = "high"


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


class FrameQueue:
    """Frames between a sound device's thread and the media clock, with a cushion (thread-safe).

    :meth:`take` gives silence until :data:`CUSHION` frames are queued, then one queued frame per
    call; when the queue runs dry it gives silence and waits for the cushion again. :meth:`put`
    drops the oldest frame once :data:`MOST_QUEUED` are waiting.
    """

    def __init__(self) -> None:
        self._frames: collections.deque[bytes] = collections.deque(maxlen=MOST_QUEUED)
        self._lock = threading.Lock()
        self._flowing = False
        #: Frames dropped because the queue was full, and times it ran dry while flowing.
        self.dropped = 0
        self.ran_dry = 0

    def put(self, frame: bytes) -> None:
        with self._lock:
            if len(self._frames) == MOST_QUEUED:
                self.dropped += 1
            self._frames.append(frame)

    def take(self) -> bytes:
        with self._lock:
            if not self._flowing and len(self._frames) >= CUSHION:
                self._flowing = True
            if self._flowing and self._frames:
                return self._frames.popleft()
            if self._flowing:
                self.ran_dry += 1
            self._flowing = False
            return SILENCE


class SoundCard:
    """The sound card, through PortAudio: an input device (the microphone) and an output device.

    Each device runs on its own clock in its own thread, in a stream of its own (a headset's
    microphone and a desk speaker are two clocks that drift apart; one duplex stream over both
    would stall on whichever is late). Small queues between each device and the media clock absorb
    the difference, dropping frames or playing silence when the clocks drift apart.

    Raises:
        StationError: ``no-audio-device`` when there is no sound card support or device, a device
            named in ``station.toml`` is not there (the message lists those that are), or PortAudio
            refuses to open it.
    """

    def __init__(self, devices: AudioSettings | None = None) -> None:
        sd = _sounddevice()
        chosen = devices or AudioSettings()
        listed = _device_list(sd)
        inp = pick_device(listed, chosen.input, "input")
        out = pick_device(listed, chosen.output, "output")
        self._heard = FrameQueue()
        self._to_play = FrameQueue()
        self._streams: list[Any] = []
        try:
            for kind, stream_type, device, callback in (
                ("input", sd.RawInputStream, inp, self._on_input),
                ("output", sd.RawOutputStream, out, self._on_output),
            ):
                self._streams.append(_open(stream_type, kind, device, callback, listed))
        except StationError:
            self.close()
            raise

    def _on_input(self, indata: Any, frames: int, time: Any, status: Any) -> None:
        self._heard.put(bytes(indata))

    def _on_output(self, outdata: Any, frames: int, time: Any, status: Any) -> None:
        outdata[:] = self._to_play.take()[: len(outdata)]

    def read(self) -> bytes | None:
        return self._heard.take()

    def write(self, pcm: bytes) -> None:
        self._to_play.put(pcm)

    def close(self) -> None:
        streams, self._streams = self._streams, []
        if streams:
            # how well the device clocks kept pace with the call's: numbers only
            log.info(
                "sound card closed: microphone %d frames dropped, %d gaps; speaker %d dropped, %d gaps",
                self._heard.dropped,
                self._heard.ran_dry,
                self._to_play.dropped,
                self._to_play.ran_dry,
            )
        for stream in streams:
            with contextlib.suppress(Exception):
                stream.stop()
            with contextlib.suppress(Exception):
                stream.close()


_USE_WAV = (
    "Without a sound card, give WAV files: --play IN.wav sends a file, --record OUT.wav keeps what you hear"
)


def _sounddevice() -> Any:
    try:
        import sounddevice  # type: ignore[import-untyped, import-not-found, unused-ignore]
    except (ImportError, OSError) as exc:
        raise StationError(
            "no-audio-device",
            f"no sound card support here ({exc}; install it with `pip install 'hotline[audio]'` and the "
            f"PortAudio library). {_USE_WAV}",
        ) from None
    return sounddevice


def _device_list(sd: Any) -> list[dict[str, Any]]:
    try:
        return [dict(device) for device in sd.query_devices()]
    except Exception as exc:  # PortAudio's own error type
        raise StationError("no-audio-device", f"cannot list the sound devices: {exc}. {_USE_WAV}") from None


def _open(
    stream_type: Any, kind: str, device: int | None, callback: Any, listed: list[dict[str, Any]]
) -> Any:
    try:
        stream = stream_type(
            samplerate=SAMPLE_RATE,
            blocksize=FRAME_SAMPLES,
            device=device,
            channels=1,
            dtype="int16",
            latency=LATENCY,
            callback=callback,
        )
        stream.start()
        return stream
    except Exception as exc:  # PortAudio raises its own error types, and OSError for no device
        name = f"{kind} device {listed[device]['name']!r}" if device is not None else f"default {kind} device"
        raise StationError(
            "no-audio-device",
            f"cannot open the {name} for 48 kHz mono: {exc}. Choose another in the "
            f"[audio] table of station.toml (a device named pulse or default converts rates). {_USE_WAV}",
        ) from None


def pick_device(devices: list[dict[str, Any]], wanted: str | int | None, kind: str) -> int | None:
    """The number of the ``kind`` ("input" or "output") device that ``wanted`` names.

    ``devices`` is PortAudio's list (``sounddevice.query_devices()``); ``wanted`` is a device's
    number, its whole name, or a part of its name (any case) that only one such device has. None
    picks the system's default device, which must exist.

    Raises:
        StationError: ``no-audio-device`` when no device, or more than one, fits; the message lists
            the devices there are.
    """
    usable = [(number, str(d["name"])) for number, d in enumerate(devices) if d[f"max_{kind}_channels"] > 0]
    if not usable:
        raise StationError("no-audio-device", f"this machine has no sound card. {_USE_WAV}")
    if wanted is None:
        return None
    if isinstance(wanted, int) or wanted.isdigit():
        fits = [(number, name) for number, name in usable if number == int(wanted)]
    else:
        fits = [(number, name) for number, name in usable if name == wanted]
        if not fits:
            fits = [(number, name) for number, name in usable if wanted.casefold() in name.casefold()]
    if len(fits) == 1:
        return fits[0][0]
    listing = "; ".join(f"{number}: {name}" for number, name in (fits or usable))
    if fits:
        raise StationError(
            "no-audio-device",
            f"{wanted!r} fits {len(fits)} {kind} devices ({listing}): set `{kind}` in the [audio] "
            "table of station.toml to more of the name, or to the number",
        )
    raise StationError(
        "no-audio-device",
        f"no {kind} device is called {wanted!r}; the {kind} devices here are {listing}. Set `{kind}` "
        "in the [audio] table of station.toml to one of them",
    )


def open_endpoints(
    play: str | None, record: str | None, devices: AudioSettings | None = None
) -> tuple[Source, Sink]:
    """The source and sink for a call: files where given, else the sound card's ``devices``.

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
    card = SoundCard(devices)
    return card, card


__all__ = [
    "SILENCE",
    "Discard",
    "Silence",
    "Sink",
    "SoundCard",
    "Source",
    "WavFileSink",
    "WavFileSource",
    "open_endpoints",
    "pick_device",
]
