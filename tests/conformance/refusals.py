"""Cards that a reader must refuse, each one fault away from station A's valid version 2 card. Test-only.

Each is built from the valid card's parts with production encoders and, where the fault is inside
the signed body, signed again (deterministically), so that the fault named is the only one: a reader
that skipped that check would accept the card.
"""

from __future__ import annotations

from typing import Any

import msgspec

from hotline.proto import cardwire
from hotline.proto.cards import (
    CARD_V2_CNSA2_SIGNATURE_CONTEXT,
    CARD_V2_SIGNATURE_CONTEXT,
    armor_card,
    encode_card,
)
from tests.conformance.detcrypto import hybrid_sign
from tests.conformance.stations import A

_ENC = msgspec.msgpack.Encoder()


def _sign_v2(body: bytes) -> bytes:
    """The version 2 envelope of ``body`` with both signatures of A over it."""
    ed, xi65, xi87 = A.parts["ed25519_seed"], A.parts["mldsa65_xi"], A.parts["mldsa87_xi"]
    signature = hybrid_sign(ed, xi65, body, context=CARD_V2_SIGNATURE_CONTEXT, level=65)
    signature87 = hybrid_sign(ed, xi87, body, context=CARD_V2_CNSA2_SIGNATURE_CONTEXT, level=87)
    return _ENC.encode(cardwire.SignedCard2(body, signature, signature87))


def _fields() -> list[Any]:
    """The fields of A's version 2 card body, in order."""
    card = A.card(version=2)
    return list(msgspec.msgpack.decode(card.body_bytes()))


def _body(fields: list[Any]) -> bytes:
    return _ENC.encode(fields)


def _flip_last(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 1])


def refused_cards() -> list[dict[str, str]]:
    """Encoded cards a reader must refuse: ``what`` is wrong, ``refusal`` a phrase of our reason."""
    card = A.card(version=2)
    body, good = card.body_bytes(), encode_card(card)
    out: list[dict[str, str]] = []

    def add(what: str, data: bytes, refusal: str) -> None:
        out.append({"what": what, "card": data.hex(), "refusal": refusal})

    # the envelope: a longer bin form for the body (bin 32 where bin 16 is enough), trailing bytes
    rest = _ENC.encode(card.signature) + _ENC.encode(card.signature87)
    add(
        "the body is written as bin 32 (0xc6), not the shortest form bin 16",
        b"\x93\xc6" + len(body).to_bytes(4, "big") + body + rest,
        "not in canonical encoding",
    )
    add("one byte after the envelope", good + b"\x00", "trailing bytes")
    # the body, signed again so that only the named fault remains
    wide = body[:-5] + b"\xcf" + card.created_at.to_bytes(8, "big")
    assert body[-5] == 0xCE  # created_at was a uint 32
    add(
        "created_at is written as uint 64 (0xcf), not uint 32; signed",
        _sign_v2(wide),
        "not in canonical encoding",
    )
    fields = _fields()
    fields[0] = 3
    add("body version 3; signed", _sign_v2(_body(fields)), "card version 3 is not supported")
    fields = _fields()
    fields[8] = ["Hotline.example.ca:7400"]
    add("an endpoint with an upper-case letter; signed", _sign_v2(_body(fields)), "not lower-case")
    fields = _fields()
    fields[8] = ["192.0.2.10:7400", "192.0.2.10:7400"]
    add("an endpoint listed twice; signed", _sign_v2(_body(fields)), "lists an endpoint twice")
    fields = _fields()
    fields[6] = _flip_last(fields[6])
    add("the P-384 key is not a point on the curve; signed", _sign_v2(_body(fields)), "P-384 key is invalid")
    fields = _fields()
    fields[1] = "Ottawa "
    add("the name ends with a space; signed", _sign_v2(_body(fields)), "starts or ends with a space")
    fields = _fields()
    fields[9] = 2**63
    add("created_at is 2^63; signed", _sign_v2(_body(fields)), "creation time is out of range")
    # the signatures
    add(
        "the last byte of the ML-DSA-65 signature changed",
        _ENC.encode(cardwire.SignedCard2(body, _flip_last(card.signature), card.signature87)),
        "card signature does not verify",
    )
    add(
        "the first byte of the Ed25519 signature changed",
        _ENC.encode(
            cardwire.SignedCard2(body, bytes([card.signature[0] ^ 1]) + card.signature[1:], card.signature87)
        ),
        "card signature does not verify",
    )
    add(
        "the last byte of the ML-DSA-87 signature changed",
        _ENC.encode(cardwire.SignedCard2(body, card.signature, _flip_last(card.signature87))),
        "ML-DSA-87 signature does not verify",
    )
    v1 = A.card(version=1)
    add(
        "a version 1 body in a three-element envelope",
        _ENC.encode(cardwire.SignedCard2(v1.body_bytes(), v1.signature, card.signature87)),
        "a version 1 card carries one signature",
    )
    return out


def refused_armor() -> list[dict[str, str]]:
    """Armored texts a reader must refuse."""
    text = armor_card(A.card(version=2))
    lines = text.split("\n")
    at = next(i for i, line in enumerate(lines) if line.startswith("="))
    upper = lines.copy()
    upper[at] = upper[at].upper()
    return [
        {
            "what": "the checksum in upper case",
            "armored": "\n".join(upper),
            "refusal": "checksum does not match",
        },
        {
            "what": "a line of text before BEGIN",
            "armored": "Here is my card:\n" + text,
            "refusal": "does not start with",
        },
        {"what": "the END line missing", "armored": "\n".join(lines[:-2]) + "\n", "refusal": "cut off"},
    ]
