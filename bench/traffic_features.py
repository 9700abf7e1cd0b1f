"""The adversary's view of one window of a trace: a fixed list of numbers, k-fingerprinting style.

A trace is what a tap between two stations records: ``(time, direction, size)`` per packet, direction
+1 one way and -1 the other, size in bytes. :func:`features` turns the packets of one window into
:data:`FEATURE_NAMES` numbers: for each direction and for both together, packet counts and byte
totals, a histogram of packet sizes, size percentiles, inter-arrival statistics, bursts (runs of
packets one way, and clusters of packets close in time), and how the packets spread over the window.
Everything is computed from timing, direction and size only: what an observer of encrypted traffic has.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

#: One packet of a trace: (seconds, direction +1 or -1, IP packet bytes).
Observation = tuple[float, int, int]
Vector = npt.NDArray[np.float64]

#: Upper edges of the packet size histogram, in bytes (the last bin is open): a bare TCP ACK is 52 on
#: IPv4 with timestamps, a full Ethernet frame 1500; loopback carries up to 64 KiB in one packet.
SIZE_EDGES = (64, 128, 256, 512, 1024, 1500, 4096, 16384)
#: Packets further apart than this (seconds) start a new time cluster.
CLUSTER_GAP = 0.1
#: The window is cut into slots this long (seconds) to see how the packets spread over it.
SLOT = 0.5
_PERCENTILES = (10, 25, 50, 75, 90)
_SIDES = ("out", "in", "all")


def _side_names(side: str) -> list[str]:
    names = [f"{side} packets", f"{side} bytes"]
    bins = [*SIZE_EDGES, None]
    low = 0
    for high in bins:
        names.append(f"{side} sizes {low + 1}-{high}" if high else f"{side} sizes > {low}")
        low = high or low
    names += [f"{side} size mean", f"{side} size std", f"{side} size max"]
    names += [f"{side} size p{p}" for p in _PERCENTILES]
    names += [f"{side} gap mean", f"{side} gap std", f"{side} gap max", f"{side} gap p50", f"{side} gap p90"]
    names += [f"{side} first at", f"{side} last at"]
    names += [f"{side} slot mean", f"{side} slot std", f"{side} slot max", f"{side} slots busy"]
    return names


#: The name of each number :func:`features` returns, in order.
FEATURE_NAMES: tuple[str, ...] = (
    *[name for side in _SIDES for name in _side_names(side)],
    "out share of packets",
    "out share of bytes",
    "runs one way",
    "run length mean",
    "run length max",
    "clusters",
    "cluster packets mean",
    "cluster packets max",
    "cluster seconds mean",
    "cluster seconds max",
)


def _side(times: Vector, sizes: Vector, length: float) -> list[float]:
    """The numbers of one side (a direction, or both) over a window of ``length`` seconds."""
    n = len(times)
    # bin i holds the sizes above edge i - 1 up to edge i, both as the feature names say
    counts = np.bincount(np.searchsorted(SIZE_EDGES, sizes, side="left"), minlength=len(SIZE_EDGES) + 1)
    out = [float(n), float(sizes.sum())]
    out += [float(c) for c in counts]
    if n:
        out += [float(sizes.mean()), float(sizes.std()), float(sizes.max())]
        out += [float(v) for v in np.percentile(sizes, _PERCENTILES)]
    else:
        out += [0.0] * (3 + len(_PERCENTILES))
    gaps = np.diff(times)
    if len(gaps):
        out += [float(gaps.mean()), float(gaps.std()), float(gaps.max())]
        out += [float(v) for v in np.percentile(gaps, (50, 90))]
    else:
        # no two packets: the gap is the whole window, as far as this window tells
        out += [length, 0.0, length, length, length]
    out += [float(times[0]), float(times[-1])] if n else [length, length]
    slots = max(1, round(length / SLOT))
    per_slot = np.histogram(times, bins=slots, range=(0.0, length))[0] if n else np.zeros(slots)
    out += [float(per_slot.mean()), float(per_slot.std()), float(per_slot.max())]
    out.append(float(np.count_nonzero(per_slot)) / slots)
    return out


def _runs(directions: Vector) -> list[int]:
    """Lengths of the runs of consecutive packets in one direction."""
    if not len(directions):
        return []
    breaks = np.flatnonzero(np.diff(directions)) + 1
    edges = np.concatenate(([0], breaks, [len(directions)]))
    return [int(n) for n in np.diff(edges)]


def _clusters(times: Vector) -> list[tuple[int, float]]:
    """(packets, seconds) of each cluster of packets less than :data:`CLUSTER_GAP` apart."""
    if not len(times):
        return []
    breaks = np.flatnonzero(np.diff(times) > CLUSTER_GAP) + 1
    edges = np.concatenate(([0], breaks, [len(times)]))
    return [(int(b - a), float(times[b - 1] - times[a])) for a, b in itertools.pairwise(edges)]


def features(trace: Sequence[Observation], start: float, length: float) -> Vector:
    """The :data:`FEATURE_NAMES` numbers of the packets of ``trace`` in ``[start, start + length)``.

    ``trace`` need not be sorted or cut to the window; direction +1 counts as "out".

    Raises:
        ValueError: ``length`` is not positive, or a packet's direction is neither +1 nor -1.
    """
    if not length > 0:
        raise ValueError(f"a window must last more than 0 s, not {length}")
    packets = sorted((t - start, d, s) for t, d, s in trace if start <= t < start + length)
    times = np.array([p[0] for p in packets], dtype=np.float64)
    directions = np.array([p[1] for p in packets], dtype=np.float64)
    sizes = np.array([p[2] for p in packets], dtype=np.float64)
    if len(directions) and not np.all(np.abs(directions) == 1):
        raise ValueError("a packet's direction must be +1 or -1")
    out: list[float] = []
    for side in _SIDES:
        chosen = directions == 1 if side == "out" else directions == -1 if side == "in" else slice(None)
        out += _side(times[chosen], sizes[chosen], length)
    total, total_bytes = len(times), float(sizes.sum())
    out.append(float(np.count_nonzero(directions == 1)) / total if total else 0.5)
    out.append(float(sizes[directions == 1].sum()) / total_bytes if total_bytes else 0.5)
    runs = _runs(directions)
    out += [float(len(runs)), float(np.mean(runs)) if runs else 0.0, float(max(runs, default=0))]
    clusters = _clusters(times)
    packets_each = [n for n, _ in clusters]
    seconds_each = [s for _, s in clusters]
    out.append(float(len(clusters)))
    out += [float(np.mean(packets_each)) if clusters else 0.0, float(max(packets_each, default=0))]
    out += [float(np.mean(seconds_each)) if clusters else 0.0, float(max(seconds_each, default=0.0))]
    vector = np.array(out, dtype=np.float64)
    assert len(vector) == len(FEATURE_NAMES)
    return vector


__all__ = ["CLUSTER_GAP", "FEATURE_NAMES", "SIZE_EDGES", "SLOT", "Observation", "Vector", "features"]
