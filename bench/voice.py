"""Voice calls between two real station daemons on loopback: speech quality, added latency, CPU.

Two stations are created and paired offline; alpha dials bravo through an impairment proxy
(tests/support/impair.py) and bravo cannot dial alpha, so the session and the media both go through
it, as in tests/integration/test_calls.py. The proxy is two proxies on one port number: one passes the
session's TCP untouched, the other applies the condition under test to the media's UDP, both ways.

Each call is the real CLI: ``hotline call bravo --play CLIP`` on alpha (it hangs up when the clip has
played) and ``hotline answer alpha --record HEARD`` on bravo. From each call we take:

- **Quality**: PESQ-WB of what bravo recorded against the clip alpha played.
- **Added latency**: both daemons run with ``HOTLINE_VOICE_TRACE``, so alpha logs when it encoded
  and sent each frame and bravo logs when it played it (``time.monotonic()`` is one clock for both
  processes on this machine). A frame's latency is its playout time minus its send time; "without
  the buffer" subtracts the jitter buffer's target delay in force when it was played.
- **CPU**: utime + stime of each daemon process from ``/proc/PID/stat`` between the answer and the
  end of the call, less what the same daemon spent over an idle window measured first, per second.
- **The transport's own figures**: bravo's call result (the end that hears the speech).
- **The codec's ceiling**: the same clip through :class:`~hotline.voice.stream.VoiceSender` and
  :class:`~hotline.voice.stream.VoiceReceiver` in memory, with nothing lost or late, to tell what the
  network path costs from what Opus costs.

The condition is switched on once media flows over UDP both ways (a few frames into the call). From
the first packet, a jittered UDP path loses the race against the copies the caller sends inside the
session until UDP proves itself, and the call falls back into the session (TCP): the first call of
the run, which also warms the daemons up, does exactly that and shows which path the call ends on.

**Voice inside the carrier** against the UDP path, under loss on every packet (TCP segments too),
needs daemons in network namespaces: :mod:`bench.voice_carrier` runs it after these calls, and its
table is part of this benchmark's results.

The conditions take turns, one call each per round, so noise on the machine lands on all of them.
The clip is 16 kHz, like the shipped sample: PESQ-WB scores 16 kHz speech, and a 22.05 kHz espeak-ng
clip scores about 0.6 lower even through the codec alone (32 kbit/s Opus spends bits above 8 kHz).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import tempfile
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

from rich.console import Console
from tests.support.impair import ImpairProxy
from tests.support.stations import FAST, PASSPHRASE, CliProcess, StationProc, pair

from bench import voice_carrier
from bench.station import HOST, free_port
from bench.voice_carrier import NETEM_LOSSES, NETEM_PATHS, NetemRun, carrier_table
from bench.voice_trace import NOWHERE, latency, percentile, udp_both_ways
from hotline.station.calls.desk import TRACE_ENV
from hotline.station.home import create_station
from hotline.voice.quality import PESQ_RATE, pesq_wb, speech_sample
from hotline.voice.stream import VoiceReceiver, VoiceSender
from hotline.voice.wavio import WavSink, WavSource, read_mono

#: What alpha says, spoken by espeak-ng at bench time (about 11 s).
SCRIPT = (
    "London station, duty operator speaking. I confirm receipt of message forty two, sent at nine "
    "fifteen. The line test passed, and the safety number matches the card on file."
)

#: Added latency, capture to playout with the jitter buffer's target delay, p95 at most (ms).
LATENCY_GOAL_MS = 60.0
#: CPU of one call end, per cent of one core, less than.
CPU_GOAL_PERCENT = 5.0


@dataclass(frozen=True)
class Condition:
    """What the media proxy does to every datagram, both ways, during a call."""

    label: str
    #: PESQ-WB the median call must reach.
    goal: float
    loss: float = 0.0
    #: Extra delay drawn uniformly from 0..jitter seconds per datagram (which reorders them).
    jitter: float = 0.0
    #: False when no goal was set and ``goal`` is our own target.
    stated: bool = True


CLEAN = Condition("no loss, no jitter", 3.7)
JITTER = Condition("30 ms jitter (0-30 ms uniform per datagram)", 3.4, jitter=0.030, stated=False)
CONDITIONS = (
    CLEAN,
    Condition("5 % random loss", 3.4, loss=0.05),
    Condition("15 % random loss", 3.0, loss=0.15),
    JITTER,
)


@dataclass(frozen=True)
class Settings:
    """How many calls the voice case places."""

    #: Calls per condition.
    runs: int = 3


QUICK = Settings(runs=1)


@dataclass(frozen=True)
class CallRun:
    """One call under one condition."""

    condition: Condition
    pesq: float
    #: bravo's call result (``duration``, ``path``, ``loss``, ``jitter_ms``, ``delay_ms``, ...).
    ended: dict[str, Any]
    #: Per frame played at bravo: (playout - send) and the buffer's target delay then, in seconds.
    latency: list[tuple[float, float]]
    #: CPU seconds of alpha's and bravo's daemons while the condition was on, and that window.
    cpu: tuple[float, float]
    window: float
    #: Share of the media datagrams the proxy dropped, both ways.
    dropped: float


@dataclass(frozen=True)
class Results:
    """What the voice case measured."""

    settings: Settings
    #: Where the clip came from, and its length in seconds.
    clip: str
    clip_seconds: float
    #: PESQ-WB of the clip through the codec and jitter buffer in memory, nothing lost or late, and the
    #: CPU seconds that took per second of audio (one encode and one decode: one call end's media work).
    ceiling: float
    ceiling_cpu: float
    #: The first call: 30 ms jitter from its first packet (and the daemons' warm-up).
    probe: CallRun
    calls: list[CallRun]
    #: CPU seconds of alpha's and bravo's daemons with the line up and no call, and that window.
    idle_cpu: tuple[float, float]
    idle_window: float
    #: The carrier comparison under netem loss (empty when it could not run), and why it did not.
    netem: list[NetemRun] = field(default_factory=list)
    netem_skipped: str | None = None
    measured_at: str = field(default_factory=lambda: time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))

    def of(self, condition: Condition) -> list[CallRun]:
        return [run for run in self.calls if run.condition == condition]

    def cpu_percent(self, run: CallRun, end: int) -> float:
        """CPU of one call end (0 alpha, 1 bravo) above idle, per cent of one core."""
        idle_rate = self.idle_cpu[end] / self.idle_window
        return 100 * (run.cpu[end] / run.window - idle_rate)

    def latency_ms(self, condition: Condition, *, buffer: bool) -> list[float]:
        """Every frame's added latency over the condition's calls, with or without the buffer's target."""
        return [
            1e3 * (total if buffer else total - target)
            for run in self.of(condition)
            for total, target in run.latency
        ]


def carrier_rows(v: Results) -> list[list[str]]:
    """One row per path and loss of the carrier comparison (its title, columns and note:
    :func:`carrier_table`)."""
    return voice_carrier.rows(v.netem)


# -- the pieces


def _clip(root: Path) -> tuple[Path, str]:
    """A fresh 16 kHz espeak-ng clip of :data:`SCRIPT`, or the shipped sample if espeak-ng is not there."""
    import numpy as np
    import soxr  # type: ignore[import-untyped]

    spoken = root / "spoken.wav"
    try:
        speak = ["espeak-ng", "-v", "en-us", "-s", "170", "-w", str(spoken), SCRIPT]
        subprocess.run(speak, check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        return speech_sample(), "the shipped sample (espeak-ng did not run)"
    samples, rate = read_mono(spoken)
    pcm = np.clip(np.round(soxr.resample(samples, rate, PESQ_RATE, "HQ") * 32768), -32768, 32767)
    path = root / "said.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(PESQ_RATE)
        out.writeframes(pcm.astype("<i2").tobytes())
    return path, f"espeak-ng en-us at 170 words/min, resampled to {PESQ_RATE // 1000} kHz"


def _seconds(wav: Path) -> float:
    with wave.open(str(wav)) as w:
        return float(w.getnframes() / w.getframerate())


def _ceiling(clip: Path, work: Path) -> tuple[float, float]:
    """PESQ-WB of ``clip`` through a call's sender and receiver in memory, every payload on time, and
    the CPU seconds that took per second of audio."""
    sender, receiver = VoiceSender(), VoiceReceiver()
    heard = work / "ceiling.wav"
    cpu = time.process_time()
    with WavSource(clip) as source, WavSink(heard) as sink:
        now = 0.0
        while (pcm := source.read_frame()) is not None:
            receiver.receive(sender.next_payload(pcm), now)
            now += 0.020
            sink.write_frame(receiver.play(now))
    cpu = time.process_time() - cpu
    return pesq_wb(clip, heard), cpu / now


def _station(root: Path, name: str) -> StationProc:
    port = free_port()
    home = root / name
    create_station(home, name, f"{HOST}:{port}", PASSPHRASE, kdf="light")
    station = StationProc(home, name, port)
    station.configure(**FAST)
    return station


def _cpu(*stations: StationProc) -> tuple[float, ...]:
    """utime + stime so far of each station's daemon process (all threads), in seconds."""
    out = []
    for station in stations:
        stat = Path(f"/proc/{station.pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        out.append((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"))
    return tuple(out)


def _place(
    a: StationProc,
    b: StationProc,
    clip: Path,
    work: Path,
    proxy: ImpairProxy,
    condition: Condition,
    *,
    from_start: bool = False,
) -> CallRun:
    """One call from alpha to bravo through the proxy, under ``condition`` once UDP flows (or at once)."""
    proxy.set(loss=condition.loss if from_start else 0.0, jitter=condition.jitter if from_start else 0.0)
    heard = work / f"heard-{time.monotonic_ns()}.wav"
    answer = CliProcess(b, "answer", a.name, "--wait", "30", "--record", str(heard))
    call = CliProcess(a, "call", b.name, "--play", str(clip))
    try:
        answer.next_event("answered")
        if not from_start:
            udp_both_ways(a, b)
            proxy.set(loss=condition.loss, jitter=condition.jitter)
        before, cpu0, t0 = proxy.stats, _cpu(a, b), time.monotonic()
        ended_a = call.result()
        ended_b = answer.result()
        after, cpu1, t1 = proxy.stats, _cpu(a, b), time.monotonic()
    finally:
        call.kill()
        answer.kill()
    proxy.set(loss=0.0, jitter=0.0)
    datagrams = (after.udp_datagrams_forward + after.udp_datagrams_back) - (
        before.udp_datagrams_forward + before.udp_datagrams_back
    )
    trace = work / "traces"
    ident = str(ended_a["id"])[:8]
    return CallRun(
        condition,
        pesq=pesq_wb(clip, heard),
        ended=ended_b,
        latency=latency(trace / f"{a.name}-{ident}.trace", trace / f"{b.name}-{ident}.trace", t0),
        cpu=(cpu1[0] - cpu0[0], cpu1[1] - cpu0[1]),
        window=t1 - t0,
        dropped=(after.dropped - before.dropped) / max(1, datagrams),
    )


def _measure(settings: Settings, console: Console) -> Results:
    root = Path(tempfile.mkdtemp(prefix="hotline-voice-"))
    started: list[StationProc] = []
    proxies: list[ImpairProxy] = []
    try:
        clip, spoken = _clip(root)
        ceiling, ceiling_cpu = _ceiling(clip, root)
        a, b = _station(root, "alpha"), _station(root, "bravo")
        # the session's TCP passes untouched; the media's UDP (same port number) gets the condition
        tcp = ImpairProxy((HOST, b.port), udp=False, seed=1).start()
        proxies.append(tcp)
        udp = ImpairProxy((HOST, b.port), tcp=False, port=tcp.port, seed=2).start()
        proxies.append(udp)
        pair(a, b, a_endpoints=[tcp.address], b_endpoints=[NOWHERE])
        (root / "traces").mkdir()
        with mock.patch.dict(os.environ, {TRACE_ENV: str(root / "traces")}):
            for station in (a, b):
                station.start(wait=False)
                started.append(station)
            for station in (a, b):
                station.wait_ready()
        a.wait_line(b)
        b.wait_line(a)

        console.log("voice: first call with 30 ms jitter from its first packet; then the daemons idle")
        probe = _place(a, b, clip, root, udp, JITTER, from_start=True)
        console.log(f"voice: that call ended on {probe.ended['path']}, PESQ-WB {probe.pesq:.2f}")
        cpu0, t0 = _cpu(a, b), time.monotonic()
        time.sleep(_seconds(clip) + 0.5)
        cpu1, t1 = _cpu(a, b), time.monotonic()

        calls: list[CallRun] = []
        for n in range(settings.runs):
            for condition in CONDITIONS:
                run = _place(a, b, clip, root, udp, condition)
                calls.append(run)
                console.log(
                    f"voice: round {n + 1}/{settings.runs}, {condition.label}: PESQ-WB {run.pesq:.2f}, "
                    f"path {run.ended['path']}, {100 * run.dropped:.1f} % of datagrams dropped"
                )
        netem: list[NetemRun] = []
        skipped = voice_carrier.skip_reason()
        if skipped is None:
            try:
                netem = voice_carrier.measure(settings.runs, clip, root, console)
            except (OSError, subprocess.CalledProcessError, AssertionError) as exc:
                # the comparison is extra: its failure must not cost the rest of the voice results
                skipped = f"the carrier comparison failed: {exc}"
                console.log(f"voice: {skipped}")
        return Results(
            settings,
            clip=spoken,
            clip_seconds=_seconds(clip),
            ceiling=ceiling,
            ceiling_cpu=ceiling_cpu,
            probe=probe,
            calls=calls,
            idle_cpu=(cpu1[0] - cpu0[0], cpu1[1] - cpu0[1]),
            idle_window=t1 - t0,
            netem=netem,
            netem_skipped=skipped,
        )
    finally:
        for station in started:
            with contextlib.suppress(AssertionError):
                station.stop()
        for proxy in reversed(proxies):
            proxy.stop()
        shutil.rmtree(root, ignore_errors=True)


async def run(settings: Settings, console: Console) -> Results:
    """Create, pair and start two stations, place every call, clean up (blocking work, in a thread)."""
    return await asyncio.to_thread(_measure, settings, console)


__all__ = [
    "CLEAN",
    "CONDITIONS",
    "CPU_GOAL_PERCENT",
    "JITTER",
    "LATENCY_GOAL_MS",
    "NETEM_LOSSES",
    "NETEM_PATHS",
    "QUICK",
    "NetemRun",
    "Results",
    "Settings",
    "carrier_rows",
    "carrier_table",
    "percentile",
    "run",
]
