"""ML-KEM-768 key generation and the encapsulation-key modulus check, through :mod:`hotline.crypto.mlkem`.

Sources (see tests/vectors/README.md):

* usnistgov/ACVP-Server @ 65370b861b96, ML-KEM-keyGen-FIPS203 internal projection: key generation
  from the seeds ``d`` and ``z`` (we take the ML-KEM-768 group; ids name the ACVP ``tcId``);
* C2SP/CCTV @ 1e3d2860d46e, ML-KEM/modulus: 780 ML-KEM-768 encapsulation keys, each with one
  coefficient in ``q .. 2**12 - 1``, which FIPS 203's modulus check must refuse (ids name the line).
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from hotline.crypto.errors import CryptoError
from hotline.crypto.mlkem import MLKEM768PrivateKey, MLKEM768PublicKey
from tests.support.vectors import load_json, load_lines


def _acvp_cases() -> list[Any]:
    data = load_json("mlkem", "acvp-ML-KEM-keyGen-FIPS203-internalProjection.json")
    assert (data["algorithm"], data["mode"], data["revision"]) == ("ML-KEM", "keyGen", "FIPS203")
    return [
        pytest.param(test, id=f"acvp/ML-KEM-768/keyGen/tc{test['tcId']}")
        for group in data["testGroups"]
        if group["parameterSet"] == "ML-KEM-768"
        for test in group["tests"]
    ]


def _cctv_cases() -> list[Any]:
    return [
        pytest.param(line, id=f"cctv/modulus/ML-KEM-768/line{number}")
        for number, line in enumerate(load_lines("mlkem", "cctv-modulus-ML-KEM-768.txt.gz"), start=1)
    ]


ACVP = _acvp_cases()
CCTV = _cctv_cases()


def test_case_count_floor() -> None:
    assert len(ACVP) >= 25
    assert len(CCTV) >= 780


@pytest.mark.parametrize("test", ACVP)
def test_acvp_keygen(test: dict[str, Any]) -> None:
    d, z = bytes.fromhex(test["d"]), bytes.fromhex(test["z"])
    ek, dk = bytes.fromhex(test["ek"]), bytes.fromhex(test["dk"])
    key = MLKEM768PrivateKey.from_seed(d + z)
    assert key.public_key().raw == ek
    assert MLKEM768PublicKey.from_bytes(ek) == key.public_key()
    # pyca keeps the seed, not FIPS 203's expanded dk = dk_pke || ek || H(ek) || z; check what shows.
    assert dk[1152:2336] == ek
    assert dk[2336:2368] == hashlib.sha3_256(ek).digest()
    assert dk[2368:] == z


@pytest.mark.parametrize("line", CCTV)
def test_cctv_modulus_key_is_rejected(line: str) -> None:
    encoded = bytes.fromhex(line)
    assert len(encoded) == 1184
    with pytest.raises(CryptoError):
        MLKEM768PublicKey.from_bytes(encoded)
