"""Encryption at rest: the store key, the keys derived from it, and values sealed inside the store.

The store key is derived from the station identity's private keys, which live only in the
passphrase-protected key file. Two layers use it. The whole SQLite file and its log are encrypted
page by page under :func:`derive_page_key` (:mod:`hotline.store.connection`), so a copy of the
station directory without the passphrase shows only the sizes of its files. Inside, message bodies,
call audio and line keys are sealed once more, each with a fresh random nonce and bound (as
associated data) to where it lives, so a value moved to another row or line does not open; bodies
and audio are padded to a size bucket first (:func:`padded_length`), so even an opened page would
not give a text's exact length.

A line's values (message bodies, call audio, its line key) are sealed with the AEAD of the line's
profile (:mod:`hotline.proto.suites`), each under a key of its own profile (:meth:`Sealer.for_suite`):

- ``standard``: ChaCha20-Poly1305 under the store key itself, subkeys by HKDF-SHA-256, exactly as
  every store before profiles existed wrote them (nothing stored changes);
- ``cnsa2``: AES-256-GCM under ``HKDF-SHA-384(store key, "hotline/store-line-key/v1|cnsa2")``,
  subkeys by HKDF-SHA-384 under that key.

Both keep the same layout, ``nonce (12) ‖ ciphertext ‖ tag (16)``. Station-wide values (the key
check) stay ``standard``.
"""

from __future__ import annotations

from hotline.crypto.aead import AeadKey
from hotline.crypto.errors import CryptoError
from hotline.crypto.hashing import DigestName, hkdf, hkdf_sha256
from hotline.crypto.random import random_bytes
from hotline.proto.suites import STANDARD, ProfileName, Suite
from hotline.store.errors import StoreCorrupt

NONCE_LEN = 12
_KEY_INFO = b"hotline/store-key/v1"
_PAGE_KEY_INFO = b"hotline/store-page-key/v1"
_LINE_KEY_INFO = b"hotline/store-line-key/v1|"
_SUBKEY_INFO = b"hotline/store-subkey/v1|"
#: The KDF hash of each profile's values at rest. ``standard`` keeps SHA-256, which every store made
#: before profiles derived its subkeys with; ``cnsa2`` takes SHA-384, CNSA 2.0's hash.
AT_REST_KDF: dict[ProfileName, DigestName] = {"standard": "SHA256", "cnsa2": "SHA384"}
#: Padded values are sealed under their own associated data, so a value sealed before padding
#: existed (an older store's) is told apart and still opens.
_PADDED_AD = b"padded|"
#: The smallest padded size; "yes" and a 200-character sentence both take this much.
PAD_MIN = 256
#: Up to here sizes round up to a power of two; beyond, to the coarser Padme buckets (at most
#: about 12 % larger), which leave O(log log n) bits of the length.
PAD_POW2_MAX = 4096


def derive_store_key(secret_parts: tuple[bytes, ...]) -> bytes:
    """The 32-byte store key for an identity's ``secret_parts``."""
    return hkdf_sha256(b"".join(secret_parts), salt=None, info=_KEY_INFO, length=32)


def derive_page_key(store_key: bytes) -> bytes:
    """The raw 32-byte key SQLCipher encrypts the store's pages under (apart from the sealing key)."""
    return hkdf_sha256(store_key, salt=None, info=_PAGE_KEY_INFO, length=32)


def padded_length(n: int) -> int:
    """The bucket a value of ``n`` bytes (with its one-byte end marker) is padded to."""
    if n <= PAD_MIN:
        return PAD_MIN
    if n <= PAD_POW2_MAX:
        return 1 << (n - 1).bit_length()
    # Padme: keep the top bits of the length, zero the low ones
    exponent = n.bit_length() - 1
    kept = exponent.bit_length()
    mask = (1 << (exponent - kept)) - 1
    return (n + mask) & ~mask


def _pad(value: bytes) -> bytes:
    # ISO/IEC 7816-4: a 0x80 marker, then zeros up to the bucket
    marked = value + b"\x80"
    return marked + bytes(padded_length(len(marked)) - len(marked))


def _unpad(padded: bytes) -> bytes:
    body = padded.rstrip(b"\x00")
    if not body.endswith(b"\x80"):
        raise StoreCorrupt("a stored value has no padding marker: the store is damaged or not ours")
    return body[:-1]


class Sealer:
    """Seals and opens stored values under the store key. Use it from one thread (the store's).

    ``Sealer(store_key)`` seals station-wide values and ``standard`` lines' ones;
    :meth:`for_suite` gives the sealer of another profile's lines.
    """

    __slots__ = ("_kdf", "_key", "_profiles", "_store_key", "suite")

    def __init__(self, key: bytes, suite: Suite = STANDARD) -> None:
        self._store_key = key
        #: The profile whose values this sealer seals.
        self.suite = suite
        self._kdf: DigestName = AT_REST_KDF[suite.profile]
        if suite.profile == STANDARD.profile:
            raw = key  # as before profiles: a standard line's values open as they always did
        else:
            raw = hkdf(self._kdf, key, salt=None, info=_LINE_KEY_INFO + suite.profile.encode(), length=32)
        self._key: AeadKey = suite.aead.key(raw)
        self._profiles: dict[str, Sealer] = {suite.profile: self}

    def for_suite(self, suite: Suite) -> Sealer:
        """The sealer of the values of a line with ``suite`` (made once, then kept)."""
        found = self._profiles.get(suite.profile)
        if found is None:
            found = Sealer(self._store_key, suite)
            self._profiles[suite.profile] = found
        return found

    def derive(self, label: bytes) -> bytes:
        """A 32-byte key of its own for ``label`` (what seals a document's bytes, say)."""
        if self._kdf == "SHA256":
            return hkdf_sha256(self._key.raw, salt=None, info=_SUBKEY_INFO + label, length=32)
        return hkdf(self._kdf, self._key.raw, salt=None, info=_SUBKEY_INFO + label, length=32)

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

    def seal_padded(self, ad: bytes, plaintext: bytes) -> bytes:
        """Like :meth:`seal`, after padding ``plaintext`` to its size bucket (:func:`padded_length`)."""
        return self.seal(_PADDED_AD + ad, _pad(plaintext))

    def open_padded(self, ad: bytes, sealed: bytes) -> bytes:
        """The plaintext of a :meth:`seal_padded` result, or of a :meth:`seal` one made before padding.

        Raises:
            StoreCorrupt: it does not open under this key and ``ad``.
        """
        try:
            return _unpad(self.open(_PADDED_AD + ad, sealed))
        except StoreCorrupt:
            return self.open(ad, sealed)

    def reseal(self, ad: bytes, sealed: bytes, into: Sealer) -> bytes:
        """``sealed`` (a :meth:`seal` or :meth:`seal_padded` result of ours) sealed again by ``into``,
        in the same form: what a line's values become when its profile changes.

        Raises:
            StoreCorrupt: it does not open under this key and ``ad``.
        """
        try:
            padded = self.open(_PADDED_AD + ad, sealed)
        except StoreCorrupt:
            return into.seal(ad, self.open(ad, sealed))
        return into.seal(_PADDED_AD + ad, padded)


__all__ = ["AT_REST_KDF", "PAD_MIN", "Sealer", "derive_page_key", "derive_store_key", "padded_length"]
