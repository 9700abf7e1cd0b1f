"""Our code against ``docs/vectors/cards.json``: identities, cards, safety numbers, key files.

Reads only the published file: derives every key from the private inputs, decodes and verifies each
card, recomputes digests, fingerprints and safety numbers from the public keys, and opens each key file.
"""

from __future__ import annotations

import pytest

from hotline.crypto.aead import CipherKey
from hotline.crypto.passphrase import Argon2Params, derive_key
from hotline.crypto.sign import ED25519_PUBLIC_LEN
from hotline.proto.cards import CardError, armor_card, dearmor_card, decode_card, encode_card
from hotline.proto.identity import Cnsa2Parts, Fingerprint, Identity
from hotline.proto.keyfile import HEADER_LEN, open_identity, seal_identity
from hotline.proto.safety import safety_number
from tests.conformance.vectorfile import load

DATA = load("cards.json")
STATIONS = ("A", "B")
CARDS = tuple(DATA["cards"])


def _b(text: str) -> bytes:
    return bytes.fromhex(text)


def _identity(letter: str, *, cnsa2: bool = True) -> Identity:
    private = {k: _b(v["hex"]) for k, v in DATA["inputs"][letter].items()}
    return Identity.from_parts(
        DATA["stations"][letter]["name"],
        static_key=private["x25519_private"],
        kem_seed=private["mlkem768_seed"],
        signing_seed=private["ed25519_seed"] + private["mldsa65_xi"],
        cnsa2=Cnsa2Parts(private["mlkem1024_seed"], private["p384_scalar"], private["mldsa87_xi"])
        if cnsa2
        else None,
    )


@pytest.mark.parametrize("letter", STATIONS)
def test_public_keys_derive_from_the_private_inputs(letter: str) -> None:
    station = DATA["stations"][letter]
    identity = _identity(letter)
    public, cnsa2 = identity.public(), identity.cnsa2_keys().public
    expected = station["public"]
    assert public.static_public.raw.hex() == expected["x25519"]
    assert public.kem_public.raw.hex() == expected["mlkem768"]
    assert public.verify_key.raw.hex() == expected["verify_key"] == expected["ed25519"] + expected["mldsa65"]
    assert cnsa2.kem_public.raw.hex() == expected["mlkem1024"]
    assert cnsa2.seal_public.raw.hex() == expected["p384"]
    assert (
        cnsa2.verify_key.raw.hex()
        == expected["verify_key_cnsa2"]
        == expected["ed25519"] + expected["mldsa87"]
    )
    assert (
        station["private"]["signing_seed"]
        == station["private"]["ed25519_seed"] + station["private"]["mldsa65_xi"]
    )
    assert identity.signing_key.seed.hex() == station["private"]["signing_seed"]


@pytest.mark.parametrize("letter", STATIONS)
def test_digests_and_fingerprints(letter: str) -> None:
    station = DATA["stations"][letter]
    identity = _identity(letter)
    for profile in ("standard", "cnsa2"):
        digest = identity.key_digest_for(profile)
        assert digest.hex() == station[f"key_digest_{profile}"]
        assert str(identity.fingerprint_for(profile)) == station[f"fingerprint_{profile}"]
        assert Fingerprint.parse(station[f"fingerprint_{profile}"]).raw == digest[:20]
    # a station's standard keys, and so its standard digest, are the same before it held cnsa2 keys
    assert _identity(letter, cnsa2=False).key_digest.hex() == station["key_digest_standard"]


@pytest.mark.parametrize("name", CARDS)
def test_card_decodes_verifies_and_encodes_back(name: str) -> None:
    vector = DATA["cards"][name]
    station = DATA["stations"][name[0]]
    card = decode_card(_b(vector["card"]))  # verifies the signatures
    assert card.version == vector["version"]
    assert card.name == station["name"]
    assert list(card.endpoints) == station["endpoints"]
    assert card.created_at == vector["created_at"] == DATA["inputs"]["card_created_at"]
    assert card.body_bytes().hex() == vector["body"]
    assert card.signature.hex() == vector["signature"]
    assert card.signature87.hex() == vector.get("signature87", "")
    assert encode_card(card).hex() == vector["card"]
    assert card.verify_key.raw.hex() == station["public"]["verify_key"]
    assert card.key_digest.hex() == station["key_digest_standard"]
    if card.version == 2:
        assert card.cnsa2 is not None
        assert card.cnsa2.verify_key.raw[ED25519_PUBLIC_LEN:].hex() == station["public"]["mldsa87"]
        assert card.key_digest_for("cnsa2").hex() == station["key_digest_cnsa2"]
    else:
        assert card.profiles == ("standard",)


@pytest.mark.parametrize("name", CARDS)
def test_armored_card_reads_and_is_what_we_write(name: str) -> None:
    vector = DATA["cards"][name]
    card = dearmor_card(vector["armored"])
    assert encode_card(card).hex() == vector["card"]
    assert armor_card(card) == vector["armored"]
    # the checksum is lower-case hex, and only that is accepted (§8.3)
    lines = vector["armored"].split("\n")
    checksum = next(i for i, line in enumerate(lines) if line.startswith("="))
    lines[checksum] = lines[checksum].upper()
    with pytest.raises(CardError, match="checksum"):
        dearmor_card("\n".join(lines))


@pytest.mark.parametrize("name", CARDS)
def test_a_card_with_one_signature_byte_changed_is_refused(name: str) -> None:
    vector = DATA["cards"][name]
    card, body = bytearray(_b(vector["card"])), _b(vector["body"])
    # the last byte of the envelope is the last byte of the last signature
    card[-1] ^= 1
    assert len(card) > len(body)
    with pytest.raises(CardError, match="does not verify"):
        decode_card(bytes(card))


@pytest.mark.parametrize("profile", ("standard", "cnsa2"))
def test_safety_numbers(profile: str) -> None:
    vector = DATA["safety_numbers"][profile]
    a, b = (decode_card(_b(DATA["cards"][f"{x}_v2"]["card"])) for x in STATIONS)
    digests = sorted(bytes.fromhex(DATA["stations"][x][f"key_digest_{profile}"]) for x in STATIONS)
    assert [d.hex() for d in digests] == [vector["lo"], vector["hi"]]
    for first, second in ((a, b), (b, a)):
        number = safety_number(first, second, profile)
        assert number.material.hex() == vector["material"]
        assert number.digits == vector["digits"]
        assert " ".join(number.words) == vector["words"]
        assert number.matches(vector["digits"]) and number.matches(vector["words"])


@pytest.mark.parametrize("name", tuple(DATA["key_files"]))
def test_key_file_opens_and_seals_again_byte_for_byte(name: str) -> None:
    vector = DATA["key_files"][name]
    cnsa2 = vector["version"] == 2
    data, passphrase = _b(vector["file"]), DATA["inputs"]["key_file_passphrase"]
    assert data[8] == vector["version"]
    identity = open_identity(data, passphrase)
    assert identity == _identity("A", cnsa2=cnsa2)
    params = Argon2Params(**DATA["inputs"]["key_file_argon2id"])
    again = seal_identity(
        identity, passphrase, params, salt=_b(vector["salt"]["hex"]), nonce=_b(vector["nonce"]["hex"])
    )
    assert again == data
    # the inside, for an implementer to check each step
    key = derive_key(passphrase.encode("utf-8"), _b(vector["salt"]["hex"]), params)
    assert key.hex() == vector["argon2id_key"]
    assert (
        CipherKey(key).open(data[22 + 16 : 50], data[:HEADER_LEN], data[HEADER_LEN:-16]).hex()
        == vector["plaintext"]
    )


@pytest.mark.parametrize("case", DATA["refused_cards"], ids=lambda c: c["what"])
def test_refused_cards(case: dict[str, str]) -> None:
    with pytest.raises(CardError, match=case["refusal"]):
        decode_card(_b(case["card"]))


@pytest.mark.parametrize("case", DATA["refused_armor"], ids=lambda c: c["what"])
def test_refused_armor(case: dict[str, str]) -> None:
    with pytest.raises(CardError, match=case["refusal"]):
        dearmor_card(case["armored"])
