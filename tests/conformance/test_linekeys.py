"""Our code against ``docs/vectors/linekeys.json``: sealed line keys from station A to station B.

Reads only the published files (this one, and ``cards.json`` for the two stations): B opens each
sealed key with its private keys under A's card and gets the line key, label and time; the pieces
(body, ``info``, ``enc``, the ML-KEM and classical shared secrets) are what B's keys compute; and a
grant file is accepted once and refused when presented again.
"""

from __future__ import annotations

import hashlib

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from hotline.crypto import hpke
from hotline.crypto.mlkem import MLKEM768PrivateKey, MLKEM1024PrivateKey
from hotline.crypto.p384 import P384PrivateKey, P384PublicKey
from hotline.crypto.x25519 import X25519PrivateKey, X25519PublicKey
from hotline.proto.cards import StationCard, decode_card
from hotline.proto.identity import Cnsa2Parts, Identity
from hotline.proto.linekeys import LineKeyError, check_supersedes, open_line_key
from tests.conformance.vectorfile import load

DATA = load("linekeys.json")
CARDS = load("cards.json")
PROFILES = ("standard", "cnsa2")


def _b(text: str) -> bytes:
    return bytes.fromhex(text)


def _b_private() -> dict[str, bytes]:
    return {k: _b(v["hex"]) for k, v in CARDS["inputs"]["B"].items()}


def _identity_b() -> Identity:
    private = _b_private()
    return Identity.from_parts(
        CARDS["stations"]["B"]["name"],
        static_key=private["x25519_private"],
        kem_seed=private["mlkem768_seed"],
        signing_seed=private["ed25519_seed"] + private["mldsa65_xi"],
        cnsa2=Cnsa2Parts(private["mlkem1024_seed"], private["p384_scalar"], private["mldsa87_xi"]),
    )


def _card_a() -> StationCard:
    return decode_card(_b(CARDS["cards"]["A_v2"]["card"]))


@pytest.mark.parametrize("profile", PROFILES)
def test_b_opens_the_sealed_key_with_its_private_keys(profile: str) -> None:
    vector = DATA["sealed"][profile]
    key = open_line_key(_b(vector["sealed"]), _identity_b(), _card_a(), profile=profile)
    assert key.key.hex() == vector["line_key"]
    assert key.label == vector["label"] == DATA["inputs"]["label"]
    assert key.created_at == vector["created_at"] == DATA["inputs"]["created_at"]
    assert key.profile == profile
    assert key.sender.raw.hex() == vector["sender"][:40]
    assert key.recipient.raw.hex() == vector["recipient"][:40]
    assert vector["sender"] == CARDS["stations"]["A"][f"key_digest_{profile}"]
    assert vector["recipient"] == CARDS["stations"]["B"][f"key_digest_{profile}"]


@pytest.mark.parametrize("profile", PROFILES)
def test_the_pieces_are_what_the_spec_says(profile: str) -> None:
    vector, seal = DATA["sealed"][profile], DATA["sealed"][profile]["hpke"]
    # envelope and body, as plain msgpack arrays
    body, signature = msgspec.msgpack.decode(_b(vector["sealed"]))
    assert body.hex() == vector["body"] and signature.hex() == vector["signature"]
    fields = msgspec.msgpack.decode(body)
    head = [vector["version"]] + (["cnsa2"] if profile == "cnsa2" else [])
    assert fields == [
        *head,
        vector["label"],
        _b(vector["sender"]),
        _b(vector["recipient"]),
        vector["created_at"],
        _b(seal["enc"] + seal["ciphertext"]),
    ]
    # info = context || 0x00 || ["cnsa2" || 0x00] || sender || recipient || label
    prefix = b"hotline line key v1\x00" if profile == "standard" else b"hotline line key v2\x00cnsa2\x00"
    info = prefix + _b(vector["sender"]) + _b(vector["recipient"]) + vector["label"].encode("utf-8")
    assert seal["info"] == info.hex()
    assert seal["enc"] == seal["mlkem_ciphertext"] + seal["ephemeral_public"]
    assert len(_b(seal["ciphertext"])) == 32 + 16
    assert seal["aad"] == ""
    # B's keys give the two component shared secrets the file shows
    private = _b_private()
    sealed = _b(seal["enc"] + seal["ciphertext"])
    if profile == "standard":
        mlkem = MLKEM768PrivateKey.from_seed(private["mlkem768_seed"])
        x25519 = X25519PrivateKey.from_bytes(private["x25519_private"])
        dh = x25519.exchange(X25519PublicKey.from_bytes(_b(seal["ephemeral_public"])))
        opened = hpke.open_sealed(sealed, kem_private=mlkem, dh_private=x25519, info=info)
        ss_pq = mlkem.decapsulate(_b(seal["mlkem_ciphertext"]))
        assert seal["suite_id"] == b"HPKE".hex() + "647a00010003"
    else:
        mlkem1024 = MLKEM1024PrivateKey.from_seed(private["mlkem1024_seed"])
        p384 = P384PrivateKey.from_bytes(private["p384_scalar"])
        dh = _p384_exchange(p384, P384PublicKey.from_bytes(_b(seal["ephemeral_public"])))
        opened = hpke.open_sealed_cnsa2(sealed, kem_private=mlkem1024, dh_private=p384, info=info)
        ss_pq = mlkem1024.decapsulate(_b(seal["mlkem_ciphertext"]))
        assert seal["suite_id"] == b"HPKE".hex() + "005100020002"
    assert ss_pq.hex() == seal["mlkem_shared_secret"]
    # the combiner of §8.5, and the AEAD key and nonce the file gives open the ciphertext
    label = b"\\.//^\\" if profile == "standard" else b"MLKEM1024-P384"
    ek_t = CARDS["stations"]["B"]["public"]["x25519" if profile == "standard" else "p384"]
    combined = ss_pq + dh + _b(seal["ephemeral_public"]) + _b(ek_t) + label
    assert hashlib.sha3_256(combined).hexdigest() == seal["kem_shared_secret"]
    aead = ChaCha20Poly1305 if profile == "standard" else AESGCM
    plain = aead(_b(seal["aead_key"])).decrypt(_b(seal["aead_base_nonce"]), _b(seal["ciphertext"]), b"")
    assert plain.hex() == vector["line_key"]
    assert dh.hex() == seal["dh_shared_secret"]
    assert opened.hex() == vector["line_key"]


def _p384_exchange(private: P384PrivateKey, public: P384PublicKey) -> bytes:
    # the ECDH shared secret: the x-coordinate, 48 bytes
    return private.pyca.exchange(ec.ECDH(), public.pyca)


@pytest.mark.parametrize("profile", PROFILES)
def test_a_key_for_the_other_profile_is_refused(profile: str) -> None:
    other = "cnsa2" if profile == "standard" else "standard"
    with pytest.raises(LineKeyError, match=f"for a {profile} line, but this line is {other}"):
        open_line_key(_b(DATA["sealed"][profile]["sealed"]), _identity_b(), _card_a(), profile=other)


@pytest.mark.parametrize("profile", PROFILES)
def test_the_grant_file_is_accepted_once(profile: str) -> None:
    vector = DATA["sealed"][profile]
    assert vector["grant_file"] == vector["sealed"]
    key = open_line_key(_b(vector["grant_file"]), _identity_b(), _card_a(), profile=profile)
    check_supersedes(key.created_at, None, line="Ottawa")
    check_supersedes(key.created_at, key.created_at - 1, line="Ottawa")
    # the same file again (an equal created_at) is refused, and so is an older one
    for held in (key.created_at, key.created_at + 1):
        with pytest.raises(LineKeyError, match="the one the line 'Ottawa' holds"):
            check_supersedes(key.created_at, held, line="Ottawa")


@pytest.mark.parametrize("case", DATA["refused"], ids=lambda c: c["what"])
def test_refused(case: dict[str, str]) -> None:
    with pytest.raises(LineKeyError, match=case["refusal"]):
        open_line_key(_b(case["sealed"]), _identity_b(), _card_a(), profile=case["profile"])
