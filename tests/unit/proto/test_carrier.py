"""The carrier (docs/protocol.md §14, docs/state-machines/carrier.md), one rule at a time.

Time is a number: the carrier starts at ``now = 100.0`` with cells every 0.25 s (an interval that
floats add exactly), so every deadline below is asserted exactly.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline.proto.carrier import (
    CELL_INTERVAL,
    CELL_KIND,
    CELL_SIZE,
    FRAME_HEADER_LEN,
    LANE_CAPACITY,
    MAX_FRAME,
    Carrier,
    CellReader,
    Lane,
    LaneFull,
    Waiting,
)
from hotline.proto.errors import ErrorCode, LocalProtocolError, RemoteProtocolError
from tests.support.markdown import table_rows

START, TICK, SIZE = 100.0, 0.25, 64


def carrier(**kwargs: object) -> Carrier:
    options: dict[str, object] = {"interval": TICK, "cell_size": SIZE, "max_frame": 200, "capacity": 400}
    options.update(kwargs)
    return Carrier(START, **options)  # type: ignore[arg-type]


def cell(*segments: tuple[int, bytes], size: int = SIZE, kind: int = CELL_KIND) -> bytes:
    """A cell built by hand from ``(lane, bytes)`` segments."""
    content = b"".join(bytes([lane]) + len(data).to_bytes(2, "big") + data for lane, data in segments)
    return (bytes([kind]) + len(content).to_bytes(2, "big") + content).ljust(size, b"\0")


def framed(payload: bytes) -> bytes:
    return len(payload).to_bytes(FRAME_HEADER_LEN, "big") + payload


# -- the schedule --------------------------------------------------------------------------------------


def test_the_first_cell_is_due_at_start_and_then_one_per_interval() -> None:
    shaper = carrier()
    assert shaper.next_deadline() == 100.0
    assert shaper.poll(99.99) == []
    [first] = shaper.poll(100.0)
    assert (first.index, first.at, len(first.data)) == (0, 100.0, SIZE)
    assert shaper.next_deadline() == 100.25
    assert shaper.poll(100.24) == []
    assert [c.at for c in shaper.poll(100.25)] == [100.25]


def test_an_idle_carrier_sends_empty_cells() -> None:
    [empty] = carrier().poll(100.0)
    assert empty.data == bytes([CELL_KIND]) + bytes(SIZE - 1)
    assert not empty.marked


def test_a_late_poll_sends_every_missed_cell_at_once() -> None:
    """Polled 1.1 s late: the cells of 100.0 to 101.0 all leave now, each at its own index."""
    shaper = carrier()
    shaper.offer(Lane.MESSAGES, b"m" * 150)
    cells = shaper.poll(101.1)
    assert [(c.index, c.at) for c in cells] == [(0, 100.0), (1, 100.25), (2, 100.5), (3, 100.75), (4, 101.0)]
    assert {len(c.data) for c in cells} == {SIZE}
    assert shaper.next_deadline() == 101.25
    assert shaper.cells_sent == 5


def test_the_schedule_does_not_drift() -> None:
    shaper = Carrier(0.0, interval=CELL_INTERVAL)
    shaper.poll(999.99)
    assert shaper.next_deadline() == 50_000 * CELL_INTERVAL
    assert shaper.cells_sent == 50_000


def test_the_defaults() -> None:
    shaper = Carrier(0.0)
    assert (shaper.cell_size, shaper.interval, shaper.max_frame) == (1024, 0.020, MAX_FRAME)
    assert shaper.bytes_per_second == 51_200
    assert shaper.room(Lane.DOCUMENTS) == MAX_FRAME
    assert LANE_CAPACITY == 2 * (MAX_FRAME + 4)


@pytest.mark.parametrize(
    "kwargs",
    [{"cell_size": 1000}, {"cell_size": 65536}, {"interval": 0.0}, {"max_frame": 0}, {"capacity": 100}],
)
def test_settings_out_of_range_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        carrier(**kwargs)


# -- filling cells ---------------------------------------------------------------------------------------


def test_lanes_fill_a_cell_highest_first_each_in_one_segment() -> None:
    shaper = carrier()
    shaper.offer(Lane.DOCUMENTS, b"d" * 5)
    shaper.offer(Lane.FLASH, b"f")
    shaper.offer(Lane.CONTROL, b"c1")
    shaper.offer(Lane.CONTROL, b"c2")
    [first] = shaper.poll(100.0)
    assert first.data == cell((1, framed(b"c1") + framed(b"c2")), (2, framed(b"f")), (5, framed(b"d" * 5)))


def test_a_frame_that_does_not_fit_is_split_and_finished_in_the_next_cell() -> None:
    shaper = carrier()
    shaper.offer(Lane.MESSAGES, bytes(range(100)))
    first, second = shaper.poll(100.25)
    whole = framed(bytes(range(100)))
    room = SIZE - 3 - 3
    assert first.data == cell((4, whole[:room]))
    assert second.data == cell((4, whole[room:]))


def test_a_segment_needs_room_for_its_header_and_one_byte() -> None:
    """A frame leaving 3 bytes free: the next lane gets no segment, the 3 bytes are padding."""
    shaper = carrier()
    shaper.offer(Lane.CONTROL, b"c" * (SIZE - 3 - 3 - 4 - 3))
    shaper.offer(Lane.VOICE, b"v")
    first, second = shaper.poll(100.25)
    assert first.data.endswith(bytes(3)) and first.data[-4] == ord("c")
    assert second.data == cell((3, framed(b"v")))


def test_a_marked_frame_ends_its_cell() -> None:
    """``ends_cell``: what waits behind the frame goes in the next cell (the key switch of §5.4)."""
    shaper = carrier()
    shaper.offer(Lane.CONTROL, b"rekey", ends_cell=True)
    shaper.offer(Lane.CONTROL, b"after")
    shaper.offer(Lane.MESSAGES, b"m")
    first, second = shaper.poll(100.25)
    assert first.marked and first.data == cell((1, framed(b"rekey")))
    assert not second.marked and second.data == cell((1, framed(b"after")), (4, framed(b"m")))


def test_a_marked_frame_split_over_cells_marks_the_cell_where_it_ends() -> None:
    shaper = carrier()
    shaper.offer(Lane.CONTROL, b"r" * 80, ends_cell=True)
    shaper.offer(Lane.FLASH, b"f")
    first, second = shaper.poll(100.25)
    assert not first.marked
    assert second.marked and second.data == cell((1, framed(b"r" * 80)[SIZE - 6 :]))


# -- what waits, and backpressure --------------------------------------------------------------------------


def test_waiting_counts_frames_and_framed_bytes_until_they_leave() -> None:
    shaper = carrier()
    assert (shaper.status().load, shaper.status().backlog) == (0.0, 0)
    shaper.offer(Lane.DOCUMENTS, b"x" * 100)
    shaper.offer(Lane.DOCUMENTS, b"y" * 10)
    assert shaper.waiting(Lane.DOCUMENTS) == Waiting(frames=2, bytes=118)
    assert shaper.status().backlog == 3  # 118 bytes, at most 58 a cell
    shaper.poll(100.0)  # 58 bytes of the first frame leave
    assert shaper.waiting(Lane.DOCUMENTS) == Waiting(frames=2, bytes=60)
    shaper.poll(100.25)  # the first frame's last 46 bytes, then 12 of the second's 14
    assert shaper.waiting(Lane.DOCUMENTS) == Waiting(frames=1, bytes=2)
    shaper.poll(100.5)
    assert shaper.waiting(Lane.DOCUMENTS) == Waiting(frames=0, bytes=0)
    status = shaper.status()
    assert status.cells == 3
    assert status.sent[Lane.DOCUMENTS] == 118
    assert status.padding == SIZE - 3 - 3 - 2
    assert status.load == 118 / (3 * SIZE)
    assert status.backlog == 0
    assert status.waiting[Lane.FLASH] == Waiting(0, 0)


def test_a_full_lane_refuses_a_frame_and_the_schedule_goes_on() -> None:
    shaper = carrier()
    shaper.offer(Lane.MESSAGES, b"a" * 200)
    assert shaper.room(Lane.MESSAGES) == 400 - 204 - 4
    shaper.offer(Lane.MESSAGES, b"b" * 192)
    assert shaper.room(Lane.MESSAGES) == 0
    with pytest.raises(LaneFull) as refused:
        shaper.offer(Lane.MESSAGES, b"c")
    assert isinstance(refused.value, LocalProtocolError)
    assert shaper.waiting(Lane.MESSAGES) == Waiting(2, 400)
    assert shaper.room(Lane.FLASH) == 200  # other lanes are not affected
    assert len(shaper.poll(100.0)) == 1
    assert shaper.room(Lane.MESSAGES) == 58 - 4


@pytest.mark.parametrize("size", [0, 201])
def test_a_frame_must_hold_1_to_max_frame_bytes(size: int) -> None:
    shaper = carrier()
    with pytest.raises(LocalProtocolError, match="1 to 200"):
        shaper.offer(Lane.CONTROL, bytes(size))
    assert shaper.waiting(Lane.CONTROL) == Waiting(0, 0)


# -- the reader ------------------------------------------------------------------------------------------


def test_the_reader_hands_out_whole_frames_in_cell_order() -> None:
    reader = CellReader(cell_size=SIZE, max_frame=200)
    whole = framed(b"m" * 70)
    assert reader.read(cell((2, framed(b"f")), (4, whole[: SIZE - 14]))) == [(Lane.FLASH, b"f")]
    assert reader.buffered == SIZE - 14
    assert reader.read(cell((4, whole[SIZE - 14 :]), (5, framed(b"d")))) == [
        (Lane.MESSAGES, b"m" * 70),
        (Lane.DOCUMENTS, b"d"),
    ]
    assert reader.buffered == 0
    assert reader.read(cell()) == []


def test_a_frame_header_may_straddle_cells() -> None:
    reader = CellReader(cell_size=SIZE, max_frame=200)
    whole = framed(b"z" * 50)
    room = SIZE - 6
    assert reader.read(cell((5, framed(b"q" * (room - 6)) + whole[:2]))) == [
        (Lane.DOCUMENTS, b"q" * (room - 6))
    ]
    assert reader.read(cell((5, whole[2:]))) == [(Lane.DOCUMENTS, b"z" * 50)]


def _bad(data: bytes, match: str, *, reader: CellReader | None = None) -> None:
    reader = reader or CellReader(cell_size=SIZE, max_frame=200)
    with pytest.raises(RemoteProtocolError, match=match) as raised:
        reader.read(data)
    assert raised.value.code is ErrorCode.PROTOCOL_VIOLATION


def test_the_reader_refuses_a_cell_of_another_size() -> None:
    _bad(cell()[:-1], "63 bytes, not 64")
    _bad(cell() + b"\0", "65 bytes")


def test_the_reader_refuses_another_kind() -> None:
    _bad(cell(kind=1), "kind 1")


def test_the_reader_refuses_a_content_length_past_the_end() -> None:
    _bad(bytes([CELL_KIND]) + (SIZE - 2).to_bytes(2, "big") + bytes(SIZE - 3), "past the end")


def test_the_reader_refuses_non_zero_padding() -> None:
    data = bytearray(cell((1, framed(b"c"))))
    data[-1] = 1
    _bad(bytes(data), "padding")


def test_the_reader_refuses_an_unknown_lane() -> None:
    _bad(cell((6, framed(b"x"))), "unknown lane 6")
    _bad(cell((0, framed(b"x"))), "unknown lane 0")


def test_the_reader_refuses_lanes_out_of_order_or_twice() -> None:
    _bad(cell((4, framed(b"a")), (2, framed(b"b"))), "lane 2 after lane 4")
    _bad(cell((3, framed(b"a")), (3, framed(b"b"))), "lane 3 after lane 3")


def test_the_reader_refuses_an_empty_segment_or_one_past_the_content() -> None:
    _bad(cell((1, b"")), "a segment of 0 bytes")
    data = bytearray(cell((1, framed(b"abc"))))
    data[5] += 1  # the segment claims one byte more than the content holds
    _bad(bytes(data), "a segment of 8 bytes where 7 remain")


def test_the_reader_refuses_a_header_cut_by_the_content_end() -> None:
    data = bytearray(cell((1, framed(b"abc"))))
    data[2] += 2  # content_len now covers two bytes of padding: a 2-byte "segment header"
    _bad(bytes(data), "header cut")


@pytest.mark.parametrize("length", [0, 201])
def test_the_reader_refuses_a_frame_length_out_of_range(length: int) -> None:
    _bad(cell((1, length.to_bytes(4, "big") + b"x")), f"a frame of {length} bytes")


def test_the_reader_refuses_a_segment_cut_mid_frame_before_the_cells_end() -> None:
    """A sender cuts a frame only where the cell ends; stopping early means it held bytes back."""
    _bad(cell((4, framed(b"abcdef")[:5])), "stops inside a frame")
    _bad(cell((2, framed(b"abcdef")[:5]), (4, framed(b"m"))), "FLASH segment stops inside a frame")


def test_the_reader_checks_its_settings() -> None:
    with pytest.raises(ValueError):
        CellReader(cell_size=100)
    with pytest.raises(ValueError):
        CellReader(max_frame=MAX_FRAME + 1)
    assert CellReader().cell_size == CELL_SIZE


def test_what_the_carrier_sends_the_reader_reads() -> None:
    shaper, reader = Carrier(0.0), CellReader()
    voice = b"v" * 441
    document = bytes(range(256)) * 300
    shaper.offer(Lane.DOCUMENTS, document)
    shaper.offer(Lane.VOICE, voice)
    shaper.offer(Lane.FLASH, b"flash")
    frames = [frame for c in shaper.poll(2.0) for frame in reader.read(c.data)]
    assert frames == [(Lane.FLASH, b"flash"), (Lane.VOICE, voice), (Lane.DOCUMENTS, document)]


# -- the tables: docstrings and docs/state-machines/carrier.md --------------------------------------------

PAGE = Path(__file__).resolve().parents[3] / "docs" / "state-machines" / "carrier.md"


@pytest.mark.parametrize(("machine", "heading"), [(Carrier, "## Sender"), (CellReader, "## Reader")])
def test_the_docstring_and_the_page_hold_the_same_table(machine: type, heading: str) -> None:
    assert machine.__doc__ is not None
    ours = table_rows(machine.__doc__)
    page = table_rows(PAGE.read_text(encoding="utf-8").split(heading, 1)[1])
    assert ours[0] == ["on", "when", "then"]
    assert len(ours) > 8
    assert ours == page


# -- pulling: how a line keeps a FLASH from waiting (docs/protocol.md §14.3) -----------------------------


def test_a_flash_behind_a_thousand_routine_messages_a_document_and_a_call_leaves_in_the_next_cell() -> None:
    """The line pulls: it numbers and offers the next entry only while less than a cell's worth waits
    in MESSAGES, and a FLASH goes in MESSAGES when an entry is there (entries keep their order).
    With a call's media in every cell and a document behind, a FLASH queued at 5.01 s arrives whole
    in the cell of 5.04 s, the second after it: behind less than a cell of ROUTINE bytes, sharing
    each cell with the call's speech. (Had the line offered the thousand at once at the start, the
    FLASH, numbered after them, would arrive at 10.66 s.) The ROUTINE messages (300 bytes each) go
    on behind it."""
    shaper, reader = Carrier(0.0), CellReader()
    routine = [b"r%04d" % n + b"x" * 295 for n in range(1000)]
    flash: bytes | None = b"FLASH" + b"y" * 295
    arrived: dict[bytes, float] = {}
    for tick in range(1000):
        now = tick * CELL_INTERVAL
        if flash is not None and now >= 5.01:
            if shaper.waiting(Lane.MESSAGES).frames == 0:
                shaper.offer(Lane.FLASH, flash)
                flash = None
            elif shaper.waiting(Lane.MESSAGES).bytes < CELL_SIZE - 6:
                shaper.offer(Lane.MESSAGES, flash)
                flash = None
        flash_waits = flash is not None and now >= 5.01  # a FLASH is numbered before the next ROUTINE
        while not flash_waits and routine and shaper.waiting(Lane.MESSAGES).bytes < CELL_SIZE - 6:
            shaper.offer(Lane.MESSAGES, routine.pop(0))
        if shaper.waiting(Lane.DOCUMENTS).bytes < 2 * (4 + 65569):
            shaper.offer(Lane.DOCUMENTS, bytes(65569))  # a DocData message of 64 KiB
        if shaper.waiting(Lane.VOICE).frames < 2:
            shaper.offer(Lane.VOICE, bytes(441))  # a CallMedia message
        for each in shaper.poll(now):
            for _, frame in reader.read(each.data):
                arrived.setdefault(frame[:5], each.at)
    assert arrived[b"FLASH"] == 252 * CELL_INTERVAL  # 5.04 s
    assert arrived[b"r0000"] == 0.0
    assert b"r0999" in arrived  # all of them within the 20 s
