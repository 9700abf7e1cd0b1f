"""Sending documents (docs/protocol.md §13): hashing and queueing, then streaming what is asked for.

``queue_document`` hashes the file (with the line's document hash: BLAKE3 on ``standard``, SHA-384 on
``cnsa2``; in a thread), then queues a DOC entry and the
document's row in one transaction, exactly like a message; the entry carries name, size and hash,
so the description is receipted, chained and covered by line tests. The bytes go only when the
receiver asks for them: a ``DocProgress(RECEIVING, stored)`` says "send from ``stored``". Each
session runs one sender task that streams the chunks of the wanted documents, oldest first, waiting
for the socket after every chunk; messages never wait behind more than what the socket holds, so a
FLASH overtakes a transfer within a record or two. On a carrier line (docs/protocol.md §14) the
chunks go in the DOCUMENTS lane instead, waiting for its room: they fill only what messages and
voice leave of each cell, at the carrier's fixed rate.

The rules (where to send from, the window, what a report means) are
:class:`hotline.proto.transfer.Sender`'s; this module reads the file and feeds the session.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import stat
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic

from hotline.crypto.hashing import hasher
from hotline.crypto.random import random_bytes
from hotline.net.tcp import ChannelClosed
from hotline.proto import linemsg
from hotline.proto.carrier import Lane
from hotline.proto.constants import DOC_ID_LEN, DOC_MAX_SIZE
from hotline.proto.document import DocMeta, DocState, clean_name, document_hash, encode_meta
from hotline.proto.linemsg import DocData, DocProgress, Kind, Precedence
from hotline.proto.transfer import Sender
from hotline.station.alertkinds import AlertKind
from hotline.station.documents.incoming import send_progress
from hotline.station.documents.needs import DocSession, LineT, Publish, standard_profile
from hotline.station.documents.views import describe_doc
from hotline.station.errors import StationError
from hotline.station.ids import new_message_id
from hotline.station.worker import StoreWorker
from hotline.store.db import Store
from hotline.store.errors import StoreError, StoreFull
from hotline.store.rows import DocRow, MessageRow
from hotline.store.schema import OUT

#: What the log says of a failed document: the file it was read from stays out of logs (the alert
#: the operator sees names it).
_NAMELESS_OUT = "a document could not be sent: see the station's documents"

#: Bytes read from the file at a time (in a thread), then cut into chunks: two such buffers per
#: document being sent (one read into while the other goes out), reused for every read.
READ_BLOCK = 2**20
#: Seconds between progress events to watchers.
PROGRESS_EVERY = 0.25
#: Bytes a document's sender keeps in flight beyond what the far end last said it has taken (§13
#: allows 4 MiB). Every one of them may stand between a FLASH sent now and the far end (they are
#: ahead of it in the session's stream), so less than the protocol allows; with reports every MiB,
#: 2 MiB still arrive while the next report is on its way, so the transfer does not wait for them.
SEND_WINDOW = 3 * 2**20

Emit = Callable[[dict[str, object]], Awaitable[None]]


@dataclass
class Outgoing:
    """One of our documents: its row, what the far end asked of it (its :class:`Sender`), who watches."""

    row: DocRow
    sender: Sender
    #: Set when the sender's window or where it sends from moves.
    moved: asyncio.Event = field(default_factory=asyncio.Event)
    watchers: set[asyncio.Queue[dict[str, object]]] = field(default_factory=set)
    last_event: float = 0.0
    #: When its progress was last written to the store (monotonic seconds).
    last_stored: float = 0.0

    @classmethod
    def of(cls, row: DocRow, stored: int = 0) -> Outgoing:
        """The sending state of ``row``, whose first ``stored`` bytes the far end already holds."""
        return cls(row, Sender(row.size, stored, window=SEND_WINDOW))


class OutgoingDocuments(Generic[LineT]):
    """Every outbound document not yet complete, by line id and document id, and their senders."""

    def __init__(
        self,
        *,
        worker: StoreWorker,
        publish: Publish,
        profile_of: Callable[[LineT], str] = standard_profile,
    ) -> None:
        self.worker = worker
        self._publish = publish
        self._profile_of = profile_of
        self._outgoing: dict[tuple[int, bytes], Outgoing] = {}
        self._wake: dict[int, asyncio.Event] = {}

    async def queue_document(
        self, line: LineT, path: Path, precedence: Precedence, emit: Emit | None = None
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
        if info.st_size > DOC_MAX_SIZE:
            raise StationError("bad-file", f"{path} is larger than 1 TiB")
        loop = asyncio.get_running_loop()
        progress: list[int] = [0]
        hash_name = document_hash(self._profile_of(line))

        def hash_file() -> bytes:
            digest = hasher(hash_name)
            # one buffer read into again and again: a fresh block per read costs page faults
            buffer = bytearray(READ_BLOCK)
            try:
                with path.open("rb", buffering=0) as f, memoryview(buffer) as view:
                    while n := f.readinto(view):
                        digest.update(view[:n])
                        progress[0] += n
            except OSError as exc:
                raise StationError("bad-file", f"cannot read {path}: {exc.strerror or exc}") from None
            return digest.digest()

        hashing = loop.run_in_executor(None, hash_file)
        while not hashing.done():
            if emit is not None:
                await emit({"hashing": {"done": progress[0], "size": info.st_size}})
            await asyncio.wait({hashing}, timeout=PROGRESS_EVERY)
        digest = hashing.result()
        try:
            after = path.stat()
        except OSError as exc:
            raise StationError("bad-file", f"cannot read {path}: {exc.strerror or exc}") from None
        if (after.st_size, after.st_mtime_ns) != (info.st_size, info.st_mtime_ns):
            raise StationError(
                "bad-file", f"{path} changed while it was read: send it again when it is still"
            )
        meta = DocMeta(random_bytes(DOC_ID_LEN), clean_name(path.name), info.st_size, digest, hash_name)
        body = encode_meta(meta)
        message_id = new_message_id()
        now = time.time()
        line_id = line.row.id

        def queue(store: Store) -> tuple[MessageRow, DocRow]:
            created_ms = int(now * 1000)
            rowid = store.messages.queue(line_id, id=message_id, kind=Kind.DOC, precedence=precedence,
                                         created_ms=created_ms, ref=b"", body=body, now=now)  # fmt: skip
            doc = store.documents.add(
                line_id, OUT, doc_id=meta.doc_id, message_id=message_id, name=meta.name, size=meta.size,
                digest=digest, hash=hash_name, now=now, source=str(path), source_mtime=info.st_mtime_ns,
            )  # fmt: skip
            row = MessageRow(rowid, line_id, OUT, message_id, None, Kind.DOC, precedence, created_ms,
                             b"", body, None, now, None, None)  # fmt: skip
            return row, doc

        try:
            row, doc = await self.worker.call(queue)
        except StoreError as exc:
            raise StationError(
                "store-full" if isinstance(exc, StoreFull) else "store-error", exc.reason
            ) from None
        self._outgoing[(line_id, meta.doc_id)] = Outgoing.of(doc)
        line.delivery.wake()
        return row, doc

    def watch(self, line: LineT, doc: DocRow) -> asyncio.Queue[dict[str, object]]:
        """Progress events of an outbound document (``{"document": …}``) until it ends."""
        out = self._outgoing.setdefault((line.row.id, doc.doc_id), Outgoing.of(doc))
        queue: asyncio.Queue[dict[str, object]] = asyncio.Queue()
        out.watchers.add(queue)
        return queue

    def unwatch(self, line: LineT, doc: DocRow, queue: asyncio.Queue[dict[str, object]]) -> None:
        """Stop the progress events of :meth:`watch`."""
        out = self._outgoing.get((line.row.id, doc.doc_id))
        if out is not None:
            out.watchers.discard(queue)

    async def run_sender(self, line: LineT, session: DocSession) -> None:
        """Stream the chunks the far end asks for, for as long as ``session`` carries ``line``."""
        await session.hello.wait()
        # the far end says COMPLETE once; if we missed it (killed before it arrived or was stored),
        # it says so again when asked
        for (line_id, doc_id), out in list(self._outgoing.items()):
            if line_id == line.row.id:
                send_progress(line, out.sender.session_started(doc_id))
        wake = self._wake.setdefault(line.row.id, asyncio.Event())
        channel = session.channel
        while line.current is session and not channel.is_closed:
            wanted = [
                o
                for (lid, _), o in self._outgoing.items()
                if lid == line.row.id and o.sender.want is not None
            ]
            if not wanted:
                wake.clear()
                await wake.wait()
                continue
            out = min(wanted, key=lambda o: o.row.rowid)
            await self._stream(line, session, out)

    async def _stream(self, line: LineT, session: DocSession, out: Outgoing) -> None:
        row, channel, sender = out.row, session.channel, out.sender
        assert sender.want is not None
        try:
            info = os.stat(row.source or "")
        except OSError as exc:
            self._give_up(line, out, f"cannot read {row.source}: {exc.strerror or exc}")
            return
        if (info.st_size, info.st_mtime_ns) != (row.size, row.source_mtime):
            self._give_up(line, out, f"{row.source} changed since it was queued: send it again")
            return
        loop = asyncio.get_running_loop()
        carried = channel.carrier is not None
        fd = os.open(row.source or "", os.O_RDONLY)
        # two buffers read into in turn: the next block is read (in a thread) into one while the
        # other's chunks go out; reused, because a fresh 4 MiB block per read costs page faults
        buffers = (bytearray(READ_BLOCK), bytearray(READ_BLOCK))
        turn = 0

        def read(buffer: bytearray, offset: int) -> int:
            return os.preadv(fd, [buffer], offset)

        ahead: asyncio.Future[int] | None = None
        ahead_at = -1
        try:
            while sender.want is not None and sender.want < row.size and line.current is session:
                offset = sender.want
                if ahead is not None and ahead_at != offset:
                    await ahead  # a read of somewhere else: its buffer is free once it is done
                    ahead = None
                if ahead is None:
                    ahead = loop.run_in_executor(None, read, buffers[turn], offset)
                length = await ahead
                ahead = None
                if not length:
                    self._give_up(line, out, f"{row.source} is shorter than when it was queued")
                    return
                block = buffers[turn]
                turn ^= 1
                if offset + length < row.size:
                    ahead_at = offset + length
                    ahead = loop.run_in_executor(None, read, buffers[turn], ahead_at)
                with memoryview(block) as view:
                    for at in range(0, length, sender.chunk):
                        # never more than the window ahead of what the far end has taken: what
                        # waits for the disk there waits here, not in the socket buffers in front
                        # of the next FLASH
                        while sender.window_full and line.current is session:
                            out.moved.clear()
                            await out.moved.wait()
                        chunk = sender.next_chunk()
                        if chunk is None or chunk[0] != offset + at:
                            break  # the far end asked for something else (it paused, or restarted)
                        piece = view[at : min(at + sender.chunk, length)]
                        if carried:
                            # the DOCUMENTS lane: it takes only what the lanes above leave of each
                            # cell and holds at most about 2 MiB, so the document is paced by the
                            # cells and never piles up in memory (the message is encoded at once:
                            # the buffer can be read into again)
                            data = linemsg.encode(DocData(row.doc_id, offset + at, piece))
                            await channel.send(data, Lane.DOCUMENTS)
                        else:
                            # the chunk is not copied on its way into records: the session borrows
                            # it until it is sealed (own_queued below, before the buffer is reused)
                            head = linemsg.doc_data_head(row.doc_id, offset + at, len(piece))
                            channel.send_parts_nowait([head, piece])
                        # after the last byte the far end says COMPLETE (or pauses) from here
                        sender.chunk_sent(offset + at, len(piece))
                        if not carried:
                            await channel.drain()
                if not carried and not channel.is_closed:
                    # what the session has not sealed yet of this block is copied now: the next
                    # read goes into this buffer
                    channel.own_queued()
        except ChannelClosed:
            pass
        finally:
            if ahead is None:
                os.close(fd)
            else:  # a read still running in its thread: close once it is done
                ahead.add_done_callback(lambda _: os.close(fd))

    def _give_up(self, line: LineT, out: Outgoing, why: str) -> None:
        out.sender.give_up()
        line.alert(
            AlertKind.DOCUMENT_FAILED, f"document {out.row.name} to {line.peer}: {why}", logged=_NAMELESS_OUT
        )
        self._set_out(line, out, out.sender.stored, "failed", why)

    def _set_out(self, line: LineT, out: Outgoing, stored: int, state: str, detail: str | None) -> None:
        done = state in ("complete", "failed")
        completed = time.time() if done else None
        rowid = out.row.rowid
        changed = state != out.row.state
        out.row = dataclasses.replace(
            out.row, stored=stored, state=state, detail=detail, completed_at=completed
        )
        now = time.monotonic()
        if done or changed or now - out.last_stored >= PROGRESS_EVERY:
            # progress alone is stored a few times a second, not for every report (one a MiB): a
            # sender that restarts only asks from an older point, and the far end answers from its own
            out.last_stored = now
            self.worker.submit(
                lambda store: store.documents.update(
                    rowid, stored=stored, state=state, detail=detail, completed_at=completed
                )
            )
        if done or now - out.last_event >= PROGRESS_EVERY:
            out.last_event = now
            event: dict[str, object] = {"document": describe_doc(out.row, line.peer)}
            for queue in out.watchers:
                queue.put_nowait(event)
            # followers too, at the same pace (at most one event per PROGRESS_EVERY per document)
            self._publish(event)

    def on_progress(self, line: LineT, progress: DocProgress) -> None:
        """The far end said where it stands with one of our documents."""
        key = (line.row.id, progress.doc_id)
        out = self._outgoing.get(key)
        if out is None:
            return  # not ours, or long done
        heard = out.sender.progress(progress.stored, DocState(progress.state))
        if heard is None:
            return  # past the document's size
        out.moved.set()
        if heard.state is DocState.RECEIVING:
            # a request to send from there, or progress while we stream past it or have sent it all
            self._set_out(line, out, heard.stored, "receiving", None)
            self._wake.setdefault(line.row.id, asyncio.Event()).set()
        elif heard.state is DocState.PAUSED:
            # it asks again (from where it stands) when it can
            self._set_out(line, out, heard.stored, "paused", "the far end's disk is full; it retries")
        elif heard.state is DocState.COMPLETE:
            self._set_out(line, out, out.row.size, "complete", None)
            del self._outgoing[key]
        else:
            line.alert(
                AlertKind.DOCUMENT_FAILED,
                f"{line.peer} refused document {out.row.name}: it failed its checks",
                logged="the far end refused a document: it failed its checks",
            )
            self._set_out(line, out, heard.stored, "failed", "the far end found it corrupt")
            del self._outgoing[key]

    def session_down(self, line: LineT) -> None:
        """The line's session ended: senders stop; what the far end wants is asked again next time."""
        for (line_id, _), out in self._outgoing.items():
            if line_id == line.row.id:
                out.sender.session_ended()
                out.moved.set()

    def forget_line(self, line_id: int) -> None:
        """A removed line: its outbound documents are forgotten (their senders stop)."""
        for key in [key for key in self._outgoing if key[0] == line_id]:
            self._outgoing.pop(key).moved.set()
        self._wake.pop(line_id, None)

    async def load(self) -> None:
        """At start: outbound documents not yet complete wait for the far end's request again."""
        try:
            rows = await self.worker.call(lambda store: store.documents.find(direction=OUT, unfinished=True))
        except StoreError:
            return
        for row in rows:
            self._outgoing.setdefault((row.line_id, row.doc_id), Outgoing.of(row, row.stored))


__all__ = ["PROGRESS_EVERY", "READ_BLOCK", "SEND_WINDOW", "Emit", "Outgoing", "OutgoingDocuments"]
