"""The document transfer rules (docs/protocol.md §13) as sans-IO machines, one per document and end.

Theory of operation. A document's bytes travel as ``DocData(doc_id, offset, data)`` chunks outside
the transcript, and only when the receiver asks: ``DocProgress(stored, RECEIVING)`` says "I hold
everything before ``stored``; send from there". The receiver takes only the chunk at exactly the
offset it expects, reports what it has *taken* (written, not yet durable) every ``taken_every``
bytes, makes what it holds *durable* every ``sync_every`` bytes and reports that too; the sender
keeps at most ``window`` bytes in flight beyond the last report it heard. Within a session the
transport is reliable and ordered; a session that ends loses whatever was in flight, and the next
one starts again from what the receiver says it holds. A restarted receiver goes back to what is
durable; a restarted sender knows only what the receiver last said was durable.

This module owns those rules and nothing else: three machines, each told what happened and answering
with values to act on.

* :class:`Sender`: the sending end's view of one document (where to send from, the window).
* :class:`Receiver`: the receiving end's view (the offset it takes next, what is durable, its state);
  its answers are :data:`ReceiverAction` values: a ``DocProgress`` to send, bytes to write, a durable
  offset or the completion to record, and what happened (paused, failed, completed).
* :class:`WriteCadence`: run next to the receiver's disk writes (it may live on the writer's thread):
  after each write it says whether to report what is taken and whether to make it durable.

It refuses to know about sockets, threads, files, the store, clocks, quotas and alerts: the station
(``hotline.station.documents``) reads the files, writes and fsyncs, checks the disk and tells the
operator. Nothing here raises on what a peer sends: out-of-turn or stale input is ignored, as §13
says, and input that breaks the document's description fails the document.

Sender transitions (``want`` is where to send from, None while not asked; ``taken`` the window's
left edge; ``finished``: every byte went out in this session):

=====================  ============================================  ===================================
on                     when                                          then
=====================  ============================================  ===================================
session_started        always                                        send ``DocProgress(stored, WHERE)``
session_ended          always                                        want = None, finished = False
progress               ``stored`` > size                             ignored
progress RECEIVING     want is None and not finished, or want <      want = taken = stored (a request)
                       stored
progress RECEIVING     otherwise (sending past it, or all sent)      taken = max(taken, stored)
progress PAUSED        always                                        want = None, finished = False
progress COMPLETE      always                                        want = None, ended
progress FAILED        always                                        want = None, ended
chunk_sent             end < size                                    want = end
chunk_sent             end >= size                                   want = None, finished = True
give_up                always                                        want = None
=====================  ============================================  ===================================

:meth:`Sender.next_chunk` is the chunk to send now: none while ``want`` is None or the window is
full (``want - taken >= window``).

Receiver transitions (states in :class:`ReceiverState`; "send P(x, S)" is ``DocProgress(x, S)``):

============  ============================================  ============  ===============================
from          on                                            to            then
============  ============================================  ============  ===============================
IDLE, PAUSED  ask                                           RECEIVING     send P(expected, RECEIVING)
RECEIVING     ask                                           RECEIVING     send P(expected, RECEIVING)
RECEIVING     data at ``expected``, end > size              FAILED        send P(0, FAILED); Failed
RECEIVING     data at ``expected``, short, not the last     FAILED        send P(0, FAILED); Failed
RECEIVING     data at ``expected``, fits                    RECEIVING     verdict TAKE (no change yet)
RECEIVING     accept(data) after TAKE                       RECEIVING     expected = end; Write
any           data anywhere else (not asked, stale offset)  (same)        ignored
RECEIVING     taken(mark)                                   RECEIVING     send P(mark, RECEIVING)
any but       synced(mark)                                  (same)        Record(mark)
ended
any           recorded(mark)                                (same)        durable = max; send
                                                                          P(durable, RECEIVING) if
                                                                          RECEIVING
IDLE,         pause (full disk, quota, failed write or      PAUSED        send P(expected, PAUSED);
RECEIVING,    store), at ``now``                                          Paused; timer: now + retry_after
FINISHING
RECEIVING     write_failed(offset)                          PAUSED        expected = min(expected,
                                                                          offset); as pause
RECEIVING     sync_failed                                   PAUSED        stale (reopen from durable);
                                                                          as pause
any live      checked(ok) (an empty document is checked     FINISHING     RecordComplete
              without asking; a paused one may finish)
any live      checked(not ok)                               FAILED        send P(0, FAILED); Failed
FINISHING     complete_recorded                             COMPLETE      send P(size, COMPLETE);
                                                                          Completed
FINISHING     complete_failed                               PAUSED        as pause
PAUSED        timer due, not stale                          RECEIVING     as ask
PAUSED        timer due, stale                              PAUSED        Reopen (a new receiver from the
                                                                          store, which then asks)
any live      fail (refused by a quota, by the operator)    FAILED        send P(0, FAILED); Failed
============  ============================================  ============  ===============================

``taken`` and ``recorded`` say nothing while the receiver is not RECEIVING (paused, finishing or
ended); a paused receiver asks again with ``ask``. A stale receiver is replaced by a new one built
on what the store holds (:meth:`Receiver.resumed`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from hotline.proto.constants import DOC_CHUNK, DOC_RETRY_PAUSED, DOC_SYNC_EVERY, DOC_TAKEN_EVERY, DOC_WINDOW
from hotline.proto.document import DocState
from hotline.proto.linemsg import DocProgress

__all__ = [
    "Completed",
    "DataVerdict",
    "FailReason",
    "Failed",
    "Heard",
    "Paused",
    "Receiver",
    "ReceiverAction",
    "ReceiverState",
    "Record",
    "RecordComplete",
    "Reopen",
    "Send",
    "Sender",
    "Write",
    "WriteCadence",
]


# -- the sender ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Heard:
    """What a ``DocProgress`` from the receiver told the sender (None from :meth:`Sender.progress`
    when it was ignored)."""

    #: What the receiver holds, as it said.
    stored: int
    #: Its state: RECEIVING, PAUSED, COMPLETE or FAILED.
    state: DocState
    #: It asked for bytes from ``stored`` (rather than reporting progress).
    requested: bool


class Sender:
    """The sending end of one document. Not thread-safe; a fresh one knows only ``stored``.

    Args:
        size: the document's size, as its DOC entry says.
        stored: what the receiver last said it holds for sure (0 for a new document).
        chunk, window: the §13 numbers (smaller ones in tests).
    """

    def __init__(
        self, size: int, stored: int = 0, *, chunk: int = DOC_CHUNK, window: int = DOC_WINDOW
    ) -> None:
        self.size = size
        self.chunk = chunk
        self.window = window
        #: Send from here (None: the receiver has not asked in this session, or paused).
        self.want: int | None = None
        #: What the receiver holds for sure.
        self.stored = stored
        #: What the receiver has taken (written, maybe not yet durable): the window's left edge.
        self.taken = 0
        #: Every byte went out in this session: later RECEIVING reports are progress, not requests,
        #: until the receiver pauses or the session ends.
        self.finished = False
        #: The receiver said COMPLETE or FAILED.
        self.ended = False

    def session_started(self, doc_id: bytes) -> DocProgress:
        """Call when a session starts (after hello): the question to ask the receiver."""
        return DocProgress(doc_id, self.stored, DocState.WHERE)

    def session_ended(self) -> None:
        """Call when the session ends: what was in flight is gone; the receiver asks again."""
        self.want = None
        self.finished = False

    def progress(self, stored: int, state: DocState) -> Heard | None:
        """Call with a ``DocProgress`` the receiver sent (never WHERE). None: ignored."""
        if stored > self.size or self.ended:
            return None
        requested = False
        if state is DocState.RECEIVING:
            idle = self.want is None and not self.finished
            if idle or (self.want is not None and self.want < stored):
                self.want = self.taken = stored  # (again) from there
                requested = True
            else:
                self.taken = max(self.taken, stored)  # durable reports lag behind taken ones
            self.stored = stored
        elif state is DocState.PAUSED:
            self.want = None
            self.finished = False  # it asks again (from where it stands) when it can
            self.stored = stored
        elif state is DocState.COMPLETE:
            self.want = None
            self.stored = self.size
            self.ended = True
        elif state is DocState.FAILED:
            self.want = None
            self.stored = stored
            self.ended = True
        else:
            return None
        return Heard(stored, state, requested)

    @property
    def window_full(self) -> bool:
        """Whether sending waits for the receiver to take more."""
        return self.want is not None and self.want - self.taken >= self.window

    def next_chunk(self) -> tuple[int, int] | None:
        """The chunk to send now, as (offset, length), or None (not asked, all sent, window full)."""
        if self.want is None or self.want >= self.size or self.window_full:
            return None
        # the window bounds where a chunk ends, not only where it starts: a receiver may report an
        # offset that is not on a chunk boundary
        room = self.taken + self.window - self.want
        return self.want, min(self.chunk, self.size - self.want, room)

    def chunk_sent(self, offset: int, length: int) -> None:
        """Call after a chunk of ``length`` bytes at ``offset`` was handed to the session."""
        end = offset + length
        if end >= self.size:
            self.want = None  # all sent: the receiver says COMPLETE (or pauses) from here
            self.finished = True
        else:
            self.want = end

    def give_up(self) -> None:
        """Call when the document cannot be read any more: nothing more is sent."""
        self.want = None


# -- the receiver ----------------------------------------------------------------------------------


class ReceiverState(enum.Enum):
    """Where a receiver stands with one document."""

    #: Opened, not asking (not asked yet, or held for the operator).
    IDLE = "idle"
    #: Asking for bytes and taking them.
    RECEIVING = "receiving"
    #: Cannot store more now; asks again (``ask``) when it can.
    PAUSED = "paused"
    #: Every byte is durable and the hash matched; the completion is being recorded.
    FINISHING = "finishing"
    #: Recorded complete; COMPLETE was said.
    COMPLETE = "complete"
    #: Failed its checks (or refused); FAILED was said.
    FAILED = "failed"


class FailReason(enum.Enum):
    """Why a receiver failed a document."""

    #: The sender sent bytes past the announced size.
    OVERSIZE = "oversize"
    #: A chunk shorter than a full one, before the last.
    SHORT_CHUNK = "short-chunk"
    #: The whole SHA-256 does not match the DOC entry's.
    HASH_MISMATCH = "hash-mismatch"
    #: The station refused it (a quota, the operator).
    REFUSED = "refused"


class DataVerdict(enum.Enum):
    """What a receiver makes of a ``DocData``."""

    #: Not asked for, stale offset, or the document ended: dropped (the sender goes on where told).
    IGNORED = "ignored"
    #: The chunk it expects: write it unless the station has no room (:meth:`Receiver.accept`).
    TAKE = "take"
    #: The chunk broke the document's description: it failed (the actions say so).
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Send:
    """Send this message on the line's session (if there is one)."""

    message: DocProgress


@dataclass(frozen=True, slots=True)
class Write:
    """Write these bytes at ``offset`` (a chunk boundary) and pass them to the hash."""

    offset: int
    data: bytes | memoryview


@dataclass(frozen=True, slots=True)
class Record:
    """Record in the store that everything before ``stored`` is durable; then call ``recorded``."""

    stored: int


@dataclass(frozen=True, slots=True)
class RecordComplete:
    """Record the document complete; then call ``complete_recorded`` (or ``complete_failed``)."""


@dataclass(frozen=True, slots=True)
class Paused:
    """The document paused (the station alerts and asks again later)."""


@dataclass(frozen=True, slots=True)
class Failed:
    """The document failed (the station alerts, records it and deletes its file)."""

    reason: FailReason
    #: Where the offending chunk started (OVERSIZE, SHORT_CHUNK), else -1.
    offset: int = -1


@dataclass(frozen=True, slots=True)
class Reopen:
    """The pause is over but the receiver is stale: replace it with :meth:`Receiver.resumed`, built
    on what the store holds (re-reading and re-hashing what is durable), then ``ask``."""


@dataclass(frozen=True, slots=True)
class Completed:
    """The document is complete and recorded (the station tells its followers)."""


ReceiverAction = Send | Write | Record | RecordComplete | Paused | Reopen | Failed | Completed

_LIVE = (ReceiverState.IDLE, ReceiverState.RECEIVING, ReceiverState.PAUSED)


class Receiver:
    """The receiving end of one document. Not thread-safe.

    Args:
        doc_id, size: the document's, as its DOC entry says.
        durable: what the store records as durable (where a restarted receiver starts).
        chunk: the §13 chunk size (smaller in tests).
        retry_after: seconds a pause lasts before the receiver asks again.
    """

    def __init__(
        self,
        doc_id: bytes,
        size: int,
        durable: int = 0,
        *,
        chunk: int = DOC_CHUNK,
        retry_after: float = DOC_RETRY_PAUSED,
    ) -> None:
        self.doc_id = doc_id
        self.size = size
        self.chunk = chunk
        self.retry_after = retry_after
        #: When a pause ends (None: not paused).
        self.retry_at: float | None = None
        self.state = ReceiverState.IDLE
        #: The next offset taken.
        self.expected = durable
        #: What is on disk for sure (fsynced and recorded).
        self.durable = durable
        #: An fsync failed: what was written since ``durable`` may be gone and the hash has seen it;
        #: the station replaces this receiver with :meth:`resumed` before going on.
        self.stale = False

    def resumed(self) -> Receiver:
        """A new receiver starting from what is durable (after a restart, or when stale)."""
        return Receiver(self.doc_id, self.size, self.durable, chunk=self.chunk, retry_after=self.retry_after)

    @property
    def receiving(self) -> bool:
        """Whether it asks for and takes bytes now."""
        return self.state is ReceiverState.RECEIVING

    @property
    def ended(self) -> bool:
        """Whether it has finished (or is recording its completion) or failed."""
        return self.state not in _LIVE

    def _say(self, stored: int, state: DocState) -> Send:
        return Send(DocProgress(self.doc_id, stored, state))

    def ask(self) -> list[ReceiverAction]:
        """Call to ask for the bytes from ``expected``: when the DOC entry is stored (unless held),
        at the start of every session, and when a pause is over."""
        if self.ended:
            return []
        self.state = ReceiverState.RECEIVING
        self.retry_at = None
        return [self._say(self.expected, DocState.RECEIVING)]

    def get_timer(self) -> float | None:
        """When :meth:`handle_timer` is due (the end of a pause), or None."""
        return self.retry_at

    def handle_timer(self, now: float) -> list[ReceiverAction]:
        """Call at (or after) :meth:`get_timer`: a pause is over, ask again (or reopen if stale)."""
        if self.retry_at is None or now < self.retry_at or self.state is not ReceiverState.PAUSED:
            return []
        self.retry_at = None
        if self.stale:
            return [Reopen()]
        return self.ask()

    def data(self, offset: int, length: int) -> tuple[DataVerdict, list[ReceiverAction]]:
        """Call with a ``DocData``'s offset and length. On TAKE, call :meth:`accept` or :meth:`pause`."""
        if not self.receiving or offset != self.expected:
            return DataVerdict.IGNORED, []
        end = offset + length
        if end > self.size:
            return DataVerdict.FAILED, self._fail(FailReason.OVERSIZE, offset)
        if length != self.chunk and end != self.size:
            return DataVerdict.FAILED, self._fail(FailReason.SHORT_CHUNK, offset)
        return DataVerdict.TAKE, []

    def accept(self, offset: int, data: bytes | memoryview) -> list[ReceiverAction]:
        """Call after :meth:`data` said TAKE and the station has room: write the chunk."""
        assert self.receiving and offset == self.expected, "accept only what data() said to take"
        self.expected = offset + len(data)
        return [Write(offset, data)]

    def taken(self, mark: int) -> list[ReceiverAction]:
        """Call when everything before ``mark`` is written (see :class:`WriteCadence`)."""
        if not self.receiving:
            return []
        return [self._say(mark, DocState.RECEIVING)]

    def synced(self, mark: int) -> list[ReceiverAction]:
        """Call when everything before ``mark`` was fsynced: record it."""
        if self.ended:
            return []
        return [Record(mark)]

    def recorded(self, mark: int) -> list[ReceiverAction]:
        """Call when the store holds ``mark`` as durable: report it to the sender."""
        self.durable = max(self.durable, mark)
        if not self.receiving:
            return []
        return [self._say(self.durable, DocState.RECEIVING)]

    def pause(self, now: float) -> list[ReceiverAction]:
        """Call when the station cannot store more now (a full disk, a quota's reserve, a store error)."""
        if self.state not in (ReceiverState.IDLE, ReceiverState.RECEIVING, ReceiverState.FINISHING):
            return []
        self.state = ReceiverState.PAUSED
        self.retry_at = now + self.retry_after
        # the chunk that failed was neither written nor hashed: we go on from ``expected``
        return [self._say(self.expected, DocState.PAUSED), Paused()]

    def write_failed(self, offset: int, now: float) -> list[ReceiverAction]:
        """Call when the write of the chunk at ``offset`` failed (it was neither written nor hashed)."""
        self.expected = min(self.expected, offset)
        return self.pause(now)

    def sync_failed(self, now: float) -> list[ReceiverAction]:
        """Call when an fsync failed: start again from the durable point once the pause is over."""
        self.stale = True
        return self.pause(now)

    def checked(self, ok: bool) -> list[ReceiverAction]:
        """Call when the last byte is durable, with whether the whole SHA-256 matched."""
        if self.ended:
            return []
        if not ok:
            return self._fail(FailReason.HASH_MISMATCH)
        self.state = ReceiverState.FINISHING
        return [RecordComplete()]

    def complete_recorded(self) -> list[ReceiverAction]:
        """Call when the store holds the document complete."""
        if self.state is not ReceiverState.FINISHING:
            return []
        self.state = ReceiverState.COMPLETE
        self.durable = self.expected = self.size
        return [self._say(self.size, DocState.COMPLETE), Completed()]

    def complete_failed(self, now: float) -> list[ReceiverAction]:
        """Call when recording the completion failed: pause (and check again when asked)."""
        return self.pause(now)

    def fail(self) -> list[ReceiverAction]:
        """Call when the station refuses the document (a quota, the operator)."""
        if self.ended:
            return []
        return self._fail(FailReason.REFUSED)

    def _fail(self, reason: FailReason, offset: int = -1) -> list[ReceiverAction]:
        self.state = ReceiverState.FAILED
        return [self._say(0, DocState.FAILED), Failed(reason, offset)]


class WriteCadence:
    """When a receiver's writes are reported as taken and made durable (§13). Not thread-safe; it
    may live on the thread that writes.

    Args:
        size: the document's size.
        taken_every, sync_every: the §13 numbers (smaller ones in tests).
    """

    def __init__(
        self, size: int, *, taken_every: int = DOC_TAKEN_EVERY, sync_every: int = DOC_SYNC_EVERY
    ) -> None:
        self.size = size
        self.taken_every = taken_every
        self.sync_every = sync_every
        self._since_taken = 0
        self._since_sync = 0

    def written(self, end: int, length: int) -> tuple[bool, bool]:
        """Call after ``length`` bytes ending at ``end`` were written: (report ``end`` as taken,
        make everything before ``end`` durable). The last byte is made durable by the hash check,
        never here."""
        self._since_taken += length
        self._since_sync += length
        report = sync = False
        if self._since_taken >= self.taken_every and end < self.size:
            self._since_taken = 0
            report = True
        if end < self.size and self._since_sync >= self.sync_every:
            self._since_sync = 0
            sync = True
        return report, sync
