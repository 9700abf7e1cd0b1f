"""Two delivery machines (hotline.proto.transcript) over a bad channel, against a slow reference.

Stations A and B each run a :class:`Transcript` over a model store (plain lists, changed atomically
when a store command runs). Hypothesis drives everything a real pair of stations meets: operators
queue entries (or number them at once, as ``send`` does), sessions come and go, the channel loses,
duplicates and reorders messages, store commands finish in any order, and either station crashes
at any step, before or right after a store command commits, and comes back with only what its
store holds.

The reference is the obvious one: what B holds of A's transcript must be exactly the first entries
A numbered, in order, each once, with A's chain heads; A may count as receipted (and mark
delivered) only what B holds; and nobody ever sees a chain mismatch, a rollback or a receipt for
an entry never sent. At the end the channel turns fair, and then every queued entry must be
numbered, stored at the peer and marked delivered.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from hotline.proto.delivery import chain_next, chain_start
from hotline.proto.linemsg import Entry, Hello, Kind, Receipt
from hotline.proto.transcript import Transcript
from hotline.proto.transcriptio import (
    Broken,
    LineUp,
    LinkState,
    MarkDelivered,
    NumberQueued,
    Output,
    PeerSentFewer,
    ReadChain,
    ReadSent,
    Receipted,
    Send,
    StoreCommand,
    StoreEntries,
    Why,
)

KEYS = {"a": b"\xaa" * 32, "b": b"\xbb" * 32}
OTHER = {"a": "b", "b": "a"}
sides = st.sampled_from(["a", "b"])
#: A small window, so that it fills up within a run.
WINDOW = 3


@dataclass
class ModelStore:
    """What a station holds durably: its queue, its numbered transcript, the peer's entries."""

    chain_out0: bytes
    chain_in0: bytes
    queued: list[tuple[int, int, bytes]] = field(default_factory=list)  # (precedence, rowid, id)
    out: list[Entry] = field(default_factory=list)
    delivered: set[int] = field(default_factory=set)
    delivered_upto: int = 0
    inbound: list[Entry] = field(default_factory=list)

    def head(self, entries: list[Entry], start: bytes) -> bytes:
        return entries[-1].chain if entries else start

    def number(self, precedence: int, message_id: bytes) -> Entry:
        seq = len(self.out) + 1
        fields = {"seq": seq, "id": message_id, "kind": int(Kind.TEXT), "precedence": precedence,
                  "created_ms": seq, "ref": b"", "body": message_id}  # fmt: skip
        entry = Entry(chain=chain_next(self.head(self.out, self.chain_out0), **fields), **fields)
        self.out.append(entry)
        return entry

    def run(self, command: StoreCommand) -> object:
        """Carry out ``command`` atomically; its result."""
        match command:
            case StoreEntries(entries):
                for entry in entries:
                    # the machine must never ask to store out of order, or twice
                    assert entry.seq == len(self.inbound) + 1, (entry.seq, len(self.inbound))
                    self.inbound.append(entry)
                return None
            case ReadChain(_, seq):
                return self.out[seq - 1].chain if 0 < seq <= len(self.out) else None
            case ReadSent(_, after, limit):
                return self.out[after : after + limit]
            case NumberQueued(_, room):
                self.queued.sort()
                taken, self.queued = self.queued[:room], self.queued[room:]
                return [self.number(precedence, message_id) for precedence, _, message_id in taken]
            case MarkDelivered(after, upto):
                ids = [e.id for e in self.out[after:upto] if e.seq not in self.delivered]
                self.delivered.update(range(after + 1, upto + 1))
                self.delivered_upto = max(self.delivered_upto, upto)
                return ids
        raise AssertionError(command)


class Station:
    """One side: a machine, its store, and the store commands it has asked for and not yet had."""

    def __init__(self, name: str) -> None:
        self.name = name
        us, peer = KEYS[name], KEYS[OTHER[name]]
        self.store = ModelStore(chain_start(us, peer), chain_start(peer, us))
        self.pending: list[StoreCommand] = []
        self.receipted: set[bytes] = set()
        #: The highest of our entries sent on this session (or held by the peer at its start).
        self.sent_upto = 0
        #: Entries the operator numbered while the sender's numbering was out (see send_numbered).
        self.overshoot = 0
        self.machine = self.rebuild()

    def rebuild(self) -> Transcript:
        store = self.store
        self.pending = []
        return Transcript(
            inbound=(len(store.inbound), store.head(store.inbound, store.chain_in0)),
            outbound=(len(store.out), store.head(store.out, store.chain_out0)),
            chain_out0=store.chain_out0,
            delivered_upto=store.delivered_upto,
            window=WINDOW,
        )

    def feed(self, command: StoreCommand, result: object, now: float) -> None:
        machine = self.machine
        match command:
            case StoreEntries():
                machine.entries_stored()
            case ReadChain(session):
                assert isinstance(result, bytes | None)
                machine.chain_read(session, result, now)
            case ReadSent(session):
                assert isinstance(result, list)
                machine.sent_read(session, result)
            case NumberQueued(session, room):
                assert isinstance(result, list)
                machine.numbered(session, result, room)
            case MarkDelivered(_, upto):
                assert isinstance(result, list)
                machine.marked(upto, result, now)


class Pair(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.stations = {"a": Station("a"), "b": Station("b")}
        #: Messages on their way, by receiving station; None: no session.
        self.wire: dict[str, list[Hello | Entry | Receipt]] | None = None
        self.now = 0.0
        self.next_id = 0
        #: This session's channel lost, duplicated or reordered something (a real one never does).
        self.disordered = False

    # -- plumbing

    def tick(self) -> float:
        self.now += 1.0
        return self.now

    def carry_out(self, name: str) -> None:
        """Do what station ``name``'s machine asked for, as the station's runtime would."""
        station = self.stations[name]
        broken = False
        while outputs := station.machine.pop_outputs():
            for output in outputs:
                broken |= self.apply(name, output)
        if broken:
            self.disconnect()
        self.poll()

    def apply(self, name: str, output: Output) -> bool:
        station = self.stations[name]
        match output:
            case Send(message):
                self.check_sent(station, message)
                if self.wire is not None:
                    self.wire[OTHER[name]].append(message)
            case ReadChain():
                # the reader waits for this one, so it is answered before anything else comes in
                station.feed(output, station.store.run(output), self.tick())
            case StoreEntries() | ReadSent() | NumberQueued() | MarkDelivered():
                station.pending.append(output)
            case Broken(_, why):
                # only a lost or reordered message may break a session
                assert why is Why.GAP and self.disordered, output
                return True
            case Receipted(ids):
                station.receipted.update(ids)
            case PeerSentFewer():
                # an alert only; a Hello overtaken by entries sent after it is the one honest cause
                assert self.disordered, output
            case LineUp(_, received_seq):
                station.sent_upto = received_seq
        return False

    @staticmethod
    def check_sent(station: Station, message: Hello | Entry | Receipt) -> None:
        """What goes on the wire: our own entries as stored, each next after the one before on this
        session (never skipping, never twice); receipts and Hellos that claim only what our store
        holds."""
        store = station.store
        match message:
            case Entry():
                assert message == store.out[message.seq - 1]
                assert message.seq == station.sent_upto + 1, (message.seq, station.sent_upto)
                station.sent_upto = message.seq
            case Receipt(seq, head) | Hello(seq, head):
                assert seq <= len(store.inbound)
                assert head == store.head(store.inbound[:seq], store.chain_in0)

    def disconnect(self) -> None:
        if self.wire is None:
            return
        self.wire = None
        for station in self.stations.values():
            station.machine.session_ended()

    # -- what happens

    @rule(name=sides, precedences=st.lists(st.integers(0, 3), min_size=1, max_size=3))
    def queue(self, name: str, precedences: list[int]) -> None:
        station = self.stations[name]
        for precedence in precedences:
            self.next_id += 1
            station.store.queued.append((precedence, self.next_id, self.next_id.to_bytes(10, "big")))
        station.machine.queued()
        self.poll()

    @rule(name=sides, held=st.booleans())
    def send_numbered(self, name: str, held: bool) -> None:
        """As ``send`` does when the line is up with room and nothing waits: queue and number at once."""
        station = self.stations[name]
        if station.machine.state is not LinkState.UP or station.machine.room <= 0 or station.store.queued:
            return
        if any(isinstance(command, NumberQueued) for command in station.pending):
            # the sender's numbering was sized before this one: together they may pass the window
            # by this entry (as the station always did; docs/state-machines/delivery.md)
            station.overshoot += 1
        self.next_id += 1
        entry = station.store.number(3, self.next_id.to_bytes(10, "big"))
        station.machine.numbered_now(entry, held=held)  # held: the peer withholds (§10.3)
        self.carry_out(name)

    @rule()
    def connect(self) -> None:
        if self.wire is not None:
            return
        self.wire = {"a": [], "b": []}
        self.disordered = False
        for name, station in self.stations.items():
            station.machine.session_started()
            self.carry_out(name)

    @rule()
    def cut(self) -> None:
        self.disconnect()

    @precondition(lambda self: self.wire is not None)
    @rule(
        name=sides,
        index=st.sampled_from([0, 0, 0, 1, 2, 7]),
        how=st.sampled_from(["take", "take", "take", "dup", "drop"]),
    )
    def deliver(self, name: str, index: int, how: str) -> None:
        assert self.wire is not None
        queue = self.wire[name]
        if not queue:
            return
        index %= len(queue)
        self.disordered |= index != 0 or how != "take"
        message = queue[index] if how == "dup" else queue.pop(index)
        if how == "drop":
            return
        machine = self.stations[name].machine
        match message:
            case Hello():
                machine.hello_received(message, self.tick())
            case Entry():
                machine.entry_received(message)
            case Receipt():
                machine.receipt_received(message, self.tick())
        self.carry_out(name)

    def poll(self) -> bool:
        """Each sender takes its next step, as the runtime's sender does whenever it is woken."""
        polled = False
        for station in self.stations.values():
            command = station.machine.poll_sender(station.machine.session)
            if command is not None:
                station.pending.append(command)
                polled = True
        return polled

    @precondition(lambda self: self.wire is not None and any(self.wire.values()))
    @rule(name=sides)
    def deliver_all(self, name: str) -> None:
        """A fair stretch: what is on its way to ``name`` arrives, in order."""
        while self.wire is not None and self.wire[name]:
            self.deliver(name, 0, "take")

    @precondition(lambda self: any(station.pending for station in self.stations.values()))
    @rule(name=sides)
    def finish_all(self, name: str) -> None:
        station = self.stations[name]
        while station.pending:
            self.finish(name, 0)

    @precondition(lambda self: any(station.pending for station in self.stations.values()))
    @rule(name=sides, index=st.integers(0, 10))
    def finish(self, name: str, index: int) -> None:
        """A store command commits and its result reaches the machine (in any order)."""
        station = self.stations[name]
        if not station.pending:
            return
        command = station.pending.pop(index % len(station.pending))
        station.feed(command, station.store.run(command), self.tick())
        self.carry_out(name)

    @rule(name=sides, commit_first=st.booleans())
    def crash(self, name: str, commit_first: bool) -> None:
        """The station dies (perhaps right after a store command committed) and comes back."""
        station = self.stations[name]
        if commit_first and station.pending:
            station.store.run(station.pending[0])
        self.disconnect()
        station.machine = station.rebuild()

    # -- the reference

    @invariant()
    def peer_holds_a_prefix_of_what_we_numbered(self) -> None:
        for name, station in self.stations.items():
            peer = self.stations[OTHER[name]]
            held = peer.store.inbound
            assert held == station.store.out[: len(held)]
            assert len({e.id for e in held}) == len(held)
            # receipted and marked only what the peer holds
            assert station.machine.peer_seq <= len(held)
            assert all(seq <= len(held) for seq in station.store.delivered)
            assert station.receipted <= {e.id for e in held}
            if station.machine.state is LinkState.UP:
                assert station.machine.out_seq - station.machine.peer_seq <= WINDOW + station.overshoot

    @invariant()
    def one_store_command_of_each_kind(self) -> None:
        for station in self.stations.values():
            kinds = [(type(c), c.session) if isinstance(c, ReadSent) else type(c) for c in station.pending]
            assert len(kinds) == len(set(kinds)), station.pending

    def teardown(self) -> None:
        """The channel turns fair: everything queued arrives, once, in order, and is receipted."""
        self.disconnect()
        for _ in range(60):
            self.connect()
            assert self.wire is not None
            moved = False
            for name, station in self.stations.items():
                while self.wire is not None and self.wire[name]:
                    self.deliver(name, 0, "take")
                    moved = True
                while station.pending:
                    self.finish(name, 0)
                    moved = True
            if not moved and not self.poll():
                break
        else:
            raise AssertionError("the pair did not settle")
        for name, station in self.stations.items():
            peer = self.stations[OTHER[name]]
            assert not station.store.queued
            assert peer.store.inbound == station.store.out
            assert station.machine.peer_seq == station.machine.out_seq == len(station.store.out)
            assert station.store.delivered >= set(range(1, len(station.store.out) + 1))
            assert station.machine.state is LinkState.UP


Pair.TestCase.settings = settings(
    max_examples=400, stateful_step_count=50, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
test_transcript_model = Pair.TestCase
