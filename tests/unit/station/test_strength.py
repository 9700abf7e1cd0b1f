"""F11: the passphrase policy at ``init`` (hotline.station.strength, hotline.station.home)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline.station.errors import StationError
from hotline.station.home import create_station
from hotline.station.strength import ADVICE, passphrase_problem

WEAK = [
    "P@ssw0rd2024!",  # every character class, straight out of a dictionary
    "Summer2024!Summer2024!",
    "moscow1234",  # the station's own name
    "hotline station",
    "qwertyuiopasdfghjkl",
    "aaaaaaaaaaaaaaaaaaaaaaaa",
    "dolphin river orange",  # three common words are not enough
    "a" * 150,  # long, and nothing to guess
]
STRONG = [
    "ladder cobalt wrist tundra mellow",  # five random words
    "integration tests only: not a real passphrase",  # the test harness's
    "correct horse battery staple",  # the demo's
    "xkq9-Bv2m-Lp0z-7TwR",
]


@pytest.mark.parametrize("passphrase", WEAK)
def test_f11_weak_passphrases_are_refused_without_quoting_them(passphrase: str) -> None:
    """F11: what a dictionary attack finds first does not seal a station."""
    problem = passphrase_problem(passphrase, context=("moscow",))
    assert problem is not None and "too easy to guess" in problem and "10^15" in problem
    assert passphrase not in problem


@pytest.mark.parametrize("passphrase", STRONG)
def test_f11_random_words_pass(passphrase: str) -> None:
    assert passphrase_problem(passphrase, context=("moscow",)) is None


def test_f11_a_passphrase_longer_than_zxcvbn_takes_is_judged_in_pieces() -> None:
    assert passphrase_problem("ladder cobalt wrist tundra mellow " * 4, context=()) is None


def test_f11_init_refuses_a_weak_passphrase_and_creates_nothing(tmp_path: Path) -> None:
    """F11: the refusal says why and what a good one is; the directory holds no station."""
    home = tmp_path / "moscow"
    for kdf in ("standard", "light"):
        with pytest.raises(StationError) as refused:
            create_station(home, "moscow", "127.0.0.1:7000", "moscow2024!", kdf=kdf)
        assert refused.value.code == "weak-passphrase"
        assert "nothing was created" in refused.value.message and ADVICE in refused.value.message
        assert "moscow2024!" not in refused.value.message
        assert not (home / "identity.key").exists() and not (home / "station.toml").exists()
    created = create_station(home, "moscow", "127.0.0.1:7000", STRONG[0], kdf="light")
    assert created["kdf"] == "light"
