"""The event bus and a line's alert board, with a recorder in place of the store worker."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from hotline.station.events import STANDING_ALERTS, AlertBoard, EventBus, UnreadCounts
from hotline.store.errors import StoreFull


class _Events(list[tuple[int | None, str, dict[str, object]]]):
    """The store's event part, recording what it is asked to add."""

    def add(self, line_id: int | None, kind: str, detail: dict[str, object], at: float) -> None:
        self.append((line_id, kind, detail))


class _Store:
    def __init__(self) -> None:
        self.events = _Events()


class _Worker:
    """Runs store calls at once on a recording store (or fails them all with ``error``)."""

    def __init__(self, error: Exception | None = None) -> None:
        self.store = _Store()
        self.error = error

    async def call(self, fn: Callable[[_Store], Any]) -> Any:
        if self.error is not None:
            raise self.error
        return fn(self.store)


def _bus(worker: _Worker) -> tuple[EventBus, list[Coroutine[Any, Any, None]]]:
    spawned: list[Coroutine[Any, Any, None]] = []
    return EventBus(worker, spawned.append), spawned  # type: ignore[arg-type]


def _run(spawned: list[Coroutine[Any, Any, None]]) -> None:
    async def all_of() -> None:
        for coro in spawned:
            await coro

    asyncio.run(all_of())


def test_followers_get_every_event_until_they_unfollow() -> None:
    async def scenario() -> None:
        bus, _ = _bus(_Worker())
        assert not bus.has_followers
        first, second = bus.follow(), bus.follow()
        assert bus.has_followers
        bus.publish({"n": 1})
        bus.unfollow(first)
        bus.publish({"n": 2})
        assert [first.get_nowait()] == [{"n": 1}] and first.empty()
        assert [second.get_nowait(), second.get_nowait()] == [{"n": 1}, {"n": 2}]
        bus.unfollow(second)
        assert not bus.has_followers

    asyncio.run(scenario())


def test_record_is_written_in_the_background() -> None:
    worker = _Worker()
    bus, spawned = _bus(worker)
    bus.record(7, "test", {"ok": True})
    assert worker.store.events == []  # nothing until the spawned work runs
    _run(spawned)
    assert worker.store.events == [(7, "test", {"ok": True})]


def test_a_full_store_drops_the_record_and_nothing_fails() -> None:
    worker = _Worker(StoreFull("the disk is full"))
    bus, spawned = _bus(worker)
    bus.record(None, "refused", {})
    _run(spawned)  # raises nothing
    assert worker.store.events == []


def test_alerts_stand_are_published_and_recorded() -> None:
    async def scenario() -> None:
        worker = _Worker()
        bus, spawned = _bus(worker)
        board = AlertBoard(bus, lambda: "bravo", lambda: 3)
        follower = bus.follow()
        board.alert("line-down", "no session")
        board.alert("line-up", "session via x", active=False)
        assert [a["kind"] for a in board.standing] == ["line-down"]
        shown = [follower.get_nowait()["alert"], follower.get_nowait()["alert"]]
        assert [(a["peer"], a["kind"], a["detail"]) for a in shown] == [  # type: ignore[index]
            ("bravo", "line-down", "no session"),
            ("bravo", "line-up", "session via x"),
        ]
        for coro in spawned:
            await coro
        assert worker.store.events == [
            (3, "line-down", {"detail": "no session"}),
            (3, "line-up", {"detail": "session via x"}),
        ]

    asyncio.run(scenario())


def test_standing_alerts_keep_the_newest() -> None:
    bus, spawned = _bus(_Worker())
    board = AlertBoard(bus, lambda: "bravo", lambda: 3)
    for n in range(STANDING_ALERTS + 5):
        board.alert("gap", f"gap {n}")
    assert len(board.standing) == STANDING_ALERTS
    assert board.standing[0]["detail"] == "gap 5"
    assert board.standing[-1]["detail"] == f"gap {STANDING_ALERTS + 4}"
    _run(spawned)


def test_clearing_alerts_by_kind_and_all() -> None:
    worker = _Worker()
    bus, spawned = _bus(worker)
    board = AlertBoard(bus, lambda: "bravo", lambda: 3)
    board.alert("key-changed", "a")
    board.alert("gap", "b")
    board.alert("key-changed", "c")
    assert board.clear_alerts(("key-changed",)) == 2
    assert [a["detail"] for a in board.standing] == ["b"]
    assert board.clear_alerts(("key-changed",)) == 0
    assert board.clear_alerts() == 1
    assert board.standing == []
    _run(spawned)
    cleared = [event for event in worker.store.events if event[1] == "alerts-cleared"]
    assert cleared == [
        (3, "alerts-cleared", {"count": 2, "kinds": ["key-changed"]}),
        (3, "alerts-cleared", {"count": 1, "kinds": []}),
    ]


def test_unread_counts_are_kept_until_a_change_and_a_late_count_is_not_kept() -> None:
    unread = UnreadCounts()
    assert unread.stale([1, 2]) == {1: 0, 2: 0}  # nothing counted yet
    unread.counted(1, 0, {0: 1, 3: 2})
    unread.counted(2, 0, {})
    assert unread.stale([1, 2]) == {}
    assert unread.of(1) == {0: 1, 3: 2}
    # an entry arrives on line 1: counted again, and a count begun before the change is not kept
    unread.changed(1)
    assert unread.of(1) == {}
    assert unread.stale([1, 2]) == {1: 1}
    unread.counted(1, 0, {3: 2})  # begun at generation 0: overtaken
    assert unread.stale([1]) == {1: 1}
    unread.counted(1, 1, {3: 3})
    assert unread.of(1) == {3: 3} and unread.stale([1, 2]) == {}
