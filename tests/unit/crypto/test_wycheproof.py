"""Wycheproof vectors run through our wrappers in :mod:`hotline.crypto`, never through pyca directly.

Source: C2SP/wycheproof @ dac1dd4729fd, testvectors_v1/ (see tests/vectors/README.md). Every case id
names the file and the Wycheproof ``tcId``, e.g. ``wycheproof/x25519/tc32``.

How we read the verdicts:

* ``valid`` must be accepted and give the expected output;
* ``invalid`` must be rejected, and a rejection is always :class:`CryptoError` (or ``False`` from the
  two boolean verify helpers), never another exception;
* ``acceptable`` (only X25519 uses it here) is pinned to what we do, so a change is noticed: a
  low-order public key, i.e. an all-zero shared secret, raises :class:`CryptoError` (Noise treats it
  as a failed handshake); every other acceptable case (twist points, non-canonical encodings) gives
  the RFC 7748 result.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from hotline.crypto.aead import CipherKey
from hotline.crypto.errors import CryptoError
from hotline.crypto.hashing import constant_time_equal, hkdf_sha256, hmac_digest
from hotline.crypto.mlkem import MLKEM768PrivateKey, MLKEM768PublicKey
from hotline.crypto.sign import ed25519_verify, mldsa65_verify
from hotline.crypto.x25519 import X25519PrivateKey, X25519PublicKey
from tests.support.vectors import load_json


def _cases(name: str) -> list[Any]:
    """One ``pytest.param(group, test)`` per Wycheproof test in ``wycheproof/<name>_test.json``."""
    data = load_json("wycheproof", f"{name}_test.json")
    params = []
    for group in data["testGroups"]:
        for test in group["tests"]:
            params.append(pytest.param(group, test, id=f"wycheproof/{name}/tc{test['tcId']}"))
    assert len(params) == data["numberOfTests"], f"{name}: loaded {len(params)} of {data['numberOfTests']}"
    return params


CHACHA = _cases("chacha20_poly1305")
X25519 = _cases("x25519")
ED25519 = _cases("ed25519")
MLDSA65 = _cases("mldsa_65_verify")
HKDF = _cases("hkdf_sha256")
HMAC = _cases("hmac_sha256")
MLKEM_DECAPS = _cases("mlkem_768")
MLKEM_ENCAPS = _cases("mlkem_768_encaps")
MLKEM_KEYGEN = _cases("mlkem_768_keygen_seed")

#: The number of cases each file held when it was copied in. A loader that silently finds fewer
#: (a renamed key, a filter gone wrong) fails here instead of passing on nothing.
FLOORS = {
    "chacha20_poly1305": (CHACHA, 325),
    "x25519": (X25519, 518),
    "ed25519": (ED25519, 151),
    "mldsa_65_verify": (MLDSA65, 210),
    "hkdf_sha256": (HKDF, 86),
    "hmac_sha256": (HMAC, 174),
    "mlkem_768": (MLKEM_DECAPS, 193),
    "mlkem_768_encaps": (MLKEM_ENCAPS, 265),
    "mlkem_768_keygen_seed": (MLKEM_KEYGEN, 100),
}


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_case_count_floor(name: str) -> None:
    cases, floor = FLOORS[name]
    assert len(cases) >= floor


def _hex(test: dict[str, Any], key: str) -> bytes:
    return bytes.fromhex(test[key])


# -- ChaCha20-Poly1305 (RFC 8439) ---------------------------------------------------------------------


@pytest.mark.parametrize(("group", "test"), CHACHA)
def test_chacha20_poly1305(group: dict[str, Any], test: dict[str, Any]) -> None:
    key = CipherKey(_hex(test, "key"))
    nonce, ad, msg = _hex(test, "iv"), _hex(test, "aad"), _hex(test, "msg")
    sealed = _hex(test, "ct") + _hex(test, "tag")
    if test["result"] == "valid":
        assert key.seal(nonce, ad, msg) == sealed
        assert key.open(nonce, ad, sealed) == msg
    else:
        with pytest.raises(CryptoError):
            key.open(nonce, ad, sealed)
        if "InvalidNonceSize" in test["flags"]:
            with pytest.raises(CryptoError):
                key.seal(nonce, ad, msg)


# -- X25519 (RFC 7748) --------------------------------------------------------------------------------


@pytest.mark.parametrize(("group", "test"), X25519)
def test_x25519(group: dict[str, Any], test: dict[str, Any]) -> None:
    assert group["curve"] == "curve25519"
    private = X25519PrivateKey.from_bytes(_hex(test, "private"))
    public = X25519PublicKey.from_bytes(_hex(test, "public"))
    shared = _hex(test, "shared")
    assert test["result"] in ("valid", "acceptable")
    if shared == bytes(32):
        # Low-order input: a failed handshake, reported as the one opaque error.
        assert test["result"] == "acceptable"
        assert "ZeroSharedSecret" in test["flags"]
        with pytest.raises(CryptoError):
            private.exchange(public)
    else:
        assert private.exchange(public) == shared


def test_x25519_every_low_order_case_is_covered() -> None:
    low_order = [p for p in X25519 if "LowOrderPublic" in p.values[1]["flags"]]
    assert len(low_order) >= 31
    assert all(bytes.fromhex(p.values[1]["shared"]) == bytes(32) for p in low_order)


# -- Ed25519 (RFC 8032) -------------------------------------------------------------------------------


@pytest.mark.parametrize(("group", "test"), ED25519)
def test_ed25519_verify(group: dict[str, Any], test: dict[str, Any]) -> None:
    public = bytes.fromhex(group["publicKey"]["pk"])
    ok = ed25519_verify(public, _hex(test, "sig"), _hex(test, "msg"))
    assert ok is (test["result"] == "valid")


# -- ML-DSA-65 (FIPS 204) -----------------------------------------------------------------------------


@pytest.mark.parametrize(("group", "test"), MLDSA65)
def test_mldsa65_verify(group: dict[str, Any], test: dict[str, Any]) -> None:
    public = bytes.fromhex(group["publicKey"])
    context = bytes.fromhex(test.get("ctx", ""))
    ok = mldsa65_verify(public, _hex(test, "sig"), _hex(test, "msg"), context)
    assert ok is (test["result"] == "valid")


# -- HKDF-SHA256 (RFC 5869) ---------------------------------------------------------------------------


@pytest.mark.parametrize(("group", "test"), HKDF)
def test_hkdf_sha256(group: dict[str, Any], test: dict[str, Any]) -> None:
    size = int(test["size"])
    if test["result"] == "valid":
        out = hkdf_sha256(_hex(test, "ikm"), salt=_hex(test, "salt"), info=_hex(test, "info"), length=size)
        assert out == _hex(test, "okm")
    else:
        assert "SizeTooLarge" in test["flags"]
        with pytest.raises(CryptoError):
            hkdf_sha256(_hex(test, "ikm"), salt=_hex(test, "salt"), info=_hex(test, "info"), length=size)


# -- HMAC-SHA256 (RFC 2104), full and truncated tags --------------------------------------------------


@pytest.mark.parametrize(("group", "test"), HMAC)
def test_hmac_sha256(group: dict[str, Any], test: dict[str, Any]) -> None:
    tag_len = group["tagSize"] // 8
    tag = hmac_digest("SHA256", _hex(test, "key"), _hex(test, "msg"))[:tag_len]
    assert constant_time_equal(tag, _hex(test, "tag")) is (test["result"] == "valid")


# -- ML-KEM-768 (FIPS 203) ----------------------------------------------------------------------------
# pyca has no deterministic encapsulation, so the encaps file checks what it can: every valid key
# loads and encapsulates, every invalid key (modulus check, lengths) is refused with CryptoError.


@pytest.mark.parametrize(("group", "test"), MLKEM_DECAPS)
def test_mlkem768_decapsulate(group: dict[str, Any], test: dict[str, Any]) -> None:
    assert group["parameterSet"] == "ML-KEM-768"
    seed, ciphertext = _hex(test, "seed"), _hex(test, "c")
    if test["result"] == "valid":
        key = MLKEM768PrivateKey.from_seed(seed)
        assert key.public_key().raw == _hex(test, "ek")
        assert key.decapsulate(ciphertext) == _hex(test, "K")
    elif len(seed) != 64:
        with pytest.raises(CryptoError):
            MLKEM768PrivateKey.from_seed(seed)
    else:
        key = MLKEM768PrivateKey.from_seed(seed)
        with pytest.raises(CryptoError):
            key.decapsulate(ciphertext)


@pytest.mark.parametrize(("group", "test"), MLKEM_ENCAPS)
def test_mlkem768_encapsulation_key(group: dict[str, Any], test: dict[str, Any]) -> None:
    assert group["parameterSet"] == "ML-KEM-768"
    encoded = _hex(test, "ek")
    if test["result"] == "valid":
        public = MLKEM768PublicKey.from_bytes(encoded)
        assert public.raw == encoded
        shared, ciphertext = public.encapsulate()
        assert (len(shared), len(ciphertext)) == (32, 1088)
    else:
        with pytest.raises(CryptoError):
            MLKEM768PublicKey.from_bytes(encoded)


def expanded_key_parts_match(dk: bytes, ek: bytes, seed: bytes) -> bool:
    """What of FIPS 203's expanded ``dk = dk_pke || ek || H(ek) || z`` we can see through pyca."""
    return dk[1152:2336] == ek and dk[2336:2368] == hashlib.sha3_256(ek).digest() and dk[2368:] == seed[32:]


@pytest.mark.parametrize(("group", "test"), MLKEM_KEYGEN)
def test_mlkem768_keygen_from_seed(group: dict[str, Any], test: dict[str, Any]) -> None:
    assert group["parameterSet"] == "ML-KEM-768"
    seed, ek = _hex(test, "seed"), _hex(test, "ek")
    key = MLKEM768PrivateKey.from_seed(seed)
    assert key.public_key().raw == ek
    assert key.seed == seed
    assert expanded_key_parts_match(_hex(test, "dk"), ek, seed)
