"""The store worker (hotline.station.worker): group commit over a real Store.

To put calls in one batch deterministically, a :class:`Gate` call holds the worker thread while the
others queue up behind it; releasing it lets the worker take them all at once.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hotline.station.worker import StoreWorker
from hotline.store.db import Store
from hotline.store.errors import StoreError, StoreFull
from tests.unit.store.helpers import KEY, add_line, raw_connection


class Gate:
    """A store call that blocks the worker thread until released."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.released = threading.Event()

    def __call__(self, store: Store) -> str:
        self.entered.set()
        assert self.released.wait(10), "gate never released"
        return "gate"


def queue_call(
    line_id: int, n: int, *, body: bytes | None = None, fail: bool = False
) -> Callable[[Store], int]:
    """A call that queues message ``n`` and returns ``n * 10``, or raises ``ValueError(n)`` after writing."""

    def call(store: Store) -> int:
        store.messages.queue(
            line_id,
            id=n.to_bytes(10, "big"),
            kind=0,
            precedence=3,
            created_ms=n,
            ref=b"",
            body=body if body is not None else f"m{n}".encode(),
            now=0.0,
        )
        if fail:
            raise ValueError(n)
        return n * 10

    return call


def stored_ids(path: Path) -> set[int]:
    """Message numbers committed to the file, read through a separate connection."""
    conn = raw_connection(path)
    try:
        return {int.from_bytes(row[0], "big") for row in conn.execute("SELECT id FROM messages")}
    finally:
        conn.close()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "store.sqlite"


@pytest.fixture
def line_id(path: Path) -> int:
    store = Store.open(path, KEY)
    try:
        return add_line(store).id
    finally:
        store.close()


async def outcome(worker: StoreWorker, fn: Callable[[Store], Any]) -> Any:
    """The call's result, or the exception it raised (so a TaskGroup does not cancel its siblings)."""
    try:
        return await worker.call(fn)
    except Exception as exc:
        return exc


async def _hold(worker: StoreWorker, tg: asyncio.TaskGroup) -> tuple[Gate, asyncio.Task[str]]:
    """Block the worker thread; returns the gate and its call's task."""
    gate = Gate()
    task = tg.create_task(worker.call(gate))
    await asyncio.to_thread(gate.entered.wait, 10)
    return gate, task


async def test_many_concurrent_calls_share_few_commits(path: Path, line_id: int) -> None:
    worker = StoreWorker(Store.open(path, KEY))
    worker.start()
    results = await asyncio.gather(*(worker.call(queue_call(line_id, n)) for n in range(200)))
    await worker.stop()
    assert results == [n * 10 for n in range(200)]
    assert worker.calls == 200
    assert worker.commits < worker.calls
    assert stored_ids(path) == set(range(200))


async def test_calls_queued_behind_a_busy_worker_share_one_commit(path: Path, line_id: int) -> None:
    worker = StoreWorker(Store.open(path, KEY))
    worker.start()
    async with asyncio.TaskGroup() as tg:
        gate, held = await _hold(worker, tg)
        tasks = [tg.create_task(worker.call(queue_call(line_id, n))) for n in range(100)]
        await asyncio.sleep(0)  # let every task enqueue its call
        gate.released.set()
    await worker.stop()
    assert held.result() == "gate"
    assert [t.result() for t in tasks] == [n * 10 for n in range(100)]
    assert (worker.commits, worker.calls) == (2, 101)


async def test_a_lone_call_is_committed_before_it_returns(path: Path, line_id: int) -> None:
    worker = StoreWorker(Store.open(path, KEY))
    worker.start()
    try:
        assert await worker.call(queue_call(line_id, 7)) == 70
        # "stored" means on disk: another connection sees it already
        assert stored_ids(path) == {7}
        assert (worker.commits, worker.calls) == (1, 1)
    finally:
        await worker.stop()


async def test_results_and_exceptions_reach_their_own_callers(path: Path, line_id: int) -> None:
    worker = StoreWorker(Store.open(path, KEY))
    worker.start()
    calls = [queue_call(line_id, n, fail=n % 3 == 0) for n in range(60)]
    outcomes = await asyncio.gather(*(worker.call(c) for c in calls), return_exceptions=True)
    await worker.stop()
    for n, told in enumerate(outcomes):
        if n % 3 == 0:
            assert isinstance(told, ValueError)
            assert told.args == (n,)
        else:
            assert told == n * 10
    assert stored_ids(path) == {n for n in range(60) if n % 3}


async def test_a_failing_call_does_not_undo_the_others_in_its_batch(path: Path, line_id: int) -> None:
    worker = StoreWorker(Store.open(path, KEY))
    worker.start()
    async with asyncio.TaskGroup() as tg:
        gate, _ = await _hold(worker, tg)
        batch = [
            tg.create_task(outcome(worker, queue_call(line_id, 1))),
            tg.create_task(outcome(worker, queue_call(line_id, 2, fail=True))),
            tg.create_task(outcome(worker, queue_call(line_id, 1))),  # duplicate id
            tg.create_task(outcome(worker, queue_call(line_id, 3))),
        ]
        await asyncio.sleep(0)  # let every task enqueue its call
        gate.released.set()
    await worker.stop()
    ok_before, raised, store_error, ok_after = (t.result() for t in batch)
    assert (ok_before, ok_after) == (10, 30)
    assert isinstance(raised, ValueError) and raised.args == (2,)
    assert isinstance(store_error, StoreError)
    assert worker.commits == 2  # all four were in one batch
    assert stored_ids(path) == {1, 3}


async def test_stop_drains_queued_calls(path: Path, line_id: int) -> None:
    worker = StoreWorker(Store.open(path, KEY))
    worker.start()
    results: list[int] = []

    async def one(n: int) -> None:
        results.append(await worker.call(queue_call(line_id, n)))

    async with asyncio.TaskGroup() as tg:
        gate, _ = await _hold(worker, tg)
        for n in range(50):
            tg.create_task(one(n))
        await asyncio.sleep(0)  # every call is queued before stop() queues its end marker
        gate.released.set()
        await worker.stop()
    assert sorted(results) == [n * 10 for n in range(50)]
    assert stored_ids(path) == set(range(50))
    assert not worker._thread.is_alive()


async def test_stop_closes_the_store(path: Path, line_id: int) -> None:
    store = Store.open(path, KEY)
    worker = StoreWorker(store)
    worker.start()
    await worker.stop()
    with pytest.raises(StoreError):
        store.lines.all()


async def test_a_full_store_mid_batch_is_reported_truthfully(path: Path, line_id: int) -> None:
    """SQLite may roll back the whole transaction on SQLITE_FULL (it does here).

    Then every caller must learn the truth: the call that hit the limit gets StoreFull, and each
    other call's reported outcome matches what is on disk (success means stored, failure means not).
    """
    probe = Store.open(path, KEY)
    pages = probe.execute_checked("PRAGMA page_count").fetchone()[0]
    probe.close()
    worker = StoreWorker(Store.open(path, KEY, max_page_count=pages + 4))
    worker.start()

    def fill(store: Store) -> None:
        for n in range(100, 10_000):
            queue_call(line_id, n, body=b"\x00" * 600)(store)

    async with asyncio.TaskGroup() as tg:
        gate, _ = await _hold(worker, tg)
        batch = [
            tg.create_task(outcome(worker, queue_call(line_id, 1))),
            tg.create_task(outcome(worker, fill)),
            tg.create_task(outcome(worker, queue_call(line_id, 2))),
        ]
        await asyncio.sleep(0)  # let every task enqueue its call
        gate.released.set()
    outcomes = [t.result() for t in batch]
    await worker.stop()

    assert isinstance(outcomes[1], StoreFull), repr(outcomes[1])
    on_disk = stored_ids(path)
    for n, told in ((1, outcomes[0]), (2, outcomes[2])):
        assert isinstance(told, int | StoreError), repr(told)
        assert (told == n * 10) == (n in on_disk), f"call {n}: told {told!r}, on disk: {n in on_disk}"
    assert not on_disk & set(range(100, 10_000))
