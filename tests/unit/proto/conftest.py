"""Fixtures shared by the protocol's unit tests."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hpke as pyca_hpke
from cryptography.hazmat.primitives.asymmetric import mlkem as pyca_mlkem
from cryptography.hazmat.primitives.ciphers import aead as pyca_aead

from hotline.crypto import aead as our_aead

_hashlib_new = hashlib.new


@pytest.fixture
def standard_primitives_raise(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """ChaCha20-Poly1305, BLAKE2s/BLAKE2b (pyca and hashlib), ML-KEM-768 and the MLKEM768-X25519 HPKE
    keys raise when touched: what runs under it uses none of the standard profile's primitives."""

    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("a standard-profile primitive ran")

    monkeypatch.setattr(our_aead, "ChaCha20Poly1305", boom)
    monkeypatch.setattr(pyca_aead, "ChaCha20Poly1305", boom)
    for name in ("blake2s", "blake2b"):
        monkeypatch.setattr(hashlib, name, boom)
    monkeypatch.setattr(
        hashlib, "new", lambda name, *a, **k: boom() if "blake2" in name else _hashlib_new(name, *a, **k)
    )
    monkeypatch.setattr(hashes, "BLAKE2s", boom)
    monkeypatch.setattr(hashes, "BLAKE2b", boom)
    for name in ("MLKEM768PrivateKey", "MLKEM768PublicKey"):
        monkeypatch.setattr(pyca_mlkem, name, boom)
    for name in ("MLKEM768X25519PrivateKey", "MLKEM768X25519PublicKey"):
        monkeypatch.setattr(pyca_hpke, name, boom)
    yield
