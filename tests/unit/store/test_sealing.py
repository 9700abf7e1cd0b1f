"""Sealing at rest (hotline.store.sealing): values open only under the same key and binding."""

from __future__ import annotations

import pytest

from hotline.store.errors import StoreCorrupt
from hotline.store.sealing import NONCE_LEN, Sealer, derive_store_key
from tests.unit.store.helpers import KEY, OTHER_KEY


def test_seal_open_round_trip() -> None:
    sealer = Sealer(KEY)
    for plaintext in (b"", b"x", b"a longer message body " * 100):
        assert sealer.open(b"where", sealer.seal(b"where", plaintext)) == plaintext


def test_sealed_value_is_nonce_ciphertext_and_tag() -> None:
    sealed = Sealer(KEY).seal(b"ad", b"hello")
    assert len(sealed) == NONCE_LEN + len(b"hello") + 16
    assert b"hello" not in sealed


def test_every_seal_uses_a_fresh_nonce() -> None:
    sealer = Sealer(KEY)
    a, b = sealer.seal(b"ad", b"same"), sealer.seal(b"ad", b"same")
    assert a[:NONCE_LEN] != b[:NONCE_LEN]
    assert a != b


def test_another_binding_does_not_open() -> None:
    sealer = Sealer(KEY)
    with pytest.raises(StoreCorrupt):
        sealer.open(b"row 2", sealer.seal(b"row 1", b"body"))


def test_another_key_does_not_open() -> None:
    with pytest.raises(StoreCorrupt):
        Sealer(OTHER_KEY).open(b"ad", Sealer(KEY).seal(b"ad", b"body"))


@pytest.mark.parametrize("sealed", [b"", b"\x00" * NONCE_LEN, b"\x00" * (NONCE_LEN + 15), b"\x00" * 64])
def test_garbage_does_not_open(sealed: bytes) -> None:
    with pytest.raises(StoreCorrupt):
        Sealer(KEY).open(b"ad", sealed)


def test_tampering_is_detected() -> None:
    sealer = Sealer(KEY)
    sealed = bytearray(sealer.seal(b"ad", b"body"))
    for index in (0, NONCE_LEN, len(sealed) - 1):
        tampered = bytearray(sealed)
        tampered[index] ^= 0x80
        with pytest.raises(StoreCorrupt):
            sealer.open(b"ad", bytes(tampered))


def test_derive_store_key() -> None:
    parts = (b"\x01" * 32, b"\x02" * 64, b"\x03" * 64)
    key = derive_store_key(parts)
    assert len(key) == 32
    assert derive_store_key(parts) == key
    assert derive_store_key((b"\x01" * 32, b"\x02" * 64, b"\x04" * 64)) != key
    Sealer(key)  # usable as a store key
