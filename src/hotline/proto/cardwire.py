"""The wire structures of a station card (docs/protocol.md §8.3), as msgspec reads and writes them.

Only :mod:`hotline.proto.cards` uses these: it checks every field, the canonical encoding and the
signatures. Here is the shape alone, so that a reader sees the two versions side by side.
"""

from __future__ import annotations

import msgspec


class CardBody(msgspec.Struct, array_like=True, forbid_unknown_fields=True, frozen=True):
    version: int
    name: str
    static_public: bytes
    kem_public: bytes
    verify_key: bytes
    endpoints: list[str]
    created_at: int


class CardBody2(msgspec.Struct, array_like=True, forbid_unknown_fields=True, frozen=True):
    version: int
    name: str
    static_public: bytes
    kem_public: bytes
    verify_key: bytes
    kem1024_public: bytes
    p384_public: bytes
    mldsa87_public: bytes
    endpoints: list[str]
    created_at: int


class SignedCard(msgspec.Struct, array_like=True, forbid_unknown_fields=True, frozen=True):
    body: bytes
    signature: bytes


class SignedCard2(msgspec.Struct, array_like=True, forbid_unknown_fields=True, frozen=True):
    body: bytes
    signature: bytes
    signature87: bytes


class VersionOnly(msgspec.Struct, array_like=True, frozen=True):
    # Reads the first element of a body of any version; later elements are skipped.
    version: int


ENCODER = msgspec.msgpack.Encoder()
SIGNED_DECODER = msgspec.msgpack.Decoder(SignedCard)
SIGNED2_DECODER = msgspec.msgpack.Decoder(SignedCard2)
VERSION_DECODER = msgspec.msgpack.Decoder(VersionOnly)
BODY_DECODER = msgspec.msgpack.Decoder(CardBody)
BODY2_DECODER = msgspec.msgpack.Decoder(CardBody2)
# The first byte of a canonical array of three elements: a version 2 envelope.
FIXARRAY_3 = 0x93
