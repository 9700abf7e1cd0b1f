"""What the station tells its operators as it happens: the follower bus, the event log, standing alerts.

:class:`EventBus` hands every event (a message received, an acknowledgement, an alert) to each
``inbox --follow`` and writes what belongs in the log to the store in the background. A full store
must not stop a line, so a record that cannot be written is logged and dropped.

:class:`AlertBoard` is one line's list of standing alerts: what ``status`` shows until the condition
clears or the operator clears it (``alerts.clear``). Every alert also goes to the followers and the
log through the bus.

:class:`UnreadCounts` keeps each line's count of received entries no operator has acknowledged, for
``status``.

None of them knows what a line is: they take the line's name and store id as plain values.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from hotline.station.alertkinds import AlertKind
from hotline.station.worker import StoreWorker
from hotline.store.errors import StoreError

log = logging.getLogger("hotline.station")
line_log = logging.getLogger("hotline.line")

#: Standing alerts kept per line (the oldest go first); the log keeps every one.
STANDING_ALERTS = 20

Event = dict[str, object]
#: Runs a coroutine as a child of the station's task group.
Spawn = Callable[[Coroutine[Any, Any, None]], None]


class EventBus:
    """Followers of the station's events and the background event log. Event loop only."""

    def __init__(self, worker: StoreWorker, spawn: Spawn) -> None:
        self._worker = worker
        self._spawn = spawn
        self._followers: set[asyncio.Queue[Event]] = set()
        #: Each line's unacknowledged received entries (``status``).
        self.unread = UnreadCounts()

    @property
    def has_followers(self) -> bool:
        """Someone follows: worth describing an event for."""
        return bool(self._followers)

    def follow(self) -> asyncio.Queue[Event]:
        """A queue that receives every event published from now until :meth:`unfollow`."""
        queue: asyncio.Queue[Event] = asyncio.Queue()
        self._followers.add(queue)
        return queue

    def unfollow(self, queue: asyncio.Queue[Event]) -> None:
        """Stop handing events to ``queue``."""
        self._followers.discard(queue)

    def publish(self, event: Event) -> None:
        """Tell every ``inbox --follow`` about ``event``."""
        for queue in self._followers:
            queue.put_nowait(event)

    def record(self, line_id: int | None, kind: str, detail: dict[str, object]) -> None:
        """Store an event for the log in the background (a full store must not stop the line)."""

        async def write() -> None:
            try:
                await self._worker.call(lambda store: store.events.add(line_id, kind, detail, time.time()))
            except StoreError as exc:
                log.error("could not record an event", extra={"kind": kind, "error": exc.reason})

        self._spawn(write())


class UnreadCounts:
    """Each line's received entries not yet acknowledged, by precedence. Event loop only.

    ``status`` asks every second; counting in the store each time would cost a scan of every line's
    inbound history. A count is kept until something changes it (an entry stored, an acknowledgement)
    and counted again on the next ``status``. A change while a count runs in the store's thread
    bumps the line's generation, so the late count is not kept.
    """

    def __init__(self) -> None:
        self._counts: dict[int, dict[int, int]] = {}
        self._generation: dict[int, int] = {}

    def changed(self, line_id: int) -> None:
        """Entries of ``line_id`` were received or acknowledged: count again on the next ask."""
        self._counts.pop(line_id, None)
        self._generation[line_id] = self._generation.get(line_id, 0) + 1

    def stale(self, line_ids: list[int]) -> dict[int, int]:
        """The lines among ``line_ids`` to count again, with their generation now."""
        return {i: self._generation.get(i, 0) for i in line_ids if i not in self._counts}

    def counted(self, line_id: int, generation: int, counts: dict[int, int]) -> None:
        """A count of ``line_id`` begun at ``generation`` finished; kept unless a change overtook it."""
        if self._generation.get(line_id, 0) == generation:
            self._counts[line_id] = counts

    def of(self, line_id: int) -> dict[int, int]:
        """The last count of ``line_id`` by precedence (empty when none was kept)."""
        return self._counts.get(line_id, {})


class AlertBoard:
    """One line's standing alerts. Event loop only; ``standing`` is the list ``status`` shows."""

    # one per line: slots keep a hub's memory per line down
    __slots__ = ("_bus", "_line_id", "_peer", "standing")

    def __init__(self, bus: EventBus, peer: Callable[[], str], line_id: Callable[[], int]) -> None:
        self._bus = bus
        self._peer = peer
        self._line_id = line_id
        self.standing: list[dict[str, object]] = []

    def alert(self, kind: AlertKind, detail: str, *, active: bool = True, logged: str | None = None) -> None:
        """Raise an alert: logged, stored, shown by ``status``, ``inbox --follow`` and ``log``.

        ``active=False`` only tells and records it (``line-up``): it does not stand. ``logged``
        replaces ``detail`` in the log when the detail names a document or a file: the operator sees
        those in the station, never in the log.
        """
        peer, name = self._peer(), str(kind)  # the plain value, wherever it goes
        alert: dict[str, object] = {"at": time.time(), "peer": peer, "kind": name, "detail": detail}
        if active:
            self.standing = [*self.standing[-(STANDING_ALERTS - 1) :], alert]
            line_log.warning(detail if logged is None else logged, extra={"peer": peer, "alert": name})
        self._bus.publish({"alert": alert})
        self._bus.record(self._line_id(), name, {"detail": detail})

    def clear_alerts(self, kinds: tuple[str, ...] | None = None) -> int:
        """Stop showing the standing alerts (of ``kinds``); how many went. The log keeps them."""
        kept = [a for a in self.standing if kinds is not None and a["kind"] not in kinds]
        cleared = len(self.standing) - len(kept)
        if cleared:
            self.standing = kept
            self._bus.record(
                self._line_id(), "alerts-cleared", {"count": cleared, "kinds": list(kinds or ())}
            )
        return cleared

    def drop(self, kinds: tuple[str, ...]) -> None:
        """Quietly stop showing the alerts of ``kinds``: their condition is over (nothing is recorded)."""
        self.standing = [a for a in self.standing if a["kind"] not in kinds]


__all__ = ["STANDING_ALERTS", "AlertBoard", "EventBus", "Spawn", "UnreadCounts"]
