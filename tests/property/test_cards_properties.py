"""Hypothesis properties for station cards (versions 1 and 2) and safety numbers.

* ``decode(encode(card)) == card`` and ``dearmor(armor(card)) == card`` for any valid name, endpoints
  and time, for cards of both versions (pyca/cryptography ``tests/hypothesis/test_fernet.py`` style);
* any single-byte change or truncation of a card of either version, binary or armored, is refused with
  :class:`CardError`, and arbitrary input raises nothing else (h11's fuzz invariant);
* the safety number does not depend on the order of the two cards.

Identities are made once at module level; the examples vary what is cheap to vary.
"""

from __future__ import annotations

import ipaddress

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.proto.cards import (
    CardError,
    StationCard,
    armor_card,
    dearmor_card,
    decode_card,
    encode_card,
    issue_card,
)
from hotline.proto.identity import Identity, station_name_problem
from hotline.proto.safety import safety_number

IDENTITIES = [Identity.generate(name) for name in ("Paris", "Moscow", "Washington", "Seoul")]
CARD = issue_card(
    IDENTITIES[0], endpoints=["paris.example:4433", "[2001:db8::7]:443"], created_at=1_700_000_000
)
ENCODED = encode_card(CARD)
ARMORED = armor_card(CARD)
assert CARD.version == 2
CARD_V1 = issue_card(IDENTITIES[1], endpoints=["moscow.example:1"], created_at=1_700_000_000, version=1)
ENCODED_V1 = encode_card(CARD_V1)

names = st.text(
    alphabet=st.characters(codec="utf-8", categories=["L", "M", "N", "P", "S", "Zs"]), min_size=1, max_size=64
).filter(lambda name: station_name_problem(name) is None)

_labels = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
hostnames = (
    st.lists(_labels, min_size=1, max_size=4).map(".".join).filter(lambda h: not h.split(".")[-1].isdigit())
)
ipv4 = st.integers(0, 2**32 - 1).map(lambda n: str(ipaddress.IPv4Address(n)))
ipv6 = st.integers(0, 2**128 - 1).map(lambda n: f"[{ipaddress.IPv6Address(n)}]")
endpoints = st.builds(
    lambda host, port: f"{host}:{port}", st.one_of(hostnames, ipv4, ipv6), st.integers(1, 65535)
)
endpoint_lists = st.lists(endpoints, max_size=8, unique=True)
times = st.integers(0, 2**63 - 1)


@settings(max_examples=40, deadline=None)
@given(identity=st.sampled_from(IDENTITIES), name=names, endpoints=endpoint_lists, created_at=times)
def test_round_trip(identity: Identity, name: str, endpoints: list[str], created_at: int) -> None:
    renamed = Identity(name, identity.static_key, identity.kem_key, identity.signing_key)
    card = issue_card(renamed, endpoints=endpoints, created_at=created_at)
    assert card.version == 1
    assert decode_card(encode_card(card)) == card
    assert dearmor_card(armor_card(card)) == card
    assert card.fingerprint == identity.fingerprint


@settings(max_examples=25, deadline=None)
@given(identity=st.sampled_from(IDENTITIES), name=names, endpoints=endpoint_lists, created_at=times)
def test_round_trip_version_2(identity: Identity, name: str, endpoints: list[str], created_at: int) -> None:
    renamed = Identity(name, identity.static_key, identity.kem_key, identity.signing_key, identity.cnsa2)
    card = issue_card(renamed, endpoints=endpoints, created_at=created_at)
    assert card.version == 2
    assert decode_card(encode_card(card)) == card
    assert dearmor_card(armor_card(card)) == card
    assert card.fingerprint_for("cnsa2") == identity.fingerprint_for("cnsa2")


@settings(max_examples=200, deadline=None)
@given(position=st.integers(0, len(ENCODED_V1) - 1), flip=st.integers(1, 255))
def test_any_byte_change_of_a_version_1_card_is_refused(position: int, flip: int) -> None:
    damaged = bytearray(ENCODED_V1)
    damaged[position] ^= flip
    try:
        decode_card(bytes(damaged))
    except CardError:
        return
    raise AssertionError(f"a version 1 card changed at byte {position} was accepted")


@settings(max_examples=100, deadline=None)
@given(length=st.integers(0, len(ENCODED_V1) - 1))
def test_any_truncation_of_a_version_1_card_is_refused(length: int) -> None:
    try:
        decode_card(ENCODED_V1[:length])
    except CardError:
        return
    raise AssertionError(f"a version 1 card cut to {length} bytes was accepted")


@settings(max_examples=300, deadline=None)
@given(position=st.integers(0, len(ENCODED) - 1), flip=st.integers(1, 255))
def test_any_byte_change_is_refused(position: int, flip: int) -> None:
    damaged = bytearray(ENCODED)
    damaged[position] ^= flip
    try:
        decode_card(bytes(damaged))
    except CardError:
        return
    raise AssertionError(f"a card changed at byte {position} was accepted")


@settings(max_examples=200, deadline=None)
@given(length=st.integers(0, len(ENCODED) - 1))
def test_any_truncation_is_refused(length: int) -> None:
    try:
        decode_card(ENCODED[:length])
    except CardError:
        return
    raise AssertionError(f"a card cut to {length} bytes was accepted")


_WHITESPACE = " \t\r\n"


@settings(max_examples=300, deadline=None)
@given(
    position=st.integers(0, len(ARMORED) - 1),
    replacement=st.one_of(st.sampled_from(list(_WHITESPACE + "=-+/Aa0\x00\x0b")), st.characters()),
)
def test_any_armor_change_is_refused(position: int, replacement: str) -> None:
    """Changing one character is refused, except whitespace for whitespace, which the armor forgives."""
    original = ARMORED[position]
    if replacement == original or (original in _WHITESPACE and replacement in _WHITESPACE):
        return
    damaged = ARMORED[:position] + replacement + ARMORED[position + 1 :]
    try:
        dearmor_card(damaged)
    except CardError:
        return
    raise AssertionError(f"armor changed at {position} ({original!r} -> {replacement!r}) was accepted")


@settings(max_examples=150, deadline=None)
@given(length=st.integers(0, len(ARMORED) - 1))
def test_any_armor_truncation_is_refused(length: int) -> None:
    text = ARMORED[:length]
    if text.rstrip(_WHITESPACE) == ARMORED.rstrip(_WHITESPACE):
        return  # only the final newline went
    try:
        dearmor_card(text)
    except CardError:
        return
    raise AssertionError(f"armor cut to {length} characters was accepted")


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=8000))
def test_arbitrary_bytes_raise_only_card_error(data: bytes) -> None:
    try:
        decode_card(data)
    except CardError:
        return
    raise AssertionError("arbitrary bytes decoded as a card")


_msgpack_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats() | st.text() | st.binary(),
    lambda inner: st.lists(inner, max_size=8),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(body=_msgpack_values, signature=st.one_of(st.binary(), _msgpack_values))
def test_structured_garbage_raises_only_card_error(body: object, signature: object) -> None:
    """Well-formed MessagePack of the wrong shape gets past the first parser and must still be refused."""
    inner = msgspec.msgpack.encode(body) if not isinstance(body, bytes) else body
    for data in (
        msgspec.msgpack.encode([inner, signature]),
        msgspec.msgpack.encode([body, signature]),
        msgspec.msgpack.encode([inner, signature, signature]),
        msgspec.msgpack.encode([body, CARD.signature, signature]),
    ):
        try:
            decode_card(data)
        except CardError:
            continue
        raise AssertionError("structured garbage decoded as a card")


@settings(max_examples=200, deadline=None)
@given(text=st.one_of(st.text(max_size=3000), st.text(alphabet=_WHITESPACE + "=-ABEGIN", max_size=300)))
def test_arbitrary_text_raises_only_card_error(text: str) -> None:
    try:
        dearmor_card(text)
    except CardError:
        return
    raise AssertionError("arbitrary text dearmored as a card")


@settings(max_examples=30, deadline=None)
@given(
    static=st.binary(min_size=32, max_size=32),
    kem=st.binary(min_size=64, max_size=64),
    signing=st.binary(min_size=64, max_size=64),
    other=st.sampled_from(IDENTITIES),
)
def test_safety_number_is_symmetric(static: bytes, kem: bytes, signing: bytes, other: Identity) -> None:
    identity = Identity.from_parts("Station", static_key=static, kem_seed=kem, signing_seed=signing)
    card = issue_card(identity, endpoints=[], created_at=0)
    other_card: StationCard = issue_card(other, endpoints=[], created_at=0)
    forward, backward = safety_number(card, other_card), safety_number(other_card, card)
    assert forward == backward
    assert forward.matches(backward.digits) and forward.matches(" ".join(backward.words))
    assert safety_number(card, card) != forward


@settings(max_examples=15, deadline=None)
@given(
    kem=st.binary(min_size=64, max_size=64),
    mldsa=st.binary(min_size=32, max_size=32),
    other=st.sampled_from(IDENTITIES),
)
def test_cnsa2_safety_number_is_symmetric(kem: bytes, mldsa: bytes, other: Identity) -> None:
    static, kem768, signing = IDENTITIES[3].secret_parts
    identity = Identity.from_parts(
        "Station",
        static_key=static,
        kem_seed=kem768,
        signing_seed=signing,
        cnsa2=(kem, bytes([7]) * 48, mldsa),
    )
    card = issue_card(identity, endpoints=[], created_at=0)
    other_card = issue_card(other, endpoints=[], created_at=0)
    forward, backward = safety_number(card, other_card, "cnsa2"), safety_number(other_card, card, "cnsa2")
    assert forward == backward and forward != safety_number(card, other_card)
