"""ML-KEM (FIPS 203): the post-quantum KEM behind the ``hfs`` handshake tokens and line-key sealing.

ML-KEM-768 serves the ``standard`` line profile, ML-KEM-1024 (CNSA 2.0's parameter set) the ``cnsa2``
one; both have the same shapes here (``MLKEM768*`` and ``MLKEM1024*``, and :class:`MLKEM768` and
:class:`MLKEM1024` as a :class:`Kem`).

Private keys are kept as their 64-byte seed ``d || z``, the compact form FIPS 203 allows. pyca offers
no deterministic encapsulation, so callers that need a reproducible one (golden transcripts) supply
their own :class:`Kem` implementation; the handshake only sees the protocol.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

from cryptography.hazmat.primitives.asymmetric import mlkem

from hotline.crypto.errors import CryptoError

PUBLIC_KEY_LEN = 1184
CIPHERTEXT_LEN = 1088
SHARED_SECRET_LEN = 32
SEED_LEN = 64
#: ML-KEM-1024's sizes (FIPS 203 Table 3); the seed and the shared secret are the same as above.
PUBLIC_KEY_LEN_1024 = 1568
CIPHERTEXT_LEN_1024 = 1568


class MLKEM768PublicKey:
    """An ML-KEM-768 encapsulation key. Immutable; compares by value."""

    __slots__ = ("_key", "raw")

    def __init__(self, key: mlkem.MLKEM768PublicKey) -> None:
        self._key = key
        #: The 1184-byte encoded key.
        self.raw: bytes = key.public_bytes_raw()

    @classmethod
    def from_bytes(cls, data: bytes) -> MLKEM768PublicKey:
        """Load an encoded key, running FIPS 203's modulus check. Raises :class:`CryptoError`."""
        if len(data) != PUBLIC_KEY_LEN:
            raise CryptoError("an ML-KEM-768 public key is 1184 bytes")
        try:
            return cls(mlkem.MLKEM768PublicKey.from_public_bytes(bytes(data)))
        except ValueError as exc:
            raise CryptoError("invalid ML-KEM-768 public key") from exc

    def encapsulate(self) -> tuple[bytes, bytes]:
        """Encapsulate: returns (shared_secret, ciphertext)."""
        return self._key.encapsulate()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MLKEM768PublicKey) and other.raw == self.raw

    def __hash__(self) -> int:
        return hash(self.raw)

    @property
    def pyca(self) -> mlkem.MLKEM768PublicKey:
        """The underlying pyca key, for the HPKE composition inside this package."""
        return self._key


class MLKEM768PrivateKey:
    """An ML-KEM-768 decapsulation key, held as its 64-byte seed."""

    __slots__ = ("_key", "_public")

    def __init__(self, key: mlkem.MLKEM768PrivateKey) -> None:
        self._key = key
        self._public = MLKEM768PublicKey(key.public_key())

    @classmethod
    def generate(cls) -> MLKEM768PrivateKey:
        """A fresh key from the operating system's CSPRNG."""
        return cls(mlkem.MLKEM768PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> MLKEM768PrivateKey:
        """Derive the key pair from a 64-byte seed ``d || z`` (FIPS 203 ML-KEM.KeyGen_internal)."""
        if len(seed) != SEED_LEN:
            raise CryptoError("an ML-KEM-768 seed is 64 bytes")
        return cls(mlkem.MLKEM768PrivateKey.from_seed_bytes(bytes(seed)))

    @property
    def seed(self) -> bytes:
        """The 64-byte seed."""
        return self._key.private_bytes_raw()

    def public_key(self) -> MLKEM768PublicKey:
        """The matching encapsulation key."""
        return self._public

    def decapsulate(self, ciphertext: bytes) -> bytes:
        """Decapsulate: returns the shared secret (implicit rejection gives a pseudorandom one)."""
        if len(ciphertext) != CIPHERTEXT_LEN:
            raise CryptoError("an ML-KEM-768 ciphertext is 1088 bytes")
        try:
            return self._key.decapsulate(bytes(ciphertext))
        except ValueError as exc:
            raise CryptoError("invalid ML-KEM-768 ciphertext") from exc

    @property
    def pyca(self) -> mlkem.MLKEM768PrivateKey:
        """The underlying pyca key, for the HPKE composition inside this package."""
        return self._key


class MLKEM1024PublicKey:
    """An ML-KEM-1024 encapsulation key. Immutable; compares by value."""

    __slots__ = ("_key", "raw")

    def __init__(self, key: mlkem.MLKEM1024PublicKey) -> None:
        self._key = key
        #: The 1568-byte encoded key.
        self.raw: bytes = key.public_bytes_raw()

    @classmethod
    def from_bytes(cls, data: bytes) -> MLKEM1024PublicKey:
        """Load an encoded key, running FIPS 203's modulus check. Raises :class:`CryptoError`."""
        if len(data) != PUBLIC_KEY_LEN_1024:
            raise CryptoError("an ML-KEM-1024 public key is 1568 bytes")
        try:
            return cls(mlkem.MLKEM1024PublicKey.from_public_bytes(bytes(data)))
        except ValueError as exc:
            raise CryptoError("invalid ML-KEM-1024 public key") from exc

    def encapsulate(self) -> tuple[bytes, bytes]:
        """Encapsulate: returns (shared_secret, ciphertext)."""
        return self._key.encapsulate()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MLKEM1024PublicKey) and other.raw == self.raw

    def __hash__(self) -> int:
        return hash(self.raw)

    @property
    def pyca(self) -> mlkem.MLKEM1024PublicKey:
        """The underlying pyca key, for compositions inside this package."""
        return self._key


class MLKEM1024PrivateKey:
    """An ML-KEM-1024 decapsulation key, held as its 64-byte seed."""

    __slots__ = ("_key", "_public")

    def __init__(self, key: mlkem.MLKEM1024PrivateKey) -> None:
        self._key = key
        self._public = MLKEM1024PublicKey(key.public_key())

    @classmethod
    def generate(cls) -> MLKEM1024PrivateKey:
        """A fresh key from the operating system's CSPRNG."""
        return cls(mlkem.MLKEM1024PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> MLKEM1024PrivateKey:
        """Derive the key pair from a 64-byte seed ``d || z`` (FIPS 203 ML-KEM.KeyGen_internal)."""
        if len(seed) != SEED_LEN:
            raise CryptoError("an ML-KEM-1024 seed is 64 bytes")
        return cls(mlkem.MLKEM1024PrivateKey.from_seed_bytes(bytes(seed)))

    @property
    def seed(self) -> bytes:
        """The 64-byte seed."""
        return self._key.private_bytes_raw()

    def public_key(self) -> MLKEM1024PublicKey:
        """The matching encapsulation key."""
        return self._public

    def decapsulate(self, ciphertext: bytes) -> bytes:
        """Decapsulate: returns the shared secret (implicit rejection gives a pseudorandom one)."""
        if len(ciphertext) != CIPHERTEXT_LEN_1024:
            raise CryptoError("an ML-KEM-1024 ciphertext is 1568 bytes")
        try:
            return self._key.decapsulate(bytes(ciphertext))
        except ValueError as exc:
            raise CryptoError("invalid ML-KEM-1024 ciphertext") from exc

    @property
    def pyca(self) -> mlkem.MLKEM1024PrivateKey:
        """The underlying pyca key, for compositions inside this package."""
        return self._key


class Kem(Protocol):
    """The KEM operations the ``hfs`` tokens need, so a deterministic one can be injected in tests."""

    #: Name used in the Noise protocol name, e.g. ``MLKEM768``.
    name: str
    public_key_len: int
    ciphertext_len: int

    def generate(self) -> tuple[bytes, bytes]:
        """Generate: returns (private_state, public_key_bytes)."""
        ...

    def encapsulate(self, public_key: bytes) -> tuple[bytes, bytes]:
        """Encapsulate to ``public_key``: returns (shared_secret, ciphertext)."""
        ...

    def decapsulate(self, private_state: bytes, ciphertext: bytes) -> bytes:
        """Decapsulate ``ciphertext``: returns the shared secret."""
        ...


_K = TypeVar("_K")

#: Keys a :class:`Kem` made and has not decapsulated with yet, at most this many per KEM object.
_MADE_KEYS = 8


def _remember(made: dict[bytes, _K], seed: bytes, key: _K) -> None:
    # the handshake keeps only the seed; deriving the key from it again to decapsulate costs as
    # much as making it (a tenth of a handshake), so the key made is kept until then
    if len(made) >= _MADE_KEYS:
        del made[next(iter(made))]
    made[seed] = key


class MLKEM768:
    """ML-KEM-768 as a :class:`Kem`, drawing randomness from the operating system."""

    name = "MLKEM768"
    public_key_len = PUBLIC_KEY_LEN
    ciphertext_len = CIPHERTEXT_LEN

    def __init__(self) -> None:
        self._made: dict[bytes, MLKEM768PrivateKey] = {}

    def generate(self) -> tuple[bytes, bytes]:
        key = MLKEM768PrivateKey.generate()
        _remember(self._made, key.seed, key)
        return key.seed, key.public_key().raw

    def encapsulate(self, public_key: bytes) -> tuple[bytes, bytes]:
        return MLKEM768PublicKey.from_bytes(public_key).encapsulate()

    def decapsulate(self, private_state: bytes, ciphertext: bytes) -> bytes:
        key = self._made.pop(bytes(private_state), None) or MLKEM768PrivateKey.from_seed(private_state)
        return key.decapsulate(ciphertext)


class MLKEM1024:
    """ML-KEM-1024 as a :class:`Kem`, drawing randomness from the operating system."""

    name = "MLKEM1024"
    public_key_len = PUBLIC_KEY_LEN_1024
    ciphertext_len = CIPHERTEXT_LEN_1024

    def __init__(self) -> None:
        self._made: dict[bytes, MLKEM1024PrivateKey] = {}

    def generate(self) -> tuple[bytes, bytes]:
        key = MLKEM1024PrivateKey.generate()
        _remember(self._made, key.seed, key)
        return key.seed, key.public_key().raw

    def encapsulate(self, public_key: bytes) -> tuple[bytes, bytes]:
        return MLKEM1024PublicKey.from_bytes(public_key).encapsulate()

    def decapsulate(self, private_state: bytes, ciphertext: bytes) -> bytes:
        key = self._made.pop(bytes(private_state), None) or MLKEM1024PrivateKey.from_seed(private_state)
        return key.decapsulate(ciphertext)


_KEMS: dict[str, type[MLKEM768] | type[MLKEM1024]] = {"MLKEM768": MLKEM768, "MLKEM1024": MLKEM1024}


def kem(name: str) -> Kem:
    """The KEM with this Noise name (``MLKEM768``, ``MLKEM1024``), drawing from the OS CSPRNG.

    Raises :class:`ValueError` for a KEM we do not have.
    """
    try:
        return _KEMS[name]()
    except KeyError:
        raise ValueError(f"unsupported KEM {name!r}") from None
