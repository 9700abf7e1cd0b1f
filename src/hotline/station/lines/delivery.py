"""A line's delivery at run time: the thin driver of :class:`hotline.proto.transcript.Transcript`.

The machine decides (docs/protocol.md §10, docs/state-machines/delivery.md); this module only feeds
it and carries out what it asks: it sends its messages on the line's current session, runs its store
commands on the station's store worker and hands its events to the line (alerts, waiters). Each
store command is at most one at a time of its kind, because the machine asks for no second one
before it has the result of the first; so there are no flags or locks here.

Store jobs get plain values (line id, chain start, entries), never the line. The tasks that carry a
result back to the machine belong to the line's TaskGroup, so a result is never lost when the
session that asked for it ends: the numbering that commits while a session closes still counts.

Quotas (§10.3) stay with the station: before an entry the machine would accept is fed, the quota
desk may withhold it; the desk may drop a leftover entry past a gap it caused; and it may pause
the sender between its steps or call :meth:`Delivery.rewind` when the peer withholds our entries.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from hotline.crypto.hashing import constant_time_equal
from hotline.net.tcp import ChannelClosed, SecureChannel
from hotline.proto import linemsg
from hotline.proto.delivery import Accept, Gap, entry_chain
from hotline.proto.linemsg import Entry, Hello, Kind, Precedence, Receipt, TestProbe
from hotline.proto.transcript import (
    Broken,
    LineUp,
    MarkDelivered,
    NumberQueued,
    PeerSentFewer,
    ReadChain,
    ReadSent,
    Receipted,
    Send,
    StoreEntries,
    Transcript,
    Why,
)
from hotline.station.entryrules import check_entry
from hotline.station.ids import new_message_id, show_id
from hotline.station.worker import StoreWorker
from hotline.store.db import Store
from hotline.store.errors import StoreError
from hotline.store.messages import MessageStore
from hotline.store.rows import LineRow, MessageRow
from hotline.store.schema import IN, OUT

log = logging.getLogger("hotline.line")

#: What storing one inbound entry gave: its row, and what the line needs to act on it (a refusal,
#: the ACK's outcome, a document problem, a line test's verdict).
Stored = list[tuple[MessageRow, Any]]
#: Stores a DOC entry's document row in the entry's transaction: a problem, or None.
DocHook = Callable[[Store, Entry, float], str | None]


class DeliverySession(Protocol):
    """What delivery uses of a session (:class:`hotline.station.ports.LinkSession`)."""

    @property
    def channel(self) -> SecureChannel: ...
    @property
    def hello(self) -> asyncio.Event: ...

    #: The highest sequence number sent on this session (written here; the quota desk reads it).
    cursor: int


class DeliveryQuotas(Protocol):
    """What delivery asks of the station's quota desk (§10.3)."""

    def admit(self, line: Any, entry: Entry) -> bool: ...
    def leftover(self, line: Any, entry: Entry) -> bool: ...
    def holding(self, line: Any, session: Any) -> bool: ...
    async def hold_sender(self, line: Any, session: Any) -> bool: ...


class DeliveryDocuments(Protocol):
    """What delivery asks of the station's document desk."""

    def entry_hook(self, line: Any) -> DocHook: ...


class DeliveryStation(Protocol):
    """What delivery uses of the station."""

    @property
    def worker(self) -> StoreWorker: ...
    @property
    def quotas(self) -> DeliveryQuotas: ...
    @property
    def documents(self) -> DeliveryDocuments: ...
    @property
    def has_followers(self) -> bool: ...

    def publish(self, event: dict[str, object]) -> None: ...


class DeliveryLine(Protocol):
    """What delivery uses of its line (:class:`hotline.station.lines.line.Line`)."""

    @property
    def station(self) -> DeliveryStation: ...
    @property
    def row(self) -> LineRow: ...
    @property
    def peer(self) -> str: ...
    @property
    def current(self) -> Any: ...
    @property
    def up(self) -> bool: ...

    def alert(self, kind: str, detail: str, *, active: bool = True, logged: str | None = None) -> None: ...
    def close_session(self, session: Any, why: str) -> None: ...
    def spawn(self, coro: Coroutine[Any, Any, None]) -> None: ...
    def after_inbound(self, outcome: Stored) -> None: ...


class Delivery:
    """Drives one line's :class:`Transcript`. Belongs to the line's event loop."""

    # one per line: slots keep a hub's memory per line down
    __slots__ = ("_line", "_number", "_session", "_waiters", "_wake", "machine")

    def __init__(self, line: DeliveryLine, inbound: tuple[int, bytes], outbound: tuple[int, bytes]) -> None:
        self._line = line
        row = line.row
        self.machine = Transcript(
            inbound=inbound, outbound=outbound, chain_out0=row.chain_out0, delivered_upto=row.delivered_upto
        )
        #: The session the machine is on (the line's ``current`` when we last looked), and its number.
        self._session: Any = None
        self._number = 0
        self._wake = asyncio.Event()
        #: Futures for ``wait``: set to the time the peer's receipt came.
        self._waiters: dict[bytes, list[asyncio.Future[float]]] = {}

    # -- following the line's session

    def follow_session(self) -> None:
        """Take up the line's current session if it is new to us (our ``Hello`` goes out on it at
        once), or tell the machine that the session is gone."""
        self._sync()

    def _sync(self) -> None:
        """Tell the machine about a session the line started or ended since we last looked."""
        current = self._line.current
        if current is not self._session:
            self._session = current
            if current is None:
                self.machine.session_ended()
            else:
                self._number = self.machine.session_started()
                self._carry_out()  # the Hello, before anything else goes on the session

    def rewind(self, session: DeliverySession, held_seq: int) -> None:
        """The peer withholds our entries after ``held_seq`` on ``session`` (§10.3): resend from there
        when it takes them again."""
        self._sync()
        if session is self._session:
            self.machine.rewind(self._number, held_seq)
            session.cursor = self.machine.cursor

    def _carry_out(self, *, quiet_close: bool = True) -> tuple[bool, ReadChain | None]:
        """Do what the machine asked for; whether the session lives on, and a chain read it waits for.

        ``quiet_close``: a send on a closed channel is dropped (from a background task) rather than
        raised (from the session's own tasks, where it ends the session as it always did).
        """
        alive, read = True, None
        session = self._session
        for output in self.machine.pop_outputs():
            match output:
                case Send(message, flush):
                    if session is None or session.channel.is_closed:
                        continue
                    try:
                        session.channel.send_nowait(linemsg.encode(message))
                        if flush:
                            session.channel.flush()
                    except ChannelClosed:
                        if not quiet_close:
                            raise
                case StoreEntries():
                    self._store(output)
                case MarkDelivered():
                    self._line.spawn(self._mark(output))
                case NumberQueued():
                    self._line.spawn(self._numbering(output))
                case ReadChain():
                    read = output
                case ReadSent():
                    raise AssertionError("the sender polls for its reads")
                case LineUp():
                    if session is not None:
                        session.hello.set()
                    self._wake.set()
                case Receipted(ids, at):
                    for message_id in ids:
                        self._deliver(message_id, at)
                    self._wake.set()
                    if ids and self._line.station.has_followers:
                        shown = [show_id(message_id) for message_id in ids]
                        delivered = {"peer": self._line.peer, "ids": shown, "at": at}
                        self._line.station.publish({"delivered": delivered})
                case PeerSentFewer(sent_seq, held):
                    peer = self._line.peer
                    self._line.alert(
                        "chain-mismatch", f"{peer} says it sent {sent_seq} entries but we hold {held}"
                    )
                case Broken():
                    alive = False
                    self._broken(output)
        if session is not None:
            session.cursor = self.machine.cursor
        return alive, read

    def _broken(self, broken: Broken) -> None:
        peer = self._line.peer
        match broken.why:
            case Why.ROLLED_BACK:
                detail = (
                    f"{peer} holds {broken.seq} of our entries but we sent only {broken.other}: "
                    "was our store restored from an old copy?"
                )
            case Why.HELLO_MISMATCH:
                detail = f"{peer}'s copy of our transcript differs at entry {broken.seq}"
            case Why.GAP:
                self._line.alert("gap", f"{peer} sent entry {broken.seq} where {broken.other} was due")
                return
            case Why.CHAIN:
                detail = f"entry {broken.seq} from {peer} does not extend our chain"
            case Why.RECEIPT_BEYOND:
                detail = f"{peer} receipted entry {broken.seq}; we sent {broken.other}"
            case Why.RECEIPT_MISMATCH:
                detail = f"{peer}'s receipt for entry {broken.seq} has another chain head"
            case Why.STORE_FAILED:
                return  # the store's failure was told where it happened
        self._line.alert("chain-mismatch", detail)

    # -- what the peer sends

    async def on_hello(self, session: DeliverySession, hello: Hello) -> bool:
        """The peer's ``Hello`` on ``session``: check its head and resend from there; False: end the
        session (an alert was raised)."""
        self._sync()
        self.machine.hello_received(hello, time.time())
        alive, read = self._carry_out()
        while read is not None:
            chain_at = MessageStore.job(
                MessageStore.chain_at, line_id=self._line.row.id, direction=OUT, seq=read.seq
            )
            head = await self._line.station.worker.call(chain_at)
            self._sync()
            self.machine.chain_read(read.session, head, time.time())
            alive, read = self._carry_out()
        return alive

    def on_entry(self, entry: Entry) -> bool:
        """An ``Entry`` from the peer; False: end the session (an alert was raised)."""
        self._sync()
        line, quotas = self._line, self._line.station.quotas
        verdict = self.machine.verdict(entry)
        if isinstance(verdict, Accept) and not quotas.admit(line, entry):
            return True  # F5: over a quota; the peer keeps it and sends it again later
        if isinstance(verdict, Gap) and quotas.leftover(line, entry):
            return True  # F5: sent before the peer heard that we withhold
        self.machine.entry_received(entry, verdict)
        return self._carry_out()[0]

    def on_receipt(self, receipt: Receipt) -> bool:
        """A ``Receipt`` from the peer; False: end the session (an alert was raised)."""
        self._sync()
        self.machine.receipt_received(receipt, time.time())
        return self._carry_out()[0]

    # -- storing what the peer sent

    def _store(self, command: StoreEntries) -> None:
        if not command.entries:
            # only a receipt is due: answer it on the next turn, once for every duplicate until then
            self._line.spawn(self._stored(None))
            return
        row = self._line.row
        job = functools.partial(
            store_inbound,
            line_id=row.id,
            chain_out0=row.chain_out0,
            peer=self._line.peer,
            batch=list(command.entries),
            # values only, taken now: the store's thread never sees the line
            doc_hook=self._line.station.documents.entry_hook(self._line),
        )
        # handed to the store thread now rather than a loop turn later
        self._line.spawn(self._stored(self._line.station.worker.submit(job)))

    async def _stored(self, stored: asyncio.Future[Stored] | None) -> None:
        line = self._line
        outcome: Stored = []
        try:
            if stored is not None:
                outcome = await stored
        except Exception as exc:
            # forget what we did not store; the peer resends it on the next session
            if isinstance(exc, StoreError):
                line.alert("store-error", f"could not store entries from {line.peer}: {exc.reason}")
                why = "store failure"
            else:
                log.error("storing entries failed", extra={"peer": line.peer}, exc_info=exc)
                why = "internal error while storing"
            self._sync()
            self.machine.entries_not_stored()
            self._carry_out()
            if line.current is not None:
                line.close_session(line.current, why)
            return
        self._sync()
        self.machine.entries_stored()
        try:
            line.after_inbound(outcome)
        except Exception as exc:  # a bug of ours must cost this session, never the line
            log.error("storing entries failed", extra={"peer": line.peer}, exc_info=exc)
            if line.current is not None:
                line.close_session(line.current, "internal error while storing")
        self._carry_out()

    # -- receipts

    def _deliver(self, message_id: bytes, at: float) -> None:
        for waiter in self._waiters.pop(message_id, []):
            if not waiter.done():
                waiter.set_result(at)

    async def _mark(self, command: MarkDelivered) -> None:
        line = self._line
        try:
            # bookkeeping only (the receipt already told every waiter): no fsync of its own
            ids = await line.station.worker.call_deferred(
                MessageStore.job(
                    MessageStore.mark_delivered,
                    line_id=line.row.id,
                    after=command.after,
                    upto=command.upto,
                    now=time.time(),
                )
            )
        except StoreError as exc:
            line.alert("store-error", f"could not record receipts from {line.peer}: {exc.reason}")
            self.machine.marking_failed()
            return
        self._sync()
        self.machine.marked(command.upto, ids, time.time())
        self._carry_out()

    # -- our entries

    async def run_sender(self, session: DeliverySession) -> None:
        """Send our entries on ``session`` until it is no longer the line's: first what the peer
        lacks, then what is queued, within the window."""
        line, channel = self._line, session.channel
        await session.hello.wait()
        while line.current is session and not channel.is_closed:
            if await line.station.quotas.hold_sender(line, session):
                continue  # F5: the peer withholds our entries for now
            self._sync()
            if self._session is not session:
                return
            self._wake.clear()
            command = self.machine.poll_sender(self._number)
            if isinstance(command, ReadSent):
                read = MessageStore.job(
                    MessageStore.sent_after, line_id=line.row.id, seq=command.after, limit=command.limit
                )
                rows = await line.station.worker.call(read)
                self._sync()
                self.machine.sent_read(command.session, [entry_of(row) for row in rows])
                self._carry_out(quiet_close=False)
            elif isinstance(command, NumberQueued):
                # carried by the line, not this session: what it numbers counts even if we close
                line.spawn(self._numbering(command))
                await self._wake.wait()
            else:
                await self._wake.wait()
            await channel.drain()

    async def _numbering(self, command: NumberQueued) -> None:
        line = self._line
        line_id, start, room = line.row.id, line.row.chain_out0, command.room

        def assign(store: Store) -> list[MessageRow]:
            return number_entries(store, line_id, start, store.messages.next_queued(line_id, room))

        try:
            rows = await line.station.worker.call(assign)
        except StoreError as exc:
            self.machine.numbering_failed()  # still queued: tried again on the next wake
            line.alert("store-error", f"could not number entries for {line.peer}: {exc.reason}")
            return
        self._sync()
        self.machine.numbered(command.session, [entry_of(row) for row in rows], room)
        self._carry_out()
        self._wake.set()

    # -- what operators ask for

    def can_number_now(self) -> bool:
        """Up, with room in the window: a new entry may be numbered as it is queued."""
        return self._line.up and self.machine.room > 0

    def numbered_now(self, row: MessageRow) -> None:
        """``row`` was queued and numbered in one transaction: count it and send it if it is next."""
        self._sync()
        session = self._session
        held = session is not None and self._line.station.quotas.holding(self._line, session)
        if not self.machine.numbered_now(entry_of(row), held=held):
            self._wake.set()  # the sender resends in order from the store
        self._carry_out()

    def wake(self) -> None:
        """Something was queued unnumbered: send it if the line is up."""
        self.machine.queued()
        self._wake.set()

    def waiter(self, message_id: bytes) -> asyncio.Future[float]:
        """A future set to the receipt's time when ``message_id`` (outbound) is receipted."""
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(message_id, []).append(future)
        return future

    def unwait(self, message_id: bytes, future: asyncio.Future[float]) -> None:
        """Drop a waiter that is no longer needed."""
        waiting = self._waiters.get(message_id)
        if waiting is not None:
            with contextlib.suppress(ValueError):
                waiting.remove(future)
            if not waiting:
                del self._waiters[message_id]


# -- store jobs (run on the store's thread, on values only)


def store_inbound(
    store: Store, *, line_id: int, chain_out0: bytes, peer: str, batch: list[Entry], doc_hook: DocHook
) -> Stored:
    """Store accepted inbound entries (one transaction: the worker's); what each one gave."""
    now = time.time()
    out: Stored = []
    for entry in batch:
        refused = check_entry(store, line_id, entry)
        if refused is not None:
            why, keep_id = refused
            rowid = store.messages.add_refused(line_id, entry, why.why, now, keep_id=keep_id)
            out.append((_inbound_row(rowid, line_id, entry, now), why))
            continue
        rowid = store.messages.add_incoming(
            line_id,
            id=entry.id,
            seq=entry.seq,
            kind=entry.kind,
            precedence=entry.precedence,
            created_ms=entry.created_ms,
            ref=entry.ref,
            body=entry.body,
            chain=entry.chain,
            now=now,
        )
        extra: Any = None
        if entry.kind == Kind.ACK:
            extra = store.messages.mark_acked(line_id, OUT, entry.ref, now)
        elif entry.kind == Kind.DOC:
            extra = doc_hook(store, entry, now)
        elif entry.kind in (Kind.TEST, Kind.TEST_REPLY):
            extra = check_probe(store, line_id, chain_out0, peer, entry)
            if entry.kind == Kind.TEST:
                reply = linemsg.encode(TestProbe(entry.seq, entry.chain))
                store.messages.queue(
                    line_id,
                    id=new_message_id(),
                    kind=Kind.TEST_REPLY,
                    precedence=Precedence.FLASH,
                    created_ms=int(now * 1000),
                    ref=entry.id,
                    body=reply,
                    now=now,
                )
        out.append((_inbound_row(rowid, line_id, entry, now), extra))
    return out


def check_probe(store: Store, line_id: int, chain_out0: bytes, peer: str, entry: Entry) -> str | None:
    """Compare the peer's view of our outbound transcript (a line test's body) with ours; a problem,
    or None."""
    try:
        probe = linemsg.decode_probe(entry.body)
    except linemsg.LineMessageError as exc:
        return str(exc)
    if probe.received_seq == 0:
        ours: bytes | None = chain_out0
    else:
        ours = store.messages.chain_at(line_id, OUT, probe.received_seq)
    if ours is None:
        return f"{peer} holds entry {probe.received_seq} of ours, which we never sent"
    if not constant_time_equal(ours, probe.received_head):
        return f"{peer}'s chain head at our entry {probe.received_seq} differs from ours"
    return None


def number_entries(store: Store, line_id: int, chain0: bytes, rows: list[MessageRow]) -> list[MessageRow]:
    """Give queued ``rows`` the next sequence numbers and chain heads of the line's outbound transcript.

    Runs in the store's thread, inside the caller's transaction; returns the rows with their place.
    """
    seq, head = store.messages.position(line_id, OUT)
    chain = head or chain0
    done: list[MessageRow] = []
    for row in rows:
        seq, chain = next_place(seq, chain, row)
        store.messages.assign(row.rowid, seq, chain)
        done.append(_with_place(row, seq, chain))
    return done


def next_place(seq: int, head: bytes, row: MessageRow) -> tuple[int, bytes]:
    """The sequence number and chain head ``row`` gets after entry ``seq`` whose head is ``head``."""
    entry = Entry(seq + 1, row.id, row.kind, row.precedence, row.created_ms, row.ref, row.body, b"")
    return seq + 1, entry_chain(head, entry)


def entry_of(row: MessageRow) -> Entry:
    """The wire entry of a numbered outbound row."""
    assert row.seq is not None and row.chain is not None
    return Entry(row.seq, row.id, row.kind, row.precedence, row.created_ms, row.ref, row.body, row.chain)


def _inbound_row(rowid: int, line_id: int, entry: Entry, now: float) -> MessageRow:
    return MessageRow(rowid, line_id, IN, entry.id, entry.seq, entry.kind, entry.precedence, entry.created_ms,
                      entry.ref, entry.body, entry.chain, now, None, None)  # fmt: skip


def _with_place(row: MessageRow, seq: int, chain: bytes) -> MessageRow:
    return MessageRow(row.rowid, row.line_id, row.direction, row.id, seq, row.kind, row.precedence,
                      row.created_ms, row.ref, row.body, chain, row.stored_at, row.delivered_at,
                      row.acked_at)  # fmt: skip


__all__ = [
    "Delivery",
    "DeliveryLine",
    "check_probe",
    "entry_of",
    "next_place",
    "number_entries",
    "store_inbound",
]
