"""What the console shows, derived from the station's answers: pure state, no Textual, no sockets.

The widgets are thin: they ask this module which lamp a line has, in which order the lines stand, what
the alarm banner says, which FLASH message holds the screen and how a transcript entry reads. Everything
here takes the result dicts of docs/control.md as they come (read with ``.get``, because a view should
still show what it can when a field is missing) and the wall-clock time as an argument, so it is tested
without a daemon or a clock (tests/unit/console/test_model.py).

Rules we keep:

* The daemon is the truth. We keep only what it cannot tell us again: a short RTT history per line for
  the sparkline, and when this console's operator last re-verified a line after a key change (the
  daemon clears a ``key-changed`` alert when the safety number is confirmed again; remembering the
  moment here unblocks the line at once, before the next ``status``; see
  :meth:`StationView.confirm_key`).
* Unread means "received and not acknowledged". The station counts them per line (``unread`` in
  ``status``); the messages themselves (for the FLASH screen and the ``a`` key) come from the follow
  stream, which replays the unacknowledged ones when it starts, and its ``acked`` events clear one for
  every console watching, whichever operator acknowledged it.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hotline.console.carrier import brief as carrier_brief

__all__ = [
    "ALARM_KINDS",
    "PRECEDENCES",
    "Alarm",
    "Lamp",
    "LineRow",
    "StationView",
    "TranscriptItem",
    "ago",
    "clock",
    "lamp_of",
    "message_mark",
    "next_precedence",
    "sparkline",
    "transcript",
]

Result = Mapping[str, Any]

#: Precedences, most urgent first (docs/control.md ``send``).
PRECEDENCES = ("flash", "immediate", "priority", "routine")

#: Colours as the CLI uses them (hotline.cli.render), so both interfaces speak alike.
PRECEDENCE_STYLE = {
    "flash": "bold white on red",
    "immediate": "bold red",
    "priority": "yellow",
    "routine": "",
}

#: Alert kinds that mean something is wrong with a line (``line-up`` is good news, not an alarm).
ALARM_KINDS = frozenset(
    {
        "line-down",
        "test-missed",
        "test-failed",
        "chain-mismatch",
        "gap",
        "key-changed",
        "refused",
        "sas-mismatch",
        "protocol",
        "store-error",
        "internal",
        # the two ends' carrier settings differ: no session can run until one end changes
        "carrier",
        # the same for the line profiles
        "profile-mismatch",
        "call-bad-keys",
        "document-failed",
        "document-refused",
        # a quota paused the line, here or at the peer: entries wait
        "quota",
        "peer-paused",
    }
)

#: A line that is up but whose round trip takes longer than this is degraded (milliseconds).
DEGRADED_RTT_MS = 1500.0
#: How many RTT samples the sparkline keeps (one per status poll).
RTT_HISTORY = 30

_SPARKS = "▁▂▃▄▅▆▇█"
_NONE = "—"


class Lamp(enum.Enum):
    """A line's status lamp; the order of the members is the board's order (alarms first)."""

    #: The station refused a card for this peer with other keys: someone may be impersonating it.
    KEY_CHANGED = "key changed"
    #: No session, or a standing line-down alert.
    DOWN = "down"
    #: Up, but a test failed or was missed, a chain or protocol alert stands, or the RTT is high.
    DEGRADED = "degraded"
    #: The safety number was never confirmed: the line carries nothing.
    UNVERIFIED = "unverified"
    #: Verified, but no line key has been carried yet.
    NO_KEY = "no key"
    #: A session is being set up.
    CONNECTING = "connecting"
    #: A session is up and nothing is wrong.
    UP = "up"
    #: The daemon is not running (the answer came from an offline request).
    STOPPED = "stopped"

    @property
    def rank(self) -> int:
        """Sort key: smaller is more alarming."""
        return list(Lamp).index(self)

    @property
    def alarming(self) -> bool:
        """Whether this lamp alone puts the line on the alarm banner."""
        return self in (Lamp.KEY_CHANGED, Lamp.DOWN, Lamp.DEGRADED)

    @property
    def style(self) -> str:
        """The rich style of the lamp and its label."""
        return _LAMP_STYLE[self]


_LAMP_STYLE = {
    Lamp.KEY_CHANGED: "bold white on magenta",
    Lamp.DOWN: "bold white on red",
    Lamp.DEGRADED: "bold black on yellow",
    Lamp.UNVERIFIED: "magenta",
    Lamp.NO_KEY: "yellow",
    Lamp.CONNECTING: "yellow",
    Lamp.UP: "bold green",
    Lamp.STOPPED: "dim",
}


def clock(at: Any) -> str:
    """A Unix time as local ``HH:MM:SS`` (the console's times are today's, mostly)."""
    if not isinstance(at, int | float):
        return _NONE
    return datetime.fromtimestamp(at).strftime("%H:%M:%S")


def ago(at: Any, now: float) -> str:
    """How long before ``now`` a Unix time was, coarsely: ``42s``, ``5m``, ``3h10m``, ``2d4h``."""
    if not isinstance(at, int | float):
        return _NONE
    s = max(0, int(now - at))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600}h"


def sparkline(values: Sequence[float | None], width: int = 8) -> str:
    """The last ``width`` values as block characters scaled between their min and max; gaps as spaces."""
    tail = list(values)[-width:]
    known = [v for v in tail if v is not None]
    if not known:
        return " " * width
    low, high = min(known), max(known)
    span = high - low
    out = []
    for v in tail:
        if v is None:
            out.append(" ")
        elif span <= 0:
            out.append(_SPARKS[0])
        else:
            out.append(_SPARKS[min(len(_SPARKS) - 1, int((v - low) / span * len(_SPARKS)))])
    return "".join(out).rjust(width)


def next_precedence(current: str) -> str:
    """The precedence after ``current`` in the compose selector's cycle (routine wraps to flash)."""
    order = ("routine", "priority", "immediate", "flash")
    try:
        return order[(order.index(current) + 1) % len(order)]
    except ValueError:
        return "routine"


def _standing(line: Result) -> list[Result]:
    return [a for a in line.get("alerts") or [] if isinstance(a, Mapping)]


def lamp_of(line: Result, key_confirmed_at: float | None = None) -> Lamp:
    """The lamp of one ``line status``.

    Args:
        line: the line as ``status`` gives it.
        key_confirmed_at: when an operator of this console last confirmed the safety number after a
            key change; ``key-changed`` alerts older than that no longer block the line.
    """
    alerts = _standing(line)
    for alert in alerts:
        at = alert.get("at")
        if alert.get("kind") == "key-changed" and (
            key_confirmed_at is None or not isinstance(at, int | float) or at > key_confirmed_at
        ):
            return Lamp.KEY_CHANGED
    state = line.get("state")
    if state == "stopped":
        return Lamp.STOPPED
    if state == "unverified":
        return Lamp.UNVERIFIED
    if state == "no-key":
        return Lamp.NO_KEY
    if state == "down":
        return Lamp.DOWN
    if state == "connecting":
        return Lamp.CONNECTING
    test = line.get("last_test")
    rtt = line.get("rtt_ms")
    troubled = any(a.get("kind") in ALARM_KINDS - {"key-changed", "line-down"} for a in alerts)
    if (
        troubled
        or (isinstance(test, Mapping) and test.get("ok") is False)
        or (isinstance(rtt, int | float) and rtt > DEGRADED_RTT_MS)
    ):
        return Lamp.DEGRADED
    if state == "up":
        return Lamp.UP
    return Lamp.DOWN  # a state we do not know: assume the worst, the operator will look


@dataclass(frozen=True, slots=True)
class LineRow:
    """One row of the line board."""

    #: The line's name.
    peer: str
    #: Its lamp.
    lamp: Lamp
    #: When the line entered its current state (Unix time) or None.
    since: float | None
    #: The latest round-trip time in milliseconds, or None when there is no session.
    rtt_ms: float | None
    #: The RTT history as a sparkline.
    spark: str
    #: The last line test: ``None`` when never run, else (ok, at, detail).
    last_test: tuple[bool, float | None, str] | None
    #: Messages waiting to go (queued plus in flight).
    queued: int
    #: Received messages nobody has acknowledged yet.
    unread: int
    #: Unread FLASH messages among them.
    unread_flash: int
    #: A call on the line: its state and direction (e.g. ``("ringing", "in")``), or None.
    call: tuple[str, str] | None
    #: Its carrier as the board shows it (text, style), or None when the line runs none.
    carrier: tuple[str, str] | None = None
    #: Its profile (``standard`` when the station does not say: it predates profiles).
    profile: str = "standard"


@dataclass(frozen=True, slots=True)
class Alarm:
    """One entry of the alarm banner."""

    #: The line it concerns.
    peer: str
    #: A short label in capitals, e.g. ``LINE DOWN``.
    label: str
    #: What happened, as the station worded it (or our own words for lamp-only alarms).
    detail: str
    #: When (Unix time), if known.
    at: float | None


_ALERT_LABEL = {
    "line-down": "LINE DOWN",
    "test-missed": "LINE TEST MISSED",
    "test-failed": "LINE TEST FAILED",
    "chain-mismatch": "CHAIN MISMATCH",
    "gap": "GAP IN TRANSCRIPT",
    "key-changed": "KEY CHANGED",
    "refused": "REFUSED",
    "sas-mismatch": "CALL SAS MISMATCH",
    "protocol": "PROTOCOL ERROR",
    "store-error": "STORE ERROR",
    "internal": "INTERNAL ERROR",
    "carrier": "CARRIER MISMATCH",
    "profile-mismatch": "PROFILE MISMATCH",
    "call-bad-keys": "CALL KEYS BAD",
    "document-failed": "DOCUMENT FAILED",
    "document-refused": "DOCUMENT REFUSED",
    "quota": "LINE PAUSED (QUOTA)",
    "peer-paused": "PEER PAUSED THE LINE",
}


@dataclass
class StationView:
    """The console's picture of one station. Not thread-safe; the app updates it on its event loop."""

    #: The ``station`` object of the last status (name, fingerprint, …).
    station: dict[str, Any] = field(default_factory=dict)
    #: Each line's last ``line status``, by peer.
    lines: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Each line's recent RTTs (None where the line had no session), oldest first.
    rtt: dict[str, deque[float | None]] = field(default_factory=dict)
    #: Received, unacknowledged text messages by id.
    unacked: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: When this console last re-verified each line (see :func:`lamp_of`).
    key_confirmed_at: dict[str, float] = field(default_factory=dict)

    def apply_status(self, status: Result) -> None:
        """Take a ``status`` result: lines replace the old ones and each adds one RTT sample."""
        self.station = dict(status.get("station") or {})
        fresh: dict[str, dict[str, Any]] = {}
        for line in status.get("lines") or []:
            if not isinstance(line, Mapping) or not isinstance(line.get("peer"), str):
                continue
            peer = line["peer"]
            fresh[peer] = dict(line)
            history = self.rtt.setdefault(peer, deque(maxlen=RTT_HISTORY))
            rtt = line.get("rtt_ms")
            history.append(float(rtt) if isinstance(rtt, int | float) else None)
        for gone in set(self.rtt) - set(fresh):
            del self.rtt[gone]
        self.lines = fresh

    def apply_unacked(self, messages: Iterable[Result]) -> list[dict[str, Any]]:
        """Take the full list of unacknowledged received messages; returns the ones new to us."""
        fresh = {
            str(m["id"]): dict(m)
            for m in messages
            if m.get("id") is not None and m.get("direction", "in") == "in" and m.get("state") != "acked"
        }
        new = [m for mid, m in fresh.items() if mid not in self.unacked]
        self.unacked = fresh
        return new

    def apply_message(self, message: Result) -> bool:
        """Take one message from the follow stream; returns whether it is an unread one new to us."""
        mid = message.get("id")
        kind = message.get("kind", "text")
        if mid is None or message.get("direction", "in") != "in" or kind not in ("text", "doc"):
            return False
        if message.get("state") == "acked":
            self.unacked.pop(str(mid), None)
            return False
        new = str(mid) not in self.unacked
        self.unacked[str(mid)] = dict(message)
        return new

    def acked(self, message_id: str) -> None:
        """Forget an unread message once it is acknowledged (here, or an ``acked`` event says so)."""
        self.unacked.pop(message_id, None)

    def confirm_key(self, peer: str, now: float) -> None:
        """Record that the operator confirmed ``peer``'s safety number at ``now``.

        The daemon drops the ``key-changed`` alert when the number is confirmed (``line.verify``
        with ``confirm``); this unblocks the line in this console at once, before the next poll.
        """
        self.key_confirmed_at[peer] = now

    def lamp(self, peer: str) -> Lamp:
        """The lamp of the line to ``peer`` (DOWN if we know nothing of it)."""
        line = self.lines.get(peer)
        if line is None:
            return Lamp.DOWN
        return lamp_of(line, self.key_confirmed_at.get(peer))

    def unread(self, peer: str) -> list[dict[str, Any]]:
        """Unread messages on the line to ``peer``, most urgent first, then oldest first."""
        mine = [m for m in self.unacked.values() if m.get("peer") == peer]
        return sorted(mine, key=_urgency)

    def pending_flash(self) -> dict[str, Any] | None:
        """The FLASH message that holds the screen: the oldest unacknowledged one, if any."""
        flashes = [m for m in self.unacked.values() if m.get("precedence") == "flash"]
        if not flashes:
            return None
        return min(flashes, key=lambda m: (_num(m.get("created_at")), str(m.get("id"))))

    def rows(self) -> list[LineRow]:
        """The board: every line, alarms first, then by unread FLASH, unread, and name."""
        rows = []
        for peer, line in self.lines.items():
            unread = self.unread(peer)
            test = line.get("last_test")
            last_test = None
            if isinstance(test, Mapping):
                at = test.get("at")
                last_test = (
                    bool(test.get("ok")),
                    float(at) if isinstance(at, int | float) else None,
                    str(test.get("detail") or ""),
                )
            call = line.get("call")
            rtt = line.get("rtt_ms")
            since = line.get("since")
            # the station counts them (``unread``, ``unread_flash``); our own list is for older ones
            counted, flash = line.get("unread"), line.get("unread_flash")
            rows.append(
                LineRow(
                    peer=peer,
                    lamp=self.lamp(peer),
                    since=float(since) if isinstance(since, int | float) else None,
                    rtt_ms=float(rtt) if isinstance(rtt, int | float) else None,
                    spark=sparkline(list(self.rtt.get(peer, ()))),
                    last_test=last_test,
                    queued=int(line.get("queued") or 0) + int(line.get("in_flight") or 0),
                    unread=counted if isinstance(counted, int) else len(unread),
                    unread_flash=flash
                    if isinstance(flash, int)
                    else sum(1 for m in unread if m.get("precedence") == "flash"),
                    call=(str(call.get("state")), str(call.get("direction")))
                    if isinstance(call, Mapping)
                    else None,
                    carrier=carrier_brief(line.get("carrier")),
                    profile=str(line.get("profile") or "standard"),
                )
            )
        rows.sort(key=lambda r: (r.lamp.rank, -r.unread_flash, -r.unread, r.peer))
        return rows

    def alarms(self) -> list[Alarm]:
        """What the alarm banner shows: a line per alarming line, newest alert first within it."""
        out: list[Alarm] = []
        for peer in sorted(self.lines):
            line = self.lines[peer]
            lamp = self.lamp(peer)
            confirmed = self.key_confirmed_at.get(peer)
            shown: set[str] = set()
            for alert in sorted(_standing(line), key=lambda a: -_num(a.get("at"))):
                kind = str(alert.get("kind"))
                if kind not in ALARM_KINDS or kind in shown:
                    continue
                at = alert.get("at")
                if kind == "key-changed" and lamp is not Lamp.KEY_CHANGED:
                    continue
                if kind == "line-down" and lamp not in (Lamp.DOWN, Lamp.CONNECTING):
                    continue
                if kind in ("test-missed", "test-failed") and confirmed is not None and _num(at) < confirmed:
                    continue
                shown.add(kind)
                out.append(
                    Alarm(
                        peer,
                        _ALERT_LABEL.get(kind, kind.upper()),
                        str(alert.get("detail") or ""),
                        float(at) if isinstance(at, int | float) else None,
                    )
                )
            if lamp is Lamp.DOWN and "line-down" not in shown:
                since = line.get("since")
                out.append(
                    Alarm(
                        peer,
                        "LINE DOWN",
                        f"no session with {peer}",
                        float(since) if isinstance(since, int | float) else None,
                    )
                )
        return out


def _num(value: Any) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def _urgency(message: Result) -> tuple[int, float, str]:
    precedence = str(message.get("precedence"))
    rank = PRECEDENCES.index(precedence) if precedence in PRECEDENCES else len(PRECEDENCES)
    return (rank, _num(message.get("created_at")), str(message.get("id")))


def message_mark(message: Result) -> tuple[str, str]:
    """The receipt mark of a message and its style: what the operator needs to know of its fate."""
    state = message.get("state")
    if message.get("direction") == "out":
        return {
            "queued": ("○ queued", "yellow"),
            "sent": ("◔ sent", "yellow"),
            "delivered": ("✓ delivered", "green"),
            "acked": ("✓✓ acknowledged", "bold green"),
        }.get(str(state), (str(state), ""))
    if state == "acked":
        return ("✓ acknowledged", "green")
    return ("● unread", "bold cyan")


@dataclass(frozen=True, slots=True)
class TranscriptItem:
    """One entry of a line's transcript, in time order."""

    #: ``message``, ``document``, ``alarm``, ``event`` (line up, a passed test: context, not alarms).
    kind: str
    #: When (Unix time).
    at: float
    #: The message (kind ``message``; for ``document``, its DOC entry when known), else None.
    message: dict[str, Any] | None = None
    #: A label for alarms and events, e.g. ``CHAIN MISMATCH``.
    label: str = ""
    #: The station's words.
    detail: str = ""
    #: The document as the station describes it (kind ``document``), else None.
    document: dict[str, Any] | None = None


def transcript(entries: Iterable[Result]) -> list[TranscriptItem]:
    """A ``log`` result's entries as the transcript shows them.

    Only text messages appear as messages (acks, tests and their replies are receipts and marks, not
    conversation); alerts appear as alarms in place, so a gap or chain mismatch stands where it happened.
    """
    items: list[TranscriptItem] = []
    for entry in entries:
        at = _num(entry.get("at"))
        kind = entry.get("kind")
        message = entry.get("message")
        if kind == "message" and isinstance(message, Mapping):
            if message.get("kind", "text") == "text":
                items.append(TranscriptItem("message", at, message=dict(message)))
        elif kind == "alert":
            event = str(entry.get("event") or "")
            detail = str(entry.get("detail") or "")
            if event in ALARM_KINDS:
                items.append(
                    TranscriptItem("alarm", at, label=_ALERT_LABEL.get(event, event.upper()), detail=detail)
                )
            else:
                items.append(TranscriptItem("event", at, label=event.replace("-", " "), detail=detail))
        elif kind == "test":
            ok = bool(entry.get("ok"))
            rtt = entry.get("rtt_ms")
            timing = f" {rtt:.1f} ms" if isinstance(rtt, int | float) else ""
            detail = str(entry.get("detail") or "")
            if ok:
                items.append(TranscriptItem("event", at, label=f"line test ok{timing}", detail=detail))
            else:
                items.append(TranscriptItem("alarm", at, label="LINE TEST FAILED", detail=detail))
    items.sort(key=lambda item: item.at)
    return items
