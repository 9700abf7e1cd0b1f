"""The delivery rules (hotline.proto.delivery): chain heads and the four verdicts, case by case.

The property tests in tests/property/test_delivery_props.py cover whole transcripts; here each rule
gets one named example.
"""

from __future__ import annotations

from typing import Any

import pytest

from hotline.proto.delivery import (
    Accept,
    ChainMismatch,
    Duplicate,
    Gap,
    chain_next,
    chain_start,
    classify,
    entry_chain,
)
from hotline.proto.linemsg import CHAIN_LEN, Entry, Kind, Precedence

ALICE = b"\xaa" * 32
BOB = b"\xbb" * 32

FIELDS: dict[str, Any] = {
    "seq": 1,
    "id": b"\x01" * 10,
    "kind": int(Kind.TEXT),
    "precedence": int(Precedence.ROUTINE),
    "created_ms": 1_700_000_000_000,
    "ref": b"",
    "body": b"hello",
}

#: For each field, a value that differs from ``FIELDS`` but is still in range.
ALTERED: dict[str, Any] = {
    "seq": 2,
    "id": b"\x02" * 10,
    "kind": int(Kind.ACK),
    "precedence": int(Precedence.FLASH),
    "created_ms": 1_700_000_000_001,
    "ref": b"\x03" * 10,
    "body": b"hellp",
}


def _entry(head: bytes, **fields: Any) -> Entry:
    """An entry with a correct chain over ``head``."""
    merged = {**FIELDS, **fields}
    return Entry(chain=chain_next(head, **merged), **merged)


def _transcript(start: bytes, count: int) -> list[Entry]:
    entries, head = [], start
    for seq in range(1, count + 1):
        entry = _entry(head, seq=seq, id=seq.to_bytes(10, "big"), body=f"message {seq}".encode())
        entries.append(entry)
        head = entry.chain
    return entries


def _fields(entry: Entry) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in Entry.__struct_fields__}


# -- chain heads


def test_chain_start_is_a_32_byte_head() -> None:
    assert len(chain_start(ALICE, BOB)) == CHAIN_LEN


def test_chain_start_differs_per_direction() -> None:
    assert chain_start(ALICE, BOB) != chain_start(BOB, ALICE)


def test_chain_start_is_deterministic_and_depends_on_both_parties() -> None:
    assert chain_start(ALICE, BOB) == chain_start(ALICE, BOB)
    carol = b"\xcc" * 32
    assert len({chain_start(ALICE, BOB), chain_start(ALICE, carol), chain_start(carol, BOB)}) == 3


def test_chain_next_is_deterministic() -> None:
    head = chain_start(ALICE, BOB)
    assert chain_next(head, **FIELDS) == chain_next(head, **FIELDS)
    assert len(chain_next(head, **FIELDS)) == CHAIN_LEN


@pytest.mark.parametrize("field", ALTERED)
def test_chain_next_changes_with_every_field(field: str) -> None:
    head = chain_start(ALICE, BOB)
    assert chain_next(head, **{**FIELDS, field: ALTERED[field]}) != chain_next(head, **FIELDS)


def test_chain_next_changes_with_the_head() -> None:
    assert chain_next(chain_start(ALICE, BOB), **FIELDS) != chain_next(chain_start(BOB, ALICE), **FIELDS)


def test_chain_next_does_not_confuse_field_boundaries() -> None:
    """Moving bytes from one field to its neighbour changes the head (the encoding is framed)."""
    head = chain_start(ALICE, BOB)
    a = chain_next(head, **{**FIELDS, "ref": b"", "body": b"\x01" * 10 + b"x"})
    b = chain_next(head, **{**FIELDS, "ref": b"\x01" * 10, "body": b"x"})
    assert a != b


def test_entry_chain_matches_chain_next() -> None:
    head = chain_start(ALICE, BOB)
    entry = _entry(head)
    assert entry_chain(head, entry) == chain_next(head, **FIELDS) == entry.chain


# -- classify


def test_first_entry_is_accepted() -> None:
    start = chain_start(ALICE, BOB)
    entry = _entry(start)
    assert classify(0, start, entry) == Accept(entry.chain)


def test_next_entry_is_accepted_with_its_chain_as_head() -> None:
    start = chain_start(ALICE, BOB)
    _, second, third = _transcript(start, 3)
    assert classify(2, second.chain, third) == Accept(third.chain)


def test_in_order_transcript_is_all_accepted() -> None:
    start = chain_start(ALICE, BOB)
    seq, head = 0, start
    for entry in _transcript(start, 10):
        verdict = classify(seq, head, entry)
        assert verdict == Accept(entry.chain)
        seq, head = entry.seq, verdict.head
    assert seq == 10


@pytest.mark.parametrize("seq", [1, 2, 3])
def test_seq_at_or_below_received_is_duplicate(seq: int) -> None:
    start = chain_start(ALICE, BOB)
    entries = _transcript(start, 3)
    assert classify(3, entries[2].chain, entries[seq - 1]) == Duplicate()


def test_duplicate_is_judged_by_seq_alone() -> None:
    """A resend is recognised by number; its chain is not rechecked (it was, when first stored)."""
    start = chain_start(ALICE, BOB)
    entry = _entry(start)
    forged = Entry(**{**_fields(entry), "chain": b"\x00" * CHAIN_LEN})
    assert classify(1, entry.chain, forged) == Duplicate()


@pytest.mark.parametrize(("received", "seq"), [(0, 2), (0, 7), (3, 5), (3, 100)])
def test_seq_beyond_next_is_gap(received: int, seq: int) -> None:
    entry = _entry(b"\x00" * CHAIN_LEN, seq=seq)
    assert classify(received, b"\x00" * CHAIN_LEN, entry) == Gap(received + 1)


@pytest.mark.parametrize("field", [f for f in ALTERED if f != "seq"])
def test_any_altered_field_is_chain_mismatch(field: str) -> None:
    start = chain_start(ALICE, BOB)
    entry = _entry(start)
    altered = Entry(**{**_fields(entry), field: ALTERED[field]})
    assert classify(0, start, altered) == ChainMismatch(entry_chain(start, altered))


def test_altered_chain_is_chain_mismatch() -> None:
    start = chain_start(ALICE, BOB)
    entry = _entry(start)
    altered = Entry(**{**_fields(entry), "chain": bytes(b ^ 1 for b in entry.chain)})
    assert classify(0, start, altered) == ChainMismatch(entry.chain)


def test_entry_for_the_other_direction_is_chain_mismatch() -> None:
    """An entry Alice sent Bob, reflected back to Alice as if Bob sent it, does not fit her inbound chain."""
    entry = _entry(chain_start(ALICE, BOB))
    verdict = classify(0, chain_start(BOB, ALICE), entry)
    assert isinstance(verdict, ChainMismatch)


def test_receiver_with_a_different_history_sees_chain_mismatch() -> None:
    start = chain_start(ALICE, BOB)
    entries = _transcript(start, 2)
    other_history = _entry(start, body=b"something else").chain
    assert isinstance(classify(1, other_history, entries[1]), ChainMismatch)
