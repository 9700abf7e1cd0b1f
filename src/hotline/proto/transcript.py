"""Both directions of one line's delivery (docs/protocol.md §10) as a sans-IO state machine.

A :class:`Transcript` holds what a station knows of one line's two transcripts: how far the peer's
entries are accepted and stored here (inbound), how far ours are numbered, sent and receipted
(outbound), and where the current session stands. It is driven by three kinds of input: messages
from the peer (``Hello``, ``Entry``, ``Receipt``), the station's own doings (a session started or
ended, an entry queued or numbered by the operator), and the results of the store commands it asked
for. It answers with messages to send, store commands to run (plain values) and events; it has no
timers of its own (a quota hold and a line test's timeout are the station's). It never touches a
socket, a clock or the store: ``now`` comes from the caller, and so does every row it needs.

Rules it keeps, all from §10:

- Inbound: an entry is accepted only right after the one before it and only if its chain head is
  what our chain gives (:func:`hotline.proto.delivery.classify`); accepted entries are stored in
  batches, one store command at a time, and only once a batch is stored does a ``Receipt`` name it.
  A duplicate is answered with a receipt again; a gap or a foreign head breaks the session.
- Outbound: entries are numbered by the store (precedence order) at most :data:`WINDOW` ahead of
  what the peer receipted; each session starts at the peer's ``Hello`` and resends everything after
  it, in order, read back from the store :data:`RESEND_BATCH` at a time.
- At most ONE store command of each kind is outstanding: one batch being stored, one numbering, one
  delivered-mark, and per session one resend read and one hello check. So no flag, lock or event
  is needed around them: the machine simply does not ask again until the result is in.

The peer's entries in their batches are kept by :class:`~hotline.proto.inbound.InboundBatches`, the
peer's receipts for ours by :class:`~hotline.proto.receipts.Receipts`; this class holds the session
and the sender, and says what happens when.

The sender is polled (:meth:`Transcript.poll_sender`), as a socket asks for data to send: between
its steps the station may pause it (a peer's ``Withhold``, §10.3) and rewind it (:meth:`rewind`).

In carrier mode (a session started with its ``cell_size``, §14.3) an entry is numbered when it is
queued in a lane, so the sender paces itself by what the carrier holds, which the runtime reads off
the channel and passes in as :class:`~hotline.proto.pacing.LaneFacts` with each poll and result:
it reads back or numbers entries only while less than a cell's worth of entries waits in the FLASH
and MESSAGES lanes, holds what it read or numbered beyond that "ahead" (at most
:data:`~hotline.proto.pacing.CARRIER_READ` entries) and queues it as cells leave, each ``Send``
naming its lane (:mod:`hotline.proto.pacing`). Rows marked "carrier" below apply only then; the
others apply in both modes unless a carrier row overrides them.

Transition table (``state`` is the session's :class:`LinkState`; docs/state-machines/delivery.md
holds the same table):

=============  ===========================================  ============  ===================================
state          input                                        next          outputs
=============  ===========================================  ============  ===================================
any            session_started(cell_size)                   AWAIT_HELLO   Send Hello(committed in, out_seq);
                                                                          carrier mode if cell_size; no ahead
any            session_ended                                DOWN          -
AWAIT_HELLO,   hello_received, received_seq > out_seq       BROKEN        Broken(ROLLED_BACK)
UP
AWAIT_HELLO,   hello_received, our head there in memory     BROKEN        Broken(HELLO_MISMATCH)
UP             and different
AWAIT_HELLO,   hello_received, our head there in memory     UP            [PeerSentFewer], receipt up to
UP             and equal                                                  received_seq, LineUp; cursor there
AWAIT_HELLO,   hello_received, head only in the store       CHECK_HELLO   ReadChain(received_seq)
UP
CHECK_HELLO    chain_read, equal                            UP            as two rows above
CHECK_HELLO    chain_read, different or missing             BROKEN        Broken(HELLO_MISMATCH)
not BROKEN     entry_received, Accept                       same          StoreEntries(batch) if none out,
                                                                          else the entry waits for the next
not BROKEN     entry_received, Duplicate                    same          StoreEntries(()) if none out, else
                                                                          a receipt is due after it
not BROKEN     entry_received, Gap                          BROKEN        Broken(GAP)
not BROKEN     entry_received, ChainMismatch                BROKEN        Broken(CHAIN)
any            entries_stored                               same          Send Receipt(committed in) (an
                                                                          empty batch with entries waiting
                                                                          leaves it to them), next batch
any            entries_not_stored                           BROKEN if a   inbound back to what is stored;
                                                            session       Broken(STORE_FAILED)
not BROKEN     receipt_received, seq > out_seq              BROKEN        Broken(RECEIPT_BEYOND)
not BROKEN     receipt_received, head in memory, different  BROKEN        Broken(RECEIPT_MISMATCH)
not BROKEN     receipt_received, seq <= peer_seq            same          -
not BROKEN     receipt_received, newer                      same          Receipted(in-flight ids, now),
                                                                          MarkDelivered if none out
any            marked                                       same          Receipted(ids, now), MarkDelivered
                                                                          again if receipts came meanwhile
any            marking_failed                               same          - (the next receipt tries again)
UP             poll_sender, cursor < out_seq                same          ReadSent(cursor, RESEND_BATCH)
UP             poll_sender, caught up, room in the window,  same          NumberQueued(room)
               entries may be queued
UP carrier     poll_sender(lanes), entries ahead            same          Send(entry, lane) from ahead while
                                                                          less than a cell waits; AwaitRoom
                                                                          if some stay ahead
UP carrier     poll_sender(lanes), nothing ahead, a read    same          AwaitRoom if a cell's worth waits,
               or a numbering due (as the rows above)                     else ReadSent(cursor, CARRIER_READ)
                                                                          or NumberQueued(room, lanes)
UP             sent_read (this session)                     same          Send each Entry that follows the
                                                                          cursor; cursor to the last sent
UP carrier     sent_read(lanes) (this session)              same          those entries ahead, then Send from
                                                                          ahead as poll_sender
any            numbered                                     same          out_seq, in flight; Send each if
                                                                          this session is UP and they follow
                                                                          the cursor
any carrier    numbered(lanes, more)                        same          as above, but ahead and Send from
                                                                          ahead as poll_sender; more: entries
                                                                          may be queued
any            numbering_failed                             same          - (entries may still be queued)
any            numbered_now                                 same          out_seq, in flight; Send it (flush
                                                                          when alone) if UP, next, not held
                                                                          and not carrier
any            queued                                       same          - (entries may be queued)
UP             rewind                                       same          cursor back to held_seq; no ahead
BROKEN         hello, entry or receipt received             BROKEN        - (ignored: the session is ending)
=============  ===========================================  ============  ===================================

Results that name an older session (``session`` differs) are dropped: that session is gone.
"""

from __future__ import annotations

from hotline.crypto.hashing import constant_time_equal
from hotline.proto.ahead import AheadQueue
from hotline.proto.constants import RESEND_BATCH, WINDOW
from hotline.proto.delivery import Accept, ChainMismatch, Duplicate, Gap, Verdict, classify
from hotline.proto.errors import LocalProtocolError
from hotline.proto.inbound import InboundBatches
from hotline.proto.linemsg import Entry, Hello, Receipt
from hotline.proto.pacing import CARRIER_READ, LaneFacts, LanePacer
from hotline.proto.receipts import Receipts
from hotline.proto.suites import STANDARD, Suite
from hotline.proto.transcriptio import (
    AwaitRoom,
    Broken,
    LineUp,
    LinkState,
    NumberQueued,
    Output,
    PeerSentFewer,
    ReadChain,
    ReadSent,
    Send,
    Why,
)


class Transcript:
    """Delivery on one line, both directions. Not thread-safe; one per line.

    Args:
        inbound: ``(seq, head)`` of the peer's entries held in our store.
        outbound: ``(seq, head)`` of our numbered entries in our store.
        chain_out0: the head of our empty outbound transcript.
        delivered_upto: our entries the store already marks delivered.
        window: entries in flight at most (§10.2 rule 1; smaller only in tests).
        suite: the line's profile, whose hash the chain is (§10.1).
    """

    # one per line: slots keep a hub's memory per line down
    __slots__ = (
        "_ahead",
        "_checking",
        "_in",
        "_maybe_queued",
        "_numbering",
        "_outputs",
        "_reading",
        "_receipts",
        "chain_out0",
        "cursor",
        "out_head",
        "out_seq",
        "session",
        "state",
        "suite",
        "window",
    )

    def __init__(
        self,
        *,
        inbound: tuple[int, bytes],
        outbound: tuple[int, bytes],
        chain_out0: bytes,
        delivered_upto: int,
        window: int = WINDOW,
        suite: Suite = STANDARD,
    ) -> None:
        self.suite = suite
        self._in = InboundBatches(inbound)
        # outbound
        self.window = window
        self.chain_out0 = chain_out0
        self.out_seq, self.out_head = outbound
        self._receipts = Receipts(delivered_upto)
        self._numbering = False
        #: Unnumbered entries may wait in the store (true at start: we have not looked yet).
        self._maybe_queued = True
        # the current session
        self.session = 0
        self.state = LinkState.DOWN
        #: The highest sequence number sent on this session.
        self.cursor = 0
        self._reading = False
        self._checking: Hello | None = None
        #: Carrier mode: the cell size and the entries read or numbered ahead of the lanes.
        self._ahead = AheadQueue()
        self._outputs: list[Output] = []

    # -- outputs

    def pop_outputs(self) -> list[Output]:
        """Everything the inputs so far asked for, in order; carry them out in that order."""
        outputs, self._outputs = self._outputs, []
        return outputs

    @property
    def in_seq(self) -> int:
        """The peer's last accepted entry (perhaps still being stored)."""
        return self._in.seq

    @property
    def in_head(self) -> bytes:
        """The peer's chain head after :attr:`in_seq`."""
        return self._in.head

    @property
    def committed_in(self) -> tuple[int, bytes]:
        """``(seq, head)`` of the peer's entries on our disk: all a receipt may name."""
        return self._in.committed

    @property
    def peer_seq(self) -> int:
        """The highest of our sequence numbers the peer has receipted since we started."""
        return self._receipts.peer_seq

    @property
    def receipted_at(self) -> float | None:
        """When :attr:`peer_seq` was receipted (None: not since we started)."""
        return self._receipts.receipted_at

    @property
    def room(self) -> int:
        """How many more entries may be numbered before the window is full."""
        return self.window - (self.out_seq - self.peer_seq)

    def verdict(self, entry: Entry) -> Verdict:
        """What :meth:`entry_received` would make of ``entry`` now (changes nothing)."""
        return classify(self.in_seq, self.in_head, entry, self.suite)

    def follow_profile(self, suite: Suite, chain_out0: bytes, chain_in0: bytes) -> None:
        """The line's profile changed to ``suite`` (a key change: no session carries the line).

        The chain's hash is ``suite``'s from the next entry on (§10.1), and a direction that holds
        no entry yet starts again from the new profile's start, ``chain_out0`` for ours and
        ``chain_in0`` for the peer's, as the store does
        (:meth:`hotline.store.lines.LineStore.set_profile`); a direction under way keeps its start
        and head. Pure: it sends and stores nothing.
        """
        self.suite = suite
        if self.out_seq == 0:
            self.chain_out0 = self.out_head = chain_out0
        self._in.restart(chain_in0)

    # -- sessions

    def session_started(self, cell_size: int | None = None) -> int:
        """Call when a new session carries the line (it replaces any other); returns its number.

        ``cell_size``: the session runs as a carrier with cells of this size (§14): its entries
        are paced into lanes (§14.3) and the sender must pass :class:`LaneFacts` in."""
        self.session += 1
        self.state = LinkState.AWAIT_HELLO
        self.cursor = 0
        self._reading = False
        self._checking = None
        self._ahead.start(cell_size)
        seq, head = self.committed_in
        # what is on our disk, not what is still being stored: the peer counts it as delivered
        self._outputs.append(Send(Hello(seq, head, self.out_seq)))
        return self.session

    def session_ended(self) -> None:
        """Call when the session is gone (closed, cut, replaced without a new one yet)."""
        self.state = LinkState.DOWN
        self._checking = None
        self._ahead.clear()

    def hello_received(self, hello: Hello, now: float) -> None:
        """The peer's ``Hello`` came on the current session."""
        if self.state is LinkState.BROKEN:
            return
        if self.state not in (LinkState.AWAIT_HELLO, LinkState.UP):
            raise LocalProtocolError(f"a Hello in state {self.state.name}")
        received = hello.received_seq
        if received > self.out_seq:
            self._break(Why.ROLLED_BACK, received, self.out_seq)
            return
        ours = self._known_chain(received)
        if ours is None:
            self.state = LinkState.CHECK_HELLO
            self._checking = hello
            self._outputs.append(ReadChain(self.session, received))
            return
        self._check_hello(hello, ours, now)

    def chain_read(self, session: int, head: bytes | None, now: float) -> None:
        """Result of :class:`ReadChain`: our chain head there, or None if the store has no such entry."""
        hello = self._checking
        if session != self.session or self.state is not LinkState.CHECK_HELLO or hello is None:
            return
        self._checking = None
        self._check_hello(hello, head, now)

    def _check_hello(self, hello: Hello, ours: bytes | None, now: float) -> None:
        received = hello.received_seq
        if ours is None or not constant_time_equal(ours, hello.received_head):
            self._break(Why.HELLO_MISMATCH, received)
            return
        if hello.sent_seq < self.in_seq:
            self._outputs.append(PeerSentFewer(hello.sent_seq, self.in_seq))
        self._outputs.extend(self._receipts.note(received, now))
        self.cursor = received
        self._ahead.clear()
        self._maybe_queued = True  # a numbering cut short with the last session may have left some
        self.state = LinkState.UP
        self._outputs.append(LineUp(self.session, received))

    def _break(self, why: Why, seq: int, other: int = 0) -> None:
        self.state = LinkState.BROKEN
        self._outputs.append(Broken(self.session, why, seq, other))

    # -- inbound

    def entry_received(self, entry: Entry, verdict: Verdict | None = None) -> None:
        """An ``Entry`` came. ``verdict``: what :meth:`verdict` said of it just before (the station
        asks first, to let its quotas refuse an entry that would be accepted, §10.3), or None."""
        if self.state is LinkState.BROKEN:
            return
        match classify(self.in_seq, self.in_head, entry, self.suite) if verdict is None else verdict:
            case Accept(head):
                batch = self._in.accept(entry, head)
            case Duplicate():
                batch = self._in.duplicate()
            case Gap(expected):
                return self._break(Why.GAP, entry.seq, expected)
            case ChainMismatch():
                return self._break(Why.CHAIN, entry.seq)
        if batch is not None:
            self._outputs.append(batch)

    def entries_stored(self) -> None:
        """Result of :class:`StoreEntries`: the batch is on disk."""
        receipt_due, batch = self._in.stored()
        if receipt_due and self.state is not LinkState.DOWN:
            seq, head = self.committed_in
            self._outputs.append(Send(Receipt(seq, head), flush=True))  # the sender waits for it
        if batch is not None:
            self._outputs.append(batch)

    def entries_not_stored(self) -> None:
        """Result of :class:`StoreEntries`: storing failed. What was not stored is forgotten; the peer
        sends it again on the next session."""
        seq = self._in.not_stored()
        if self.state is LinkState.DOWN:
            self._outputs.append(Broken(self.session, Why.STORE_FAILED, seq))
        else:
            self._break(Why.STORE_FAILED, seq)

    # -- outbound: receipts

    def receipt_received(self, receipt: Receipt, now: float) -> None:
        """A ``Receipt`` came: the peer stored our entries up to ``receipt.seq``."""
        if self.state is LinkState.BROKEN:
            return
        if receipt.seq > self.out_seq:
            self._break(Why.RECEIPT_BEYOND, receipt.seq, self.out_seq)
            return
        # only a head we still hold in memory is checked: older ones were checked when they came
        ours = self._known_chain(receipt.seq)
        if ours is not None and not constant_time_equal(ours, receipt.head):
            self._break(Why.RECEIPT_MISMATCH, receipt.seq)
            return
        self._outputs.extend(self._receipts.note(receipt.seq, now))

    def marked(self, upto: int, ids: list[bytes], now: float) -> None:
        """Result of :class:`MarkDelivered`: ``ids`` were newly marked delivered (some may have been
        sent before we started, so not in flight here)."""
        self._outputs.extend(self._receipts.marked(upto, ids, now))

    def marking_failed(self) -> None:
        """Result of :class:`MarkDelivered`: it failed. The next receipt tries again."""
        self._receipts.marking_failed()

    # -- outbound: the sender

    def poll_sender(
        self, session: int, lanes: LaneFacts | None = None
    ) -> ReadSent | NumberQueued | AwaitRoom | None:
        """The sender's next store command on ``session``, or None (wait until something changes:
        an entry queued or numbered, a receipt, a result).

        In carrier mode ``lanes`` says what the carrier holds now: entries read or numbered ahead
        are queued (``Send``) while it has room, and :class:`AwaitRoom` says to poll again when
        cells have left."""
        if session != self.session or self.state is not LinkState.UP:
            return None
        if self._ahead.carrier:
            return self._poll_paced(session, self._ahead.pacer(lanes))
        if self.cursor < self.out_seq:
            if self._reading:
                return None
            self._reading = True
            return ReadSent(session, self.cursor, RESEND_BATCH)
        room = self.room
        if room > 0 and self._maybe_queued and not self._numbering:
            self._maybe_queued = False
            self._numbering = True
            return NumberQueued(session, room)
        return None

    def _poll_paced(self, session: int, pacer: LanePacer) -> ReadSent | NumberQueued | AwaitRoom | None:
        # §14.3: what waits ahead goes first; nothing is read or numbered while the lanes are full
        if self._ahead:
            self._queue(self._ahead.pace(pacer, self.cursor))
            if self._ahead:
                return AwaitRoom()
        if self.cursor < self.out_seq:
            if self._reading:
                return None
            if not pacer.may_queue():
                return AwaitRoom()
            self._reading = True
            return ReadSent(session, self.cursor, CARRIER_READ)
        if self.room > 0 and self._maybe_queued and not self._numbering:
            if not pacer.may_queue():
                return AwaitRoom()
            self._maybe_queued = False
            self._numbering = True
            return NumberQueued(session, self.room, pacer.facts)
        return None

    def _queue(self, paced: tuple[list[Send], int]) -> None:
        sends, self.cursor = paced  # carrier mode: what the lanes took from the ahead queue
        self._outputs.extend(sends)

    def sent_read(self, session: int, entries: list[Entry], lanes: LaneFacts | None = None) -> None:
        """Result of :class:`ReadSent`: the entries to send again, in order (in carrier mode, as
        the lanes that ``lanes`` describe take them)."""
        if session != self.session:
            return
        self._reading = False
        if self.state is not LinkState.UP:
            return
        if self._ahead.carrier:
            return self._queue(self._ahead.take(entries, self.cursor, lanes))
        for entry in entries:
            if entry.seq != self.cursor + 1:
                break  # the cursor went back while the read ran (a Hello again, a rewind): read again
            self._outputs.append(Send(entry))
            self.cursor = entry.seq

    def numbered(
        self,
        session: int,
        entries: list[Entry],
        room: int,
        lanes: LaneFacts | None = None,
        *,
        more: bool = False,
    ) -> None:
        """Result of :class:`NumberQueued`: these entries got their place (committed). ``more``:
        the numbering stopped because the lanes were full (carrier mode), not the queue empty;
        ``lanes``, in carrier mode, what the carrier holds now."""
        self._numbering = False
        if len(entries) == room or more:
            self._maybe_queued = True  # the window or the lanes filled: more may wait behind
        self._count(entries)
        if session != self.session or self.state is not LinkState.UP or not entries:
            return
        if self._ahead.carrier:
            return self._queue(self._ahead.take(entries, self.cursor, lanes))
        if entries[0].seq != self.cursor + 1:
            return  # another numbering landed first: the sender resends in order from the store
        for entry in entries:
            self._outputs.append(Send(entry))
            self.cursor = entry.seq

    def numbering_failed(self) -> None:
        """Result of :class:`NumberQueued`: it failed; the entries are still queued."""
        self._numbering = False
        self._maybe_queued = True

    def numbered_now(self, entry: Entry, *, held: bool) -> bool:
        """The operator's request queued and numbered ``entry`` in one transaction. Sent at once if
        it is next on an up session the peer does not withhold (``held``); True if so."""
        self._count([entry])
        if self.state is not LinkState.UP or self.cursor != entry.seq - 1 or held or self._ahead.carrier:
            return False  # in carrier mode the sender paces it from the store (§14.3)
        # alone on the line: put it on the wire now; under load, records fill up instead
        self._outputs.append(Send(entry, flush=self.out_seq - self.peer_seq == 1))
        self.cursor = entry.seq
        return True

    def queued(self) -> None:
        """Something was queued unnumbered."""
        self._maybe_queued = True

    def rewind(self, session: int, held_seq: int) -> None:
        """The peer withholds our entries after ``held_seq`` (§10.3): resend from there later."""
        if session == self.session:
            self.cursor = min(self.cursor, held_seq)
            self._ahead.clear()

    def _count(self, entries: list[Entry]) -> None:
        for entry in entries:
            if entry.seq > self.out_seq:
                self.out_seq, self.out_head = entry.seq, entry.chain
                self._receipts.numbered(entry)

    def _known_chain(self, seq: int) -> bytes | None:
        return self.chain_out0 if seq == 0 else self._receipts.chain(seq)


__all__ = ["Transcript"]
