"""The cnsa2 key path makes no ChaCha20, BLAKE2 or ML-KEM-768 operation.

With the identities and cards already made (a version 2 card holds the standard keys too, and reading
one checks its ML-KEM-768 key), everything a ``cnsa2`` line does with the keys runs with those
primitives made to raise: its key digests and fingerprints, its safety number, checking the card's
signatures, sealing, signing, checking and opening its line key. The same calls for a ``standard``
line trip the guard, so it is not vacuous.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hpke as pyca_hpke
from cryptography.hazmat.primitives.asymmetric import mlkem as pyca_mlkem
from cryptography.hazmat.primitives.ciphers import aead as pyca_aead

from hotline.crypto import aead as our_aead
from hotline.proto.cards import issue_card
from hotline.proto.linekeys import create_line_key, open_line_key
from hotline.proto.safety import safety_number
from tests.support.identities import fixed_cnsa2_identity

PARIS = fixed_cnsa2_identity("Paris", 1)
MOSCOW = fixed_cnsa2_identity("Moscow", 11)
PARIS_CARD = issue_card(PARIS, endpoints=["paris.example:4433"], created_at=1)
MOSCOW_CARD = issue_card(MOSCOW, endpoints=["moscow.example:4433"], created_at=2)

_hashlib_new = hashlib.new


@pytest.fixture
def standard_primitives_raise(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """ChaCha20-Poly1305, BLAKE2s/BLAKE2b (pyca and hashlib), ML-KEM-768 and the MLKEM768-X25519 HPKE
    keys raise when touched."""

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


def _line(profile: str) -> None:
    assert PARIS.key_digest_for(profile) == PARIS_CARD.key_digest_for(profile)
    assert str(MOSCOW_CARD.fingerprint_for(profile)) == str(MOSCOW.fingerprint_for(profile))
    number = safety_number(PARIS_CARD, MOSCOW_CARD, profile)
    assert number == safety_number(MOSCOW.public(), PARIS.public(), profile)
    PARIS_CARD.verify()
    MOSCOW_CARD.verify()
    line_key, sealed = create_line_key(
        sender=PARIS, recipient=MOSCOW_CARD, label="paris-moscow", created_at=5, profile=profile
    )
    assert open_line_key(sealed, MOSCOW, PARIS_CARD, profile) == line_key


@pytest.mark.usefixtures("standard_primitives_raise")
def test_the_cnsa2_key_path_makes_no_chacha_blake2_or_mlkem768_call() -> None:
    _line("cnsa2")


@pytest.mark.usefixtures("standard_primitives_raise")
@pytest.mark.parametrize(
    "call",
    [
        lambda: PARIS.key_digest_for("standard"),
        lambda: safety_number(PARIS_CARD, MOSCOW_CARD),
        lambda: create_line_key(sender=PARIS, recipient=MOSCOW_CARD, label="x", created_at=1),
    ],
)
def test_the_guard_catches_the_standard_path(call: object) -> None:
    with pytest.raises(AssertionError, match="standard-profile primitive"):
        call()  # type: ignore[operator]


def test_the_same_calls_run_unguarded_for_both_profiles() -> None:
    _line("cnsa2")
    _line("standard")
