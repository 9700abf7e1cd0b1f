"""Safety numbers: what two operators compare over a trusted channel before a line is verified.

The safety number of a line is a function of the line's profile and the two stations' keys for it,
and of nothing else: not of which station computes it, nor of names, endpoints or times
(``docs/protocol.md`` §8.4). Both stations show the same value, as 60 digits in 12 groups of five
(the Signal convention) and as 24 words from our own list (:mod:`hotline.proto.wordlist`); either
form confirms the line.

Derivation, with ``lo`` and ``hi`` the two stations' 32-byte key digests *of the line's profile* in
byte order. A ``standard`` line (unchanged since the first version)::

    h1 = BLAKE2s("hotline safety number v1" || lo || hi)
    h2 = BLAKE2s(h1 || lo || hi)
    material = h1 || h2                                   # 64 bytes

A ``cnsa2`` line, over the cnsa2 key digests, with SHA-384 in place of BLAKE2s::

    h1 = SHA-384("hotline safety number cnsa2 v1" || lo || hi)
    h2 = SHA-384(h1 || lo || hi)
    material = (h1 || h2)[0:64]

Then, for both::

    group i  = u40be(material[5i : 5i+5]) mod 100000,     # i = 0..11, five digits each
    word j   = WORDS[material[j]]                         # j = 0..23

The two profiles' digests, labels and hashes differ, so the two safety numbers of one pair of
stations are unrelated: operators compare the one of the line they are verifying.

Sorting the digests is what makes the number order-independent. Why these sizes: a man in the middle
must find keys ``M1, M2`` with ``safety(A, M1) == safety(M2, B)``, a collision search, so an n-bit
number gives about n/2 bits of work. 60 digits carry 199 bits and 24 words 192, both far beyond a
collision search even when each attempt is only a hash. (Signal iterates its hash 5200 times because
each of its halves is only 30 digits; our two halves are not separable, so we do not.) The reduction
of 40 bits mod 10**5 is biased by less than 2**-23 per group, which costs nothing measurable.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hotline.crypto.hashing import blake2s, constant_time_equal, digest
from hotline.proto.cards import StationCard
from hotline.proto.identity import KEY_DIGEST_LEN, PublicIdentity
from hotline.proto.identity_errors import IdentityError
from hotline.proto.wordlist import WORDS

#: Groups of digits shown.
DIGIT_GROUPS = 12
#: Digits per group.
GROUP_DIGITS = 5
#: Words shown.
WORD_COUNT = 24

_LABEL = b"hotline safety number v1"
_CNSA2_LABEL = b"hotline safety number cnsa2 v1"
_CHUNK = 5

__all__ = ["DIGIT_GROUPS", "GROUP_DIGITS", "WORD_COUNT", "SafetyNumber", "safety_number"]


@dataclass(frozen=True, slots=True)
class SafetyNumber:
    """The safety number of a line, one value shown two ways. Immutable; compares by value."""

    #: The 64 bytes both forms are read from.
    material: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.material) != 64:
            raise ValueError("safety number material is 64 bytes")

    @property
    def groups(self) -> tuple[str, ...]:
        """The twelve five-digit groups, zero-padded."""
        return tuple(
            f"{int.from_bytes(self.material[i * _CHUNK : (i + 1) * _CHUNK], 'big') % 10**GROUP_DIGITS:05d}"
            for i in range(DIGIT_GROUPS)
        )

    @property
    def digits(self) -> str:
        """The number as shown: ``"12345 67890 ..."`` (12 groups of 5, single spaces)."""
        return " ".join(self.groups)

    @property
    def words(self) -> tuple[str, ...]:
        """The 24 words, in order."""
        return tuple(WORDS[byte] for byte in self.material[:WORD_COUNT])

    def matches(self, text: str) -> bool:
        """Whether ``text``, as an operator typed it back, is this safety number.

        Digits may be grouped any way (spaces, hyphens, line breaks are ignored); words may use any
        case and be separated by spaces, commas or hyphens. Either form is accepted whole; a partial
        match is no match. The comparison is constant-time.
        """
        tokens = text.replace(",", " ").replace("-", " ").lower().split()
        joined = "".join(tokens)
        if joined.isascii() and joined.isdigit():
            return constant_time_equal(joined.encode(), "".join(self.groups).encode())
        if not joined.isascii():
            return False
        return constant_time_equal(" ".join(tokens).encode(), " ".join(self.words).encode())

    def __str__(self) -> str:
        return self.digits

    def __repr__(self) -> str:
        return f"SafetyNumber('{self.digits}')"


def _digest_of(party: StationCard | PublicIdentity, profile: str) -> bytes:
    digest = party.key_digest_for(profile)
    assert len(digest) == KEY_DIGEST_LEN
    return digest


def safety_number(
    a: StationCard | PublicIdentity, b: StationCard | PublicIdentity, profile: str = "standard"
) -> SafetyNumber:
    """The safety number of the ``profile`` line between the stations ``a`` and ``b``; symmetric in them.

    Args:
        a: one station's card (or public identity).
        b: the other's.
        profile: the line's profile, ``standard`` (the default) or ``cnsa2``.

    Raises:
        IdentityError: the profile does not exist, or a station holds no keys for it (a
            :class:`~hotline.proto.identity_errors.CardError` for a version 1 card asked for cnsa2).
    """
    lo, hi = sorted((_digest_of(a, profile), _digest_of(b, profile)))
    # iterate the hash until there is enough material
    if profile == "standard":
        h1 = blake2s(_LABEL + lo + hi)
        h2 = blake2s(h1 + lo + hi)
        return SafetyNumber(h1 + h2)
    if profile == "cnsa2":
        h1 = digest("SHA384", _CNSA2_LABEL + lo + hi)
        h2 = digest("SHA384", h1 + lo + hi)
        return SafetyNumber((h1 + h2)[:64])
    raise IdentityError(f"no line profile {profile!r}")  # pragma: no cover - key_digest_for refused it
