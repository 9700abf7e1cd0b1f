"""The carrier (hotline.proto.carrier, docs/protocol.md §14) against a slow reference, and its four
promises under arbitrary workloads.

The reference is the obvious reading of §14, kept apart from the code: each lane is one bytearray
(the framed frames end to end) with the stream offsets where marked frames end; a cell takes, lane
by lane from the highest, ``min(room - 3, what waits)`` bytes, cut at the first marked end, while
at least 4 bytes of room are left. The reference reader checks a whole cell first, then appends
each segment to its lane's stream and cuts whole frames off its front.

The promises:

1. **The schedule ignores the workload.** Two carriers with the same start and interval, fed
   different workloads (nothing, bursts, full lanes, marks) and polled at different times (late
   polls included), send the same cells at the same times with the same sizes.
2. **Round trip.** Every frame a carrier took comes out of a reader whole and in order within its
   lane; lanes are independent, except that a frame is never overtaken by one offered after it
   in the same or a higher-numbered lane; the bytes of every cell equal the reference's.
3. **Precedence.** A FLASH frame offered at ``t`` starts in the first cell at or after ``t`` unless
   CONTROL and FLASH bytes fill that cell, and it ends within ``interval`` plus the cells its own
   bytes and the CONTROL/FLASH bytes before it need.
4. **Strict reading.** A cell mutated in any way is refused exactly when the reference finds it
   malformed; when both take it, they hand out the same frames.

Small numbers (64-byte cells, frames up to 150 bytes) make splits, full lanes and cuts common.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from hotline.proto.carrier import CELL_KIND, Carrier, CellReader, Lane, LaneFull
from hotline.proto.errors import RemoteProtocolError

SIZE, TICK, START, MAX_FRAME, CAPACITY = 64, 0.5, 10.0, 150, 320
LANES = list(Lane)


# -- the reference ------------------------------------------------------------------------------------


@dataclass
class SlowCarrier:
    """§14's sender, the slow obvious way."""

    streams: dict[int, bytearray] = field(default_factory=lambda: {int(lane): bytearray() for lane in Lane})
    #: Per lane: stream offsets (from the current front) where a marked frame ends.
    marks: dict[int, list[int]] = field(default_factory=lambda: {int(lane): [] for lane in Lane})
    sent: int = 0

    def offer(self, lane: int, frame: bytes, mark: bool) -> bool:
        stream = self.streams[lane]
        if len(stream) + 4 + len(frame) > CAPACITY:
            return False
        stream += len(frame).to_bytes(4, "big") + frame
        if mark:
            self.marks[lane].append(len(stream))
        return True

    def due(self, now: float) -> int:
        return sum(1 for k in range(self.sent, self.sent + 10_000) if START + k * TICK <= now)

    def cell(self) -> tuple[bytes, bool]:
        content = b""
        for lane in sorted(self.streams):
            room = SIZE - 3 - len(content)
            stream = self.streams[lane]
            if room < 4:
                break
            if not stream:
                continue
            count = min(room - 3, len(stream))
            marks = self.marks[lane]
            cut = marks[0] if marks and marks[0] <= count else None
            if cut is not None:
                count = cut
            content += bytes([lane]) + count.to_bytes(2, "big") + bytes(stream[:count])
            del stream[:count]
            self.marks[lane] = [m - count for m in marks if m > count]
            if cut is not None:
                return (bytes([CELL_KIND]) + len(content).to_bytes(2, "big") + content).ljust(
                    SIZE, b"\0"
                ), True
        return (bytes([CELL_KIND]) + len(content).to_bytes(2, "big") + content).ljust(SIZE, b"\0"), False


def slow_read(streams: dict[int, bytearray], cell: bytes) -> list[tuple[int, bytes]] | None:
    """§14's reader rules, one after the other; None for a malformed cell."""
    if len(cell) != SIZE or cell[0] != CELL_KIND:
        return None
    length = int.from_bytes(cell[1:3], "big")
    if 3 + length > SIZE or any(cell[3 + length :]):
        return None
    segments: list[tuple[int, bytes, int]] = []
    i = 3
    while i < 3 + length:
        if 3 + length - i < 3:
            return None
        lane, size = cell[i], int.from_bytes(cell[i + 1 : i + 3], "big")
        if lane not in (1, 2, 3, 4, 5) or (segments and lane <= segments[-1][0]):
            return None
        if size == 0 or i + 3 + size > 3 + length:
            return None
        segments.append((lane, cell[i + 3 : i + 3 + size], i + 3 + size))
        i += 3 + size
    frames: list[tuple[int, bytes]] = []
    for lane, data, end in segments:
        stream = streams[lane]
        stream += data
        while len(stream) >= 4:
            frame_len = int.from_bytes(stream[:4], "big")
            if not 1 <= frame_len <= MAX_FRAME:
                return None
            if len(stream) < 4 + frame_len:
                break
            frames.append((lane, bytes(stream[4 : 4 + frame_len])))
            del stream[: 4 + frame_len]
        if stream and end != SIZE:
            return None
    return frames


def new_streams() -> dict[int, bytearray]:
    return {int(lane): bytearray() for lane in Lane}


def new_carrier() -> Carrier:
    return Carrier(START, interval=TICK, cell_size=SIZE, max_frame=MAX_FRAME, capacity=CAPACITY)


def new_reader() -> CellReader:
    return CellReader(cell_size=SIZE, max_frame=MAX_FRAME)


# -- workloads ------------------------------------------------------------------------------------------

#: One step: offer ``(lane, size, mark)`` with a payload byte, or let ``dt`` seconds pass and poll.
Offer = tuple[str, Lane, int, bool]
Wait = tuple[str, float]
Step = Offer | Wait

offers = st.tuples(
    st.just("offer"), st.sampled_from(LANES), st.integers(1, MAX_FRAME), st.booleans()
)  # fmt: skip
waits = st.tuples(st.just("wait"), st.sampled_from([0.0, 0.1, 0.5, 0.7, 1.0, 3.3]))
workloads = st.lists(st.one_of(offers, waits), max_size=60)


@dataclass
class Run:
    """A workload played on a carrier, with the reference alongside."""

    carrier: Carrier = field(default_factory=new_carrier)
    slow: SlowCarrier = field(default_factory=SlowCarrier)
    now: float = START - 0.3
    cells: list[tuple[int, float, int]] = field(default_factory=list)
    data: list[bytes] = field(default_factory=list)
    offered: dict[Lane, list[bytes]] = field(default_factory=lambda: {lane: [] for lane in Lane})
    #: Every frame taken, as ``(lane, its place in the lane)``, in the order offered.
    order: list[tuple[Lane, int]] = field(default_factory=list)
    counter: int = 0

    def offer(self, lane: Lane, size: int, mark: bool) -> None:
        self.counter += 1
        frame = bytes([self.counter % 251]) * size
        taken = self.slow.offer(int(lane), frame, mark)
        try:
            self.carrier.offer(lane, frame, ends_cell=mark)
        except LaneFull:
            assert not taken
            return
        assert taken
        self.order.append((lane, len(self.offered[lane])))
        self.offered[lane].append(frame)

    def poll(self, now: float) -> None:
        self.now = now
        expected = self.slow.due(now)
        cells = self.carrier.poll(now)
        assert len(cells) == expected
        for cell in cells:
            data, marked = self.slow.cell()
            assert (cell.data, cell.marked) == (data, marked)
            self.slow.sent += 1
            self.cells.append((cell.index, cell.at, len(cell.data)))
            self.data.append(cell.data)
        for lane in Lane:
            waiting = self.carrier.waiting(lane)
            assert waiting.bytes == len(self.slow.streams[lane])

    def play(self, workload: list[Step]) -> None:
        for step in workload:
            if step[0] == "offer":
                _, lane, size, mark = step  # type: ignore[misc]
                self.offer(lane, size, mark)
            else:
                self.poll(self.now + step[1])  # type: ignore[operator]


# -- 1. the schedule ignores the workload ----------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(workloads, workloads, st.floats(20.0, 60.0))
@example([], [("offer", Lane.DOCUMENTS, MAX_FRAME, False)] * 5, 20.0)
def test_the_schedule_is_the_same_whatever_the_workload(a: list[Step], b: list[Step], horizon: float) -> None:
    first, second = Run(), Run()
    first.play(a)
    second.play(b)
    end = max(first.now, second.now) + horizon  # both polled late, or on time, up to one end
    first.poll(end)
    second.poll(end)
    assert first.cells == second.cells
    assert [at for _, at, _ in first.cells] == [START + k * TICK for k in range(len(first.cells))]
    assert {size for _, _, size in first.cells} == {SIZE}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(offers, max_size=6), min_size=1, max_size=40), st.data())
def test_each_poll_returns_the_same_cells_for_any_workload(
    batches: list[list[Offer]], data: st.DataObject
) -> None:
    """Polled at the same times, an idle carrier and a busy one return as many cells, as large."""
    busy, idle = Run(), Run()
    for batch in batches:
        for _, lane, size, mark in batch:
            busy.offer(lane, size, mark)
        now = busy.now + data.draw(st.sampled_from([0.0, 0.2, 0.5, 1.6]))
        before = len(busy.cells), len(idle.cells)
        busy.poll(now)
        idle.poll(now)
        assert len(busy.cells) - before[0] == len(idle.cells) - before[1]
    assert busy.cells == idle.cells


# -- 2. round trip ----------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(workloads)
def test_every_frame_taken_comes_out_whole_and_in_order_within_its_lane(workload: list[Step]) -> None:
    run = Run()
    run.play(workload)
    run.poll(run.now + 200.0)  # long enough to drain every lane
    reader = new_reader()
    out: dict[Lane, list[bytes]] = {lane: [] for lane in Lane}
    handed: list[tuple[Lane, int]] = []
    for cell in run.data:
        for lane, frame in reader.read(cell):
            handed.append((lane, len(out[lane])))
            out[lane].append(frame)
    assert out == run.offered
    assert reader.buffered == 0
    # across lanes: a frame offered before another in the same or a higher-numbered lane leaves first
    # (so a line's Hello, on CONTROL, comes before its entries)
    position = {frame: n for n, frame in enumerate(handed)}
    for n, first in enumerate(run.order):
        for second in run.order[n + 1 :]:
            if first[0] <= second[0]:
                assert position[first] < position[second]


# -- 3. precedence -----------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    workloads,
    st.integers(1, MAX_FRAME),
    st.floats(0.01, TICK),
    st.lists(st.lists(st.integers(1, 40), max_size=2), max_size=12),
)
@example(
    [("offer", Lane.FLASH, MAX_FRAME, False), ("offer", Lane.CONTROL, 90, False)], MAX_FRAME, TICK, [[40, 40]]
)
def test_a_flash_leaves_in_the_next_cell_and_within_its_bound(
    background: list[Step], size: int, wait: float, control_later: list[list[int]]
) -> None:
    """Whatever waits in the lanes below it, a FLASH waits only for CONTROL and FLASH bytes before it.

    The carrier is polled on time. No frame is marked here: a marked frame ends its cell early (a
    key switch, once per rekey), which may cost a FLASH one more cell.
    """
    run = Run()
    run.play([step for step in background if step[0] != "offer" or not step[3]])
    carrier = run.carrier
    run.poll(max(run.now, carrier.next_deadline()))
    first_index = carrier.cells_sent
    first = carrier.next_deadline()
    t = first - TICK + wait  # after the last cell sent, at the latest at the next one
    assume(carrier.room(Lane.FLASH) >= size)
    flash_ahead = carrier.waiting(Lane.FLASH).bytes
    total = carrier.waiting(Lane.CONTROL).bytes + flash_ahead + 4 + size
    flash_sent = carrier.status().sent[Lane.FLASH]
    run.offer(Lane.FLASH, size, False)
    started_in = ended_in = None
    for later in [*control_later, *[[]] * 1000]:
        for extra in later:  # CONTROL offered while the FLASH waits goes ahead of it
            if carrier.room(Lane.CONTROL) >= extra:
                run.offer(Lane.CONTROL, extra, False)
                total += 4 + extra
        index = carrier.cells_sent
        run.poll(carrier.next_deadline())
        sent = carrier.status().sent[Lane.FLASH] - flash_sent
        if started_in is None and sent > flash_ahead:
            started_in = index
        if sent >= flash_ahead + 4 + size:
            ended_in = index
            break
    assert started_in is not None and ended_in is not None
    if started_in != first_index:
        # it waited a cell: CONTROL and FLASH bytes before it filled that one, all but < 4 bytes
        top = sum(3 + length for lane, length in segments(run.data[first_index]) if lane <= Lane.FLASH)
        assert top > SIZE - 3 - 4
    needed = math.ceil(total / (SIZE - 9))  # each cell carries at least this much of them
    assert ended_in <= first_index + needed - 1
    assert START + ended_in * TICK - t <= TICK + (needed - 1) * TICK


def segments(cell: bytes) -> list[tuple[int, int]]:
    """``(lane, length)`` of every segment of a well-formed cell (of a malformed one: a guess)."""
    out, i, end = [], 3, min(len(cell), 3 + int.from_bytes(cell[1:3], "big"))
    while i < end:
        length = int.from_bytes(cell[i + 1 : i + 3], "big")
        out.append((cell[i], length))
        i += 3 + length
    return out


# -- 4. strict reading -------------------------------------------------------------------------------------

mutations = st.one_of(
    st.tuples(st.just("set"), st.integers(0, SIZE - 1), st.integers(0, 255)),
    st.tuples(st.just("flip"), st.integers(0, SIZE - 1), st.integers(0, 7)),
    st.tuples(st.just("cut"), st.integers(0, SIZE - 1), st.just(0)),
    st.tuples(st.just("grow"), st.integers(1, 8), st.integers(0, 255)),
    st.tuples(st.just("header"), st.integers(0, SIZE - 3), st.integers(0, 255)),
)


def mutate(cell: bytes, mutation: tuple[str, int, int]) -> bytes:
    kind, where, value = mutation
    data = bytearray(cell)
    if kind == "grow":
        return cell + bytes([value]) * where
    if not data:
        return cell
    if kind == "header":  # a byte of the cell's or a segment's header, where most of the rules live
        heads = [0, 1, 2] + [start + k for start in segment_starts(cell) for k in range(3)]
        where = heads[where % len(heads)]
    where %= len(data)
    if kind in ("set", "header"):
        data[where] = value
    elif kind == "flip":
        data[where] ^= 1 << value
    else:
        del data[where:]
    return bytes(data)


def segment_starts(cell: bytes) -> list[int]:
    starts, i = [], 3
    for _, length in segments(cell):
        starts.append(i)
        i += 3 + length
    return starts


@settings(max_examples=600, deadline=None)
@given(workloads, st.data(), st.lists(mutations, min_size=1, max_size=3))
@example([("offer", Lane.MESSAGES, 100, False)], None, [("set", 3, 0)])
def test_a_mutated_cell_is_refused_exactly_when_it_is_malformed(
    workload: list[Step], data: st.DataObject | None, changes: list[tuple[str, int, int]]
) -> None:
    run = Run()
    run.play(workload)
    run.poll(run.now + 5.0)
    which = data.draw(st.integers(0, len(run.data) - 1)) if data is not None else 0
    reader, streams = new_reader(), new_streams()
    for cell in run.data[:which]:
        assert reader.read(cell) == [(Lane(lane), frame) for lane, frame in slow_read(streams, cell) or []]
    bad = run.data[which]
    for change in changes:
        bad = mutate(bad, change)
    expected = slow_read(streams, bad)
    if expected is None:
        try:
            reader.read(bad)
        except RemoteProtocolError:
            return
        raise AssertionError("a malformed cell was read")
    assert reader.read(bad) == [(Lane(lane), frame) for lane, frame in expected]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.binary(min_size=SIZE - 2, max_size=SIZE + 2), max_size=4), st.data())
def test_arbitrary_cells_raise_nothing_but_a_protocol_error(cells: list[bytes], data: st.DataObject) -> None:
    """Bytes from nowhere (a kind byte and a short content made likely): the reader and the
    reference agree on every one, and the reader raises nothing else."""
    reader, streams = new_reader(), new_streams()
    for raw in cells:
        cell = bytearray(raw)
        if cell and data.draw(st.booleans()):
            cell[0] = CELL_KIND
            if len(cell) >= 3:
                cell[1:3] = data.draw(st.integers(0, SIZE)).to_bytes(2, "big")
        expected = slow_read(streams, bytes(cell))
        if expected is None:
            try:
                reader.read(bytes(cell))
            except RemoteProtocolError:
                return
            raise AssertionError("a malformed cell was read")
        assert reader.read(bytes(cell)) == [(Lane(lane), frame) for lane, frame in expected]


@st.composite
def structured_cells(draw: st.DrawFn) -> bytes:
    """Cells built from the grammar with one rule or another likely broken: lanes in any order or
    unknown, frames cut anywhere, frame lengths 0 or too long, content lengths off by a little,
    padding not zero. Most are malformed in exactly one place."""
    content, previous = b"", None
    for _ in range(draw(st.integers(0, 4))):
        lane = draw(st.sampled_from([1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 0, 6, 255]))
        lane = lane if previous is None or draw(st.integers(0, 3)) else previous  # the same lane again
        previous = lane
        lengths = draw(
            st.lists(st.sampled_from([1, 3, 9, 20, MAX_FRAME, 0, MAX_FRAME + 1]), min_size=1, max_size=3)
        )
        body = b"".join(n.to_bytes(4, "big") + bytes([n % 7 + 1]) * n for n in lengths)
        if draw(st.booleans()):  # a frame cut anywhere
            body = body[: draw(st.integers(0, len(body)))]
        room = SIZE - 3 - len(content) - 3
        body = body[: max(room, 0)]  # cut where the cell ends, as a sender does
        content += bytes([lane]) + len(body).to_bytes(2, "big") + body
    content = (
        content[: draw(st.integers(0, SIZE - 3))] if draw(st.integers(0, 3)) == 0 else content[: SIZE - 3]
    )
    declared = max(0, len(content) + draw(st.sampled_from([0, 0, 0, -1, 1, -3, 2])))
    cell = bytearray((bytes([CELL_KIND]) + declared.to_bytes(2, "big") + content).ljust(SIZE, b"\0")[:SIZE])
    if draw(st.integers(0, 9)) == 0:
        cell[draw(st.integers(3, SIZE - 1))] = draw(st.integers(1, 255))
    return bytes(cell)


@settings(max_examples=1500, deadline=None)
@given(st.lists(structured_cells(), min_size=1, max_size=4))
def test_cells_built_to_break_one_rule_are_judged_like_the_reference(cells: list[bytes]) -> None:
    reader, streams = new_reader(), new_streams()
    for cell in cells:
        expected = slow_read(streams, cell)
        if expected is None:
            try:
                reader.read(cell)
            except RemoteProtocolError:
                return
            raise AssertionError("a malformed cell was read")
        assert reader.read(cell) == [(Lane(lane), frame) for lane, frame in expected]
