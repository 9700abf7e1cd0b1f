"""The station directory (hotline.station.home): creating, unlocking and locking it.

Stations are made with the ``light`` key derivation profile so each test stays in milliseconds.
"""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from hotline.station.config import StationConfig, save_config
from hotline.station.errors import StationError
from hotline.station.home import StationLock, StationPaths, create_station, unlock

PASSPHRASE = "correct horse battery staple"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "alpha"


@pytest.fixture
def created(home: Path) -> dict[str, object]:
    return create_station(home, "alpha", "127.0.0.1:7000", PASSPHRASE, kdf="light")


def test_create_station_describes_it(home: Path, created: dict[str, object]) -> None:
    assert created["name"] == "alpha"
    assert created["listen"] == "127.0.0.1:7000"
    assert created["endpoints"] == ["127.0.0.1:7000"]
    assert created["home"] == str(home)
    assert isinstance(created["fingerprint"], str) and created["fingerprint"]


def test_create_station_is_owner_only(home: Path, created: dict[str, object]) -> None:
    paths = StationPaths(home)
    assert mode(home) == 0o700
    assert mode(paths.config) == 0o600
    assert mode(paths.keyfile) == 0o600


def test_create_station_tightens_an_existing_directory(home: Path) -> None:
    home.mkdir(mode=0o755)
    home.chmod(0o755)
    create_station(home, "alpha", "127.0.0.1:7000", PASSPHRASE, kdf="light")
    assert mode(home) == 0o700


def test_create_station_with_endpoints(home: Path) -> None:
    created = create_station(
        home, "alpha", "0.0.0.0:7000", PASSPHRASE, endpoints=["alpha.example:7000"], kdf="light"
    )
    assert created["endpoints"] == ["alpha.example:7000"]
    config, _ = unlock(home, PASSPHRASE)
    assert config.advertised == ["alpha.example:7000"]


def test_a_second_create_is_refused(home: Path, created: dict[str, object]) -> None:
    keyfile = StationPaths(home).keyfile
    before = keyfile.read_bytes()
    with pytest.raises(StationError) as info:
        create_station(home, "alpha", "127.0.0.1:7000", "another passphrase", kdf="light")
    assert info.value.code == "station-exists"
    assert keyfile.read_bytes() == before
    # the original passphrase still opens it
    _, identity = unlock(home, PASSPHRASE)
    assert str(identity.fingerprint) == created["fingerprint"]


def test_create_refuses_when_only_the_config_is_there(home: Path) -> None:
    home.mkdir()
    save_config(StationPaths(home).config, StationConfig(name="alpha", listen="127.0.0.1:7000"))
    with pytest.raises(StationError) as info:
        create_station(home, "alpha", "127.0.0.1:7000", PASSPHRASE, kdf="light")
    assert info.value.code == "station-exists"
    assert not StationPaths(home).keyfile.exists()


@pytest.mark.parametrize(
    ("name", "listen", "kdf"),
    [
        ("alpha", "127.0.0.1:7000", "featherweight"),
        ("alpha", "not an endpoint", "light"),
        ("alpha", "127.0.0.1:0", "light"),
        ("alpha\nbeta", "127.0.0.1:7000", "light"),
        ("x" * 500, "127.0.0.1:7000", "light"),
        ("", "127.0.0.1:7000", "light"),
    ],
    ids=["unknown-kdf", "not-an-endpoint", "port-zero", "control-char-name", "long-name", "empty-name"],
)
def test_bad_arguments_are_bad_request_and_create_nothing(
    home: Path, name: str, listen: str, kdf: str
) -> None:
    with pytest.raises(StationError) as info:
        create_station(home, name, listen, PASSPHRASE, kdf=kdf)
    assert info.value.code == "bad-request"
    assert not home.exists()


def test_unlock_opens_the_identity(home: Path, created: dict[str, object]) -> None:
    config, identity = unlock(home, PASSPHRASE)
    assert config.name == identity.name == "alpha"
    assert config.listen == "127.0.0.1:7000"
    assert str(identity.fingerprint) == created["fingerprint"]


def test_unlock_with_a_wrong_passphrase(home: Path, created: dict[str, object]) -> None:
    with pytest.raises(StationError) as info:
        unlock(home, "incorrect horse battery staple")
    assert info.value.code == "wrong-passphrase"
    assert str(StationPaths(home).keyfile) in info.value.message


def test_unlock_without_a_station(home: Path) -> None:
    with pytest.raises(StationError) as info:
        unlock(home, PASSPHRASE)
    assert info.value.code == "no-station"


def test_unlock_with_a_damaged_key_file(home: Path, created: dict[str, object]) -> None:
    StationPaths(home).keyfile.write_bytes(b"not a key file")
    with pytest.raises(StationError) as info:
        unlock(home, PASSPHRASE)
    assert info.value.code == "bad-keyfile"


def test_unlock_with_a_bad_config(home: Path, created: dict[str, object]) -> None:
    StationPaths(home).config.write_text('name = "alpha"\nlisten = "127.0.0.1:7000"\nheartbeat = 0\n')
    with pytest.raises(StationError) as info:
        unlock(home, PASSPHRASE)
    assert info.value.code == "bad-config"


def test_unlock_when_config_and_key_file_disagree(home: Path, created: dict[str, object]) -> None:
    save_config(StationPaths(home).config, StationConfig(name="bravo", listen="127.0.0.1:7000"))
    with pytest.raises(StationError) as info:
        unlock(home, PASSPHRASE)
    assert info.value.code == "bad-config"
    assert "bravo" in info.value.message and "alpha" in info.value.message


# -- the lock


@pytest.fixture
def lock_path(tmp_path: Path) -> Iterator[Path]:
    yield StationPaths(tmp_path).lock


def test_lock_is_exclusive(lock_path: Path) -> None:
    first, second = StationLock(lock_path), StationLock(lock_path)
    first.acquire()
    try:
        with pytest.raises(StationError) as info:
            second.acquire()
        assert info.value.code == "busy"
        assert str(lock_path.parent) in info.value.message
    finally:
        first.release()


def test_lock_can_be_taken_again_after_release(lock_path: Path) -> None:
    first, second = StationLock(lock_path), StationLock(lock_path)
    first.acquire()
    first.release()
    second.acquire()
    try:
        assert mode(lock_path) == 0o600
        with pytest.raises(StationError):
            first.acquire()
    finally:
        second.release()


def test_release_twice_is_harmless(lock_path: Path) -> None:
    lock = StationLock(lock_path)
    lock.release()
    lock.acquire()
    lock.release()
    lock.release()
