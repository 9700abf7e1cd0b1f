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

:attr:`Settings.carrier` is where the constant-rate carrier will be switched on: the station.toml
settings it names are written into both stations' config before they start. It is empty today (the
carrier is off) and the same run, repeated with it set, measures what the carrier hides.
"""

from __future__ import annotations

import asyncio
import contextlib
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
from bench.traffic_features import Vector, features
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


@dataclass(frozen=True)
class Settings:
    """How many windows, how long, and the carrier's settings."""

    #: Episodes (so windows) per scenario.
    windows: int = 16
    #: Seconds of each window (what the adversary classifies).
    window: float = 5.0
    #: Quiet seconds between the end of one episode's traffic and the next episode.
    gap: float = 0.5
    seed: int = 1
    #: station.toml settings (field name -> value) written into both stations' config to switch the
    #: constant-rate carrier on. Empty: the carrier is off, as every station runs today. A setting the
    #: station does not know is refused before anything starts.
    carrier: Mapping[str, Any] = field(default_factory=dict)

    @property
    def carrier_label(self) -> str:
        if not self.carrier:
            return "carrier off"
        return "carrier on (" + ", ".join(f"{key} = {value!r}" for key, value in self.carrier.items()) + ")"


QUICK = Settings(windows=5, window=4.0, gap=0.5)


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
    measured_at: str = field(default_factory=lambda: time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))


# -- the two stations


@dataclass
class _Line:
    """Alpha and bravo with the line up, a scratch directory and the clip calls play."""

    a: StationProc
    b: StationProc
    work: Path
    clip: Path

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


def _station(root: Path, name: str, carrier: Mapping[str, Any]) -> StationProc:
    """A station with the default timers, no quota in the way, and the carrier's settings if any."""
    port = free_port()
    home = root / name
    create_station(home, name, f"{HOST}:{port}", PASSPHRASE, kdf="light")
    station = StationProc(home, name, port)
    # a run sends one line a few thousand messages in minutes: more than a government line's hourly quota
    try:
        station.configure(quotas=QuotaDefaults(entries_per_hour=10**9), **carrier)
    except TypeError as exc:
        raise BenchError(
            f"station.toml has no such setting for the carrier ({exc}): "
            "pass only settings the station knows (--carrier, Settings.carrier)"
        ) from None
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


def _document(line: _Line, rng: random.Random, window: float, origin: float, biggest: int = 4 << 20) -> None:
    size = round(math.exp(rng.uniform(math.log(32 << 10), math.log(biggest))))
    path = line.work / f"document-{rng.getrandbits(32):08x}.bin"
    path.write_bytes(rng.randbytes(size))
    _at(origin, rng.uniform(0.0, 1.0))
    sender, receiver = line.ends(rng)
    try:
        sent = sender.request(
            "send.file", peer=receiver.name, path=str(path), precedence="routine", wait=False
        )
        ident = sent["document"]["id"]
        deadline = time.monotonic() + 60.0
        while True:
            docs = {d["id"]: d for d in receiver.request("files", peer=sender.name)["documents"]}
            doc = docs.get(ident)
            if doc is not None and doc["state"] == "complete":
                return
            if doc is not None and doc["state"] == "failed":
                raise BenchError(f"{receiver.name} failed document {ident}: {doc.get('detail')}")
            if time.monotonic() > deadline:
                raise BenchError(f"document {ident} not complete at {receiver.name} after 60 s")
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


def _start(root: Path, settings: Settings) -> _Line:
    a, b = _station(root, "alpha", settings.carrier), _station(root, "bravo", settings.carrier)
    pair(a, b)
    try:
        for station in (a, b):
            station.start(wait=False)
        for station in (a, b):
            station.wait_ready()
        a.wait_line(b, timeout=30.0)
        b.wait_line(a, timeout=30.0)
    except AssertionError as exc:
        raise BenchError(f"the stations did not come up with {settings.carrier_label}: {exc}") from None
    return _Line(a, b, root, speech_sample())


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
        capture.stop()
        packets = capture.packets()
        trace = observed(packets, line.a.port, line.b.port)
        windows = [features(trace, episode.start, settings.window) for episode in episodes]
        console.log(
            f"traffic: {len(packets):,} packets captured ({capture.dropped} dropped by the kernel); "
            "training the adversary"
        )
        verdict = attack(windows, [episode.scenario for episode in episodes], IDLE, seed=settings.seed)
        return Results(settings, episodes, windows, verdict, len(packets), capture.dropped)
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


__all__ = ["IDLE", "QUICK", "SCENARIOS", "Episode", "Results", "Settings", "run"]
