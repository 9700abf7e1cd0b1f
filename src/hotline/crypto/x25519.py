"""X25519 (RFC 7748): the Noise ``DH`` function and half of the hybrid HPKE KEM."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import x25519

from hotline.crypto.errors import CryptoError

KEY_LEN = 32


class X25519PublicKey:
    """An X25519 public key. Immutable; compares and hashes by value."""

    __slots__ = ("_key", "raw")

    def __init__(self, key: x25519.X25519PublicKey) -> None:
        self._key = key
        #: The 32 raw bytes.
        self.raw: bytes = key.public_bytes_raw()

    @classmethod
    def from_bytes(cls, data: bytes) -> X25519PublicKey:
        """Load 32 raw bytes. Raises :class:`CryptoError` on the wrong length."""
        if len(data) != KEY_LEN:
            raise CryptoError("an X25519 public key is 32 bytes")
        return cls(x25519.X25519PublicKey.from_public_bytes(bytes(data)))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, X25519PublicKey) and other.raw == self.raw

    def __hash__(self) -> int:
        return hash(self.raw)

    def __repr__(self) -> str:
        return f"X25519PublicKey({self.raw[:4].hex()}…)"


class X25519PrivateKey:
    """An X25519 private key."""

    __slots__ = ("_key", "_public")

    def __init__(self, key: x25519.X25519PrivateKey) -> None:
        self._key = key
        self._public = X25519PublicKey(key.public_key())

    @classmethod
    def generate(cls) -> X25519PrivateKey:
        """A fresh key from the operating system's CSPRNG."""
        return cls(x25519.X25519PrivateKey.generate())

    @classmethod
    def from_bytes(cls, data: bytes) -> X25519PrivateKey:
        """Load 32 raw bytes (clamping is X25519's own)."""
        if len(data) != KEY_LEN:
            raise CryptoError("an X25519 private key is 32 bytes")
        return cls(x25519.X25519PrivateKey.from_private_bytes(bytes(data)))

    @property
    def raw(self) -> bytes:
        """The 32 raw private bytes."""
        return self._key.private_bytes_raw()

    def public_key(self) -> X25519PublicKey:
        """The matching public key."""
        return self._public

    def exchange(self, peer: X25519PublicKey) -> bytes:
        """Diffie-Hellman with ``peer``.

        Raises :class:`CryptoError` when the result is all zeros (a low-order point), which Noise
        treats as a failed handshake.
        """
        try:
            return self._key.exchange(peer._key)
        except ValueError as exc:
            raise CryptoError("X25519 produced the all-zero output") from exc

    @property
    def pyca(self) -> x25519.X25519PrivateKey:
        """The underlying pyca key, for the HPKE composition inside this package."""
        return self._key
