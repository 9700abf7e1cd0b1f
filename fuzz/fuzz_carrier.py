"""Fuzz target ``carrier``: the carrier's cell reader (docs/protocol.md §14, a draft).

Input: ``mode:u8 || cells``. ``mode`` picks the cell size (64 or 128 bytes) and the frame limit (16,
150 or the longest message); the rest is cut into cells of that size (the last one may be short,
which the reader must refuse) and read one after the other by one :class:`CellReader`.

Contract:

* the reader raises only :class:`RemoteProtocolError`, with ``PROTOCOL_VIOLATION``;
* every frame it hands out holds 1 to ``max_frame`` bytes, and it never holds more than one partial
  frame per lane;
* what it took, a :class:`Carrier` of the same size carries again: the frames handed out before any
  refusal, offered in that order, come out of a fresh reader the same, lane by lane.
"""

from __future__ import annotations

import sys

from fuzz import instrumented, suppressing_known

with instrumented(__name__):
    from hotline.proto.carrier import FRAME_HEADER_LEN, MAX_FRAME, Carrier, CellReader, Lane
    from hotline.proto.errors import ErrorCode, RemoteProtocolError

_SIZES = (64, 128)
_MAX_FRAMES = (16, 150, MAX_FRAME)


def _read(cells: list[bytes], size: int, max_frame: int) -> list[tuple[Lane, bytes]]:
    """The frames a reader hands out from ``cells``, up to its first refusal."""
    reader = CellReader(cell_size=size, max_frame=max_frame)
    frames: list[tuple[Lane, bytes]] = []
    for cell in cells:
        try:
            taken = reader.read(cell)
        except RemoteProtocolError as exc:
            assert exc.code is ErrorCode.PROTOCOL_VIOLATION
            break
        assert all(1 <= len(frame) <= max_frame for _, frame in taken)
        assert reader.buffered < len(Lane) * (FRAME_HEADER_LEN + max_frame)
        frames += taken
    return frames


def test_one_input(data: bytes) -> None:
    """Check the reader's contract on one input (see the module docstring)."""
    if not data:
        return
    size = _SIZES[data[0] & 1]
    max_frame = _MAX_FRAMES[(data[0] >> 1) % len(_MAX_FRAMES)]
    stream = data[1:]
    cells = [stream[i : i + size] for i in range(0, len(stream), size)]
    frames = _read(cells, size, max_frame)

    carrier = Carrier(0.0, interval=1.0, cell_size=size, max_frame=max_frame)
    for lane, frame in frames:
        carrier.offer(lane, frame)
    total = sum(FRAME_HEADER_LEN + len(frame) for _, frame in frames)
    again = [cell.data for cell in carrier.poll(float(total))]  # a cell carries at least one byte
    by_lane = {lane: [frame for each, frame in frames if each is lane] for lane in Lane}
    carried = _read(again, size, max_frame)
    assert {lane: [frame for each, frame in carried if each is lane] for lane in Lane} == by_lane


def main() -> None:
    import atheris

    atheris.Setup(sys.argv, suppressing_known(test_one_input))
    atheris.Fuzz()


if __name__ == "__main__":
    main()
