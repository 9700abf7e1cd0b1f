"""Wycheproof and ACVP vectors for the primitives of the ``cnsa2`` line profile, through our wrappers
in :mod:`hotline.crypto`, never through pyca directly.

Source: C2SP/wycheproof @ dac1dd4729fd, testvectors_v1/ (see tests/vectors/README.md), and the ACVP
ML-KEM key-generation file already used for ML-KEM-768. Every case id names the file and its ``tcId``,
e.g. ``wycheproof/aes_gcm/tc97``. Verdicts are read as in ``test_wycheproof.py``: ``valid`` must be
accepted with the expected output, ``invalid`` must be refused with :class:`CryptoError` (or ``False``
from a boolean verify helper), never another exception.

Our AES-GCM key is AES-256 with 96-bit nonces only, so the file's 128- and 192-bit keys must be refused
at construction and its other nonce sizes at every call; the 256-bit, 96-bit-nonce groups run in full.
pyca signs ML-DSA hedged (fresh randomness), so the ML-DSA-87 signing file checks the key derived from
each seed, that the expected signature verifies under it, and that our own signature does too.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from hotline.crypto.aead import AesGcmKey
from hotline.crypto.errors import CryptoError
from hotline.crypto.hashing import DigestName, constant_time_equal, hkdf, hmac_digest
from hotline.crypto.mlkem import MLKEM1024PrivateKey, MLKEM1024PublicKey
from hotline.crypto.sign import mldsa87_public_from_seed, mldsa87_sign, mldsa87_verify
from tests.support.vectors import load_json
from tests.unit.crypto.test_wycheproof import _cases, _hex, expanded_key_parts_match

AES_GCM = _cases("aes_gcm")
MLKEM_DECAPS = _cases("mlkem_1024")
MLKEM_ENCAPS = _cases("mlkem_1024_encaps")
MLKEM_KEYGEN = _cases("mlkem_1024_keygen_seed")
MLDSA87_VERIFY = _cases("mldsa_87_verify")
MLDSA87_SIGN = _cases("mldsa_87_sign_seed")
HMAC = {name: _cases(f"hmac_{name.lower()}") for name in ("SHA384", "SHA512")}
HKDF = {name: _cases(f"hkdf_{name.lower()}") for name in ("SHA384", "SHA512")}


def _acvp_1024() -> list[Any]:
    data = load_json("mlkem", "acvp-ML-KEM-keyGen-FIPS203-internalProjection.json")
    return [
        pytest.param(test, id=f"acvp/ML-KEM-1024/keyGen/tc{test['tcId']}")
        for group in data["testGroups"]
        if group["parameterSet"] == "ML-KEM-1024"
        for test in group["tests"]
    ]


ACVP_1024 = _acvp_1024()

#: Cases in each file when it was copied in (a loader that silently finds fewer fails here).
FLOORS: dict[str, tuple[list[Any], int]] = {
    "aes_gcm": (AES_GCM, 316),
    "mlkem_1024": (MLKEM_DECAPS, 193),
    "mlkem_1024_encaps": (MLKEM_ENCAPS, 269),
    "mlkem_1024_keygen_seed": (MLKEM_KEYGEN, 100),
    "mldsa_87_verify": (MLDSA87_VERIFY, 241),
    "mldsa_87_sign_seed": (MLDSA87_SIGN, 96),
    "hmac_sha384": (HMAC["SHA384"], 174),
    "hmac_sha512": (HMAC["SHA512"], 174),
    "hkdf_sha384": (HKDF["SHA384"], 83),
    "hkdf_sha512": (HKDF["SHA512"], 83),
    "acvp/ML-KEM-1024/keyGen": (ACVP_1024, 25),
}


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_case_count_floor(name: str) -> None:
    cases, floor = FLOORS[name]
    assert len(cases) >= floor


# -- AES-256-GCM (SP 800-38D) -------------------------------------------------------------------------


@pytest.mark.parametrize(("group", "test"), AES_GCM)
def test_aes_gcm(group: dict[str, Any], test: dict[str, Any]) -> None:
    key_bytes, nonce, ad, msg = _hex(test, "key"), _hex(test, "iv"), _hex(test, "aad"), _hex(test, "msg")
    sealed = _hex(test, "ct") + _hex(test, "tag")
    if group["keySize"] != 256:
        with pytest.raises(CryptoError):
            AesGcmKey(key_bytes)
        return
    key = AesGcmKey(key_bytes)
    if group["ivSize"] != 96 or group["tagSize"] != 128:
        # a valid case in GCM, but not a shape we seal or open
        with pytest.raises(CryptoError):
            key.open(nonce, ad, sealed)
        with pytest.raises(CryptoError):
            key.seal(nonce, ad, msg)
        return
    if test["result"] == "valid":
        assert key.seal(nonce, ad, msg) == sealed
        out = bytearray(len(sealed))
        key.seal_into(nonce, ad, msg, memoryview(out))
        assert bytes(out) == sealed
        assert key.open(nonce, ad, sealed) == msg
    else:
        with pytest.raises(CryptoError):
            key.open(nonce, ad, sealed)


def test_aes_gcm_runs_enough_full_cases() -> None:
    """The filter above must leave a real number of 256-bit, 96-bit-nonce cases to check in full."""
    full = [p for p in AES_GCM if p.values[0]["keySize"] == 256 and p.values[0]["ivSize"] == 96]
    assert len(full) >= 60
    assert sum(p.values[1]["result"] == "invalid" for p in full) >= 20


# -- ML-KEM-1024 (FIPS 203) ---------------------------------------------------------------------------


@pytest.mark.parametrize(("group", "test"), MLKEM_DECAPS)
def test_mlkem1024_decapsulate(group: dict[str, Any], test: dict[str, Any]) -> None:
    assert group["parameterSet"] == "ML-KEM-1024"
    seed, ciphertext = _hex(test, "seed"), _hex(test, "c")
    if test["result"] == "valid":
        key = MLKEM1024PrivateKey.from_seed(seed)
        assert key.public_key().raw == _hex(test, "ek")
        assert key.decapsulate(ciphertext) == _hex(test, "K")
    elif len(seed) != 64:
        with pytest.raises(CryptoError):
            MLKEM1024PrivateKey.from_seed(seed)
    else:
        key = MLKEM1024PrivateKey.from_seed(seed)
        with pytest.raises(CryptoError):
            key.decapsulate(ciphertext)


@pytest.mark.parametrize(("group", "test"), MLKEM_ENCAPS)
def test_mlkem1024_encapsulation_key(group: dict[str, Any], test: dict[str, Any]) -> None:
    assert group["parameterSet"] == "ML-KEM-1024"
    encoded = _hex(test, "ek")
    if test["result"] == "valid":
        public = MLKEM1024PublicKey.from_bytes(encoded)
        assert public.raw == encoded
        shared, ciphertext = public.encapsulate()
        assert (len(shared), len(ciphertext)) == (32, 1568)
    else:
        with pytest.raises(CryptoError):
            MLKEM1024PublicKey.from_bytes(encoded)


def _expanded_1024_parts_match(dk: bytes, ek: bytes, z: bytes) -> bool:
    # ML-KEM-1024's dk = dk_pke (1536) || ek (1568) || H(ek) (32) || z (32)
    return dk[1536:3104] == ek and dk[3104:3136] == hashlib.sha3_256(ek).digest() and dk[3136:] == z


@pytest.mark.parametrize(("group", "test"), MLKEM_KEYGEN)
def test_mlkem1024_keygen_from_seed(group: dict[str, Any], test: dict[str, Any]) -> None:
    assert group["parameterSet"] == "ML-KEM-1024"
    seed, ek = _hex(test, "seed"), _hex(test, "ek")
    key = MLKEM1024PrivateKey.from_seed(seed)
    assert key.public_key().raw == ek
    assert key.seed == seed
    assert _expanded_1024_parts_match(_hex(test, "dk"), ek, seed[32:])


@pytest.mark.parametrize("test", ACVP_1024)
def test_acvp_mlkem1024_keygen(test: dict[str, Any]) -> None:
    d, z = bytes.fromhex(test["d"]), bytes.fromhex(test["z"])
    ek = bytes.fromhex(test["ek"])
    key = MLKEM1024PrivateKey.from_seed(d + z)
    assert key.public_key().raw == ek
    assert MLKEM1024PublicKey.from_bytes(ek) == key.public_key()
    assert _expanded_1024_parts_match(bytes.fromhex(test["dk"]), ek, z)


def test_the_768_layout_helper_is_not_the_1024_one() -> None:
    """Guard against checking 1024 keys with the 768 offsets (they would silently compare wrong parts)."""
    test = MLKEM_KEYGEN[0].values[1]
    seed, ek, dk = _hex(test, "seed"), _hex(test, "ek"), _hex(test, "dk")
    assert not expanded_key_parts_match(dk, ek, seed)


# -- ML-DSA-87 (FIPS 204) -----------------------------------------------------------------------------


@pytest.mark.parametrize(("group", "test"), MLDSA87_VERIFY)
def test_mldsa87_verify(group: dict[str, Any], test: dict[str, Any]) -> None:
    public = bytes.fromhex(group["publicKey"])
    context = bytes.fromhex(test.get("ctx", ""))
    ok = mldsa87_verify(public, _hex(test, "sig"), _hex(test, "msg"), context)
    assert ok is (test["result"] == "valid")


@pytest.mark.parametrize(("group", "test"), MLDSA87_SIGN)
def test_mldsa87_sign_from_seed(group: dict[str, Any], test: dict[str, Any]) -> None:
    seed = bytes.fromhex(group["privateSeed"])
    context = bytes.fromhex(test.get("ctx", ""))
    if "IncorrectPrivateKeyLength" in test["flags"]:
        assert test["result"] == "invalid"
        with pytest.raises(CryptoError):
            mldsa87_public_from_seed(seed)
        return
    public = mldsa87_public_from_seed(seed)
    assert public == bytes.fromhex(group["publicKey"])  # the known answer: KeyGen from the seed
    if "Internal" in test["flags"]:
        return  # signs a precomputed mu (external-mu interface), which we do not expose
    message = _hex(test, "msg")
    if test["result"] == "invalid":
        assert "InvalidContext" in test["flags"]
        with pytest.raises(CryptoError):
            mldsa87_sign(seed, message, context)
        return
    assert mldsa87_verify(public, _hex(test, "sig"), message, context)
    ours = mldsa87_sign(seed, message, context)
    assert len(ours) == 4627
    assert mldsa87_verify(public, ours, message, context)
    assert not mldsa87_verify(public, ours, message + b"x", context)


# -- HMAC and HKDF with SHA-384 and SHA-512 -----------------------------------------------------------


def _named(cases: dict[str, list[Any]]) -> list[Any]:
    return [pytest.param(name, *p.values, id=p.id) for name, params in cases.items() for p in params]


@pytest.mark.parametrize(("name", "group", "test"), _named(HMAC))
def test_hmac(name: DigestName, group: dict[str, Any], test: dict[str, Any]) -> None:
    tag_len = group["tagSize"] // 8
    tag = hmac_digest(name, _hex(test, "key"), _hex(test, "msg"))[:tag_len]
    assert constant_time_equal(tag, _hex(test, "tag")) is (test["result"] == "valid")


@pytest.mark.parametrize(("name", "group", "test"), _named(HKDF))
def test_hkdf(name: DigestName, group: dict[str, Any], test: dict[str, Any]) -> None:
    ikm, salt, info, size = _hex(test, "ikm"), _hex(test, "salt"), _hex(test, "info"), int(test["size"])
    if test["result"] == "valid":
        assert hkdf(name, ikm, salt=salt, info=info, length=size) == _hex(test, "okm")
    else:
        assert "SizeTooLarge" in test["flags"]
        with pytest.raises(CryptoError):
            hkdf(name, ikm, salt=salt, info=info, length=size)
