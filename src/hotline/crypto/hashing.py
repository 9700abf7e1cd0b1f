"""Hashes, MACs and KDFs: BLAKE2s, SHA-256, HMAC and HKDF.

BLAKE2s with a key (the initiation MAC) comes from :mod:`hashlib`, since pyca's BLAKE2s takes no key;
everything else is pyca.
"""

import hashlib
from hmac import compare_digest
from typing import Literal

from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from hotline.crypto.errors import CryptoError

HashName = Literal["BLAKE2s", "SHA256", "BLAKE2b", "SHA512"]

#: Output length in bytes of each hash (Noise's HASHLEN).
HASH_LEN: dict[HashName, int] = {"BLAKE2s": 32, "SHA256": 32, "BLAKE2b": 64, "SHA512": 64}
#: Block length in bytes of each hash (Noise's BLOCKLEN), for HMAC.
BLOCK_LEN: dict[HashName, int] = {"BLAKE2s": 64, "SHA256": 64, "BLAKE2b": 128, "SHA512": 128}


def _algorithm(name: HashName) -> hashes.HashAlgorithm:
    if name == "BLAKE2s":
        return hashes.BLAKE2s(32)
    if name == "SHA256":
        return hashes.SHA256()
    if name == "BLAKE2b":
        return hashes.BLAKE2b(64)
    return hashes.SHA512()


def digest(name: HashName, data: bytes) -> bytes:
    """Hash ``data`` with the named function."""
    h = hashes.Hash(_algorithm(name))
    h.update(data)
    return h.finalize()


def hmac_digest(name: HashName, key: bytes, data: bytes) -> bytes:
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


def constant_time_equal(a: bytes, b: bytes) -> bool:
    """Compare two byte strings without leaking where they differ."""
    return compare_digest(a, b)
