"""The payload format: golden bytes, size limits, and no exception but PayloadError on any input."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline.voice.errors import PayloadError, VoiceError
from hotline.voice.payload import MAX_FRAME_BYTES, MAX_PAYLOAD, pack_payload, unpack_payload

# Our own wire format (src/hotline/voice/payload.py docstring): version, index, count, frames.
GOLDEN = [
    ((0, [b"\xaa"]), bytes.fromhex("01 00000000 01 0001 aa")),
    ((7, [b"\x01\x02", b"\x03"]), bytes.fromhex("01 00000007 02 0002 0102 0001 03")),
    ((0x01020304, [b"x", b"yy", b"zzz"]), bytes.fromhex("01 01020304 03 0001 78 0002 7979 0003 7a7a7a")),
]


@pytest.mark.parametrize(("args", "wire"), GOLDEN)
def test_golden_bytes(args: tuple[int, list[bytes]], wire: bytes) -> None:
    assert pack_payload(*args) == wire
    assert unpack_payload(wire) == args


def test_payload_error_is_a_voice_error() -> None:
    assert issubclass(PayloadError, VoiceError)


def test_oldest_copies_that_do_not_fit_are_dropped() -> None:
    frames = [b"p" * 150, b"a" * 150, b"b" * 150, b"c" * 10]
    index, got = unpack_payload(pack_payload(10, frames))
    assert index == 10
    assert got == frames[:2]  # "c" would fit, but only after the missing "b": never skip a copy
    assert len(pack_payload(10, frames)) <= MAX_PAYLOAD


def test_largest_primary_fits_alone() -> None:
    payload = pack_payload(3, [b"p" * MAX_FRAME_BYTES, b"old"])
    assert len(payload) == MAX_PAYLOAD
    assert unpack_payload(payload) == (3, [b"p" * MAX_FRAME_BYTES])


@pytest.mark.parametrize(
    ("index", "frames", "match"),
    [
        (0, [b"p" * (MAX_FRAME_BYTES + 1)], "lower the encoder's bitrate"),
        (-1, [b"p"], "out of range"),
        (2**32, [b"p"], "out of range"),
        (0, [], "at least the primary"),
        (0, [b""], "empty"),
        (1, [b"p", b"a", b"b"], "earlier frames"),
    ],
)
def test_pack_refuses(index: int, frames: list[bytes], match: str) -> None:
    with pytest.raises(PayloadError, match=match):
        pack_payload(index, frames)


@pytest.mark.parametrize(
    ("wire", "match"),
    [
        (b"", "shorter"),
        (bytes.fromhex("02 00000000 01 0001 aa"), "version"),
        (bytes.fromhex("01 00000000 00"), "no frame"),
        (bytes.fromhex("01 00000000 02 0001 aa 0001 bb"), "earlier frames"),
        (bytes.fromhex("01 00000005 01 00"), "frame length"),
        (bytes.fromhex("01 00000005 01 0000"), "empty frame"),
        (bytes.fromhex("01 00000005 01 0005 aa"), "inside a frame"),
        (bytes.fromhex("01 00000005 01 0001 aa ff"), "stray"),
        (bytes(MAX_PAYLOAD + 1), "larger"),
    ],
)
def test_unpack_refuses(wire: bytes, match: str) -> None:
    with pytest.raises(PayloadError, match=match):
        unpack_payload(wire)


frames_strategy = st.lists(st.binary(min_size=1, max_size=120), min_size=1, max_size=4)


@given(index=st.integers(min_value=3, max_value=2**32 - 1), frames=frames_strategy)
def test_round_trip(index: int, frames: list[bytes]) -> None:
    got_index, got = unpack_payload(pack_payload(index, frames))
    assert got_index == index
    assert got == frames[: len(got)]
    assert got[0] == frames[0]


@given(st.binary(max_size=MAX_PAYLOAD + 8))
def test_arbitrary_bytes_raise_only_payload_error(data: bytes) -> None:
    try:
        index, frames = unpack_payload(data)
    except PayloadError:
        return
    assert index >= len(frames) - 1 >= 0
    assert all(frames)
    assert pack_payload(index, frames) == data


@given(st.binary(min_size=1, max_size=MAX_PAYLOAD), st.integers(min_value=0))
def test_mutated_payloads_raise_only_payload_error(data: bytes, at: int) -> None:
    """Flip one byte of a valid payload: it parses to something consistent or raises PayloadError."""
    wire = bytearray(pack_payload(5, [b"primary", b"copy"]))
    wire[at % len(wire)] ^= data[0] or 1
    with contextlib.suppress(PayloadError):
        unpack_payload(bytes(wire))
