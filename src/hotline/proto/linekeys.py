"""Line keys (the "key tape"): a 32-byte secret per line, sealed to the peer station and signed.

The line key is the Noise PSK of every handshake on a line (``docs/protocol.md`` §8.5). At pairing
one station creates it, seals it to the other's card and signs the result; the other opens it. The
format is MessagePack through msgspec, decoded strictly and required to be canonical, in one version
per line profile.

A ``standard`` line's key (version 1, the format since the first release)::

    sealed_line_key = [body: bin, signature: bin(3373)]
    body = [version: 1, label: str, sender: bin(32), recipient: bin(32), created_at: int, hpke: bin]

``sender`` and ``recipient`` are the two stations' standard key digests. ``hpke`` is HPKE base mode
(MLKEM768-X25519, HKDF-SHA256, ChaCha20-Poly1305) to the recipient's ML-KEM-768 and X25519 keys, with
``info = "hotline line key v1" || 0x00 || sender || recipient || label``. The signature is the
sender's Ed25519 + ML-DSA-65 signature over the encoded ``body`` under the context
``"hotline line key v1"``.

A ``cnsa2`` line's key (version 2)::

    sealed_line_key = [body: bin, signature: bin(4691)]
    body = [version: 2, profile: "cnsa2", label: str, sender: bin(32), recipient: bin(32),
            created_at: int, hpke: bin]

``sender`` and ``recipient`` are the cnsa2 key digests; ``hpke`` is HPKE base mode (MLKEM1024-P384,
HKDF-SHA384, AES-256-GCM) to the recipient's ML-KEM-1024 and P-384 keys with
``info = "hotline line key v2" || 0x00 || profile || 0x00 || sender || recipient || label``; the
signature is the sender's Ed25519 + ML-DSA-87 signature under ``"hotline line key v2"``.

So a key sealed for one line, between one pair of stations, of one profile, opens for that line, pair
and profile only: the profile is in the signed body, the signature context, the HPKE suite and its
``info``, and the digests. Opening checks the signature *before* touching anything else in the body,
then the version, profile and addressing, then opens the seal. Every refusal is one
:class:`LineKeyError` with a reason for the operator.

What this does not do: it does not remember which sealed keys it has opened. A recorded blob can be
presented again and opens again to the same key; the station compares ``created_at`` with the line
key it already holds and refuses one that is not strictly newer (:func:`check_supersedes`).

Randomness: :func:`create_line_key` draws the key through :mod:`hotline.crypto.random` and calls
:func:`create_line_key_from_parts`. HPKE's own encapsulation draws inside pyca, which takes no
injected randomness, so a sealed blob is never reproducible byte for byte; tests check its
properties instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec

from hotline.crypto import hpke
from hotline.crypto.errors import CryptoError
from hotline.crypto.random import random_bytes
from hotline.crypto.sign import SIGNATURE_LEN, SIGNATURE_LEN_87
from hotline.proto.canonical import decode_canonical
from hotline.proto.cards import StationCard
from hotline.proto.identity import FINGERPRINT_LEN, KEY_DIGEST_LEN, Fingerprint, Identity, text_problem
from hotline.proto.identity_errors import LineKeyError
from hotline.proto.suites import ProfileName

#: Length of a line key.
LINE_KEY_LEN = 32
#: The sealed-line-key format of a standard line.
LINE_KEY_VERSION = 1
#: The sealed-line-key format of a cnsa2 line.
LINE_KEY_VERSION_CNSA2 = 2
#: Signature context of a standard sealed line key; also the start of its HPKE ``info``.
LINE_KEY_CONTEXT = b"hotline line key v1"
#: Signature context of a cnsa2 sealed line key; also the start of its HPKE ``info``.
LINE_KEY_CONTEXT_CNSA2 = b"hotline line key v2"
#: Longest line label, in characters.
LABEL_MAX_LEN = 64
#: Largest sealed line key we read (a standard one is about 4.5 KiB, a cnsa2 one about 6.5 KiB).
MAX_SEALED_LEN = 8 * 1024
#: Latest creation time accepted (the signed 64-bit range).
MAX_CREATED_AT = 2**63 - 1

__all__ = [
    "LINE_KEY_CONTEXT",
    "LINE_KEY_CONTEXT_CNSA2",
    "LINE_KEY_LEN",
    "LINE_KEY_VERSION",
    "LINE_KEY_VERSION_CNSA2",
    "LineKey",
    "LineKeyError",
    "check_supersedes",
    "create_line_key",
    "create_line_key_from_parts",
    "next_created_at",
    "open_line_key",
    "seal_line_key",
]


@dataclass(frozen=True, slots=True)
class LineKey:
    """A line key and what was signed with it. Immutable; its ``repr`` hides the key."""

    #: The 32-byte secret (the Noise PSK of the line).
    key: bytes = field(repr=False)
    #: The line's label, as both stations name it.
    label: str
    #: When the sender created it, whole seconds since the epoch.
    created_at: int
    #: The fingerprint (of the line's profile) of the station that created and sealed it.
    sender: Fingerprint
    #: The fingerprint (of the line's profile) of the station it was sealed to.
    recipient: Fingerprint
    #: The profile of the line it keys.
    profile: ProfileName = "standard"

    def __post_init__(self) -> None:
        if len(self.key) != LINE_KEY_LEN:
            raise LineKeyError("a line key is 32 bytes")


class _Body(msgspec.Struct, array_like=True, forbid_unknown_fields=True, frozen=True):
    version: int
    label: str
    sender: bytes
    recipient: bytes
    created_at: int
    hpke: bytes


class _Body2(msgspec.Struct, array_like=True, forbid_unknown_fields=True, frozen=True):
    version: int
    profile: str
    label: str
    sender: bytes
    recipient: bytes
    created_at: int
    hpke: bytes


class _Signed(msgspec.Struct, array_like=True, forbid_unknown_fields=True, frozen=True):
    body: bytes
    signature: bytes


_ENCODER = msgspec.msgpack.Encoder()
_SIGNED_DECODER = msgspec.msgpack.Decoder(_Signed)
_BODY_DECODER = msgspec.msgpack.Decoder(_Body)
_BODY2_DECODER = msgspec.msgpack.Decoder(_Body2)


def _hpke_info(sender: bytes, recipient: bytes, label: str) -> bytes:
    return LINE_KEY_CONTEXT + b"\x00" + sender + recipient + label.encode("utf-8")


def _hpke_info_cnsa2(sender: bytes, recipient: bytes, label: str) -> bytes:
    return LINE_KEY_CONTEXT_CNSA2 + b"\x00cnsa2\x00" + sender + recipient + label.encode("utf-8")


def _check_profile(profile: str) -> None:
    if profile not in ("standard", "cnsa2"):
        raise LineKeyError(f"there is no line profile {profile!r}")


def _check_metadata(label: str, created_at: int) -> None:
    problem = text_problem(label, what="the line label", max_len=LABEL_MAX_LEN)
    if problem is not None:
        raise LineKeyError(problem)
    if (
        isinstance(created_at, bool)
        or not isinstance(created_at, int)
        or not 0 <= created_at <= MAX_CREATED_AT
    ):
        raise LineKeyError("the creation time is not a whole number of seconds in range")


def check_supersedes(created_at: int, current: int | None, *, line: str) -> None:
    """Refuse a line key for ``line`` unless it is strictly newer than the one held (issue 13, B4).

    ``current`` is the held key's ``created_at`` (None: no key yet). An equal ``created_at`` is
    refused too: it is either the same key presented again or a second key from the same second,
    and keeping the first one makes the outcome independent of the order they arrive in.

    Raises:
        LineKeyError: ``created_at`` is not greater than ``current``.
    """
    if current is None or created_at > current:
        return
    which = "as old as" if created_at == current else "older than"
    raise LineKeyError(
        f"this line key is {which} the one the line {line!r} holds (created at {current}): stale or "
        f"replayed; ask the peer for a new grant (`hotline line grant`) if the line needs a new key"
    )


def grant_label(sender_name: str, recipient_name: str) -> str:
    """The label a station gives a line key it grants (docs/protocol.md §8.5): its own name, ``-``,
    then the name on the peer's card, cut to its first 64 characters, without the spaces the cut may
    leave at its end (a label, like a name, never ends in one)."""
    return f"{sender_name}-{recipient_name}"[:LABEL_MAX_LEN].rstrip(" ")


def next_created_at(now: int, current: int | None) -> int:
    """The ``created_at`` of a key granted now on a line holding ``current``: the clock, but always
    strictly greater than ``current``, so the peer accepts it (issue 13, B4)."""
    return now if current is None else max(now, current + 1)


def seal_line_key(
    key: bytes,
    *,
    sender: Identity,
    recipient: StationCard,
    label: str,
    created_at: int,
    profile: str = "standard",
) -> bytes:
    """Seal ``key`` to ``recipient`` for a line of ``profile`` and sign the result with ``sender``'s keys.

    Args:
        key: the 32-byte line key.
        sender: our identity.
        recipient: the peer's card (verified by the caller).
        label: the line's label, 1 to 64 printable characters.
        created_at: now, whole seconds since the epoch.
        profile: the line's profile: ``standard`` (version 1, the default) or ``cnsa2`` (version 2).

    Returns:
        The sealed line key, ready to carry to the peer.

    Raises:
        LineKeyError: the key, label, time or profile is invalid.
        CardError: a cnsa2 key is asked for and ``recipient`` is a version 1 card (no cnsa2 keys).
        IdentityError: a cnsa2 key is asked for and ``sender`` holds no cnsa2 keys.
    """
    if len(key) != LINE_KEY_LEN:
        raise LineKeyError("a line key is 32 bytes")
    _check_metadata(label, created_at)
    _check_profile(profile)
    if profile == "cnsa2":
        return _seal_cnsa2(key, sender=sender, recipient=recipient, label=label, created_at=created_at)
    sender_digest, recipient_digest = sender.key_digest, recipient.key_digest
    # seal to the recipient's hybrid key, bound to both stations and the line
    sealed = hpke.seal(
        key,
        kem_public=recipient.kem_public,
        dh_public=recipient.static_public,
        info=_hpke_info(sender_digest, recipient_digest, label),
    )
    # sign the sealed blob with its metadata
    body = _ENCODER.encode(
        _Body(LINE_KEY_VERSION, label, sender_digest, recipient_digest, created_at, sealed)
    )
    signature = sender.signing_key.sign(body, context=LINE_KEY_CONTEXT)
    return _ENCODER.encode(_Signed(body, signature))


def _seal_cnsa2(
    key: bytes, *, sender: Identity, recipient: StationCard, label: str, created_at: int
) -> bytes:
    keys, theirs = sender.cnsa2_keys(), recipient.cnsa2_keys()
    sender_digest, recipient_digest = sender.key_digest_for("cnsa2"), recipient.key_digest_for("cnsa2")
    # seal to the recipient's ML-KEM-1024 + P-384 key, bound to the profile, both stations and the line
    sealed = hpke.seal_cnsa2(
        key,
        kem_public=theirs.kem_public,
        dh_public=theirs.seal_public,
        info=_hpke_info_cnsa2(sender_digest, recipient_digest, label),
    )
    body = _ENCODER.encode(
        _Body2(LINE_KEY_VERSION_CNSA2, "cnsa2", label, sender_digest, recipient_digest, created_at, sealed)
    )
    signature = keys.signing_key.sign(body, context=LINE_KEY_CONTEXT_CNSA2)
    return _ENCODER.encode(_Signed(body, signature))


def create_line_key_from_parts(
    key: bytes,
    *,
    sender: Identity,
    recipient: StationCard,
    label: str,
    created_at: int,
    profile: str = "standard",
) -> tuple[LineKey, bytes]:
    """:func:`create_line_key` with the key given: returns ``(line_key, sealed)``."""
    sealed = seal_line_key(
        key, sender=sender, recipient=recipient, label=label, created_at=created_at, profile=profile
    )
    line_key = LineKey(
        key,
        label,
        created_at,
        sender.fingerprint_for(profile),
        recipient.fingerprint_for(profile),
        "cnsa2" if profile == "cnsa2" else "standard",
    )
    return line_key, sealed


def create_line_key(
    *, sender: Identity, recipient: StationCard, label: str, created_at: int, profile: str = "standard"
) -> tuple[LineKey, bytes]:
    """Create a fresh line key for the ``profile`` line ``label`` and seal it to ``recipient``.

    Returns:
        ``(line_key, sealed)``: keep the first, carry the second to the peer.

    Raises:
        LineKeyError, CardError, IdentityError: as :func:`seal_line_key`.
    """
    return create_line_key_from_parts(
        random_bytes(LINE_KEY_LEN),
        sender=sender,
        recipient=recipient,
        label=label,
        created_at=created_at,
        profile=profile,
    )


def open_line_key(
    sealed: bytes, my_identity: Identity, sender_card: StationCard, profile: str | None = "standard"
) -> LineKey:
    """Check and open a sealed line key that ``sender_card``'s station made for us.

    Args:
        sealed: what the sender's :func:`create_line_key` produced.
        my_identity: our identity, holding the private keys it was sealed to.
        sender_card: the sender's card (verified by the caller).
        profile: the profile of the line it must key (``standard`` by default, as every sealed key
            before the profiles existed); None takes either and reports it in :attr:`LineKey.profile`.

    Returns:
        The line key with its label, time, profile and the two fingerprints of that profile.

    Raises:
        LineKeyError: the blob is malformed, for a line of another profile, not signed by
            ``sender_card``'s key, not addressed from that station to us, or does not open; or one of
            the two stations holds no keys for its profile.
    """
    if profile is not None:
        _check_profile(profile)
    signed = decode_canonical(
        _SIGNED_DECODER, sealed, what="sealed line key", error=LineKeyError, max_len=MAX_SEALED_LEN
    )
    # the signature's length says the profile: each has its own signature scheme
    found = {SIGNATURE_LEN: "standard", SIGNATURE_LEN_87: "cnsa2"}.get(len(signed.signature))
    if found is None:
        raise LineKeyError("sealed line key signature has the wrong length")
    if profile is not None and found != profile:
        raise LineKeyError(f"sealed line key is for a {found} line, but this line is {profile}")
    if found == "cnsa2":
        return _open_cnsa2(signed, my_identity, sender_card)
    # verify the sender's signature before reading the body
    try:
        sender_card.verify_key.verify(signed.signature, signed.body, context=LINE_KEY_CONTEXT)
    except CryptoError:
        raise LineKeyError("sealed line key is not signed by the sender's card") from None
    # read the body
    body = decode_canonical(_BODY_DECODER, signed.body, what="sealed line key body", error=LineKeyError)
    if body.version != LINE_KEY_VERSION:
        raise LineKeyError(f"sealed line key version {body.version} is not supported")
    _check_metadata(body.label, body.created_at)
    # check the addressing: from the card's station, to us
    if len(body.sender) != KEY_DIGEST_LEN or body.sender != sender_card.key_digest:
        raise LineKeyError("sealed line key names a different sender than the card")
    if len(body.recipient) != KEY_DIGEST_LEN or body.recipient != my_identity.key_digest:
        raise LineKeyError("sealed line key is addressed to another station")
    # open the seal
    try:
        key = hpke.open_sealed(
            body.hpke,
            kem_private=my_identity.kem_key,
            dh_private=my_identity.static_key,
            info=_hpke_info(body.sender, body.recipient, body.label),
        )
    except CryptoError:
        raise LineKeyError("sealed line key does not open with this station's keys") from None
    return _line_key(key, body.label, body.created_at, body.sender, body.recipient, "standard")


def _open_cnsa2(signed: _Signed, my_identity: Identity, sender_card: StationCard) -> LineKey:
    if sender_card.cnsa2 is None:
        raise LineKeyError("sealed line key is for a cnsa2 line, but the sender's card has no cnsa2 keys")
    if my_identity.cnsa2 is None:
        raise LineKeyError("sealed line key is for a cnsa2 line, but this station holds no cnsa2 keys")
    # verify the sender's ML-DSA-87 signature before reading the body
    try:
        sender_card.cnsa2.verify_key.verify(signed.signature, signed.body, context=LINE_KEY_CONTEXT_CNSA2)
    except CryptoError:
        raise LineKeyError("sealed line key is not signed by the sender's card") from None
    body = decode_canonical(_BODY2_DECODER, signed.body, what="sealed line key body", error=LineKeyError)
    if body.version != LINE_KEY_VERSION_CNSA2:
        raise LineKeyError(f"sealed line key version {body.version} is not supported for a cnsa2 line")
    if body.profile != "cnsa2":
        raise LineKeyError(f"sealed line key names the profile {body.profile!r}, not cnsa2")
    _check_metadata(body.label, body.created_at)
    if len(body.sender) != KEY_DIGEST_LEN or body.sender != sender_card.key_digest_for("cnsa2"):
        raise LineKeyError("sealed line key names a different sender than the card")
    if len(body.recipient) != KEY_DIGEST_LEN or body.recipient != my_identity.key_digest_for("cnsa2"):
        raise LineKeyError("sealed line key is addressed to another station")
    try:
        key = hpke.open_sealed_cnsa2(
            body.hpke,
            kem_private=my_identity.cnsa2.kem_key,
            dh_private=my_identity.cnsa2.seal_key,
            info=_hpke_info_cnsa2(body.sender, body.recipient, body.label),
        )
    except CryptoError:
        raise LineKeyError("sealed line key does not open with this station's keys") from None
    return _line_key(key, body.label, body.created_at, body.sender, body.recipient, "cnsa2")


def _line_key(
    key: bytes, label: str, created_at: int, sender: bytes, recipient: bytes, profile: ProfileName
) -> LineKey:
    if len(key) != LINE_KEY_LEN:
        raise LineKeyError("sealed line key holds a key of the wrong length")
    return LineKey(
        key,
        label,
        created_at,
        Fingerprint(sender[:FINGERPRINT_LEN]),
        Fingerprint(recipient[:FINGERPRINT_LEN]),
        profile,
    )
