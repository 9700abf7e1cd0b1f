"""What a benchmark case measured, and how repetitions are reduced to one number.

Each case runs :data:`REPEATS` times with the implementations taking turns, and we keep the best
repetition: the fastest mean for handshakes, the shortest transfer for bulk. On a shared machine
noise only ever adds time, so the best repetition is the closest to what the code itself costs.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

#: Repetitions of every case.
REPEATS = 3

#: Implementation labels, used as keys in results and as row and column names in the report.
TCP = "TCP"
TLS = "TLS 1.3"
HOTLINE = "Hotline"


@dataclass(frozen=True)
class Latencies:
    """Durations of repeated sequential operations, in seconds."""

    seconds: tuple[float, ...]

    @property
    def mean_ms(self) -> float:
        return statistics.fmean(self.seconds) * 1e3

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.seconds) * 1e3

    @property
    def p95_ms(self) -> float:
        return statistics.quantiles(self.seconds, n=20, method="inclusive")[18] * 1e3

    @property
    def per_second(self) -> float:
        """Sequential operations per second (the inverse of the mean)."""
        return 1e3 / self.mean_ms


@dataclass(frozen=True)
class Transfer:
    """``count`` payloads of ``payload`` bytes sent one way in ``seconds``."""

    payload: int
    count: int
    seconds: float

    @property
    def mb_per_s(self) -> float:
        """Payload throughput in MB/s (10^6 bytes per second)."""
        return self.payload * self.count / self.seconds / 1e6

    @property
    def records_per_s(self) -> float:
        return self.count / self.seconds


def best_latencies(runs: list[Latencies]) -> Latencies:
    """The repetition with the lowest mean."""
    return min(runs, key=lambda run: run.mean_ms)


def best_transfer(runs: list[Transfer]) -> Transfer:
    """The fastest repetition."""
    return min(runs, key=lambda run: run.seconds)
