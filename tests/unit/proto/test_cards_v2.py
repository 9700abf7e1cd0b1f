"""Station cards of version 2 (:mod:`hotline.proto.cards`): the keys of both line profiles, two
signatures, and the version 1 cards that still read (docs/protocol.md §8.3)."""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec
import pytest

from hotline.crypto.hashing import blake2s
from hotline.crypto.p384 import P384PrivateKey
from hotline.proto.cards import (
    CARD_SIGNATURE_CONTEXT,
    CARD_V2_CNSA2_SIGNATURE_CONTEXT,
    CARD_V2_SIGNATURE_CONTEXT,
    CARD_VERSION,
    MAX_CARD_LEN,
    CardError,
    StationCard,
    armor_card,
    dearmor_card,
    decode_card,
    encode_card,
    issue_card,
    shared_keys,
)
from hotline.proto.identity import Identity
from tests.support.identities import fixed_cnsa2_identity, fixed_identity

PARIS = fixed_cnsa2_identity("Paris", 1)
PARIS_V1 = fixed_identity("Paris", 1)
MOSCOW = fixed_cnsa2_identity("Moscow", 11)
ENDPOINTS = ("paris.example:4433", "[2001:db8::1]:443")
CARD = issue_card(PARIS, endpoints=ENDPOINTS, created_at=1_700_000_000)
ENCODED = encode_card(CARD)
CARD_V1 = issue_card(PARIS_V1, endpoints=ENDPOINTS, created_at=1_700_000_000)
ENCODED_V1 = encode_card(CARD_V1)

# Golden: SHA-256 of PARIS's version 2 body with one endpoint (the signatures are hedged, so the body,
# which they cover, is what is pinned).
GOLDEN_BODY_SHA256 = "3bfa23fc79b307706b614571099ce9f70adba5df8af2de409a87d99e6af212a3"


def body_fields(**changes: Any) -> list[Any]:
    cnsa2 = PARIS.cnsa2_keys().public
    fields: dict[str, Any] = {
        "version": 2,
        "name": CARD.name,
        "x25519": CARD.static_public.raw,
        "mlkem768": CARD.kem_public.raw,
        "verify_key": CARD.verify_key.raw,
        "mlkem1024": cnsa2.kem_public.raw,
        "p384": cnsa2.seal_public.raw,
        "mldsa87": cnsa2.verify_key.raw[32:],
        "endpoints": list(CARD.endpoints),
        "created_at": CARD.created_at,
    }
    fields.update(changes)
    return list(fields.values())


def signed(body: bytes, signer: Identity = PARIS, contexts: tuple[bytes, bytes] | None = None) -> bytes:
    """A version 2 envelope around ``body``, correctly signed by ``signer``."""
    c65, c87 = contexts or (CARD_V2_SIGNATURE_CONTEXT, CARD_V2_CNSA2_SIGNATURE_CONTEXT)
    sig65 = signer.signing_key.sign(body, context=c65)
    sig87 = signer.cnsa2_keys().signing_key.sign(body, context=c87)
    return msgspec.msgpack.encode([body, sig65, sig87])


def signed_fields(**changes: Any) -> bytes:
    return signed(msgspec.msgpack.encode(body_fields(**changes)))


# -- what a version 2 card is ------------------------------------------------------------------------


def test_golden_body() -> None:
    card = issue_card(PARIS, endpoints=["paris.example:4433"], created_at=1_700_000_000)
    assert hashlib.sha256(card.body_bytes()).hexdigest() == GOLDEN_BODY_SHA256


def test_layout_is_the_spec_s() -> None:
    envelope = msgspec.msgpack.decode(ENCODED)
    assert len(envelope) == 3 and (len(envelope[1]), len(envelope[2])) == (3373, 4691)
    assert envelope[0] == CARD.body_bytes() == msgspec.msgpack.encode(body_fields())
    PARIS.signing_key.public_key().verify(envelope[1], envelope[0], context=b"hotline card v2")
    PARIS.cnsa2_keys().public.verify_key.verify(envelope[2], envelope[0], context=b"hotline card v2 cnsa2")
    assert envelope[1][:64] != envelope[2][:64]  # distinct contexts, distinct Ed25519 signatures
    assert len(ENCODED) < MAX_CARD_LEN


def test_round_trip_and_fields() -> None:
    assert decode_card(ENCODED) == CARD and encode_card(decode_card(ENCODED)) == ENCODED
    assert dearmor_card(armor_card(CARD)) == CARD
    assert CARD.version == CARD_VERSION == 2 and CARD.profiles == ("standard", "cnsa2")
    assert CARD.public_identity() == PARIS.public()
    assert CARD.key_digest == PARIS.key_digest == CARD_V1.key_digest  # the standard digest is unchanged
    assert CARD.key_digest_for("cnsa2") == PARIS.key_digest_for("cnsa2")
    assert CARD.fingerprint_for("cnsa2") == PARIS.fingerprint_for("cnsa2")
    assert CARD.fingerprint_for("standard") == CARD.fingerprint
    CARD.require_profile("standard")
    CARD.require_profile("cnsa2")
    assert CARD.cnsa2_keys() == PARIS.cnsa2_keys().public


def test_a_generated_identity_issues_version_2() -> None:
    identity = Identity.generate("Rome")
    card = issue_card(identity, endpoints=[], created_at=0)
    assert card.version == 2 and decode_card(encode_card(card)) == card


def test_version_choice_when_issuing() -> None:
    forced = issue_card(PARIS, endpoints=ENDPOINTS, created_at=1, version=1)
    assert forced.version == 1 and forced.cnsa2 is None and decode_card(encode_card(forced)) == forced
    with pytest.raises(CardError, match="holds no cnsa2 keys"):
        issue_card(PARIS_V1, endpoints=[], created_at=1, version=2)
    with pytest.raises(CardError, match="version 3 is not supported"):
        issue_card(PARIS, endpoints=[], created_at=1, version=3)


# -- version 1 cards, which still read -------------------------------------------------------------


def test_a_version_1_card_still_reads_and_offers_standard_only() -> None:
    assert ENCODED_V1[0] == 0x92 and decode_card(ENCODED_V1) == CARD_V1
    assert dearmor_card(armor_card(CARD_V1)) == CARD_V1
    assert CARD_V1.version == 1 and CARD_V1.profiles == ("standard",) and CARD_V1.cnsa2 is None
    assert CARD_V1.key_digest_for("standard") == PARIS.key_digest
    CARD_V1.require_profile("standard")
    for call in (
        lambda: CARD_V1.require_profile("cnsa2"),
        lambda: CARD_V1.key_digest_for("cnsa2"),
        lambda: CARD_V1.fingerprint_for("cnsa2"),
        lambda: CARD_V1.cnsa2_keys(),
    ):
        with pytest.raises(CardError, match="version 1 card and carries no cnsa2 keys"):
            call()
    with pytest.raises(CardError, match="no line profile 'fast'"):
        CARD.require_profile("fast")


def test_a_version_1_card_signed_as_before_still_verifies() -> None:
    """The old format byte for byte: [body, signature] with the context "hotline card v1"."""
    body = CARD_V1.body_bytes()
    old = msgspec.msgpack.encode([body, PARIS_V1.signing_key.sign(body, context=CARD_SIGNATURE_CONTEXT)])
    assert decode_card(old).public_identity() == PARIS_V1.public()


# -- refusals ------------------------------------------------------------------------------------------


def _mixed_87() -> tuple[bytes, bytes, bytes, bytes]:
    body = CARD.body_bytes()
    other87 = PARIS.cnsa2_keys().signing_key.sign(body + b"x", context=CARD_V2_CNSA2_SIGNATURE_CONTEXT)
    ed_wrong = msgspec.msgpack.encode([body, CARD.signature, other87[:64] + CARD.signature87[64:]])
    ml_wrong = msgspec.msgpack.encode([body, CARD.signature, CARD.signature87[:64] + other87[64:]])
    other65 = PARIS.signing_key.sign(body + b"x", context=CARD_V2_SIGNATURE_CONTEXT)
    sig65_wrong = msgspec.msgpack.encode([body, other65, CARD.signature87])
    moscow87 = MOSCOW.cnsa2_keys().signing_key.sign(body, context=CARD_V2_CNSA2_SIGNATURE_CONTEXT)
    foreign87 = msgspec.msgpack.encode([body, CARD.signature, moscow87])
    return ed_wrong, ml_wrong, sig65_wrong, foreign87


ED87_WRONG, ML87_WRONG, SIG65_WRONG, FOREIGN87 = _mixed_87()
_P384_RAW = PARIS.cnsa2_keys().public.seal_public.raw

REFUSALS = {
    "truncated": (ENCODED[:-1], "truncated"),
    "trailing": (ENCODED + b"\x00", "trailing bytes"),
    "too-large": (ENCODED + bytes(MAX_CARD_LEN), "larger than"),
    "non-canonical-envelope": (
        b"\x93\xc6"
        + len(CARD.body_bytes()).to_bytes(4, "big")
        + CARD.body_bytes()
        + ENCODED[1 + 3 + len(CARD.body_bytes()) :],
        "not in canonical encoding",
    ),
    "four-elements": (
        msgspec.msgpack.encode([CARD.body_bytes(), CARD.signature, CARD.signature87, b""]),
        "wrong",
    ),
    "v1-body-two-signatures": (
        msgspec.msgpack.encode([CARD_V1.body_bytes(), CARD_V1.signature, CARD.signature87]),
        "a version 1 card carries one signature",
    ),
    "v2-body-one-signature": (
        msgspec.msgpack.encode([CARD.body_bytes(), CARD.signature]),
        "carries two signatures",
    ),
    "ed25519-of-87-wrong": (ED87_WRONG, "ML-DSA-87 signature does not verify"),
    "mldsa87-wrong": (ML87_WRONG, "ML-DSA-87 signature does not verify"),
    "signature65-wrong": (SIG65_WRONG, "card signature does not verify"),
    "signature87-by-another": (FOREIGN87, "ML-DSA-87 signature does not verify"),
    "v1-context": (
        signed(
            msgspec.msgpack.encode(body_fields()),
            contexts=(CARD_SIGNATURE_CONTEXT, CARD_V2_CNSA2_SIGNATURE_CONTEXT),
        ),
        "card signature does not verify",
    ),
    "contexts-swapped": (
        signed(
            msgspec.msgpack.encode(body_fields()),
            contexts=(CARD_V2_CNSA2_SIGNATURE_CONTEXT, CARD_V2_SIGNATURE_CONTEXT),
        ),
        "does not verify",
    ),
    "short-signature87": (
        msgspec.msgpack.encode([CARD.body_bytes(), CARD.signature, CARD.signature87[:-1]]),
        "ML-DSA-87 signature is 4690 bytes",
    ),
    "short-mlkem1024": (signed_fields(mlkem1024=bytes(1567)), "ML-KEM-1024 key is 1567 bytes"),
    "mlkem1024-modulus": (signed_fields(mlkem1024=b"\xff" * 1568), "ML-KEM-1024 key is invalid"),
    "short-p384": (signed_fields(p384=_P384_RAW[:-1]), "P-384 key is 96 bytes"),
    "compressed-p384": (signed_fields(p384=b"\x02" + _P384_RAW[1:49] + bytes(48)), "P-384 key is invalid"),
    "p384-off-curve": (
        signed_fields(p384=_P384_RAW[:-1] + bytes([_P384_RAW[-1] ^ 1])),
        "P-384 key is invalid",
    ),
    "short-mldsa87": (signed_fields(mldsa87=bytes(2591)), "ML-DSA-87 key is 2591 bytes"),
    "mldsa87-of-another": (
        signed_fields(mldsa87=MOSCOW.cnsa2_keys().public.verify_key.raw[32:]),
        "ML-DSA-87",
    ),
    "body-missing-field": (signed(msgspec.msgpack.encode(body_fields()[:-1])), "wrong structure"),
    "body-v1-shape": (signed(CARD_V1.body_bytes()), "a version 1 card carries one signature"),
    "version-3": (signed_fields(version=3), "card version 3 is not supported"),
}


@pytest.mark.parametrize(("data", "reason"), list(REFUSALS.values()), ids=list(REFUSALS))
def test_decode_refuses(data: bytes, reason: str) -> None:
    with pytest.raises(CardError) as info:
        decode_card(data)
    assert reason in info.value.reason


def test_other_p384_key_is_refused_by_the_signature() -> None:
    """A P-384 key swapped for another valid one fails both signatures (they cover the body)."""
    other = P384PrivateKey.from_bytes(bytes([6]) * 48).public_key().raw
    body = msgspec.msgpack.encode(body_fields(p384=other))
    forged = msgspec.msgpack.encode([body, CARD.signature, CARD.signature87])
    with pytest.raises(CardError, match="does not verify"):
        decode_card(forged)


def test_station_card_checks_the_version_against_its_keys() -> None:
    fields = (
        CARD.name,
        CARD.static_public,
        CARD.kem_public,
        CARD.verify_key,
        CARD.endpoints,
        1,
        CARD.signature,
    )
    with pytest.raises(CardError, match="version 2 card carries cnsa2 keys"):
        StationCard(*fields, 2)
    with pytest.raises(CardError, match="version 1 card carries no cnsa2 keys"):
        StationCard(*fields, 1, CARD.cnsa2, CARD.signature87)
    with pytest.raises(CardError, match="ML-DSA-87 signature is 0 bytes"):
        StationCard(*fields, 2, CARD.cnsa2)
    with pytest.raises(CardError, match="Ed25519"):
        StationCard(*fields, 2, MOSCOW.cnsa2_keys().public, CARD.signature87)


def test_shared_keys_compare_the_cnsa2_keys() -> None:
    assert shared_keys(CARD, PARIS.public()) == (
        "X25519",
        "ML-KEM-768",
        "signing",
        "ML-KEM-1024",
        "P-384",
        "ML-DSA-87",
    )
    assert shared_keys(CARD, MOSCOW.public()) == ()
    assert shared_keys(CARD_V1, PARIS.public()) == ("X25519", "ML-KEM-768", "signing")
    assert shared_keys(CARD, PARIS_V1.public()) == ("X25519", "ML-KEM-768", "signing")


def test_armor_is_unchanged() -> None:
    armored = armor_card(CARD)
    assert armored.splitlines()[-2] == "=" + blake2s(ENCODED)[:4].hex()
