"""Station cards: the signed public half of a station, as bytes and as armored text.

A card carries a station's name, its public keys, the endpoints to dial and its creation time, and is
signed by the station's own hybrid keys (``docs/protocol.md`` §8.3). It travels as a file or as
armored text pasted into an email, so this module treats every card as hostile input:

* **One encoding.** A card is MessagePack, written and read by msgspec with fixed-shape structs.
  Version 2 carries the keys of both line profiles and is signed for each::

      card = [body: bin, signature: bin(3373), signature87: bin(4691)]
      body = [version: 2, name: str, x25519: bin(32), mlkem768: bin(1184), verify_key: bin(1984),
              mlkem1024: bin(1568), p384: bin(97), mldsa87: bin(2592),
              endpoints: [str, ...], created_at: int]

  ``signature`` is Ed25519 + ML-DSA-65 under :data:`CARD_V2_SIGNATURE_CONTEXT`, ``signature87``
  Ed25519 + ML-DSA-87 (the same Ed25519 key) under :data:`CARD_V2_CNSA2_SIGNATURE_CONTEXT`, both over
  the encoded ``body``, and a reader accepts the card only if both verify: a ``cnsa2`` line so rests
  on ML-DSA-87 and a ``standard`` one on ML-DSA-65, each beside Ed25519. Version 1 (still read, and
  written for an identity without cnsa2 keys) has only the standard keys and one signature::

      card = [body: bin, signature: bin(3373)]
      body = [version: 1, name: str, x25519: bin(32), mlkem768: bin(1184),
              verify_key: bin(1984), endpoints: [str, ...], created_at: int]

  signed under :data:`CARD_SIGNATURE_CONTEXT`. Decoding re-encodes what it read and refuses anything
  that is not byte-for-byte the canonical encoding, so a card has exactly one valid byte string.
* **Check everything.** Size, structure, version, every length, the name, each endpoint, the time,
  the ML-KEM modulus checks (FIPS 203 §7.2), that the P-384 point is on the curve, and finally the
  signatures.
* **One error.** Every refusal is a :class:`CardError` with a reason an operator can act on; no
  parser exception leaks out.

The armored form wraps the bytes in base64 between BEGIN/END lines, with a checksum line (the first
four bytes of BLAKE2s over the card, in hex) so a card mangled in transit is reported as damaged rather
than as forged. It tolerates whitespace (indentation, CRLF, blank lines, re-wrapped lines) and nothing
else.

This module does not decide whether to *trust* a card: that is the operators' comparison of safety
numbers (:mod:`hotline.proto.safety`).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

import msgspec

from hotline.crypto.errors import CryptoError
from hotline.crypto.hashing import blake2s
from hotline.crypto.mlkem import PUBLIC_KEY_LEN as KEM_PUBLIC_LEN
from hotline.crypto.mlkem import PUBLIC_KEY_LEN_1024 as KEM1024_PUBLIC_LEN
from hotline.crypto.mlkem import MLKEM768PublicKey, MLKEM1024PublicKey
from hotline.crypto.p384 import PUBLIC_KEY_LEN as P384_PUBLIC_LEN
from hotline.crypto.p384 import P384PublicKey
from hotline.crypto.sign import (
    ED25519_PUBLIC_LEN,
    MLDSA87_PUBLIC_LEN,
    SIGNATURE_LEN,
    SIGNATURE_LEN_87,
    Hybrid87VerifyKey,
    HybridVerifyKey,
)
from hotline.crypto.sign import PUBLIC_KEY_LEN as VERIFY_KEY_LEN
from hotline.crypto.x25519 import KEY_LEN as STATIC_PUBLIC_LEN
from hotline.crypto.x25519 import X25519PublicKey
from hotline.proto import cardwire
from hotline.proto.canonical import decode_canonical, decode_failure
from hotline.proto.endpoints import endpoint_problem, parse_endpoint
from hotline.proto.identity import (
    Cnsa2PublicKeys,
    Fingerprint,
    Identity,
    PublicIdentity,
    missing_profile,
    station_name_problem,
)
from hotline.proto.identity_errors import CardError, IdentityError
from hotline.proto.suites import ProfileName

#: The card format this code writes for an identity with keys for both profiles.
CARD_VERSION = 2
#: The card format of an identity with standard keys only (read, and written for such an identity).
CARD_VERSION_1 = 1
#: The versions this code reads.
CARD_VERSIONS = (CARD_VERSION_1, CARD_VERSION)
#: Signature context of a version 1 card (both signature halves are bound to it).
CARD_SIGNATURE_CONTEXT = b"hotline card v1"
#: Context of a version 2 card's Ed25519 + ML-DSA-65 signature.
CARD_V2_SIGNATURE_CONTEXT = b"hotline card v2"
#: Context of a version 2 card's Ed25519 + ML-DSA-87 signature.
CARD_V2_CNSA2_SIGNATURE_CONTEXT = b"hotline card v2 cnsa2"
#: Largest encoded card we read. A version 2 card is about 15.5 KiB; this leaves room for endpoints.
MAX_CARD_LEN = 24 * 1024
#: Most endpoints a card may list.
MAX_ENDPOINTS = 8
#: Latest creation time we accept (seconds since the epoch; the signed 64-bit range).
MAX_CREATED_AT = 2**63 - 1

ARMOR_BEGIN = "-----BEGIN HOTLINE STATION CARD-----"
ARMOR_END = "-----END HOTLINE STATION CARD-----"
#: Base64 characters per armored line.
ARMOR_WIDTH = 64
#: Bytes of BLAKE2s shown on the checksum line.
ARMOR_CHECKSUM_LEN = 4

__all__ = [
    "ARMOR_BEGIN",
    "ARMOR_END",
    "CARD_SIGNATURE_CONTEXT",
    "CARD_V2_CNSA2_SIGNATURE_CONTEXT",
    "CARD_V2_SIGNATURE_CONTEXT",
    "CARD_VERSION",
    "CARD_VERSIONS",
    "CARD_VERSION_1",
    "MAX_CARD_LEN",
    "MAX_ENDPOINTS",
    "CardError",
    "StationCard",
    "armor_card",
    "dearmor_card",
    "decode_card",
    "encode_card",
    "issue_card",
    "parse_endpoint",
    "shared_keys",
]


# -- the card -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StationCard:
    """A station card: the public keys, endpoints and creation time of a station, with its signatures.

    Immutable; compares by value. Constructing one checks every field but not the signatures: a card
    read from a file or a paste comes through :func:`decode_card` or :func:`dearmor_card`, which
    do; :meth:`verify` checks one built by hand. A version 1 card has ``cnsa2`` None and no
    ``signature87``; a version 2 card has both.

    Raises:
        CardError: a field is invalid (the reason says which).
    """

    #: The station's name, as operators see it.
    name: str
    #: The X25519 static key (Noise ``s``).
    static_public: X25519PublicKey
    #: The ML-KEM-768 key standard line keys are sealed to.
    kem_public: MLKEM768PublicKey
    #: The hybrid Ed25519 + ML-DSA-65 key that signed this card.
    verify_key: HybridVerifyKey
    #: Where to dial the station, ``host:port``, in order of preference.
    endpoints: tuple[str, ...]
    #: When the card was issued, in whole seconds since the epoch.
    created_at: int
    #: The Ed25519 + ML-DSA-65 signature over the encoded body.
    signature: bytes = field(repr=False)
    #: The card format version.
    version: int = CARD_VERSION_1
    #: The cnsa2 public keys (version 2), or None (version 1).
    cnsa2: Cnsa2PublicKeys | None = field(default=None, repr=False)
    #: The Ed25519 + ML-DSA-87 signature over the encoded body (version 2), or empty (version 1).
    signature87: bytes = field(default=b"", repr=False)

    def __post_init__(self) -> None:
        problem = _field_problem(self)
        if problem is not None:
            raise CardError(problem)

    def body_bytes(self) -> bytes:
        """The canonical encoding of everything but the signatures: what the signatures cover."""
        if self.cnsa2 is None:
            return cardwire.ENCODER.encode(
                cardwire.CardBody(
                    self.version,
                    self.name,
                    self.static_public.raw,
                    self.kem_public.raw,
                    self.verify_key.raw,
                    list(self.endpoints),
                    self.created_at,
                )
            )
        return cardwire.ENCODER.encode(
            cardwire.CardBody2(
                self.version,
                self.name,
                self.static_public.raw,
                self.kem_public.raw,
                self.verify_key.raw,
                self.cnsa2.kem_public.raw,
                self.cnsa2.seal_public.raw,
                self.cnsa2.verify_key.raw[ED25519_PUBLIC_LEN:],
                list(self.endpoints),
                self.created_at,
            )
        )

    def verify(self) -> None:
        """Check the signature (version 1) or both signatures (version 2).

        Raises:
            CardError: a signature does not verify under the card's own keys.
        """
        body = self.body_bytes()
        context = CARD_SIGNATURE_CONTEXT if self.cnsa2 is None else CARD_V2_SIGNATURE_CONTEXT
        try:
            self.verify_key.verify(self.signature, body, context=context)
        except CryptoError:
            raise CardError("card signature does not verify") from None
        if self.cnsa2 is not None:
            try:
                self.cnsa2.verify_key.verify(self.signature87, body, context=CARD_V2_CNSA2_SIGNATURE_CONTEXT)
            except CryptoError:
                raise CardError("card ML-DSA-87 signature does not verify") from None

    def public_identity(self) -> PublicIdentity:
        """The station's name and public keys (of both profiles, for a version 2 card)."""
        return PublicIdentity(self.name, self.static_public, self.kem_public, self.verify_key, self.cnsa2)

    @property
    def profiles(self) -> tuple[ProfileName, ...]:
        """The line profiles this card offers: ``standard``, and ``cnsa2`` for a version 2 card."""
        return ("standard", "cnsa2") if self.cnsa2 is not None else ("standard",)

    def require_profile(self, profile: str) -> None:
        """Check that a line of ``profile`` can be made with this card.

        Raises:
            CardError: the profile does not exist, or the card carries no keys for it (a version 1
                card offers only ``standard``).
        """
        if profile == "standard" or (profile == "cnsa2" and self.cnsa2 is not None):
            return
        if profile == "cnsa2":
            raise CardError(
                f"the card of {self.name!r} is a version 1 card and carries no cnsa2 keys, so it cannot "
                "make a cnsa2 line: ask its operator for a new card (from a station that has cnsa2 keys)"
            )
        raise CardError(missing_profile(self.name, profile))

    def cnsa2_keys(self) -> Cnsa2PublicKeys:
        """The cnsa2 public keys.

        Raises:
            CardError: a version 1 card (see :meth:`require_profile`).
        """
        self.require_profile("cnsa2")
        assert self.cnsa2 is not None
        return self.cnsa2

    @property
    def key_digest(self) -> bytes:
        """The 32-byte standard key digest (see :func:`hotline.proto.identity.key_digest`)."""
        return self.public_identity().key_digest

    @property
    def fingerprint(self) -> Fingerprint:
        """The standard fingerprint to read aloud."""
        return self.public_identity().fingerprint

    def key_digest_for(self, profile: str) -> bytes:
        """The key digest of ``profile``.

        Raises:
            CardError: as :meth:`require_profile`.
        """
        self.require_profile(profile)
        return self.public_identity().key_digest_for(profile)

    def fingerprint_for(self, profile: str) -> Fingerprint:
        """The fingerprint of ``profile``.

        Raises:
            CardError: as :meth:`require_profile`.
        """
        return Fingerprint(self.key_digest_for(profile)[:20])


def _unsupported_version(version: int) -> str:
    return f"card version {version} is not supported (this station reads versions 1 and 2)"


def _field_problem(card: StationCard) -> str | None:
    if card.version not in CARD_VERSIONS:
        return _unsupported_version(card.version)
    if card.version == CARD_VERSION and card.cnsa2 is None:
        return "a version 2 card carries cnsa2 keys"
    if card.version == CARD_VERSION_1 and (card.cnsa2 is not None or card.signature87):
        return "a version 1 card carries no cnsa2 keys and one signature"
    problem = station_name_problem(card.name)
    if problem is not None:
        return f"card name is invalid: {problem}"
    if not isinstance(card.endpoints, tuple):
        return "card endpoints are not a tuple"
    if len(card.endpoints) > MAX_ENDPOINTS:
        return f"card lists more than {MAX_ENDPOINTS} endpoints"
    for endpoint in card.endpoints:
        problem = endpoint_problem(endpoint)
        if problem is not None:
            return f"card {problem}"
    if len(set(card.endpoints)) != len(card.endpoints):
        return "card lists an endpoint twice"
    if isinstance(card.created_at, bool) or not isinstance(card.created_at, int):
        return "card creation time is not a whole number of seconds"
    if not 0 <= card.created_at <= MAX_CREATED_AT:
        return "card creation time is out of range"
    if len(card.signature) != SIGNATURE_LEN:
        return f"card signature is {len(card.signature)} bytes, not {SIGNATURE_LEN}"
    if card.cnsa2 is not None:
        if len(card.signature87) != SIGNATURE_LEN_87:
            return f"card ML-DSA-87 signature is {len(card.signature87)} bytes, not {SIGNATURE_LEN_87}"
        if card.cnsa2.verify_key.raw[:ED25519_PUBLIC_LEN] != card.verify_key.raw[:ED25519_PUBLIC_LEN]:
            return "card cnsa2 verify key does not share the card's Ed25519 key"
    return None


def issue_card(
    identity: Identity,
    *,
    endpoints: list[str] | tuple[str, ...],
    created_at: int,
    version: int | None = None,
) -> StationCard:
    """Make and sign the card of ``identity``.

    Args:
        identity: the station whose card this is; its signing keys sign it.
        endpoints: where to dial the station, ``host:port`` (see :func:`parse_endpoint`), at most 8.
        created_at: the issue time, whole seconds since the epoch (the caller's clock).
        version: the card format; by default 2 for an identity with cnsa2 keys, else 1. Version 1
            leaves the cnsa2 keys out (a card for a peer whose station reads only version 1).

    Raises:
        CardError: an endpoint, the time or the version is invalid, or version 2 is asked of an
            identity without cnsa2 keys.
    """
    public = identity.public()
    if version is None:
        version = CARD_VERSION if identity.cnsa2 is not None else CARD_VERSION_1
    if version not in CARD_VERSIONS:
        raise CardError(_unsupported_version(version))
    cnsa2 = None
    if version == CARD_VERSION:
        try:
            cnsa2 = identity.cnsa2_keys()
        except IdentityError as exc:
            raise CardError(exc.reason) from None
    unsigned = StationCard(
        public.name,
        public.static_public,
        public.kem_public,
        public.verify_key,
        tuple(endpoints),
        created_at,
        bytes(SIGNATURE_LEN),
        version,
        None if cnsa2 is None else cnsa2.public,
        b"" if cnsa2 is None else bytes(SIGNATURE_LEN_87),
    )
    body = unsigned.body_bytes()
    if cnsa2 is None:
        signature = identity.signing_key.sign(body, context=CARD_SIGNATURE_CONTEXT)
        signature87 = b""
    else:
        signature = identity.signing_key.sign(body, context=CARD_V2_SIGNATURE_CONTEXT)
        signature87 = cnsa2.signing_key.sign(body, context=CARD_V2_CNSA2_SIGNATURE_CONTEXT)
    return StationCard(
        unsigned.name,
        unsigned.static_public,
        unsigned.kem_public,
        unsigned.verify_key,
        unsigned.endpoints,
        unsigned.created_at,
        signature,
        version,
        unsigned.cnsa2,
        signature87,
    )


def shared_keys(card: StationCard, other: PublicIdentity) -> tuple[str, ...]:
    """The public keys of ``card`` that ``other`` holds too, by name, in card order.

    A card's signature proves only that its signer holds the signing key, so a card can claim another
    station's X25519, ML-KEM and P-384 keys; a station refuses a card that shares any key with itself
    or with another of its lines (docs/protocol.md §8.3). The cnsa2 keys are compared when both sides
    have them.
    """
    pairs = [
        ("X25519", card.static_public.raw, other.static_public.raw),
        ("ML-KEM-768", card.kem_public.raw, other.kem_public.raw),
        ("signing", card.verify_key.raw, other.verify_key.raw),
    ]
    if card.cnsa2 is not None and other.cnsa2 is not None:
        pairs += [
            ("ML-KEM-1024", card.cnsa2.kem_public.raw, other.cnsa2.kem_public.raw),
            ("P-384", card.cnsa2.seal_public.raw, other.cnsa2.seal_public.raw),
            ("ML-DSA-87", card.cnsa2.verify_key.raw, other.cnsa2.verify_key.raw),
        ]
    return tuple(name for name, ours, theirs in pairs if ours == theirs)


# -- binary encoding -----------------------------------------------------------------------------------


def encode_card(card: StationCard) -> bytes:
    """The card as bytes (its one canonical encoding)."""
    if card.cnsa2 is None:
        return cardwire.ENCODER.encode(cardwire.SignedCard(card.body_bytes(), card.signature))
    return cardwire.ENCODER.encode(cardwire.SignedCard2(card.body_bytes(), card.signature, card.signature87))


def decode_card(data: bytes) -> StationCard:
    """Read a card of version 1 or 2 from bytes and check it completely, signatures included.

    Raises:
        CardError: the bytes are not a valid, correctly signed card of a version we read; the reason
            says what is wrong.
    """
    # parse the envelope: two elements for version 1, three for version 2
    signed: cardwire.SignedCard | cardwire.SignedCard2
    if isinstance(data, bytes | bytearray | memoryview) and bytes(data[:1]) == bytes([cardwire.FIXARRAY_3]):
        signed = decode_canonical(
            cardwire.SIGNED2_DECODER, data, what="card", error=CardError, max_len=MAX_CARD_LEN
        )
    else:
        signed = decode_canonical(
            cardwire.SIGNED_DECODER, data, what="card", error=CardError, max_len=MAX_CARD_LEN
        )
    # read the version before the rest, so a newer card gets a clear reason
    try:
        version = cardwire.VERSION_DECODER.decode(signed.body).version
    except (msgspec.DecodeError, ValueError) as exc:
        raise decode_failure(exc, "card body", CardError) from None
    if version not in CARD_VERSIONS:
        raise CardError(_unsupported_version(version))
    if (version == CARD_VERSION) != isinstance(signed, cardwire.SignedCard2):
        count = "two signatures" if version == CARD_VERSION else "one signature"
        raise CardError(f"a version {version} card carries {count}")
    body: cardwire.CardBody | cardwire.CardBody2
    if isinstance(signed, cardwire.SignedCard2):
        body = decode_canonical(cardwire.BODY2_DECODER, signed.body, what="card body", error=CardError)
    else:
        body = decode_canonical(cardwire.BODY_DECODER, signed.body, what="card body", error=CardError)
    # check the key lengths, then load the keys (ML-KEM runs FIPS 203's modulus check)
    lengths = [
        (body.static_public, STATIC_PUBLIC_LEN, "X25519 key"),
        (body.kem_public, KEM_PUBLIC_LEN, "ML-KEM-768 key"),
        (body.verify_key, VERIFY_KEY_LEN, "verify key"),
    ]
    if isinstance(body, cardwire.CardBody2):
        lengths += [
            (body.kem1024_public, KEM1024_PUBLIC_LEN, "ML-KEM-1024 key"),
            (body.p384_public, P384_PUBLIC_LEN, "P-384 key"),
            (body.mldsa87_public, MLDSA87_PUBLIC_LEN, "ML-DSA-87 key"),
        ]
    for raw, expected, what in lengths:
        if len(raw) != expected:
            raise CardError(f"card {what} is {len(raw)} bytes, not {expected}")
    try:
        kem_public = MLKEM768PublicKey.from_bytes(body.kem_public)
    except CryptoError:
        raise CardError("card ML-KEM-768 key is invalid (it fails the FIPS 203 modulus check)") from None
    try:
        verify_key = HybridVerifyKey.from_bytes(body.verify_key)
    except CryptoError:
        raise CardError("card verify key is invalid") from None
    cnsa2 = _cnsa2_keys(body, verify_key) if isinstance(body, cardwire.CardBody2) else None
    # check the remaining fields, then the signatures
    card = StationCard(
        body.name,
        X25519PublicKey.from_bytes(body.static_public),
        kem_public,
        verify_key,
        tuple(body.endpoints),
        body.created_at,
        signed.signature,
        body.version,
        cnsa2,
        signed.signature87 if isinstance(signed, cardwire.SignedCard2) else b"",
    )
    card.verify()
    return card


def _cnsa2_keys(body: cardwire.CardBody2, verify_key: HybridVerifyKey) -> Cnsa2PublicKeys:
    try:
        kem_public = MLKEM1024PublicKey.from_bytes(body.kem1024_public)
    except CryptoError:
        raise CardError("card ML-KEM-1024 key is invalid (it fails the FIPS 203 modulus check)") from None
    try:
        seal_public = P384PublicKey.from_bytes(body.p384_public)
    except CryptoError:
        raise CardError("card P-384 key is invalid (not an uncompressed point on the curve)") from None
    try:
        # the ML-DSA-87 key signs beside the card's one Ed25519 key
        verify87 = Hybrid87VerifyKey.from_bytes(verify_key.raw[:ED25519_PUBLIC_LEN] + body.mldsa87_public)
    except CryptoError:
        raise CardError("card ML-DSA-87 key is invalid") from None
    return Cnsa2PublicKeys(kem_public, seal_public, verify87)


# -- armored text --------------------------------------------------------------------------------------

_WHITESPACE = " \t\r\n"


def _checksum(data: bytes) -> str:
    return blake2s(data)[:ARMOR_CHECKSUM_LEN].hex()


def armor_card(card: StationCard) -> str:
    """The card as armored text, ending in a newline::

    -----BEGIN HOTLINE STATION CARD-----
    <base64 of the card, 64 characters a line>
    =<first 4 bytes of BLAKE2s over the card, lower-case hex>
    -----END HOTLINE STATION CARD-----
    """
    data = encode_card(card)
    text = base64.b64encode(data).decode("ascii")
    lines = [ARMOR_BEGIN]
    lines += [text[i : i + ARMOR_WIDTH] for i in range(0, len(text), ARMOR_WIDTH)]
    lines += ["=" + _checksum(data), ARMOR_END]
    return "\n".join(lines) + "\n"


def dearmor_card(text: str) -> StationCard:
    """Read an armored card and check it completely (see :func:`decode_card`).

    Whitespace is forgiven: indentation, trailing spaces, CRLF line ends, blank lines, and base64
    re-wrapped at any width. Anything else out of place is refused, including text before the BEGIN
    line or after the END line.

    Raises:
        CardError: the text is not an intact armored card, or the card inside is refused.
    """
    if not isinstance(text, str):
        raise CardError("armored card is not text")
    if len(text) > 2 * MAX_CARD_LEN:
        raise CardError("armored card is too long")
    if not text.isascii():
        raise CardError("armored card contains characters outside ASCII")
    if any(not char.isprintable() and char not in _WHITESPACE for char in text):
        raise CardError("armored card contains control characters")
    lines = [line.strip(" \t\r") for line in text.split("\n")]
    lines = [line for line in lines if line]
    if not lines:
        raise CardError("armored card is empty")
    if lines[0] != ARMOR_BEGIN:
        raise CardError(f"armored card does not start with {ARMOR_BEGIN}")
    if lines[-1] != ARMOR_END:
        raise CardError(f"armored card is cut off: it does not end with {ARMOR_END}")
    inner = lines[1:-1]
    if not inner or not inner[-1].startswith("="):
        raise CardError("armored card has no checksum line (=xxxxxxxx) before its END line")
    checksum = "".join(inner[-1][1:].split())
    encoded = "".join("".join(line.split()) for line in inner[:-1])
    if not encoded:
        raise CardError("armored card has nothing between its BEGIN and END lines")
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise CardError("armored card is not valid base64 (damaged, or cut off)") from None
    if base64.b64encode(data).decode("ascii") != encoded:
        raise CardError("armored card is not canonical base64")
    if checksum != _checksum(data):
        raise CardError("armored card checksum does not match: the text was damaged or changed")
    return decode_card(data)
