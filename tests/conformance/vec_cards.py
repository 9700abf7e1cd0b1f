"""``docs/vectors/cards.json``: station identities, cards, fingerprints, safety numbers and key files
(docs/protocol.md §2.1, §8.1 to §8.4, §8.6).

Everything but the two ML-DSA signatures of each card is made by production code from the fixed
inputs; the signatures are FIPS 204's deterministic variant (:mod:`tests.conformance.detcrypto`).
"""

from __future__ import annotations

from typing import Any

from hotline.crypto.aead import CipherKey
from hotline.crypto.passphrase import Argon2Params, derive_key
from hotline.crypto.sign import ED25519_PUBLIC_LEN
from hotline.proto.cards import StationCard, armor_card, encode_card
from hotline.proto.keyfile import HEADER_LEN, seal_identity
from hotline.proto.safety import safety_number
from tests.conformance.refusals import refused_armor, refused_cards
from tests.conformance.stations import CARD_CREATED_AT, A, B, Station
from tests.conformance.vectorfile import fixed, fixed_note

FILE = "cards.json"

#: The key files' passphrase (NFC; ``é`` is U+00E9) and their Argon2id costs (the ``light`` profile).
PASSPHRASE = "correct horse battery staple, très bien"
KEYFILE_PARAMS = Argon2Params(memory_kib=8 * 1024, iterations=1, lanes=1)


def _station(s: Station) -> dict[str, Any]:
    identity = s.identity()
    public = identity.public()
    cnsa2 = identity.cnsa2_keys().public
    return {
        "name": s.name,
        "endpoints": list(s.endpoints),
        "private": {**{k: v.hex() for k, v in s.parts.items()}, "signing_seed": s.signing_seed.hex()},
        "public": {
            "x25519": public.static_public.raw.hex(),
            "mlkem768": public.kem_public.raw.hex(),
            "ed25519": public.verify_key.raw[:ED25519_PUBLIC_LEN].hex(),
            "mldsa65": public.verify_key.raw[ED25519_PUBLIC_LEN:].hex(),
            "verify_key": public.verify_key.raw.hex(),
            "mlkem1024": cnsa2.kem_public.raw.hex(),
            "p384": cnsa2.seal_public.raw.hex(),
            "mldsa87": cnsa2.verify_key.raw[ED25519_PUBLIC_LEN:].hex(),
            "verify_key_cnsa2": cnsa2.verify_key.raw.hex(),
        },
        "key_digest_standard": identity.key_digest_for("standard").hex(),
        "key_digest_cnsa2": identity.key_digest_for("cnsa2").hex(),
        "fingerprint_standard": str(identity.fingerprint_for("standard")),
        "fingerprint_cnsa2": str(identity.fingerprint_for("cnsa2")),
    }


def _card(card: StationCard) -> dict[str, Any]:
    data = encode_card(card)
    out: dict[str, Any] = {
        "version": card.version,
        "created_at": card.created_at,
        "body": card.body_bytes().hex(),
        "signature": card.signature.hex(),
    }
    if card.version == 2:
        out["signature87"] = card.signature87.hex()
    out["card"] = data.hex()
    out["armored"] = armor_card(card)
    return out


def _safety(profile: str) -> dict[str, Any]:
    a, b = A.identity().public(), B.identity().public()
    lo, hi = sorted((a.key_digest_for(profile), b.key_digest_for(profile)))
    number = safety_number(a, b, profile)
    return {
        "lo": lo.hex(),
        "hi": hi.hex(),
        "material": number.material.hex(),
        "digits": number.digits,
        "words": " ".join(number.words),
    }


def _key_file(s: Station, *, cnsa2: bool) -> dict[str, Any]:
    tag = "v2" if cnsa2 else "v1"
    salt, nonce = (
        fixed(f"station {s.letter}/key file {tag} salt", 16),
        fixed(f"station {s.letter}/key file {tag} nonce", 12),
    )
    data = seal_identity(s.identity(cnsa2=cnsa2), PASSPHRASE, KEYFILE_PARAMS, salt=salt, nonce=nonce)
    key = derive_key(PASSPHRASE.encode("utf-8"), salt, KEYFILE_PARAMS)
    plaintext = CipherKey(key).open(nonce, data[:HEADER_LEN], data[HEADER_LEN:-16])
    return {
        "version": 2 if cnsa2 else 1,
        "salt": {"from": fixed_note(f"station {s.letter}/key file {tag} salt"), "hex": salt.hex()},
        "nonce": {"from": fixed_note(f"station {s.letter}/key file {tag} nonce"), "hex": nonce.hex()},
        "argon2id_key": key.hex(),
        "plaintext": plaintext.hex(),
        "file": data.hex(),
    }


def build() -> dict[str, Any]:
    """The file's content."""
    return {
        "about": (
            "Two station identities A and B from fixed private inputs: every public key, both key digests "
            "and fingerprints (docs/protocol.md §8.1); their version 2 cards and A's version 1 card (A "
            "before it held cnsa2 keys), each as body, signatures, encoded card and armored text (§8.2, "
            "§8.3); the safety numbers of an A-B line under both profiles (§8.4); A's key files of "
            "versions 2 and 1 (§8.6); cards and armored texts a reader must refuse, each one fault away "
            "from A's card (§2.1, §8.3). ML-DSA signatures use FIPS 204's deterministic variant."
        ),
        "inputs": {
            "A": A.inputs(),
            "B": B.inputs(),
            "card_created_at": CARD_CREATED_AT,
            "key_file_passphrase": PASSPHRASE,
            "key_file_argon2id": {
                "memory_kib": KEYFILE_PARAMS.memory_kib,
                "iterations": KEYFILE_PARAMS.iterations,
                "lanes": KEYFILE_PARAMS.lanes,
            },
        },
        "stations": {"A": _station(A), "B": _station(B)},
        "cards": {
            "A_v2": _card(A.card(version=2)),
            "B_v2": _card(B.card(version=2)),
            "A_v1": _card(A.card(version=1)),
        },
        "safety_numbers": {"standard": _safety("standard"), "cnsa2": _safety("cnsa2")},
        "key_files": {"A_v2": _key_file(A, cnsa2=True), "A_v1": _key_file(A, cnsa2=False)},
        "refused_cards": refused_cards(),
        "refused_armor": refused_armor(),
    }
