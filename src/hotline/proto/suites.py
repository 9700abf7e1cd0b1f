"""Line profiles: the two fixed sets of primitives a line can run, ``standard`` and ``cnsa2``.

A line's profile is chosen when the line is made and is the same at both ends. Everything about it
is in its :class:`Suite`: the Noise protocol name (bound into the handshake hash, so two ends with
different profiles simply fail to complete a handshake; nothing is negotiated, nothing can be
downgraded), the AEAD of records, media and documents at rest, the document hash, the hash of the
keyed checks around the handshake, and the hybrid signature of what the line signs.

``standard`` (the default) is today's line, unchanged:
    X25519 + ML-KEM-768 in ``Noise_IKpsk2+hfs_25519+MLKEM768_ChaChaPoly_BLAKE2s``,
    ChaCha20-Poly1305 for records (constant time in software, fast without AES hardware), BLAKE3
    for documents, keyed BLAKE2s for the initiation MAC, Ed25519 + ML-DSA-65 signatures.

``cnsa2`` is *aligned with* NSA's CNSA 2.0 (never "compliant": no validated module is involved):
every primitive on the line's path is from the CNSA 2.0 list at its highest parameter set, except
the classical halves kept as hedges (below):
    X25519 + ML-KEM-1024 in ``Noise_IKpsk2+hfs_25519+MLKEM1024_AESGCM_SHA512``, AES-256-GCM for
    records, SHA-384 for documents, HMAC-SHA-384 for the initiation MAC, Ed25519 + ML-DSA-87
    signatures.

Why the classical halves stay, and why they are X25519 and Ed25519:
    CNSA 2.0 lists no classical key exchange and no classical signature; it would accept ML-KEM-1024
    and ML-DSA-87 alone. We keep each one hybrid, as ``standard`` is, because ML-KEM and ML-DSA are
    young (in the mathematics and, more to the point, in implementations): a flaw found in either
    then leaves the line as strong as X25519/Ed25519, not open. The compositions are "both must
    hold" (the Noise chaining key mixes both secrets; a hybrid signature verifies only if both halves
    do), so the classical half never weakens the post-quantum one. X25519 rather than ECDH P-384 (the
    CNSA 1.0 curve): the hedge only has to be sound, not listed; X25519 is the Noise DH both profiles
    already run and that the 25519 test vectors pin, it has no invalid-point checks to get wrong, and
    keeping it leaves a station with one static DH key for both profiles. P-384 would buy "every
    algorithm is on an NSA list" (CNSA 1.0) at the price of a DH Noise does not define (``448`` is
    the only other), so no third-party vectors, a new key type in identities and cards, and slower
    handshakes. Ed25519 beside ML-DSA-87 is the same choice: 64 bytes next to 4627, and the
    identity's Ed25519 key serves both profiles.

Why SHA512 in the Noise name and SHA-384 for documents:
    Noise defines SHA512 but not SHA384, and HKDF/HMAC over SHA-512 are on CNSA 2.0's list; a
    document hash is published (card-checked, shown to people) and SHA-384 is CNSA 2.0's named hash,
    at the same speed as SHA-512 on 64-bit machines and with a shorter digest.

A session follows its line's suite end to end (docs/protocol.md §3.8): the handshake and every
rekey, the records (the AEAD of the Noise split), the transcript hash chain
(:mod:`hotline.proto.delivery`, keyed with :attr:`Suite.mac_hash`), each call's own key exchange
(:mod:`hotline.proto.callkeys`: :attr:`Suite.kem_name` and :attr:`Suite.call_hash`) and its media
(:mod:`hotline.proto.media`: :attr:`Suite.aead`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Literal

from hotline.crypto.aead import Aead, AeadName, aead
from hotline.crypto.hashing import DigestName, HasherName, HashName
from hotline.crypto.mlkem import Kem
from hotline.crypto.mlkem import kem as kem_by_name
from hotline.proto.constants import PROTOCOL_NAME
from hotline.proto.noise import NoiseProtocol

#: The profile names, as an operator writes them (``line add --profile``).
ProfileName = Literal["standard", "cnsa2"]
#: The hybrid signature schemes.
SignatureName = Literal["Ed25519+ML-DSA-65", "Ed25519+ML-DSA-87"]


@cache
def _parse(name: str) -> NoiseProtocol:
    return NoiseProtocol.from_name(name)


@dataclass(frozen=True, slots=True)
class Suite:
    """Everything a line profile fixes. Immutable; compare by value."""

    #: The profile's name.
    profile: ProfileName
    #: The full Noise protocol name of the line's handshakes (docs/protocol.md §3.1).
    protocol_name: str
    #: AEAD of transport records, call media and documents at rest (a Noise cipher name).
    record_aead: AeadName
    #: Hash of whole documents.
    document_hash: HasherName
    #: Keyed hash of the line's path: the initiation MAC and the transcript hash chain (keyed
    #: BLAKE2s for ``BLAKE2s``, else HMAC truncated to the output the field has).
    mac_hash: DigestName
    #: Hybrid signature over what the line signs (cards, sealed line keys).
    signature: SignatureName
    #: Hash of a call's key exchange: its commitment, its transcript and the HKDF of its keys.
    call_hash: DigestName

    def __post_init__(self) -> None:
        protocol = _parse(self.protocol_name)  # raises ValueError for a name we cannot run
        if protocol.kem is None or protocol.pattern.name != "IKpsk2+hfs":
            raise ValueError(f"a line handshake is IKpsk2+hfs with a KEM: {self.protocol_name}")
        aead(self.record_aead)

    @property
    def noise(self) -> NoiseProtocol:
        """The parsed protocol name."""
        return _parse(self.protocol_name)

    @property
    def kem_name(self) -> str:
        """The KEM behind ``hfs`` (``MLKEM768``, ``MLKEM1024``)."""
        kem = self.noise.kem
        assert kem is not None  # checked in __post_init__
        return kem

    def kem(self) -> Kem:
        """The KEM, drawing randomness from the operating system."""
        return kem_by_name(self.kem_name)

    @property
    def noise_hash(self) -> HashName:
        """The hash of Noise's HMAC, HKDF and handshake hash."""
        return self.noise.hash

    @property
    def noise_aead(self) -> Aead:
        """The AEAD of the handshake's encrypted fields."""
        return self.noise.aead

    @property
    def aead(self) -> Aead:
        """The AEAD of records, media and documents at rest."""
        return aead(self.record_aead)


STANDARD = Suite(
    profile="standard",
    protocol_name=PROTOCOL_NAME,
    record_aead="ChaChaPoly",
    document_hash="BLAKE3",
    mac_hash="BLAKE2s",
    signature="Ed25519+ML-DSA-65",
    call_hash="SHA256",
)

CNSA2 = Suite(
    profile="cnsa2",
    protocol_name="Noise_IKpsk2+hfs_25519+MLKEM1024_AESGCM_SHA512",
    record_aead="AESGCM",
    document_hash="SHA384",
    mac_hash="SHA384",
    signature="Ed25519+ML-DSA-87",
    call_hash="SHA384",
)

#: Every profile by name; ``standard`` is the default of a new line.
SUITES: dict[ProfileName, Suite] = {STANDARD.profile: STANDARD, CNSA2.profile: CNSA2}
DEFAULT_PROFILE: ProfileName = "standard"


def suite(profile: str) -> Suite:
    """The suite of a profile name. Raises :class:`ValueError` for one that does not exist."""
    for name, found in SUITES.items():
        if name == profile:
            return found
    raise ValueError(f"no line profile {profile!r} (there are: {', '.join(SUITES)})")


def suite_of_kem(kem_name: str) -> Suite:
    """The suite whose handshake and calls use this KEM (``MLKEM768``, ``MLKEM1024``). Raises
    :class:`ValueError`."""
    for found in SUITES.values():
        if found.kem_name == kem_name:
            return found
    raise ValueError(f"no line profile uses the KEM {kem_name!r}")


def suite_of_protocol(protocol_name: str) -> Suite:
    """The suite whose handshake has this Noise protocol name. Raises :class:`ValueError`."""
    for found in SUITES.values():
        if found.protocol_name == protocol_name:
            return found
    raise ValueError(f"no line profile has the protocol {protocol_name!r}")
