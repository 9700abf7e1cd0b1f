"""The store's SQLite connection, encrypted page by page, and the one-time move of a plain store into it.

Every page of the store file and of its write-ahead log is encrypted and authenticated by SQLCipher
(AES-256-CBC, HMAC-SHA512 per page, a random salt in the file's first 16 bytes), so a copy of the
station directory without the passphrase shows only how big the files are. The ``-shm`` index beside
the log holds frame numbers and checksums, never a row.

Why SQLCipher (``sqlcipher3``, whose wheels bundle SQLCipher and OpenSSL) rather than SQLite3 Multiple
Ciphers (``apsw-sqlite3mc``, ChaCha20-Poly1305 per page): it keeps the standard ``sqlite3`` API, so
the store, its transactions and its error handling stay as they were, and it is the encrypted
SQLite with the longest record in the field (Signal ships it). It costs more CPU per commit:
measured on a 2-core machine (WAL, ``synchronous=FULL``, one row per transaction, alternating
rounds), user CPU per commit rose by about 50 us over plain SQLite with SQLCipher and by about 20 us
with SQLite3MC, and an open with a raw key took about 0.5 ms with either (SQLite3MC only once its
key stretching was turned down to one round, since it stretches even a raw key). HMAC-SHA256
instead of SHA512, a larger page or no HMAC at all did not close the gap (``python -m bench --only
station`` shows what it does to a durable message); SQLite3MC behind the same API would win most of
it back. The driver's build matters as much as the cipher: the older ``sqlcipher3-binary`` wheel
(SQLCipher 4.12, built with gcc 10) took about 3.5 us per small query against 2.1 us for Python's own
sqlite3, where ``sqlcipher3`` 0.6.4 (SQLCipher 4.19, gcc 14) takes about 2.2 us; the station runs
dozens of queries per message.

The page key is a raw 256-bit key derived from the store key (:func:`~hotline.store.sealing.derive_page_key`),
so SQLCipher runs no passphrase stretching at open: the passphrase was already stretched once, for
the identity file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from hotline.store.errors import StoreCorrupt, StoreError, StoreFull
from hotline.store.sealing import Sealer, derive_page_key

if TYPE_CHECKING:
    # sqlcipher3 ships no type information; its module is the standard one's API, item for item
    import sqlite3 as dbapi
else:
    from sqlcipher3 import dbapi2 as dbapi

#: What a plain SQLite file starts with. An encrypted store starts with its random salt instead.
PLAIN_HEADER = b"SQLite format 3\x00"
#: SQLCipher's page size (its default): the unit a damaged page is counted in.
PAGE_SIZE = 4096
#: What a call into the driver can raise. Once a page fails its authentication check, SQLCipher
#: answers every later statement on that connection with SQLITE_NOMEM, which Python raises as
#: MemoryError; it is caught with the driver's own errors and reported as a damaged store.
DRIVER_ERRORS: tuple[type[Exception], ...] = (dbapi.Error, MemoryError)
#: The name the encrypted copy is written under while a plain store is being moved into it.
_ENCRYPTING_SUFFIX = ".encrypting"


def _key_pragma(store_key: bytes) -> str:
    # the x'…' form hands SQLCipher a raw key: no PBKDF2 over it, so an open stays cheap
    return f"PRAGMA key = \"x'{derive_page_key(store_key).hex()}'\""


def _settings(conn: dbapi.Connection) -> None:
    # zero deleted rows in place, so removed messages and lines do not linger in free pages (F11);
    # the pages are encrypted anyway, but a page that stays in use keeps its old bytes otherwise
    conn.execute("PRAGMA secure_delete = ON")
    # sorts and temporary indexes stay in memory rather than in unencrypted-by-default temp files
    conn.execute("PRAGMA temp_store = MEMORY")


def _configure_library() -> None:
    conn = dbapi.connect(":memory:")
    try:
        # the store reports failures itself, naming the file; the library would also print to stderr
        conn.execute("PRAGMA cipher_log_level = NONE")
        # wiping every freed buffer costs throughput and guards only against reading this process's
        # memory, which also holds the keys themselves
        conn.execute("PRAGMA cipher_memory_security = OFF")
    finally:
        conn.close()


_configure_library()


def describe_driver() -> str:
    """The SQLite and SQLCipher versions the store runs on (for reports)."""
    conn = dbapi.connect(":memory:")
    try:
        cipher = str(conn.execute("PRAGMA cipher_version").fetchone()[0])
    finally:
        conn.close()
    return f"SQLite {dbapi.sqlite_version}, SQLCipher {cipher}"


def is_plain(path: Path) -> bool:
    """Whether ``path`` is an unencrypted SQLite file (a store from before encryption at rest)."""
    try:
        with path.open("rb") as f:
            return f.read(len(PLAIN_HEADER)) == PLAIN_HEADER
    except FileNotFoundError:
        return False


def connect(path: Path, store_key: bytes) -> dbapi.Connection:
    """A connection to the encrypted store at ``path`` (created if missing), keyed but not yet read.

    Tests use it to look at or alter the file behind a :class:`~hotline.store.db.Store`'s back.
    """
    conn = dbapi.connect(path, isolation_level=None, check_same_thread=False)
    try:
        conn.execute(_key_pragma(store_key))
        _settings(conn)
    except DRIVER_ERRORS:
        conn.close()
        raise
    return conn


def open_encrypted(path: Path, store_key: bytes) -> dbapi.Connection:
    """Open the store at ``path`` for :meth:`Store.open`, moving a plain store into encryption first.

    Raises:
        StoreError: the file does not open with this key (another identity's store, or not a store).
        StoreCorrupt: a plain store to be moved is damaged (it is left unchanged).
    """
    _remove_leftovers(path)
    if is_plain(path):
        encrypt_plain_store(path, store_key)
    try:
        conn = connect(path, store_key)
    except DRIVER_ERRORS as exc:
        raise StoreError(f"cannot open the store {path}: {exc}") from None
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except DRIVER_ERRORS as exc:
        conn.close()
        if "not a database" in str(exc):
            raise StoreError(
                f"the store {path} does not open with this station's key: it was made by another "
                "station identity, is not a Hotline store, or its first page is damaged. Start the "
                "station with the identity (key file and passphrase) that made it, or restore the "
                "store from a backup"
            ) from None
        raise
    return conn


def _remove_leftovers(path: Path) -> None:
    # a move into encryption that died before its rename leaves a partial copy; the plain store it
    # was made from is still whole, and the move starts over from it
    tmp = path.with_name(path.name + _ENCRYPTING_SUFFIX)
    for leftover in (tmp, tmp.with_name(tmp.name + "-journal")):
        leftover.unlink(missing_ok=True)


def encrypt_plain_store(path: Path, store_key: bytes) -> None:
    """Replace the plain store at ``path`` by an encrypted copy, atomically.

    The copy is written beside it, synced, then renamed over it: a crash before the rename leaves the
    plain store whole (the next open starts over), one after it leaves the encrypted store whole.
    A file that is not a Hotline store, a damaged store, or another identity's store is refused and
    left as it was.

    Raises:
        StoreError: the file is not a Hotline store, or it belongs to another station identity.
        StoreCorrupt: the file is damaged.
    """
    tmp = path.with_name(path.name + _ENCRYPTING_SUFFIX)
    plain = dbapi.connect(path, isolation_level=None)
    try:
        tables = {row[0] for row in plain.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "meta" not in tables:
            raise StoreError(f"{path} is not a Hotline store")
        problems = [str(row[0]) for row in plain.execute("PRAGMA quick_check(3)")]
        if problems != ["ok"]:
            raise StoreCorrupt(
                f"the store file {path} is damaged ({'; '.join(problems)}): restore it from a backup, or "
                "move it aside with its -wal and -shm files (the station then starts with an empty store)"
            )
        _check_owner(plain, path, store_key)
        # fold the log into the file and leave WAL mode, so that the file alone is the whole store
        # and no plain -wal is left to be replayed over the encrypted copy
        plain.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        plain.execute("PRAGMA journal_mode = DELETE")
        plain.execute(
            f"ATTACH DATABASE ? AS sealed KEY \"x'{derive_page_key(store_key).hex()}'\"", (str(tmp),)
        )
        plain.execute("SELECT sqlcipher_export('sealed')")
        version = int(plain.execute("PRAGMA user_version").fetchone()[0])
        plain.execute(f"PRAGMA sealed.user_version = {version}")
        plain.execute("DETACH DATABASE sealed")
    except DRIVER_ERRORS as exc:
        plain.close()
        tmp.unlink(missing_ok=True)
        if isinstance(exc, MemoryError) or any(w in str(exc) for w in ("malformed", "not a database")):
            raise StoreCorrupt(
                f"the store file {path} is damaged ({exc}): restore it from a backup, or move it aside "
                "with its -wal and -shm files (the station then starts with an empty store)"
            ) from None
        if "full" in str(exc):
            raise StoreFull(
                f"no room to encrypt the store {path} (it needs about its own size again): free space, "
                "then start again; the plain store is unchanged"
            ) from None
        raise StoreError(f"cannot encrypt the store {path}: {exc}; the plain store is unchanged") from None
    except StoreError:
        plain.close()
        raise
    plain.close()
    try:
        _fsync(tmp)
        old = os.open(path, os.O_WRONLY)  # the plain file itself, still reachable after the rename
    except OSError as exc:
        raise StoreError(
            f"cannot put the encrypted store in place of {path} ({exc}); the plain store is unchanged: "
            "fix the directory's permissions or free space, then start again"
        ) from None
    try:
        try:
            os.replace(tmp, path)
        except OSError as exc:
            raise StoreError(
                f"cannot put the encrypted store in place of {path} ({exc}); the plain store is unchanged: "
                "fix the directory's permissions, then start again"
            ) from None
        _fsync(path.parent)
        _scrub(old)
    finally:
        os.close(old)


def _check_owner(plain: dbapi.Connection, path: Path, store_key: bytes) -> None:
    # encrypting another identity's store under our key would lock its owner out: check first
    row = plain.execute("SELECT value FROM meta WHERE key = 'key_check'").fetchone()
    try:
        ours = row is not None and Sealer(store_key).open(b"key_check", bytes(row[0])) == b"hotline"
    except StoreCorrupt:
        ours = False
    if not ours:
        raise StoreError(f"the store {path} was made by another station identity")


def _scrub(fd: int) -> None:
    # Best effort, once the encrypted store is in place: overwrite the plain file's bytes before its
    # blocks are freed. A copy-on-write file system or a flash drive may still keep the old blocks;
    # only encrypting the disk itself rules that out.
    try:
        size = os.fstat(fd).st_size
        block = bytes(1 << 20)
        for offset in range(0, size, len(block)):
            os.pwrite(fd, block[: size - offset], offset)
        os.fsync(fd)
    except OSError:
        pass  # the move is done; a scrub that cannot finish loses nothing


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:
        if (
            not path.is_dir()
        ):  # some file systems refuse to sync a directory: then the rename is as durable as it gets
            raise
    finally:
        os.close(fd)


__all__ = [
    "DRIVER_ERRORS",
    "PAGE_SIZE",
    "PLAIN_HEADER",
    "connect",
    "dbapi",
    "describe_driver",
    "encrypt_plain_store",
    "is_plain",
    "open_encrypted",
]
