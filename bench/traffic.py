"""Traffic analysis: what an adversary who records every packet between two stations learns from it.

The adversary cannot read a packet, but it sees when each one passes, which way and how big it is.
Two real station daemons (alpha and bravo) are created, paired offline and run on loopback with the
station's default timers (heartbeat, rekeying), and tcpdump records every TCP segment (ACKs and
retransmissions included) and UDP datagram between their ports (:mod:`bench.traffic_capture`).

The run is a series of **episodes**, each one window of :attr:`Settings.window` seconds in which one
scenario of :data:`SCENARIOS` happens, driven through the real control socket (messages, documents)
and the real CLI (``hotline call`` and ``hotline answer`` for calls). Every episode draws its own
contents, sizes, directions and timing from its own seed; after each, the harness waits until both
stations have nothing queued, in flight or ringing, then a quiet :attr:`Settings.gap`, so windows do
not spill into each other. The scenarios take turns in a fresh random order every round, so a slow
moment of the machine does not land on one scenario only.

Each window becomes a vector of features (:mod:`bench.traffic_features`) labelled with its scenario,
and classifiers are scored by stratified cross-validation on "idle or active" and "which scenario"
(:mod:`bench.traffic_adversary`). The adversary is given the windows aligned on the episodes: a real
one has to find them, so these scores are an upper bound on its guess, which is what a defence
should be measured against.

:attr:`Settings.carrier` holds the ``[lines.NAME]`` settings of ``station.toml`` (``carrier``,
``carrier_cell``, ``carrier_interval_ms``) that both stations give their line to each other: empty,
the line runs as it does by default (carrier off); ``{"carrier": "steady"}`` runs it as a constant-rate
carrier. :data:`MODES` are the settings one run measures in turn, each on a fresh pair of stations.
Each mode also measures what the line costs idle and how fast a FLASH crosses it
(:mod:`bench.traffic_costs`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import math
import random
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from tests.support.stations import PASSPHRASE, CliProcess, StationProc, pair

from bench.station import HOST, BenchError, free_port
from bench.traffic_adversary import Verdict, attack
from bench.traffic_capture import Capture, observed
from bench.traffic_costs import (
    FLASH_CONDITIONS,
    Flash,
    Idle,
    Shape,
    Wire,
    latencies,
    measure_idle,
    shape,
    wire,
)
from bench.traffic_features import Vector, features
from hotline.proto.constants import AEAD_TAG_LEN, RECORD_HEADER_LEN
from hotline.station.config import LineSettings
from hotline.station.home import create_station
from hotline.station.quotarules import QuotaDefaults
from hotline.voice.quality import speech_sample

#: The scenarios, by label, and what each one is.
SCENARIOS = {
    "idle": "the line up and nobody using it",
    "messages": "one to three ROUTINE messages, either way, at random moments",
    "flash": "a FLASH exchange: two to four FLASH messages answered back and forth",
    "burst": "a burst of 40 to 150 ROUTINE messages one way, as fast as the control socket takes them",
    "call": "a call, speech both ways, hung up after one window",
    "document": "one document of 32 KiB to 4 MiB, either way",
    "mix": "a call with a few messages, a FLASH message and a document during it",
}
IDLE = "idle"
#: The scenarios with a call in them: a second verdict leaves them out, to show what the rest of the
#: line gives away while calls go beside the carrier (UDP) rather than in it.
CALLS = frozenset({"call", "mix"})


@dataclass(frozen=True)
class Settings:
    """How many windows, how long, and the carrier's settings."""

    #: Episodes (so windows) per scenario.
    windows: int = 16
    #: Episodes per scenario when the carrier is on, where the goals are judged and a few windows
    #: more or less move the accuracy by points (0: as many as :attr:`windows`).
    carrier_windows: int = 0
    #: Seconds of each window (what the adversary classifies).
    window: float = 5.0
    #: Quiet seconds between the end of one episode's traffic and the next episode.
    gap: float = 0.5
    seed: int = 1
    #: ``[lines.NAME]`` settings of station.toml (field name -> value) both stations give their line
    #: to each other. Empty: the line's defaults (carrier off). A setting the station does not know
    #: is refused before anything starts.
    carrier: Mapping[str, Any] = field(default_factory=dict)
    #: Seconds of the idle stretch before the first episode (CPU and bytes on the wire of an idle line).
    idle_seconds: float = 30.0
    #: FLASH messages per condition of :data:`~bench.traffic_costs.FLASH_CONDITIONS`.
    flashes: int = 10
    #: With the carrier on, the largest document of an episode is what the carrier moves in this
    #: many seconds (at most 4 MiB), so that an episode ends in a few windows.
    document_seconds: float = 10.0

    def line_settings(self) -> LineSettings:
        """The ``[lines.NAME]`` table both stations get.

        Raises:
            BenchError: a setting the station does not know.
        """
        try:
            return LineSettings(**self.carrier)
        except TypeError as exc:
            raise BenchError(
                f"[lines.NAME] has no such setting ({exc}): pass only settings the station knows "
                "(--carrier, Settings.carrier)"
            ) from None

    @property
    def carrier_on(self) -> bool:
        return self.line_settings().carrier_setting() is not None

    @property
    def carrier_label(self) -> str:
        setting = self.line_settings().carrier_setting()
        if setting is None:
            return "carrier off"
        return f"carrier on ({setting.cell_size}-byte cells every {setting.interval * 1000:g} ms)"

    def document_rate(self) -> float:
        """Bytes per second a document moves at least, for its time limit (half the carrier's rate)."""
        setting = self.line_settings().carrier_setting()
        return 5e6 if setting is None else 0.5 * setting.cell_size / setting.interval

    def biggest_document(self) -> int:
        """The largest document of an episode, in bytes."""
        setting = self.line_settings().carrier_setting()
        if setting is None:
            return 4 << 20
        rate = setting.cell_size / setting.interval  # bytes per second, an upper bound
        return min(4 << 20, max(64 << 10, round(rate * self.document_seconds)))


#: The ``[lines.NAME]`` settings a run measures in turn: the line as it runs by default, then as a
#: carrier with the default cells.
MODES: tuple[Mapping[str, Any], ...] = ({}, {"carrier": "steady"})

#: 16 windows of 3 s per scenario with the carrier on (112 windows, where the goals are judged) and 8
#: with it off (where the adversary is right almost every time) keep the whole traffic section (both
#: modes and the carrier hub) within about fifteen minutes.
DEFAULT = Settings(windows=8, carrier_windows=16, window=3.0, idle_seconds=20.0, document_seconds=6.0)
QUICK = Settings(windows=3, window=3.0, gap=0.5, idle_seconds=5.0, flashes=3)


@dataclass(frozen=True)
class Episode:
    """One window of one scenario."""

    scenario: str
    #: Wall-clock second the window starts (the capture's clock).
    start: float
    seed: int
    #: Seconds from the start until the scenario's traffic was done (may be more than a window).
    busy: float


@dataclass(frozen=True)
class Results:
    """What the traffic case recorded and what the adversary made of it."""

    settings: Settings
    episodes: list[Episode]
    #: Each episode's window as features, in the order of :attr:`episodes`.
    windows: list[Vector]
    verdict: Verdict
    #: Packets captured over the whole run, and how many the kernel dropped before tcpdump read them.
    packets: int
    dropped: int | None
    #: The idle stretch before the first episode (CPU of both daemons, bytes on the wire).
    idle: Idle | None = None
    #: The wire from the first episode's start to the last one's end (every scenario together).
    episodes_wire: Wire | None = None
    #: FLASH messages queued idle, during a burst and during a document (after the last episode).
    flashes: list[Flash] = field(default_factory=list)
    #: Each episode's window: data segments, bare ACKs, UDP, coalesced cells, longest gap.
    shapes: list[Shape] = field(default_factory=list)
    #: The adversary on the windows of the scenarios without a call (:data:`CALLS` left out).
    without_calls: Verdict | None = None
    measured_at: str = field(default_factory=lambda: time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))


# -- the two stations


@dataclass
class _Line:
    """Alpha and bravo with the line up, a scratch directory and the clip calls play."""

    a: StationProc
    b: StationProc
    work: Path
    clip: Path
    #: The largest document of an episode, and the bytes per second a document is expected to move
    #: at least (for its time limit).
    biggest: int = 4 << 20
    rate: float = 20_000.0

    def ends(self, rng: random.Random) -> tuple[StationProc, StationProc]:
        """A random (sender, receiver)."""
        return (self.a, self.b) if rng.random() < 0.5 else (self.b, self.a)

    def quiet(self, timeout: float = 60.0) -> None:
        """Wait until neither station has anything queued, in flight or ringing on the line."""
        deadline = time.monotonic() + timeout
        for station, peer in ((self.a, self.b), (self.b, self.a)):
            while True:
                line = station.line(peer)
                if not (line["queued"] or line["in_flight"] or line.get("call")):
                    break
                if time.monotonic() > deadline:
                    raise BenchError(f"{station.name}'s line to {peer.name} still busy after {timeout:g} s")
                time.sleep(0.05)


def _station(root: Path, name: str) -> StationProc:
    """A station with the default timers and no quota in the way."""
    port = free_port()
    home = root / name
    create_station(home, name, f"{HOST}:{port}", PASSPHRASE, kdf="light")
    station = StationProc(home, name, port)
    # a run sends one line a few thousand messages in minutes: more than a government line's hourly quota
    station.configure(quotas=QuotaDefaults(entries_per_hour=10**9))
    return station


def _words(rng: random.Random, length: int) -> str:
    """About ``length`` characters of made-up words (each episode's own)."""
    letters = "etaoinshrdlucmfwypvbgkjqxz"
    words: list[str] = []
    while sum(len(w) + 1 for w in words) < length:
        words.append("".join(rng.choice(letters) for _ in range(rng.randint(2, 9))))
    return " ".join(words)[:length]


def _send(sender: StationProc, receiver: StationProc, text: str, precedence: str, wait: float = 0) -> str:
    args: dict[str, Any] = {"peer": receiver.name, "text": text, "precedence": precedence}
    if wait:
        args["wait"] = wait
    return str(sender.request("send", **args)["id"])


def _at(origin: float, offset: float) -> None:
    """Sleep until ``offset`` seconds after ``origin`` (a monotonic time)."""
    delay = origin + offset - time.monotonic()
    if delay > 0:
        time.sleep(delay)


# -- the scenarios: each runs its traffic and returns once it is done


def _messages(line: _Line, rng: random.Random, window: float, origin: float) -> None:
    moments = sorted(rng.uniform(0.0, window - 1.0) for _ in range(rng.randint(1, 3)))
    for moment in moments:
        _at(origin, moment)
        sender, receiver = line.ends(rng)
        _send(sender, receiver, _words(rng, rng.randint(20, 600)), "routine", wait=30.0)


def _flash(line: _Line, rng: random.Random, window: float, origin: float) -> None:
    _at(origin, rng.uniform(0.0, 1.0))
    sender, receiver = line.ends(rng)
    for _ in range(rng.randint(2, 4)):
        _send(sender, receiver, _words(rng, rng.randint(20, 200)), "flash", wait=30.0)
        time.sleep(rng.uniform(0.2, 0.8))  # the far end reads and answers
        sender, receiver = receiver, sender


def _burst(line: _Line, rng: random.Random, window: float, origin: float) -> None:
    _at(origin, rng.uniform(0.0, 1.0))
    sender, receiver = line.ends(rng)
    last = ""
    for _ in range(rng.randint(40, 150)):
        last = _send(sender, receiver, _words(rng, rng.randint(50, 500)), "routine")
    sender.request("wait", id=last, timeout=60.0)


def _document(line: _Line, rng: random.Random, window: float, origin: float, biggest: int = 0) -> None:
    biggest = min(biggest or line.biggest, line.biggest)
    size = round(math.exp(rng.uniform(math.log(min(32 << 10, biggest)), math.log(biggest))))
    _at(origin, rng.uniform(0.0, 1.0))
    _send_document(line, *line.ends(rng), size, rng)


def _send_document(
    line: _Line, sender: StationProc, receiver: StationProc, size: int, rng: random.Random
) -> None:
    """Send a document of ``size`` random bytes and return once the receiver has it whole."""
    path = line.work / f"document-{rng.getrandbits(32):08x}.bin"
    path.write_bytes(rng.randbytes(size))
    try:
        sent = sender.request(
            "send.file", peer=receiver.name, path=str(path), precedence="routine", wait=False
        )
        ident = sent["document"]["id"]
        deadline = time.monotonic() + 60.0 + size / line.rate
        while True:
            docs = {d["id"]: d for d in receiver.request("files", peer=sender.name)["documents"]}
            doc = docs.get(ident)
            if doc is not None and doc["state"] == "complete":
                return
            if doc is not None and doc["state"] == "failed":
                raise BenchError(f"{receiver.name} failed document {ident}: {doc.get('detail')}")
            if time.monotonic() > deadline:
                raise BenchError(
                    f"document {ident} of {size:,} bytes not complete at {receiver.name} in time"
                )
            time.sleep(0.05)
    finally:
        path.unlink(missing_ok=True)


def _call(line: _Line, rng: random.Random, window: float, origin: float) -> None:
    caller, callee = line.ends(rng)
    heard = line.work / f"heard-{rng.getrandbits(32):08x}.wav"
    seconds = f"{window:g}"
    answer = CliProcess(
        callee, "answer", caller.name, "--wait", "30", "--play", str(line.clip), "--record", str(heard),
        "--seconds", seconds,
    )  # fmt: skip
    call = CliProcess(caller, "call", callee.name, "--play", str(line.clip), "--seconds", seconds)
    try:
        call.result(timeout=window + 60.0)
        answer.result(timeout=30.0)
    except AssertionError as exc:
        raise BenchError(f"the call from {caller.name} to {callee.name} failed: {exc}") from None
    finally:
        call.kill()
        answer.kill()
        heard.unlink(missing_ok=True)


def _mix(line: _Line, rng: random.Random, window: float, origin: float) -> None:
    extras = random.Random(rng.getrandbits(64))
    failures: list[BaseException] = []

    def during() -> None:
        try:
            _at(origin, extras.uniform(1.0, 2.0))  # once the call rings
            _messages(line, extras, window - 1.0, time.monotonic())
            _send(*line.ends(extras), _words(extras, extras.randint(20, 200)), "flash", wait=30.0)
            _document(line, extras, 1.5, time.monotonic(), biggest=1 << 20)
        except BaseException as exc:
            failures.append(exc)

    thread = threading.Thread(target=during, name="traffic-mix", daemon=True)
    thread.start()
    _call(line, rng, window, origin)
    thread.join()
    if failures:
        raise failures[0]


#: Each scenario's traffic, run from the start of its window (``origin``, monotonic) until done.
_DRIVERS: dict[str, Callable[[_Line, random.Random, float, float], None]] = {
    "idle": lambda line, rng, window, origin: None,
    "messages": _messages,
    "flash": _flash,
    "burst": _burst,
    "call": _call,
    "document": _document,
    "mix": _mix,
}


def _flash_phase(line: _Line, settings: Settings, rng: random.Random) -> list[Flash]:
    """FLASH messages alpha to bravo with the line idle, during a ROUTINE burst, during a document:
    :attr:`Settings.flashes` each, one every half second while the load runs."""
    out: list[Flash] = []
    sender, receiver = line.a, line.b
    for condition in FLASH_CONDITIONS:
        stop = threading.Event()
        failures: list[BaseException] = []

        def load(
            condition: str = condition, stop: threading.Event = stop, failures: list[BaseException] = failures
        ) -> None:
            loader = random.Random(rng.getrandbits(64))
            try:
                if condition == "burst":
                    while not stop.is_set():
                        for _ in range(20):
                            _send(sender, receiver, _words(loader, loader.randint(50, 500)), "routine")
                elif condition == "document":
                    while not stop.is_set():
                        _send_document(line, sender, receiver, line.biggest, loader)
            except BaseException as exc:
                failures.append(exc)

        thread = threading.Thread(target=load, name=f"traffic-load-{condition}", daemon=True)
        texts: list[str] = []
        thread.start()
        try:
            time.sleep(1.0)  # the load is under way
            for i in range(settings.flashes):
                text = f"flash {condition} {i} {rng.getrandbits(32):08x}"
                _send(sender, receiver, text, "flash")
                texts.append(text)
                time.sleep(0.5)
        finally:
            stop.set()
            thread.join()
        if failures:
            raise failures[0]
        line.quiet(timeout=120.0 + 2 * line.biggest / line.rate)
        seconds = latencies(texts, receiver.inbox(sender))
        out += [Flash(condition, seconds[text]) for text in texts]
    return out


def _start(root: Path, settings: Settings) -> _Line:
    lines = settings.line_settings()
    a, b = _station(root, "alpha"), _station(root, "bravo")
    pair(a, b)
    # each end's [lines.NAME] table names the other end's line
    a.configure(lines={b.name: lines})
    b.configure(lines={a.name: lines})
    try:
        for station in (a, b):
            station.start(wait=False)
        for station in (a, b):
            station.wait_ready()
        a.wait_line(b, timeout=30.0)
        b.wait_line(a, timeout=30.0)
    except AssertionError as exc:
        raise BenchError(f"the stations did not come up with {settings.carrier_label}: {exc}") from None
    return _Line(a, b, root, speech_sample(), settings.biggest_document(), settings.document_rate())


def _episode(line: _Line, scenario: str, seed: int, settings: Settings) -> Episode:
    """Run one scenario from the start of a window; return once the line is quiet again."""
    rng = random.Random(seed)
    start, origin = time.time(), time.monotonic()
    _DRIVERS[scenario](line, rng, settings.window, origin)
    busy = time.monotonic() - origin
    _at(origin, settings.window)
    line.quiet()
    time.sleep(settings.gap)
    return Episode(scenario, start, seed, busy)


def _measure(settings: Settings, console: Console) -> Results:
    root = Path(tempfile.mkdtemp(prefix="hotline-traffic-"))
    line: _Line | None = None
    capture: Capture | None = None
    try:
        console.log(f"traffic: two stations on loopback, {settings.carrier_label}")
        line = _start(root, settings)
        capture = Capture(root / "line.pcap", (line.a.port, line.b.port))
        capture.start()
        # a first exchange each way, outside every window: the daemons' first messages cost more
        _send(line.a, line.b, "warm-up", "routine", wait=30.0)
        _send(line.b, line.a, "warm-up", "routine", wait=30.0)
        line.quiet()
        time.sleep(settings.gap)
        pids = (line.a.pid, line.b.pid)
        assert pids[0] is not None and pids[1] is not None
        console.log(f"traffic: the line idle for {settings.idle_seconds:g} s (CPU and bytes on the wire)")
        idle = measure_idle((pids[0], pids[1]), settings.idle_seconds)

        rng = random.Random(settings.seed)
        episodes: list[Episode] = []
        total = settings.windows * len(SCENARIOS)
        for round_ in range(settings.windows):
            order = rng.sample(list(SCENARIOS), len(SCENARIOS))
            for scenario in order:
                episodes.append(_episode(line, scenario, rng.getrandbits(64), settings))
            console.log(
                f"traffic: round {round_ + 1}/{settings.windows} done ({len(episodes)}/{total} windows)"
            )
        episodes_end = time.time()
        console.log(f"traffic: FLASH latency, {settings.flashes} messages each {', '.join(FLASH_CONDITIONS)}")
        flashes = _flash_phase(line, settings, rng)
        capture.stop()
        packets = capture.packets()
        trace = observed(packets, line.a.port, line.b.port)
        windows = [features(trace, episode.start, settings.window) for episode in episodes]
        idle = dataclasses.replace(idle, wire=wire(trace, idle.start, idle.end))
        episodes_wire = wire(trace, episodes[0].start, episodes_end)
        record = settings.line_settings().carrier_cell + RECORD_HEADER_LEN + AEAD_TAG_LEN
        ports = (line.a.port, line.b.port)
        shapes = [shape(packets, ports, episode.start, settings.window, record) for episode in episodes]
        console.log(
            f"traffic: {len(packets):,} packets captured ({capture.dropped} dropped by the kernel); "
            "training the adversary"
        )
        labels = [episode.scenario for episode in episodes]
        verdict = attack(windows, labels, IDLE, seed=settings.seed)
        kept = [i for i, label in enumerate(labels) if label not in CALLS]
        without_calls = attack(
            [windows[i] for i in kept], [labels[i] for i in kept], IDLE, seed=settings.seed
        )
        return Results(
            settings,
            episodes,
            windows,
            verdict,
            len(packets),
            capture.dropped,
            idle,
            episodes_wire,
            flashes,
            shapes,
            without_calls,
        )
    finally:
        if capture is not None:
            capture.stop()
        if line is not None:
            for station in (line.a, line.b):
                if station.running:
                    with contextlib.suppress(AssertionError):
                        station.stop()
        shutil.rmtree(root, ignore_errors=True)


async def run(settings: Settings, console: Console) -> Results:
    """Create, pair and start two stations, capture every episode, train the adversary (in a thread)."""
    return await asyncio.to_thread(_measure, settings, console)


def modes(base: Settings, carrier: Mapping[str, Any] | None = None) -> list[Settings]:
    """``base`` once per mode of :data:`MODES`; ``carrier`` replaces the settings of the carrier-on mode."""
    out = [dataclasses.replace(base, carrier=mode) for mode in MODES]
    if carrier:
        out[-1] = dataclasses.replace(base, carrier=carrier)
    for i, settings in enumerate(out):
        settings.line_settings()  # refuse an unknown setting before anything starts
        if settings.carrier_on and settings.carrier_windows:
            out[i] = dataclasses.replace(settings, windows=settings.carrier_windows)
    return out


__all__ = [
    "CALLS",
    "DEFAULT",
    "IDLE",
    "MODES",
    "QUICK",
    "SCENARIOS",
    "Episode",
    "Results",
    "Settings",
    "modes",
    "run",
]
