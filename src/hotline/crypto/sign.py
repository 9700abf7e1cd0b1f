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


class HybridVerifyKey:
    """The public half: Ed25519 and ML-DSA-65 keys. Immutable; compares by value."""

    __slots__ = ("_ed", "_ml", "raw")

    def __init__(self, ed: ed25519.Ed25519PublicKey, ml: mldsa.MLDSA65PublicKey) -> None:
        self._ed = ed
        self._ml = ml
        #: Ed25519 key (32 bytes) followed by the ML-DSA-65 key (1952 bytes).
        self.raw: bytes = ed.public_bytes_raw() + ml.public_bytes_raw()

    @classmethod
    def from_bytes(cls, data: bytes) -> HybridVerifyKey:
        """Load the 1984-byte encoding. Raises :class:`CryptoError`."""
        if len(data) != PUBLIC_KEY_LEN:
            raise CryptoError("a hybrid verify key is 1984 bytes")
        try:
            ed = ed25519.Ed25519PublicKey.from_public_bytes(bytes(data[:ED25519_PUBLIC_LEN]))
            ml = mldsa.MLDSA65PublicKey.from_public_bytes(bytes(data[ED25519_PUBLIC_LEN:]))
        except ValueError as exc:
            raise CryptoError("invalid hybrid verify key") from exc
        return cls(ed, ml)

    def verify(self, signature: bytes, message: bytes, *, context: bytes) -> None:
        """Check a hybrid signature. Raises :class:`CryptoError` unless both halves verify."""
        if len(signature) != SIGNATURE_LEN:
            raise CryptoError("a hybrid signature is 3373 bytes")
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
        return isinstance(other, HybridVerifyKey) and other.raw == self.raw

    def __hash__(self) -> int:
        return hash(self.raw)


class HybridSigningKey:
    """The private half, held as two 32-byte seeds."""

    __slots__ = ("_ed", "_ml", "_public")

    def __init__(self, ed: ed25519.Ed25519PrivateKey, ml: mldsa.MLDSA65PrivateKey) -> None:
        self._ed = ed
        self._ml = ml
        self._public = HybridVerifyKey(ed.public_key(), ml.public_key())

    @classmethod
    def generate(cls) -> HybridSigningKey:
        """A fresh key pair from the operating system's CSPRNG."""
        return cls(ed25519.Ed25519PrivateKey.generate(), mldsa.MLDSA65PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> HybridSigningKey:
        """Load from the 64-byte seed: Ed25519's 32 bytes, then ML-DSA-65's 32-byte ``xi``."""
        if len(seed) != SEED_LEN:
            raise CryptoError("a hybrid signing seed is 64 bytes")
        return cls(
            ed25519.Ed25519PrivateKey.from_private_bytes(bytes(seed[:32])),
            mldsa.MLDSA65PrivateKey.from_seed_bytes(bytes(seed[32:])),
        )

    @property
    def seed(self) -> bytes:
        """The 64-byte seed."""
        return self._ed.private_bytes_raw() + self._ml.private_bytes_raw()

    def public_key(self) -> HybridVerifyKey:
        """The matching verify key."""
        return self._public

    def sign(self, message: bytes, *, context: bytes) -> bytes:
        """Sign ``message`` under a domain-separation ``context`` (at most 255 bytes)."""
        if len(context) > 255:
            raise CryptoError("a signature context is at most 255 bytes")
        data = _labelled(context, message)
        return self._ed.sign(data) + self._ml.sign(data, context)


class Hybrid87VerifyKey:
    """The public half at the higher level: Ed25519 and ML-DSA-87 keys. Immutable; compares by value."""

    __slots__ = ("_ed", "_ml", "raw")

    def __init__(self, ed: ed25519.Ed25519PublicKey, ml: mldsa.MLDSA87PublicKey) -> None:
        self._ed = ed
        self._ml = ml
        #: Ed25519 key (32 bytes) followed by the ML-DSA-87 key (2592 bytes).
        self.raw: bytes = ed.public_bytes_raw() + ml.public_bytes_raw()

    @classmethod
    def from_bytes(cls, data: bytes) -> Hybrid87VerifyKey:
        """Load the 2624-byte encoding. Raises :class:`CryptoError`."""
        if len(data) != PUBLIC_KEY_LEN_87:
            raise CryptoError("a hybrid ML-DSA-87 verify key is 2624 bytes")
        try:
            ed = ed25519.Ed25519PublicKey.from_public_bytes(bytes(data[:ED25519_PUBLIC_LEN]))
            ml = mldsa.MLDSA87PublicKey.from_public_bytes(bytes(data[ED25519_PUBLIC_LEN:]))
        except ValueError as exc:
            raise CryptoError("invalid hybrid verify key") from exc
        return cls(ed, ml)

    def verify(self, signature: bytes, message: bytes, *, context: bytes) -> None:
        """Check a hybrid signature. Raises :class:`CryptoError` unless both halves verify."""
        if len(signature) != SIGNATURE_LEN_87:
            raise CryptoError("a hybrid ML-DSA-87 signature is 4691 bytes")
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
        return isinstance(other, Hybrid87VerifyKey) and other.raw == self.raw

    def __hash__(self) -> int:
        return hash(self.raw)


class Hybrid87SigningKey:
    """The private half at the higher level, held as two 32-byte seeds (Ed25519, ML-DSA-87 ``xi``)."""

    __slots__ = ("_ed", "_ml", "_public")

    def __init__(self, ed: ed25519.Ed25519PrivateKey, ml: mldsa.MLDSA87PrivateKey) -> None:
        self._ed = ed
        self._ml = ml
        self._public = Hybrid87VerifyKey(ed.public_key(), ml.public_key())

    @classmethod
    def generate(cls) -> Hybrid87SigningKey:
        """A fresh key pair from the operating system's CSPRNG."""
        return cls(ed25519.Ed25519PrivateKey.generate(), mldsa.MLDSA87PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> Hybrid87SigningKey:
        """Load from the 64-byte seed: Ed25519's 32 bytes, then ML-DSA-87's 32-byte ``xi``."""
        if len(seed) != SEED_LEN:
            raise CryptoError("a hybrid signing seed is 64 bytes")
        return cls(
            ed25519.Ed25519PrivateKey.from_private_bytes(bytes(seed[:32])),
            mldsa.MLDSA87PrivateKey.from_seed_bytes(bytes(seed[32:])),
        )

    @property
    def seed(self) -> bytes:
        """The 64-byte seed."""
        return self._ed.private_bytes_raw() + self._ml.private_bytes_raw()

    def public_key(self) -> Hybrid87VerifyKey:
        """The matching verify key."""
        return self._public

    def sign(self, message: bytes, *, context: bytes) -> bytes:
        """Sign ``message`` under a domain-separation ``context`` (at most 255 bytes)."""
        if len(context) > 255:
            raise CryptoError("a signature context is at most 255 bytes")
        data = _labelled(context, message)
        return self._ed.sign(data) + self._ml.sign(data, context)


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
