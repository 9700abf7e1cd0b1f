"""Encryption at rest (F1, F11): the store file is encrypted page by page, a wrong key is refused
clearly, a plain store from before is encrypted in place without losing anything even when the move
is killed half-way, and sealed bodies are padded so their length does not give the text's."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline.store import connection
from hotline.store.connection import PLAIN_HEADER, is_plain
from hotline.store.db import Store
from hotline.store.errors import StoreError
from hotline.store.messages import MessageStore
from hotline.store.schema import OUT, SCHEMA, SCHEMA_VERSION
from hotline.store.sealing import PAD_MIN, Sealer, padded_length
from tests.unit.store.helpers import KEY, OTHER_KEY, add_line

TEXTS = [b"yes", b"no", b"meet at the north gate at 0600"]


def _plain_store(
    path: Path, key: bytes = KEY, *, messages: int = 0, close: bool = True
) -> sqlite3.Connection:
    """A store as Hotline wrote it before encryption at rest: plain SQLite, WAL, schema 2, sealed bodies
    without padding. Returns the connection (closed unless ``close`` is false: then the last rows are
    still in the WAL, as a killed station leaves them)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    sealer = Sealer(key)
    conn.execute("BEGIN")
    for statement in SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION).encode(),))
    conn.execute("INSERT INTO meta VALUES ('key_check', ?)", (sealer.seal(b"key_check", b"hotline"),))
    conn.execute(
        "INSERT INTO lines (id, peer, card, key_digest, static_public, endpoints, added_at, chain_out0,"
        " chain_in0) VALUES (1, 'bravo', x'00', x'00', x'00', '[\"bravo.example:7000\"]', 1.0, x'00', x'01')"
    )
    conn.execute("COMMIT")
    texts = TEXTS + [b"message %d" % n for n in range(messages)]
    for n, text in enumerate(texts):
        mid = n.to_bytes(10, "big")
        ad = MessageStore._body_ad(1, OUT, mid)
        conn.execute(
            "INSERT INTO messages (line_id, direction, id, kind, precedence, created_ms, ref, body,"
            " stored_at)"
            " VALUES (1, ?, ?, 0, 3, ?, x'', ?, 1.0)",
            (OUT, mid, n, sealer.seal(ad, text)),
        )
    if close:
        conn.close()
    return conn


def _bodies(path: Path, key: bytes = KEY) -> list[bytes]:
    store = Store.open(path, key)
    try:
        return [m.body for m in store.messages.find(limit=1_000_000)]
    finally:
        store.close()


# -- wrong key


def test_a_wrong_key_fails_cleanly_naming_the_file_and_what_to_do(path: Path) -> None:
    """F1: the page key comes from the identity; another identity's key reads nothing and says so."""
    store = Store.open(path, KEY)
    add_line(store)
    store.close()
    before = path.read_bytes()
    with pytest.raises(StoreError) as refused:
        Store.open(path, OTHER_KEY)
    reason = refused.value.reason
    assert str(path) in reason and "another station identity" in reason
    assert "passphrase" in reason and "backup" in reason
    assert path.read_bytes() == before
    assert [line.peer for line in Store.open(path, KEY).lines.all()] == ["bravo"]


def test_the_file_and_its_log_are_encrypted(path: Path) -> None:
    """F1: nothing of a row reaches the disk in clear: not the peer, the endpoints, nor the header."""
    store = Store.open(path, KEY)
    add_line(store)
    with store.transaction():
        store.events.add(None, "station.test", {"note": "a very findable event detail"}, now=5.0)
    disk = path.read_bytes() + path.with_name(path.name + "-wal").read_bytes()
    store.close()
    for clear in (b"bravo", b"bravo.example", b"findable", b"station.test", PLAIN_HEADER, b"CREATE TABLE"):
        assert clear not in disk
    assert not is_plain(path)


def test_secure_delete_is_on(store: Store) -> None:
    """F11: deleted rows are overwritten with zeros, not left in free pages."""
    assert store.execute_checked("PRAGMA secure_delete").fetchone()[0] == 1


@pytest.mark.parametrize("settings", [True, False])
def test_deleted_rows_do_not_linger_in_the_file(tmp_path: Path, settings: bool) -> None:
    """F11: with the store's settings, a deleted row's bytes are overwritten in the file. Shown on an
    unkeyed file of the same library, whose bytes can be read; without the settings they linger."""
    path = tmp_path / "plain.sqlite"
    conn = connection.dbapi.connect(path, isolation_level=None)
    if settings:
        connection._settings(conn)
    else:
        conn.execute("PRAGMA secure_delete = OFF")
    conn.execute("CREATE TABLE notes (text TEXT)")
    conn.execute("INSERT INTO notes VALUES ('a removed line to bravo.example:7000')")
    conn.execute("INSERT INTO notes VALUES ('kept')")
    conn.execute("DELETE FROM notes WHERE text LIKE 'a removed%'")
    conn.close()
    assert (b"bravo.example" in path.read_bytes()) is not settings


# -- moving a plain store into encryption


def test_a_plain_store_is_encrypted_in_place_on_first_open(path: Path) -> None:
    """A schema-2 plain store, its last rows still in the WAL of a killed station, opens encrypted with
    every row (bodies sealed before padding existed still open) and no plain byte left in its files."""
    plain = _plain_store(path, messages=50, close=False)
    copy = path.with_name("copy.sqlite")
    for suffix in ("", "-wal"):  # what a killed station leaves: the file and an unmerged log
        shutil.copyfile(str(path) + suffix, str(copy) + suffix)
    plain.close()
    assert b"bravo.example" in copy.read_bytes() + Path(str(copy) + "-wal").read_bytes()

    assert _bodies(copy) == TEXTS + [b"message %d" % n for n in range(50)]
    assert not is_plain(copy)
    leftovers = sorted(p.name for p in copy.parent.iterdir() if p.name.startswith("copy"))
    assert leftovers == ["copy.sqlite"]
    assert b"bravo.example" not in copy.read_bytes()
    store = Store.open(copy, KEY)
    assert store.meta.get("schema") == str(SCHEMA_VERSION).encode()
    store.close()


def test_the_plain_files_bytes_are_overwritten_once_the_encrypted_store_is_in_place(path: Path) -> None:
    """Best effort against a disk copy taken later: the plain file's own blocks are zeroed after the
    rename (a hard link to the old file shows what became of them)."""
    _plain_store(path, messages=10)
    witness = path.with_name("witness")
    os.link(path, witness)
    assert b"bravo.example" in witness.read_bytes()
    assert len(_bodies(path)) == len(TEXTS) + 10
    assert witness.read_bytes() == bytes(witness.stat().st_size)


def test_another_identitys_plain_store_is_refused_and_left_plain(path: Path) -> None:
    """Encrypting someone else's store under our key would lock its owner out: refused, unchanged."""
    _plain_store(path, OTHER_KEY)
    before = path.read_bytes()
    with pytest.raises(StoreError, match="another station identity"):
        Store.open(path, KEY)
    assert path.read_bytes() == before
    assert _bodies(path, OTHER_KEY) == TEXTS


def test_a_move_that_fails_before_the_rename_loses_nothing(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The encrypted copy is written beside the plain store; if the move dies before the rename, the
    plain store is whole and the next open starts the move over."""
    _plain_store(path, messages=20)

    def crash(*args: object) -> None:
        raise OSError("simulated crash before the rename")

    monkeypatch.setattr(connection.os, "replace", crash)
    with pytest.raises(StoreError, match="plain store is unchanged"):
        Store.open(path, KEY)
    monkeypatch.undo()
    assert is_plain(path)
    assert path.with_name(path.name + ".encrypting").exists()  # the partial copy a crash leaves
    assert _bodies(path) == TEXTS + [b"message %d" % n for n in range(20)]
    assert not is_plain(path)
    assert not path.with_name(path.name + ".encrypting").exists()


_MIGRATE = """
import sys
from pathlib import Path
from hotline.store.db import Store
print("start", flush=True)
Store.open(Path(sys.argv[1]), bytes(range(32))).close()
print("done", flush=True)
"""


def test_a_move_killed_at_any_moment_loses_nothing(tmp_path: Path) -> None:
    """Kill -9 the process moving a plain store into encryption at spread-out moments: every time, the
    next open finds every message (in the plain store or the encrypted one, never half of either)."""
    original = tmp_path / "original.sqlite"
    _plain_store(original, messages=20_000)
    expected = TEXTS + [b"message %d" % n for n in range(20_000)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    # how long an uninterrupted move takes here, to spread the kills over it
    path = tmp_path / "store.sqlite"
    shutil.copyfile(original, path)
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", _MIGRATE, str(path)], env=env, check=True, capture_output=True)
    whole = time.monotonic() - started
    outcomes = set()
    for step in range(8):
        shutil.copyfile(original, path)
        for extra in tmp_path.glob("store.sqlite?*"):
            extra.unlink()
        proc = subprocess.Popen(
            [sys.executable, "-c", _MIGRATE, str(path)], env=env, stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == "start"
        time.sleep(whole * step / 10)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        outcomes.add("plain" if is_plain(path) else "encrypted")
        assert _bodies(path) == expected, f"lost messages after a kill at step {step}"
        assert not is_plain(path)
    print(f"kills left the store: {sorted(outcomes)} (an uninterrupted move took {whole:.2f} s)")


# -- padding


def test_short_texts_seal_to_the_same_size() -> None:
    """F1: "yes" and "no" are not told apart by the length of what is stored."""
    sealer = Sealer(KEY)
    sizes = {len(sealer.seal_padded(b"ad", text)) for text in (b"yes", b"no", b"ok", b"x" * 200, b"")}
    assert len(sizes) == 1


@given(st.binary(max_size=70_000))
def test_padded_values_open_to_what_was_sealed(value: bytes) -> None:
    sealer = Sealer(KEY)
    sealed = sealer.seal_padded(b"place", value)
    assert sealer.open_padded(b"place", sealed) == value
    assert len(sealed) - len(sealer.seal(b"place", b"")) == padded_length(len(value) + 1)


@given(st.integers(min_value=0, max_value=10_000_000))
def test_buckets_hold_the_value_and_waste_little(n: int) -> None:
    bucket = padded_length(n)
    assert bucket >= max(n, PAD_MIN)
    assert padded_length(bucket) == bucket  # a bucket is its own bucket
    if n > 4096:
        assert bucket <= n * 1.13


def test_a_value_sealed_before_padding_still_opens() -> None:
    sealer = Sealer(KEY)
    assert sealer.open_padded(b"place", sealer.seal(b"place", b"older")) == b"older"
