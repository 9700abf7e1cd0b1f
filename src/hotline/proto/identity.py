"""Station identities: the private keys a station holds, and the public half it shows the world.

A station identity is a name and three keys (``docs/protocol.md`` §8):

* an X25519 static key, the Noise ``s`` of every handshake;
* an ML-KEM-768 key, to which peers seal line keys (with the X25519 key, as HPKE's hybrid KEM);
* a hybrid signing key, Ed25519 + ML-DSA-65, which signs the station card and sealed line keys.

This module owns the key material and two derived values every other module agrees on: the *key
digest* (BLAKE2s over the three public keys in a fixed order) and the *fingerprint* read aloud (its
first 20 bytes in base32). It knows nothing of cards, endpoints or files: :mod:`hotline.proto.cards`
and :mod:`hotline.proto.keyfile` build on it.

Randomness enters only in :meth:`Identity.generate`, which draws seeds through
:mod:`hotline.crypto.random` and hands them to :meth:`Identity.from_parts`; tests call the latter.
"""

from __future__ import annotations

import base64
import unicodedata
from dataclasses import dataclass

from hotline.crypto.hashing import blake2s, constant_time_equal
from hotline.crypto.mlkem import SEED_LEN as KEM_SEED_LEN
from hotline.crypto.mlkem import MLKEM768PrivateKey, MLKEM768PublicKey
from hotline.crypto.random import random_bytes
from hotline.crypto.sign import SEED_LEN as SIGNING_SEED_LEN
from hotline.crypto.sign import HybridSigningKey, HybridVerifyKey
from hotline.crypto.x25519 import KEY_LEN as STATIC_KEY_LEN
from hotline.crypto.x25519 import X25519PrivateKey, X25519PublicKey
from hotline.proto.identity_errors import IdentityError

#: The longest station name, in characters.
NAME_MAX_LEN = 64
#: Length of the key digest (a full BLAKE2s output).
KEY_DIGEST_LEN = 32
#: Length of the fingerprint: the first 20 bytes (160 bits) of the key digest.
FINGERPRINT_LEN = 20

# Domain separation for the key digest; the three keys have fixed lengths, so plain concatenation
# after the label is unambiguous.
_KEY_DIGEST_LABEL = b"hotline station keys v1"

__all__ = [
    "FINGERPRINT_LEN",
    "KEY_DIGEST_LEN",
    "NAME_MAX_LEN",
    "Fingerprint",
    "Identity",
    "PublicIdentity",
    "key_digest",
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
    """The 32-byte key digest of a station's three public keys (fingerprint and safety numbers)."""
    return blake2s(_KEY_DIGEST_LABEL + static.raw + kem.raw + verify.raw)


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
class PublicIdentity:
    """The public half of a station identity: its name and three public keys. Immutable."""

    #: The station's name, as operators see it.
    name: str
    #: The X25519 static key (Noise ``s``).
    static_public: X25519PublicKey
    #: The ML-KEM-768 key that line keys are sealed to.
    kem_public: MLKEM768PublicKey
    #: The hybrid Ed25519 + ML-DSA-65 verify key.
    verify_key: HybridVerifyKey

    def __post_init__(self) -> None:
        problem = station_name_problem(self.name)
        if problem is not None:
            raise IdentityError(problem)

    @property
    def key_digest(self) -> bytes:
        """BLAKE2s over the three public keys; see :func:`key_digest`."""
        return key_digest(self.static_public, self.kem_public, self.verify_key)

    @property
    def fingerprint(self) -> Fingerprint:
        """The fingerprint to read aloud."""
        return Fingerprint(self.key_digest[:FINGERPRINT_LEN])


class Identity:
    """A station's name and private keys. Immutable; compares by value, in constant time.

    Hold it in memory only; on disk it lives encrypted (:mod:`hotline.proto.keyfile`). Its ``repr``
    shows the name and fingerprint, never key material.
    """

    __slots__ = ("_public", "kem_key", "name", "signing_key", "static_key")

    def __init__(
        self,
        name: str,
        static_key: X25519PrivateKey,
        kem_key: MLKEM768PrivateKey,
        signing_key: HybridSigningKey,
    ) -> None:
        """Assemble an identity from loaded keys.

        Raises:
            IdentityError: ``name`` is not a valid station name (see :func:`station_name_problem`).
        """
        #: The station's name.
        self.name = name
        #: The X25519 static private key (Noise ``s``).
        self.static_key = static_key
        #: The ML-KEM-768 private key.
        self.kem_key = kem_key
        #: The hybrid Ed25519 + ML-DSA-65 signing key.
        self.signing_key = signing_key
        self._public = PublicIdentity(
            name, static_key.public_key(), kem_key.public_key(), signing_key.public_key()
        )

    @classmethod
    def generate(cls, name: str) -> Identity:
        """A new identity with fresh keys from the operating system's CSPRNG.

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
        )

    @classmethod
    def from_parts(cls, name: str, *, static_key: bytes, kem_seed: bytes, signing_seed: bytes) -> Identity:
        """Rebuild an identity from its secret parts (what a key file stores; what tests pin).

        Args:
            name: the station name.
            static_key: the 32-byte X25519 private key.
            kem_seed: the 64-byte ML-KEM-768 seed ``d || z``.
            signing_seed: the 64-byte hybrid signing seed (Ed25519's 32 bytes, then ML-DSA-65's).

        Raises:
            IdentityError: a part has the wrong length, or the name is not valid.
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
        )

    @property
    def secret_parts(self) -> tuple[bytes, bytes, bytes]:
        """``(static_key, kem_seed, signing_seed)``, the inverse of :meth:`from_parts`."""
        return self.static_key.raw, self.kem_key.seed, self.signing_key.seed

    def public(self) -> PublicIdentity:
        """The public half: name and public keys."""
        return self._public

    @property
    def key_digest(self) -> bytes:
        """The key digest of the public half."""
        return self._public.key_digest

    @property
    def fingerprint(self) -> Fingerprint:
        """The fingerprint of the public half."""
        return self._public.fingerprint

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Identity):
            return NotImplemented
        return self.name == other.name and constant_time_equal(
            b"".join(self.secret_parts), b"".join(other.secret_parts)
        )

    def __repr__(self) -> str:
        return f"Identity(name={self.name!r}, fingerprint='{self.fingerprint}')"
