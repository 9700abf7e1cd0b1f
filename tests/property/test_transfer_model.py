"""The document transfer machines (docs/protocol.md §13) against a slow reference, under faults.

A simulated world runs a :class:`Sender` and a :class:`Receiver` over one line: a session is a pair
of reliable, ordered queues; a cut loses everything in flight both ways and starts a new session
(the sender asks WHERE, the receiver asks again). The receiver's writes, fsyncs, loop callbacks and
store jobs are queues of their own, run one step at a time in any order hypothesis picks; either
end may restart at any step, keeping only what its store holds (the receiver: the durable offset,
its file cut back to it; the sender: the last ``stored`` it heard). The disk may refuse a chunk
(the receiver pauses, and asks again when its timer says).

The reference is the obvious reading of §13, kept apart from the machines: the receiver takes a
chunk only when it has asked in this life and is not paused or done, only at exactly the end of
what it holds, and fails one that runs past the size or is short before the end; the sender never
has more than the window in flight beyond the last report of this session. After the faults, a
fault-free run must end with the receiver's file equal to the sender's and both ends agreeing it is
complete.

Small numbers (4-byte chunks, a 16-byte window) make every rule bite within a few dozen bytes.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from hypothesis import example, given, settings
from hypothesis import strategies as st

from hotline.proto.document import DocState
from hotline.proto.linemsg import DocData, DocProgress
from hotline.proto.transfer import (
    Completed,
    DataVerdict,
    Failed,
    Paused,
    Receiver,
    ReceiverAction,
    ReceiverState,
    Record,
    RecordComplete,
    Reopen,
    Send,
    Sender,
    Write,
    WriteCadence,
)

DOC = b"p" * 16
CHUNK, WINDOW, TAKEN_EVERY, SYNC_EVERY, RETRY = 4, 16, 8, 20, 1.0

FAULTS = ("cut", "restart_receiver", "restart_sender", "refuse_room")
STEPS = ("send", "to_receiver", "to_sender", "write", "sync", "post", "store", "tick")


@dataclass
class Reference:
    """What §13 says the receiver may take, computed from scratch."""

    held: int = 0
    asked: bool = False
    paused: bool = False
    done: bool = False

    def verdict(self, offset: int, length: int, size: int) -> DataVerdict:
        if not self.asked or self.paused or self.done or offset != self.held:
            return DataVerdict.IGNORED
        if offset + length > size or (length != CHUNK and offset + length != size):
            return DataVerdict.FAILED
        return DataVerdict.TAKE


@dataclass
class World:
    source: bytes
    now: float = 0.0
    sender: Sender = field(init=False)
    receiver: Receiver | None = field(init=False)
    #: The sender's store: the last ``stored`` heard, and whether it heard the end.
    sender_stored: int = 0
    sender_ended: bool = False
    #: The receiver's store: the durable offset and whether the document is recorded complete.
    durable: int = 0
    complete: bool = False
    #: The receiver's file (what was written; beyond ``durable`` a restart may lose it).
    disk: bytearray = field(default_factory=bytearray)
    to_receiver: deque[DocData | DocProgress] = field(default_factory=deque)
    to_sender: deque[DocProgress] = field(default_factory=deque)
    writes: deque[Write] = field(default_factory=deque)
    syncs: deque[tuple[int, bool]] = field(default_factory=deque)
    posts: deque[tuple[str, int]] = field(default_factory=deque)
    jobs: deque[Record | RecordComplete] = field(default_factory=deque)
    cadence: WriteCadence = field(init=False)
    reference: Reference = field(default_factory=Reference)
    #: The highest RECEIVING offset the receiver said in this session (the window's honest edge).
    reported: int = 0
    refuse_next: bool = False

    def __post_init__(self) -> None:
        self.sender = Sender(len(self.source), chunk=CHUNK, window=WINDOW)
        self.receiver = self._new_receiver()
        self.cadence = self._new_cadence()
        self._open()  # the DOC entry is stored
        self.to_receiver.append(self.sender.session_started(DOC))

    @property
    def size(self) -> int:
        return len(self.source)

    def _new_receiver(self) -> Receiver:
        return Receiver(DOC, self.size, self.durable, chunk=CHUNK, retry_after=RETRY)

    def _open(self) -> None:
        # an empty document has no byte to ask for: it is checked at once (as the station does)
        assert self.receiver is not None
        if self.size == 0:
            self.receiver_do(self.receiver.checked(self.source == b""))
        else:
            self.receiver_do(self.receiver.ask())

    def _new_cadence(self) -> WriteCadence:
        return WriteCadence(self.size, taken_every=TAKEN_EVERY, sync_every=SYNC_EVERY)

    # -- what the receiver's station does with the machine's answers

    def receiver_do(self, actions: list[ReceiverAction]) -> None:
        for action in actions:
            match action:
                case Send(message):
                    self.to_sender.append(message)
                    if message.state == DocState.RECEIVING:
                        self.reported = max(self.reported, message.stored)
                        self.reference.asked = True
                        self.reference.paused = False
                    elif message.state == DocState.PAUSED:
                        self.reference.paused = True
                    else:
                        self.reference.done = True
                case Write():
                    self.writes.append(action)
                case Record() | RecordComplete():
                    self.jobs.append(action)
                case Paused() | Completed():
                    pass
                case Failed():
                    raise AssertionError(f"an honest transfer failed: {action}")
                case Reopen():
                    raise AssertionError("no fsync fails in this model")

    # -- the steps

    def step(self, name: str) -> None:
        getattr(self, f"_{name}")()

    def _send(self) -> None:
        if self.sender.ended:
            return
        chunk = self.sender.next_chunk()
        if chunk is None:
            return
        offset, length = chunk
        # never more than the window beyond what the receiver said in this session
        assert offset + length <= self.sender.taken + WINDOW <= self.reported + WINDOW
        self.to_receiver.append(DocData(DOC, offset, self.source[offset : offset + length]))
        self.sender.chunk_sent(offset, length)

    def _to_receiver(self) -> None:
        if not self.to_receiver:
            return
        message = self.to_receiver.popleft()
        receiver = self.receiver
        if isinstance(message, DocProgress):  # WHERE: answered only for an ended document
            if self.complete:
                self.to_sender.append(DocProgress(DOC, self.size, DocState.COMPLETE))
            return
        if receiver is None:
            return
        expected = self.reference.verdict(message.offset, len(message.data), self.size)
        verdict, actions = receiver.data(message.offset, len(message.data))
        assert verdict is expected, (verdict, expected, message.offset, self.reference)
        self.receiver_do(actions)
        if verdict is DataVerdict.TAKE:
            if self.refuse_next:
                self.refuse_next = False
                self.receiver_do(receiver.pause(self.now))
                return
            assert message.offset + len(message.data) <= self.reported + WINDOW
            self.reference.held = message.offset + len(message.data)
            self.receiver_do(receiver.accept(message.offset, message.data))

    def _to_sender(self) -> None:
        if not self.to_sender:
            return
        message = self.to_sender.popleft()
        heard = self.sender.progress(message.stored, DocState(message.state))
        if heard is not None:
            self.sender_stored = self.sender.stored
            self.sender_ended = self.sender.ended

    def _write(self) -> None:
        if not self.writes:
            return
        write = self.writes.popleft()
        end = write.offset + len(write.data)
        del self.disk[write.offset :]
        self.disk[write.offset : end] = write.data
        if end == self.size:
            self.syncs.append((end, True))  # the last chunk: hashed, then made durable and checked
            return
        report, sync = self.cadence.written(end, len(write.data))
        if report:
            self.posts.append(("taken", end))
        if sync:
            self.syncs.append((end, False))

    def _sync(self) -> None:
        if self.syncs:
            mark, last = self.syncs.popleft()
            self.posts.append(("checked" if last else "synced", mark))

    def _post(self) -> None:
        if not self.posts or self.receiver is None:
            return
        what, mark = self.posts.popleft()
        if what == "taken":
            self.receiver_do(self.receiver.taken(mark))
        elif what == "synced":
            self.receiver_do(self.receiver.synced(mark))
        else:
            self.receiver_do(self.receiver.checked(bytes(self.disk[: self.size]) == self.source))

    def _store(self) -> None:
        if not self.jobs or self.receiver is None:
            return
        job = self.jobs.popleft()
        if isinstance(job, Record):
            self.durable = max(self.durable, job.stored)
            self.receiver_do(self.receiver.recorded(job.stored))
        else:
            self.complete = True
            self.receiver_do(self.receiver.complete_recorded())

    def _tick(self) -> None:
        self.now += 1.0
        if self.receiver is not None:
            due = self.receiver.get_timer()
            if due is not None and due <= self.now:
                self.receiver_do(self.receiver.handle_timer(self.now))

    # -- the faults

    def _cut(self) -> None:
        self.to_receiver.clear()
        self.to_sender.clear()
        self.sender.session_ended()
        self.reported = 0
        self.reference.asked = False
        # a new session: the sender asks WHERE, the receiver asks for what it has not finished
        if not self.sender.ended:
            self.to_receiver.append(self.sender.session_started(DOC))
        if self.receiver is not None and not self.receiver.ended:
            self.receiver_do(self.receiver.ask())

    def _restart_receiver(self) -> None:
        # what was not recorded is gone; the file is cut back to the durable offset
        self.writes.clear()
        self.syncs.clear()
        self.posts.clear()
        self.jobs.clear()
        del self.disk[self.durable :]
        self.cadence = self._new_cadence()
        self.receiver = None if self.complete else self._new_receiver()
        self.reference = Reference(held=self.durable, done=self.complete)
        self._cut()
        if self.receiver is not None and self.size == 0:
            self._open()

    def _restart_sender(self) -> None:
        self.sender = Sender(self.size, self.sender_stored, chunk=CHUNK, window=WINDOW)
        if self.sender_ended:
            self.sender.ended = True
        self._cut()

    def _refuse_room(self) -> None:
        self.refuse_next = True

    def finished(self) -> bool:
        return self.complete and self.sender.ended


#: A pause, then a new request before the sender heard of the pause: chunks it sent meanwhile arrive
#: past the offset the receiver asks from, and must be dropped.
STALE_AFTER_PAUSE = ["to_sender", "send", "send", "send", "to_receiver", "refuse_room", "to_receiver",
                     "to_receiver", "tick", "to_receiver"]  # fmt: skip


@settings(max_examples=250, deadline=None)
@example(source=bytes(range(40)), steps=STALE_AFTER_PAUSE)
@given(
    source=st.binary(min_size=0, max_size=90),
    steps=st.lists(st.sampled_from(STEPS + FAULTS), max_size=150),
)
def test_a_document_arrives_whole_through_cuts_restarts_and_pauses(source: bytes, steps: list[str]) -> None:
    world = World(source)
    for name in steps:
        world.step(name)
        assert bytes(world.disk[: world.durable]) == source[: world.durable], "durable bytes are wrong"
    # then a fault-free while: every queue gets its turn until nothing is left to do
    world.refuse_next = False
    for _ in range(2000):
        if world.finished():
            break
        for name in STEPS:
            world.step(name)
    assert world.finished(), "the transfer did not finish once the faults stopped"
    assert bytes(world.disk) == source
    assert world.receiver is None or world.receiver.state is ReceiverState.COMPLETE


@settings(max_examples=200, deadline=None)
@given(
    size=st.integers(min_value=0, max_value=60),
    reports=st.lists(st.tuples(st.integers(0, 70), st.sampled_from(list(DocState))), max_size=40),
    sends=st.lists(st.booleans(), max_size=40),
)
def test_whatever_a_receiver_says_the_sender_stays_within_its_window(
    size: int, reports: list[tuple[int, DocState]], sends: list[bool]
) -> None:
    """A receiver may say anything (a lying or broken peer): the sender never raises, never sends
    past the size, and never has more than the window beyond the last request or report it took."""
    sender = Sender(size, chunk=CHUNK, window=WINDOW)
    for (stored, state), send in zip(reports, sends, strict=False):
        sender.progress(stored, state)
        while send and (chunk := sender.next_chunk()) is not None:
            offset, length = chunk
            assert 0 <= offset < offset + length <= size
            assert offset + length - sender.taken <= WINDOW
            sender.chunk_sent(offset, length)
