"""Station cards: the signed public half of a station, as bytes and as armored text.

A card carries a station's name, its three public keys, the endpoints to dial and its creation time,
and is signed by the station's own hybrid key (``docs/protocol.md`` §8). It travels as a
file or as armored text pasted into an email, so this module treats every card as hostile input:

* **One encoding.** A card is MessagePack, written and read by msgspec with fixed-shape structs::

      card = [body: bin, signature: bin]
      body = [version: int, name: str, x25519: bin(32), mlkem768: bin(1184),
              verify_key: bin(1984), endpoints: [str, ...], created_at: int]

  The signature (Ed25519 + ML-DSA-65, both must verify) covers the encoded ``body`` bytes under the
  context :data:`CARD_SIGNATURE_CONTEXT`. Decoding re-encodes what it read and refuses anything that
  is not byte-for-byte the canonical encoding, so a card has exactly one valid byte string.
* **Check everything.** Size, structure, version, every length, the name, each endpoint, the time,
  the ML-KEM-768 modulus check (FIPS 203 §7.2) and finally the signature.
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
import ipaddress
import re
from dataclasses import dataclass, field

import msgspec

from hotline.crypto.errors import CryptoError
from hotline.crypto.hashing import blake2s
from hotline.crypto.mlkem import PUBLIC_KEY_LEN as KEM_PUBLIC_LEN
from hotline.crypto.mlkem import MLKEM768PublicKey
from hotline.crypto.sign import PUBLIC_KEY_LEN as VERIFY_KEY_LEN
from hotline.crypto.sign import SIGNATURE_LEN, HybridVerifyKey
from hotline.crypto.x25519 import KEY_LEN as STATIC_PUBLIC_LEN
from hotline.crypto.x25519 import X25519PublicKey
from hotline.proto.canonical import decode_canonical, decode_failure
from hotline.proto.identity import (
    Fingerprint,
    Identity,
    PublicIdentity,
    station_name_problem,
)
from hotline.proto.identity_errors import CardError

#: The card format this code writes and the only one it reads.
CARD_VERSION = 1
#: Signature context of a card (both signature halves are bound to it).
CARD_SIGNATURE_CONTEXT = b"hotline card v1"
#: Largest encoded card we read. A card is about 6.5 KiB; this leaves room for endpoints.
MAX_CARD_LEN = 16 * 1024
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
    "CARD_VERSION",
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


# -- endpoints ------------------------------------------------------------------------------------------

_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_PORT = re.compile(r"[1-9][0-9]{0,4}")


def _endpoint_problem(endpoint: object) -> str | None:
    if not isinstance(endpoint, str):
        return "an endpoint is not text"
    try:
        parse_endpoint(endpoint)
    except ValueError as exc:
        return str(exc)
    return None


def parse_endpoint(endpoint: str) -> tuple[str, int]:
    """Split a card endpoint ``host:port`` into ``(host, port)``.

    Only the canonical spelling is accepted, so a card has one encoding: a lower-case DNS name, a
    dotted-quad IPv4 address, or an IPv6 address in brackets in its compressed form (``[2001:db8::1]``),
    then a port from 1 to 65535 without leading zeros. The returned host has no brackets.

    Raises:
        ValueError: with a reason naming what is wrong.
    """
    host, sep, port_text = endpoint.rpartition(":")
    if not sep or not host:
        raise _bad(endpoint, "is not host:port")
    if not _PORT.fullmatch(port_text) or int(port_text) > 65535:
        raise _bad(endpoint, "has a port that is not a number from 1 to 65535")
    port = int(port_text)
    if host.startswith("["):
        if not host.endswith("]"):
            raise _bad(endpoint, "has an unclosed [")
        inner = host[1:-1]
        try:
            address = ipaddress.IPv6Address(inner)
        except ValueError:
            raise _bad(endpoint, "has an invalid IPv6 address") from None
        if address.scope_id is not None:
            raise _bad(endpoint, "has an IPv6 zone (%...), which means nothing to the other station")
        if str(address) != inner:
            raise _bad(endpoint, f"should write its IPv6 address as {address}")
        return inner, port
    if ":" in host:
        raise _bad(endpoint, "has an IPv6 address without [brackets]")
    labels = host.split(".")
    if all(label.isdigit() for label in labels):
        try:
            v4 = ipaddress.IPv4Address(host)
        except ValueError:
            raise _bad(endpoint, "has an invalid IPv4 address") from None
        if str(v4) != host:
            raise _bad(endpoint, f"should write its IPv4 address as {v4}")
        return host, port
    if len(host) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise _bad(endpoint, "has a host name that is not lower-case letters, digits, '-' and '.'")
    if labels[-1].isdigit():
        raise _bad(endpoint, "has a host name ending in a number")
    return host, port


def _bad(endpoint: str, what: str) -> ValueError:
    shown = endpoint if len(endpoint) <= 80 else endpoint[:77] + "..."
    return ValueError(f"endpoint {shown!r} {what}")


# -- the card -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StationCard:
    """A station card: the public keys, endpoints and creation time of a station, with its signature.

    Immutable; compares by value. Constructing one checks every field but not the signature: a card
    read from a file or a paste comes through :func:`decode_card` or :func:`dearmor_card`, which
    do; :meth:`verify` checks one built by hand.

    Raises:
        CardError: a field is invalid (the reason says which).
    """

    #: The station's name, as operators see it.
    name: str
    #: The X25519 static key (Noise ``s``).
    static_public: X25519PublicKey
    #: The ML-KEM-768 key line keys are sealed to.
    kem_public: MLKEM768PublicKey
    #: The hybrid Ed25519 + ML-DSA-65 key that signed this card.
    verify_key: HybridVerifyKey
    #: Where to dial the station, ``host:port``, in order of preference.
    endpoints: tuple[str, ...]
    #: When the card was issued, in whole seconds since the epoch.
    created_at: int
    #: The hybrid signature over the encoded body.
    signature: bytes = field(repr=False)
    #: The card format version.
    version: int = CARD_VERSION

    def __post_init__(self) -> None:
        problem = _field_problem(self)
        if problem is not None:
            raise CardError(problem)

    def body_bytes(self) -> bytes:
        """The canonical encoding of everything but the signature: what the signature covers."""
        return _ENCODER.encode(
            _CardBody(
                self.version,
                self.name,
                self.static_public.raw,
                self.kem_public.raw,
                self.verify_key.raw,
                list(self.endpoints),
                self.created_at,
            )
        )

    def verify(self) -> None:
        """Check the signature.

        Raises:
            CardError: the signature does not verify under the card's own key.
        """
        try:
            self.verify_key.verify(self.signature, self.body_bytes(), context=CARD_SIGNATURE_CONTEXT)
        except CryptoError:
            raise CardError("card signature does not verify") from None

    def public_identity(self) -> PublicIdentity:
        """The station's name and public keys."""
        return PublicIdentity(self.name, self.static_public, self.kem_public, self.verify_key)

    @property
    def key_digest(self) -> bytes:
        """The 32-byte key digest (see :func:`hotline.proto.identity.key_digest`)."""
        return self.public_identity().key_digest

    @property
    def fingerprint(self) -> Fingerprint:
        """The fingerprint to read aloud."""
        return self.public_identity().fingerprint


def _unsupported_version(version: int) -> str:
    return f"card version {version} is not supported (this station reads version {CARD_VERSION})"


def _field_problem(card: StationCard) -> str | None:
    if card.version != CARD_VERSION:
        return _unsupported_version(card.version)
    problem = station_name_problem(card.name)
    if problem is not None:
        return f"card name is invalid: {problem}"
    if not isinstance(card.endpoints, tuple):
        return "card endpoints are not a tuple"
    if len(card.endpoints) > MAX_ENDPOINTS:
        return f"card lists more than {MAX_ENDPOINTS} endpoints"
    for endpoint in card.endpoints:
        problem = _endpoint_problem(endpoint)
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
    return None


def issue_card(identity: Identity, *, endpoints: list[str] | tuple[str, ...], created_at: int) -> StationCard:
    """Make and sign the card of ``identity``.

    Args:
        identity: the station whose card this is; its signing key signs it.
        endpoints: where to dial the station, ``host:port`` (see :func:`parse_endpoint`), at most 8.
        created_at: the issue time, whole seconds since the epoch (the caller's clock).

    Raises:
        CardError: an endpoint or the time is invalid.
    """
    public = identity.public()
    unsigned = StationCard(
        public.name,
        public.static_public,
        public.kem_public,
        public.verify_key,
        tuple(endpoints),
        created_at,
        bytes(SIGNATURE_LEN),
    )
    signature = identity.signing_key.sign(unsigned.body_bytes(), context=CARD_SIGNATURE_CONTEXT)
    return StationCard(
        unsigned.name,
        unsigned.static_public,
        unsigned.kem_public,
        unsigned.verify_key,
        unsigned.endpoints,
        unsigned.created_at,
        signature,
    )


def shared_keys(card: StationCard, other: PublicIdentity) -> tuple[str, ...]:
    """The public keys of ``card`` that ``other`` holds too, by name, in card order.

    A card's signature proves only that its signer holds the signing key, so a card can claim another
    station's X25519 and ML-KEM-768 keys; a station refuses a card that shares any key with itself or
    with another of its lines (docs/protocol.md §8.3).
    """
    pairs = (
        ("X25519", card.static_public.raw, other.static_public.raw),
        ("ML-KEM-768", card.kem_public.raw, other.kem_public.raw),
        ("signing", card.verify_key.raw, other.verify_key.raw),
    )
    return tuple(name for name, ours, theirs in pairs if ours == theirs)


# -- binary encoding -----------------------------------------------------------------------------------


class _CardBody(msgspec.Struct, array_like=True, forbid_unknown_fields=True, frozen=True):
    version: int
    name: str
    static_public: bytes
    kem_public: bytes
    verify_key: bytes
    endpoints: list[str]
    created_at: int


class _SignedCard(msgspec.Struct, array_like=True, forbid_unknown_fields=True, frozen=True):
    body: bytes
    signature: bytes


class _VersionOnly(msgspec.Struct, array_like=True, frozen=True):
    # Reads the first element of a body of any version; later elements are skipped.
    version: int


_ENCODER = msgspec.msgpack.Encoder()
_SIGNED_DECODER = msgspec.msgpack.Decoder(_SignedCard)
_VERSION_DECODER = msgspec.msgpack.Decoder(_VersionOnly)
_BODY_DECODER = msgspec.msgpack.Decoder(_CardBody)


def encode_card(card: StationCard) -> bytes:
    """The card as bytes (its one canonical encoding)."""
    return _ENCODER.encode(_SignedCard(card.body_bytes(), card.signature))


def decode_card(data: bytes) -> StationCard:
    """Read a card from bytes and check it completely, signature included.

    Raises:
        CardError: the bytes are not a valid, correctly signed card of a version we read; the reason
            says what is wrong.
    """
    # parse the envelope
    signed = decode_canonical(_SIGNED_DECODER, data, what="card", error=CardError, max_len=MAX_CARD_LEN)
    # read the version before the rest, so a newer card gets a clear reason
    try:
        version = _VERSION_DECODER.decode(signed.body).version
    except (msgspec.DecodeError, ValueError) as exc:
        raise decode_failure(exc, "card body", CardError) from None
    if version != CARD_VERSION:
        raise CardError(_unsupported_version(version))
    body = decode_canonical(_BODY_DECODER, signed.body, what="card body", error=CardError)
    # check the key lengths, then load the keys (ML-KEM-768 runs FIPS 203's modulus check)
    for raw, expected, what in (
        (body.static_public, STATIC_PUBLIC_LEN, "X25519 key"),
        (body.kem_public, KEM_PUBLIC_LEN, "ML-KEM-768 key"),
        (body.verify_key, VERIFY_KEY_LEN, "verify key"),
    ):
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
    # check the remaining fields, then the signature
    card = StationCard(
        body.name,
        X25519PublicKey.from_bytes(body.static_public),
        kem_public,
        verify_key,
        tuple(body.endpoints),
        body.created_at,
        signed.signature,
        body.version,
    )
    card.verify()
    return card


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
