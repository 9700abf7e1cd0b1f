"""HPKE (RFC 9180) base mode with the MLKEM768-X25519 hybrid KEM, HKDF-SHA256 and ChaCha20-Poly1305.

Used to seal a line key to a peer station: only the holder of both the peer's ML-KEM-768 and X25519
private keys can open it.
"""

from cryptography.hazmat.primitives import hpke

from hotline.crypto.errors import CryptoError
from hotline.crypto.mlkem import MLKEM768PrivateKey, MLKEM768PublicKey
from hotline.crypto.x25519 import X25519PrivateKey, X25519PublicKey

_SUITE = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)


def seal(
    plaintext: bytes,
    *,
    kem_public: MLKEM768PublicKey,
    dh_public: X25519PublicKey,
    info: bytes,
) -> bytes:
    """Encrypt ``plaintext`` to the hybrid public key; returns ``enc || ciphertext``."""
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
