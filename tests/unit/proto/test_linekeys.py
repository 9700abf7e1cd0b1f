"""Line keys (:mod:`hotline.proto.linekeys`): sealed to the peer, signed, and every refusal."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from hotline.crypto import hpke
from hotline.proto.cards import issue_card
from hotline.proto.identity import Identity
from hotline.proto.linekeys import (
    LINE_KEY_CONTEXT,
    MAX_SEALED_LEN,
    LineKey,
    LineKeyError,
    create_line_key,
    create_line_key_from_parts,
    grant_label,
    open_line_key,
    seal_line_key,
)
from tests.support.identities import fixed_identity

PARIS = fixed_identity("Paris", 1)
MOSCOW = fixed_identity("Moscow", 11)
ROME = fixed_identity("Rome", 21)
PARIS_CARD = issue_card(PARIS, endpoints=["paris.example:4433"], created_at=1)
MOSCOW_CARD = issue_card(MOSCOW, endpoints=["moscow.example:4433"], created_at=2)
ROME_CARD = issue_card(ROME, endpoints=[], created_at=3)

KEY = bytes(range(32))
LABEL = "paris-moscow"
NOW = 1_700_000_000
LINE_KEY, SEALED = create_line_key_from_parts(
    KEY, sender=PARIS, recipient=MOSCOW_CARD, label=LABEL, created_at=NOW
)


def test_create_and_open() -> None:
    assert LineKey(KEY, LABEL, NOW, PARIS.fingerprint, MOSCOW.fingerprint) == LINE_KEY
    assert open_line_key(SEALED, MOSCOW, PARIS_CARD) == LINE_KEY
    assert open_line_key(bytearray(SEALED), MOSCOW, PARIS_CARD) == LINE_KEY


def test_create_line_key_draws_a_fresh_key() -> None:
    first, sealed = create_line_key(sender=PARIS, recipient=MOSCOW_CARD, label=LABEL, created_at=NOW)
    second, _ = create_line_key(sender=PARIS, recipient=MOSCOW_CARD, label=LABEL, created_at=NOW)
    assert first.key != second.key and len(first.key) == 32
    assert open_line_key(sealed, MOSCOW, PARIS_CARD) == first


def test_sealing_is_randomised() -> None:
    again = seal_line_key(KEY, sender=PARIS, recipient=MOSCOW_CARD, label=LABEL, created_at=NOW)
    assert again != SEALED
    assert open_line_key(again, MOSCOW, PARIS_CARD).key == KEY


def test_unicode_label() -> None:
    line_key, sealed = create_line_key(
        sender=PARIS, recipient=MOSCOW_CARD, label="Élysée \u2013 Kremlin", created_at=0
    )
    assert open_line_key(sealed, MOSCOW, PARIS_CARD) == line_key


@pytest.mark.parametrize(
    ("sender", "recipient", "label"),
    [
        ("Paris", "Moscow", "Paris-Moscow"),
        ("P" * 59, "New York", "P" * 59 + "-New"),  # the cut falls on the space: it goes too
        ("P" * 70, "Moscow", "P" * 64),
    ],
)
def test_a_granted_label_is_always_a_valid_label(sender: str, recipient: str, label: str) -> None:
    assert grant_label(sender, recipient) == label
    line_key, sealed = create_line_key(
        sender=PARIS, recipient=MOSCOW_CARD, label=grant_label(sender, recipient), created_at=0
    )
    assert open_line_key(sealed, MOSCOW, PARIS_CARD) == line_key


def test_repr_hides_the_key() -> None:
    assert KEY.hex() not in repr(LINE_KEY) and str(list(KEY)) not in repr(LINE_KEY)
    assert "paris-moscow" in repr(LINE_KEY)


# -- forged and damaged blobs --------------------------------------------------------------------------


def envelope(body: bytes, signer: Identity = PARIS) -> bytes:
    return msgspec.msgpack.encode([body, signer.signing_key.sign(body, context=LINE_KEY_CONTEXT)])


def body(**changes: Any) -> bytes:
    """A body like SEALED's, with fields replaced; the HPKE part is reused unless given."""
    fields = dict(
        zip(
            ("version", "label", "sender", "recipient", "created_at", "hpke"),
            msgspec.msgpack.decode(msgspec.msgpack.decode(SEALED)[0]),
            strict=True,
        )
    )
    fields.update(changes)
    return msgspec.msgpack.encode(list(fields.values()))


def info(label: str, sender: Identity = PARIS, recipient: Identity = MOSCOW) -> bytes:
    return LINE_KEY_CONTEXT + b"\x00" + sender.key_digest + recipient.key_digest + label.encode()


SEALED_TO_ROME = hpke.seal(
    KEY, kem_public=ROME.kem_key.public_key(), dh_public=ROME.static_key.public_key(), info=info(LABEL)
)
SEALED_FOR_OTHER_LABEL = hpke.seal(
    KEY, kem_public=MOSCOW.kem_key.public_key(), dh_public=MOSCOW.static_key.public_key(), info=info("x")
)
SEALED_SHORT_KEY = hpke.seal(
    KEY[:16],
    kem_public=MOSCOW.kem_key.public_key(),
    dh_public=MOSCOW.static_key.public_key(),
    info=info(LABEL),
)


def _bin32_envelope() -> bytes:
    """SEALED with its body length written as bin32 instead of bin16."""
    sealed_body, signature = msgspec.msgpack.decode(SEALED)
    return b"\x92\xc6" + len(sealed_body).to_bytes(4, "big") + sealed_body + msgspec.msgpack.encode(signature)


REFUSALS = {
    "empty": (b"", "empty"),
    "truncated": (SEALED[:-1], "truncated"),
    "trailing": (SEALED + b"\x00", "trailing bytes"),
    "too-large": (SEALED + bytes(MAX_SEALED_LEN), "larger than"),
    "garbage": (b"\xc1\xc1", "malformed"),
    "wrong-shape": (msgspec.msgpack.encode([1, 2, 3]), "wrong structure"),
    "non-canonical": (_bin32_envelope(), "not in canonical encoding"),
    "short-signature": (msgspec.msgpack.encode([body(), b"sig"]), "signature has the wrong length"),
    "signed-by-rome": (envelope(body(), ROME), "not signed by the sender's card"),
    "signature-over-other-body": (
        msgspec.msgpack.encode([body(created_at=NOW + 1), msgspec.msgpack.decode(SEALED)[1]]),
        "not signed by the sender's card",
    ),
    "body-not-msgpack": (envelope(b"\xc1"), "body is malformed"),
    "body-truncated": (envelope(body()[:-1]), "body is truncated"),
    "body-wrong-shape": (envelope(msgspec.msgpack.encode([1, 2])), "body has the wrong structure"),
    "body-non-canonical": (envelope(b"\x96\xcc\x01" + body()[2:]), "body is not in canonical encoding"),
    "version-2": (envelope(body(version=2)), "version 2 is not supported"),
    "empty-label": (envelope(body(label="")), "the line label is empty"),
    "negative-time": (envelope(body(created_at=-1)), "creation time"),
    "other-sender": (envelope(body(sender=ROME.key_digest)), "different sender"),
    "short-sender": (envelope(body(sender=PARIS.key_digest[:20])), "different sender"),
    "other-recipient": (envelope(body(recipient=ROME.key_digest)), "addressed to another station"),
    "sealed-to-rome": (envelope(body(hpke=SEALED_TO_ROME)), "does not open"),
    "label-swapped": (envelope(body(label="x")), "does not open"),
    "sealed-for-other-label": (envelope(body(hpke=SEALED_FOR_OTHER_LABEL)), "does not open"),
    "hpke-garbage": (envelope(body(hpke=b"x" * 100)), "does not open"),
    "short-key-inside": (envelope(body(hpke=SEALED_SHORT_KEY)), "wrong length"),
}


@pytest.mark.parametrize(("sealed", "reason"), list(REFUSALS.values()), ids=list(REFUSALS))
def test_open_refuses(sealed: bytes, reason: str) -> None:
    with pytest.raises(LineKeyError) as info:
        open_line_key(sealed, MOSCOW, PARIS_CARD)
    assert reason in info.value.reason


def test_the_signature_is_checked_first() -> None:
    """A blob whose body is garbage *and* whose signature is wrong reports the signature."""
    forged = msgspec.msgpack.encode([b"\xc1", msgspec.msgpack.decode(SEALED)[1]])
    with pytest.raises(LineKeyError, match="not signed"):
        open_line_key(forged, MOSCOW, PARIS_CARD)


def test_only_the_recipient_opens_it() -> None:
    with pytest.raises(LineKeyError, match="addressed to another station"):
        open_line_key(SEALED, ROME, PARIS_CARD)
    with pytest.raises(LineKeyError, match="not signed"):
        open_line_key(SEALED, MOSCOW, ROME_CARD)
    with pytest.raises(LineKeyError, match="not signed"):
        open_line_key(SEALED, PARIS, MOSCOW_CARD)


def test_every_single_byte_flip_is_refused() -> None:
    for position in range(0, len(SEALED), 7):
        damaged = bytearray(SEALED)
        damaged[position] ^= 0x01
        with pytest.raises(LineKeyError):
            open_line_key(bytes(damaged), MOSCOW, PARIS_CARD)


def test_open_refuses_non_bytes() -> None:
    with pytest.raises(LineKeyError, match="not bytes"):
        open_line_key("sealed", MOSCOW, PARIS_CARD)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"key": bytes(31)}, "32 bytes"),
        ({"label": ""}, "empty"),
        ({"label": "a" * 65}, "longer than 64"),
        ({"label": "tab\there"}, "control"),
        ({"created_at": -1}, "creation time"),
        ({"created_at": 2**63}, "creation time"),
        ({"created_at": True}, "creation time"),
    ],
    ids=lambda v: str(v)[:24],
)
def test_seal_refuses_bad_input(changes: dict[str, Any], reason: str) -> None:
    arguments: dict[str, Any] = {
        "key": KEY,
        "sender": PARIS,
        "recipient": MOSCOW_CARD,
        "label": LABEL,
        "created_at": NOW,
    }
    arguments.update(changes)
    with pytest.raises(LineKeyError, match=reason):
        seal_line_key(**arguments)


def test_line_key_is_32_bytes() -> None:
    with pytest.raises(LineKeyError):
        LineKey(bytes(16), LABEL, NOW, PARIS.fingerprint, MOSCOW.fingerprint)
