"""Receiving documents (docs/protocol.md §13): opening, asking for bytes, checking, finishing.

The DOC entry's row is made in the transaction that stores the entry. Chunks are sealed and written
in place by a :class:`~hotline.station.documents.writer.DocumentWriter`; every ``DOC_SYNC_EVERY``
bytes the file is fsynced, the durable offset recorded, and only then reported to the sender. After
a cut or a crash the receiver reports its durable offset again and the sender goes on from there:
nothing is sent twice that the receiver already had on disk. At the end the whole hash is compared;
a mismatch is an alert and a failed document, never a file. A full disk pauses the document (nothing
durable is lost) and it is retried every :data:`RETRY_PAUSED` seconds.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic

from hotline.net.tcp import ChannelClosed
from hotline.proto import linemsg
from hotline.proto.constants import DOC_CHUNK
from hotline.proto.document import DocMetaError, DocState, decode_meta
from hotline.proto.linemsg import DocData, DocProgress, Entry
from hotline.station.documents.blobfiles import writable_blob
from hotline.station.documents.needs import DocLine, DocQuotas, DocSession, LineT, Publish, SpawnTask
from hotline.station.documents.views import describe_doc
from hotline.station.documents.writer import WRITER_HIGH_WATER, DocumentWriter
from hotline.station.worker import StoreWorker
from hotline.store.blobs import Blob
from hotline.store.db import DocRow, MessageRow, Store
from hotline.store.errors import StoreError, StoreFull
from hotline.store.schema import IN

log = logging.getLogger("hotline.documents")
#: What the log says of a failed document: its name stays out of logs (the alert the operator sees
#: names it).
_NAMELESS_IN = "a document received failed its checks: see the station's documents"

#: Seconds a paused document waits before the receiver asks for it again.
RETRY_PAUSED = 5.0


def send_progress(line: DocLine, message: DocProgress) -> None:
    """Send ``message`` on ``line``'s current session, if it has one that is open."""
    session = line.current
    if session is None or session.channel.is_closed:
        return
    try:
        session.channel.send_nowait(linemsg.encode(message))
        session.channel.flush()
    except ChannelClosed:
        pass


@dataclass(eq=False)
class Incoming:
    """An inbound document being received."""

    row: DocRow
    blob: Blob
    hasher: hashlib._Hash
    #: The next offset we take.
    expected: int
    #: What is on disk for sure (fsynced and recorded).
    durable: int
    paused: bool = False
    done: bool = False
    #: The in-memory state can no longer be trusted: reopen from the store before going on.
    stale: bool = False
    writer: DocumentWriter | None = None
    #: Set while the writer has room for more.
    room: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(eq=False)
class _Reports(Generic[LineT]):
    """What one document's writer reports, routed back to the receiving side with its line."""

    receiving: IncomingDocuments[LineT]
    line: LineT
    incoming: Incoming

    def on_taken(self, mark: int) -> None:
        self.receiving.taken(self.line, self.incoming, mark)

    def on_synced(self, mark: int) -> None:
        self.receiving.synced(self.line, self.incoming, mark)

    def on_done(self, ok: bool) -> None:
        self.receiving.spawn(self.receiving.finish(self.line, self.incoming, ok))

    def on_error(self, offset: int, exc: StoreError) -> None:
        self.receiving.write_failed(self.line, self.incoming, offset, exc)

    def on_room(self) -> None:
        self.incoming.room.set()


class IncomingDocuments(Generic[LineT]):
    """Every inbound document being received, by line id and document id."""

    def __init__(
        self,
        *,
        worker: StoreWorker,
        quotas: Callable[[], DocQuotas[LineT]],
        publish: Publish,
        spawn: SpawnTask,
        directory: Path,
        max_bytes: Callable[[], int],
    ) -> None:
        self.worker = worker
        self._quotas = quotas
        self._publish = publish
        self.spawn = spawn
        self._directory = directory
        self._max_bytes = max_bytes
        self._incoming: dict[tuple[int, bytes], Incoming] = {}

    def entry_stored(self, store: Store, line: LineT, entry: Entry, now: float) -> str | None:
        """A DOC entry is being stored (in its transaction): make its row. A problem, or None."""
        try:
            meta = decode_meta(entry.body)
        except DocMetaError as exc:
            return str(exc)
        # the doc id is new to the station (hotline.station.entryrules): its row gets a file of its own
        doc = store.add_document(line.row.id, IN, doc_id=meta.doc_id, message_id=entry.id, name=meta.name,
                                 size=meta.size, sha256=meta.sha256, now=now)  # fmt: skip
        store.new_blob(doc.rowid)
        self._quotas().judge_document(store, line, doc)  # F5: too big: refused; big: held
        return None

    async def resume(self, line: LineT, session: DocSession) -> None:
        """On a new session: ask for every unfinished inbound document from where we stand."""
        await session.hello.wait()
        line_id = line.row.id
        try:
            rows = await self.worker.call(
                lambda store: store.documents(line_id=line_id, direction=IN, unfinished=True)
            )
        except StoreError:
            return
        for row in rows:
            incoming = await self._open(line, row)
            if incoming is not None and line.current is session:
                self._ask(line, incoming)

    async def _open(self, line: LineT, row: DocRow) -> Incoming | None:
        key = (line.row.id, row.doc_id)
        if key in self._incoming:
            return self._incoming[key]
        try:
            ref, old = await self.worker.call(functools.partial(writable_blob, row=row))
        except StoreError:
            return None
        if old is not None:
            row = dataclasses.replace(row, stored=0)  # a legacy blob is never written again: start over
        directory = self._directory
        path = directory / ref.name

        def prepare() -> Incoming:
            if old is not None:
                (directory / old).unlink(missing_ok=True)
            blob = Blob(path, ref.key, row.doc_id, create=True)
            blob.truncate(row.stored)  # what was written after the last durable point goes again
            hasher = hashlib.sha256()
            for index in range(row.stored // DOC_CHUNK):
                hasher.update(blob.read(index, DOC_CHUNK))
            return Incoming(row, blob, hasher, row.stored, row.stored)

        try:
            incoming = await asyncio.get_running_loop().run_in_executor(None, prepare)
        except StoreError as exc:
            line.alert(
                "store-error",
                f"cannot resume document {row.name} from {line.peer}: {exc.reason}",
                logged=f"cannot resume a document: {exc.reason}",
            )
            return None
        if key in self._incoming:  # opened meanwhile
            incoming.blob.close()
            return self._incoming[key]
        loop = asyncio.get_running_loop()
        incoming.room.set()

        def post(callback: Callable[[], None]) -> None:
            loop.call_soon_threadsafe(callback)

        reports = _Reports(self, line, incoming)
        incoming.writer = DocumentWriter(incoming.blob, incoming.hasher, row.size, row.sha256, reports, post)
        self._incoming[key] = incoming
        return incoming

    def entry_committed(self, line: LineT, row: MessageRow) -> None:
        """A DOC entry is on our disk: open the document and ask for its bytes."""

        async def start() -> None:
            doc_id = decode_meta(row.body).doc_id
            line_id = line.row.id
            doc = await self.worker.call(lambda store: store.document(line_id, IN, doc_id))
            if doc is not None:
                self._quotas().announced(line, doc)  # F5: held or refused by the line's quotas
                await self.receive(line, doc)

        self.spawn(start())

    async def receive(self, line: LineT, doc: DocRow) -> None:
        """Open an inbound document that is receiving and ask for its bytes (held ones wait)."""
        if doc.state in ("receiving", "paused"):
            incoming = await self._open(line, doc)
            if incoming is not None:
                if incoming.row.size == 0:
                    await self.finish(line, incoming, incoming.hasher.digest() == incoming.row.sha256)
                else:
                    self._ask(line, incoming)

    def _ask(self, line: LineT, incoming: Incoming) -> None:
        # from what this process has written (durable or not): within one process the page cache
        # holds it, and a restart starts again from the durable offset (``_open``)
        incoming.paused = False
        send_progress(line, DocProgress(incoming.row.doc_id, incoming.expected, DocState.RECEIVING))

    async def on_data(self, line: LineT, data: DocData) -> None:
        """A chunk arrived (waits while the disk catches up)."""
        incoming = self._incoming.get((line.row.id, data.doc_id))
        if incoming is None or incoming.done or incoming.paused or data.offset != incoming.expected:
            return  # not asked for (yet), or a chunk from before a pause: the sender goes on where we say
        row = incoming.row
        end = data.offset + len(data.data)
        if end > row.size:
            why = f"{line.peer} sent more bytes than the {row.size} of document {row.name}"
            self._fail(line, incoming, f"{why}: its description does not match its bytes")
            return
        if len(data.data) != DOC_CHUNK and end != row.size:
            why = f"{line.peer} sent a short chunk inside document {row.name} (at byte {data.offset})"
            self._fail(line, incoming, f"{why}: its description does not match its bytes")
            return
        cap = self._max_bytes()
        if cap and self._bytes_in() + len(data.data) > cap:
            self._pause(
                line, incoming, StoreFull(f"documents would pass `documents_max_bytes` ({cap} bytes)")
            )
            return
        kept = self._quotas().data_problem(line, len(data.data))  # F5: the disk reserve
        if kept is not None:
            self._pause(line, incoming, StoreFull(kept))
            return
        assert incoming.writer is not None
        incoming.writer.put(data.offset, data.data)
        incoming.expected = end
        if incoming.writer.pending >= WRITER_HIGH_WATER:
            # the disk is behind: stop reading the line (TCP pushes back on the sender) until it catches up
            incoming.room.clear()
            await incoming.room.wait()

    def _bytes_in(self) -> int:
        return sum(i.expected for i in self._incoming.values() if not i.done)

    def synced(self, line: LineT, incoming: Incoming, mark: int) -> None:
        """The writer made everything before ``mark`` durable: record it, then tell the sender."""
        rowid = incoming.row.rowid

        async def record() -> None:
            try:
                await self.worker.call(
                    lambda store: store.set_document(rowid, stored=mark, state="receiving")
                )
            except StoreError as exc:
                self._pause(line, incoming, exc)
                return
            incoming.durable = max(incoming.durable, mark)
            if not incoming.done and not incoming.paused:
                send_progress(line, DocProgress(incoming.row.doc_id, incoming.durable, DocState.RECEIVING))

        self.spawn(record())

    def taken(self, line: LineT, incoming: Incoming, mark: int) -> None:
        """The writer wrote everything before ``mark``: open the sender's window."""
        # written (not yet fsynced); a restart still goes back to the durable offset, which is what
        # we report when a session starts
        if not incoming.done and not incoming.paused:
            send_progress(line, DocProgress(incoming.row.doc_id, mark, DocState.RECEIVING))

    def write_failed(self, line: LineT, incoming: Incoming, offset: int, exc: StoreError) -> None:
        """A write at ``offset`` (or an fsync: -1) failed: pause the document."""
        if offset < 0:
            # an fsync failed: what was written since the last durable point may be gone, and the
            # hash has seen it; start again from the durable point (re-read and re-hashed)
            incoming.stale = True
        else:
            # the chunk at ``offset`` was neither written nor hashed: we go on from there
            incoming.expected = min(incoming.expected, offset)
        self._pause(line, incoming, exc)

    async def finish(self, line: LineT, incoming: Incoming, ok: bool = True) -> None:
        """Every byte is durable: complete the document if its hash matched, fail it if not."""
        incoming.done = True
        row = incoming.row
        if not ok:
            self._fail(line, incoming, f"document {row.name} from {line.peer} does not match its SHA-256")
            return
        now = time.time()
        try:
            await self.worker.call(
                lambda store: store.set_document(
                    row.rowid, stored=row.size, state="complete", completed_at=now
                )
            )
        except StoreError as exc:
            incoming.done = False
            self._pause(line, incoming, exc)
            return
        self._close(incoming)
        self._incoming.pop((line.row.id, row.doc_id), None)
        send_progress(line, DocProgress(row.doc_id, row.size, DocState.COMPLETE))
        done = dataclasses.replace(row, stored=row.size, state="complete", completed_at=now)
        self._publish({"document": describe_doc(done, line.peer)})
        log.info("document received", extra={"peer": line.peer, "size": row.size})

    @staticmethod
    def _close(incoming: Incoming) -> None:
        if incoming.writer is not None:
            incoming.writer.stop()  # the thread closes the blob once it has written what it holds
        incoming.room.set()

    def _fail(self, line: LineT, incoming: Incoming, why: str) -> None:
        incoming.done = True
        row = incoming.row
        line.alert("document-failed", why, logged=_NAMELESS_IN)
        self._incoming.pop((line.row.id, row.doc_id), None)
        self._close(incoming)
        path = incoming.blob.path
        rowid = row.rowid

        def record(store: Store) -> None:
            store.set_document(rowid, stored=0, state="failed", detail=why, completed_at=time.time())
            path.unlink(missing_ok=True)  # a document that failed its checks is not kept

        self.worker.submit(record)
        send_progress(line, DocProgress(row.doc_id, 0, DocState.FAILED))

    def _pause(self, line: LineT, incoming: Incoming, exc: StoreError) -> None:
        if incoming.paused:
            return
        incoming.paused = True
        row = incoming.row
        line.alert(
            "document-paused",
            f"document {row.name} from {line.peer} paused: {exc.reason}",
            logged=f"a document paused: {exc.reason}",
        )
        # the chunk that failed was neither written nor hashed: we go on from ``expected``
        send_progress(line, DocProgress(row.doc_id, incoming.expected, DocState.PAUSED))
        key = (line.row.id, row.doc_id)

        async def retry() -> None:
            await asyncio.sleep(RETRY_PAUSED)
            if self._incoming.get(key) is incoming and incoming.paused and not incoming.done:
                if incoming.stale:
                    self._incoming.pop(key, None)
                    self._close(incoming)
                    reopened = await self._open(line, incoming.row)
                    if reopened is not None:
                        self._ask(line, reopened)
                    return
                if incoming.writer is not None:
                    incoming.writer.resume()
                self._ask(line, incoming)

        self.spawn(retry())

    async def on_where(self, line: LineT, question: DocProgress) -> None:
        """The sender asks where we stand: answer only for a document that ended."""
        # one still being received is asked for by ``resume``, and one whose entry has not arrived
        # yet is asked for once it does
        line_id, doc_id = line.row.id, question.doc_id
        try:
            row = await self.worker.call(lambda store: store.document(line_id, IN, doc_id))
        except StoreError:
            return
        if row is not None and row.state == "complete":
            send_progress(line, DocProgress(doc_id, row.size, DocState.COMPLETE))
        elif row is not None and row.state == "failed":
            send_progress(line, DocProgress(doc_id, 0, DocState.FAILED))

    def forget_line(self, line_id: int) -> None:
        """A removed line: its documents stop here (writers close their files) and are forgotten."""
        for key in [key for key in self._incoming if key[0] == line_id]:
            incoming = self._incoming.pop(key)
            incoming.done = True
            self._close(incoming)


__all__ = ["RETRY_PAUSED", "Incoming", "IncomingDocuments", "send_progress"]
