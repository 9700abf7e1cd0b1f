"""How full each line's carrier was lately, from the snapshots ``status`` takes.

A carrier counts its cells and the lane bytes they carried since the session's first cell
(:class:`~hotline.proto.carrier.CarrierStatus`), so its own ``load`` is an average over the whole
session: after a day of silence, an hour-long document barely moves it. The meter keeps the
snapshots successive ``status`` requests took of each line's carrier and measures the load between
the newest one and one about :data:`WINDOW` seconds older (a console polls every second or so,
which gives the last minute). Without an earlier snapshot of the same session (the first request,
or the first since the session began), the load is the session's average, and ``load_over_s``
says over how long.
"""

from __future__ import annotations

import weakref
from collections import deque
from dataclasses import dataclass

from hotline.proto.carrier import CarrierStatus
from hotline.station.views import CarrierLoad

#: Seconds the recent load is measured over, when snapshots that old are kept.
WINDOW = 60.0
#: Fewest seconds between two snapshots for a load measured between them (50 cells by default):
#: two requests in a row would otherwise measure a handful of cells.
MIN_SPAN = 2.0
#: Most snapshots kept per line (a client polling many times a second must not grow them).
_KEPT = 256


@dataclass(frozen=True, slots=True)
class _Snapshot:
    at: float  # monotonic seconds
    cells: int
    carried: int  # lane bytes in those cells


class CarrierMeter:
    """Snapshots of each line's carrier by line name. Event loop only."""

    def __init__(self) -> None:
        self._kept: dict[str, tuple[object, deque[_Snapshot]]] = {}

    def measure(self, peer: str, session: object, status: CarrierStatus, now: float) -> CarrierLoad | None:
        """Keep ``status`` (of ``session``'s carrier on the line ``peer``, at monotonic ``now``) and
        say how full the cells were since a snapshot about :data:`WINDOW` seconds old; None when
        no snapshot of this session is at least :data:`MIN_SPAN` old (the caller then uses the
        session's average)."""
        snapshot = _Snapshot(now, status.cells, sum(status.sent.values()))
        kept = self._kept.get(peer)
        if kept is None or kept[0] is not session or (kept[1] and kept[1][-1].cells > snapshot.cells):
            kept = (session, deque(maxlen=_KEPT))
            self._kept[peer] = kept
        snapshots = kept[1]
        # keep the newest snapshot at least WINDOW old, and every later one
        while len(snapshots) >= 2 and now - snapshots[1].at >= WINDOW:
            snapshots.popleft()
        base = snapshots[0] if snapshots else None
        snapshots.append(snapshot)
        cells = snapshot.cells - base.cells if base is not None else 0
        if base is None or now - base.at < MIN_SPAN or cells <= 0:
            return None
        return CarrierLoad((snapshot.carried - base.carried) / (cells * status.cell_size), now - base.at)

    def forget(self, peer: str) -> None:
        """Drop the snapshots of ``peer``'s line (its session no longer runs a carrier)."""
        self._kept.pop(peer, None)

    def forget_others(self, peers: set[str]) -> None:
        """Drop the snapshots of lines not in ``peers`` (removed lines)."""
        for peer in set(self._kept) - peers:
            del self._kept[peer]


_METERS: weakref.WeakKeyDictionary[object, CarrierMeter] = weakref.WeakKeyDictionary()


def meter_of(station: object) -> CarrierMeter:
    """The meter of ``station`` (made at its first ``status``; it goes with the station)."""
    meter = _METERS.get(station)
    if meter is None:
        meter = _METERS[station] = CarrierMeter()
    return meter


__all__ = ["MIN_SPAN", "WINDOW", "CarrierMeter", "meter_of"]
