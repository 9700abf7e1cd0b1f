"""The two AEADs of the line profiles, with Noise's nonce encodings.

- ChaCha20-Poly1305 (RFC 8439), Noise cipher ``ChaChaPoly``: :class:`CipherKey`, nonce
  :func:`noise_nonce` (32 zero bits, then the 64-bit counter little-endian; Noise rev 34 §12.3).
- AES-256-GCM (NIST SP 800-38D), Noise cipher ``AESGCM``: :class:`AesGcmKey`, nonce
  :func:`aesgcm_nonce` (32 zero bits, then the 64-bit counter *big*-endian; Noise rev 34 §12.4).

Both keys have the same shape (:class:`AeadKey`): 32-byte key, 12-byte nonce, 16-byte tag appended to
the ciphertext. :func:`aead` picks one by its Noise name. A key object holds one pyca AEAD object, so
the per-record cost is the seal itself and not a key schedule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from hotline.crypto.errors import CryptoError

KEY_LEN = 32
NONCE_LEN = 12
TAG_LEN = 16

#: The AEADs by their Noise cipher names.
AeadName = Literal["ChaChaPoly", "AESGCM"]


def noise_nonce(n: int) -> bytes:
    """Noise's ChaChaPoly nonce: 32 zero bits then the 64-bit counter, little-endian."""
    return b"\x00\x00\x00\x00" + n.to_bytes(8, "little")


def aesgcm_nonce(n: int) -> bytes:
    """Noise's AESGCM nonce: 32 zero bits then the 64-bit counter, big-endian (Noise rev 34 §12.4)."""
    return b"\x00\x00\x00\x00" + n.to_bytes(8, "big")


class AeadKey(Protocol):
    """What every AEAD key here offers: a 32-byte key, 12-byte nonces, a 16-byte tag."""

    @property
    def raw(self) -> bytes:
        """The key bytes."""
        ...

    def seal(self, nonce: bytes, ad: bytes, plaintext: bytes) -> bytes:
        """Encrypt and authenticate: ciphertext with the tag appended."""
        ...

    def seal_into(self, nonce: bytes, ad: bytes, plaintext: bytes | memoryview, out: memoryview) -> None:
        """Like :meth:`seal`, into ``out`` of exactly ``len(plaintext) + 16`` bytes."""
        ...

    def open(self, nonce: bytes, ad: bytes, ciphertext: bytes | memoryview) -> bytes:
        """Check and decrypt; :class:`CryptoError` on any failure."""
        ...


class _AeadKey:
    """A 32-byte key of one pyca AEAD with a 12-byte nonce and a 16-byte tag, ready to seal and
    open. Not safe for concurrent use. Subclasses name the AEAD (``_NAMED``) and its pyca class."""

    __slots__ = ("_aead", "_raw")
    #: The AEAD's name with its article, for errors.
    _NAMED = ""
    _PYCA: type[ChaCha20Poly1305] | type[AESGCM]

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_LEN:
            raise CryptoError(f"{self._NAMED} key is 32 bytes")
        self._raw = bytes(key)
        self._aead = self._PYCA(self._raw)

    @property
    def raw(self) -> bytes:
        """The key bytes (needed by Noise's REKEY and by tests)."""
        return self._raw

    def seal(self, nonce: bytes, ad: bytes, plaintext: bytes) -> bytes:
        """Encrypt and authenticate: returns ciphertext with the 16-byte tag appended.

        Raises :class:`CryptoError` when the nonce is not 12 bytes.
        """
        if len(nonce) != NONCE_LEN:
            raise CryptoError(f"{self._NAMED} nonce is 12 bytes")
        return self._aead.encrypt(nonce, plaintext, ad)

    def seal_into(self, nonce: bytes, ad: bytes, plaintext: bytes | memoryview, out: memoryview) -> None:
        """Like :meth:`seal`, writing into ``out``, which must be exactly ``len(plaintext) + 16`` bytes."""
        if len(nonce) != NONCE_LEN:
            raise CryptoError(f"{self._NAMED} nonce is 12 bytes")
        self._aead.encrypt_into(nonce, plaintext, ad, out)

    def open(self, nonce: bytes, ad: bytes, ciphertext: bytes | memoryview) -> bytes:
        """Check and decrypt. Raises :class:`CryptoError` on any failure."""
        if len(nonce) != NONCE_LEN:
            raise CryptoError(f"{self._NAMED} nonce is 12 bytes")
        if len(ciphertext) < TAG_LEN:
            raise CryptoError("ciphertext shorter than its tag")
        try:
            return self._aead.decrypt(nonce, ciphertext, ad)
        except (InvalidTag, ValueError) as exc:
            raise CryptoError("authentication failed") from exc


class CipherKey(_AeadKey):
    """A 32-byte ChaCha20-Poly1305 key, ready to seal and open. Not safe for concurrent use."""

    __slots__ = ()
    _NAMED = "a ChaCha20-Poly1305"
    _PYCA = ChaCha20Poly1305


#: The ChaCha20-Poly1305 key under the name that says which AEAD it is.
ChaChaPolyKey = CipherKey


class AesGcmKey(_AeadKey):
    """A 32-byte AES-256-GCM key, ready to seal and open. Not safe for concurrent use.

    Only 256-bit keys and 96-bit nonces: the shorter keys are not in CNSA 2.0, and other nonce sizes
    make GCM hash the nonce into its counter, which nothing here needs. Counter nonces (Noise's) must
    never repeat under one key; GCM loses both confidentiality and authenticity when they do.
    """

    __slots__ = ()
    _NAMED = "an AES-256-GCM"
    _PYCA = AESGCM


@dataclass(frozen=True, slots=True)
class Aead:
    """One AEAD as Noise uses it: its name, how to make a key, how to encode a counter nonce."""

    #: The Noise cipher name (``ChaChaPoly``, ``AESGCM``).
    name: AeadName
    #: Makes a key object from 32 bytes; raises :class:`CryptoError` on another length.
    key: Callable[[bytes], AeadKey]
    #: Noise's nonce for counter ``n``.
    nonce: Callable[[int], bytes]


CHACHAPOLY = Aead("ChaChaPoly", CipherKey, noise_nonce)
AESGCM_256 = Aead("AESGCM", AesGcmKey, aesgcm_nonce)

_AEADS: dict[str, Aead] = {CHACHAPOLY.name: CHACHAPOLY, AESGCM_256.name: AESGCM_256}


def aead(name: str) -> Aead:
    """The AEAD with this Noise cipher name. Raises :class:`ValueError` for one we do not have."""
    try:
        return _AEADS[name]
    except KeyError:
        raise ValueError(f"unsupported cipher {name!r}") from None
