"""Line messages (hotline.proto.linemsg): round trips, and strict decoding that raises one error type.

The decoder is the boundary where a peer's bytes become station data, so the invariant is h11's fuzz
rule: whatever comes in, ``decode`` returns a well-formed message or raises ``LineMessageError`` and
nothing else.
"""

from __future__ import annotations

import contextlib
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.proto.linemsg import (
    CHAIN_LEN,
    MAX_TEXT_LEN,
    MESSAGE_ID_LEN,
    Entry,
    Hello,
    Kind,
    LineMessageError,
    Precedence,
    Receipt,
    decode,
    decode_probe,
    encode,
)
from hotline.proto.linemsg import TestProbe as Probe  # aliased: pytest would collect a Test* class

U64 = st.integers(0, 2**64 - 1)
chains = st.binary(min_size=CHAIN_LEN, max_size=CHAIN_LEN)
ids = st.binary(min_size=MESSAGE_ID_LEN, max_size=MESSAGE_ID_LEN)

hellos = st.builds(Hello, received_seq=U64, received_head=chains, sent_seq=U64)
receipts = st.builds(Receipt, seq=U64, head=chains)
entries = st.builds(
    Entry,
    seq=st.integers(1, 2**64 - 1),
    id=ids,
    kind=st.sampled_from(list(Kind)).map(int),
    precedence=st.sampled_from(list(Precedence)).map(int),
    created_ms=U64,
    ref=st.one_of(st.just(b""), ids),
    body=st.binary(max_size=300),
    chain=chains,
)
probes = st.builds(Probe, received_seq=U64, received_head=chains)
line_messages = st.one_of(hellos, receipts, entries)

_CHAIN = b"\x07" * CHAIN_LEN
_ID = b"\x01" * MESSAGE_ID_LEN

#: The wire form of one valid message per tag, as plain msgpack arrays (tag first).
GOOD_HELLO: list[Any] = [0, 5, _CHAIN, 6]
GOOD_ENTRY: list[Any] = [
    1,
    1,
    _ID,
    int(Kind.TEXT),
    int(Precedence.ROUTINE),
    1_700_000_000_000,
    b"",
    b"hi",
    _CHAIN,
]
GOOD_RECEIPT: list[Any] = [2, 3, _CHAIN]


def _raw(value: object) -> bytes:
    return msgspec.msgpack.encode(value)


def _with(template: list[Any], index: int, value: object) -> bytes:
    fields = list(template)
    fields[index] = value
    return _raw(fields)


# -- round trips


@settings(max_examples=200)
@given(line_messages)
def test_roundtrip(message: Hello | Entry | Receipt) -> None:
    assert decode(encode(message)) == message


@settings(max_examples=100)
@given(probes)
def test_probe_roundtrip(probe: Probe) -> None:
    assert decode_probe(encode(probe)) == probe


def test_good_templates_decode() -> None:
    assert decode(_raw(GOOD_HELLO)) == Hello(5, _CHAIN, 6)
    assert decode(_raw(GOOD_RECEIPT)) == Receipt(3, _CHAIN)
    entry = decode(_raw(GOOD_ENTRY))
    assert isinstance(entry, Entry)
    assert entry.body == b"hi"


def test_encoding_is_an_array_with_the_tag_first() -> None:
    """Golden bytes: the tag leads a fixarray; fields follow in declaration order."""
    assert encode(Receipt(3, _CHAIN)) == bytes([0x93, 0x02, 0x03, 0xC4, CHAIN_LEN]) + _CHAIN
    assert encode(Hello(0, _CHAIN, 0))[:2] == bytes([0x94, 0x00])
    assert encode(Probe(1, _CHAIN))[:2] == bytes([0x92, 0x01])


def test_boundary_values_accepted() -> None:
    assert decode(_with(GOOD_ENTRY, 7, b"x" * MAX_TEXT_LEN)).body == b"x" * MAX_TEXT_LEN  # type: ignore[union-attr]
    assert decode(_with(GOOD_ENTRY, 6, _ID)).ref == _ID  # type: ignore[union-attr]
    assert decode(_with(GOOD_HELLO, 1, 0)) == Hello(0, _CHAIN, 6)
    assert decode(_with(GOOD_RECEIPT, 1, 0)) == Receipt(0, _CHAIN)


# -- strict decoding

BAD_MESSAGES: dict[str, bytes] = {
    # framing
    "empty": b"",
    "not an array": _raw({"t": 0}),
    "empty array": _raw([]),
    "unknown tag": _raw([3, 1, _CHAIN]),
    "negative tag": _raw([-1, 1, _CHAIN]),
    "string tag": _raw(["0", 5, _CHAIN, 6]),
    "trailing bytes": _raw(GOOD_RECEIPT) + b"\x00",
    "truncated": _raw(GOOD_ENTRY)[:-1],
    "a bare probe": encode(Probe(0, _CHAIN)),
    "deeply nested": b"\x91" * 100_000 + b"\x00",
    "nested in a field": b"\x94\x00" + b"\x91" * 100_000 + b"\x00",
    # field counts
    "hello extra field": _raw([*GOOD_HELLO, 0]),
    "entry extra field": _raw([*GOOD_ENTRY, b""]),
    "receipt extra field": _raw([*GOOD_RECEIPT, 1]),
    "hello missing field": _raw(GOOD_HELLO[:-1]),
    "entry missing field": _raw(GOOD_ENTRY[:-1]),
    "receipt missing field": _raw(GOOD_RECEIPT[:-1]),
    # wrong types
    "bool for int": _with(GOOD_RECEIPT, 1, True),
    "float for int": _with(GOOD_RECEIPT, 1, 3.0),
    "str for bytes": _with(GOOD_RECEIPT, 2, "x" * CHAIN_LEN),
    "nil for bytes": _with(GOOD_ENTRY, 7, None),
    "list for bytes": _with(GOOD_ENTRY, 2, list(_ID)),
    "bytes for int": _with(GOOD_HELLO, 3, b"\x06"),
    "str kind": _with(GOOD_ENTRY, 3, "TEXT"),
    # out of range: Hello
    "hello negative received_seq": _with(GOOD_HELLO, 1, -1),
    "hello negative sent_seq": _with(GOOD_HELLO, 3, -1),
    "hello short head": _with(GOOD_HELLO, 2, _CHAIN[:-1]),
    "hello long head": _with(GOOD_HELLO, 2, _CHAIN + b"\x00"),
    "hello empty head": _with(GOOD_HELLO, 2, b""),
    # out of range: Receipt
    "receipt negative seq": _with(GOOD_RECEIPT, 1, -1),
    "receipt short head": _with(GOOD_RECEIPT, 2, _CHAIN[:-1]),
    # out of range: Entry
    "entry seq zero": _with(GOOD_ENTRY, 1, 0),
    "entry negative seq": _with(GOOD_ENTRY, 1, -5),
    "entry short id": _with(GOOD_ENTRY, 2, _ID[:-1]),
    "entry long id": _with(GOOD_ENTRY, 2, _ID + b"\x00"),
    "entry empty id": _with(GOOD_ENTRY, 2, b""),
    "entry unknown kind": _with(GOOD_ENTRY, 3, max(Kind) + 1),
    "entry negative kind": _with(GOOD_ENTRY, 3, -1),
    "entry unknown precedence": _with(GOOD_ENTRY, 4, max(Precedence) + 1),
    "entry negative precedence": _with(GOOD_ENTRY, 4, -1),
    "entry negative created_ms": _with(GOOD_ENTRY, 5, -1),
    "entry short ref": _with(GOOD_ENTRY, 6, _ID[:-1]),
    "entry long ref": _with(GOOD_ENTRY, 6, _ID + b"\x00"),
    "entry body too long": _with(GOOD_ENTRY, 7, b"x" * (MAX_TEXT_LEN + 1)),
    "entry short chain": _with(GOOD_ENTRY, 8, _CHAIN[:-1]),
    "entry long chain": _with(GOOD_ENTRY, 8, _CHAIN + b"\x00"),
    "entry empty chain": _with(GOOD_ENTRY, 8, b""),
}


@pytest.mark.parametrize("data", BAD_MESSAGES.values(), ids=BAD_MESSAGES.keys())
def test_bad_message_raises_line_message_error(data: bytes) -> None:
    with pytest.raises(LineMessageError):
        decode(data)


BAD_PROBES: dict[str, bytes] = {
    "empty": b"",
    "extra field": _raw([0, _CHAIN, 0]),
    "missing field": _raw([0]),
    "negative seq": _raw([-1, _CHAIN]),
    "short head": _raw([0, _CHAIN[:-1]]),
    "bool seq": _raw([False, _CHAIN]),
    "a line message": encode(Receipt(1, _CHAIN)),
}


@pytest.mark.parametrize("data", BAD_PROBES.values(), ids=BAD_PROBES.keys())
def test_bad_probe_raises_line_message_error(data: bytes) -> None:
    with pytest.raises(LineMessageError):
        decode_probe(data)


def test_line_message_error_is_a_value_error() -> None:
    assert issubclass(LineMessageError, ValueError)


# -- fuzz: only LineMessageError, ever


def _only_line_message_error(parse: Any, data: bytes) -> None:
    with contextlib.suppress(LineMessageError):
        parse(data)


@settings(max_examples=400)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_raise_only_line_message_error(data: bytes) -> None:
    _only_line_message_error(decode, data)
    _only_line_message_error(decode_probe, data)


msgpack_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=True)
    | st.binary(max_size=40)
    | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=10) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=8,
)


@settings(max_examples=100)
@given(st.integers(-1, 4), st.lists(msgpack_values, max_size=10))
def test_arbitrary_msgpack_arrays_raise_only_line_message_error(tag: int, fields: list[object]) -> None:
    """Well-formed msgpack with a plausible tag gets past the framing, and into the field checks."""
    _only_line_message_error(decode, _raw([tag, *fields]))


@settings(max_examples=300)
@given(line_messages, st.data())
def test_mutated_encodings_raise_only_line_message_error(
    message: Hello | Entry | Receipt, data: st.DataObject
) -> None:
    """Flip, cut or extend a valid encoding: the result decodes or raises ``LineMessageError``."""
    wire = bytearray(encode(message))
    action = data.draw(st.sampled_from(["flip", "truncate", "append"]))
    if action == "flip":
        index = data.draw(st.integers(0, len(wire) - 1))
        wire[index] ^= data.draw(st.integers(1, 255))
    elif action == "truncate":
        del wire[data.draw(st.integers(0, len(wire) - 1)) :]
    else:
        wire += data.draw(st.binary(min_size=1, max_size=8))
    _only_line_message_error(decode, bytes(wire))


@settings(max_examples=200)
@given(entries, st.integers(0, 8), msgpack_values)
def test_any_entry_field_replaced_decodes_valid_or_raises(entry: Entry, index: int, value: object) -> None:
    """Replace one field with anything: either it is still a valid entry, or ``LineMessageError``."""
    fields: list[Any] = [1, *msgspec.structs.astuple(entry)]
    fields[index] = value
    try:
        result = decode(_raw(fields))
    except LineMessageError:
        return
    # if it decoded, every range check holds
    assert isinstance(result, Hello | Entry | Receipt)
    if isinstance(result, Entry):
        assert result.seq >= 1
        assert len(result.id) == MESSAGE_ID_LEN
        assert len(result.chain) == CHAIN_LEN
        assert result.kind in set(Kind)
        assert result.precedence in set(Precedence)
        assert len(result.body) <= MAX_TEXT_LEN
        assert result.created_ms >= 0
        assert result.ref in (b"",) or len(result.ref) == MESSAGE_ID_LEN


def test_each_line_message_has_its_carrier_lane() -> None:
    from hotline.proto.carrier import Lane
    from hotline.proto.linemsg import carrier_lane

    def entry(precedence: Precedence, kind: Kind = Kind.TEXT) -> Entry:
        return Entry(
            seq=1,
            id=bytes(10),
            kind=kind,
            precedence=precedence,
            created_ms=0,
            ref=b"",
            body=b"x",
            chain=bytes(32),
        )

    assert carrier_lane(entry(Precedence.FLASH)) is Lane.FLASH
    assert carrier_lane(entry(Precedence.FLASH, Kind.TEST)) is Lane.FLASH
    assert carrier_lane(entry(Precedence.IMMEDIATE)) is Lane.MESSAGES
    assert carrier_lane(entry(Precedence.ROUTINE, Kind.DOC)) is Lane.MESSAGES
