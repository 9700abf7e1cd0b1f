"""Voice inside the carrier against today's UDP path, under random loss on every packet (part of the
voice benchmark, :mod:`bench.voice`, and of its section of the report).

A line in carrier mode carries its calls in the carrier's cells, over the session's TCP, so loss there
is TCP's: retransmissions and head-of-line blocking, not missing frames. To measure that honestly the
loss must hit TCP segments, which a user-space proxy cannot do: this comparison runs two more pairs of
daemons in two network namespaces joined by a veth pair, with ``netem`` dropping packets at random on
both ends (both directions; on a kernel built without netem, a classic BPF filter on each end's egress
that does the same), one pair with the line's carrier off (today's UDP path under the same netem loss)
and one with ``carrier = "steady"`` (1024-byte cells every 20 ms), at 0, 5 and 15 % loss switched on
once the call is up. That needs root and iproute2; without them the rows are left out and the report
says so.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import statistics
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

from rich.console import Console
from tests.support.stations import FAST, PASSPHRASE, CliProcess, StationProc, daemon_command, pair

from bench.voice_trace import NOWHERE, latency, percentile, udp_both_ways
from hotline.station.calls.desk import TRACE_ENV
from hotline.station.config import LineSettings
from hotline.station.home import create_station
from hotline.voice.quality import pesq_wb

#: Random loss netem applies to every packet on the veth pair, both ways, in the carrier comparison.
NETEM_LOSSES = (0.0, 0.05, 0.15)
#: The two paths compared under netem: the line's carrier off (media over UDP), and on.
NETEM_PATHS = ("udp", "carrier")
#: PESQ-WB goals of the issue at 0 / 5 / 15 % loss.
NETEM_GOALS = {0.0: 3.7, 0.05: 3.4, 0.15: 3.0}


@dataclass(frozen=True)
class NetemRun:
    """One call of the carrier comparison: a path, a netem loss, and what was heard."""

    path: str
    loss: float
    pesq: float
    #: bravo's call result (the end that hears the speech) and alpha's (the end that speaks).
    ended: dict[str, Any]
    caller: dict[str, Any]
    latency: list[tuple[float, float]]


def _of(runs: list[NetemRun], path: str, loss: float) -> list[NetemRun]:
    return [run for run in runs if run.path == path and run.loss == loss]


def carrier_table() -> tuple[str, list[str], str]:
    """The carrier comparison table's title, columns and note (rows: :func:`rows`)."""
    return (
        "Voice inside the carrier against today's UDP path, random loss on every packet both ways",
        [
            "path",
            "loss",
            "PESQ-WB median",
            "min",
            "goal",
            "added latency p50 ms",
            "p95 ms",
            "max ms",
            "concealed %",
            "dropped late",
        ],
        "Two daemons in two network namespaces joined by a veth pair; netem (or, on a kernel without it, "
        "a BPF filter on each end's egress that draws the kernel's random numbers the same way) drops "
        "that share of every packet (TCP segments, ACKs and UDP datagrams alike) on both ends, switched "
        "on once the call is up; the pair's round trip is well under a millisecond. udp: the line's "
        "carrier off, media over UDP (the session's TCP loses packets too). carrier: "
        "the line runs 1024-byte cells every 20 ms and the call rides in them, so its loss is TCP's "
        "retransmission delay. Added latency is capture to playout with the jitter buffer's delay, every "
        "frame played from the network; concealed is the callee's share of concealed frames; dropped "
        "late counts frames the caller dropped because the carrier's VOICE lane was full.",
    )


def rows(runs: list[NetemRun]) -> list[list[str]]:
    """One row per path and loss of the carrier comparison, from its ``runs``."""
    table = []
    for loss, path in itertools.product(NETEM_LOSSES, NETEM_PATHS):
        of = _of(runs, path, loss)
        if not of:
            continue
        scores = [run.pesq for run in of]
        ms = [1e3 * total for run in of for total, _ in run.latency] or [float("nan")]
        table.append(
            [
                path,
                f"{100 * loss:g} %",
                f"{statistics.median(scores):.2f}",
                f"{min(scores):.2f}",
                f">= {NETEM_GOALS[loss]:g}",
                f"{percentile(ms, 50):.1f}" if len(ms) > 1 else "-",
                f"{percentile(ms, 95):.1f}" if len(ms) > 1 else "-",
                f"{max(ms):.1f}",
                f"{statistics.median(float(run.ended['loss']) for run in of):.2f}",
                f"{statistics.median(int(run.caller['dropped'].get('late', 0)) for run in of):g}",
            ]
        )
    return table


# -- daemons in network namespaces, netem loss on a veth pair

#: The two namespaces, their ends of the veth pair and their addresses.
_NS = ("hotline-voice-a", "hotline-voice-b")
_VETH = ("hlvoice-a", "hlvoice-b")
_ADDR = ("10.203.77.1", "10.203.77.2")


def _ip(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True)


def _netem_works() -> bool:
    """Whether this kernel has netem (some ship without it; then :func:`_drop` does its work)."""
    ns, dev = _NS[0], _VETH[0]
    added = subprocess.run(["tc", "-n", ns, "qdisc", "add", "dev", dev, "root", "netem"], capture_output=True)
    subprocess.run(["tc", "-n", ns, "qdisc", "del", "dev", dev, "root"], capture_output=True)
    return added.returncode == 0


def _drop(share: float) -> str:
    """A classic BPF program for a direct-action tc filter that drops ``share`` of the packets at
    random, as ``netem loss`` does: load the kernel's random u32, pass it if it is at least
    ``share * 2**32`` (TC_ACT_OK), else drop (TC_ACT_SHOT)."""
    random_u32 = 2**32 - 0x1000 + 56  # SKF_AD_OFF + SKF_AD_RANDOM
    threshold = min(2**32 - 1, round(share * 2**32))
    return f"4,32 0 0 {random_u32},53 0 1 {threshold},6 0 0 0,6 0 0 2"


class Veth:
    """Two network namespaces joined by a veth pair, with a netem qdisc on each end."""

    def __enter__(self) -> Veth:
        self.close()  # a run cut short may have left them behind
        for ns in _NS:
            _ip("ip", "netns", "add", ns)
        _ip(
            "ip",
            "link",
            "add",
            _VETH[0],
            "netns",
            _NS[0],
            "type",
            "veth",
            "peer",
            "name",
            _VETH[1],
            "netns",
            _NS[1],
        )
        for ns, dev, addr in zip(_NS, _VETH, _ADDR, strict=True):
            _ip("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
            _ip("ip", "-n", ns, "link", "set", dev, "up")
            _ip("ip", "-n", ns, "link", "set", "lo", "up")
            _ip("tc", "-n", ns, "qdisc", "add", "dev", dev, "clsact")
        self.netem = _netem_works()
        if self.netem:
            for ns, dev in zip(_NS, _VETH, strict=True):
                _ip("tc", "-n", ns, "qdisc", "add", "dev", dev, "root", "netem", "loss", "0%")
        return self

    def loss(self, share: float) -> None:
        """Drop ``share`` of the packets leaving each end (so both ways), at random."""
        for ns, dev in zip(_NS, _VETH, strict=True):
            if self.netem:
                _ip(
                    "tc",
                    "-n",
                    ns,
                    "qdisc",
                    "change",
                    "dev",
                    dev,
                    "root",
                    "netem",
                    "loss",
                    f"{100 * share:g}%",
                )
                continue
            subprocess.run(["tc", "-n", ns, "filter", "del", "dev", dev, "egress"], capture_output=True)
            if share > 0:
                _ip(
                    "tc",
                    "-n",
                    ns,
                    "filter",
                    "add",
                    "dev",
                    dev,
                    "egress",
                    "bpf",
                    "da",
                    "bytecode",
                    _drop(share),
                )

    def close(self) -> None:
        for ns in _NS:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)

    def __exit__(self, *exc: object) -> None:
        self.close()


class NsStation(StationProc):
    """A station daemon run inside a network namespace (its control socket is a file: reachable)."""

    namespace = ""

    def start(self, *, wait: bool = True, timeout: float = 20.0) -> None:
        env = {**os.environ, "HOTLINE_HOME": str(self.home), "HOTLINE_PASSPHRASE": PASSPHRASE}
        self.starts += 1
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                ["ip", "netns", "exec", self.namespace, *daemon_command(self.home)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env={**env, "PYTHONUNBUFFERED": "1"},
                start_new_session=True,
            )
        if wait:
            self.wait_ready(timeout)


def _ns_pair(root: Path, tag: str, port: int, carrier: str) -> tuple[NsStation, NsStation]:
    """alpha in the first namespace dials bravo in the second; the line's carrier is ``carrier``."""
    made = []
    for end, name in enumerate(("alpha", "bravo")):
        home = root / f"{tag}-{name}"
        create_station(home, name, f"{_ADDR[end]}:{port}", PASSPHRASE, kdf="light")
        station = NsStation(home, name, port)
        station.namespace = _NS[end]
        station.configure(**FAST)
        made.append(station)
    a, b = made
    pair(a, b, a_endpoints=[f"{_ADDR[1]}:{port}"], b_endpoints=[NOWHERE])
    a.configure(lines={"bravo": LineSettings(carrier=carrier)})
    b.configure(lines={"alpha": LineSettings(carrier=carrier)})
    return a, b


def _netem_call(
    a: StationProc, b: StationProc, clip: Path, work: Path, veth: Veth, path: str, loss: float
) -> NetemRun:
    heard = work / f"heard-{time.monotonic_ns()}.wav"
    answer = CliProcess(b, "answer", a.name, "--wait", "30", "--record", str(heard))
    call = CliProcess(a, "call", b.name, "--play", str(clip))
    try:
        answer.next_event("answered")
        if path == "udp":
            udp_both_ways(a, b)
        veth.loss(loss)
        t0 = time.monotonic()
        ended_a = call.result(timeout=120)
        ended_b = answer.result(timeout=120)
    finally:
        veth.loss(0.0)
        call.kill()
        answer.kill()
    trace = work / "traces"
    ident = str(ended_a["id"])[:8]
    return NetemRun(
        path,
        loss,
        pesq=pesq_wb(clip, heard),
        ended=ended_b,
        caller=ended_a,
        latency=latency(trace / f"{a.name}-{ident}.trace", trace / f"{b.name}-{ident}.trace", t0),
    )


def skip_reason() -> str | None:
    """Why the comparison cannot run here, or None."""
    if os.geteuid() != 0:
        return "the carrier comparison needs root (network namespaces and netem)"
    if shutil.which("ip") is None or shutil.which("tc") is None:
        return "the carrier comparison needs iproute2 (ip, tc)"
    return None


def measure(rounds: int, clip: Path, root: Path, console: Console) -> list[NetemRun]:
    """The carrier comparison, ``rounds`` calls per path and loss: a UDP pair and a carrier pair of
    daemons across a lossy veth pair (``root`` holds their homes and the ``traces`` directory)."""
    started: list[NsStation] = []
    runs: list[NetemRun] = []
    with Veth() as veth:
        try:
            pairs = {
                "udp": _ns_pair(root, "udp", 7711, "off"),
                "carrier": _ns_pair(root, "carrier", 7712, "steady"),
            }
            with mock.patch.dict(os.environ, {TRACE_ENV: str(root / "traces")}):
                for a, b in pairs.values():
                    for station in (a, b):
                        station.start(wait=False)
                        started.append(station)
                for station in started:
                    station.wait_ready()
            for a, b in pairs.values():
                a.wait_line(b)
                b.wait_line(a)
            # a first call on each pair warms the daemons up (not counted)
            for path, (a, b) in pairs.items():
                _netem_call(a, b, clip, root, veth, path, 0.0)
            for n in range(rounds):
                for loss, path in itertools.product(NETEM_LOSSES, NETEM_PATHS):
                    a, b = pairs[path]
                    run = _netem_call(a, b, clip, root, veth, path, loss)
                    runs.append(run)
                    console.log(
                        f"voice: round {n + 1}/{rounds}, {path} at {100 * loss:g} % netem loss: "
                        f"PESQ-WB {run.pesq:.2f}, path {run.ended['path']}, "
                        f"late drops {run.caller['dropped'].get('late', 0)}"
                    )
        finally:
            for station in started:
                with contextlib.suppress(AssertionError):
                    station.stop()
    return runs


__all__ = [
    "NETEM_GOALS",
    "NETEM_LOSSES",
    "NETEM_PATHS",
    "NetemRun",
    "carrier_table",
    "measure",
    "rows",
    "skip_reason",
]
