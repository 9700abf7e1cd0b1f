"""Receiving documents (docs/protocol.md §13): opening, asking for bytes, checking, finishing.

The DOC entry's row is made in the transaction that stores the entry. Chunks are sealed and written
in place by a :class:`~hotline.station.documents.writer.DocumentWriter`; every ``DOC_SYNC_EVERY``
bytes the file is fsynced, the durable offset recorded, and only then reported to the sender. After
a cut or a crash the receiver reports its durable offset again and the sender goes on from there:
nothing is sent twice that the receiver already had on disk. At the end the whole hash is compared;
a mismatch is an alert and a failed document, never a file. A full disk pauses the document (nothing
durable is lost) and it is asked for again when the receiver's pause timer says.

The rules (which chunk to take, when to report, pause, fail or finish) are
:class:`hotline.proto.transfer.Receiver`'s; this module carries out what it answers.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, assert_never

from hotline.crypto.hashing import Hasher, hasher
from hotline.proto.constants import DOC_CHUNK
from hotline.proto.document import ACCEPTED_HASHES, DocMetaError, DocState, decode_meta, hash_label
from hotline.proto.linemsg import DocData, DocProgress, Entry
from hotline.proto.suites import suite
from hotline.proto.transfer import (
    Completed,
    DataVerdict,
    Failed,
    FailReason,
    Paused,
    Receiver,
    ReceiverAction,
    Record,
    RecordComplete,
    Reopen,
    Send,
    Write,
)
from hotline.station.alertkinds import AlertKind
from hotline.station.documents.blobfiles import writable_blob
from hotline.station.documents.needs import (
    DocLine,
    DocQuotas,
    DocSession,
    LineT,
    Publish,
    SpawnTask,
    standard_profile,
)
from hotline.station.documents.views import describe_doc
from hotline.station.documents.writer import WRITER_HIGH_WATER, DocumentWriter
from hotline.station.lanes import send_in_lane
from hotline.station.worker import StoreWorker
from hotline.store.blobs import Blob
from hotline.store.db import Store
from hotline.store.errors import StoreError, StoreFull
from hotline.store.rows import DocRow, MessageRow
from hotline.store.schema import IN

log = logging.getLogger("hotline.documents")
#: What the log says of a failed document: its name stays out of logs (the alert the operator sees
#: names it).
_NAMELESS_IN = "a document received failed its checks: see the station's documents"
#: Seconds between progress events to followers per document (not one per chunk).
TELL_EVERY = 0.25


def send_progress(line: DocLine, message: DocProgress) -> None:
    """Send ``message`` on ``line``'s current session, if it has one that is open (in carrier mode in
    the CONTROL lane, kept until it has room: never dropped while the session lasts)."""
    session = line.current
    if session is None or session.channel.is_closed:
        return
    send_in_lane(session.channel, message)


@dataclass(eq=False)
class Incoming:
    """An inbound document being received: its row, its file, its running hash and its machine."""

    row: DocRow
    blob: Blob
    hasher: Hasher
    receiver: Receiver
    writer: DocumentWriter | None = None
    #: Set while the writer has room for more.
    room: asyncio.Event = field(default_factory=asyncio.Event)
    #: When followers last heard of its progress (monotonic seconds).
    told_at: float = 0.0


@dataclass(eq=False)
class _Reports(Generic[LineT]):
    """What one document's writer reports, routed back to the receiving side with its line.

    Reports of a document no longer open (finished, failed, reopened, its line removed) are dropped.
    """

    receiving: IncomingDocuments[LineT]
    line: LineT
    incoming: Incoming

    def on_taken(self, mark: int) -> None:
        if self.receiving.is_open(self.line, self.incoming):
            self.receiving.do(self.line, self.incoming, self.incoming.receiver.taken(mark))

    def on_synced(self, mark: int) -> None:
        if self.receiving.is_open(self.line, self.incoming):
            self.receiving.do(self.line, self.incoming, self.incoming.receiver.synced(mark))

    def on_done(self, ok: bool) -> None:
        if self.receiving.is_open(self.line, self.incoming):
            self.receiving.spawn(self.receiving.finish(self.line, self.incoming, ok))

    def on_error(self, offset: int, exc: StoreError) -> None:
        if self.receiving.is_open(self.line, self.incoming):
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
        profile_of: Callable[[LineT], str] = standard_profile,
    ) -> None:
        self.worker = worker
        self._profile_of = profile_of
        self._quotas = quotas
        self._publish = publish
        self.spawn = spawn
        self._directory = directory
        self._max_bytes = max_bytes
        self._incoming: dict[tuple[int, bytes], Incoming] = {}

    def is_open(self, line: LineT, incoming: Incoming) -> bool:
        """Whether ``incoming`` is still the open document of its id on ``line``."""
        return self._incoming.get((line.row.id, incoming.row.doc_id)) is incoming

    def entry_hook(self, line: LineT) -> Callable[[Store, Entry, float], str | None]:
        """On the event loop: the store job that makes the row of ``line``'s DOC entries (in the entry's
        transaction; a problem, or None), bound to the values it needs."""
        return functools.partial(
            store_doc_entry,
            line_id=line.row.id,
            judge=self._quotas().document_judge(line),
            profile=self._profile_of(line),
        )

    async def resume(self, line: LineT, session: DocSession) -> None:
        """On a new session: ask for every unfinished inbound document from where we stand."""
        await session.hello.wait()
        line_id = line.row.id
        try:
            rows = await self.worker.call(
                lambda store: store.documents.find(line_id=line_id, direction=IN, unfinished=True)
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
            blob = Blob(path, ref.key, row.doc_id, create=True, cipher=ref.aead)
            blob.truncate(row.stored)  # what was written after the last durable point goes again
            running = hasher(row.hash)  # type: ignore[arg-type]  # a name decode_meta checked
            for index in range(row.stored // DOC_CHUNK):
                running.update(blob.read(index, DOC_CHUNK))
            return Incoming(row, blob, running, Receiver(row.doc_id, row.size, row.stored))

        try:
            incoming = await asyncio.get_running_loop().run_in_executor(None, prepare)
        except StoreError as exc:
            line.alert(
                AlertKind.STORE_ERROR,
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
        incoming.writer = DocumentWriter(
            incoming.blob, incoming.hasher, row.size, row.digest, reports, post, soon=loop.call_soon
        )
        self._incoming[key] = incoming
        return incoming

    def entry_committed(self, line: LineT, row: MessageRow) -> None:
        """A DOC entry is on our disk: open the document and ask for its bytes."""

        async def start() -> None:
            doc_id = decode_meta(row.body).doc_id
            line_id = line.row.id
            doc = await self.worker.call(lambda store: store.documents.by_id(line_id, IN, doc_id))
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
                    await self.finish(line, incoming, incoming.hasher.digest() == incoming.row.digest)
                else:
                    self._ask(line, incoming)

    def _ask(self, line: LineT, incoming: Incoming) -> None:
        # from what this process has written (durable or not): within one process the page cache
        # holds it, and a restart starts again from the durable offset (``_open``)
        self.do(line, incoming, incoming.receiver.ask())

    async def on_data(self, line: LineT, data: DocData) -> None:
        """A chunk arrived (waits while the disk catches up)."""
        incoming = self._incoming.get((line.row.id, data.doc_id))
        if incoming is None:
            return  # not ours, or not asked for (yet)
        verdict, actions = incoming.receiver.data(data.offset, len(data.data))
        if verdict is not DataVerdict.TAKE:
            # ignored (a chunk from before a pause: the sender goes on where we say), or failed
            self.do(line, incoming, actions)
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
        self.do(line, incoming, incoming.receiver.accept(data.offset, data.data))
        assert incoming.writer is not None
        if incoming.writer.pending >= WRITER_HIGH_WATER:
            # the disk is behind: stop reading the line (TCP pushes back on the sender) until it catches up
            incoming.room.clear()
            await incoming.room.wait()

    def _bytes_in(self) -> int:
        return sum(i.receiver.expected for i in self._incoming.values() if not i.receiver.ended)

    def write_failed(self, line: LineT, incoming: Incoming, offset: int, exc: StoreError) -> None:
        """A write at ``offset`` (or an fsync: -1) failed: pause the document."""
        now = asyncio.get_running_loop().time()
        receiver = incoming.receiver
        # an fsync that failed leaves the receiver stale: what was written since the last durable
        # point may be gone, and the hash has seen it; it starts again from there (re-read and
        # re-hashed). A write that failed was neither written nor hashed: it goes on from there.
        actions = receiver.sync_failed(now) if offset < 0 else receiver.write_failed(offset, now)
        self._paused(line, incoming, exc, actions)

    def _pause(self, line: LineT, incoming: Incoming, exc: StoreError) -> None:
        self._paused(line, incoming, exc, incoming.receiver.pause(asyncio.get_running_loop().time()))

    def _paused(
        self, line: LineT, incoming: Incoming, exc: StoreError, actions: list[ReceiverAction]
    ) -> None:
        if actions:  # not already paused
            row = incoming.row
            line.alert(
                AlertKind.DOCUMENT_PAUSED,
                f"document {row.name} from {line.peer} paused: {exc.reason}",
                logged=f"a document paused: {exc.reason}",
            )
        self.do(line, incoming, actions)

    async def finish(self, line: LineT, incoming: Incoming, ok: bool = True) -> None:
        """Every byte is durable: complete the document if its hash matched, fail it if not."""
        actions = incoming.receiver.checked(ok)
        if actions == [RecordComplete()]:
            await self._record_complete(line, incoming)
        else:
            self.do(line, incoming, actions)

    def do(self, line: LineT, incoming: Incoming, actions: list[ReceiverAction]) -> None:
        """Carry out what the receiver answered: what it says to the sender goes last."""
        sends: list[DocProgress] = []
        for action in actions:
            match action:
                case Send(message):
                    sends.append(message)
                case Write(offset, data):
                    assert incoming.writer is not None
                    incoming.writer.put(offset, data)
                case Record(mark):
                    self.spawn(self._record(line, incoming, mark))
                case RecordComplete():
                    self.spawn(self._record_complete(line, incoming))
                case Paused():
                    self._retry_later(line, incoming)
                case Reopen():
                    self.spawn(self._reopen(line, incoming))
                case Failed(reason, offset):
                    self._failed(line, incoming, reason, offset)
                case Completed():
                    self._completed(line, incoming)
                case _:
                    assert_never(action)
        for message in sends:
            send_progress(line, message)

    async def _record(self, line: LineT, incoming: Incoming, mark: int) -> None:
        rowid = incoming.row.rowid
        try:
            await self.worker.call(
                lambda store: store.documents.update(rowid, stored=mark, state="receiving")
            )
        except StoreError as exc:
            self._pause(line, incoming, exc)
            return
        now = time.monotonic()
        if now - incoming.told_at >= TELL_EVERY:
            # followers see a document grow, at most a few times a second
            incoming.told_at = now
            grown = dataclasses.replace(incoming.row, stored=mark, state="receiving")
            self._publish({"document": describe_doc(grown, line.peer)})
        self.do(line, incoming, incoming.receiver.recorded(mark))

    async def _record_complete(self, line: LineT, incoming: Incoming) -> None:
        row = incoming.row
        now = time.time()
        try:
            await self.worker.call(
                lambda store: store.documents.update(
                    row.rowid, stored=row.size, state="complete", completed_at=now
                )
            )
        except StoreError as exc:
            loop_now = asyncio.get_running_loop().time()
            self._paused(line, incoming, exc, incoming.receiver.complete_failed(loop_now))
            return
        incoming.row = dataclasses.replace(row, stored=row.size, state="complete", completed_at=now)
        self.do(line, incoming, incoming.receiver.complete_recorded())

    def _completed(self, line: LineT, incoming: Incoming) -> None:
        row = incoming.row
        self._close(incoming)
        self._incoming.pop((line.row.id, row.doc_id), None)
        self._publish({"document": describe_doc(row, line.peer)})
        log.info("document received", extra={"peer": line.peer, "size": row.size})

    @staticmethod
    def _close(incoming: Incoming) -> None:
        if incoming.writer is not None:
            incoming.writer.stop()  # the thread closes the blob once it has written what it holds
        incoming.room.set()

    def _failed(self, line: LineT, incoming: Incoming, reason: FailReason, offset: int) -> None:
        row = incoming.row
        mismatch = "its description does not match its bytes"
        if reason is FailReason.OVERSIZE:
            why = f"{line.peer} sent more bytes than the {row.size} of document {row.name}: {mismatch}"
        elif reason is FailReason.SHORT_CHUNK:
            why = f"{line.peer} sent a short chunk inside document {row.name} (at byte {offset}): {mismatch}"
        elif reason is FailReason.HASH_MISMATCH:
            why = f"document {row.name} from {line.peer} does not match its {hash_label(row.hash)}"
        else:
            why = f"document {row.name} from {line.peer} was refused"
        line.alert(AlertKind.DOCUMENT_FAILED, why, logged=_NAMELESS_IN)
        self._incoming.pop((line.row.id, row.doc_id), None)
        self._close(incoming)
        path = incoming.blob.path
        rowid = row.rowid

        def record(store: Store) -> None:
            store.documents.update(rowid, stored=0, state="failed", detail=why, completed_at=time.time())
            path.unlink(missing_ok=True)  # a document that failed its checks is not kept

        self.worker.submit(record)

    def _retry_later(self, line: LineT, incoming: Incoming) -> None:
        # the receiver's pause timer: when it is due, it asks again (or says to reopen)
        async def retry() -> None:
            loop = asyncio.get_running_loop()
            due = incoming.receiver.get_timer()
            if due is None:
                return
            await asyncio.sleep(max(0.0, due - loop.time()))
            if not self.is_open(line, incoming):
                return
            actions = incoming.receiver.handle_timer(max(due, loop.time()))
            if actions and actions != [Reopen()] and incoming.writer is not None:
                incoming.writer.resume()  # take chunks again: the sender resends from where we ask
            self.do(line, incoming, actions)

        self.spawn(retry())

    async def _reopen(self, line: LineT, incoming: Incoming) -> None:
        # stale: start again from what the store holds as durable, in a new file handle and hash
        self._incoming.pop((line.row.id, incoming.row.doc_id), None)
        self._close(incoming)
        reopened = await self._open(line, incoming.row)
        if reopened is not None:
            self._ask(line, reopened)

    async def on_where(self, line: LineT, question: DocProgress) -> None:
        """The sender asks where we stand: answer only for a document that ended."""
        # one still being received is asked for by ``resume``, and one whose entry has not arrived
        # yet is asked for once it does
        line_id, doc_id = line.row.id, question.doc_id
        try:
            row = await self.worker.call(lambda store: store.documents.by_id(line_id, IN, doc_id))
        except StoreError:
            return
        if row is not None and row.state == "complete":
            send_progress(line, DocProgress(doc_id, row.size, DocState.COMPLETE))
        elif row is not None and row.state == "failed":
            send_progress(line, DocProgress(doc_id, 0, DocState.FAILED))

    def forget_line(self, line_id: int) -> None:
        """A removed line: its documents stop here (writers close their files) and are forgotten."""
        for key in [key for key in self._incoming if key[0] == line_id]:
            self._close(self._incoming.pop(key))


def store_doc_entry(
    store: Store,
    entry: Entry,
    now: float,
    *,
    line_id: int,
    judge: Callable[[Store, DocRow], None],
    profile: str = "standard",
) -> str | None:
    """In the store's thread, in the DOC entry's transaction: make its document row. A problem, or None.

    The entry must name a hash the line's ``profile`` takes (docs/protocol.md §13); the document's file
    is sealed with the profile's AEAD."""
    try:
        meta = decode_meta(entry.body, ACCEPTED_HASHES[profile])
    except DocMetaError as exc:
        return str(exc)
    # the doc id is new to the station (hotline.station.entryrules): its row gets a file of its own
    doc = store.documents.add(line_id, IN, doc_id=meta.doc_id, message_id=entry.id, name=meta.name,
                              size=meta.size, digest=meta.digest, hash=meta.hash, now=now)  # fmt: skip
    store.documents.new_blob(doc.rowid, suite(profile).record_aead)
    judge(store, doc)  # F5: too big: refused; big: held
    return None


__all__ = ["Incoming", "IncomingDocuments", "send_progress", "store_doc_entry"]
