"""F11: changing the passphrase (``hotline passphrase``) applies the same policy as ``init``."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline.station.errors import StationError
from hotline.station.home import StationPaths, change_passphrase, create_station, kdf_profile, unlock

OLD = "ladder cobalt wrist tundra mellow"
NEW = "orbit velvet cactus plume harbor"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "moscow"
    create_station(home, "moscow", "127.0.0.1:7000", OLD, kdf="light")
    return home


def test_f11_the_new_passphrase_opens_the_same_keys_and_the_old_one_no_longer(home: Path) -> None:
    _, before = unlock(home, OLD)
    assert change_passphrase(home, OLD, NEW) == {"name": "moscow", "kdf": "light"}
    _, after = unlock(home, NEW)
    assert after.fingerprint == before.fingerprint and after.secret_parts == before.secret_parts
    with pytest.raises(StationError) as refused:
        unlock(home, OLD)
    assert refused.value.code == "wrong-passphrase"
    assert kdf_profile(home) == "light"  # the costs stay as they were
    assert sorted(p.name for p in home.iterdir()) == ["identity.key", "station.toml"]


def test_f11_a_weak_new_passphrase_is_refused_and_nothing_changes(home: Path) -> None:
    """F11: the policy of ``init`` holds at a change too; the key file is untouched."""
    keyfile = StationPaths(home).keyfile
    before = keyfile.read_bytes()
    with pytest.raises(StationError) as refused:
        change_passphrase(home, OLD, "moscow2025")
    assert refused.value.code == "weak-passphrase"
    assert "was not changed" in refused.value.message and "moscow2025" not in refused.value.message
    assert keyfile.read_bytes() == before


def test_a_wrong_current_passphrase_changes_nothing(home: Path) -> None:
    keyfile = StationPaths(home).keyfile
    before = keyfile.read_bytes()
    with pytest.raises(StationError) as refused:
        change_passphrase(home, "not the passphrase at all, sorry", NEW)
    assert refused.value.code == "wrong-passphrase"
    assert keyfile.read_bytes() == before


def test_no_station(tmp_path: Path) -> None:
    with pytest.raises(StationError) as refused:
        change_passphrase(tmp_path / "nothing", OLD, NEW)
    assert refused.value.code == "no-station"
