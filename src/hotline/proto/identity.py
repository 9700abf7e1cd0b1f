"""Station identities: the private keys a station holds, and the public half it shows the world.

A station identity is a name and the keys of each line profile (``docs/protocol.md`` §8.1).
The ``standard`` keys, which every identity has:

* an X25519 static key, the Noise ``s`` of every handshake (of both profiles);
* an ML-KEM-768 key, to which peers seal line keys (with the X25519 key, as HPKE's hybrid KEM);
* a hybrid signing key, Ed25519 + ML-DSA-65, which signs the station card and sealed line keys.

The ``cnsa2`` keys (:class:`Cnsa2Keys`), which an identity made before the profile existed lacks
until its station adds them (:meth:`Identity.with_cnsa2`):

* an ML-KEM-1024 key and a P-384 key, to which peers seal the line keys of ``cnsa2`` lines (HPKE's
  MLKEM1024-P384 KEM);
* an ML-DSA-87 key, which with the Ed25519 key above (one Ed25519 key serves both profiles, as
  :mod:`hotline.proto.suites` argues) signs for ``cnsa2`` lines.

This module owns the key material and the values every other module agrees on: the *key digest* of
each profile (BLAKE2s over the standard public keys; SHA-384, cut to 32 bytes, over the cnsa2 ones)
and the *fingerprint* read aloud (its first 20 bytes in base32). It knows nothing of cards,
endpoints or files: :mod:`hotline.proto.cards` and :mod:`hotline.proto.keyfile` build on it.

Randomness enters only in :meth:`Identity.generate` and :meth:`Cnsa2Parts.generate`, which draw
seeds through :mod:`hotline.crypto.random`; :meth:`Identity.from_parts` takes them; tests call it.
"""

from __future__ import annotations

import base64
import unicodedata
from dataclasses import dataclass
from typing import NamedTuple

from hotline.crypto import p384
from hotline.crypto.hashing import blake2s, constant_time_equal, digest
from hotline.crypto.mlkem import SEED_LEN as KEM_SEED_LEN
from hotline.crypto.mlkem import (
    MLKEM768PrivateKey,
    MLKEM768PublicKey,
    MLKEM1024PrivateKey,
    MLKEM1024PublicKey,
)
from hotline.crypto.p384 import P384PrivateKey, P384PublicKey
from hotline.crypto.random import random_bytes
from hotline.crypto.sign import (
    ED25519_PUBLIC_LEN,
    Hybrid87SigningKey,
    Hybrid87VerifyKey,
    HybridSigningKey,
    HybridVerifyKey,
)
from hotline.crypto.sign import SEED_LEN as SIGNING_SEED_LEN
from hotline.crypto.x25519 import KEY_LEN as STATIC_KEY_LEN
from hotline.crypto.x25519 import X25519PrivateKey, X25519PublicKey
from hotline.proto.identity_errors import IdentityError
from hotline.proto.suites import ProfileName

#: The longest station name, in characters.
NAME_MAX_LEN = 64
#: Length of the key digest (a full BLAKE2s output).
KEY_DIGEST_LEN = 32
#: Length of the fingerprint: the first 20 bytes (160 bits) of the key digest.
FINGERPRINT_LEN = 20

#: Length of the ML-DSA-87 seed ``xi`` an identity keeps (its Ed25519 half is the standard key's).
MLDSA87_SEED_LEN = 32

# Domain separation for the key digests; the keys have fixed lengths, so plain concatenation after
# the label is unambiguous, and the two labels keep a standard digest from ever equalling a cnsa2 one.
_KEY_DIGEST_LABEL = b"hotline station keys v1"
_CNSA2_KEY_DIGEST_LABEL = b"hotline station keys cnsa2 v1"

__all__ = [
    "FINGERPRINT_LEN",
    "KEY_DIGEST_LEN",
    "MLDSA87_SEED_LEN",
    "NAME_MAX_LEN",
    "Cnsa2Keys",
    "Cnsa2Parts",
    "Cnsa2PublicKeys",
    "Fingerprint",
    "Identity",
    "PublicIdentity",
    "cnsa2_key_digest",
    "key_digest",
    "missing_profile",
    "station_name_problem",
    "text_problem",
]


def text_problem(text: object, *, what: str, max_len: int) -> str | None:
    """Why ``text`` is not acceptable as a short human label (a station name, a line label), or None.

    The rules keep labels printable and unambiguous on screen: 1 to ``max_len`` characters, Unicode
    NFC form, no control, format or private-use characters (which hide text or reorder it), no
    separator other than the plain space, and no space at either end.
    """
    if not isinstance(text, str):
        return f"{what} is not text"
    if not text:
        return f"{what} is empty"
    if len(text) > max_len:
        return f"{what} is longer than {max_len} characters"
    if unicodedata.normalize("NFC", text) != text:
        return f"{what} is not in Unicode NFC form"
    if text != text.strip():
        return f"{what} starts or ends with a space"
    for char in text:
        category = unicodedata.category(char)
        if category[0] == "C" or (category[0] == "Z" and char != " "):
            return f"{what} contains an invisible or control character (U+{ord(char):04X})"
    return None


def station_name_problem(name: object) -> str | None:
    """Why ``name`` is not a valid station name, or None when it is."""
    return text_problem(name, what="the station name", max_len=NAME_MAX_LEN)


def key_digest(static: X25519PublicKey, kem: MLKEM768PublicKey, verify: HybridVerifyKey) -> bytes:
    """The 32-byte ``standard`` key digest of a station's three public keys (fingerprint and safety
    numbers)."""
    return blake2s(_KEY_DIGEST_LABEL + static.raw + kem.raw + verify.raw)


def cnsa2_key_digest(static: X25519PublicKey, keys: Cnsa2PublicKeys) -> bytes:
    """The 32-byte ``cnsa2`` key digest: SHA-384 over the label, the X25519, ML-KEM-1024 and P-384
    keys and the Ed25519 + ML-DSA-87 verify key, cut to its first 32 bytes."""
    data = _CNSA2_KEY_DIGEST_LABEL + static.raw + keys.kem_public.raw + keys.seal_public.raw
    return digest("SHA384", data + keys.verify_key.raw)[:KEY_DIGEST_LEN]


def missing_profile(name: str, profile: str) -> str:
    """The reason given when the station ``name`` holds no keys for ``profile``."""
    if profile == "cnsa2":
        return (
            f"the station {name!r} holds no cnsa2 keys (its keys predate the cnsa2 profile): "
            "it needs a newer station, which adds them, and a new card"
        )
    return f"there is no line profile {profile!r}"


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """A station fingerprint: 20 bytes, shown as eight groups of four base32 characters.

    It identifies a station's keys (not its name or endpoints), so it changes exactly when the keys
    do. 160 bits keep a second-preimage search out of reach while staying short enough to read aloud.
    """

    #: The 20 bytes.
    raw: bytes

    def __post_init__(self) -> None:
        if len(self.raw) != FINGERPRINT_LEN:
            raise ValueError("a fingerprint is 20 bytes")

    @classmethod
    def parse(cls, text: str) -> Fingerprint:
        """Read a fingerprint typed back in: any case, spaces and hyphens ignored.

        Raises:
            ValueError: the text is not 32 base32 characters.
        """
        compact = "".join(text.split()).replace("-", "").upper()
        if len(compact) != 32 or not compact.isascii():
            raise ValueError("a fingerprint is 32 base32 characters")
        try:
            return cls(base64.b32decode(compact))
        except ValueError as exc:  # binascii.Error is a ValueError
            raise ValueError("a fingerprint is 32 base32 characters") from exc

    def __str__(self) -> str:
        text = base64.b32encode(self.raw).decode("ascii")
        return " ".join(text[i : i + 4] for i in range(0, len(text), 4))

    def __repr__(self) -> str:
        return f"Fingerprint('{self}')"


@dataclass(frozen=True, slots=True)
class Cnsa2PublicKeys:
    """The public keys a station holds for ``cnsa2`` lines. Immutable; compares by value."""

    #: The ML-KEM-1024 key that cnsa2 line keys are sealed to.
    kem_public: MLKEM1024PublicKey
    #: The P-384 key that cnsa2 line keys are sealed to (with ``kem_public``).
    seal_public: P384PublicKey
    #: The hybrid Ed25519 + ML-DSA-87 verify key; its Ed25519 half is the standard verify key's.
    verify_key: Hybrid87VerifyKey


class Cnsa2Parts(NamedTuple):
    """The secret parts of an identity's ``cnsa2`` keys, as a key file stores them."""

    #: The 64-byte ML-KEM-1024 seed ``d || z``.
    kem_seed: bytes
    #: The 48-byte P-384 scalar.
    seal_key: bytes
    #: The 32-byte ML-DSA-87 seed ``xi``.
    mldsa_seed: bytes

    @classmethod
    def generate(cls) -> Cnsa2Parts:
        """Fresh parts from the operating system's CSPRNG (through :mod:`hotline.crypto.random`)."""
        seal_key = random_bytes(p384.PRIVATE_KEY_LEN)
        while not p384.is_private_key(seal_key):  # probability below 2^-189; kept for correctness
            seal_key = random_bytes(p384.PRIVATE_KEY_LEN)
        return cls(random_bytes(KEM_SEED_LEN), seal_key, random_bytes(MLDSA87_SEED_LEN))


class Cnsa2Keys:
    """The private keys an identity holds for ``cnsa2`` lines."""

    __slots__ = ("kem_key", "public", "seal_key", "signing_key")

    def __init__(
        self, kem_key: MLKEM1024PrivateKey, seal_key: P384PrivateKey, signing_key: Hybrid87SigningKey
    ):
        #: The ML-KEM-1024 private key.
        self.kem_key = kem_key
        #: The P-384 private key.
        self.seal_key = seal_key
        #: The hybrid Ed25519 + ML-DSA-87 signing key (the Ed25519 half is the standard one's).
        self.signing_key = signing_key
        #: The matching public keys.
        self.public = Cnsa2PublicKeys(kem_key.public_key(), seal_key.public_key(), signing_key.public_key())

    @classmethod
    def from_parts(cls, parts: Cnsa2Parts, *, signing_seed: bytes) -> Cnsa2Keys:
        """Load ``parts``; ``signing_seed`` is the identity's standard signing seed (its Ed25519 half).

        Raises:
            IdentityError: a part has the wrong length or is not a valid key.
        """
        kem_seed, seal_key, mldsa_seed = parts
        if (len(kem_seed), len(seal_key), len(mldsa_seed)) != (
            KEM_SEED_LEN,
            p384.PRIVATE_KEY_LEN,
            MLDSA87_SEED_LEN,
        ):
            raise IdentityError("cnsa2 key material has the wrong length")
        if not p384.is_private_key(seal_key):
            raise IdentityError("the cnsa2 P-384 key is not a valid scalar")
        return cls(
            MLKEM1024PrivateKey.from_seed(kem_seed),
            P384PrivateKey.from_bytes(seal_key),
            Hybrid87SigningKey.from_seed(signing_seed[:32] + mldsa_seed),
        )

    @property
    def parts(self) -> Cnsa2Parts:
        """The secret parts, the inverse of :meth:`from_parts`."""
        return Cnsa2Parts(self.kem_key.seed, self.seal_key.raw, self.signing_key.seed[32:])


@dataclass(frozen=True, slots=True)
class PublicIdentity:
    """The public half of a station identity: its name and public keys. Immutable."""

    #: The station's name, as operators see it.
    name: str
    #: The X25519 static key (Noise ``s``).
    static_public: X25519PublicKey
    #: The ML-KEM-768 key that line keys are sealed to.
    kem_public: MLKEM768PublicKey
    #: The hybrid Ed25519 + ML-DSA-65 verify key.
    verify_key: HybridVerifyKey
    #: The cnsa2 public keys, or None for a station that holds none (a version 1 card).
    cnsa2: Cnsa2PublicKeys | None = None

    def __post_init__(self) -> None:
        problem = station_name_problem(self.name)
        if problem is not None:
            raise IdentityError(problem)
        ed25519 = self.verify_key.raw[:ED25519_PUBLIC_LEN]
        if self.cnsa2 is not None and self.cnsa2.verify_key.raw[:ED25519_PUBLIC_LEN] != ed25519:
            raise IdentityError("the cnsa2 verify key does not share the standard one's Ed25519 key")

    @property
    def profiles(self) -> tuple[ProfileName, ...]:
        """The line profiles this station holds keys for: ``standard``, and ``cnsa2`` if it has them."""
        return ("standard", "cnsa2") if self.cnsa2 is not None else ("standard",)

    def cnsa2_keys(self) -> Cnsa2PublicKeys:
        """The cnsa2 public keys.

        Raises:
            IdentityError: the station holds none.
        """
        if self.cnsa2 is None:
            raise IdentityError(missing_profile(self.name, "cnsa2"))
        return self.cnsa2

    @property
    def key_digest(self) -> bytes:
        """The ``standard`` key digest: BLAKE2s over the three standard public keys (:func:`key_digest`)."""
        return key_digest(self.static_public, self.kem_public, self.verify_key)

    @property
    def fingerprint(self) -> Fingerprint:
        """The ``standard`` fingerprint to read aloud."""
        return Fingerprint(self.key_digest[:FINGERPRINT_LEN])

    def key_digest_for(self, profile: str) -> bytes:
        """The key digest of ``profile`` (:func:`key_digest`, :func:`cnsa2_key_digest`).

        Raises:
            IdentityError: the profile does not exist, or the station holds no keys for it.
        """
        if profile == "standard":
            return self.key_digest
        if profile == "cnsa2":
            return cnsa2_key_digest(self.static_public, self.cnsa2_keys())
        raise IdentityError(missing_profile(self.name, profile))

    def fingerprint_for(self, profile: str) -> Fingerprint:
        """The fingerprint of ``profile``: the first 20 bytes of its key digest.

        Raises:
            IdentityError: as :meth:`key_digest_for`.
        """
        return Fingerprint(self.key_digest_for(profile)[:FINGERPRINT_LEN])


class Identity:
    """A station's name and private keys. Immutable; compares by value, in constant time.

    Hold it in memory only; on disk it lives encrypted (:mod:`hotline.proto.keyfile`). Its ``repr``
    shows the name and fingerprint, never key material.
    """

    __slots__ = ("_public", "cnsa2", "kem_key", "name", "signing_key", "static_key")

    def __init__(
        self,
        name: str,
        static_key: X25519PrivateKey,
        kem_key: MLKEM768PrivateKey,
        signing_key: HybridSigningKey,
        cnsa2: Cnsa2Keys | None = None,
    ) -> None:
        """Assemble an identity from loaded keys.

        Raises:
            IdentityError: ``name`` is not a valid station name (see :func:`station_name_problem`), or
                the cnsa2 signing key's Ed25519 half is not ``signing_key``'s.
        """
        #: The station's name.
        self.name = name
        #: The X25519 static private key (Noise ``s``).
        self.static_key = static_key
        #: The ML-KEM-768 private key.
        self.kem_key = kem_key
        #: The hybrid Ed25519 + ML-DSA-65 signing key.
        self.signing_key = signing_key
        #: The cnsa2 private keys, or None for an identity that has none yet.
        self.cnsa2 = cnsa2
        self._public = PublicIdentity(
            name,
            static_key.public_key(),
            kem_key.public_key(),
            signing_key.public_key(),
            None if cnsa2 is None else cnsa2.public,
        )

    @classmethod
    def generate(cls, name: str) -> Identity:
        """A new identity with fresh keys for every profile, from the operating system's CSPRNG.

        Raises:
            IdentityError: ``name`` is not a valid station name.
        """
        problem = station_name_problem(name)
        if problem is not None:
            raise IdentityError(problem)
        return cls.from_parts(
            name,
            static_key=random_bytes(STATIC_KEY_LEN),
            kem_seed=random_bytes(KEM_SEED_LEN),
            signing_seed=random_bytes(SIGNING_SEED_LEN),
            cnsa2=Cnsa2Parts.generate(),
        )

    @classmethod
    def from_parts(
        cls,
        name: str,
        *,
        static_key: bytes,
        kem_seed: bytes,
        signing_seed: bytes,
        cnsa2: Cnsa2Parts | tuple[bytes, bytes, bytes] | None = None,
    ) -> Identity:
        """Rebuild an identity from its secret parts (what a key file stores; what tests pin).

        Args:
            name: the station name.
            static_key: the 32-byte X25519 private key.
            kem_seed: the 64-byte ML-KEM-768 seed ``d || z``.
            signing_seed: the 64-byte hybrid signing seed (Ed25519's 32 bytes, then ML-DSA-65's).
            cnsa2: the cnsa2 parts (see :class:`Cnsa2Parts`), or None for an identity without them.

        Raises:
            IdentityError: a part has the wrong length or is invalid, or the name is not valid.
        """
        if (len(static_key), len(kem_seed), len(signing_seed)) != (
            STATIC_KEY_LEN,
            KEM_SEED_LEN,
            SIGNING_SEED_LEN,
        ):
            raise IdentityError("identity key material has the wrong length")
        return cls(
            name,
            X25519PrivateKey.from_bytes(static_key),
            MLKEM768PrivateKey.from_seed(kem_seed),
            HybridSigningKey.from_seed(signing_seed),
            None if cnsa2 is None else Cnsa2Keys.from_parts(Cnsa2Parts(*cnsa2), signing_seed=signing_seed),
        )

    def with_cnsa2(self, parts: Cnsa2Parts | tuple[bytes, bytes, bytes]) -> Identity:
        """This identity with the cnsa2 keys of ``parts`` (:meth:`Cnsa2Parts.generate` draws fresh ones).

        A station whose key file predates the cnsa2 profile calls this once and seals the result
        again (:func:`hotline.proto.keyfile.seal_identity` then writes key file version 2). The
        standard keys, and so :attr:`secret_parts`, the standard key digest and every safety number
        of a standard line, stay exactly as they were.

        Raises:
            IdentityError: it has cnsa2 keys already, or ``parts`` are invalid.
        """
        if self.cnsa2 is not None:
            raise IdentityError("this identity holds cnsa2 keys already")
        static_key, kem_seed, signing_seed = self.secret_parts
        return Identity.from_parts(
            self.name, static_key=static_key, kem_seed=kem_seed, signing_seed=signing_seed, cnsa2=parts
        )

    @property
    def secret_parts(self) -> tuple[bytes, bytes, bytes]:
        """``(static_key, kem_seed, signing_seed)``: the standard parts only, the inverse of
        :meth:`from_parts` without ``cnsa2``. The station's store key is derived from exactly these,
        so they never change when cnsa2 keys are added (:attr:`cnsa2_parts` holds those)."""
        return self.static_key.raw, self.kem_key.seed, self.signing_key.seed

    @property
    def cnsa2_parts(self) -> Cnsa2Parts | None:
        """The cnsa2 secret parts, or None for an identity without cnsa2 keys."""
        return None if self.cnsa2 is None else self.cnsa2.parts

    @property
    def profiles(self) -> tuple[ProfileName, ...]:
        """The line profiles this identity holds keys for."""
        return self._public.profiles

    def cnsa2_keys(self) -> Cnsa2Keys:
        """The cnsa2 private keys.

        Raises:
            IdentityError: the identity holds none.
        """
        if self.cnsa2 is None:
            raise IdentityError(missing_profile(self.name, "cnsa2"))
        return self.cnsa2

    def public(self) -> PublicIdentity:
        """The public half: name and public keys."""
        return self._public

    @property
    def key_digest(self) -> bytes:
        """The standard key digest of the public half."""
        return self._public.key_digest

    @property
    def fingerprint(self) -> Fingerprint:
        """The standard fingerprint of the public half."""
        return self._public.fingerprint

    def key_digest_for(self, profile: str) -> bytes:
        """The key digest of ``profile``; see :meth:`PublicIdentity.key_digest_for`."""
        return self._public.key_digest_for(profile)

    def fingerprint_for(self, profile: str) -> Fingerprint:
        """The fingerprint of ``profile``; see :meth:`PublicIdentity.fingerprint_for`."""
        return self._public.fingerprint_for(profile)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Identity):
            return NotImplemented
        ours, theirs = self.cnsa2_parts, other.cnsa2_parts
        if (ours is None) != (theirs is None):
            return False
        return self.name == other.name and constant_time_equal(
            b"".join(self.secret_parts + (ours or ())), b"".join(other.secret_parts + (theirs or ()))
        )

    def __repr__(self) -> str:
        return f"Identity(name={self.name!r}, fingerprint='{self.fingerprint}')"
