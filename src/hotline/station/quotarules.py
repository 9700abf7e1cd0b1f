"""Per-line quotas, the rules without the run time (F5, docs/protocol.md §10.3 and §13.1).

One authenticated peer must not be able to fill a station's disk or drown its operator. Each line has
three quotas and the station keeps a reserve of free disk:

* **entries per hour**: entries the peer may have stored on this line in the last 60 minutes
  (counted in one-minute steps). A government line carries at most a few thousand messages an hour
  even in a crisis: a handful of operators cannot type or read more. The default, 6,000 (100 a
  minute, acknowledgements and line tests included), leaves room for that; an automated relay line
  raises it.
* **stored bytes**: what the peer's entries and announced documents take on this line, together.
  Default 64 GiB: years of messages and a few dozen large documents.
* **document bytes**: the largest document the peer may announce (default 8 GiB, above the few GiB a
  government document, scan or video briefing reaches). Documents above ``approve_documents_above``
  (default 2 GiB) wait for the operator's approval before any byte flows.
* **disk reserve**: what is kept free for the operator and the other lines: peer traffic never takes
  the last ``min(disk_reserve_bytes, disk_reserve_percent of the filesystem)`` (default 1 GiB or 5 %,
  whichever is smaller, so a small disk stays usable). On a station with more than one line, a line
  also stops when it holds more than the free space left above the reserve, so it can never take
  the room the other lines need.

The defaults are set station-wide in ``[quotas]`` of ``station.toml`` and overridden per line in
``[lines.<peer>]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import msgspec

from hotline.proto.linemsg import HoldReason

GiB = 2**30
#: The rate window, and its steps, in seconds.
HOUR = 3600
STEP = 60


class QuotaSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, omit_defaults=True):
    """One line's overrides of the station's ``[quotas]`` (unset: the station's value)."""

    #: Entries the peer may have stored on this line in the last hour.
    entries_per_hour: int | None = None
    #: Bytes the peer's entries and documents may take on this line.
    stored_bytes: int | None = None
    #: The largest document the peer may announce.
    document_bytes: int | None = None
    #: Documents larger than this wait for the operator (``hotline file accept``); 0 holds every one.
    approve_documents_above: int | None = None


class QuotaDefaults(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The ``[quotas]`` table of ``station.toml``: every line's quotas and the disk reserve."""

    entries_per_hour: int = 6000
    stored_bytes: int = 64 * GiB
    document_bytes: int = 8 * GiB
    approve_documents_above: int = 2 * GiB
    #: Free disk peer traffic never takes: the smaller of these two.
    disk_reserve_bytes: int = GiB
    disk_reserve_percent: float = 5.0


@dataclass(frozen=True)
class Limits:
    """One line's quotas in force."""

    entries_per_hour: int
    stored_bytes: int
    document_bytes: int
    approve_documents_above: int


def limits(defaults: QuotaDefaults, line: QuotaSettings) -> Limits:
    """The quotas of a line with ``line``'s overrides over the station's ``defaults``."""

    def pick(name: str) -> int:
        value = getattr(line, name)
        return int(getattr(defaults, name) if value is None else value)

    return Limits(
        pick("entries_per_hour"),
        pick("stored_bytes"),
        pick("document_bytes"),
        pick("approve_documents_above"),
    )


def quota_problem(defaults: QuotaDefaults, lines: dict[str, QuotaSettings]) -> str | None:
    """What is wrong with the quota settings (naming the key), or None."""
    percent = defaults.disk_reserve_percent
    if not (math.isfinite(percent) and 0 <= percent <= 50):
        return "`quotas.disk_reserve_percent` must be 0 to 50"
    if defaults.disk_reserve_bytes < 0:
        return "`quotas.disk_reserve_bytes` must be at least 0"
    tables = [("quotas", QuotaSettings(**{k: getattr(defaults, k) for k in QuotaSettings.__struct_fields__}))]
    tables += [(f"lines.{peer}", settings) for peer, settings in lines.items()]
    for table, settings in tables:
        for name in ("entries_per_hour", "stored_bytes", "document_bytes"):
            value = getattr(settings, name)
            if value is not None and value < 1:
                return f"`{table}.{name}` must be at least 1"
        held = settings.approve_documents_above
        if held is not None and held < 0:
            return f"`{table}.approve_documents_above` must be at least 0"
    return None


def reserve(defaults: QuotaDefaults, total: int) -> int:
    """The free bytes kept back on a filesystem of ``total`` bytes."""
    return min(defaults.disk_reserve_bytes, int(total * defaults.disk_reserve_percent / 100))


@dataclass(frozen=True)
class Disk:
    """The filesystem of the station directory, as last seen."""

    free: int
    total: int


def verdict(
    limit: Limits,
    *,
    recent: int,
    stored: int,
    size: int,
    disk: Disk,
    kept: int,
    shared: bool,
) -> HoldReason | None:
    """Whether a line may store one more entry taking ``size`` bytes; the quota it would pass, or None.

    ``recent`` is the line's entries in the last hour, ``stored`` its bytes, ``kept`` the disk
    reserve; ``shared``: the station has other lines, whose room this one must leave.
    """
    if recent >= limit.entries_per_hour:
        return HoldReason.RATE
    if stored + size > limit.stored_bytes:
        return HoldReason.SPACE
    room = disk.free - size - kept
    if room < 0 or (shared and stored + size > room):
        return HoldReason.DISK
    return None


class RateWindow:
    """Entries stored in the last hour, in one-minute steps (a sliding window of 60 counters)."""

    def __init__(self) -> None:
        self._steps: dict[int, int] = {}

    def _trim(self, now: float) -> int:
        step = int(now // STEP)
        oldest = step - HOUR // STEP + 1
        for old in [s for s in self._steps if s < oldest]:
            del self._steps[old]
        return step

    def add(self, now: float, count: int = 1) -> None:
        """``count`` entries were stored at ``now``."""
        step = self._trim(now)
        self._steps[step] = self._steps.get(step, 0) + count

    def load(self, counts: dict[int, int]) -> None:
        """Start from stored counts: minute number since the epoch -> entries."""
        self._steps = dict(counts)

    def count(self, now: float) -> int:
        """Entries stored in the window that ends at ``now``."""
        self._trim(now)
        return sum(self._steps.values())

    def free_in(self, now: float, limit: int) -> float:
        """Seconds until the window holds fewer than ``limit`` entries (0: it does now)."""
        total = self.count(now)
        for step in sorted(self._steps):
            if total < limit:
                break
            total -= self._steps[step]
            # this minute leaves the window when its last second is an hour old
            ends = (step + HOUR // STEP) * STEP
            if total < limit:
                return max(0.0, ends - now)
        return 0.0


__all__ = [
    "Disk",
    "Limits",
    "QuotaDefaults",
    "QuotaSettings",
    "RateWindow",
    "limits",
    "quota_problem",
    "reserve",
    "verdict",
]
