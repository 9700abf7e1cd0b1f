"""The peer's half of a line's delivery (docs/protocol.md §10.1, §10.2): its entries as accepted,
being stored and stored, for :class:`hotline.proto.transcript.Transcript`.

Accepted entries are stored in batches, ONE batch at a time: while a batch is being stored, what
comes meanwhile waits for the next. A receipt names only what is stored, so a duplicate (the peer
did not hear our receipt) is answered by storing an empty batch, which costs one receipt for every
duplicate that came until it is answered.
"""

from __future__ import annotations

from hotline.proto.errors import LocalProtocolError
from hotline.proto.linemsg import Entry
from hotline.proto.transcriptio import StoreEntries


class InboundBatches:
    """The peer's entries on one line: how far they are accepted, what is being stored, what is
    stored. Sans-IO: it answers with the :class:`StoreEntries` to run.

    Args:
        stored: ``(seq, head)`` of the peer's entries held in our store.
    """

    __slots__ = ("_pending", "_receipt_due", "_storing", "committed", "head", "seq")

    def __init__(self, stored: tuple[int, bytes]) -> None:
        #: The last accepted entry (perhaps still being stored) and the chain head after it.
        self.seq, self.head = stored
        #: ``(seq, head)`` of what is on our disk: all a receipt may name.
        self.committed = stored
        self._pending: list[Entry] = []
        self._storing: tuple[Entry, ...] | None = None
        self._receipt_due = False

    def accept(self, entry: Entry, head: bytes) -> StoreEntries | None:
        """``entry`` is accepted with chain head ``head``; the batch to store now, if none is out."""
        self.seq, self.head = entry.seq, head
        self._pending.append(entry)
        return self._next_if_idle()

    def duplicate(self) -> StoreEntries | None:
        """An entry came again: a receipt is due; the (empty) batch to store now, if none is out."""
        self._receipt_due = True
        return self._next_if_idle()

    def stored(self) -> tuple[bool, StoreEntries | None]:
        """The batch being stored is on disk: whether a receipt for :attr:`committed` is due now,
        and the next batch to store (None: nothing waits)."""
        batch = self._storing
        if batch is None:
            raise LocalProtocolError("no entries were being stored")
        self._storing = None
        if batch:
            last = batch[-1]
            self.committed = (last.seq, last.chain)
        else:
            # nothing was stored meanwhile: this receipt answers the duplicates that came since
            self._receipt_due = False
            if self._pending:
                return False, self._store_next()  # their receipt answers the duplicates too
        return True, self._store_next() if self._pending or self._receipt_due else None

    def not_stored(self) -> int:
        """Storing the batch failed: what was not stored is forgotten (the peer sends it again on
        the next session); the sequence number accepted now, the last one stored."""
        if self._storing is None:
            raise LocalProtocolError("no entries were being stored")
        self._storing = None
        self.seq, self.head = self.committed
        self._pending = []
        return self.seq

    def restart(self, chain_in0: bytes) -> None:
        """Start again from ``chain_in0`` if no entry of the peer's was accepted yet (a new profile's
        start, §10.1); a transcript under way keeps its start."""
        if self.seq == 0 and self.committed[0] == 0:
            self.head = chain_in0
            self.committed = (0, chain_in0)

    def _next_if_idle(self) -> StoreEntries | None:
        return self._store_next() if self._storing is None else None

    def _store_next(self) -> StoreEntries:
        batch, self._pending = tuple(self._pending), []
        self._receipt_due = False
        self._storing = batch
        return StoreEntries(batch)


__all__ = ["InboundBatches"]
