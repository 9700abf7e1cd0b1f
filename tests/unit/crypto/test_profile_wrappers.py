"""Contracts of the ``cnsa2`` profile's wrappers that the vector files do not reach: AEAD selection by
name and the AESGCM nonce layout, SHA-384 and the incremental hashers, ML-KEM-1024 as a KEM, and the
hybrid Ed25519 + ML-DSA-87 signature rules."""

from __future__ import annotations

import hashlib

import pytest

from hotline.crypto.aead import (
    AESGCM_256,
    CHACHAPOLY,
    AesGcmKey,
    CipherKey,
    aead,
    aesgcm_nonce,
    noise_nonce,
)
from hotline.crypto.errors import CryptoError
from hotline.crypto.hashing import DIGEST_LEN, DigestName, digest, hasher, hkdf, hkdf_sha256
from hotline.crypto.mlkem import MLKEM768, MLKEM1024, MLKEM1024PrivateKey, MLKEM1024PublicKey, kem
from hotline.crypto.sign import (
    PUBLIC_KEY_LEN,
    PUBLIC_KEY_LEN_87,
    SIGNATURE_LEN_87,
    Hybrid87SigningKey,
    Hybrid87VerifyKey,
    HybridSigningKey,
    HybridVerifyKey,
)

SIGNER = Hybrid87SigningKey.from_seed(bytes(range(64)))

# -- AEAD ----------------------------------------------------------------------------------------------


def test_aesgcm_nonce_layout() -> None:
    """Noise rev 34 §12.4: 32 zero bits, then the counter big-endian (ChaChaPoly's is little-endian)."""
    assert aesgcm_nonce(1) == bytes(11) + b"\x01"
    assert aesgcm_nonce(0x0102030405060708) == bytes(4) + bytes([1, 2, 3, 4, 5, 6, 7, 8])
    assert noise_nonce(1) == bytes(4) + b"\x01" + bytes(7)


def test_aead_by_name() -> None:
    assert aead("ChaChaPoly") is CHACHAPOLY and aead("AESGCM") is AESGCM_256
    assert isinstance(aead("AESGCM").key(bytes(32)), AesGcmKey)
    assert isinstance(aead("ChaChaPoly").key(bytes(32)), CipherKey)
    with pytest.raises(ValueError):
        aead("AES256GCM")


def test_aes_gcm_key_contract() -> None:
    with pytest.raises(CryptoError):
        AesGcmKey(bytes(16))  # AES-128 is not offered
    key = AesGcmKey(bytes(range(32)))
    assert key.raw == bytes(range(32))
    sealed = key.seal(aesgcm_nonce(1), b"ad", b"hello")
    assert len(sealed) == 5 + 16
    assert key.open(aesgcm_nonce(1), b"ad", sealed) == b"hello"
    assert key.open(aesgcm_nonce(1), b"ad", memoryview(sealed)) == b"hello"
    for nonce, ad, body in [
        (aesgcm_nonce(2), b"ad", sealed),
        (aesgcm_nonce(1), b"da", sealed),
        (aesgcm_nonce(1), b"ad", sealed[:-1] + bytes([sealed[-1] ^ 1])),
        (aesgcm_nonce(1), b"ad", sealed[:15]),
        (bytes(8), b"ad", sealed),
    ]:
        with pytest.raises(CryptoError):
            key.open(nonce, ad, body)
    with pytest.raises(CryptoError):
        key.seal(bytes(16), b"", b"x")


def test_the_two_aeads_differ_on_the_same_key() -> None:
    raw = bytes(range(32))
    assert AesGcmKey(raw).seal(bytes(12), b"", b"x") != CipherKey(raw).seal(bytes(12), b"", b"x")


# -- hashes --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["BLAKE2s", "SHA256", "BLAKE2b", "SHA384", "SHA512"])
def test_hasher_matches_digest(name: DigestName) -> None:
    data = bytes(range(256)) * 300
    h = hasher(name)
    for i in range(0, len(data), 4096):
        h.update(memoryview(data)[i : i + 4096])
    assert h.digest() == digest(name, data)
    assert h.digest_size == DIGEST_LEN[name] == len(h.digest())


def test_sha384_is_sha384() -> None:
    assert digest("SHA384", b"abc") == hashlib.sha384(b"abc").digest()


def test_hkdf_by_name_agrees_with_hkdf_sha256_and_bounds() -> None:
    assert hkdf("SHA256", b"k", salt=b"s", info=b"i", length=42) == hkdf_sha256(
        b"k", salt=b"s", info=b"i", length=42
    )
    assert len(hkdf("SHA384", b"k", salt=None, info=b"i", length=255 * 48)) == 255 * 48
    with pytest.raises(CryptoError):
        hkdf("SHA384", b"k", salt=None, info=b"i", length=255 * 48 + 1)
    with pytest.raises(CryptoError):
        hkdf("SHA512", b"k", salt=None, info=b"i", length=0)


# -- ML-KEM-1024 ---------------------------------------------------------------------------------------


def test_mlkem1024_round_trip_and_lengths() -> None:
    k = MLKEM1024()
    private, public = k.generate()
    assert (len(private), len(public)) == (64, 1568) == (64, k.public_key_len)
    shared, ciphertext = k.encapsulate(public)
    assert len(ciphertext) == k.ciphertext_len == 1568
    assert k.decapsulate(private, ciphertext) == shared
    with pytest.raises(CryptoError):
        k.decapsulate(private, ciphertext[:-1])
    with pytest.raises(CryptoError):
        MLKEM1024PublicKey.from_bytes(bytes(1184))  # an ML-KEM-768 length
    with pytest.raises(CryptoError):
        MLKEM1024PrivateKey.from_seed(bytes(32))


def test_kem_by_name() -> None:
    assert isinstance(kem("MLKEM768"), MLKEM768) and isinstance(kem("MLKEM1024"), MLKEM1024)
    assert kem("MLKEM1024").name == "MLKEM1024"
    with pytest.raises(ValueError):
        kem("MLKEM512")


# -- hybrid Ed25519 + ML-DSA-87 ------------------------------------------------------------------------


def test_hybrid87_sign_and_verify() -> None:
    signature = SIGNER.sign(b"message", context=b"card")
    assert len(signature) == SIGNATURE_LEN_87 == 64 + 4627
    public = Hybrid87VerifyKey.from_bytes(SIGNER.public_key().raw)
    assert public == SIGNER.public_key() and len(public.raw) == PUBLIC_KEY_LEN_87
    public.verify(signature, b"message", context=b"card")
    assert Hybrid87SigningKey.from_seed(SIGNER.seed).public_key() == public


@pytest.mark.parametrize(
    ("message", "context", "cut"),
    [
        (b"other", b"card", 0),
        (b"message", b"line", 0),
        (b"message", b"card", 10),
        (b"message", b"card", 64 + 10),
    ],
)
def test_hybrid87_refusals(message: bytes, context: bytes, cut: int) -> None:
    signature = bytearray(SIGNER.sign(b"message", context=b"card"))
    if cut:
        signature[cut] ^= 1  # one half broken: the whole signature fails
    with pytest.raises(CryptoError):
        SIGNER.public_key().verify(bytes(signature), message, context=context)


def test_hybrid87_and_65_do_not_mix() -> None:
    """The two levels have distinct lengths, so neither key nor signature reads as the other."""
    signer65 = HybridSigningKey.from_seed(bytes(range(64)))
    assert PUBLIC_KEY_LEN != PUBLIC_KEY_LEN_87
    with pytest.raises(CryptoError):
        Hybrid87VerifyKey.from_bytes(signer65.public_key().raw)
    with pytest.raises(CryptoError):
        HybridVerifyKey.from_bytes(SIGNER.public_key().raw)
    with pytest.raises(CryptoError):
        SIGNER.public_key().verify(signer65.sign(b"m", context=b"c"), b"m", context=b"c")
    with pytest.raises(CryptoError):
        SIGNER.sign(b"m", context=bytes(256))
    with pytest.raises(CryptoError):
        Hybrid87SigningKey.from_seed(bytes(63))
