"""A station whose key file predates line profiles (version 1) gains its cnsa2 keys when opened.

The fixture writes the key file as Hotline wrote it before (version 1: the standard keys only), over a
station made today; opening upgrades it once, atomically, and keeps the standard keys, so the store
key and every standard pin stay. A passphrase change on such a station adds them too.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from hotline.proto.identity import Identity
from hotline.proto.keyfile import MAGIC, open_identity, seal_identity
from hotline.station.home import KDF_PROFILES, change_passphrase, create_station, unlock

PASSPHRASE = "correct horse battery staple"
NEW_PASSPHRASE = "a different horse, battery and staple"


def _version(home: Path) -> int:
    return (home / "identity.key").read_bytes()[len(MAGIC)]


@pytest.fixture
def old_home(tmp_path: Path) -> tuple[Path, Identity]:
    """A station whose key file is version 1; returns it with its (standard only) identity."""
    home = tmp_path / "alpha"
    create_station(home, "alpha", "127.0.0.1:7000", PASSPHRASE, kdf="light")
    path = home / "identity.key"
    made = open_identity(path.read_bytes(), PASSPHRASE)
    static_key, kem_seed, signing_seed = made.secret_parts
    old = Identity.from_parts("alpha", static_key=static_key, kem_seed=kem_seed, signing_seed=signing_seed)
    path.write_bytes(seal_identity(old, PASSPHRASE, KDF_PROFILES["light"]))
    assert _version(home) == 1
    return home, old


def test_opening_upgrades_a_version_1_key_file_once(
    old_home: tuple[Path, Identity], caplog: pytest.LogCaptureFixture
) -> None:
    home, old = old_home
    with caplog.at_level(logging.WARNING, logger="hotline.station"):
        _, identity = unlock(home, PASSPHRASE)
    assert _version(home) == 2 and not (home / "identity.key.new").exists()
    assert identity.secret_parts == old.secret_parts and identity.key_digest == old.key_digest
    assert identity.profiles == ("standard", "cnsa2")
    assert [r for r in caplog.records if "predates line profiles" in r.getMessage()]
    # the file holds the keys now: the next opening finds the same ones and writes nothing
    caplog.clear()
    before = (home / "identity.key").read_bytes()
    with caplog.at_level(logging.WARNING, logger="hotline.station"):
        _, again = unlock(home, PASSPHRASE)
    assert again == identity and again.cnsa2_parts == identity.cnsa2_parts
    assert (home / "identity.key").read_bytes() == before
    assert not [r for r in caplog.records if "predates line profiles" in r.getMessage()]


def test_a_wrong_passphrase_leaves_a_version_1_file_as_it_is(old_home: tuple[Path, Identity]) -> None:
    home, _ = old_home
    before = (home / "identity.key").read_bytes()
    with pytest.raises(Exception, match="passphrase"):
        unlock(home, "not the passphrase at all, sorry")
    assert (home / "identity.key").read_bytes() == before


def test_a_passphrase_change_adds_the_cnsa2_keys(old_home: tuple[Path, Identity]) -> None:
    home, old = old_home
    change_passphrase(home, PASSPHRASE, NEW_PASSPHRASE)
    assert _version(home) == 2
    identity = open_identity((home / "identity.key").read_bytes(), NEW_PASSPHRASE)
    assert identity.secret_parts == old.secret_parts and identity.profiles == ("standard", "cnsa2")
