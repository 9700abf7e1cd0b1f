"""A line's delivery at run time: the thin driver of :class:`hotline.proto.transcript.Transcript`.

The machine decides (docs/protocol.md §10, docs/state-machines/delivery.md); this module only feeds
it and carries out what it asks: it sends its messages on the line's current session, runs its store
commands on the station's store worker and hands its events to the line (alerts, waiters). Each
store command is at most one at a time of its kind, because the machine asks for no second one
before it has the result of the first; so there are no flags or locks here.

Store jobs get plain values (line id, chain start, entries), never the line. The tasks that carry a
result back to the machine belong to the line's TaskGroup, so a result is never lost when the
session that asked for it ends: the numbering that commits while a session closes still counts.

In carrier mode (docs/protocol.md §14.3) the machine paces the entries itself: this module reads
what the carrier holds off the channel (:class:`LaneFacts`) for each poll and result, puts each
message in the lane it names, and wakes the sender when cells have left. A message a lane refuses
(``LaneFull``) is never lost: a control message waits for room in order, an entry is sent again
from the store.

Beside it: the messages on the session's lanes are :class:`~hotline.station.lines.outbox.Outbox`'s,
who waits for which receipt :class:`~hotline.station.lines.waiters.ReceiptWaiters`', what a broken
session tells the operator :mod:`hotline.station.lines.deliveryalerts`', and the store jobs
:mod:`hotline.station.lines.deliveryjobs`'.

Quotas (§10.3) stay with the station: before an entry the machine would accept is fed, the quota
desk may withhold it; the desk may drop a leftover entry past a gap it caused; and it may pause
the sender between its steps or call :meth:`Delivery.rewind` when the peer withholds our entries.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Coroutine
from typing import Any, Protocol

from hotline.net.tcp import ChannelClosed, SecureChannel
from hotline.proto.delivery import Accept, Gap
from hotline.proto.errors import ErrorCode
from hotline.proto.linemsg import Entry, Hello, Receipt
from hotline.proto.pacing import LaneFacts, LanePacer
from hotline.proto.suites import suite
from hotline.proto.transcript import Transcript
from hotline.proto.transcriptio import (
    AwaitRoom,
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
)
from hotline.station.alertkinds import AlertKind
from hotline.station.ids import show_id
from hotline.station.lines.deliveryalerts import broken_alert
from hotline.station.lines.deliveryjobs import (
    DocHook,
    Stored,
    check_probe,
    entry_of,
    next_place,
    number_entries,
    store_inbound,
)
from hotline.station.lines.outbox import Outbox
from hotline.station.lines.waiters import ReceiptWaiters
from hotline.station.worker import StoreWorker
from hotline.store.db import Store
from hotline.store.errors import StoreError
from hotline.store.messages import MessageStore
from hotline.store.rows import LineRow, MessageRow
from hotline.store.schema import OUT

log = logging.getLogger("hotline.line")


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

    def alert(
        self, kind: AlertKind, detail: str, *, active: bool = True, logged: str | None = None
    ) -> None: ...
    def close_session(self, session: Any, why: str) -> None: ...
    def violated(self, session: Any, reason: str) -> None: ...
    def spawn(self, coro: Coroutine[Any, Any, None]) -> None: ...
    def after_inbound(self, outcome: Stored) -> None: ...


def lane_facts(session: DeliverySession | None) -> LaneFacts | None:
    """What ``session``'s carrier holds of our entries now; None without a carrier (or session)."""
    if session is None:
        return None
    channel = session.channel
    status, carrier = channel.carrier_status(), channel.carrier
    if status is not None:
        return LaneFacts.of(status)
    # gone under us: as if the lanes were full, so nothing more is queued on it
    return None if carrier is None else LaneFacts(carrier.cell_size, carrier.cell_size, 0)


class Delivery:
    """Drives one line's :class:`Transcript`. Belongs to the line's event loop."""

    # one per line: slots keep a hub's memory per line down
    __slots__ = ("_line", "_number", "_outbox", "_session", "_waiters", "_wake", "machine")

    def __init__(self, line: DeliveryLine, inbound: tuple[int, bytes], outbound: tuple[int, bytes]) -> None:
        self._line = line
        row = line.row
        self.machine = Transcript(
            inbound=inbound,
            outbound=outbound,
            chain_out0=row.chain_out0,
            delivered_upto=row.delivered_upto,
            suite=suite(row.profile),
        )
        #: The session the machine is on (the line's ``current`` when we last looked), and its number.
        self._session: Any = None
        self._number = 0
        self._wake = asyncio.Event()
        self._waiters = ReceiptWaiters()
        self._outbox = Outbox(line.spawn)

    def follow_profile(self, row: LineRow) -> None:
        """The line's profile changed (no session: the line is not keyed): the chain's hash is the new
        profile's from the next entry on, and a direction with no entry yet starts from the new
        profile's start (what the store now holds, :meth:`~hotline.store.lines.LineStore.set_profile`)."""
        self.machine.follow_profile(suite(row.profile), row.chain_out0, row.chain_in0)

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
            self._outbox.follow(current)
            if current is None:
                self.machine.session_ended()
            else:
                carrier = current.channel.carrier
                self._number = self.machine.session_started(None if carrier is None else carrier.cell_size)
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
        refused = False  # an entry a full lane refused: the ones after it are not sent either
        for output in self.machine.pop_outputs():
            match output:
                case Send(message, flush, lane):
                    if (
                        session is None
                        or session.channel.is_closed
                        or (refused and isinstance(message, Entry))
                    ):
                        continue
                    try:
                        refused = not self._outbox.send(message, flush, lane)
                    except ChannelClosed:
                        if not quiet_close:
                            raise
                    if refused and isinstance(message, Entry):
                        # still numbered in the store: the sender resends from it, in order
                        self.machine.rewind(self._number, message.seq - 1)
                        self._wake.set()
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
                        self._waiters.delivered(message_id, at)
                    self._wake.set()
                    if ids and self._line.station.has_followers:
                        shown = [show_id(message_id) for message_id in ids]
                        delivered = {"peer": self._line.peer, "ids": shown, "at": at}
                        self._line.station.publish({"delivered": delivered})
                case PeerSentFewer(sent_seq, held):
                    peer = self._line.peer
                    self._line.alert(
                        AlertKind.CHAIN_MISMATCH, f"{peer} says it sent {sent_seq} entries but we hold {held}"
                    )
                case Broken():
                    alive = False
                    alert = broken_alert(self._line.peer, output)
                    if alert is not None:
                        self._line.alert(*alert)
                    if session is not None and output.code is ErrorCode.PROTOCOL_VIOLATION:
                        # the peer's fault: it hears so at once (§6), not a plain close of ours
                        self._line.violated(session, output.reason)
        if session is not None:
            session.cursor = self.machine.cursor
        return alive, read

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
                line.alert(AlertKind.STORE_ERROR, f"could not store entries from {line.peer}: {exc.reason}")
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
            line.alert(AlertKind.STORE_ERROR, f"could not record receipts from {line.peer}: {exc.reason}")
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
            command = self.machine.poll_sender(self._number, lane_facts(self._session))
            self._carry_out(quiet_close=False)  # in carrier mode, what waited ahead and fits now
            if isinstance(command, ReadSent):
                read = MessageStore.job(
                    MessageStore.sent_after, line_id=line.row.id, seq=command.after, limit=command.limit
                )
                rows = await line.station.worker.call(read)
                self._sync()
                self.machine.sent_read(
                    command.session, [entry_of(row) for row in rows], lane_facts(self._session)
                )
                self._carry_out(quiet_close=False)
            elif isinstance(command, NumberQueued):
                # carried by the line, not this session: what it numbers counts even if we close
                line.spawn(self._numbering(command))
                await self._wake.wait()
            elif isinstance(command, AwaitRoom):
                await self._room_or_wake(channel)
            else:
                await self._wake.wait()
            await channel.drain()

    async def _room_or_wake(self, channel: SecureChannel) -> None:
        """Carrier mode: wait until cells have left (the lanes take more) or something changed."""
        room = asyncio.ensure_future(channel.wait_room())
        wake = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait((room, wake), return_when=asyncio.FIRST_COMPLETED)
        finally:
            room.cancel()
            wake.cancel()

    async def _numbering(self, command: NumberQueued) -> None:
        line = self._line
        line_id, start, room, lanes = line.row.id, line.row.chain_out0, command.room, command.lanes
        chain_suite = self.machine.suite
        # carrier mode: a cell's worth at most (§14.3); small entries fill it, so read a few more
        limit = room if lanes is None else min(room, lanes.cell_size // 32 + 1)

        def assign(store: Store) -> tuple[list[MessageRow], bool]:
            queued = store.messages.next_queued(line_id, limit)
            pacer = None if lanes is None else LanePacer(lanes)
            done = number_entries(store, line_id, start, queued, pacer, chain_suite)
            return done, len(done) < len(queued) or (lanes is not None and len(queued) == limit)

        try:
            rows, more = await line.station.worker.call(assign)
        except StoreError as exc:
            self.machine.numbering_failed()  # still queued: tried again on the next wake
            line.alert(AlertKind.STORE_ERROR, f"could not number entries for {line.peer}: {exc.reason}")
            return
        self._sync()
        self.machine.numbered(
            command.session, [entry_of(row) for row in rows], room, lane_facts(self._session), more=more
        )
        self._carry_out()
        self._wake.set()

    # -- what operators ask for

    def can_number_now(self) -> bool:
        """Up, with room in the window and no carrier: a new entry may be numbered as it is queued
        (in carrier mode it is numbered when the sender queues it in a lane, §14.3)."""
        current = self._line.current
        carrier = current is not None and current.channel.carrier is not None
        return self._line.up and self.machine.room > 0 and not carrier

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
        return self._waiters.add(message_id)

    def unwait(self, message_id: bytes, future: asyncio.Future[float]) -> None:
        """Drop a waiter that is no longer needed."""
        self._waiters.remove(message_id, future)


__all__ = [
    "Delivery",
    "DeliveryLine",
    "check_probe",
    "entry_of",
    "lane_facts",
    "next_place",
    "number_entries",
    "store_inbound",
]
