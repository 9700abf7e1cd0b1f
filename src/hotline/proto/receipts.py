"""The peer's receipts for our entries on one line (docs/protocol.md §10.2), for
:class:`hotline.proto.transcript.Transcript`: how far and when the peer receipted, which entries
are still in flight, and how far the store marks them delivered.

A receipt is the delivery: whoever waits hears of it at once (:class:`Receipted`); the store's
delivered-mark follows, ONE :class:`MarkDelivered` at a time, and catches up with the receipts
that came meanwhile when it is done.
"""

from __future__ import annotations

from hotline.proto.inflight import InFlight
from hotline.proto.linemsg import Entry
from hotline.proto.transcriptio import MarkDelivered, Receipted


class Receipts:
    """Our entries the peer has receipted on one line. Sans-IO: it answers with outputs.

    Args:
        delivered_upto: our entries the store already marks delivered.
    """

    __slots__ = ("_inflight", "_marked", "_marking", "peer_seq", "receipted_at")

    def __init__(self, delivered_upto: int) -> None:
        #: The highest of our sequence numbers the peer has receipted since we started, and when.
        self.peer_seq = 0
        self.receipted_at: float | None = None
        #: Numbered since we started and not yet receipted.
        self._inflight = InFlight()
        self._marked = delivered_upto
        self._marking = False

    def numbered(self, entry: Entry) -> None:
        """``entry`` was numbered: in flight until its receipt."""
        self._inflight.add(entry)

    def chain(self, seq: int) -> bytes | None:
        """Our chain head after ``seq`` if that entry is still in flight."""
        return self._inflight.chain(seq)

    def note(self, seq: int, now: float) -> list[Receipted | MarkDelivered]:
        """The peer holds our entries up to ``seq`` (known at ``now``): what to tell and store."""
        if seq <= self.peer_seq:
            return []
        self.peer_seq = seq
        self.receipted_at = now
        # the receipt is the delivery: whoever waits hears it now, before the store's mark commits
        told = Receipted(self._inflight.pop_upto(seq), now)
        return [told] if self._marking else [told, self._mark_next()]

    def marked(self, upto: int, ids: list[bytes], now: float) -> list[Receipted | MarkDelivered]:
        """Result of :class:`MarkDelivered`: ``ids`` were newly marked delivered (some may have been
        sent before we started, so not in flight here)."""
        self._marking = False
        self._marked = max(self._marked, upto)
        told = Receipted(tuple(ids), now)
        return [told, self._mark_next()] if self._marked < self.peer_seq else [told]

    def marking_failed(self) -> None:
        """Result of :class:`MarkDelivered`: it failed. The next receipt tries again."""
        self._marking = False

    def _mark_next(self) -> MarkDelivered:
        self._marking = True
        return MarkDelivered(self._marked, self.peer_seq)


__all__ = ["Receipts"]
