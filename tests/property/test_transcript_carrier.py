"""The delivery machine in carrier mode (docs/protocol.md §14.3) over a real carrier, any workload.

Station A runs a :class:`Transcript` whose sessions are carriers: its messages go into the lanes of
a real :class:`~hotline.proto.carrier.Carrier`, cells leave one per tick, and station B reads them
with a :class:`~hotline.proto.carrier.CellReader`, stores A's entries and answers with receipts
that come back whenever Hypothesis says. Meanwhile A's operator queues entries of any precedence,
kind and size, B sends entries of its own (so A's receipts compete for the cells in CONTROL), and
the session may be cut and made again (A resends from B's ``Hello``). A's store is prompt: every
store command runs at once, as the runtime's would on an idle store thread.

What must hold, at every step:

- B gets A's entries in sequence, each once, as A's store numbered them (§10.1): the lanes never
  let an entry overtake one numbered before it;
- an entry goes in the FLASH lane only if it is a FLASH and MESSAGES holds no entry then;
- MESSAGES (and FLASH) never hold more than one cell and one entry;
- a FLASH queued while a session is up leaves within the cells needed by what was ahead of it
  when it was queued (bytes in the lanes, numbered entries not yet queued, FLASH entries queued
  before it), its own bytes and the CONTROL bytes queued while it waited: the bound of §14.3;

and at the end, with receipts flowing, every entry queued arrives and is receipted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from hotline.proto import linemsg
from hotline.proto.carrier import CELL_HEADER_LEN, SEGMENT_HEADER_LEN, Carrier, CellReader, Lane
from hotline.proto.delivery import chain_next, chain_start
from hotline.proto.linemsg import Entry, Hello, Kind, Precedence, Receipt
from hotline.proto.messages import Data, decode_message, encode_message
from hotline.proto.pacing import LaneFacts, LanePacer, entry_size
from hotline.proto.transcript import Transcript
from hotline.proto.transcriptio import (
    AwaitRoom,
    LinkState,
    MarkDelivered,
    NumberQueued,
    ReadChain,
    ReadSent,
    Receipted,
    Send,
    StoreEntries,
)

A_KEY, B_KEY = b"\xaa" * 32, b"\xbb" * 32
#: Bytes of a cell that carry nothing of the lanes at most: its header, a segment header for each of
#: CONTROL, FLASH and MESSAGES, and a tail too short for one more segment.
CELL_LOSS = CELL_HEADER_LEN + 3 * SEGMENT_HEADER_LEN + SEGMENT_HEADER_LEN


@dataclass
class Queued:
    precedence: int
    rowid: int
    kind: int
    body: bytes


@dataclass
class FlashWatch:
    """A FLASH queued while a session was up: when, and what was ahead of it then."""

    session: int
    queued_at: int  # the index of the next cell when it was queued
    ahead: int  # bytes that leave before it, known when it was queued
    control_at: int  # CONTROL bytes offered so far, when it was queued
    lane: Lane | None = None
    seq: int = 0


@dataclass
class StoreA:
    """A's store: its queue and its numbered transcript."""

    chain0: bytes
    queued: list[Queued] = field(default_factory=list)
    out: list[Entry] = field(default_factory=list)
    inbound: list[Entry] = field(default_factory=list)

    def head(self) -> bytes:
        return self.out[-1].chain if self.out else self.chain0

    def place(self, row: Queued) -> Entry:
        seq = len(self.out) + 1
        ref = b"r" * 10 if row.kind == Kind.ACK else b""
        ident = row.rowid.to_bytes(10, "big")
        chain = chain_next(
            self.head(), seq=seq, id=ident, kind=row.kind, precedence=row.precedence, created_ms=row.rowid,
            ref=ref, body=row.body,
        )  # fmt: skip
        return Entry(
            seq, row.rowid.to_bytes(10, "big"), row.kind, row.precedence, row.rowid, ref, row.body, chain
        )

    def number(self, room: int, lanes: LaneFacts | None) -> tuple[list[Entry], bool]:
        """As the station's numbering job (hotline.station.lines.deliveryjobs.number_entries)."""
        limit = room if lanes is None else min(room, lanes.cell_size // 32 + 1)
        self.queued.sort(key=lambda q: (q.precedence, q.rowid))
        taken = self.queued[:limit]
        pacer = None if lanes is None else LanePacer(lanes)
        done: list[Entry] = []
        for row in taken:
            if pacer is not None and not pacer.may_queue():
                break
            entry = self.place(row)
            self.out.append(entry)
            if pacer is not None:
                pacer.queue(entry)
            done.append(entry)
        self.queued = self.queued[len(done) :]
        return done, len(done) < len(taken) or (lanes is not None and len(taken) == limit)


def bound_size(row: Queued) -> int:
    """An upper bound on the lane bytes of ``row`` once numbered (its seq is not known yet)."""
    ref = b"r" * 10 if row.kind == Kind.ACK else b""
    entry = Entry(2**31, bytes(10), row.kind, row.precedence, 2**40, ref, row.body, bytes(32))
    return entry_size(entry)


class CarrierDelivery(RuleBasedStateMachine):
    @initialize(cell_size=st.sampled_from([256, 512, 1024]))
    def start(self, cell_size: int) -> None:
        self.cell = cell_size
        self.store = StoreA(chain_start(A_KEY, B_KEY))
        self.chain_in0 = chain_start(B_KEY, A_KEY)
        self.machine = Transcript(inbound=(0, self.chain_in0), outbound=(0, self.store.chain0),
                                  chain_out0=self.store.chain0, delivered_upto=0)  # fmt: skip
        self.next_row = 0
        self.session = 0
        self.carrier: Carrier | None = None
        self.reader: CellReader | None = None
        #: B: A's entries it holds, its own entries sent, receipts on their way to A.
        self.b_in: list[Entry] = []
        self.b_out: list[Entry] = []
        self.receipts: list[Receipt] = []
        self.receipted: set[bytes] = set()
        self.control_offered = 0
        self.biggest = 0
        self.watch: dict[bytes, FlashWatch] = {}
        self.connect()

    # -- A's runtime, as hotline.station.lines.delivery carries it out

    def lanes(self) -> LaneFacts | None:
        return None if self.carrier is None else LaneFacts.of(self.carrier.status())

    def carry_out(self) -> None:
        while outputs := self.machine.pop_outputs():
            for output in outputs:
                match output:
                    case Send(message, _, lane):
                        self.offer(message, lane)
                    case StoreEntries(entries):
                        self.store.inbound.extend(entries)
                        self.machine.entries_stored()
                    case ReadChain(session, seq):
                        head = self.store.out[seq - 1].chain if 0 < seq <= len(self.store.out) else None
                        self.machine.chain_read(session, head, 0.0)
                    case MarkDelivered(_, upto):
                        self.machine.marked(upto, [], 0.0)
                    case Receipted(ids):
                        self.receipted.update(ids)
                    case _:
                        pass

    def offer(self, message: Hello | Entry | Receipt, lane: Lane | None) -> None:
        carrier = self.carrier
        assert carrier is not None
        if isinstance(message, Entry):
            assert lane is not None, "an entry in carrier mode names its lane"
            assert message == self.store.out[message.seq - 1]
            status = carrier.status()
            waiting = status.waiting[Lane.FLASH].bytes + status.waiting[Lane.MESSAGES].bytes
            # §14.3: queued only while less than a cell's worth of entries waits
            assert waiting < self.cell, (waiting, self.cell)
            if lane is Lane.FLASH:
                assert message.precedence == Precedence.FLASH
                assert status.waiting[Lane.MESSAGES].frames == 0, "a FLASH overtaking an entry in MESSAGES"
            else:
                assert lane is Lane.MESSAGES
            watch = self.watch.get(message.id)
            if watch is not None and watch.session == self.session:
                watch.lane, watch.seq = lane, message.seq
            self.biggest = max(self.biggest, entry_size(message))
        else:
            assert lane is None or lane is Lane.CONTROL
            lane = Lane.CONTROL
        frame = encode_message(Data(linemsg.encode(message)))
        carrier.offer(lane, frame)  # LaneFull here would lose a message: the test fails
        if lane is Lane.CONTROL:
            self.control_offered += len(frame) + 4

    def settle(self) -> None:
        """Poll the sender until it waits (for room or for work), running its store commands."""
        self.carry_out()
        for _ in range(10_000):
            command = self.machine.poll_sender(self.session, self.lanes())
            self.carry_out()
            match command:
                case ReadSent(session, after, limit):
                    self.machine.sent_read(session, self.store.out[after : after + limit], self.lanes())
                case NumberQueued(session, room, lanes):
                    entries, more = self.store.number(room, lanes)
                    self.machine.numbered(session, entries, room, self.lanes(), more=more)
                case None | AwaitRoom():
                    return
            self.carry_out()
        raise AssertionError("the sender never settles")

    # -- the session

    def connect(self) -> None:
        self.session = self.machine.session_started(self.cell)
        self.carrier = Carrier(0.0, interval=1.0, cell_size=self.cell)
        self.reader = CellReader(cell_size=self.cell)
        self.carry_out()  # our Hello, first in CONTROL
        b_head = self.b_in[-1].chain if self.b_in else self.store.chain0
        self.machine.hello_received(Hello(len(self.b_in), b_head, len(self.b_out)), 0.0)
        self.carry_out()  # its head read back from the store, if need be
        assert self.machine.state is LinkState.UP
        self.settle()

    @rule()
    def reconnect(self) -> None:
        """The session is cut and a new one made: what the old carrier held is gone."""
        self.machine.session_ended()
        self.receipts.clear()
        self.connect()

    # -- what happens

    @rule(
        rows=st.lists(
            st.tuples(
                st.sampled_from(list(Precedence)),
                st.sampled_from([Kind.TEXT, Kind.TEXT, Kind.ACK]),
                st.one_of(st.integers(1, 100), st.integers(100, 3000)),
            ),
            min_size=1,
            max_size=12,
        )
    )
    def queue(self, rows: list[tuple[Precedence, Kind, int]]) -> None:
        for precedence, kind, size in rows:
            self.next_row += 1
            row = Queued(int(precedence), self.next_row, int(kind), bytes([self.next_row % 251]) * size)
            if precedence == Precedence.FLASH:
                self.watch_flash(row)
            self.store.queued.append(row)
            self.machine.queued()
            self.settle()

    def watch_flash(self, row: Queued) -> None:
        """Note what a FLASH queued now has ahead of it (§14.3)."""
        carrier = self.carrier
        assert carrier is not None
        status = carrier.status()
        in_lanes = sum(status.waiting[lane].bytes for lane in (Lane.CONTROL, Lane.FLASH, Lane.MESSAGES))
        unsent = sum(entry_size(e) for e in self.store.out[self.machine.cursor :])
        flashes = sum(bound_size(q) for q in self.store.queued if q.precedence == Precedence.FLASH)
        ahead = in_lanes + unsent + flashes + bound_size(row)
        self.watch[row.rowid.to_bytes(10, "big")] = FlashWatch(
            self.session, carrier.cells_sent, ahead, self.control_offered
        )

    @rule(cells=st.integers(1, 6))
    def tick(self, cells: int) -> None:
        for _ in range(cells):
            self.one_cell()

    def one_cell(self) -> None:
        carrier, reader = self.carrier, self.reader
        assert carrier is not None and reader is not None
        (cell,) = carrier.poll(carrier.next_deadline())
        for lane, frame in reader.read(cell.data):
            message = linemsg.decode(decode_message(frame).body)  # type: ignore[attr-defined]
            if isinstance(message, Entry):
                self.b_received(message, lane, cell.index)
        self.settle()

    def b_received(self, entry: Entry, lane: Lane, index: int) -> None:
        # B accepts only the next entry, with A's chain head (§10.1)
        assert entry.seq == len(self.b_in) + 1, (entry.seq, len(self.b_in))
        assert entry == self.store.out[entry.seq - 1]
        self.b_in.append(entry)
        self.receipts.append(Receipt(entry.seq, entry.chain))
        watch = self.watch.pop(entry.id, None)
        if watch is None or watch.session != self.session:
            return
        assert watch.lane is lane
        control = self.control_offered - watch.control_at
        cells = index - watch.queued_at + 1
        allowed = math.ceil((watch.ahead + control) / (self.cell - CELL_LOSS))
        assert cells <= allowed, (cells, allowed, watch)

    @precondition(lambda self: self.receipts)
    @rule(data=st.data())
    def receipt(self, data: st.DataObject) -> None:
        """B's receipts reach A (the latest of those sent so far, or an older one)."""
        index = data.draw(st.integers(0, len(self.receipts) - 1))
        receipt = self.receipts[index]
        del self.receipts[: index + 1]
        self.machine.receipt_received(receipt, 0.0)
        self.settle()

    @rule(size=st.integers(1, 400))
    def b_sends(self, size: int) -> None:
        """B sends an entry of its own; A stores it and receipts it in CONTROL."""
        head = self.b_out[-1].chain if self.b_out else self.chain_in0
        seq = len(self.b_out) + 1
        ident, kind, precedence, body = (
            (10**9 + seq).to_bytes(10, "big"),
            int(Kind.TEXT),
            int(Precedence.ROUTINE),
            b"b" * size,
        )
        chain = chain_next(
            head, seq=seq, id=ident, kind=kind, precedence=precedence, created_ms=seq, ref=b"", body=body
        )
        entry = Entry(seq, ident, kind, precedence, seq, b"", body, chain)
        self.b_out.append(entry)
        self.machine.entry_received(entry)
        self.settle()

    # -- always

    @invariant()
    def lanes_stay_short(self) -> None:
        carrier = self.carrier
        if carrier is None:
            return
        for lane in (Lane.FLASH, Lane.MESSAGES):
            # less than a cell waited when the last entry went in: one cell and one entry at most
            assert carrier.waiting(lane).bytes < self.cell + self.biggest, (lane, carrier.waiting(lane))

    def teardown(self) -> None:
        """With receipts flowing, everything queued arrives, in order, and is receipted."""
        if not hasattr(self, "machine"):
            return
        for _ in range(20_000):
            if not self.store.queued and len(self.b_in) == len(self.store.out) and not self.receipts:
                break
            self.one_cell()
            if self.receipts:
                self.machine.receipt_received(self.receipts[-1], 0.0)
                self.receipts.clear()
                self.settle()
        assert not self.store.queued
        assert self.b_in == self.store.out
        assert self.receipted == {entry.id for entry in self.store.out}


CarrierDelivery.TestCase.settings = settings(
    max_examples=150, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
test_carrier_delivery = CarrierDelivery.TestCase
