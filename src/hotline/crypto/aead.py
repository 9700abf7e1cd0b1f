"""ChaCha20-Poly1305 (RFC 8439) with Noise's nonce encoding.

A :class:`CipherKey` holds one pyca AEAD object, so the per-record cost is the seal itself and not a
key schedule.
"""

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from hotline.crypto.errors import CryptoError

KEY_LEN = 32
NONCE_LEN = 12
TAG_LEN = 16


def noise_nonce(n: int) -> bytes:
    """Noise's ChaChaPoly nonce: 32 zero bits then the 64-bit counter, little-endian."""
    return b"\x00\x00\x00\x00" + n.to_bytes(8, "little")


class CipherKey:
    """A 32-byte ChaCha20-Poly1305 key, ready to seal and open. Not safe for concurrent use."""

    __slots__ = ("_aead", "_raw")

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_LEN:
            raise CryptoError("a ChaCha20-Poly1305 key is 32 bytes")
        self._raw = bytes(key)
        self._aead = ChaCha20Poly1305(self._raw)

    @property
    def raw(self) -> bytes:
        """The key bytes (needed by Noise's REKEY and by tests)."""
        return self._raw

    def seal(self, nonce: bytes, ad: bytes, plaintext: bytes) -> bytes:
        """Encrypt and authenticate: returns ciphertext with the 16-byte tag appended.

        Raises :class:`CryptoError` when the nonce is not 12 bytes.
        """
        if len(nonce) != NONCE_LEN:
            raise CryptoError("a ChaCha20-Poly1305 nonce is 12 bytes")
        return self._aead.encrypt(nonce, plaintext, ad)

    def seal_into(self, nonce: bytes, ad: bytes, plaintext: bytes, out: memoryview) -> None:
        """Like :meth:`seal`, writing into ``out``, which must be exactly ``len(plaintext) + 16`` bytes."""
        if len(nonce) != NONCE_LEN:
            raise CryptoError("a ChaCha20-Poly1305 nonce is 12 bytes")
        self._aead.encrypt_into(nonce, plaintext, ad, out)

    def open(self, nonce: bytes, ad: bytes, ciphertext: bytes | memoryview) -> bytes:
        """Check and decrypt. Raises :class:`CryptoError` on any failure."""
        if len(nonce) != NONCE_LEN:
            raise CryptoError("a ChaCha20-Poly1305 nonce is 12 bytes")
        if len(ciphertext) < TAG_LEN:
            raise CryptoError("ciphertext shorter than its tag")
        try:
            return self._aead.decrypt(nonce, ciphertext, ad)
        except (InvalidTag, ValueError) as exc:
            raise CryptoError("authentication failed") from exc
