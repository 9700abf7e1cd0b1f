"""Hybrid signatures: Ed25519 (RFC 8032) and ML-DSA (FIPS 204) side by side.

A hybrid signature is the Ed25519 signature followed by the ML-DSA one, both over the same message
with the same context label, and it is valid only if *both* verify: forging it needs breaking both a
classical and a post-quantum scheme.

Two levels: ML-DSA-65 (:class:`HybridSigningKey`, :class:`HybridVerifyKey`: the ``standard`` line
profile) and ML-DSA-87 (:class:`Hybrid87SigningKey`, :class:`Hybrid87VerifyKey`: CNSA 2.0's parameter
set, for the ``cnsa2`` profile). The two encodings have different lengths, so one is never read as
the other.
"""

from __future__ import annotations

from typing import Generic, Self, TypeVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519, mldsa

from hotline.crypto.errors import CryptoError

ED25519_PUBLIC_LEN = 32
ED25519_SIGNATURE_LEN = 64
MLDSA65_PUBLIC_LEN = 1952
MLDSA65_SIGNATURE_LEN = 3309
PUBLIC_KEY_LEN = ED25519_PUBLIC_LEN + MLDSA65_PUBLIC_LEN
SIGNATURE_LEN = ED25519_SIGNATURE_LEN + MLDSA65_SIGNATURE_LEN
SEED_LEN = 32 + 32
MLDSA87_PUBLIC_LEN = 2592
MLDSA87_SIGNATURE_LEN = 4627
PUBLIC_KEY_LEN_87 = ED25519_PUBLIC_LEN + MLDSA87_PUBLIC_LEN
SIGNATURE_LEN_87 = ED25519_SIGNATURE_LEN + MLDSA87_SIGNATURE_LEN


def _labelled(context: bytes, message: bytes) -> bytes:
    # Ed25519 has no context input; prefixing a length-framed label gives both halves the same
    # domain separation.
    return len(context).to_bytes(1, "big") + context + message


_MLPublic = mldsa.MLDSA65PublicKey | mldsa.MLDSA87PublicKey
_MLPrivate = mldsa.MLDSA65PrivateKey | mldsa.MLDSA87PrivateKey


class _VerifyKey:
    """The public half: an Ed25519 key and an ML-DSA key of the subclass's level. Immutable;
    compares by value (and level)."""

    __slots__ = ("_ed", "_ml", "raw")
    #: The level in errors ("" for ML-DSA-65), the ML-DSA class, and the encoding's lengths.
    _LEVEL = ""
    _ML: type[mldsa.MLDSA65PublicKey] | type[mldsa.MLDSA87PublicKey]
    _KEY_LEN = 0
    _SIGNATURE_LEN = 0

    def __init__(self, ed: ed25519.Ed25519PublicKey, ml: _MLPublic) -> None:
        self._ed = ed
        self._ml = ml
        #: The Ed25519 key (32 bytes) followed by the ML-DSA key.
        self.raw: bytes = ed.public_bytes_raw() + ml.public_bytes_raw()

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        """Load the encoding (Ed25519 key, then ML-DSA key). Raises :class:`CryptoError`."""
        if len(data) != cls._KEY_LEN:
            raise CryptoError(f"a hybrid{cls._LEVEL} verify key is {cls._KEY_LEN} bytes")
        try:
            ed = ed25519.Ed25519PublicKey.from_public_bytes(bytes(data[:ED25519_PUBLIC_LEN]))
            ml = cls._ML.from_public_bytes(bytes(data[ED25519_PUBLIC_LEN:]))
        except ValueError as exc:
            raise CryptoError("invalid hybrid verify key") from exc
        return cls(ed, ml)

    def verify(self, signature: bytes, message: bytes, *, context: bytes) -> None:
        """Check a hybrid signature. Raises :class:`CryptoError` unless both halves verify."""
        if len(signature) != self._SIGNATURE_LEN:
            raise CryptoError(f"a hybrid{self._LEVEL} signature is {self._SIGNATURE_LEN} bytes")
        data = _labelled(context, message)
        ok = True
        try:
            self._ed.verify(bytes(signature[:ED25519_SIGNATURE_LEN]), data)
        except InvalidSignature:
            ok = False
        try:
            self._ml.verify(bytes(signature[ED25519_SIGNATURE_LEN:]), data, context)
        except (InvalidSignature, ValueError):
            ok = False
        if not ok:
            raise CryptoError("signature does not verify")

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and isinstance(other, _VerifyKey) and other.raw == self.raw

    def __hash__(self) -> int:
        return hash(self.raw)


class HybridVerifyKey(_VerifyKey):
    """Ed25519 and ML-DSA-65 public keys: 1984 bytes."""

    __slots__ = ()
    _ML = mldsa.MLDSA65PublicKey
    _KEY_LEN = PUBLIC_KEY_LEN
    _SIGNATURE_LEN = SIGNATURE_LEN


class Hybrid87VerifyKey(_VerifyKey):
    """Ed25519 and ML-DSA-87 public keys: 2624 bytes."""

    __slots__ = ()
    _LEVEL = " ML-DSA-87"
    _ML = mldsa.MLDSA87PublicKey
    _KEY_LEN = PUBLIC_KEY_LEN_87
    _SIGNATURE_LEN = SIGNATURE_LEN_87


V = TypeVar("V", bound=_VerifyKey)


class _SigningKey(Generic[V]):
    """The private half, held as two 32-byte seeds (Ed25519's, then ML-DSA's ``xi``)."""

    __slots__ = ("_ed", "_ml", "_public")
    _ML: type[mldsa.MLDSA65PrivateKey] | type[mldsa.MLDSA87PrivateKey]
    _VERIFY: type[V]

    def __init__(self, ed: ed25519.Ed25519PrivateKey, ml: _MLPrivate) -> None:
        self._ed = ed
        self._ml = ml
        self._public = self._VERIFY(ed.public_key(), ml.public_key())

    @classmethod
    def generate(cls) -> Self:
        """A fresh key pair from the operating system's CSPRNG."""
        return cls(ed25519.Ed25519PrivateKey.generate(), cls._ML.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> Self:
        """Load from the 64-byte seed: Ed25519's 32 bytes, then ML-DSA's 32-byte ``xi``."""
        if len(seed) != SEED_LEN:
            raise CryptoError("a hybrid signing seed is 64 bytes")
        return cls(
            ed25519.Ed25519PrivateKey.from_private_bytes(bytes(seed[:32])),
            cls._ML.from_seed_bytes(bytes(seed[32:])),
        )

    @property
    def seed(self) -> bytes:
        """The 64-byte seed."""
        return self._ed.private_bytes_raw() + self._ml.private_bytes_raw()

    def public_key(self) -> V:
        """The matching verify key."""
        return self._public

    def sign(self, message: bytes, *, context: bytes) -> bytes:
        """Sign ``message`` under a domain-separation ``context`` (at most 255 bytes)."""
        if len(context) > 255:
            raise CryptoError("a signature context is at most 255 bytes")
        data = _labelled(context, message)
        return self._ed.sign(data) + self._ml.sign(data, context)


class HybridSigningKey(_SigningKey[HybridVerifyKey]):
    """Ed25519 and ML-DSA-65 private keys (the ``standard`` profile)."""

    __slots__ = ()
    _ML = mldsa.MLDSA65PrivateKey
    _VERIFY = HybridVerifyKey


class Hybrid87SigningKey(_SigningKey[Hybrid87VerifyKey]):
    """Ed25519 and ML-DSA-87 private keys (the ``cnsa2`` profile)."""

    __slots__ = ()
    _ML = mldsa.MLDSA87PrivateKey
    _VERIFY = Hybrid87VerifyKey


def ed25519_verify(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """Plain Ed25519 verification (for the Wycheproof vectors); False on any failure."""
    try:
        ed25519.Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def mldsa65_verify(public_key: bytes, signature: bytes, message: bytes, context: bytes) -> bool:
    """Plain ML-DSA-65 verification (for the Wycheproof vectors); False on any failure."""
    try:
        mldsa.MLDSA65PublicKey.from_public_bytes(public_key).verify(signature, message, context)
    except (InvalidSignature, ValueError):
        return False
    return True


def mldsa87_public_from_seed(seed: bytes) -> bytes:
    """The ML-DSA-87 public key of a 32-byte seed ``xi`` (FIPS 204 ML-DSA.KeyGen_internal), for
    known-answer tests. Raises :class:`CryptoError` on a seed of the wrong length."""
    if len(seed) != 32:
        raise CryptoError("an ML-DSA-87 seed is 32 bytes")
    return mldsa.MLDSA87PrivateKey.from_seed_bytes(bytes(seed)).public_key().public_bytes_raw()


def mldsa87_sign(seed: bytes, message: bytes, context: bytes) -> bytes:
    """Plain (hedged) ML-DSA-87 signature under the key of ``seed`` (for known-answer tests).

    Raises :class:`CryptoError` on a seed of the wrong length or a context over 255 bytes.
    """
    if len(seed) != 32:
        raise CryptoError("an ML-DSA-87 seed is 32 bytes")
    if len(context) > 255:
        raise CryptoError("a signature context is at most 255 bytes")
    return mldsa.MLDSA87PrivateKey.from_seed_bytes(bytes(seed)).sign(message, context)


def mldsa87_verify(public_key: bytes, signature: bytes, message: bytes, context: bytes) -> bool:
    """Plain ML-DSA-87 verification (for the Wycheproof vectors); False on any failure."""
    try:
        mldsa.MLDSA87PublicKey.from_public_bytes(public_key).verify(signature, message, context)
    except (InvalidSignature, ValueError):
        return False
    return True
