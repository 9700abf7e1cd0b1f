"""HPKE (RFC 9180) base mode: how a line key is sealed to a peer station, one suite per line profile.

* ``standard``: KEM MLKEM768-X25519 (0x647a), HKDF-SHA256, ChaCha20-Poly1305 (:func:`seal`,
  :func:`open_sealed`). Only the holder of both the peer's ML-KEM-768 and X25519 private keys can open it.
* ``cnsa2``: KEM MLKEM1024-P384 (0x0051, draft-ietf-hpke-pq: ML-KEM-1024 and ECDH P-384 joined by a
  SHA3-256 combiner), HKDF-SHA384, AES-256-GCM (:func:`seal_cnsa2`, :func:`open_sealed_cnsa2`). Only
  the holder of both the peer's ML-KEM-1024 and P-384 private keys can open it.

The output is ``enc || ciphertext`` as pyca writes it: ``enc`` is 1120 bytes for MLKEM768-X25519 and
1665 for MLKEM1024-P384, the ciphertext the plaintext's length plus a 16-byte tag.
"""

from cryptography.hazmat.primitives import hpke

from hotline.crypto.errors import CryptoError
from hotline.crypto.mlkem import (
    MLKEM768PrivateKey,
    MLKEM768PublicKey,
    MLKEM1024PrivateKey,
    MLKEM1024PublicKey,
)
from hotline.crypto.p384 import P384PrivateKey, P384PublicKey
from hotline.crypto.x25519 import X25519PrivateKey, X25519PublicKey

_SUITE = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)
_SUITE_CNSA2 = hpke.Suite(hpke.KEM.MLKEM1024_P384, hpke.KDF.HKDF_SHA384, hpke.AEAD.AES_256_GCM)

#: Length of ``enc`` in the standard suite (ML-KEM-768 ciphertext 1088, X25519 share 32).
ENC_LEN = 1120
#: Length of ``enc`` in the cnsa2 suite (ML-KEM-1024 ciphertext 1568, uncompressed P-384 share 97).
ENC_LEN_CNSA2 = 1665
#: The AEAD tag both suites append.
TAG_LEN = 16


def seal(
    plaintext: bytes,
    *,
    kem_public: MLKEM768PublicKey,
    dh_public: X25519PublicKey,
    info: bytes,
) -> bytes:
    """Encrypt ``plaintext`` to the hybrid public key; returns ``enc || ciphertext``."""
    # the key classes are looked up at call time, so a test can make them raise
    public = hpke.MLKEM768X25519PublicKey(kem_public.pyca, dh_public._key)
    return _SUITE.encrypt(plaintext, public, info)


def open_sealed(
    sealed: bytes,
    *,
    kem_private: MLKEM768PrivateKey,
    dh_private: X25519PrivateKey,
    info: bytes,
) -> bytes:
    """Open what :func:`seal` made. Raises :class:`CryptoError` on any failure."""
    private = hpke.MLKEM768X25519PrivateKey(kem_private.pyca, dh_private.pyca)
    try:
        return _SUITE.decrypt(sealed, private, info)
    except Exception as exc:  # pyca raises InvalidTag or ValueError; both mean "not for us"
        raise CryptoError("sealed data does not open") from exc


def seal_cnsa2(
    plaintext: bytes,
    *,
    kem_public: MLKEM1024PublicKey,
    dh_public: P384PublicKey,
    info: bytes,
) -> bytes:
    """Encrypt ``plaintext`` to the ML-KEM-1024 + P-384 key (cnsa2 suite); returns ``enc || ciphertext``."""
    public = hpke.MLKEM1024P384PublicKey(kem_public.pyca, dh_public.pyca)
    return _SUITE_CNSA2.encrypt(plaintext, public, info)


def open_sealed_cnsa2(
    sealed: bytes,
    *,
    kem_private: MLKEM1024PrivateKey,
    dh_private: P384PrivateKey,
    info: bytes,
) -> bytes:
    """Open what :func:`seal_cnsa2` made. Raises :class:`CryptoError` on any failure."""
    private = hpke.MLKEM1024P384PrivateKey(kem_private.pyca, dh_private.pyca)
    try:
        return _SUITE_CNSA2.decrypt(sealed, private, info)
    except Exception as exc:  # pyca raises InvalidTag or ValueError; both mean "not for us"
        raise CryptoError("sealed data does not open") from exc
