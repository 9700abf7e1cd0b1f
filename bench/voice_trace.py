"""What both voice benchmarks read from a call between two daemons (:mod:`bench.voice` through an
impairment proxy, :mod:`bench.voice_carrier` across a lossy veth pair): each frame's added latency
from the daemons' frame traces, whether media flows over UDP both ways yet, and percentiles.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from tests.support.stations import StationProc

#: Where bravo dials alpha: nowhere, so alpha dials and the session goes the way alpha dials it.
NOWHERE = "127.0.0.1:9"


def percentile(values: list[float], p: int) -> float:
    """The ``p``-th percentile (inclusive method, as elsewhere in the benchmarks)."""
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def latency(sender: Path, player: Path, since: float) -> list[tuple[float, float]]:
    """(playout - send, target delay) in seconds for each frame sent after ``since`` and played from the
    network (not concealed)."""
    sent: dict[int, float] = {}
    for line in sender.read_text().splitlines():
        kind, index, at = line.split()[:3]
        if kind == "S" and float(at) >= since:
            sent.setdefault(int(index), float(at))
    played: dict[int, tuple[float, float]] = {}
    for line in player.read_text().splitlines():
        kind, index, at, *rest = line.split()
        if kind == "P" and rest[0] in ("FRAME", "FEC") and int(index) in sent:
            played.setdefault(int(index), (float(at) - sent[int(index)], float(rest[1]) / 1e3))
    return list(played.values())


def udp_both_ways(a: StationProc, b: StationProc) -> None:
    """Wait until alpha hears bravo over UDP (bravo has latched, so both ends send over UDP)."""
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        call = a.line(b)["call"]
        if call is None or call["packets"]["udp_in"] > 0:
            return
        time.sleep(0.01)


__all__ = ["NOWHERE", "latency", "percentile", "udp_both_ways"]
