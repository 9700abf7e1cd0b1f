"""Station cards (:mod:`hotline.proto.cards`): encoding, signature, armor, and every refusal."""

from __future__ import annotations

import base64
import re
from typing import Any

import msgspec
import pytest

from hotline.crypto.hashing import blake2s
from hotline.crypto.mlkem import MLKEM768PrivateKey
from hotline.proto.cards import (
    ARMOR_BEGIN,
    ARMOR_END,
    CARD_SIGNATURE_CONTEXT,
    MAX_CARD_LEN,
    CardError,
    StationCard,
    armor_card,
    dearmor_card,
    decode_card,
    encode_card,
    issue_card,
    parse_endpoint,
    shared_keys,
)
from hotline.proto.identity import Identity
from tests.support.identities import fixed_identity
from tests.support.vectors import load_lines

PARIS = fixed_identity("Paris", 1)
MOSCOW = fixed_identity("Moscow", 11)
ENDPOINTS = ("paris.example:4433", "[2001:db8::1]:443", "192.0.2.1:7000")
CARD = issue_card(PARIS, endpoints=ENDPOINTS, created_at=1_700_000_000)
ENCODED = encode_card(CARD)
ARMORED = armor_card(CARD)

# Golden: the signed body of PARIS's card with one endpoint (our format, docs/protocol.md §8). The
# signature is randomised (ML-DSA signs hedged), so we pin the body, which is what it covers.
GOLDEN_BODY_BLAKE2S = "8238541949237772774af5e0299cb4024816909694f6169349df3816220800c1"


def body_fields(card: StationCard = CARD, **changes: Any) -> list[Any]:
    fields = {
        "version": card.version,
        "name": card.name,
        "static_public": card.static_public.raw,
        "kem_public": card.kem_public.raw,
        "verify_key": card.verify_key.raw,
        "endpoints": list(card.endpoints),
        "created_at": card.created_at,
    }
    fields.update(changes)
    return list(fields.values())


def signed(body: bytes, signer: Identity = PARIS) -> bytes:
    """An envelope around ``body``, correctly signed by ``signer``."""
    signature = signer.signing_key.sign(body, context=CARD_SIGNATURE_CONTEXT)
    return msgspec.msgpack.encode([body, signature])


def signed_fields(**changes: Any) -> bytes:
    return signed(msgspec.msgpack.encode(body_fields(**changes)))


def test_golden_body() -> None:
    card = issue_card(PARIS, endpoints=["paris.example:4433"], created_at=1_700_000_000)
    assert blake2s(card.body_bytes()).hex() == GOLDEN_BODY_BLAKE2S


def test_round_trip() -> None:
    assert decode_card(ENCODED) == CARD
    assert decode_card(bytearray(ENCODED)) == CARD
    assert dearmor_card(ARMORED) == CARD
    assert encode_card(decode_card(ENCODED)) == ENCODED


def test_card_fields() -> None:
    assert CARD.name == "Paris"
    assert CARD.endpoints == ENDPOINTS
    assert CARD.created_at == 1_700_000_000
    assert CARD.version == 1
    assert CARD.public_identity() == PARIS.public()
    assert CARD.fingerprint == PARIS.fingerprint
    assert CARD.key_digest == PARIS.key_digest
    CARD.verify()


def test_card_without_endpoints() -> None:
    card = issue_card(MOSCOW, endpoints=[], created_at=0)
    assert decode_card(encode_card(card)) == card


def test_fingerprint_ignores_name_endpoints_and_time() -> None:
    other = issue_card(PARIS, endpoints=["other.example:1"], created_at=5)
    assert other.fingerprint == CARD.fingerprint
    assert issue_card(MOSCOW, endpoints=[], created_at=5).fingerprint != CARD.fingerprint


def test_armor_layout() -> None:
    lines = ARMORED.splitlines()
    assert lines[0] == ARMOR_BEGIN and lines[-1] == ARMOR_END
    assert ARMORED.endswith("\n")
    body = lines[1:-2]
    assert all(len(line) == 64 for line in body[:-1]) and 0 < len(body[-1]) <= 64
    assert lines[-2] == "=" + blake2s(ENCODED)[:4].hex()
    assert base64.b64decode("".join(body)) == ENCODED


@pytest.mark.parametrize(
    "transform",
    [
        lambda t: t.replace("\n", "\r\n"),
        lambda t: "\n\n  " + t.replace("\n", "\n    ") + "\n\n",
        lambda t: t.replace("\n", " \t\n"),
        lambda t: t.rstrip("\n"),
        lambda t: t.replace("\n", "\n\n"),
        lambda t: _rewrap(t, 76),
        lambda t: _rewrap(t, 1000),
        lambda t: t.replace("\n=", "\n= "),
    ],
    ids=[
        "crlf",
        "indented",
        "trailing-space",
        "no-final-newline",
        "blank-lines",
        "rewrap-76",
        "one-line",
        "space-after-checksum-mark",
    ],
)
def test_armor_tolerates_whitespace(transform: Any) -> None:
    assert dearmor_card(transform(ARMORED)) == CARD


def _rewrap(text: str, width: int) -> str:
    lines = text.splitlines()
    joined = "".join(lines[1:-2])
    body = [joined[i : i + width] for i in range(0, len(joined), width)]
    return "\n".join([lines[0], *body, lines[-2], lines[-1]]) + "\n"


# -- refusals of the binary form -----------------------------------------------------------------------

INVALID_KEM_KEY = bytes.fromhex(load_lines("mlkem", "cctv-modulus-ML-KEM-768.txt.gz")[0])
OTHER_CARD = issue_card(MOSCOW, endpoints=[], created_at=1)


def _non_canonical_envelope() -> bytes:
    # the same envelope with the body length as bin32 instead of bin16
    body = CARD.body_bytes()
    return b"\x92\xc6" + len(body).to_bytes(4, "big") + body + msgspec.msgpack.encode(CARD.signature)


def _non_canonical_body() -> bytes:
    body = msgspec.msgpack.encode(body_fields())
    assert body[1] == 0x01  # fixint version 1 ...
    return signed(body[:1] + b"\xcc\x01" + body[2:])  # ... written as uint8


def _mixed_signatures() -> tuple[bytes, bytes]:
    """Two envelopes whose signature has one good half and one half over another message."""
    other = PARIS.signing_key.sign(CARD.body_bytes() + b"x", context=CARD_SIGNATURE_CONTEXT)
    ed_wrong = other[:64] + CARD.signature[64:]
    ml_wrong = CARD.signature[:64] + other[64:]
    return (
        msgspec.msgpack.encode([CARD.body_bytes(), ed_wrong]),
        msgspec.msgpack.encode([CARD.body_bytes(), ml_wrong]),
    )


ED_HALF_WRONG, ML_HALF_WRONG = _mixed_signatures()

REFUSALS = {
    "empty": (b"", "card is empty"),
    "truncated": (ENCODED[:-1], "card is truncated"),
    "truncated-body": (ENCODED[:100], "card is truncated"),
    "trailing": (ENCODED + b"\x00", "trailing bytes"),
    "too-large": (ENCODED + bytes(MAX_CARD_LEN), "larger than"),
    "not-msgpack": (b"\xc1" * 10, "not a valid encoding"),
    "wrong-shape": (msgspec.msgpack.encode({"body": 1}), "wrong structure"),
    "three-elements": (msgspec.msgpack.encode([CARD.body_bytes(), CARD.signature, 1]), "wrong structure"),
    "non-canonical-envelope": (_non_canonical_envelope(), "not in canonical encoding"),
    "non-canonical-body": (_non_canonical_body(), "body is not in canonical encoding"),
    "version-3": (signed_fields(version=3), "card version 3 is not supported"),
    "version-2-one-signature": (signed_fields(version=2), "a version 2 card carries two signatures"),
    "version-0": (signed_fields(version=0), "card version 0 is not supported"),
    "body-not-array": (signed(msgspec.msgpack.encode("hello")), "card body has the wrong structure"),
    "body-extra-field": (signed(msgspec.msgpack.encode([*body_fields(), 1])), "wrong structure"),
    "body-missing-field": (signed(msgspec.msgpack.encode(body_fields()[:-1])), "wrong structure"),
    "body-bad-utf8": (signed(b"\x97\x01\xa2\xff\xfe" + msgspec.msgpack.encode(body_fields())[8:]), "body"),
    "name-as-bytes": (signed_fields(name=b"Paris"), "wrong structure"),
    "time-as-bool": (signed_fields(created_at=True), "wrong structure"),
    "time-as-float": (signed_fields(created_at=1.5), "wrong structure"),
    "time-negative": (signed_fields(created_at=-1), "creation time is out of range"),
    "time-too-large": (signed_fields(created_at=2**64 - 1), "creation time is out of range"),
    "short-x25519": (signed_fields(static_public=bytes(31)), "X25519 key is 31 bytes"),
    "long-mlkem": (signed_fields(kem_public=bytes(1185)), "ML-KEM-768 key is 1185 bytes"),
    "short-verify": (signed_fields(verify_key=bytes(10)), "verify key is 10 bytes"),
    "mlkem-modulus": (signed_fields(kem_public=INVALID_KEM_KEY), "modulus check"),
    "empty-name": (signed_fields(name=""), "card name is invalid: the station name is empty"),
    "long-name": (signed_fields(name="x" * 65), "longer than 64"),
    "control-in-name": (signed_fields(name="Par\x1bis"), "control"),
    "too-many-endpoints": (signed_fields(endpoints=[f"h{i}.example:1" for i in range(9)]), "more than 8"),
    "duplicate-endpoint": (signed_fields(endpoints=["a.example:1", "a.example:1"]), "endpoint twice"),
    "bad-endpoint": (signed_fields(endpoints=["a.example"]), "is not host:port"),
    "huge-endpoint": (signed_fields(endpoints=["a" * 300 + ":1"]), "host name"),
    "endpoint-not-str": (signed_fields(endpoints=[1]), "wrong structure"),
    "short-signature": (msgspec.msgpack.encode([CARD.body_bytes(), CARD.signature[:-1]]), "signature is"),
    "other-signer": (signed(CARD.body_bytes(), MOSCOW), "card signature does not verify"),
    "other-card-signature": (
        msgspec.msgpack.encode([CARD.body_bytes(), OTHER_CARD.signature]),
        "card signature does not verify",
    ),
    "ed25519-half-wrong": (ED_HALF_WRONG, "card signature does not verify"),
    "mldsa-half-wrong": (ML_HALF_WRONG, "card signature does not verify"),
    "wrong-context": (
        msgspec.msgpack.encode([CARD.body_bytes(), PARIS.signing_key.sign(CARD.body_bytes(), context=b"x")]),
        "card signature does not verify",
    ),
}


@pytest.mark.parametrize(("data", "reason"), list(REFUSALS.values()), ids=list(REFUSALS))
def test_decode_refuses(data: bytes, reason: str) -> None:
    with pytest.raises(CardError) as info:
        decode_card(data)
    assert reason in info.value.reason
    assert str(info.value) == info.value.reason


def test_decode_refuses_non_bytes() -> None:
    with pytest.raises(CardError, match="not bytes"):
        decode_card("card")  # type: ignore[arg-type]


def test_every_truncation_is_refused() -> None:
    for length in range(0, len(ENCODED), 97):
        with pytest.raises(CardError):
            decode_card(ENCODED[:length])


# -- refusals of the armored form ----------------------------------------------------------------------

_CHECKSUM_LINE = ARMORED.splitlines()[-2]
_B64 = "".join(ARMORED.splitlines()[1:-2])

ARMOR_REFUSALS = {
    "empty": ("", "empty"),
    "blank": (" \n\t\n", "empty"),
    "no-begin": (ARMORED.replace(ARMOR_BEGIN + "\n", ""), "does not start with"),
    "no-end": (ARMORED.replace(ARMOR_END, ""), "cut off"),
    "cut-in-half": (ARMORED[: len(ARMORED) // 2], "cut off"),
    "text-before": ("Dear Moscow,\n" + ARMORED, "does not start with"),
    "text-after": (ARMORED + "Regards\n", "cut off"),
    "lower-case-header": (ARMORED.replace("BEGIN HOTLINE", "begin hotline"), "does not start with"),
    "no-checksum": (ARMORED.replace(_CHECKSUM_LINE + "\n", ""), "no checksum line"),
    "wrong-checksum": (ARMORED.replace(_CHECKSUM_LINE, "=00000000"), "checksum does not match"),
    # a checksum of only digits reads the same upper-cased, so force a letter into it
    "upper-case-checksum": (
        ARMORED.replace(_CHECKSUM_LINE, (_CHECKSUM_LINE[:-1] + "a").upper()),
        "checksum",
    ),
    "only-checksum": (f"{ARMOR_BEGIN}\n{_CHECKSUM_LINE}\n{ARMOR_END}\n", "nothing between"),
    "bad-base64": (ARMORED.replace(_B64[:4], "!!!!", 1), "not valid base64"),
    "missing-char": (ARMORED.replace(_B64[:4], _B64[:3], 1), "not valid base64"),
    "non-ascii": (ARMORED.replace(_B64[:1], "é", 1), "outside ASCII"),
    "control": (ARMORED.replace("\n", "\x0c", 1), "control characters"),
    "nul": (ARMORED + "\x00", "control characters"),
    "huge": (ARMORED * 10, "too long"),
    "wrong-card": (
        armor_card(CARD).replace(_B64[-8:], base64.b64encode(b"xxxxxx").decode(), 1),
        "checksum does not match",
    ),
}


@pytest.mark.parametrize(("text", "reason"), list(ARMOR_REFUSALS.values()), ids=list(ARMOR_REFUSALS))
def test_dearmor_refuses(text: str, reason: str) -> None:
    with pytest.raises(CardError) as info:
        dearmor_card(text)
    assert reason in info.value.reason


def test_dearmor_refuses_non_canonical_base64() -> None:
    # a card whose length is not a multiple of 3, so its base64 ends in padding
    card = next(
        card
        for host in ("a", "ab", "abc")
        if len(encode_card(card := issue_card(PARIS, endpoints=[f"{host}.example:1"], created_at=0))) % 3
    )
    armored = armor_card(card)
    encoded = "".join(armored.splitlines()[1:-2])
    # flip an unused low bit of the last character before the padding: same bytes, other text
    stripped = encoded.rstrip("=")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    sibling = alphabet[alphabet.index(stripped[-1]) ^ 1]
    assert base64.b64decode(stripped[:-1] + sibling + encoded[len(stripped) :]) == encode_card(card)
    text = armored.replace(encoded[len(stripped) - 1 :], sibling + encoded[len(stripped) :], 1)
    with pytest.raises(CardError, match="not canonical base64"):
        dearmor_card(text)


def test_dearmor_refuses_non_text() -> None:
    with pytest.raises(CardError, match="not text"):
        dearmor_card(ARMORED.encode())  # type: ignore[arg-type]


def test_dearmor_reports_a_bad_card_inside_good_armor() -> None:
    data = signed_fields(version=3)
    text = base64.b64encode(data).decode()
    armored = f"{ARMOR_BEGIN}\n{text}\n={blake2s(data)[:4].hex()}\n{ARMOR_END}\n"
    with pytest.raises(CardError, match="version 3"):
        dearmor_card(armored)


# -- building cards ------------------------------------------------------------------------------------


def test_hand_built_card_with_a_bad_signature_fails_verify() -> None:
    card = StationCard(
        CARD.name, CARD.static_public, CARD.kem_public, CARD.verify_key, CARD.endpoints, 1, CARD.signature
    )
    with pytest.raises(CardError, match="card signature does not verify"):
        card.verify()


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"name": ""}, "name is invalid"),
        ({"endpoints": ("nope",)}, "not host:port"),
        ({"endpoints": ("a.example:1",) * 2}, "twice"),
        ({"endpoints": (1,)}, "not text"),
        ({"endpoints": ["a.example:1"]}, "not a tuple"),
        ({"created_at": -5}, "out of range"),
        ({"created_at": 1.0}, "whole number"),
        ({"created_at": False}, "whole number"),
        ({"signature": b"sig"}, "signature is 3 bytes"),
        ({"version": 9}, "version 9"),
    ],
    ids=lambda v: str(v)[:24],
)
def test_station_card_checks_its_fields(changes: dict[str, Any], reason: str) -> None:
    fields: dict[str, Any] = {
        "name": CARD.name,
        "static_public": CARD.static_public,
        "kem_public": CARD.kem_public,
        "verify_key": CARD.verify_key,
        "endpoints": CARD.endpoints,
        "created_at": CARD.created_at,
        "signature": CARD.signature,
    }
    fields.update(changes)
    with pytest.raises(CardError, match=reason):
        StationCard(**fields)


def test_issue_card_refuses_bad_endpoints() -> None:
    with pytest.raises(CardError, match="port"):
        issue_card(PARIS, endpoints=["paris.example:0"], created_at=0)


def test_card_with_a_different_kem_key_is_a_different_station() -> None:
    kem = MLKEM768PrivateKey.generate().public_key()
    body = msgspec.msgpack.encode(body_fields(kem_public=kem.raw))
    card = decode_card(signed(body))
    assert card.kem_public == kem
    assert card.fingerprint != CARD.fingerprint


# -- endpoints -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "host", "port"),
    [
        ("paris.example:4433", "paris.example", 4433),
        ("localhost:1", "localhost", 1),
        ("a-b.c-d.example:65535", "a-b.c-d.example", 65535),
        ("192.0.2.1:7000", "192.0.2.1", 7000),
        ("[2001:db8::1]:443", "2001:db8::1", 443),
        ("[::1]:80", "::1", 80),
        ("xn--80akhbyknj4f.example:9", "xn--80akhbyknj4f.example", 9),
    ],
)
def test_parse_endpoint(endpoint: str, host: str, port: int) -> None:
    assert parse_endpoint(endpoint) == (host, port)


@pytest.mark.parametrize(
    ("endpoint", "reason"),
    [
        ("paris.example", "host:port"),
        (":443", "host:port"),
        ("paris.example:", "port"),
        ("paris.example:0", "port"),
        ("paris.example:65536", "port"),
        ("paris.example:0443", "port"),
        ("paris.example:+443", "port"),
        ("paris.example: 443", "port"),
        ("Paris.example:443", "lower-case"),
        ("-paris.example:443", "lower-case"),
        ("paris..example:443", "lower-case"),
        ("paris.example.:443", "lower-case"),
        ("pa_ris.example:443", "lower-case"),
        ("a" * 64 + ".example:443", "lower-case"),
        ("paris.123:443", "ending in a number"),
        ("256.0.0.1:443", "invalid IPv4"),
        ("192.0.2.01:443", "invalid IPv4"),
        ("1.2.3:443", "invalid IPv4"),
        ("2001:db8::1:443", "without [brackets]"),
        ("[2001:db8::1:443", "unclosed"),
        ("[2001:DB8::1]:443", "should write its IPv6 address as 2001:db8::1"),
        ("[2001:db8:0:0:0:0:0:1]:443", "should write"),
        ("[fe80::1%eth0]:443", "zone"),
        ("[::ffff:c000:20a]:443", "IPv4-mapped address as 192.0.2.10"),
        ("[::ffff:192.0.2.10]:443", "IPv4-mapped address as 192.0.2.10"),
        ("[paris]:443", "invalid IPv6"),
    ],
)
def test_parse_endpoint_refuses(endpoint: str, reason: str) -> None:
    with pytest.raises(ValueError, match=re.escape(reason)):
        parse_endpoint(endpoint)


def test_shared_keys_names_each_borrowed_key() -> None:
    """F10: a card signed by MOSCOW that lists PARIS's X25519 and ML-KEM keys shares exactly those."""
    paris = PARIS.public()
    assert shared_keys(CARD, paris) == ("X25519", "ML-KEM-768", "signing")
    assert shared_keys(CARD, MOSCOW.public()) == ()
    fields = (
        "paris",
        paris.static_public,
        paris.kem_public,
        MOSCOW.public().verify_key,
        ENDPOINTS,
        1_700_000_000,
    )
    unsigned = StationCard(*fields, bytes(len(CARD.signature)))
    forged = StationCard(
        *fields, MOSCOW.signing_key.sign(unsigned.body_bytes(), context=CARD_SIGNATURE_CONTEXT)
    )
    forged.verify()  # its signature is good: only the station can tell the keys are borrowed
    assert shared_keys(forged, paris) == ("X25519", "ML-KEM-768")
    assert shared_keys(forged, MOSCOW.public()) == ("signing",)
