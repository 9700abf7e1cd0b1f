"""ECDH over NIST P-384 (SEC 1, FIPS 186-5): the classical half of the ``cnsa2`` line-key seal.

A ``cnsa2`` line key is sealed with HPKE's MLKEM1024-P384 hybrid KEM (:mod:`hotline.crypto.hpke`), so a
station identity holds a P-384 key beside its X25519 one. The public key travels on cards in the
uncompressed SEC 1 encoding (``04 || x || y``, 97 bytes: one spelling per point, checked to be on the
curve when read); the private key is kept as its 48-byte big-endian scalar ``d``, ``1 <= d < n``.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from hotline.crypto.errors import CryptoError

#: Length of the uncompressed public key encoding.
PUBLIC_KEY_LEN = 97
#: Length of the private scalar.
PRIVATE_KEY_LEN = 48
#: The order ``n`` of P-384's base point (FIPS 186-5, SP 800-186 §3.2.1.4).
ORDER = int(
    "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973", 16
)

_CURVE = ec.SECP384R1()


class P384PublicKey:
    """A P-384 public key. Immutable; compares and hashes by value."""

    __slots__ = ("_key", "raw")

    def __init__(self, key: ec.EllipticCurvePublicKey) -> None:
        if not isinstance(key.curve, ec.SECP384R1):
            raise CryptoError("not a P-384 key")
        self._key = key
        #: The 97-byte uncompressed encoding ``04 || x || y``.
        self.raw: bytes = key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> P384PublicKey:
        """Load the uncompressed encoding; the point must be on the curve. Raises :class:`CryptoError`."""
        if len(data) != PUBLIC_KEY_LEN or data[0] != 4:
            raise CryptoError("a P-384 public key is 97 bytes, uncompressed (04 || x || y)")
        try:
            return cls(ec.EllipticCurvePublicKey.from_encoded_point(_CURVE, bytes(data)))
        except ValueError as exc:
            raise CryptoError("invalid P-384 public key (not a point on the curve)") from exc

    def __eq__(self, other: object) -> bool:
        return isinstance(other, P384PublicKey) and other.raw == self.raw

    def __hash__(self) -> int:
        return hash(self.raw)

    def __repr__(self) -> str:
        return f"P384PublicKey({self.raw[1:5].hex()}…)"

    @property
    def pyca(self) -> ec.EllipticCurvePublicKey:
        """The underlying pyca key, for the HPKE composition inside this package."""
        return self._key


class P384PrivateKey:
    """A P-384 private key, held as its scalar."""

    __slots__ = ("_key", "_public")

    def __init__(self, key: ec.EllipticCurvePrivateKey) -> None:
        self._key = key
        self._public = P384PublicKey(key.public_key())

    @classmethod
    def from_bytes(cls, data: bytes) -> P384PrivateKey:
        """Load a 48-byte big-endian scalar ``d``. Raises :class:`CryptoError` unless ``1 <= d < n``
        (a uniformly random 48-byte string falls outside with probability below 2^-189)."""
        if len(data) != PRIVATE_KEY_LEN:
            raise CryptoError("a P-384 private key is 48 bytes")
        scalar = int.from_bytes(data, "big")
        if not 1 <= scalar < ORDER:
            raise CryptoError("a P-384 private key is a number from 1 to n - 1")
        return cls(ec.derive_private_key(scalar, _CURVE))

    @property
    def raw(self) -> bytes:
        """The 48-byte scalar."""
        return self._key.private_numbers().private_value.to_bytes(PRIVATE_KEY_LEN, "big")

    def public_key(self) -> P384PublicKey:
        """The matching public key."""
        return self._public

    @property
    def pyca(self) -> ec.EllipticCurvePrivateKey:
        """The underlying pyca key, for the HPKE composition inside this package."""
        return self._key


def is_private_key(data: bytes) -> bool:
    """Whether ``data`` is a valid 48-byte P-384 scalar (for drawing one from random bytes)."""
    return len(data) == PRIVATE_KEY_LEN and 1 <= int.from_bytes(data, "big") < ORDER
