"""The constant-rate carrier: a line that looks the same whether anyone talks or not (docs/protocol.md
§14, a draft: a session can use it (:mod:`hotline.proto.carriermode`), no station does yet;
docs/state-machines/carrier.md).

In carrier mode each direction of a session sends one **cell** every ``interval`` seconds, around
the clock, and every cell is a transport plaintext of the same size (a §5.2 bucket), so an observer
who records every packet sees the same stream whether the line carries nothing, a FLASH, a thousand
ROUTINE messages, a document or a call. Real data replaces padding inside the cells::

    cell    = 0x02 (kind CELL) || u16be(content_len) || segment* || zeros     -- exactly cell_size bytes
    segment = lane (u8) || u16be(length) || length bytes of that lane's stream  -- length >= 1

Each :class:`Lane` is its own ordered byte stream of frames framed as the message stream of §5.3
(``u32be(length) || frame``). A cell is filled from the highest lane (lowest number) down: each lane
with something waiting gets one segment holding as much of its stream as fits, so lanes appear in
ascending order, at most once each, and a segment is cut in the middle of a frame only when it fills
the cell to its last byte (otherwise its lane had nothing more to give).

This module owns the two halves: :class:`Carrier` (the sender's shaper: lanes in, cells out on a
fixed schedule) and :class:`CellReader` (the receiver: cells in, whole frames out, every rule
checked). It does not know what the frames mean, which keys seal the cells or what a session is:
the session seals each cell as one transport record and decides what goes in which lane. Like the
rest of ``hotline.proto`` it reads no clock and draws no randomness: ``now`` comes in.

Rule 1 of this module: **the schedule is a function of ``start``, ``interval`` and ``now`` only.**
Nothing offered, no full lane and no late poll moves a cell or changes its size; what is offered only
decides the bytes inside the cells, which the session encrypts.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import IntEnum

from hotline.proto.constants import MAX_MESSAGE_LEN, PADDING_BUCKETS
from hotline.proto.errors import LocalProtocolError, RemoteProtocolError

# -- the wire (docs/protocol.md §14) ------------------------------------------------------------------

#: The kind byte of a cell, as in §5.2's transport plaintext (kind 1 is a slice of the message stream).
CELL_KIND = 2
#: The cell's header: kind, then the u16be length of its segments.
CELL_HEADER_LEN = 3
#: A segment's header: the lane, then the u16be length of the bytes that follow.
SEGMENT_HEADER_LEN = 3
#: A frame's header inside a lane's stream: its u32be length, as in §5.3.
FRAME_HEADER_LEN = 4
#: The longest frame a lane carries: one message of §5.3.
MAX_FRAME = MAX_MESSAGE_LEN


class Lane(IntEnum):
    """A carrier lane. The number is the lane byte of a segment and the priority: lower goes first.

    The order puts what keeps the session and the line alive first, then what an operator waits for
    most urgently (a FLASH is short and rare, so speech loses a cell at most), then speech, which
    is useless late, then everything that only needs to arrive, with bulk last so it takes only
    what the others leave.
    """

    #: Session and line control: Ping, Pong, RekeyInit/Response, Close, Hello, Receipt, Withhold,
    #: DocProgress.
    #: Small and rare, and starving any of them would end the session (keys expire, idle timeout).
    CONTROL = 1
    #: FLASH entries (and line tests): the next cell, ahead of a call's speech.
    FLASH = 2
    #: A call: its signalling and its media packets (when they ride inside the session).
    VOICE = 3
    #: Entries of every other precedence, in the order the line numbers them.
    MESSAGES = 4
    #: Document bytes (``DocData``): only what the lanes above leave.
    DOCUMENTS = 5


#: Lane bytes a reader accepts, for the strict check.
_LANES = frozenset(int(lane) for lane in Lane)

# -- defaults (implementation choices; the page gives their cost) -------------------------------------

#: Default cell: a 1024-byte plaintext, 1043 bytes on the wire with the record header and the tag.
CELL_SIZE = 1024
#: Default interval: 50 cells a second, one per 20 ms voice frame, so a call's 431-byte media packet
#: (448 bytes with its framing) rides in every cell, leaving 570 bytes of data for the other lanes.
CELL_INTERVAL = 0.020
#: Default bound on what may wait in one lane (framed bytes): two of the longest frames.
LANE_CAPACITY = 2 * (FRAME_HEADER_LEN + MAX_FRAME)
#: The least room that still takes a segment: its header and one byte.
_MIN_SEGMENT = SEGMENT_HEADER_LEN + 1


class LaneFull(LocalProtocolError):
    """The lane holds too much to take this frame now; offer it again after a poll drained some.

    The carrier's schedule never changes because a lane is full: the caller keeps the frame (a
    line's entries stay in its store, unnumbered) and offers it when :meth:`Carrier.room` allows.
    """


@dataclass(frozen=True, slots=True)
class Cell:
    """One cell of the schedule, ready to seal as a transport record."""

    #: Its place in the schedule, from 0.
    index: int
    #: When the schedule wanted it sent: ``start + index * interval`` (a late poll sends it later).
    at: float
    #: The plaintext, exactly ``cell_size`` bytes.
    data: bytes
    #: A frame offered with ``ends_cell=True`` ended in this cell (nothing follows it inside).
    marked: bool


@dataclass(frozen=True, slots=True)
class Waiting:
    """What waits in one lane: not yet in any cell."""

    #: Frames not yet finished (the one partly sent counts).
    frames: int
    #: Framed bytes not yet in a cell (headers included).
    bytes: int


@dataclass(frozen=True, slots=True)
class CarrierStatus:
    """A snapshot of a carrier for a status display: what it sent and what waits, by lane."""

    #: Cells sent so far.
    cells: int
    #: Zero bytes sent as padding so far (cell and segment headers excluded).
    padding: int
    #: Bytes of each lane's stream sent so far.
    sent: Mapping[Lane, int]
    #: What waits in each lane.
    waiting: Mapping[Lane, Waiting]
    #: Bytes of every cell (for the shares below).
    cell_size: int

    @property
    def load(self) -> float:
        """The share of all cell bytes sent so far that carried lane bytes (0.0 before any cell)."""
        total = self.cells * self.cell_size
        return sum(self.sent.values()) / total if total else 0.0

    @property
    def backlog(self) -> int:
        """Cells needed at least to send what waits, if nothing more came (each holds at most
        ``cell_size - 6`` bytes of one lane)."""
        waiting = sum(lane.bytes for lane in self.waiting.values())
        return -(-waiting // (self.cell_size - CELL_HEADER_LEN - SEGMENT_HEADER_LEN))


class _Frame:
    __slots__ = ("data", "marked", "offset")

    def __init__(self, data: bytes, marked: bool) -> None:
        self.data = data  # header and payload
        self.offset = 0  # bytes already in cells
        self.marked = marked


def check_cell_size(cell_size: int) -> None:
    """Raise ``ValueError`` unless ``cell_size`` is a §5.2 bucket a segment fits in."""
    if cell_size not in PADDING_BUCKETS or cell_size < CELL_HEADER_LEN + _MIN_SEGMENT:
        raise ValueError(f"cell size {cell_size} is not a padding bucket")


class Carrier:
    """The sending half of a carrier: lanes of frames in, one cell per tick out. Not thread-safe.

    A new carrier owes its first cell at ``start`` and one more every ``interval`` after it. Call
    :meth:`poll` at :meth:`next_deadline` (or later): it returns every cell due by ``now``, filled at
    that moment from the lanes, highest first. :meth:`offer` queues a frame; a lane holds at most
    ``capacity`` framed bytes, and a frame that would pass it raises :class:`LaneFull`. Offer just
    enough: once offered, a frame's place in its lane is fixed, so a caller that wants to choose
    late (a line numbering its entries when they leave) keeps the rest and watches :meth:`waiting`.

    A late poll sends every missed cell at once, each filled with what waits at the poll: the count
    of cells stays exact (cell ``n`` is always the ``n``-th record), and a peer that judges liveness
    by arrival sees a burst, not a gap that grows.

    Transitions (docs/state-machines/carrier.md holds the same table)::

        | on | when | then |
        |---|---|---|
        | offer(lane, frame) | frame empty or longer than max_frame | LocalProtocolError; nothing queued |
        | offer(lane, frame) | waiting bytes + 4 + len(frame) > capacity | LaneFull; nothing queued |
        | offer(lane, frame) | otherwise | frame queued at the end of its lane |
        | poll(now) | now < next_deadline() | no cell |
        | poll(now) | now >= next_deadline() | one cell per tick due by now, in schedule order |
        | a cell is filled | per lane, highest first: bytes, room >= 4 | segment of min(room - 3, waiting) |
        | a cell is filled | a frame offered with ends_cell ends | rest of the cell is padding; Cell.marked |
        | a cell is filled | room < 4, or no lane has bytes | rest of the cell is zero padding |
    """

    __slots__ = (
        "_capacity",
        "_lanes",
        "_padding",
        "_sent",
        "_waiting_bytes",
        "cell_size",
        "cells_sent",
        "interval",
        "max_frame",
        "start",
    )

    def __init__(
        self,
        start: float,
        *,
        interval: float = CELL_INTERVAL,
        cell_size: int = CELL_SIZE,
        max_frame: int = MAX_FRAME,
        capacity: int | Mapping[Lane, int] = LANE_CAPACITY,
    ) -> None:
        """Make a carrier whose first cell is due at ``start``.

        Args:
            start: when the first cell is due (the caller's monotonic seconds).
            interval: seconds between cells (> 0).
            cell_size: bytes of every cell, a §5.2 padding bucket.
            max_frame: the longest frame offered (and read by the peer), at most :data:`MAX_FRAME`.
            capacity: framed bytes each lane may hold, one number for all or one per lane; each must
                hold the longest frame.

        Raises:
            ValueError: a setting out of range.
        """
        check_cell_size(cell_size)
        if not interval > 0:
            raise ValueError("the interval must be positive")
        if not 1 <= max_frame <= MAX_FRAME:
            raise ValueError(f"max_frame must be 1 to {MAX_FRAME}")
        caps = {lane: capacity if isinstance(capacity, int) else capacity[lane] for lane in Lane}
        if min(caps.values()) < FRAME_HEADER_LEN + max_frame:
            raise ValueError("every lane must hold at least one frame of max_frame bytes")
        #: When cell 0 is due, and the seconds between cells.
        self.start = start
        self.interval = interval
        #: Bytes of every cell.
        self.cell_size = cell_size
        #: The longest frame :meth:`offer` takes.
        self.max_frame = max_frame
        #: Cells sent so far (the index of the next one).
        self.cells_sent = 0
        self._capacity = caps
        self._lanes: dict[Lane, deque[_Frame]] = {lane: deque() for lane in Lane}
        self._waiting_bytes = dict.fromkeys(Lane, 0)
        self._sent = dict.fromkeys(Lane, 0)
        self._padding = 0

    # -- the caller's side -------------------------------------------------------------------------

    def room(self, lane: Lane) -> int:
        """The longest frame :meth:`offer` takes in ``lane`` now (0: the lane is full)."""
        free = self._capacity[lane] - self._waiting_bytes[lane] - FRAME_HEADER_LEN
        return max(0, min(self.max_frame, free))

    def offer(self, lane: Lane, frame: bytes, *, ends_cell: bool = False) -> None:
        """Queue ``frame`` at the end of ``lane``; it leaves in the cells of later polls.

        Args:
            lane: the lane to carry it.
            frame: the frame's bytes (1 to ``max_frame``); the carrier adds its length header.
            ends_cell: nothing may follow this frame in the cell where it ends (the rest is
                padding, and that cell is :attr:`Cell.marked`): the session switches keys there.

        Raises:
            LocalProtocolError: the frame is empty or longer than ``max_frame``.
            LaneFull: the lane cannot hold it now (nothing was queued).
        """
        size = len(frame)
        if not 1 <= size <= self.max_frame:
            raise LocalProtocolError(f"a carrier frame holds 1 to {self.max_frame} bytes, not {size}")
        framed = FRAME_HEADER_LEN + size
        if self._waiting_bytes[lane] + framed > self._capacity[lane]:
            raise LaneFull(f"the {lane.name} lane has no room for {size} more bytes")
        self._lanes[lane].append(_Frame(size.to_bytes(FRAME_HEADER_LEN, "big") + bytes(frame), ends_cell))
        self._waiting_bytes[lane] += framed

    def waiting(self, lane: Lane) -> Waiting:
        """What waits in ``lane``: frames not finished and framed bytes not yet in a cell."""
        return Waiting(len(self._lanes[lane]), self._waiting_bytes[lane])

    def status(self) -> CarrierStatus:
        """What the carrier sent and what waits in it, by lane."""
        return CarrierStatus(
            self.cells_sent,
            self._padding,
            dict(self._sent),
            {lane: self.waiting(lane) for lane in Lane},
            self.cell_size,
        )

    @property
    def bytes_per_second(self) -> float:
        """Plaintext bytes a second, whatever the lanes hold."""
        return self.cell_size / self.interval

    # -- the schedule ------------------------------------------------------------------------------

    def next_deadline(self) -> float:
        """When the next cell is due: ``start + cells_sent * interval``."""
        return self._due(self.cells_sent)

    def _due(self, index: int) -> float:
        # computed from the index, never accumulated, so the schedule does not drift
        return self.start + index * self.interval

    def poll(self, now: float) -> list[Cell]:
        """Every cell due by ``now`` and not yet sent, in order (none before :meth:`next_deadline`).

        Each is filled at this call from what waits, so a frame offered before a late poll may ride
        in a cell whose :attr:`Cell.at` is earlier than the offer.
        """
        cells: list[Cell] = []
        while (at := self._due(self.cells_sent)) <= now:
            data, marked = self._fill()
            cells.append(Cell(self.cells_sent, at, data, marked))
            self.cells_sent += 1
        return cells

    def _fill(self) -> tuple[bytes, bool]:
        cell = bytearray(self.cell_size)
        cell[0] = CELL_KIND
        pos = CELL_HEADER_LEN
        marked = False
        for lane, frames in self._lanes.items():
            if marked or self.cell_size - pos < _MIN_SEGMENT:
                break
            if not frames:
                continue
            taken, marked = self._take(frames, cell, pos + SEGMENT_HEADER_LEN)
            cell[pos] = lane
            cell[pos + 1 : pos + SEGMENT_HEADER_LEN] = taken.to_bytes(2, "big")
            pos += SEGMENT_HEADER_LEN + taken
            self._waiting_bytes[lane] -= taken
            self._sent[lane] += taken
        cell[1:CELL_HEADER_LEN] = (pos - CELL_HEADER_LEN).to_bytes(2, "big")
        self._padding += self.cell_size - pos
        return bytes(cell), marked

    def _take(self, frames: deque[_Frame], cell: bytearray, start: int) -> tuple[int, bool]:
        """Copy the front of one lane into ``cell`` from ``start`` to the end at most; returns the
        bytes copied and whether a marked frame ended."""
        pos, end = start, len(cell)
        while frames and pos < end:
            frame = frames[0]
            count = min(len(frame.data) - frame.offset, end - pos)
            cell[pos : pos + count] = frame.data[frame.offset : frame.offset + count]
            frame.offset += count
            pos += count
            if frame.offset == len(frame.data):
                frames.popleft()
                if frame.marked:
                    return pos - start, True
        return pos - start, False


# -- the receiving half -----------------------------------------------------------------------------


def _violation(reason: str) -> RemoteProtocolError:
    return RemoteProtocolError(f"malformed carrier cell: {reason}")


class _LaneIn:
    """One lane's partial frame at the receiver."""

    __slots__ = ("buffer", "need")

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.need = FRAME_HEADER_LEN  # bytes the partial frame in ``buffer`` needs in all


class CellReader:
    """The receiving half of a carrier: cells in, whole frames out. Not thread-safe.

    :meth:`read` checks a cell against every rule of §14 before it trusts a length, and hands out
    the frames it completes. It holds at most one partial frame per lane (each at most
    ``max_frame`` bytes and its header). A cell that breaks a rule raises
    :class:`RemoteProtocolError`, and the reader must then be dropped with its session: frames of
    earlier segments of that cell may already have been handed out or half taken.

    Rules (docs/state-machines/carrier.md holds the same table)::

        | on | when | then |
        |---|---|---|
        | read(cell) | len(cell) != cell_size | RemoteProtocolError |
        | read(cell) | kind byte is not 2 | RemoteProtocolError |
        | read(cell) | content_len > cell_size - 3 | RemoteProtocolError |
        | read(cell) | a byte after the content is not zero | RemoteProtocolError |
        | a segment | fewer than 3 header bytes before the content's end | RemoteProtocolError |
        | a segment | lane not 1 to 5, or not greater than the previous segment's | RemoteProtocolError |
        | a segment | length 0, or past the content's end | RemoteProtocolError |
        | a segment | a frame length 0 or above max_frame | RemoteProtocolError |
        | a segment | ends mid-frame but not at the cell's last byte | RemoteProtocolError |
        | a segment | well formed | its lane's frames that it completes, in order |
    """

    __slots__ = ("_lanes", "cell_size", "max_frame")

    def __init__(self, *, cell_size: int = CELL_SIZE, max_frame: int = MAX_FRAME) -> None:
        """Make a reader for cells of ``cell_size`` bytes (a §5.2 bucket) and frames of at most
        ``max_frame`` bytes (what the peer's carrier was made with).

        Raises:
            ValueError: a setting out of range.
        """
        check_cell_size(cell_size)
        if not 1 <= max_frame <= MAX_FRAME:
            raise ValueError(f"max_frame must be 1 to {MAX_FRAME}")
        self.cell_size = cell_size
        self.max_frame = max_frame
        self._lanes = {lane: _LaneIn() for lane in Lane}

    @property
    def buffered(self) -> int:
        """Bytes of partial frames held, all lanes."""
        return sum(len(lane.buffer) for lane in self._lanes.values())

    def read(self, cell: bytes | bytearray | memoryview) -> list[tuple[Lane, bytes]]:
        """Check one cell and return ``(lane, frame)`` for every frame it completes, in the order
        their last bytes sit in the cell.

        Raises:
            RemoteProtocolError: the cell breaks a rule of §14 (code ``PROTOCOL_VIOLATION``).
        """
        with memoryview(cell) as view:
            end = self._check_frame(view)
            frames: list[tuple[Lane, bytes]] = []
            for lane, start, stop in self._segments(view, end):
                state = self._lanes[lane]
                frames.extend((lane, frame) for frame in self._feed(state, view[start:stop]))
                if state.buffer and stop != self.cell_size:
                    raise _violation(f"the {lane.name} segment stops inside a frame before the cell's end")
            return frames

    def _check_frame(self, view: memoryview) -> int:
        """Check the cell's size, kind and padding; return where its content ends."""
        if len(view) != self.cell_size:
            raise _violation(f"{len(view)} bytes, not {self.cell_size}")
        if view[0] != CELL_KIND:
            raise _violation(f"kind {view[0]}, not {CELL_KIND}")
        end = CELL_HEADER_LEN + int.from_bytes(view[1:CELL_HEADER_LEN], "big")
        if end > self.cell_size:
            raise _violation("content length past the end of the cell")
        if view[end:].tobytes().strip(b"\0"):
            raise _violation("padding is not zero")
        return end

    def _segments(self, view: memoryview, end: int) -> Iterator[tuple[Lane, int, int]]:
        """The cell's segments as ``(lane, start, stop)``, each checked before it is yielded."""
        pos, previous = CELL_HEADER_LEN, 0
        while pos < end:
            if end - pos < SEGMENT_HEADER_LEN:
                raise _violation("a segment header cut by the content's end")
            lane = view[pos]
            if lane not in _LANES:
                raise _violation(f"unknown lane {lane}")
            if lane <= previous:
                raise _violation(f"lane {lane} after lane {previous}")
            length = int.from_bytes(view[pos + 1 : pos + SEGMENT_HEADER_LEN], "big")
            start = pos + SEGMENT_HEADER_LEN
            if length == 0 or start + length > end:
                raise _violation(f"a segment of {length} bytes where {end - start} remain")
            yield Lane(lane), start, start + length
            pos, previous = start + length, lane

    def _feed(self, state: _LaneIn, data: memoryview) -> Iterator[bytes]:
        """Add one segment to its lane's partial frame; yield the frames it completes."""
        pos, size = 0, len(data)
        buffer = state.buffer
        while pos < size:
            count = min(state.need - len(buffer), size - pos)
            buffer += data[pos : pos + count]
            pos += count
            if len(buffer) < state.need:
                return
            if state.need == FRAME_HEADER_LEN:
                length = int.from_bytes(buffer, "big")
                if not 1 <= length <= self.max_frame:
                    raise _violation(f"a frame of {length} bytes (1 to {self.max_frame} allowed)")
                state.need = FRAME_HEADER_LEN + length
                continue
            yield bytes(buffer[FRAME_HEADER_LEN:])
            buffer.clear()
            state.need = FRAME_HEADER_LEN
