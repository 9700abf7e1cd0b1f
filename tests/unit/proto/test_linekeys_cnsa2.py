"""Sealed line keys per profile (:mod:`hotline.proto.linekeys`, docs/protocol.md §8.5).

A cnsa2 line's key is version 2: HPKE MLKEM1024-P384 / HKDF-SHA384 / AES-256-GCM to the recipient's
cnsa2 keys, signed Ed25519 + ML-DSA-87, the profile in the signed body. It never opens as a standard
line's key, nor a standard one as a cnsa2 one; a standard key of today's format still opens.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.crypto import hpke
from hotline.proto.cards import CardError, issue_card
from hotline.proto.identity import Identity
from hotline.proto.identity_errors import IdentityError
from hotline.proto.linekeys import (
    LINE_KEY_CONTEXT,
    LINE_KEY_CONTEXT_CNSA2,
    MAX_SEALED_LEN,
    LineKey,
    LineKeyError,
    create_line_key,
    create_line_key_from_parts,
    open_line_key,
    seal_line_key,
)
from tests.support.identities import fixed_cnsa2_identity, fixed_identity

PARIS = fixed_cnsa2_identity("Paris", 1)
MOSCOW = fixed_cnsa2_identity("Moscow", 11)
ROME = fixed_cnsa2_identity("Rome", 21)
PARIS_CARD = issue_card(PARIS, endpoints=["paris.example:4433"], created_at=1)
MOSCOW_CARD = issue_card(MOSCOW, endpoints=["moscow.example:4433"], created_at=2)
ROME_CARD = issue_card(ROME, endpoints=[], created_at=3)
# the same stations before they had cnsa2 keys: version 1 cards and identities
PARIS_V1 = fixed_identity("Paris", 1)
MOSCOW_V1 = fixed_identity("Moscow", 11)
PARIS_CARD_V1 = issue_card(PARIS_V1, endpoints=["paris.example:4433"], created_at=1)
MOSCOW_CARD_V1 = issue_card(MOSCOW_V1, endpoints=["moscow.example:4433"], created_at=2)

KEY = bytes(range(32))
LABEL = "paris-moscow"
NOW = 1_700_000_000
LINE_KEY, SEALED = create_line_key_from_parts(
    KEY, sender=PARIS, recipient=MOSCOW_CARD, label=LABEL, created_at=NOW, profile="cnsa2"
)
STANDARD_KEY, STANDARD_SEALED = create_line_key_from_parts(
    KEY, sender=PARIS, recipient=MOSCOW_CARD, label=LABEL, created_at=NOW
)


def test_create_and_open() -> None:
    expected = LineKey(
        KEY, LABEL, NOW, PARIS.fingerprint_for("cnsa2"), MOSCOW.fingerprint_for("cnsa2"), "cnsa2"
    )
    assert expected == LINE_KEY
    assert open_line_key(SEALED, MOSCOW, PARIS_CARD, "cnsa2") == expected
    assert open_line_key(SEALED, MOSCOW, PARIS_CARD, None) == expected
    fresh, sealed = create_line_key(
        sender=PARIS, recipient=MOSCOW_CARD, label=LABEL, created_at=NOW, profile="cnsa2"
    )
    assert fresh.key != KEY and open_line_key(sealed, MOSCOW, PARIS_CARD, "cnsa2") == fresh


def test_layout_is_the_spec_s() -> None:
    body_bytes, signature = msgspec.msgpack.decode(SEALED)
    assert len(signature) == 4691
    PARIS.cnsa2_keys().public.verify_key.verify(signature, body_bytes, context=b"hotline line key v2")
    body = msgspec.msgpack.decode(body_bytes)
    sender, recipient = PARIS.key_digest_for("cnsa2"), MOSCOW.key_digest_for("cnsa2")
    assert body[:6] == [2, "cnsa2", LABEL, sender, recipient, NOW] and len(body) == 7
    assert len(body[6]) == 1665 + 32 + 16
    info = b"hotline line key v2\x00cnsa2\x00" + sender + recipient + LABEL.encode()
    keys = MOSCOW.cnsa2_keys()
    assert (
        hpke.open_sealed_cnsa2(body[6], kem_private=keys.kem_key, dh_private=keys.seal_key, info=info) == KEY
    )
    assert LINE_KEY_CONTEXT_CNSA2 == b"hotline line key v2"


def test_the_largest_cnsa2_key_fits() -> None:
    label = "\U0001f512" * 64
    _, sealed = create_line_key(
        sender=PARIS, recipient=MOSCOW_CARD, label=label, created_at=2**63 - 1, profile="cnsa2"
    )
    assert len(sealed) <= MAX_SEALED_LEN
    assert open_line_key(sealed, MOSCOW, PARIS_CARD, "cnsa2").label == label


# -- the profiles never cross ----------------------------------------------------------------------------


def test_a_cnsa2_key_never_opens_as_a_standard_one() -> None:
    with pytest.raises(LineKeyError, match="for a cnsa2 line, but this line is standard"):
        open_line_key(SEALED, MOSCOW, PARIS_CARD)
    with pytest.raises(LineKeyError, match="for a cnsa2 line, but this line is standard"):
        open_line_key(SEALED, MOSCOW, PARIS_CARD, "standard")


def test_a_standard_key_never_opens_as_a_cnsa2_one() -> None:
    with pytest.raises(LineKeyError, match="for a standard line, but this line is cnsa2"):
        open_line_key(STANDARD_SEALED, MOSCOW, PARIS_CARD, "cnsa2")
    assert open_line_key(STANDARD_SEALED, MOSCOW, PARIS_CARD, None).profile == "standard"


def test_a_standard_body_signed_with_ml_dsa_87_is_refused() -> None:
    """A cnsa2-signed blob around a version 1 body (a standard seal) does not parse as a cnsa2 key."""
    body = msgspec.msgpack.decode(STANDARD_SEALED)[0]
    forged = _signed(body)
    with pytest.raises(LineKeyError, match="wrong structure"):
        open_line_key(forged, MOSCOW, PARIS_CARD, "cnsa2")


def _signed(body: bytes, signer: Identity = PARIS) -> bytes:
    signature = signer.cnsa2_keys().signing_key.sign(body, context=LINE_KEY_CONTEXT_CNSA2)
    return msgspec.msgpack.encode([body, signature])


def _body(**changes: Any) -> bytes:
    fields = dict(
        zip(
            ("version", "profile", "label", "sender", "recipient", "created_at", "hpke"),
            msgspec.msgpack.decode(msgspec.msgpack.decode(SEALED)[0]),
            strict=True,
        )
    )
    fields.update(changes)
    return msgspec.msgpack.encode(list(fields.values()))


@pytest.mark.parametrize(
    ("forged", "reason"),
    [
        (_signed(_body(profile="standard")), "names the profile 'standard'"),
        (_signed(_body(version=1)), "version 1 is not supported for a cnsa2 line"),
        (_signed(_body(version=3)), "version 3 is not supported"),
        (_signed(_body(label="paris-rome")), "does not open"),
        (_signed(_body(sender=ROME.key_digest_for("cnsa2"))), "different sender"),
        (_signed(_body(sender=PARIS.key_digest)), "different sender"),
        (_signed(_body(recipient=ROME.key_digest_for("cnsa2"))), "addressed to another station"),
        (_signed(_body(recipient=MOSCOW.key_digest)), "addressed to another station"),
        (_signed(_body(created_at=-1)), "creation time"),
        (_signed(_body(hpke=b"")), "does not open"),
        (_signed(_body(), signer=ROME), "not signed by the sender's card"),
        (
            msgspec.msgpack.encode([msgspec.msgpack.decode(SEALED)[0], bytes(4691)]),
            "not signed by the sender",
        ),
        (
            msgspec.msgpack.encode(
                [msgspec.msgpack.decode(SEALED)[0], PARIS.signing_key.sign(b"x", context=LINE_KEY_CONTEXT)]
            ),
            "for a standard line, but this line is cnsa2",
        ),
        (
            msgspec.msgpack.encode(
                [
                    msgspec.msgpack.decode(SEALED)[0],
                    PARIS.cnsa2_keys().signing_key.sign(
                        msgspec.msgpack.decode(SEALED)[0], context=LINE_KEY_CONTEXT
                    ),
                ]
            ),
            "not signed by the sender's card",
        ),
        (
            msgspec.msgpack.encode([msgspec.msgpack.decode(SEALED)[0], bytes(4690)]),
            "signature has the wrong length",
        ),
    ],
)
def test_refusals(forged: bytes, reason: str) -> None:
    with pytest.raises(LineKeyError, match=reason):
        open_line_key(forged, MOSCOW, PARIS_CARD, "cnsa2")


def test_the_wrong_recipient_cannot_open_it() -> None:
    with pytest.raises(LineKeyError, match="addressed to another station"):
        open_line_key(SEALED, ROME, PARIS_CARD, "cnsa2")
    with pytest.raises(LineKeyError, match="not signed by the sender's card"):
        open_line_key(SEALED, MOSCOW, ROME_CARD, "cnsa2")


# -- stations without cnsa2 keys ----------------------------------------------------------------------


def test_sealing_a_cnsa2_key_needs_both_stations_cnsa2_keys() -> None:
    with pytest.raises(CardError, match="version 1 card and carries no cnsa2 keys"):
        seal_line_key(
            KEY, sender=PARIS, recipient=MOSCOW_CARD_V1, label=LABEL, created_at=NOW, profile="cnsa2"
        )
    with pytest.raises(IdentityError, match="holds no cnsa2 keys"):
        seal_line_key(
            KEY, sender=PARIS_V1, recipient=MOSCOW_CARD, label=LABEL, created_at=NOW, profile="cnsa2"
        )
    with pytest.raises(LineKeyError, match="no line profile 'turbo'"):
        seal_line_key(KEY, sender=PARIS, recipient=MOSCOW_CARD, label=LABEL, created_at=NOW, profile="turbo")
    with pytest.raises(LineKeyError, match="no line profile 'turbo'"):
        open_line_key(SEALED, MOSCOW, PARIS_CARD, "turbo")


def test_opening_a_cnsa2_key_needs_both_stations_cnsa2_keys() -> None:
    with pytest.raises(LineKeyError, match="sender's card has no cnsa2 keys"):
        open_line_key(SEALED, MOSCOW, PARIS_CARD_V1, "cnsa2")
    with pytest.raises(LineKeyError, match="this station holds no cnsa2 keys"):
        open_line_key(SEALED, MOSCOW_V1, PARIS_CARD, "cnsa2")


# -- migration: today's standard keys ----------------------------------------------------------------


def test_a_standard_key_between_old_stations_still_opens() -> None:
    """Version 1 identities and cards, a version 1 sealed key: as before the profiles existed."""
    line_key, sealed = create_line_key_from_parts(
        KEY, sender=PARIS_V1, recipient=MOSCOW_CARD_V1, label=LABEL, created_at=NOW
    )
    body = msgspec.msgpack.decode(msgspec.msgpack.decode(sealed)[0])
    assert body[0] == 1 and len(body) == 6 and line_key.profile == "standard"
    assert open_line_key(sealed, MOSCOW_V1, PARIS_CARD_V1) == line_key
    # the stations gain cnsa2 keys: the old sealed key opens with the new identity and card too
    assert open_line_key(sealed, MOSCOW, PARIS_CARD) == line_key
    assert open_line_key(sealed, MOSCOW, PARIS_CARD, None) == line_key


def test_a_standard_key_is_unchanged_by_the_cnsa2_keys() -> None:
    body = msgspec.msgpack.decode(msgspec.msgpack.decode(STANDARD_SEALED)[0])
    assert body[:5] == [1, LABEL, PARIS.key_digest, MOSCOW.key_digest, NOW]
    assert STANDARD_KEY.sender == PARIS_V1.fingerprint and STANDARD_KEY.profile == "standard"
    assert open_line_key(STANDARD_SEALED, MOSCOW_V1, PARIS_CARD_V1) == STANDARD_KEY


# -- hostile input -----------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(position=st.integers(0, len(SEALED) - 1), flip=st.integers(1, 255))
def test_any_byte_change_is_refused(position: int, flip: int) -> None:
    damaged = bytearray(SEALED)
    damaged[position] ^= flip
    for profile in ("cnsa2", None):
        with pytest.raises(LineKeyError):
            open_line_key(bytes(damaged), MOSCOW, PARIS_CARD, profile)


_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.text(max_size=70)
    | st.binary(max_size=64),
    lambda inner: st.lists(inner, max_size=8),
    max_leaves=12,
)


@settings(max_examples=100, deadline=None)
@given(body=st.one_of(st.binary(max_size=3000), _values))
def test_signed_garbage_raises_only_line_key_error(body: object) -> None:
    """Garbage bodies correctly signed with the sender's ML-DSA-87 key reach the body parser and are
    still refused with LineKeyError only."""
    inner = body if isinstance(body, bytes) else msgspec.msgpack.encode(body)
    for profile in ("cnsa2", None):
        with pytest.raises(LineKeyError):
            open_line_key(_signed(inner), MOSCOW, PARIS_CARD, profile)
    with pytest.raises(LineKeyError):
        open_line_key(_signed(inner), MOSCOW, PARIS_CARD, "standard")
