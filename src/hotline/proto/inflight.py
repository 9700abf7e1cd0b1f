"""Our entries in flight on one line: numbered since the transcript started, not yet receipted."""

from __future__ import annotations

from hotline.proto.linemsg import Entry


class InFlight:
    """Our numbered, unreceipted entries in sequence order: seq -> (chain head, message id)."""

    __slots__ = ("_entries",)

    def __init__(self) -> None:
        self._entries: dict[int, tuple[bytes, bytes]] = {}

    def add(self, entry: Entry) -> None:
        """``entry`` was numbered (numbers only grow, so the order stays the sequence's)."""
        self._entries[entry.seq] = (entry.chain, entry.id)

    def chain(self, seq: int) -> bytes | None:
        """The chain head after ``seq`` if it is still in flight."""
        known = self._entries.get(seq)
        return None if known is None else known[0]

    def pop_upto(self, seq: int) -> tuple[bytes, ...]:
        """The receipt for ``seq`` came: the message ids up to it, forgotten here."""
        ids = []
        entries = self._entries
        while entries:
            first = next(iter(entries))
            if first > seq:
                break
            ids.append(entries.pop(first)[1])
        return tuple(ids)


__all__ = ["InFlight"]
