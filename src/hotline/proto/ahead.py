"""The carrier pacing state of one line's transcript (§14.3), sans-IO.

In carrier mode the sender reads or numbers entries a little before the lanes take them; what
it holds beyond the cursor waits here, in order, until :class:`LanePacer` says the lanes have
room. Without a carrier the queue stays empty.
"""

from __future__ import annotations

from collections import deque

from hotline.proto.errors import LocalProtocolError
from hotline.proto.linemsg import Entry
from hotline.proto.pacing import LaneFacts, LanePacer
from hotline.proto.transcriptio import Send


class AheadQueue:
    """The session's cell size (None: no carrier) and the entries after the cursor that are read
    or numbered but not yet queued in a lane, in order."""

    __slots__ = ("_entries", "cell")

    def __init__(self) -> None:
        self.cell: int | None = None
        self._entries: deque[Entry] = deque()

    @property
    def carrier(self) -> bool:
        """Whether the session runs as a carrier (its entries are paced)."""
        return self.cell is not None

    def __bool__(self) -> bool:
        return bool(self._entries)

    def start(self, cell_size: int | None) -> None:
        """A new session: its cell size, nothing ahead."""
        self.cell = cell_size
        self._entries.clear()

    def clear(self) -> None:
        """Drop what waits (the session ended, or the cursor went back)."""
        self._entries.clear()

    def pacer(self, lanes: LaneFacts | None) -> LanePacer:
        """The pacer over ``lanes``, which a sender in carrier mode must give."""
        if lanes is None:
            raise LocalProtocolError("a sender in carrier mode gives its lanes with each poll and result")
        return LanePacer(lanes)

    def pace(self, pacer: LanePacer, cursor: int) -> tuple[list[Send], int]:
        """Queue what waits while the lanes have room, each in its lane: the sends, and the cursor
        after them."""
        sends: list[Send] = []
        entries = self._entries
        while entries and pacer.may_queue():
            entry = entries.popleft()
            sends.append(Send(entry, lane=pacer.queue(entry)))
            cursor = entry.seq
        return sends, cursor

    def take(self, entries: list[Entry], cursor: int, lanes: LaneFacts | None) -> tuple[list[Send], int]:
        """Keep the ``entries`` that follow the cursor (and what waits) in order, and queue what the
        lanes take now, as :meth:`pace`."""
        ahead = self._entries
        for entry in entries:
            if entry.seq != (ahead[-1].seq if ahead else cursor) + 1:
                break  # the cursor went back meanwhile (a Hello again, a rewind): read again
            ahead.append(entry)
        return self.pace(self.pacer(lanes), cursor)


__all__ = ["AheadQueue"]
