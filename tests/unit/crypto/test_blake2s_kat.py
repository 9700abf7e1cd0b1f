"""The BLAKE2s known answers from the BLAKE2 reference repository, through :mod:`hotline.crypto.hashing`.

Source: BLAKE2/BLAKE2, testvectors/blake2-kat.json, the BLAKE2s subset (see tests/vectors/README.md):
256 unkeyed and 256 keyed cases over the inputs ``00 01 02 ...`` of length 0 to 255. Ids name the
source, whether the case is keyed, and its index in the file.
"""

from __future__ import annotations

from typing import Any

import pytest

from hotline.crypto.hashing import blake2s, digest
from tests.support.vectors import load_json


def _cases() -> list[Any]:
    params = []
    for index, case in enumerate(load_json("blake2", "blake2s-kat.json")):
        assert case["hash"] == "blake2s"
        kind = "keyed" if case["key"] else "unkeyed"
        params.append(pytest.param(case, id=f"blake2-kat/blake2s/{kind}/{index}"))
    return params


CASES = _cases()
UNKEYED = [p for p in CASES if not p.values[0]["key"]]


def test_case_count_floor() -> None:
    assert len(CASES) >= 512
    assert len(UNKEYED) >= 256


@pytest.mark.parametrize("case", CASES)
def test_blake2s(case: dict[str, str]) -> None:
    key = bytes.fromhex(case["key"])
    assert blake2s(bytes.fromhex(case["in"]), key=key) == bytes.fromhex(case["out"])


@pytest.mark.parametrize("case", UNKEYED)
def test_blake2s_through_the_noise_hash(case: dict[str, str]) -> None:
    """The unkeyed answers again through ``digest("BLAKE2s", ...)``, the pyca path Noise uses."""
    assert digest("BLAKE2s", bytes.fromhex(case["in"])) == bytes.fromhex(case["out"])
