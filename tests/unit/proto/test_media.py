"""Media packets (hotline.proto.media): fixed-size sealing, forgery and replay (the keys come from a
real call key exchange, hotline.proto.callkeys; tests/unit/proto/test_callkeys.py tests that)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline.crypto.mlkem import MLKEM768
from hotline.proto.callkeys import CalleeExchange, CallerExchange, CallKeys
from hotline.proto.media import (
    PACKET_LEN,
    PAYLOAD_ROOM,
    REPLAY_WINDOW,
    MediaOpener,
    MediaSealer,
    ReplayWindow,
    packet_index,
)

HASH = bytes(range(32))
CALL = b"\x11" * 16


def call_keys(binding: bytes, call_id: bytes, caller_index: int, callee_index: int) -> CallKeys:
    """The keys of one fresh exchange (both ends derive the same: test_callkeys.py)."""
    caller = CallerExchange(call_id, dh_secret=random.randbytes(32), kem_seed=random.randbytes(64))
    callee = CalleeExchange(
        call_id, caller.commitment, caller.kem_public, dh_secret=random.randbytes(32), kem=MLKEM768()
    )
    return caller.finish(binding, call_id, caller_index, callee_index, callee.dh_public, callee.ciphertext)


def pair(caller_index: int = 7, callee_index: int = 9) -> tuple[MediaSealer, MediaOpener]:
    keys = call_keys(HASH, CALL, caller_index, callee_index)
    return (
        MediaSealer(keys.sending(caller=True), callee_index),
        MediaOpener(keys.receiving(caller=False), callee_index),
    )


def test_packets_have_one_size_whatever_they_carry() -> None:
    sealer, _opener = pair()
    sizes = {len(sealer.seal(bytes(n))) for n in (0, 1, 80, PAYLOAD_ROOM)}
    assert sizes == {PACKET_LEN}
    with pytest.raises(ValueError):
        sealer.seal(bytes(PAYLOAD_ROOM + 1))


def test_round_trip_and_counter() -> None:
    sealer, opener = pair()
    for n in range(5):
        packet = sealer.seal(b"frame %d" % n)
        assert packet_index(packet) == 9
        assert opener.open(packet) == (n, b"frame %d" % n)
    assert sealer.sent == 5


def test_replays_are_refused_and_counted() -> None:
    sealer, opener = pair()
    first = sealer.seal(b"one")
    second = sealer.seal(b"two")
    assert opener.open(second) is not None
    assert opener.open(first) is not None  # late but fresh: fine
    assert opener.open(first) is None
    assert opener.open(second) is None
    assert opener.replayed == 2 and opener.forged == 0


def test_a_packet_too_old_for_the_window_is_refused() -> None:
    sealer, opener = pair()
    old = sealer.seal(b"old")
    for _ in range(REPLAY_WINDOW + 1):
        assert opener.open(sealer.seal(b"x")) is not None
    assert opener.open(old) is None
    assert opener.replayed == 1


def test_every_bit_flip_is_refused_and_moves_nothing() -> None:
    sealer, opener = pair()
    packet = sealer.seal(b"speech")
    for byte in range(PACKET_LEN):
        for bit in (0, 5):
            bad = bytearray(packet)
            bad[byte] ^= 1 << bit
            assert opener.open(bytes(bad)) is None
    # the forgeries did not take the counter: the real packet still opens
    assert opener.open(packet) == (0, b"speech")


def test_another_call_or_direction_cannot_open() -> None:
    keys = call_keys(HASH, CALL, 7, 9)
    other = call_keys(HASH, b"\x22" * 16, 7, 9)
    packet = MediaSealer(keys.sending(caller=True), 9).seal(b"a")
    assert MediaOpener(other.receiving(caller=False), 9).open(packet) is None
    # our own packets reflected back at us are not the far end's
    assert MediaOpener(keys.receiving(caller=True), 9).open(packet) is None
    # a packet for another receiver index is not ours, even with our key
    assert MediaOpener(keys.receiving(caller=False), 10).open(packet) is None


@given(st.binary(max_size=PACKET_LEN + 10))
def test_arbitrary_bytes_never_open_or_raise(data: bytes) -> None:
    _, opener = pair()
    assert opener.open(data) is None
    assert packet_index(data) is None or len(data) == PACKET_LEN


@given(st.lists(st.integers(min_value=0, max_value=5000), max_size=300))
def test_the_window_takes_each_counter_once(counters: list[int]) -> None:
    window = ReplayWindow()
    taken: set[int] = set()
    top = -1
    for counter in counters:
        fresh = window.fresh(counter)
        expected = counter not in taken and (counter > top or top - counter < REPLAY_WINDOW)
        assert fresh == expected
        if fresh:
            window.take(counter)
            taken.add(counter)
            top = max(top, counter)


def test_reordered_packets_within_the_window_all_open() -> None:
    sealer, opener = pair()
    packets = [sealer.seal(bytes([n % 256])) for n in range(300)]
    random.Random(1).shuffle(packets)
    opened = [opener.open(p) for p in packets]
    assert all(o is not None for o in opened)
    assert sorted(o[0] for o in opened if o is not None) == list(range(300))
