"""A hub whose lines all run as constant-rate carriers: its CPU and memory, and whether it keeps up.

The same hub as :mod:`bench.hub` (one daemon, each line to its own peer station, the peers served
side by side in one other process), with every line's ``[lines.NAME]`` table set to
``carrier = "steady"`` at both ends. A carrier line sends a cell every interval whatever it carries,
so an idle hub of 100 lines at the default 20 ms seals and opens 5,000 cells a second each way.

Over an idle window we read the hub's CPU time (``/proc/PID/stat``) and resident memory, and count
the bytes its TCP sockets sent (``bytes_sent`` of ``ss -tinp``, per socket of the hub's process):
divided by the bytes of one cell record that gives the cells that reached the wire, against the
cells the schedule owes. When the hub (or the peers' process, on the same cores) cannot keep up,
the next interval of :attr:`CarrierSettings.intervals_ms` is tried, so the report gives the rate
this machine does carry.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter

import msgspec
from rich.console import Console

from bench.hub import Peers, pair_hub
from bench.station import BenchError, Control, Daemon, Process, new_station, wait_lines_up
from hotline.proto.constants import AEAD_TAG_LEN, RECORD_HEADER_LEN
from hotline.station.config import LineSettings, load_config, save_config


@dataclass(frozen=True)
class CarrierSettings:
    """How big the carrier hub is, which intervals to try, and how long it idles."""

    lines: int = 100
    #: Cell intervals tried in turn, until the hub keeps up with one.
    intervals_ms: tuple[int, ...] = (20, 50, 100)
    cell: int = 1024
    idle_seconds: float = 20.0
    settle_seconds: float = 3.0
    #: The hub keeps up when this share of the cells the schedule owes reached the wire.
    keep_up: float = 0.97


CARRIER = CarrierSettings()
CARRIER_QUICK = CarrierSettings(lines=10, intervals_ms=(20,), idle_seconds=3.0, settle_seconds=1.0)


@dataclass(frozen=True)
class CarrierRun:
    """The hub at one interval."""

    lines: int
    interval_ms: int
    cell: int
    window_seconds: float
    #: Hub CPU seconds over the window, and its RSS (KiB) at the end.
    cpu_seconds: float
    rss_kib: int
    peers_cpu_seconds: float
    peers_rss_kib: int
    #: Bytes the hub's TCP sockets sent over the window (all its lines).
    bytes_sent: int
    #: Seconds from starting the peers' process until every line was up.
    up_seconds: float

    @property
    def cells_owed(self) -> float:
        """Cells the schedule owes over the window, all lines, one way (hub to peers)."""
        return self.lines * self.window_seconds / (self.interval_ms / 1000)

    @property
    def cells_sent(self) -> float:
        return self.bytes_sent / (self.cell + RECORD_HEADER_LEN + AEAD_TAG_LEN)

    @property
    def share(self) -> float:
        """The share of the owed cells that reached the wire."""
        return self.cells_sent / self.cells_owed if self.cells_owed else 0.0

    @property
    def cpu_percent(self) -> float:
        return 100 * self.cpu_seconds / self.window_seconds

    @property
    def peers_cpu_percent(self) -> float:
        return 100 * self.peers_cpu_seconds / self.window_seconds


@dataclass(frozen=True)
class CarrierResults:
    """Every interval tried, in order; the last one is the one the hub kept up with, if any."""

    settings: CarrierSettings
    runs: list[CarrierRun]

    def kept_up(self, run: CarrierRun) -> bool:
        return run.share >= self.settings.keep_up


# -- reading ss


_SOCKET = re.compile(r"users:\(\((?P<users>.*)\)\)")
_PID = re.compile(r"pid=(\d+)")
_BYTES_SENT = re.compile(r"\bbytes_sent:(\d+)")


def parse_ss(text: str) -> dict[int, int]:
    """Bytes sent per process id, summed over its sockets, from ``ss -tinpH`` output.

    ``ss -i`` prints each socket on a line (with ``users:(("name",pid=N,fd=F))`` under ``-p``)
    followed by an indented line of TCP info (``bytes_sent:N`` among it, absent before the first
    byte). A socket shared by several processes counts for each.
    """
    sent: dict[int, int] = {}
    pids: list[int] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if not line[:1].isspace():
            found = _SOCKET.search(line)
            pids = sorted({int(p) for p in _PID.findall(found.group("users"))}) if found else []
            continue
        count = _BYTES_SENT.search(line)
        if count is None:
            continue
        for pid in pids:
            sent[pid] = sent.get(pid, 0) + int(count.group(1))
        pids = []
    return sent


def bytes_sent(pid: int) -> int:
    """Bytes the TCP sockets of process ``pid`` have sent so far (``ss``; sockets still open only)."""
    try:
        out = subprocess.run(
            ["ss", "-tinpH", "state", "established"], capture_output=True, text=True, check=True, timeout=30
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise BenchError(f"cannot read the hub's sockets with ss (iproute2): {exc}") from None
    return parse_ss(out).get(pid, 0)


# -- the case


def _set_carrier(home: Path, peers: Iterable[str], line: LineSettings) -> None:
    path = home / "station.toml"
    config = load_config(path)
    save_config(path, msgspec.structs.replace(config, lines={peer: line for peer in peers}))


async def _one(
    root: Path, hub: Path, peers: list[Path], interval_ms: int, settings: CarrierSettings
) -> CarrierRun:
    line = LineSettings(carrier="steady", carrier_cell=settings.cell, carrier_interval_ms=interval_ms)
    _set_carrier(hub, (peer.name for peer in peers), line)
    for peer in peers:
        _set_carrier(peer, [hub.name], line)
    processes: list[Process] = []
    control: Control | None = None
    n = settings.lines
    try:
        daemon = Daemon(hub)
        processes.append(daemon)
        control = await daemon.control()
        started = perf_counter()
        others = Peers(peers, root / f"peers-{interval_ms}.log")
        processes.append(others)
        await others.ready()
        await wait_lines_up(control, n, 180.0)
        up = perf_counter() - started
        await asyncio.sleep(settings.settle_seconds)
        sent0, cpu0, peers0, t0 = (
            bytes_sent(daemon.pid),
            daemon.cpu_seconds(),
            others.cpu_seconds(),
            perf_counter(),
        )
        await asyncio.sleep(settings.idle_seconds)
        sent1, cpu1, peers1, t1 = (
            bytes_sent(daemon.pid),
            daemon.cpu_seconds(),
            others.cpu_seconds(),
            perf_counter(),
        )
        daemon.check()
        return CarrierRun(
            lines=n,
            interval_ms=interval_ms,
            cell=settings.cell,
            window_seconds=t1 - t0,
            cpu_seconds=cpu1 - cpu0,
            rss_kib=daemon.rss_kib(),
            peers_cpu_seconds=peers1 - peers0,
            peers_rss_kib=others.rss_kib(),
            bytes_sent=sent1 - sent0,
            up_seconds=up,
        )
    finally:
        if control is not None:
            await control.close()
        for process in reversed(processes):
            process.stop()


async def run_carrier(settings: CarrierSettings, console: Console) -> CarrierResults:
    """Pair a hub with its peers once, then run it at each interval until it keeps up."""
    root = Path(tempfile.mkdtemp(prefix="hotline-carrier-hub-"))
    try:
        n = settings.lines
        console.log(f"carrier hub: creating the hub and {n} peer stations, pairing offline")
        hub = new_station(root, "hub")
        peers = [new_station(root, f"peer{i:03d}") for i in range(n)]
        await pair_hub(hub, peers)
        runs: list[CarrierRun] = []
        results = CarrierResults(settings, runs)
        for interval in settings.intervals_ms:
            console.log(
                f"carrier hub: {n} carrier lines, a cell every {interval} ms, "
                f"idle {settings.idle_seconds:g} s"
            )
            one = await _one(root, hub, peers, interval, settings)
            runs.append(one)
            console.log(
                f"carrier hub: {one.share:.0%} of the owed cells on the wire, "
                f"hub CPU {one.cpu_percent:.0f} %, peers' CPU {one.peers_cpu_percent:.0f} %"
            )
            if results.kept_up(one):
                break
        return results
    finally:
        shutil.rmtree(root, ignore_errors=True)


__all__ = [
    "CARRIER",
    "CARRIER_QUICK",
    "CarrierResults",
    "CarrierRun",
    "CarrierSettings",
    "bytes_sent",
    "parse_ss",
    "run_carrier",
]
