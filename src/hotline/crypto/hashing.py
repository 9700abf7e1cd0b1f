"""Hashes, MACs and KDFs: BLAKE2s, BLAKE2b, BLAKE3, SHA-256, SHA-384, SHA-512, HMAC and HKDF.

BLAKE2s with a key (the initiation MAC) comes from :mod:`hashlib`, since pyca's BLAKE2s takes no key,
and so do the incremental whole-document hashers (:func:`hasher`: OpenSSL's code either way, and
hashlib releases the GIL on large updates). BLAKE3 (whole documents on ``standard`` lines: about twice
SHA-256's speed on one core) comes from the ``blake3`` package, single-threaded, which also releases
the GIL on large updates. One-shot digests of short inputs are hashlib's too (the same OpenSSL code,
a few times faster to call); HMAC and HKDF are pyca.
"""

import hashlib
from collections.abc import Callable
from hmac import compare_digest
from typing import Literal, Protocol

import blake3
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from hotline.crypto.errors import CryptoError

#: The four hashes a Noise protocol name may hold (Noise rev 34 §12.5-12.8).
HashName = Literal["BLAKE2s", "SHA256", "BLAKE2b", "SHA512"]
#: Every hash offered here: Noise's four, and SHA-384 (CNSA 2.0 lists SHA-384 and SHA-512; Noise
#: defines no SHA384, so it is never a Noise hash).
DigestName = Literal["BLAKE2s", "SHA256", "BLAKE2b", "SHA384", "SHA512"]

#: Every hash :func:`hasher` and :func:`digest` offer: the above and BLAKE3 (no HMAC or HKDF with it).
HasherName = Literal["BLAKE2s", "SHA256", "BLAKE2b", "SHA384", "SHA512", "BLAKE3"]

#: Output length in bytes of each Noise hash (Noise's HASHLEN).
HASH_LEN: dict[HashName, int] = {"BLAKE2s": 32, "SHA256": 32, "BLAKE2b": 64, "SHA512": 64}
#: Block length in bytes of each Noise hash (Noise's BLOCKLEN), for HMAC.
BLOCK_LEN: dict[HashName, int] = {"BLAKE2s": 64, "SHA256": 64, "BLAKE2b": 128, "SHA512": 128}
#: Output length in bytes of every hash offered here.
DIGEST_LEN: dict[DigestName, int] = {"BLAKE2s": 32, "SHA256": 32, "BLAKE2b": 64, "SHA384": 48, "SHA512": 64}


def _algorithm(name: DigestName) -> hashes.HashAlgorithm:
    if name == "BLAKE2s":
        return hashes.BLAKE2s(32)
    if name == "SHA256":
        return hashes.SHA256()
    if name == "BLAKE2b":
        return hashes.BLAKE2b(64)
    if name == "SHA384":
        return hashes.SHA384()
    return hashes.SHA512()


class Hasher(Protocol):
    """An incremental hash (a whole document, read in chunks)."""

    @property
    def digest_size(self) -> int:
        """Output length in bytes."""
        ...

    def update(self, data: bytes | memoryview, /) -> object:
        """Hash more bytes."""
        ...

    def digest(self) -> bytes:
        """The hash of everything so far (the hasher can go on)."""
        ...


_HASHLIB_NAMES: dict[DigestName, str] = {
    "BLAKE2s": "blake2s",
    "SHA256": "sha256",
    "BLAKE2b": "blake2b",
    "SHA384": "sha384",
    "SHA512": "sha512",
}


#: Output length in bytes of every hash :func:`hasher` offers (BLAKE3 at its default 32 bytes).
HASHER_LEN: dict[HasherName, int] = {
    "BLAKE2s": 32, "SHA256": 32, "BLAKE2b": 64, "SHA384": 48, "SHA512": 64, "BLAKE3": 32
}  # fmt: skip


def hasher(name: HasherName) -> Hasher:
    """A fresh incremental hasher for the named function (same output as :func:`digest`)."""
    if name == "BLAKE3":
        return blake3.blake3()
    return hashlib.new(_HASHLIB_NAMES[name])


def digest(name: HasherName, data: bytes) -> bytes:
    """Hash ``data`` with the named function."""
    if name == "BLAKE3":
        return blake3.blake3(data).digest()
    # hashlib's one-shot is OpenSSL's code as pyca's is, without the object set-up: 0.3 to 1.3 us
    # against 2 to 3 for the short inputs the handshake hashes a dozen times (looked up on the
    # module at each call, so whatever replaces hashlib's constructors sees every use)
    one_shot: Callable[[bytes], Hasher] = getattr(hashlib, _HASHLIB_NAMES[name])
    return one_shot(data).digest()


def hmac_digest(name: DigestName, key: bytes, data: bytes) -> bytes:
    """HMAC of ``data`` under ``key`` with the named hash (RFC 2104)."""
    h = hmac.HMAC(key, _algorithm(name))
    h.update(data)
    return h.finalize()


def blake2s(data: bytes, *, key: bytes = b"", digest_size: int = 32, person: bytes = b"") -> bytes:
    """BLAKE2s (RFC 7693), optionally keyed, with a digest of 1 to 32 bytes."""
    return hashlib.blake2s(data, key=key, digest_size=digest_size, person=person).digest()


def blake2b(data: bytes, *, key: bytes = b"", digest_size: int = 64) -> bytes:
    """BLAKE2b (RFC 7693), optionally keyed, for whole-document hashes."""
    return hashlib.blake2b(data, key=key, digest_size=digest_size).digest()


def hkdf_sha256(ikm: bytes, *, salt: bytes | None, info: bytes, length: int) -> bytes:
    """HKDF-SHA256 (RFC 5869) extract-and-expand.

    Raises :class:`CryptoError` unless ``1 <= length <= 255 * 32`` (RFC 5869 §2.3).
    """
    if not 1 <= length <= 255 * 32:
        raise CryptoError("HKDF-SHA256 output is 1 to 8160 bytes")
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def hkdf(name: DigestName, ikm: bytes, *, salt: bytes | None, info: bytes, length: int) -> bytes:
    """HKDF (RFC 5869) extract-and-expand with the named hash.

    Raises :class:`CryptoError` unless ``1 <= length <= 255 * HashLen`` (RFC 5869 §2.3).
    """
    if not 1 <= length <= 255 * DIGEST_LEN[name]:
        raise CryptoError(f"HKDF output is 1 to {255 * DIGEST_LEN[name]} bytes")
    return HKDF(algorithm=_algorithm(name), length=length, salt=salt, info=info).derive(ikm)


def constant_time_equal(a: bytes, b: bytes) -> bool:
    """Compare two byte strings without leaking where they differ."""
    return compare_digest(a, b)
