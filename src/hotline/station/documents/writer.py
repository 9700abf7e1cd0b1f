"""The write, hash and fsync threads of one inbound document.

The event loop only hands chunks over; the disk (and an fsync that holds the file for tens of
milliseconds) never stalls the line's other traffic, and the transfer overlaps the writeback
instead of waiting for it. Three threads make a pipeline, each releasing the GIL for most of its
work: the writer seals and writes, the hasher hashes what was written, the syncer fsyncs. What
happened comes back to the loop through ``post``, as calls of a :class:`WriterReports`; this
module knows nothing of lines, sessions or the store's rows.
"""

from __future__ import annotations

import functools
import queue
import threading
from collections.abc import Callable
from typing import Protocol

from hotline.crypto.hashing import Hasher
from hotline.proto.constants import DOC_CHUNK
from hotline.proto.transfer import WriteCadence
from hotline.store.blobs import Blob
from hotline.store.errors import StoreError

#: Bytes the writer takes between two reports of what it has written (to lift a paused read).
WRITTEN_EVERY = 2**20
#: Bytes of consecutive chunks handed to the writer thread at once, sealed and written with one
#: system call, and hashed in one hand-over.
WRITE_RUN = 2**20
#: Bytes handed to a document's writer thread before the line stops reading, and when it reads again.
#: A sender keeps at most 4 MiB beyond what was written (§13), and the hasher gives back what it has
#: hashed a MiB at a time, so only a hash far behind the writes reaches this: the line must not stop
#: reading for anything less, because every message behind the chunk waits with it (a FLASH among
#: them: stopped at 4 MiB, FLASH messages waited up to 0.9 s behind a busy disk).
WRITER_HIGH_WATER = 6 * 2**20
WRITER_LOW_WATER = 3 * 2**20


class WriterReports(Protocol):
    """What a writer tells the loop (each call posted to the loop, never made on a thread)."""

    def on_taken(self, mark: int) -> None:
        """Everything before ``mark`` is written (not yet durable)."""

    def on_synced(self, mark: int) -> None:
        """Everything before ``mark`` is durable."""

    def on_done(self, ok: bool) -> None:
        """The last byte is durable; ``ok``: the whole hash matched."""

    def on_error(self, offset: int, exc: StoreError) -> None:
        """A write at ``offset`` failed (it was neither written nor hashed), or an fsync (``offset`` -1)."""

    def on_room(self) -> None:
        """The writer has room for more chunks again."""


class DocumentWriter:
    """Seals, writes, hashes and fsyncs one inbound document's chunks in threads of its own.

    Chunks are handed to the threads in runs of up to :data:`WRITE_RUN` bytes, not one by one: each
    hand-over wakes a thread (and makes the threads take turns with the interpreter), which cost more
    than the copies in profiles. A run is handed over once it is full, once it holds the document's
    last byte, or at the end of the loop's turn (``soon``), so nothing waits for more chunks that may
    not come. ``pending`` is read and written on the loop only.
    """

    def __init__(
        self,
        blob: Blob,
        hasher: Hasher,
        size: int,
        digest: bytes,
        reports: WriterReports,
        post: Callable[[Callable[[], None]], None],
        soon: Callable[[Callable[[], None]], object] | None = None,
    ) -> None:
        self._blob = blob
        self._hasher = hasher
        self._size = size
        self._digest = digest
        self._reports = reports
        self._post = post
        self._soon = soon
        self._queue: queue.SimpleQueue[tuple[int, list[bytes | memoryview]] | None] = queue.SimpleQueue()
        self._hashes: queue.SimpleQueue[tuple[int, list[bytes | memoryview]] | None] = queue.SimpleQueue()
        self._syncs: queue.SimpleQueue[tuple[int, bytes | None] | None] = queue.SimpleQueue()
        #: Bytes handed over and not yet written (read and written on the loop only).
        self.pending = 0
        # the run being gathered on the loop: where it starts, its chunks, its bytes
        self._run_at = 0
        self._run: list[bytes | memoryview] = []
        self._run_bytes = 0
        self._handing = False
        self._failed = False
        self._thread = threading.Thread(target=self._run_writer, name="document-writer", daemon=True)
        self._thread.start()

    def put(self, offset: int, data: bytes | memoryview) -> None:
        """Write ``data`` at ``offset`` (a chunk boundary; the chunk after the last one put, unless
        :meth:`resume` came between). ``data`` is kept until it is hashed: it must not change."""
        self.pending += len(data)
        if self._run and offset != self._run_at + self._run_bytes:
            self._hand()  # not the next chunk of the run: a run is always consecutive chunks
        if not self._run:
            self._run_at = offset
        self._run.append(data)
        self._run_bytes += len(data)
        if self._run_bytes >= WRITE_RUN or offset + len(data) >= self._size or self._soon is None:
            self._hand()
        elif not self._handing:
            self._handing = True
            self._soon(self._hand)

    def _hand(self) -> None:
        self._handing = False
        if self._run:
            self._queue.put((self._run_at, self._run))
            self._run, self._run_bytes = [], 0

    def resume(self) -> None:
        """After a failed write was reported: take chunks again (the sender resends from there)."""
        self._hand()
        self._queue.put((-1, []))

    def stop(self) -> None:
        """Write what is queued, then close the file and end the threads."""
        self._hand()
        self._queue.put(None)

    def _run_writer(self) -> None:
        blob, size, reports = self._blob, self._size, self._reports
        helpers = [
            threading.Thread(target=self._hash_loop, name="document-hasher", daemon=True),
            threading.Thread(target=self._sync_loop, name="document-syncer", daemon=True),
        ]
        for helper in helpers:
            helper.start()
        # when to report what is taken and when to fsync: the §13 cadence, kept on this thread
        cadence = WriteCadence(size)
        while (item := self._queue.get()) is not None:
            offset, chunks = item
            if offset < 0:
                self._failed = False
                continue
            length = sum(len(data) for data in chunks)
            if self._failed:
                self._post(functools.partial(self._written, length))
                continue  # sent before the sender heard we paused
            try:
                # views of the received messages (never changed), which the blob only reads
                blob.write_run(offset // DOC_CHUNK, chunks)
            except StoreError as exc:
                # nothing of the run is hashed: the sender sends it again from its start
                self._failed = True
                self._post(functools.partial(self._written, length))
                self._post(functools.partial(reports.on_error, offset, exc))
                continue
            self._hashes.put((offset + length, chunks))
            report = False
            end = offset
            for data in chunks:
                end += len(data)
                chunk_report, chunk_sync = cadence.written(end, len(data))
                report = report or chunk_report
                if chunk_sync:
                    self._syncs.put((end, None))
            if report:
                self._post(functools.partial(reports.on_taken, end))
        self._hashes.put(None)
        for helper in helpers:
            helper.join()
        blob.close()

    def _hash_loop(self) -> None:
        # the whole document's hash (the DOC entry's: BLAKE3, SHA-384 or SHA-256), over exactly
        # what was written, in order; the last chunk's digest goes to the syncer, which reports it
        # once that chunk is durable
        # the bytes handed over count as pending until they are hashed, not only written: a hash
        # slower than the writes (SHA-384) holds the line back instead of its queue growing
        update = self._hasher.update
        since_posted = 0
        while (item := self._hashes.get()) is not None:
            end, chunks = item
            for data in chunks:
                update(data)
                since_posted += len(data)
            # in steps, not per run: every post wakes the loop through its self-pipe
            if since_posted >= WRITTEN_EVERY or end == self._size:
                self._post(functools.partial(self._written, since_posted))
                since_posted = 0
            if end == self._size:
                self._syncs.put((self._size, self._hasher.digest()))
        self._syncs.put(None)

    def _sync_loop(self) -> None:
        # fsync in a thread of its own: the disk flushes what came while the writer takes the next
        # chunks, instead of the transfer stopping for every flush
        reports = self._reports
        while (item := self._syncs.get()) is not None:
            mark, digest = item
            try:
                self._blob.sync()
            except StoreError as exc:
                self._post(functools.partial(reports.on_error, -1, exc))
                continue
            if digest is not None:
                self._post(functools.partial(reports.on_done, digest == self._digest))
            else:
                self._post(functools.partial(reports.on_synced, mark))

    def _written(self, size: int) -> None:
        # on the loop: ``size`` more bytes are written and hashed (or dropped after a failed write)
        self.pending -= size
        if self.pending <= WRITER_LOW_WATER:
            self._reports.on_room()


__all__ = [
    "WRITER_HIGH_WATER",
    "WRITER_LOW_WATER",
    "WRITE_RUN",
    "WRITTEN_EVERY",
    "DocumentWriter",
    "WriterReports",
]
