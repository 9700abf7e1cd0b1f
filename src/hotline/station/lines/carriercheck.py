"""Whether both ends of a line run the same carrier, and what to tell the operator when they do not.

Both ends of a carrier line set the same ``carrier``, ``carrier_cell`` and ``carrier_interval_ms``
in their ``[lines.NAME]`` tables (docs/protocol.md §14). Two of the three differences end every
session at once, and the session's reason says which (§14.5, "Mismatch"):
:func:`session_mismatch` reads it. An interval that differs ends nothing (the peer's cells just come
at another rate): :class:`PeerRate` finds it by counting the peer's records against our own.

Each finding names this end's setting, what the peer evidently runs, and which end to change and
how. Both ends come to the same answer, so the two alerts agree: the end that runs without a
carrier turns it on, the end with the smaller cell takes the larger, and the end with the longer
interval takes the shorter. Agreeing upward keeps the line hidden and never makes room for less
than either end expected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hotline.net.tcp import ChannelClosed
from hotline.proto.carriermode import CarrierSetting
from hotline.proto.errors import ErrorCode
from hotline.station.alertkinds import AlertKind
from hotline.station.events import AlertBoard

#: The kind of the line alert a carrier mismatch raises.
CARRIER_ALERT = AlertKind.CARRIER

#: Seconds between two looks at the peer's record count.
RATE_CHECK_EVERY = 1.0
#: Seconds of cells by which the peer's count may trail or lead ours before it counts as a
#: difference at all: a loaded machine (either end) sends late cells in a burst when it catches up,
#: so counts drift apart for as long as a stall lasts, then meet again.
RATE_SLACK = 2.0
#: ... plus this share of the cells sent (clocks and the start of each schedule differ a little).
RATE_SLACK_SHARE = 0.03
#: Looks in a row that must find the difference before it is reported: a stall that makes the
#: counts drift apart ends (a peer stalled this long, plus the slack, would be a false alarm; on a
#: line with the default heartbeat such a peer is close to being declared gone anyway), a different
#: interval does not.
RATE_CONFIRM = 5
#: Seconds of cells a look must cover before it may find the rates equal.
RATE_AGREE_AFTER = 10.0


@dataclass(frozen=True)
class Mismatch:
    """A difference between the carriers of the two ends, as the alert says it."""

    #: What the difference is (one alert per key: a redial that finds it again says nothing new).
    key: tuple[object, ...]
    #: The alert's text.
    detail: str
    #: Whether it ends every session (else the line works, at two rates: the interval).
    fatal: bool = True


def describe(setting: CarrierSetting | None) -> str:
    """A line's carrier as ``station.toml`` spells it."""
    if setting is None:
        return 'carrier = "off"'
    return (
        f'carrier = "steady", carrier_cell = {setting.cell_size}, '
        f"carrier_interval_ms = {interval_ms(setting.interval)}"
    )


def interval_ms(seconds: float) -> int:
    """An interval in whole milliseconds, as ``carrier_interval_ms`` takes it."""
    return round(seconds * 1000)


_CELLS = re.compile(r"the peer's cells are (\d+) bytes and this session's (\d+)")


def session_mismatch(
    ended: ChannelClosed | None, ours: CarrierSetting | None, *, peer: str, us: str
) -> Mismatch | None:
    """The carrier mismatch a session that ended with ``ended`` shows, or None.

    ``ours`` is the carrier the session ran (None: none), ``peer`` our name of the line and ``us``
    this station's name (the peer's name of the line, as it usually is).
    """
    if ended is None or ended.code is not ErrorCode.PROTOCOL_VIOLATION:
        return None
    reason = ended.reason
    theirs = f"[lines.{us}] in {peer}'s station.toml"
    here = f"[lines.{peer}] in this station's station.toml"
    if "the peer does not use carrier mode" in reason and ours is not None:
        return Mismatch(
            ("off-there", ours),
            f"the line to {peer} cannot come up: this station runs it as a carrier ({describe(ours)})"
            f' and {peer} evidently does not (carrier = "off"). Change {peer}: set {describe(ours)}'
            f" under {theirs}, then `hotline quota reload` there.",
        )
    if "the peer uses carrier mode" in reason and ours is None:
        return Mismatch(
            ("off-here",),
            f"the line to {peer} cannot come up: {peer} runs it as a carrier and this station does not"
            f' (carrier = "off"). Change this station: set carrier = "steady" under {here}, with the'
            f" carrier_cell and carrier_interval_ms {peer} uses (1024 and 20 unless it set others),"
            " then `hotline quota reload`.",
        )
    cells = _CELLS.search(reason)
    if cells is not None and "different carrier settings" in reason and ours is not None:
        their_cell, our_cell = int(cells.group(1)), int(cells.group(2))
        if their_cell == our_cell:
            return None
        what = f"the line to {peer} cannot come up: this station's carrier cells are {our_cell} bytes"
        what += f" ({describe(ours)}) and {peer}'s {their_cell} bytes."
        if their_cell < our_cell:
            change = (
                f" Change {peer} to the larger cell: set carrier_cell = {our_cell} under {theirs},"
                " then `hotline quota reload` there."
            )
        else:
            change = (
                f" Change this station to the larger cell: set carrier_cell = {their_cell} under"
                f" {here}, then `hotline quota reload`."
            )
        return Mismatch(("cell", our_cell, their_cell), what + change)
    return None


def interval_mismatch(ours: CarrierSetting, their_ms: int, *, peer: str, us: str) -> Mismatch:
    """The alert for a peer whose cells come every ``their_ms`` milliseconds (measured)."""
    our_ms = interval_ms(ours.interval)
    what = (
        f"the carrier of the line to {peer} runs at two rates: this station sends a cell every"
        f" {our_ms} ms ({describe(ours)}) and {peer}'s cells come about every {their_ms} ms."
    )
    if their_ms > our_ms:
        change = (
            f" Change {peer} to the shorter interval: set carrier_interval_ms = {our_ms} under"
            f" [lines.{us}] in {peer}'s station.toml, then `hotline quota reload` there."
        )
    else:
        change = (
            f" Change this station to the shorter interval: set carrier_interval_ms = {their_ms} under"
            f" [lines.{peer}] in this station's station.toml, then `hotline quota reload`."
        )
    # the key leaves out the measured value, which may differ by a millisecond between sessions
    key = ("interval", our_ms, "slower" if their_ms > our_ms else "faster")
    return Mismatch(key, what + change, fatal=False)


class PeerRate:
    """Whether the peer's cells come at our interval, judged from the records each end has sent.

    In carrier mode every record of a session is a cell and each end's count of cells is a function
    of the time since its cell 0 (a late end catches up at once, §14.4), and the two cell 0s leave
    within a round trip of each other. So, in a session whose ends use one interval, the records
    received track the records sent, whatever the load, but for the cells of a stall that has not
    ended yet; at another interval they drift apart for ever. :meth:`look` is given both counts,
    read at the same moment; it reports a difference only once :data:`RATE_CONFIRM` looks in a row
    find it, and agreement only after :data:`RATE_AGREE_AFTER` seconds of cells. Sans-IO.
    """

    __slots__ = ("_differs", "_interval")

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._differs = 0

    def look(self, sent: int, received: int) -> Rates | None:
        """Judge the counts so far; None while it cannot tell yet."""
        slack = RATE_SLACK / self._interval + RATE_SLACK_SHARE * sent
        if received and abs(received - sent) > slack:
            self._differs += 1
            if self._differs >= RATE_CONFIRM:
                return Rates(same=False, their_ms=interval_ms(self._interval * sent / received))
            return None
        self._differs = 0
        if sent * self._interval >= RATE_AGREE_AFTER:
            return Rates(same=True, their_ms=interval_ms(self._interval))
        return None


@dataclass(frozen=True)
class Rates:
    """What :meth:`PeerRate.look` found."""

    #: The peer's cells come at our interval.
    same: bool
    #: The peer's interval as measured, in milliseconds (ours when ``same``).
    their_ms: int


class CarrierCheck:
    """The difference a line's standing ``carrier`` alert tells of. Event loop only."""

    def __init__(self, alerts: AlertBoard) -> None:
        self._alerts = alerts
        #: The difference last found, while the two ends' carriers differ.
        self.mismatch: Mismatch | None = None

    def differs(self, mismatch: Mismatch) -> None:
        """Raise the ``carrier`` alert, once for each difference found (a redial that finds the same
        says nothing new, even when the operator cleared it)."""
        if self.mismatch is not None and self.mismatch.key == mismatch.key:
            return
        self._alerts.drop((CARRIER_ALERT,))
        self.mismatch = mismatch
        self._alerts.alert(CARRIER_ALERT, mismatch.detail)

    def agree(self, *, fatal: bool) -> None:
        """The ends agree again on what a ``fatal`` difference (no session) or an interval difference
        (``fatal`` false) was about: the alert goes if that is the one standing."""
        if self.mismatch is not None and self.mismatch.fatal == fatal:
            self.mismatch = None
            self._alerts.drop((CARRIER_ALERT,))


__all__ = [
    "CARRIER_ALERT",
    "RATE_CHECK_EVERY",
    "CarrierCheck",
    "Mismatch",
    "PeerRate",
    "Rates",
    "describe",
    "interval_mismatch",
    "interval_ms",
    "session_mismatch",
]
