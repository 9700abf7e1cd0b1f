"""The store's one thread, with group commit.

Every store call of the daemon goes through :meth:`StoreWorker.call`. The worker thread takes all
calls waiting at that moment and runs them in one transaction, each in its own savepoint (so one
failing call does not undo the others), then commits once: under load, hundreds of messages share
one fsync, and a lone message pays for exactly one. Results go back to the event loop only after the
commit, so "stored" always means "on disk".
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from hotline.store.db import Store
from hotline.store.errors import StoreError

T = TypeVar("T")

#: The most calls that share one transaction.
MAX_BATCH = 1024
#: How long a deferred call waits for other work to ride along with, at most (seconds).
DEFER_FOR = 0.05
#: Checkpoint the write-ahead log after this many commits (about what SQLite's own 1000-page rule
#: gives for single messages), or once the store has been idle this long since the last commit.
CHECKPOINT_EVERY = 100
IDLE_CHECKPOINT_AFTER = 0.2

_Job = tuple[Callable[[Store], Any], asyncio.Future[Any], asyncio.AbstractEventLoop]


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


#: Wakes the thread to look at deferred work; and what a wait that timed out gives (never run).
_NUDGE: _Job = (lambda store: None, None, None)  # type: ignore[assignment]
_TICK: _Job = (lambda store: None, None, None)  # type: ignore[assignment]


def _settle_all(settled: list[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
    for future, result, error in settled:
        _settle(future, result, error)


class _BatchLost(Exception):
    def __init__(self, index: int) -> None:
        super().__init__(index)
        self.index = index


class StoreWorker:
    """Runs store calls on one thread. Start with :meth:`start`, end with :meth:`stop`."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._deferred: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="hotline-store", daemon=True)
        #: Transactions committed, and calls they carried (for benchmarks and tests).
        self.commits = 0
        self.calls = 0
        self.checkpoints = 0
        self._since_checkpoint = 0
        self._deferred_since: float | None = None
        self._deferred_lock = threading.Lock()

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    async def call(self, fn: Callable[[Store], T]) -> T:
        """Run ``fn(store)`` inside a transaction; return its result once committed.

        Raises:
            StoreError: from ``fn``, or the commit failed (e.g. :class:`~hotline.store.errors.StoreFull`).
        """
        return await self.submit(fn)

    def submit(self, fn: Callable[[Store], T]) -> asyncio.Future[T]:
        """:meth:`call` without waiting: the call is queued before this returns (no loop turn)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((fn, future, loop))
        return future

    async def call_deferred(self, fn: Callable[[Store], T]) -> T:
        """Like :meth:`call`, for work that need not be on disk at once (bookkeeping such as marking
        receipted messages delivered). It waits up to :data:`DEFER_FOR` seconds, then rides along with
        the next transaction (or runs alone if none comes), so it never stands in front of urgent work
        and many of them share one commit."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        with self._deferred_lock:  # the thread takes deferred work under the same lock
            first = self._deferred_since is None
            if first:
                self._deferred_since = time.monotonic()
            self._deferred.put((fn, future, loop))
        if first:
            self._jobs.put(_NUDGE)  # the thread may be asleep with no deadline: give it one
        return await future

    async def stop(self) -> None:
        """Finish what is queued, then end the thread and close the store."""
        self._jobs.put(None)
        await asyncio.to_thread(self._thread.join)
        self._store.close()

    def _checkpoint(self) -> None:
        # A checkpoint copies the log into the database file and fsyncs it: milliseconds. SQLite
        # would do it inside whichever commit crossed 1000 pages, i.e. in one message's way; we do it
        # right after a commit (while that message travels) or when the store is idle.
        self._since_checkpoint = 0
        with contextlib.suppress(StoreError):
            self._store.checkpoint()
            self.checkpoints += 1

    def _deferred_due_in(self) -> float | None:
        since = self._deferred_since
        return None if since is None else max(0.0, since + DEFER_FOR - time.monotonic())

    def _wait_for_job(self) -> _Job | None:
        """The next job; ``_TICK`` when deferred work fell due or the store went idle first."""
        due = self._deferred_due_in()
        idle = IDLE_CHECKPOINT_AFTER if self._since_checkpoint else None
        timeout = due if idle is None else idle if due is None else min(due, idle)
        try:
            return self._jobs.get(timeout=timeout)
        except queue.Empty:
            return _TICK

    def _run(self) -> None:
        while True:
            job = self._wait_for_job()
            stop = job is None
            batch = [] if job is None or job is _NUDGE or job is _TICK else [job]
            while not stop and len(batch) < MAX_BATCH:
                try:
                    more = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                elif more is not _NUDGE:
                    batch.append(more)
            due = self._deferred_due_in()
            if stop or (due is not None and due <= 0):
                batch.extend(self._take_deferred())
            if batch:
                self._run_batch(batch)
                self._since_checkpoint += 1
                if self._since_checkpoint >= CHECKPOINT_EVERY:
                    self._checkpoint()
            elif job is _TICK and self._since_checkpoint and self._deferred_since is None:
                self._checkpoint()  # idle: a good moment
            if stop:
                return

    def _take_deferred(self) -> list[_Job]:
        taken: list[_Job] = []
        with self._deferred_lock:
            self._deferred_since = None
            while True:
                try:
                    taken.append(self._deferred.get_nowait())
                except queue.Empty:
                    return taken

    def _run_batch(self, batch: list[_Job]) -> None:
        outcomes: list[tuple[Any, BaseException | None]] = [(None, None)] * len(batch)
        pending = list(range(len(batch)))
        while pending:
            done: dict[int, tuple[Any, BaseException | None]] = {}
            try:
                with self._store.transaction():
                    for index in pending:
                        fn = batch[index][0]
                        try:
                            with self._store.savepoint():
                                done[index] = (fn(self._store), None)
                        except Exception as exc:
                            done[index] = (None, exc)
                            if not self._store.in_transaction:
                                # SQLite rolled the whole transaction back (a full disk does that)
                                raise _BatchLost(index) from exc
            except _BatchLost as lost:
                # that call failed for good; the others run again in a fresh transaction (store
                # calls only read and write the store, so running one again is safe)
                outcomes[lost.index] = done[lost.index]
                pending.remove(lost.index)
                continue
            except StoreError as exc:
                # the commit itself failed: nothing of this batch is stored
                for index in pending:
                    outcomes[index] = (None, exc)
                break
            for index in pending:
                outcomes[index] = done[index]
            break
        self.commits += 1
        self.calls += len(batch)
        # one wake-up per event loop per batch, not one per call: a thread hand-off costs a pipe write
        by_loop: dict[
            asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any, BaseException | None]]
        ] = {}
        for (_, future, loop), (result, error) in zip(batch, outcomes, strict=True):
            by_loop.setdefault(loop, []).append((future, result, error))
        for loop, settled in by_loop.items():
            # the loop may have closed while we worked: then nobody is waiting any more
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle_all, settled)


__all__ = ["StoreWorker"]
