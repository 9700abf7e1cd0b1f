"""The cell clock: writes a carrier's sealed cells at their due time from a thread of its own.

A carrier's cells must leave on the schedule (docs/protocol.md §14), but an asyncio loop runs one
callback at a time: while it hashes a document, writes the store or delivers a message, a timer due
meanwhile waits, and the cell leaves late. The gaps between cells then tell an observer that the
station is busy. So the loop seals each cell a little ahead of its tick (:data:`LEAD`) and hands
the record to the :class:`Pacer`, whose thread sleeps until the tick and writes it with one
``send`` on a duplicate of the connection's socket. The thread runs no Python but this, so a busy
loop delays a cell only by the interpreter's switch interval (the daemon sets it to 0.5 ms), not by
the callback it happens to be running.

Once a session's cells go through the pacer, everything written on that connection does (a
``Close`` included), in order: the loop never writes the socket itself again. Writes that the
socket does not take at once (the peer reads slowly) stay queued here and are retried every
:data:`RETRY` seconds; :attr:`PacedSocket.backlog` says how much waits, so the driver can end a
session whose peer stopped reading, as it does for its own write buffer.
"""

from __future__ import annotations

import collections
import heapq
import itertools
import os
import socket
import threading
import time

#: Seconds ahead of its tick that the loop seals a cell and hands it to the pacer, as a share of
#: the interval: covers a loop that is busy when the cell should be sealed, at the price of that
#: much more latency for what is offered meanwhile (it waits for the next cell).
LEAD_SHARE = 0.5
#: The lead, at most (seconds): a long interval need not seal its cells long before they leave.
LEAD_MAX = 0.010
#: Seconds between retries of a write the socket did not take whole.
RETRY = 0.005
#: A wake-up also sends what is due this little later (seconds): a hub's lines then share wake-ups
#: instead of costing one each, for a shift of a cell well under the interpreter's own latency.
SLACK = 0.0003


def lead(interval: float) -> float:
    """Seconds ahead of its tick at which a cell of a carrier running at ``interval`` is sealed."""
    return min(LEAD_MAX, LEAD_SHARE * interval)


class PacedSocket:
    """One connection's queue of timed writes. The loop calls :meth:`write`, :meth:`close` and
    :meth:`abort`; the pacer's thread does the sending."""

    def __init__(self, pacer: Pacer, sock: socket.socket, interval: float | None = None) -> None:
        self._pacer = pacer
        self._sock = sock
        # a carrier's next cell is due one interval after the last: the thread plans that wake-up
        # itself, so the loop's hand-over of the cell (sealed ahead) need not wake it a second time
        self._interval = interval
        self._queue: collections.deque[tuple[float, bytes | bytearray | memoryview]] = collections.deque()
        self._closing = False
        self._closed = False
        self._scheduled: float | None = None
        #: Bytes queued and not yet taken by the socket (read from the loop: one int, no lock needed).
        self.backlog = 0
        #: The error that ended the writes (the connection was reset), if any.
        self.error: OSError | None = None

    def write(self, data: bytes | bytearray, at: float) -> None:
        """Send ``data`` at ``at`` (``time.monotonic()`` seconds, the loop's clock), after every
        write queued before it."""
        if self._closing or not data:
            return
        with self._pacer.lock:
            self._queue.append((at, data))
            self.backlog += len(data)
            self._pacer.wake(self, self._queue[0][0])

    def close(self) -> None:
        """Send what is queued, then close this duplicate of the socket (the connection ends when
        the loop has closed its own)."""
        with self._pacer.lock:
            self._closing = True
            self._pacer.wake(self, self._queue[0][0] if self._queue else 0.0)

    def abort(self) -> None:
        """Drop what is queued and close at once."""
        with self._pacer.lock:
            self._queue.clear()
            self.backlog = 0
            self._closing = True
            self._pacer.wake(self, 0.0)

    # -- the pacer's thread ------------------------------------------------------------------------

    def _run(self, now: float) -> float | None:
        """Send what is due by ``now``; returns when to come back (None: nothing left). Called
        with the pacer's lock held."""
        self._scheduled = None
        queue = self._queue
        while queue and queue[0][0] <= now and self.error is None:
            at, data = queue[0]
            try:
                sent = self._sock.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError as exc:  # reset, or closed under us: nothing more can go
                self.error = exc
                queue.clear()
                self.backlog = 0
                break
            self.backlog -= sent
            if sent < len(data):
                queue[0] = (at, memoryview(data)[sent:])
                return now + RETRY
            queue.popleft()
            if not queue and self._interval is not None and not self._closing:
                # nothing queued after the cell just sent: come back at the next one's tick, which
                # the loop will have handed over by then (a wake-up that finds nothing does no harm)
                return at + self._interval
        if queue and self.error is None:
            return queue[0][0]
        if self._closing and not self._closed:
            self._closed = True
            queue.clear()
            self.backlog = 0
            self._sock.close()
        return None


class Pacer:
    """One thread that writes every paced connection's queue at its due times."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._changed = threading.Condition(self.lock)
        self._heap: list[tuple[float, int, PacedSocket]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def attach(self, fd: int, interval: float | None = None) -> PacedSocket:
        """A paced queue for the connected socket ``fd`` (a duplicate is made: the caller keeps
        and closes its own). ``interval``: the seconds between the writes it expects (a carrier's
        cells), so that the thread plans each wake-up rather than being woken for it."""
        sock = socket.socket(fileno=os.dup(fd))
        sock.setblocking(False)
        with self.lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="hotline-cell-clock", daemon=True)
                self._thread.start()
        return PacedSocket(self, sock, interval)

    def wake(self, paced: PacedSocket, at: float) -> None:
        """Have ``paced`` run at ``at`` at the latest (lock held)."""
        if paced._scheduled is not None and paced._scheduled <= at:
            return
        paced._scheduled = at
        heapq.heappush(self._heap, (at, next(self._order), paced))
        if self._heap[0][2] is paced:
            self._changed.notify()

    def _loop(self) -> None:
        heap = self._heap
        with self.lock:
            while True:
                now = time.monotonic() + SLACK
                while heap and heap[0][0] <= now:
                    at, _, paced = heapq.heappop(heap)
                    if paced._scheduled != at:
                        continue  # superseded by an earlier wake-up
                    again = paced._run(now)
                    if again is not None:
                        self.wake(paced, again)
                self._changed.wait(heap[0][0] - now if heap else None)


_pacer: Pacer | None = None


def pacer() -> Pacer:
    """The process's pacer (started on first use)."""
    global _pacer
    if _pacer is None:
        _pacer = Pacer()
    return _pacer


__all__ = ["LEAD_MAX", "LEAD_SHARE", "RETRY", "SLACK", "PacedSocket", "Pacer", "lead", "pacer"]
