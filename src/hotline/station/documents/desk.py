"""Documents at run time: hashing and queueing, sending chunks, receiving and verifying them (§13).

Sending: ``queue_document`` hashes the file (SHA-256, in a thread), then queues a DOC entry and the
document's row in one transaction, exactly like a message; the entry carries name, size and hash,
so the description is receipted, chained and covered by line tests. The bytes go only when the
receiver asks for them: a ``DocProgress(RECEIVING, stored)`` says "send from ``stored``". Each
session runs one sender task that streams the chunks of the wanted documents, oldest first, waiting
for the socket after every chunk; messages never wait behind more than what the socket holds, so a
FLASH overtakes a transfer within a record or two.

Receiving: the DOC entry's row is made in the transaction that stores the entry. Chunks are sealed
and written in place (:class:`hotline.store.blobs.Blob`); every :data:`SYNC_EVERY` bytes the blob is
fsynced, the durable offset recorded, and only then reported to the sender. After a cut or a crash
the receiver reports its durable offset again and the sender goes on from there: nothing is sent
twice that the receiver already had on disk. At the end the whole hash is compared; a mismatch is an
alert and a failed document, never a file. A full disk pauses the document (nothing durable is lost)
and it is retried every :data:`RETRY_PAUSED` seconds.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import hashlib
import logging
import os
import queue
import stat
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from hotline.crypto.random import random_bytes
from hotline.net.tcp import ChannelClosed
from hotline.proto import linemsg
from hotline.proto.document import CHUNK, DOC_ID_LEN, MAX_SIZE, DocMeta, DocState, clean_name, encode_meta
from hotline.proto.linemsg import DocData, DocProgress, Entry, Kind, Precedence
from hotline.station.blobfiles import writable_blob
from hotline.station.errors import StationError
from hotline.store.blobs import Blob
from hotline.store.db import DocRow, MessageRow, Store
from hotline.store.errors import StoreError, StoreFull
from hotline.store.schema import IN, OUT

if TYPE_CHECKING:
    from hotline.station.line import LineRuntime, LinkSession
    from hotline.station.service import Station

log = logging.getLogger("hotline.documents")
#: What the log says of a failed document: its name, and the file it was read from, stay out of logs
#: (the alert the operator sees names them).
_NAMELESS_OUT = "a document could not be sent: see the station's documents"
_NAMELESS_IN = "a document received failed its checks: see the station's documents"

#: Bytes received between two fsyncs (and progress reports): what a crash may make us fetch again.
SYNC_EVERY = 32 * 2**20
#: Bytes a sender may send beyond what the receiver has taken (the receiver reports every TAKEN_EVERY).
WINDOW = 4 * 2**20
TAKEN_EVERY = 2**20
#: Bytes the writer takes between two reports of what it has written (to lift a paused read).
WRITTEN_EVERY = 256 * 2**10
#: Bytes read from the file at a time (in a thread), then cut into chunks.
READ_BLOCK = 4 * 2**20
#: Seconds a paused document waits before the receiver asks for it again.
RETRY_PAUSED = 5.0
#: Seconds between progress events to watchers.
PROGRESS_EVERY = 0.25
#: Bytes handed to a document's writer thread before the line stops reading, and when it reads again.
WRITER_HIGH_WATER = 8 * 2**20
WRITER_LOW_WATER = 2 * 2**20

Emit = Callable[[dict[str, object]], Awaitable[None]]


def doc_dir(station: Station) -> Path:
    return station.paths.home / "documents"


def describe_doc(row: DocRow, peer: str) -> dict[str, object]:
    """A document as the control socket shows it."""
    return {
        "id": _show(row.message_id),
        "peer": peer,
        "direction": "out" if row.direction == OUT else "in",
        "name": row.name,
        "size": row.size,
        "sha256": row.sha256.hex(),
        "stored": row.stored,
        "state": row.state,
        "detail": row.detail,
        "created_at": row.created_at,
        "completed_at": row.completed_at,
    }


def _show(message_id: bytes) -> str:
    from hotline.station.service import show_id

    return show_id(message_id)


class _Writer:
    """Seals, writes, hashes and fsyncs one inbound document's chunks in threads of its own.

    The event loop only hands chunks over; the disk (and an fsync that holds the file for tens of
    milliseconds) never stalls the line's other traffic, and the transfer overlaps the writeback
    instead of waiting for it. Three threads make a pipeline, each releasing the GIL for most of its
    work: the writer seals and writes, the hasher hashes what was written, the syncer fsyncs. What
    happened comes back to the loop through ``post``.
    """

    def __init__(self, incoming: _Incoming, post: Callable[[Callable[[], None]], None]) -> None:
        self._incoming = incoming
        self._post = post
        self._queue: queue.SimpleQueue[tuple[int, bytes] | None] = queue.SimpleQueue()
        self._hashes: queue.SimpleQueue[tuple[int, bytes] | None] = queue.SimpleQueue()
        self._syncs: queue.SimpleQueue[tuple[int, bytes | None] | None] = queue.SimpleQueue()
        #: Bytes handed over and not yet written (read and written on the loop only).
        self.pending = 0
        self._failed = False
        self._thread = threading.Thread(target=self._run, name="document-writer", daemon=True)
        self._thread.start()

    def put(self, offset: int, data: bytes) -> None:
        self.pending += len(data)
        self._queue.put((offset, data))

    def resume(self) -> None:
        """After a failed write was reported: take chunks again (the sender resends from there)."""
        self._queue.put((-1, b""))

    def stop(self) -> None:
        self._queue.put(None)

    def _run(self) -> None:
        incoming = self._incoming
        row, blob = incoming.row, incoming.blob
        helpers = [
            threading.Thread(target=self._hash_loop, name="document-hasher", daemon=True),
            threading.Thread(target=self._sync_loop, name="document-syncer", daemon=True),
        ]
        for helper in helpers:
            helper.start()
        since_sync = since_taken = since_posted = 0
        while (item := self._queue.get()) is not None:
            offset, data = item
            if offset < 0:
                self._failed = False
                continue
            # in steps, not per chunk: every post wakes the loop through its self-pipe
            since_posted += len(data)
            if since_posted >= WRITTEN_EVERY:
                self._post(functools.partial(self._written, since_posted))
                since_posted = 0
            if self._failed:
                continue  # sent before the sender heard we paused
            try:
                blob.write(offset // CHUNK, data)
            except StoreError as exc:
                self._failed = True
                self._post(functools.partial(incoming.on_error, offset, exc))
                continue
            self._hashes.put((offset, data))
            end = offset + len(data)
            since_sync += len(data)
            since_taken += len(data)
            if since_taken >= TAKEN_EVERY and end < row.size:
                since_taken = 0
                self._post(functools.partial(incoming.on_taken, end))
            if end < row.size and since_sync >= SYNC_EVERY:
                since_sync = 0
                self._syncs.put((end, None))
        self._hashes.put(None)
        for helper in helpers:
            helper.join()
        blob.close()

    def _hash_loop(self) -> None:
        # the whole document's SHA-256, over exactly what was written, in order; the last chunk's
        # digest goes to the syncer, which reports it once that chunk is durable
        incoming = self._incoming
        while (item := self._hashes.get()) is not None:
            offset, data = item
            incoming.hasher.update(data)
            if offset + len(data) == incoming.row.size:
                self._syncs.put((incoming.row.size, incoming.hasher.digest()))
        self._syncs.put(None)

    def _sync_loop(self) -> None:
        # fsync in a thread of its own: the disk flushes what came while the writer takes the next
        # chunks, instead of the transfer stopping for every flush
        incoming = self._incoming
        while (item := self._syncs.get()) is not None:
            mark, digest = item
            try:
                incoming.blob.sync()
            except StoreError as exc:
                self._post(functools.partial(incoming.on_error, -1, exc))
                continue
            if digest is not None:
                self._post(functools.partial(incoming.on_done, digest == incoming.row.sha256))
            else:
                self._post(functools.partial(incoming.on_synced, mark))

    def _written(self, size: int) -> None:
        self.pending -= size
        if self.pending <= WRITER_LOW_WATER:
            self._incoming.room.set()


@dataclass(eq=False)
class _Incoming:
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
    writer: _Writer | None = None
    #: Set while the writer has room for more.
    room: asyncio.Event = field(default_factory=asyncio.Event)
    on_synced: Callable[[int], None] = lambda mark: None
    on_taken: Callable[[int], None] = lambda mark: None
    on_done: Callable[[bool], None] = lambda ok: None
    on_error: Callable[[int, StoreError], None] = lambda offset, exc: None


@dataclass
class _Outgoing:
    """What the far end asked of one of our documents."""

    row: DocRow
    #: Send from here (None: the far end has not asked yet, or paused it).
    want: int | None = None
    #: What the far end holds for sure.
    stored: int = 0
    #: What the far end has taken (written, maybe not yet durable): the window's left edge.
    taken: int = 0
    #: Set when ``taken`` or ``want`` moves.
    moved: asyncio.Event = field(default_factory=asyncio.Event)
    #: Every byte went out in this session: later RECEIVING reports are the far end's progress
    #: (they lag behind by up to WINDOW), not requests, until it pauses or the session ends.
    finished: bool = False
    watchers: set[asyncio.Queue[dict[str, object]]] = field(default_factory=set)
    last_event: float = 0.0


class DocumentDesk:
    """Every document of the station, both ways."""

    def __init__(self, station: Station) -> None:
        self.station = station
        self._incoming: dict[tuple[int, bytes], _Incoming] = {}
        self._outgoing: dict[tuple[int, bytes], _Outgoing] = {}
        self._wake: dict[int, asyncio.Event] = {}
        self._retries: set[tuple[int, bytes]] = set()

    # -- sending

    async def queue_document(
        self, line: LineRuntime, path: Path, precedence: Precedence, emit: Emit | None = None
    ) -> tuple[MessageRow, DocRow]:
        """Hash ``path`` and queue it on ``line``.

        Raises:
            StationError: ``bad-file`` (missing, unreadable, not a regular file, too big), store errors.
        """
        try:
            info = path.stat()
        except OSError as exc:
            raise StationError("bad-file", f"cannot read {path}: {exc.strerror or exc}") from None
        if not stat.S_ISREG(info.st_mode):
            raise StationError("bad-file", f"{path} is not a regular file")
        if info.st_size > MAX_SIZE:
            raise StationError("bad-file", f"{path} is larger than 1 TiB")
        loop = asyncio.get_running_loop()
        progress: list[int] = [0]

        def hash_file() -> bytes:
            digest = hashlib.sha256()
            try:
                with path.open("rb", buffering=0) as f:
                    while block := f.read(READ_BLOCK):
                        digest.update(block)
                        progress[0] += len(block)
            except OSError as exc:
                raise StationError("bad-file", f"cannot read {path}: {exc.strerror or exc}") from None
            return digest.digest()

        hashing = loop.run_in_executor(None, hash_file)
        while not hashing.done():
            if emit is not None:
                await emit({"hashing": {"done": progress[0], "size": info.st_size}})
            await asyncio.wait({hashing}, timeout=PROGRESS_EVERY)
        sha256 = hashing.result()
        try:
            after = path.stat()
        except OSError as exc:
            raise StationError("bad-file", f"cannot read {path}: {exc.strerror or exc}") from None
        if (after.st_size, after.st_mtime_ns) != (info.st_size, info.st_mtime_ns):
            raise StationError(
                "bad-file", f"{path} changed while it was read: send it again when it is still"
            )
        meta = DocMeta(random_bytes(DOC_ID_LEN), clean_name(path.name), info.st_size, sha256)
        body = encode_meta(meta)
        from hotline.station.line import new_message_id

        message_id = new_message_id()
        now = time.time()
        line_id = line.row.id

        def queue(store: Store) -> tuple[MessageRow, DocRow]:
            created_ms = int(now * 1000)
            rowid = store.queue(line_id, id=message_id, kind=Kind.DOC, precedence=precedence,
                                created_ms=created_ms, ref=b"", body=body, now=now)  # fmt: skip
            doc = store.add_document(
                line_id, OUT, doc_id=meta.doc_id, message_id=message_id, name=meta.name, size=meta.size,
                sha256=sha256, now=now, source=str(path), source_mtime=info.st_mtime_ns,
            )  # fmt: skip
            row = MessageRow(rowid, line_id, OUT, message_id, None, Kind.DOC, precedence, created_ms,
                             b"", body, None, now, None, None)  # fmt: skip
            return row, doc

        try:
            row, doc = await self.station.worker.call(queue)
        except StoreError as exc:
            raise StationError(
                "store-full" if isinstance(exc, StoreFull) else "store-error", exc.reason
            ) from None
        self._outgoing[(line_id, meta.doc_id)] = _Outgoing(doc)
        line.wake()
        return row, doc

    def watch(self, line: LineRuntime, doc: DocRow) -> asyncio.Queue[dict[str, object]]:
        """Progress events of an outbound document (``{"document": …}``) until it ends."""
        out = self._outgoing.setdefault((line.row.id, doc.doc_id), _Outgoing(doc))
        queue: asyncio.Queue[dict[str, object]] = asyncio.Queue()
        out.watchers.add(queue)
        return queue

    def unwatch(self, line: LineRuntime, doc: DocRow, queue: asyncio.Queue[dict[str, object]]) -> None:
        out = self._outgoing.get((line.row.id, doc.doc_id))
        if out is not None:
            out.watchers.discard(queue)

    async def run_sender(self, line: LineRuntime, session: LinkSession) -> None:
        """Stream the chunks the far end asks for, for as long as ``session`` carries ``line``."""
        await session.hello.wait()
        # the far end says COMPLETE once; if we missed it (killed before it arrived or was stored),
        # it says so again when asked
        for (line_id, doc_id), out in list(self._outgoing.items()):
            if line_id == line.row.id:
                self._send(line, DocProgress(doc_id, out.stored, DocState.WHERE))
        wake = self._wake.setdefault(line.row.id, asyncio.Event())
        channel = session.channel
        while line.current is session and not channel.is_closed:
            wanted = [
                o for (lid, _), o in self._outgoing.items() if lid == line.row.id and o.want is not None
            ]
            if not wanted:
                wake.clear()
                await wake.wait()
                continue
            out = min(wanted, key=lambda o: o.row.rowid)
            await self._stream(line, session, out)

    async def _stream(self, line: LineRuntime, session: LinkSession, out: _Outgoing) -> None:
        row, channel = out.row, session.channel
        assert out.want is not None
        try:
            info = os.stat(row.source or "")
        except OSError as exc:
            self._give_up(line, out, f"cannot read {row.source}: {exc.strerror or exc}")
            return
        if (info.st_size, info.st_mtime_ns) != (row.size, row.source_mtime):
            self._give_up(line, out, f"{row.source} changed since it was queued: send it again")
            return
        loop = asyncio.get_running_loop()
        fd = os.open(row.source or "", os.O_RDONLY)
        # the next block is read while this one goes out
        ahead: asyncio.Future[bytes] | None = None
        ahead_at = -1
        try:
            while out.want is not None and out.want < row.size and line.current is session:
                offset = out.want
                if ahead is None or ahead_at != offset:
                    ahead = loop.run_in_executor(None, os.pread, fd, READ_BLOCK, offset)
                block = await ahead
                ahead = None
                if not block:
                    self._give_up(line, out, f"{row.source} is shorter than when it was queued")
                    return
                if offset + len(block) < row.size:
                    ahead_at = offset + len(block)
                    ahead = loop.run_in_executor(None, os.pread, fd, READ_BLOCK, ahead_at)
                view = memoryview(block)
                for at in range(0, len(block), CHUNK):
                    # never more than WINDOW ahead of what the far end has taken: what waits for the
                    # disk there waits here, not in the socket buffers in front of the next FLASH
                    while out.want is not None and out.want - out.taken >= WINDOW and line.current is session:
                        out.moved.clear()
                        await out.moved.wait()
                    if out.want != offset + at:
                        break  # the far end asked for something else (it paused, or restarted)
                    channel.send_nowait(
                        linemsg.encode(DocData(row.doc_id, offset + at, bytes(view[at : at + CHUNK])))
                    )
                    out.want = offset + at + len(view[at : at + CHUNK])
                    await channel.drain()
            if out.want is not None and out.want >= row.size:
                out.want = None  # all sent: the far end says COMPLETE (or pauses) from here
                out.finished = True
        except ChannelClosed:
            pass
        finally:
            if ahead is None:
                os.close(fd)
            else:  # a read still running in its thread: close once it is done
                ahead.add_done_callback(lambda _: os.close(fd))

    def _give_up(self, line: LineRuntime, out: _Outgoing, why: str) -> None:
        out.want = None
        line.alert("document-failed", f"document {out.row.name} to {line.peer}: {why}", logged=_NAMELESS_OUT)
        self._set_out(line, out, out.stored, "failed", why)

    def _set_out(
        self, line: LineRuntime, out: _Outgoing, stored: int, state: str, detail: str | None
    ) -> None:
        done = state in ("complete", "failed")
        completed = time.time() if done else None
        rowid = out.row.rowid
        out.stored = stored
        out.row = dataclasses.replace(
            out.row, stored=stored, state=state, detail=detail, completed_at=completed
        )
        self.station.worker.submit(
            lambda store: store.set_document(
                rowid, stored=stored, state=state, detail=detail, completed_at=completed
            )
        )
        now = time.monotonic()
        if done or now - out.last_event >= PROGRESS_EVERY:
            out.last_event = now
            event: dict[str, object] = {"document": describe_doc(out.row, line.peer)}
            for queue in out.watchers:
                queue.put_nowait(event)
            if done:
                self.station.publish(event)

    def _on_progress(self, line: LineRuntime, progress: DocProgress) -> None:
        key = (line.row.id, progress.doc_id)
        out = self._outgoing.get(key)
        if out is None:
            return  # not ours, or long done
        state = DocState(progress.state)
        if progress.stored > out.row.size:
            return
        out.moved.set()
        if state is DocState.RECEIVING:
            # a request to send from there, unless we are streaming past it or have sent it all
            idle = out.want is None and not out.finished
            if idle or (out.want is not None and out.want < progress.stored):
                out.want = out.taken = progress.stored  # (again) from there
            else:
                out.taken = max(out.taken, progress.stored)  # progress: durable reports lag behind taken ones
            self._set_out(line, out, progress.stored, "receiving", None)
            self._wake.setdefault(line.row.id, asyncio.Event()).set()
        elif state is DocState.PAUSED:
            out.want = None
            out.finished = False  # it asks again (from where it stands) when it can
            self._set_out(line, out, progress.stored, "paused", "the far end's disk is full; it retries")
        elif state is DocState.COMPLETE:
            out.want = None
            self._set_out(line, out, out.row.size, "complete", None)
            del self._outgoing[key]
        else:
            out.want = None
            line.alert(
                "document-failed",
                f"{line.peer} refused document {out.row.name}: it failed its checks",
                logged="the far end refused a document: it failed its checks",
            )
            self._set_out(line, out, progress.stored, "failed", "the far end found it corrupt")
            del self._outgoing[key]

    # -- receiving

    def entry_stored(self, store: Store, line: LineRuntime, entry: Entry, now: float) -> str | None:
        """A DOC entry is being stored (in its transaction): make its row. A problem, or None."""
        from hotline.proto.document import DocMetaError, decode_meta

        try:
            meta = decode_meta(entry.body)
        except DocMetaError as exc:
            return str(exc)
        # the doc id is new to the station (hotline.station.entryrules): its row gets a file of its own
        doc = store.add_document(line.row.id, IN, doc_id=meta.doc_id, message_id=entry.id, name=meta.name,
                                 size=meta.size, sha256=meta.sha256, now=now)  # fmt: skip
        store.new_blob(doc.rowid)
        self.station.quotas.judge_document(store, line, doc)  # F5: too big: refused; big: held
        return None

    async def resume_incoming(self, line: LineRuntime, session: LinkSession) -> None:
        """On a new session: ask for every unfinished inbound document from where we stand."""
        await session.hello.wait()
        line_id = line.row.id
        try:
            rows = await self.station.worker.call(
                lambda store: store.documents(line_id=line_id, direction=IN, unfinished=True)
            )
        except StoreError:
            return
        for row in rows:
            incoming = await self._open_incoming(line, row)
            if incoming is not None and line.current is session:
                self._ask(line, incoming)

    async def _open_incoming(self, line: LineRuntime, row: DocRow) -> _Incoming | None:
        key = (line.row.id, row.doc_id)
        if key in self._incoming:
            return self._incoming[key]
        station = self.station
        try:
            ref, old = await station.worker.call(functools.partial(writable_blob, row=row))
        except StoreError:
            return None
        if old is not None:
            row = dataclasses.replace(row, stored=0)  # a legacy blob is never written again: start over
        path = doc_dir(station) / ref.name

        def prepare() -> _Incoming:
            if old is not None:
                (doc_dir(station) / old).unlink(missing_ok=True)
            blob = Blob(path, ref.key, row.doc_id, create=True)
            blob.truncate(row.stored)  # what was written after the last durable point goes again
            hasher = hashlib.sha256()
            for index in range(row.stored // CHUNK):
                hasher.update(blob.read(index, CHUNK))
            return _Incoming(row, blob, hasher, row.stored, row.stored)

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
        incoming.on_synced = functools.partial(self._synced, line, incoming)
        incoming.on_taken = functools.partial(self._taken, line, incoming)
        incoming.on_done = functools.partial(self._checked, line, incoming)
        incoming.on_error = functools.partial(self._write_failed, line, incoming)

        def post(callback: Callable[[], None]) -> None:
            loop.call_soon_threadsafe(callback)

        incoming.writer = _Writer(incoming, post)
        self._incoming[key] = incoming
        return incoming

    def doc_entry_committed(self, line: LineRuntime, row: MessageRow) -> None:
        """A DOC entry is on our disk: open the document and ask for its bytes."""

        async def start() -> None:
            from hotline.proto.document import decode_meta

            doc_id = decode_meta(row.body).doc_id
            line_id = line.row.id
            doc = await self.station.worker.call(lambda store: store.document(line_id, IN, doc_id))
            if doc is not None:
                self.station.quotas.announced(line, doc)  # F5: held or refused by the line's quotas
                await self.receive(line, doc)

        self.station.spawn(start())

    async def receive(self, line: LineRuntime, doc: DocRow) -> None:
        """Open an inbound document that is receiving and ask for its bytes (held ones wait)."""
        if doc.state in ("receiving", "paused"):
            incoming = await self._open_incoming(line, doc)
            if incoming is not None:
                if incoming.row.size == 0:
                    await self._finish(line, incoming, incoming.hasher.digest() == incoming.row.sha256)
                else:
                    self._ask(line, incoming)

    def _ask(self, line: LineRuntime, incoming: _Incoming) -> None:
        # from what this process has written (durable or not): within one process the page cache
        # holds it, and a restart starts again from the durable offset (``_open_incoming``)
        incoming.paused = False
        self._send(line, DocProgress(incoming.row.doc_id, incoming.expected, DocState.RECEIVING))

    def _send(self, line: LineRuntime, message: DocProgress) -> None:
        session = line.current
        if session is None or session.channel.is_closed:
            return
        try:
            session.channel.send_nowait(linemsg.encode(message))
            session.channel.flush()
        except ChannelClosed:
            pass

    async def _on_data(self, line: LineRuntime, data: DocData) -> None:
        incoming = self._incoming.get((line.row.id, data.doc_id))
        if incoming is None or incoming.done or incoming.paused or data.offset != incoming.expected:
            return  # not asked for (yet), or a chunk from before a pause: the sender goes on where we say
        row = incoming.row
        end = data.offset + len(data.data)
        if end > row.size:
            why = f"{line.peer} sent more bytes than the {row.size} of document {row.name}"
            self._fail(line, incoming, f"{why}: its description does not match its bytes")
            return
        if len(data.data) != CHUNK and end != row.size:
            why = f"{line.peer} sent a short chunk inside document {row.name} (at byte {data.offset})"
            self._fail(line, incoming, f"{why}: its description does not match its bytes")
            return
        cap = self.station.config.documents_max_bytes
        if cap and self._bytes_in() + len(data.data) > cap:
            self._pause(
                line, incoming, StoreFull(f"documents would pass `documents_max_bytes` ({cap} bytes)")
            )
            return
        kept = self.station.quotas.data_problem(line, len(data.data))  # F5: the disk reserve
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

    def _synced(self, line: LineRuntime, incoming: _Incoming, mark: int) -> None:
        rowid = incoming.row.rowid

        async def record() -> None:
            try:
                await self.station.worker.call(
                    lambda store: store.set_document(rowid, stored=mark, state="receiving")
                )
            except StoreError as exc:
                self._pause(line, incoming, exc)
                return
            incoming.durable = max(incoming.durable, mark)
            if not incoming.done and not incoming.paused:
                self._send(line, DocProgress(incoming.row.doc_id, incoming.durable, DocState.RECEIVING))

        self.station.spawn(record())

    def _taken(self, line: LineRuntime, incoming: _Incoming, mark: int) -> None:
        # written (not yet fsynced): opens the sender's window; a restart still goes back to the
        # durable offset, which is what we report when a session starts
        if not incoming.done and not incoming.paused:
            self._send(line, DocProgress(incoming.row.doc_id, mark, DocState.RECEIVING))

    def _write_failed(self, line: LineRuntime, incoming: _Incoming, offset: int, exc: StoreError) -> None:
        if offset < 0:
            # an fsync failed: what was written since the last durable point may be gone, and the
            # hash has seen it; start again from the durable point (re-read and re-hashed)
            incoming.stale = True
        else:
            # the chunk at ``offset`` was neither written nor hashed: we go on from there
            incoming.expected = min(incoming.expected, offset)
        self._pause(line, incoming, exc)

    def _checked(self, line: LineRuntime, incoming: _Incoming, ok: bool) -> None:
        self.station.spawn(self._finish(line, incoming, ok))

    async def _finish(self, line: LineRuntime, incoming: _Incoming, ok: bool = True) -> None:
        incoming.done = True
        row = incoming.row
        if not ok:
            self._fail(line, incoming, f"document {row.name} from {line.peer} does not match its SHA-256")
            return
        now = time.time()
        try:
            await self.station.worker.call(
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
        self._send(line, DocProgress(row.doc_id, row.size, DocState.COMPLETE))
        done = dataclasses.replace(row, stored=row.size, state="complete", completed_at=now)
        self.station.publish({"document": describe_doc(done, line.peer)})
        log.info("document received", extra={"peer": line.peer, "size": row.size})

    @staticmethod
    def _close(incoming: _Incoming) -> None:
        if incoming.writer is not None:
            incoming.writer.stop()  # the thread closes the blob once it has written what it holds
        incoming.room.set()

    def _fail(self, line: LineRuntime, incoming: _Incoming, why: str) -> None:
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

        self.station.worker.submit(record)
        self._send(line, DocProgress(row.doc_id, 0, DocState.FAILED))

    def _pause(self, line: LineRuntime, incoming: _Incoming, exc: StoreError) -> None:
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
        self._send(line, DocProgress(row.doc_id, incoming.expected, DocState.PAUSED))
        key = (line.row.id, row.doc_id)

        async def retry() -> None:
            await asyncio.sleep(RETRY_PAUSED)
            if self._incoming.get(key) is incoming and incoming.paused and not incoming.done:
                if incoming.stale:
                    self._incoming.pop(key, None)
                    self._close(incoming)
                    reopened = await self._open_incoming(line, incoming.row)
                    if reopened is not None:
                        self._ask(line, reopened)
                    return
                if incoming.writer is not None:
                    incoming.writer.resume()
                self._ask(line, incoming)

        self.station.spawn(retry())

    # -- the network

    async def on_message(self, line: LineRuntime, message: DocData | DocProgress) -> None:
        """A document message arrived on ``line``'s session (waits while the disk catches up)."""
        if isinstance(message, DocData):
            await self._on_data(line, message)
        elif message.state == DocState.WHERE:
            await self._on_where(line, message)
        else:
            self._on_progress(line, message)

    async def _on_where(self, line: LineRuntime, question: DocProgress) -> None:
        # only an ended document is answered here: one still being received is asked for by
        # resume_incoming, and one whose entry has not arrived yet is asked for once it does
        line_id, doc_id = line.row.id, question.doc_id
        try:
            row = await self.station.worker.call(lambda store: store.document(line_id, IN, doc_id))
        except StoreError:
            return
        if row is not None and row.state == "complete":
            self._send(line, DocProgress(doc_id, row.size, DocState.COMPLETE))
        elif row is not None and row.state == "failed":
            self._send(line, DocProgress(doc_id, 0, DocState.FAILED))

    def session_down(self, line: LineRuntime) -> None:
        """The line's session ended: senders stop; what the far end wants is asked again next time."""
        for (line_id, _), out in self._outgoing.items():
            if line_id == line.row.id:
                out.want = None
                out.finished = False
                out.moved.set()

    def forget_line(self, line_id: int) -> None:
        """A removed line: its documents stop here (writers close their files) and are forgotten."""
        for key in [key for key in self._incoming if key[0] == line_id]:
            incoming = self._incoming.pop(key)
            incoming.done = True
            self._close(incoming)
        for key in [key for key in self._outgoing if key[0] == line_id]:
            self._outgoing.pop(key).moved.set()
        self._wake.pop(line_id, None)

    async def load(self) -> None:
        """At start: outbound documents not yet complete wait for the far end's request again."""
        try:
            rows = await self.station.worker.call(
                lambda store: store.documents(direction=OUT, unfinished=True)
            )
        except StoreError:
            return
        for row in rows:
            self._outgoing.setdefault((row.line_id, row.doc_id), _Outgoing(row, stored=row.stored))


__all__ = ["DocumentDesk", "describe_doc", "doc_dir"]
