"""Fixed keys and genuine protocol bytes shared by the fuzz targets and ``make_corpus.py``.

Everything here is reproducible: identities are rebuilt from one repeated byte per secret part, the
first handshake message uses a fixed X25519 ephemeral, a fixed ML-KEM seed and a fixed timestamp,
and pairing draws its CPace scalars from a SHAKE-256 stream. So a target can tell a genuine input
(one ``make_corpus.py`` wrote) from a forged one by comparing bytes, which is how the handshake
target checks that the responder answers nobody else.

These keys are public test keys. They protect nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import cache

from hotline.crypto.mlkem import MLKEM768, MLKEM768PrivateKey
from hotline.crypto.x25519 import X25519PrivateKey
from hotline.proto.cards import StationCard, issue_card
from hotline.proto.constants import PROLOGUE
from hotline.proto.handshake import NOISE_INIT_LEN, InitiatorHandshake
from hotline.proto.identity import Cnsa2Parts, Identity
from hotline.proto.noise import KemKeyPair

#: The initiator's wall clock in the genuine first handshake message (2023-11-14, nanoseconds).
WALL_NS = 1_700_000_000 * 10**9
#: The line key between ALPHA and BRAVO (the Noise PSK, and what the sealed line keys hold).
LINE_KEY = bytes(range(32))
#: Labels the sealed line keys in the corpus carry.
LINE_LABELS = ("alpha-bravo", "ops line 2")
#: The pairing code both fuzzed pairing machines and their corpus peers use.
PAIRING_CODE = "7-hobby-beach-donkey"
#: When the fixed cards were issued (seconds since the epoch).
CARD_TIME = 1_700_000_000


def fixed_identity(name: str, n: int) -> Identity:
    """A reproducible identity: every secret part is one repeated byte."""
    return Identity.from_parts(
        name, static_key=bytes([n]) * 32, kem_seed=bytes([n + 1]) * 64, signing_seed=bytes([n + 2]) * 64
    )


#: The initiator of the genuine handshake and the sender of the sealed line keys.
ALPHA = fixed_identity("alpha", 1)
#: The responder under test and the recipient of the sealed line keys.
BRAVO = fixed_identity("bravo", 11)
#: A third station: the wrong identity to open BRAVO's line keys with.
CHARLIE = fixed_identity("charlie", 21)


def with_cnsa2(identity: Identity, n: int) -> Identity:
    """``identity`` with reproducible cnsa2 keys (one repeated byte per part)."""
    return identity.with_cnsa2(Cnsa2Parts(bytes([n + 3]) * 64, bytes([n + 4]) * 48, bytes([n + 5]) * 32))


#: The same three stations with cnsa2 keys (version 2 cards, cnsa2 line keys).
ALPHA2 = with_cnsa2(ALPHA, 1)
BRAVO2 = with_cnsa2(BRAVO, 11)
CHARLIE2 = with_cnsa2(CHARLIE, 21)


_CARDS: dict[str, StationCard] = {}


def card(identity: Identity) -> StationCard:
    """``identity``'s card, issued once per process (ML-DSA signing is randomised, so two issues of
    the same card differ in their signature bytes; every one of them verifies)."""
    key = f"{identity.name} {identity.profiles}"
    if key not in _CARDS:
        endpoints = [f"{identity.name}.example:7000"]
        _CARDS[key] = issue_card(identity, endpoints=endpoints, created_at=CARD_TIME)
    return _CARDS[key]


@cache
def genuine_initiation() -> bytes:
    """The body of a real first handshake record from ALPHA to BRAVO: Noise message 1 then mac1."""
    kem_seed = bytes([0x42]) * 64
    kem_public = MLKEM768PrivateKey.from_seed(kem_seed).public_key().raw
    hs = InitiatorHandshake(
        static=ALPHA.static_key,
        responder_static=BRAVO.static_key.public_key().raw,
        line_key=LINE_KEY,
        prologue=PROLOGUE,
        timestamp_ns=WALL_NS,
        ephemeral=X25519PrivateKey.from_bytes(bytes([0x41]) * 32),
        kem=MLKEM768(),
        kem_ephemeral=KemKeyPair(kem_seed, kem_public),
    )
    return hs.create_initiation()


def genuine_noise_message() -> bytes:
    """The Noise part of :func:`genuine_initiation` (what mac1 covers)."""
    return genuine_initiation()[:NOISE_INIT_LEN]


def entropy(label: str) -> Callable[[int], bytes]:
    """A reproducible ``entropy(n)`` function: successive bytes of SHAKE-256(label)."""
    state = {"used": 0}

    def draw(n: int) -> bytes:
        start = state["used"]
        state["used"] = start + n
        return hashlib.shake_256(label.encode()).digest(start + n)[start:]

    return draw
