"""The contracts of our crypto wrappers that the vector files do not reach: lengths, hybrid rules,
HPKE binding, and that every refusal is :class:`CryptoError`."""

from __future__ import annotations

import pytest

from hotline.crypto import hpke
from hotline.crypto.aead import CipherKey, noise_nonce
from hotline.crypto.errors import CryptoError
from hotline.crypto.hashing import blake2s, hkdf_sha256
from hotline.crypto.mlkem import MLKEM768PrivateKey, MLKEM768PublicKey
from hotline.crypto.passphrase import Argon2Params, derive_key
from hotline.crypto.sign import SIGNATURE_LEN, HybridSigningKey, HybridVerifyKey
from hotline.crypto.x25519 import X25519PrivateKey, X25519PublicKey

SIGNER = HybridSigningKey.from_seed(bytes(range(64)))
KEM = MLKEM768PrivateKey.from_seed(bytes(range(64)))
DH = X25519PrivateKey.from_bytes(bytes(range(32)))


# -- AEAD ----------------------------------------------------------------------------------------------


def test_cipher_key_lengths() -> None:
    with pytest.raises(CryptoError):
        CipherKey(bytes(31))
    key = CipherKey(bytes(32))
    assert key.raw == bytes(32)
    with pytest.raises(CryptoError):
        key.seal(bytes(8), b"", b"x")
    with pytest.raises(CryptoError):
        key.open(bytes(13), b"", bytes(32))
    with pytest.raises(CryptoError):
        key.open(noise_nonce(0), b"", bytes(15))


def test_cipher_key_binds_nonce_and_ad() -> None:
    key = CipherKey(bytes(range(32)))
    sealed = key.seal(noise_nonce(1), b"ad", b"hello")
    assert key.open(noise_nonce(1), b"ad", sealed) == b"hello"
    for nonce, ad in ((noise_nonce(2), b"ad"), (noise_nonce(1), b"AD")):
        with pytest.raises(CryptoError):
            key.open(nonce, ad, sealed)


def test_noise_nonce_layout() -> None:
    assert noise_nonce(1) == bytes(4) + b"\x01" + bytes(7)
    assert noise_nonce(2**64 - 1) == bytes(4) + b"\xff" * 8


# -- hashing -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("length", [0, -1, 255 * 32 + 1])
def test_hkdf_length_bounds(length: int) -> None:
    with pytest.raises(CryptoError):
        hkdf_sha256(b"ikm", salt=None, info=b"", length=length)


def test_hkdf_extremes() -> None:
    assert len(hkdf_sha256(b"ikm", salt=None, info=b"", length=1)) == 1
    assert len(hkdf_sha256(b"ikm", salt=b"", info=b"", length=255 * 32)) == 255 * 32


def test_blake2s_personalisation_and_size() -> None:
    assert len(blake2s(b"x", digest_size=16)) == 16
    assert blake2s(b"x", person=b"hotline") != blake2s(b"x")


# -- X25519 --------------------------------------------------------------------------------------------


def test_x25519_lengths() -> None:
    for bad in (bytes(31), bytes(33)):
        with pytest.raises(CryptoError):
            X25519PublicKey.from_bytes(bad)
        with pytest.raises(CryptoError):
            X25519PrivateKey.from_bytes(bad)


def test_x25519_agreement_and_identity_element() -> None:
    other = X25519PrivateKey.generate()
    assert DH.exchange(other.public_key()) == other.exchange(DH.public_key())
    assert X25519PrivateKey.from_bytes(DH.raw).public_key() == DH.public_key()
    with pytest.raises(CryptoError):
        DH.exchange(X25519PublicKey.from_bytes(bytes(32)))


# -- ML-KEM-768 ----------------------------------------------------------------------------------------


def test_mlkem_round_trip_and_lengths() -> None:
    shared, ciphertext = KEM.public_key().encapsulate()
    assert KEM.decapsulate(ciphertext) == shared
    assert MLKEM768PrivateKey.from_seed(KEM.seed).public_key() == KEM.public_key()
    with pytest.raises(CryptoError):
        MLKEM768PrivateKey.from_seed(bytes(63))
    with pytest.raises(CryptoError):
        MLKEM768PublicKey.from_bytes(KEM.public_key().raw[:-1])
    with pytest.raises(CryptoError):
        KEM.decapsulate(ciphertext[:-1])


def test_mlkem_implicit_rejection() -> None:
    """A tampered ciphertext decapsulates to a different (pseudorandom) secret, not an error."""
    shared, ciphertext = KEM.public_key().encapsulate()
    tampered = bytes([ciphertext[0] ^ 1]) + ciphertext[1:]
    assert KEM.decapsulate(tampered) != shared


# -- hybrid signatures ---------------------------------------------------------------------------------


def test_hybrid_sign_and_verify() -> None:
    signature = SIGNER.sign(b"message", context=b"ctx")
    assert len(signature) == SIGNATURE_LEN
    SIGNER.public_key().verify(signature, b"message", context=b"ctx")
    assert HybridSigningKey.from_seed(SIGNER.seed).public_key() == SIGNER.public_key()
    assert HybridVerifyKey.from_bytes(SIGNER.public_key().raw) == SIGNER.public_key()


def test_hybrid_needs_both_halves() -> None:
    good = SIGNER.sign(b"message", context=b"ctx")
    other = SIGNER.sign(b"other", context=b"ctx")
    public = SIGNER.public_key()
    for mixed in (other[:64] + good[64:], good[:64] + other[64:]):
        with pytest.raises(CryptoError):
            public.verify(mixed, b"message", context=b"ctx")


@pytest.mark.parametrize(
    ("message", "context", "cut"),
    [(b"other", b"ctx", 0), (b"message", b"CTX", 0), (b"message", b"", 0), (b"message", b"ctx", 1)],
    ids=["message", "context", "no-context", "short"],
)
def test_hybrid_refusals(message: bytes, context: bytes, cut: int) -> None:
    signature = SIGNER.sign(b"message", context=b"ctx")
    with pytest.raises(CryptoError):
        SIGNER.public_key().verify(signature[: len(signature) - cut], message, context=context)


def test_hybrid_key_lengths_and_context_limit() -> None:
    with pytest.raises(CryptoError):
        HybridVerifyKey.from_bytes(bytes(1983))
    with pytest.raises(CryptoError):
        HybridSigningKey.from_seed(bytes(63))
    with pytest.raises(CryptoError):
        SIGNER.sign(b"m", context=bytes(256))


# -- HPKE ----------------------------------------------------------------------------------------------


def test_hpke_round_trip_and_binding() -> None:
    sealed = hpke.seal(b"secret", kem_public=KEM.public_key(), dh_public=DH.public_key(), info=b"info")
    assert hpke.open_sealed(sealed, kem_private=KEM, dh_private=DH, info=b"info") == b"secret"
    other_kem, other_dh = MLKEM768PrivateKey.generate(), X25519PrivateKey.generate()
    for kem, dh, info, data in (
        (KEM, DH, b"other", sealed),
        (other_kem, DH, b"info", sealed),
        (KEM, other_dh, b"info", sealed),
        (KEM, DH, b"info", sealed[:-1]),
        (KEM, DH, b"info", b""),
        (KEM, DH, b"info", bytes([sealed[0] ^ 1]) + sealed[1:]),
    ):
        with pytest.raises(CryptoError):
            hpke.open_sealed(data, kem_private=kem, dh_private=dh, info=info)


# -- Argon2id ------------------------------------------------------------------------------------------


def test_argon2_defaults_are_rfc9106_second_option() -> None:
    params = Argon2Params()
    assert (params.memory_kib, params.iterations, params.lanes) == (65536, 3, 4)


@pytest.mark.parametrize(
    ("memory", "iterations", "lanes"),
    [(7, 1, 1), (31, 1, 4), (4 * 1024 * 1024 + 1, 1, 1), (64, 0, 1), (64, 65, 1), (64, 1, 0), (1024, 1, 65)],
)
def test_argon2_param_bounds(memory: int, iterations: int, lanes: int) -> None:
    with pytest.raises(CryptoError):
        Argon2Params(memory_kib=memory, iterations=iterations, lanes=lanes)


def test_derive_key() -> None:
    params = Argon2Params(memory_kib=64, iterations=1, lanes=1)
    key = derive_key(b"pass", bytes(16), params)
    assert len(key) == 32
    assert derive_key(b"pass", bytes(16), params) == key
    assert derive_key(b"pasS", bytes(16), params) != key
    assert derive_key(b"pass", bytes(15) + b"\x01", params) != key
    with pytest.raises(CryptoError):
        derive_key(b"pass", bytes(15), params)
