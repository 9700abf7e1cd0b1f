"""The two stations of the identity vectors, A and B, from fixed inputs; their cards, signed
deterministically, and the line keys one seals to the other. Shared by ``vec_cards``,
``vec_linekeys`` and ``vec_pairing``. Test-only.

Every private input is :func:`~tests.conformance.vectorfile.fixed` under ``station <X>/<part>``. A card
is made the way :func:`hotline.proto.cards.issue_card` makes it (production code builds and encodes
the body) except that the signatures come from :func:`~tests.conformance.detcrypto.hybrid_sign`. A
sealed line key (:func:`grant`) is made the way :func:`hotline.proto.linekeys.seal_line_key` makes it,
except that the HPKE encapsulation and the signature come from :mod:`tests.conformance.detcrypto`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from hotline.crypto import p384
from hotline.crypto.sign import SIGNATURE_LEN, SIGNATURE_LEN_87
from hotline.proto import linekeys
from hotline.proto.cards import (
    CARD_SIGNATURE_CONTEXT,
    CARD_V2_CNSA2_SIGNATURE_CONTEXT,
    CARD_V2_SIGNATURE_CONTEXT,
    StationCard,
)
from hotline.proto.identity import Cnsa2Parts, Identity
from hotline.proto.linekeys import LINE_KEY_CONTEXT, LINE_KEY_CONTEXT_CNSA2
from tests.conformance.detcrypto import Sealing, hybrid_sign, seal_cnsa2, seal_standard
from tests.conformance.vectorfile import fixed, fixed_note

#: When the cards were issued (seconds since the Unix epoch: 2027-01-15 08:00:00 UTC).
CARD_CREATED_AT = 1_800_000_000

#: The private parts of a station: (name in the file, label suffix, size).
PARTS = (
    ("x25519_private", "x25519 private", 32),
    ("mlkem768_seed", "mlkem768 seed d||z", 64),
    ("ed25519_seed", "ed25519 seed", 32),
    ("mldsa65_xi", "mldsa65 xi", 32),
    ("mlkem1024_seed", "mlkem1024 seed d||z", 64),
    ("p384_scalar", "p384 scalar", 48),
    ("mldsa87_xi", "mldsa87 xi", 32),
)


@dataclass(frozen=True)
class Station:
    """One fixed station: its name, endpoints, private parts and identity."""

    letter: str
    name: str
    endpoints: tuple[str, ...]
    parts: dict[str, bytes]

    @property
    def signing_seed(self) -> bytes:
        """The 64-byte hybrid signing seed: Ed25519 seed, then ML-DSA-65 ``xi``."""
        return self.parts["ed25519_seed"] + self.parts["mldsa65_xi"]

    def identity(self, *, cnsa2: bool = True) -> Identity:
        """The identity; without ``cnsa2``, as the station was before it held cnsa2 keys."""
        parts = Cnsa2Parts(self.parts["mlkem1024_seed"], self.parts["p384_scalar"], self.parts["mldsa87_xi"])
        return Identity.from_parts(
            self.name,
            static_key=self.parts["x25519_private"],
            kem_seed=self.parts["mlkem768_seed"],
            signing_seed=self.signing_seed,
            cnsa2=parts if cnsa2 else None,
        )

    def inputs(self) -> dict[str, dict[str, str]]:
        """The fixed private inputs, as the file shows them."""
        return {
            key: {"from": fixed_note(_label(self.letter, suffix)), "hex": self.parts[key].hex()}
            for key, suffix, _ in PARTS
        }

    def card(self, *, version: int) -> StationCard:
        """The station's card of ``version`` (1: standard keys only), signed deterministically."""
        identity = self.identity(cnsa2=version == 2)
        public = identity.public()
        unsigned = StationCard(
            public.name,
            public.static_public,
            public.kem_public,
            public.verify_key,
            self.endpoints,
            CARD_CREATED_AT,
            bytes(SIGNATURE_LEN),
            version,
            public.cnsa2,
            bytes(SIGNATURE_LEN_87) if version == 2 else b"",
        )
        body = unsigned.body_bytes()
        ed, xi65, xi87 = self.parts["ed25519_seed"], self.parts["mldsa65_xi"], self.parts["mldsa87_xi"]
        if version == 1:
            return replace(
                unsigned, signature=hybrid_sign(ed, xi65, body, context=CARD_SIGNATURE_CONTEXT, level=65)
            )
        return replace(
            unsigned,
            signature=hybrid_sign(ed, xi65, body, context=CARD_V2_SIGNATURE_CONTEXT, level=65),
            signature87=hybrid_sign(ed, xi87, body, context=CARD_V2_CNSA2_SIGNATURE_CONTEXT, level=87),
        )


@dataclass(frozen=True)
class Grant:
    """One sealed line key and every value that went into it (docs/protocol.md §8.5)."""

    version: int
    key: bytes
    label: str
    created_at: int
    sender: bytes
    recipient: bytes
    info: bytes
    sealing: Sealing
    body: bytes
    signature: bytes

    @property
    def sealed(self) -> bytes:
        """The encoded sealed line key: ``[body, signature]``."""
        return linekeys._ENCODER.encode(linekeys._Signed(self.body, self.signature))


def grant(
    sender: Station,
    recipient: StationCard,
    profile: str,
    *,
    key: bytes,
    label: str,
    created_at: int,
    m: bytes,
    ephemeral: bytes,
) -> Grant:
    """``sender`` seals ``key`` to ``recipient``'s card for a line of ``profile``, deterministically:
    ``m`` is the ML-KEM encapsulation's randomness, ``ephemeral`` the classical ephemeral private key."""
    digests = sender.identity().key_digest_for(profile), recipient.key_digest_for(profile)
    ed = sender.parts["ed25519_seed"]
    if profile == "standard":
        info = linekeys._hpke_info(*digests, label)
        sealing = seal_standard(
            key,
            mlkem768_public=recipient.kem_public.raw,
            x25519_public=recipient.static_public.raw,
            info=info,
            m=m,
            ephemeral=ephemeral,
        )
        version = linekeys.LINE_KEY_VERSION
        body = linekeys._ENCODER.encode(linekeys._Body(version, label, *digests, created_at, sealing.sealed))
        signature = hybrid_sign(ed, sender.parts["mldsa65_xi"], body, context=LINE_KEY_CONTEXT, level=65)
    else:
        theirs = recipient.cnsa2_keys()
        info = linekeys._hpke_info_cnsa2(*digests, label)
        sealing = seal_cnsa2(
            key,
            mlkem1024_public=theirs.kem_public.raw,
            p384_public=theirs.seal_public.raw,
            info=info,
            m=m,
            ephemeral=ephemeral,
        )
        version = linekeys.LINE_KEY_VERSION_CNSA2
        body = linekeys._ENCODER.encode(
            linekeys._Body2(version, "cnsa2", label, *digests, created_at, sealing.sealed)
        )
        signature = hybrid_sign(
            ed, sender.parts["mldsa87_xi"], body, context=LINE_KEY_CONTEXT_CNSA2, level=87
        )
    return Grant(version, key, label, created_at, *digests, info, sealing, body, signature)


def _label(letter: str, suffix: str) -> str:
    return f"station {letter}/{suffix}"


def station(letter: str, name: str, endpoints: tuple[str, ...]) -> Station:
    """Station ``letter`` with every private part fixed."""
    parts = {key: fixed(_label(letter, suffix), size) for key, suffix, size in PARTS}
    assert p384.is_private_key(parts["p384_scalar"])  # a SHAKE output is below n but for 2^-190
    return Station(letter, name, endpoints, parts)


A = station("A", "Ottawa", ("hotline.example.ca:7400", "192.0.2.10:7400"))
B = station("B", "Zürich", ("[2001:db8::7]:7400",))
