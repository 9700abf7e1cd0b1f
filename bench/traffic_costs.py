"""What a line costs and how fast a FLASH crosses it, measured in the traffic run (:mod:`bench.traffic`).

Two measurements on the same pair of station daemons the adversary watches, with the carrier off and
on alike:

- **An idle stretch** (:class:`Idle`) before the first episode: nobody uses the line for
  :attr:`~bench.traffic.Settings.idle_seconds`; the CPU time of both station processes
  (``utime + stime`` from ``/proc/PID/stat``) is read at its ends, and the bytes on the wire each way
  are counted afterwards in the capture (:func:`wire`): IP packets, TCP headers and bare ACKs
  included, which is what the line costs a link (less the link's own framing).
- **FLASH latency** (:class:`Flash`) after the last episode: FLASH messages queued with the line
  idle, during a burst of ROUTINE messages one way, and during a document one way, each timed from
  the moment the sender queued it (the message's ``created_at``, the sender's clock) until the
  receiver stored it (its ``stored_at`` in the receiver's inbox; both daemons share the machine's clock).
"""

from __future__ import annotations

import itertools
import math
import os
import time
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.traffic_capture import UDP, Packet

#: One packet of a trace: (seconds since the epoch, +1 alpha to bravo or -1 back, IP packet bytes).
Observation = tuple[float, int, int]

DAY = 86_400.0
HOUR = 3_600.0

#: When the FLASH messages are queued, by label.
FLASH_CONDITIONS = {
    "idle": "the line idle",
    "burst": "during a burst of ROUTINE messages the same way",
    "document": "during a document the same way",
}


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of process ``pid`` so far (all its threads), from /proc."""
    return parse_stat_cpu(Path(f"/proc/{pid}/stat").read_text(), _clock_ticks())


def _clock_ticks() -> int:
    return os.sysconf("SC_CLK_TCK")


def parse_stat_cpu(stat: str, ticks_per_second: int) -> float:
    """``utime + stime`` in seconds from the text of a ``/proc/PID/stat`` file.

    The command (field 2) is in parentheses and may itself hold spaces and parentheses, so the
    fields are counted from the last ``)``.

    Raises:
        ValueError: the text is not a stat line.
    """
    close = stat.rfind(")")
    if close < 0:
        raise ValueError("not a /proc/PID/stat line: no ')' after the command")
    fields = stat[close + 2 :].split()
    if len(fields) < 13:
        raise ValueError(f"not a /proc/PID/stat line: {len(fields)} fields after the command, 13 at least")
    # after the command: state is field 3, so utime (14) and stime (15) are at 11 and 12
    return (int(fields[11]) + int(fields[12])) / ticks_per_second


@dataclass(frozen=True)
class Wire:
    """What crossed the wire between two moments: bytes and packets each way."""

    seconds: float
    #: IP bytes alpha to bravo, and bravo to alpha.
    bytes_out: int
    bytes_in: int
    packets_out: int
    packets_in: int

    def per_day(self) -> tuple[float, float]:
        """Bytes per day each way (alpha to bravo, back) at the rate of this stretch."""
        if self.seconds <= 0:
            return 0.0, 0.0
        scale = DAY / self.seconds
        return self.bytes_out * scale, self.bytes_in * scale

    def packets_per_second(self) -> tuple[float, float]:
        if self.seconds <= 0:
            return 0.0, 0.0
        return self.packets_out / self.seconds, self.packets_in / self.seconds


def wire(trace: Sequence[Observation], start: float, end: float) -> Wire:
    """Bytes and packets each way of the packets in ``[start, end)``."""
    sums = {1: [0, 0], -1: [0, 0]}
    for at, direction, size in trace:
        if start <= at < end:
            sums[direction][0] += size
            sums[direction][1] += 1
    return Wire(end - start, sums[1][0], sums[-1][0], sums[1][1], sums[-1][1])


@dataclass(frozen=True)
class Shape:
    """How the packets of one window are made, beyond what the adversary's features keep."""

    #: TCP segments with data, bare TCP segments (ACKs, no data), and UDP datagrams.
    data: int
    bare: int
    udp: int
    #: TCP segments with more data than one cell record: cells a late timer sealed together and the
    #: kernel sent as one segment (or, without the carrier, any large write).
    coalesced: int
    #: The longest gap between two TCP data segments one way (seconds; the window when fewer than two).
    gap_max: float
    #: The median and 99th percentile of those gaps, both ways pooled (seconds; the window when none):
    #: with the carrier, how far the cells' timing strays from the interval.
    gap_p50: float = 0.0
    gap_p99: float = 0.0


def shape(
    packets: Iterable[Packet], ports: tuple[int, int], start: float, length: float, record: int
) -> Shape:
    """The :class:`Shape` of the packets of the stations on ``ports`` in ``[start, start + length)``;
    ``record`` is the TCP payload of one cell record (segments with more count as coalesced)."""
    data = bare = udp = coalesced = 0
    times: dict[int, list[float]] = {ports[0]: [], ports[1]: []}
    for packet in packets:
        if not start <= packet.time < start + length:
            continue
        if not {packet.src_port, packet.dst_port} & set(ports):
            continue
        if packet.protocol == UDP:
            udp += 1
        elif packet.payload == 0:
            bare += 1
        else:
            data += 1
            coalesced += packet.payload > record
            # one way: segments from alpha's side (its port, or to bravo's port)
            side = ports[0] if packet.src_port == ports[0] or packet.dst_port == ports[1] else ports[1]
            times[side].append(packet.time)
    gaps = [b - a for series in times.values() for a, b in itertools.pairwise(series)]
    p50, p99 = (percentile(gaps, 50), percentile(gaps, 99)) if gaps else (length, length)
    return Shape(data, bare, udp, coalesced, max(gaps, default=length), p50, p99)


@dataclass(frozen=True)
class Idle:
    """An idle stretch of the line: its time, both station processes' CPU over it, and the wire."""

    start: float
    end: float
    #: CPU seconds of alpha's and bravo's daemon over the stretch.
    cpu: tuple[float, float]
    #: Filled in from the capture once it has stopped.
    wire: Wire | None = None

    @property
    def seconds(self) -> float:
        return self.end - self.start

    def cpu_per_hour(self) -> float:
        """CPU seconds per hour of one station process (the mean of the two ends)."""
        if self.seconds <= 0:
            return 0.0
        return (sum(self.cpu) / len(self.cpu)) * HOUR / self.seconds


def measure_idle(pids: tuple[int, int], seconds: float) -> Idle:
    """Leave the line alone for ``seconds`` and read both processes' CPU at the ends."""
    before = tuple(cpu_seconds(pid) for pid in pids)
    start = time.time()
    time.sleep(seconds)
    end = time.time()
    after = tuple(cpu_seconds(pid) for pid in pids)
    cpu = (after[0] - before[0], after[1] - before[1])
    return Idle(start, end, cpu)


@dataclass(frozen=True)
class Flash:
    """One FLASH message: when it was queued and how long until the receiver stored it."""

    condition: str
    seconds: float


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0-100) by the nearest-rank method (NaN for no values)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def latencies(sent: Collection[str], inbox: Sequence[dict[str, object]]) -> dict[str, float]:
    """Seconds from queued to stored for each text of ``sent``, read from the receiver's inbox
    entries (``text``, ``created_at``, ``stored_at``).

    Raises:
        ValueError: a sent text is not in the inbox (it was not delivered).
    """
    found: dict[str, float] = {}
    for message in inbox:
        text = message.get("text")
        if isinstance(text, str) and text in sent:
            created, stored = message.get("created_at"), message.get("stored_at")
            if not isinstance(created, int | float) or not isinstance(stored, int | float):
                raise ValueError(f"the inbox entry of {text!r} has no created_at and stored_at times")
            found[text] = float(stored) - float(created)
    missing = [text for text in sent if text not in found]
    if missing:
        raise ValueError(f"{len(missing)} FLASH message(s) not in the receiver's inbox, e.g. {missing[0]!r}")
    return found


def by_condition(flashes: Sequence[Flash]) -> dict[str, list[float]]:
    """Each condition's latencies, in the order of :data:`FLASH_CONDITIONS`."""
    out: dict[str, list[float]] = {condition: [] for condition in FLASH_CONDITIONS}
    for flash in flashes:
        out.setdefault(flash.condition, []).append(flash.seconds)
    return out


__all__ = [
    "DAY",
    "FLASH_CONDITIONS",
    "HOUR",
    "Flash",
    "Idle",
    "Shape",
    "Wire",
    "by_condition",
    "cpu_seconds",
    "latencies",
    "measure_idle",
    "parse_stat_cpu",
    "percentile",
    "shape",
    "wire",
]
