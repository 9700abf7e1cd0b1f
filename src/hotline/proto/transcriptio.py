"""The states, outputs and lane facts of the delivery machine (:mod:`hotline.proto.transcript`).

Plain values only: what :class:`~hotline.proto.transcript.Transcript` says (messages to send, store
commands, events) and what the runtime tells it about a carrier's lanes (:class:`LaneFacts`).
docs/state-machines/delivery.md describes them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from hotline.proto.carrier import Lane
from hotline.proto.errors import ErrorCode
from hotline.proto.linemsg import Entry, Hello, Receipt
from hotline.proto.pacing import LaneFacts


class LinkState(enum.Enum):
    """Where the current session of a line stands, for delivery."""

    #: No session.
    DOWN = "down"
    #: Our ``Hello`` is sent; the peer's has not come.
    AWAIT_HELLO = "await-hello"
    #: The peer's ``Hello`` came; its head is being read from the store to check it.
    CHECK_HELLO = "check-hello"
    #: Both ``Hello`` messages are in and checked: entries flow.
    UP = "up"
    #: The peer broke a rule (or our store failed): the session must end; its input is ignored.
    BROKEN = "broken"


class Why(enum.Enum):
    """Why a session broke (:class:`Broken`)."""

    #: A ``Hello`` claims more of our entries than we ever sent: our store was rolled back (§10.2.3).
    ROLLED_BACK = "rolled-back"
    #: A ``Hello``'s head differs from our chain at its sequence number.
    HELLO_MISMATCH = "hello-mismatch"
    #: An entry came after a gap (§10.1).
    GAP = "gap"
    #: An entry's head does not extend our inbound chain (§10.1).
    CHAIN = "chain"
    #: A receipt names an entry we never sent.
    RECEIPT_BEYOND = "receipt-beyond"
    #: A receipt's head differs from our chain at its sequence number.
    RECEIPT_MISMATCH = "receipt-mismatch"
    #: Storing accepted entries failed: they are forgotten and come again on the next session.
    STORE_FAILED = "store-failed"


# -- outputs: messages, store commands, events ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Send:
    """Send ``message`` on the current session."""

    message: Hello | Entry | Receipt
    #: Put it on the wire now (the peer waits for it) rather than letting records fill up.
    flush: bool = False
    #: In carrier mode, the lane an entry goes in (§14.3); None: the message's own lane
    #: (:func:`hotline.proto.linemsg.carrier_lane`), or no carrier.
    lane: Lane | None = None


@dataclass(frozen=True, slots=True)
class StoreEntries:
    """Store these accepted inbound entries in one transaction, then call ``entries_stored``.

    Empty: nothing to store, a receipt is due; answer it on the runtime's next turn, so that a
    burst of duplicates costs one receipt."""

    entries: tuple[Entry, ...]


@dataclass(frozen=True, slots=True)
class ReadChain:
    """Read our outbound chain head after entry ``seq`` and call ``chain_read``."""

    session: int
    seq: int


@dataclass(frozen=True, slots=True)
class ReadSent:
    """Read up to ``limit`` numbered outbound entries after ``after``, in order; call ``sent_read``."""

    session: int
    after: int
    limit: int


@dataclass(frozen=True, slots=True)
class NumberQueued:
    """Number up to ``room`` queued outbound entries (by precedence, then queue order) in one
    transaction and call ``numbered``. Its result counts even if the session is gone meanwhile."""

    session: int
    room: int
    #: In carrier mode, the lanes when it was asked: number the next entry only while
    #: :meth:`hotline.proto.pacing.LanePacer.may_queue` (§14.3); None: up to ``room``.
    lanes: LaneFacts | None = None


@dataclass(frozen=True, slots=True)
class MarkDelivered:
    """Mark our entries ``(after, upto]`` delivered in the store; call ``marked`` with their ids."""

    after: int
    upto: int


@dataclass(frozen=True, slots=True)
class AwaitRoom:
    """Carrier mode: the sender has entries to queue but the lanes hold a cell's worth; poll again
    when cells have left (§14.3)."""


StoreCommand = StoreEntries | ReadChain | ReadSent | NumberQueued | MarkDelivered


@dataclass(frozen=True, slots=True)
class LineUp:
    """The peer's ``Hello`` checked out: the session carries entries now."""

    session: int
    #: How many of our entries the peer holds.
    received_seq: int


@dataclass(frozen=True, slots=True)
class Receipted:
    """Our entries ``ids`` are stored at the peer (known at ``at``)."""

    ids: tuple[bytes, ...]
    at: float


@dataclass(frozen=True, slots=True)
class Broken:
    """The session must end: ``why``, at sequence number ``seq`` (``other``: the number it should be
    within or was due, where there is one)."""

    session: int
    why: Why
    seq: int
    other: int = 0

    @property
    def code(self) -> ErrorCode:
        """The ``Close`` code the session ends with (docs/protocol.md §6): the peer broke a rule of
        §10, except when our own store failed."""
        return ErrorCode.LOCAL_CLOSE if self.why is Why.STORE_FAILED else ErrorCode.PROTOCOL_VIOLATION

    @property
    def reason(self) -> str:
        """The ``Close`` reason: what the peer sent that broke the rule, in its own terms (no names)."""
        seq, other = self.seq, self.other
        match self.why:
            case Why.ROLLED_BACK:
                return f"Hello names entry {seq} of ours; we sent {other} (§10.2 rule 3)"
            case Why.HELLO_MISMATCH:
                return f"Hello's head at our entry {seq} is not our chain's (§10.2 rule 3)"
            case Why.GAP:
                return f"entry {seq} where {other} was due (§10.1)"
            case Why.CHAIN:
                return f"entry {seq} does not extend the chain (§10.1)"
            case Why.RECEIPT_BEYOND:
                return f"Receipt for entry {seq}; we sent {other} (§10.2 rule 2)"
            case Why.RECEIPT_MISMATCH:
                return f"Receipt's head at entry {seq} is not our chain's (§10.2 rule 2)"
            case Why.STORE_FAILED:
                return "closed"


@dataclass(frozen=True, slots=True)
class PeerSentFewer:
    """The peer's ``Hello`` says it sent ``sent_seq`` entries, but we hold ``held``: its store was
    rolled back. An alert, and the session goes on."""

    sent_seq: int
    held: int


DeliveryEvent = LineUp | Receipted | Broken | PeerSentFewer
Output = Send | StoreCommand | DeliveryEvent


__all__ = [
    "AwaitRoom",
    "Broken",
    "DeliveryEvent",
    "LineUp",
    "LinkState",
    "MarkDelivered",
    "NumberQueued",
    "Output",
    "PeerSentFewer",
    "ReadChain",
    "ReadSent",
    "Receipted",
    "Send",
    "StoreCommand",
    "StoreEntries",
    "Why",
]
