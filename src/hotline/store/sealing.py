"""Encryption at rest: message bodies and line keys are sealed before they reach SQLite.

The store key is derived from the station identity's private keys, which live only in the
passphrase-protected key file; so a copy of the station directory without the passphrase holds
names, times and sizes but no message text and no line key. Each value is sealed with a fresh
random nonce and bound (as associated data) to where it lives, so a value moved to another row or
line does not open.
"""

from __future__ import annotations

from hotline.crypto.aead import CipherKey
from hotline.crypto.errors import CryptoError
from hotline.crypto.hashing import hkdf_sha256
from hotline.crypto.random import random_bytes
from hotline.store.errors import StoreCorrupt

NONCE_LEN = 12
_KEY_INFO = b"hotline/store-key/v1"


def derive_store_key(secret_parts: tuple[bytes, ...]) -> bytes:
    """The 32-byte store key for an identity's ``secret_parts``."""
    return hkdf_sha256(b"".join(secret_parts), salt=None, info=_KEY_INFO, length=32)


class Sealer:
    """Seals and opens stored values under the store key. Use it from one thread (the store's)."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        self._key = CipherKey(key)

    def derive(self, label: bytes) -> bytes:
        """A 32-byte key of its own for ``label`` (what seals a document's bytes, say)."""
        return hkdf_sha256(self._key.raw, salt=None, info=b"hotline/store-subkey/v1|" + label, length=32)

    def seal(self, ad: bytes, plaintext: bytes) -> bytes:
        """``nonce ‖ ciphertext`` of ``plaintext`` bound to ``ad``."""
        nonce = random_bytes(NONCE_LEN)
        return nonce + self._key.seal(nonce, ad, plaintext)

    def open(self, ad: bytes, sealed: bytes) -> bytes:
        """The plaintext of a :meth:`seal` result.

        Raises:
            StoreCorrupt: it does not open under this key and ``ad``.
        """
        try:
            return self._key.open(sealed[:NONCE_LEN], ad, sealed[NONCE_LEN:])
        except CryptoError:
            raise StoreCorrupt("a stored value does not decrypt: the store is damaged or not ours") from None


__all__ = ["Sealer", "derive_store_key"]
