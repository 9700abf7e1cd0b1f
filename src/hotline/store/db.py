"""The station's SQLite store: one connection, its transactions, and one part per table family.

Synchronous and single-threaded by design: the daemon owns one :class:`Store` and calls it from one
worker thread, which wraps a batch of calls in one transaction (:meth:`Store.transaction`), so many
messages share one fsync (group commit). Methods never commit on their own.

The tables are reached through the store's parts, all over the same connection and inside the same
transactions: ``store.lines`` (:mod:`~hotline.store.lines`), ``store.messages`` (the transcripts,
:mod:`~hotline.store.messages`), ``store.documents``, ``store.calls``, ``store.events`` and
``store.meta``.

Durability: WAL with ``synchronous=FULL``, so a committed transaction survives a killed process and
a power cut. At rest the file and its log are encrypted page by page (:mod:`hotline.store.connection`),
and message bodies, call audio and line keys are sealed again inside, with the AEAD of each line's
profile (:mod:`hotline.store.sealing`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from hotline.store.base import LineSealers, damaged, execute_checked, translate
from hotline.store.calls import CallStore
from hotline.store.connection import DRIVER_ERRORS, open_encrypted
from hotline.store.connection import dbapi as sqlite3
from hotline.store.documents import DocumentStore
from hotline.store.errors import StoreCorrupt, StoreError, StoreFull
from hotline.store.events import EventStore
from hotline.store.lines import LineStore
from hotline.store.messages import MessageStore
from hotline.store.meta import MetaStore
from hotline.store.schema import MIGRATIONS, SCHEMA, SCHEMA_VERSION
from hotline.store.sealing import Sealer

#: How many problems the integrity check at open reports, at most (the first few say enough).
QUICK_CHECK_REPORTS = 3


def _check_integrity(conn: sqlite3.Connection, path: Path) -> None:
    # A damaged page otherwise shows only when a read reaches it, and the daemon would serve a
    # transcript with holes until then. quick_check reads every page once but skips integrity_check's
    # index cross-checks: on a 50 MB store of 100,000 messages it took about 40 ms with the file in
    # the page cache and 1.2 s cold. It only reads, so a refused file is left as evidence.
    problems = [str(row[0]) for row in conn.execute(f"PRAGMA quick_check({QUICK_CHECK_REPORTS})")]
    if problems != ["ok"]:
        raise damaged(path, "; ".join(problems))


class Store:
    """The station's durable state in one SQLite file. Not thread-safe: use it from one thread."""

    def __init__(self, conn: sqlite3.Connection, sealer: Sealer, path: Path | None = None) -> None:
        self._conn = conn
        self._sealer = sealer
        #: The SQLite file (documents live in a directory beside it).
        self.path = path
        # each line's values are sealed by its profile's sealer; every part shares one cache of them
        self._sealers = sealers = LineSealers(conn, sealer, path)
        #: The station's lines, with their cards, profiles and sealed keys.
        self.lines = LineStore(conn, sealer, path, sealers)
        #: Both directions of every line's transcript.
        self.messages = MessageStore(conn, sealer, path, sealers)
        #: Documents in both directions, and where received ones' bytes live.
        self.documents = DocumentStore(conn, sealer, path, sealers)
        #: The call log and recorded calls' audio.
        self.calls = CallStore(conn, sealer, path, sealers)
        #: What happened on a line or the station.
        self.events = EventStore(conn, sealer, path, sealers)
        #: Station-level values (schema version, key check, handshake timestamps).
        self.meta = MetaStore(conn, sealer, path, sealers)

    @classmethod
    def open(cls, path: Path, key: bytes, *, max_page_count: int | None = None) -> Store:
        """Open (creating if needed) the store at ``path`` with the store ``key``.

        The file is encrypted page by page under a key derived from ``key``; a plain store written
        before that is encrypted in place first (:func:`hotline.store.connection.open_encrypted`).

        Args:
            path: the SQLite file.
            key: the 32-byte store key (:func:`hotline.store.sealing.derive_store_key`).
            max_page_count: cap the file size in pages (tests use it to fill the "disk").

        Raises:
            StoreCorrupt: the file is damaged (SQLite's quick check fails); it is left unchanged.
            StoreError: not a Hotline store, another schema version, or the key does not fit it.
        """
        try:
            conn = open_encrypted(path, key)
        except DRIVER_ERRORS as exc:
            raise translate(exc, path) from None
        try:
            # look before touching: a file that is not ours is refused unchanged (no WAL switch)
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if tables and "meta" not in tables:
                raise StoreError(f"{path} is not a Hotline store")
            if tables:
                _check_integrity(conn, path)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            # checkpoints are ours to schedule (Store.checkpoint), out of the way of a message's commit
            conn.execute("PRAGMA wal_autocheckpoint=0")
            conn.execute("PRAGMA foreign_keys=ON")
            if max_page_count is not None:
                conn.execute(f"PRAGMA max_page_count={int(max_page_count)}")
            store = cls(conn, Sealer(key), path)
            store._prepare()
        except DRIVER_ERRORS as exc:
            conn.close()
            raise translate(exc, path) from None
        except StoreError:
            conn.close()
            raise
        return store

    def _prepare(self) -> None:
        tables = {row[0] for row in self._conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables:
            with self.transaction():
                # one statement at a time: executescript() would commit half-way
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        self._conn.execute(statement)
                self.meta.set("schema", str(SCHEMA_VERSION).encode())
                self.meta.set("key_check", self._sealer.seal(b"key_check", b"hotline"))
            return
        if "meta" not in tables:
            raise StoreError("this file is not a Hotline store")
        version = self.meta.get("schema")
        if version is not None and version.isdigit() and 0 < int(version) < SCHEMA_VERSION:
            self._migrate(int(version))
            version = self.meta.get("schema")
        if version != str(SCHEMA_VERSION).encode():
            raise StoreError(f"the store has schema version {version!r}; this Hotline reads {SCHEMA_VERSION}")
        check = self.meta.get("key_check")
        try:
            ours = check is not None and self._sealer.open(b"key_check", check) == b"hotline"
        except StoreCorrupt:
            ours = False
        if not ours:
            raise StoreError("the store was made by another station identity")

    def _migrate(self, version: int) -> None:
        # each step in its own transaction: a crash between steps leaves a valid older store
        for target in range(version + 1, SCHEMA_VERSION + 1):
            with self.transaction():
                for statement in MIGRATIONS[target].split(";"):
                    if statement.strip():
                        self._conn.execute(statement)
                self.meta.set("schema", str(target).encode())

    def close(self) -> None:
        """Close the file (a WAL checkpoint happens on the way)."""
        self._conn.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One durable transaction: everything inside commits together, or nothing does.

        Raises:
            StoreFull: the disk or size limit is reached (rolled back; nothing stored before is lost).
            StoreError: any other SQLite failure.
        """
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except DRIVER_ERRORS as exc:
            raise translate(exc, self.path) from None
        try:
            yield
            if not self._conn.in_transaction:
                raise StoreFull(
                    "the store is full (disk or size limit): free space, then retry; nothing stored was lost"
                )
            self._conn.execute("COMMIT")
        except DRIVER_ERRORS as exc:
            self._sealers.forget()  # a profile changed in it may not have been kept
            with contextlib.suppress(*DRIVER_ERRORS):
                self._conn.execute("ROLLBACK")
            raise translate(exc, self.path) from None
        except BaseException:
            self._sealers.forget()
            with contextlib.suppress(*DRIVER_ERRORS):
                self._conn.execute("ROLLBACK")
            raise

    @contextlib.contextmanager
    def savepoint(self) -> Iterator[None]:
        """A nested unit inside :meth:`transaction` that can fail alone."""
        self._conn.execute("SAVEPOINT op")
        try:
            yield
        except BaseException:
            self._sealers.forget()
            # after SQLITE_FULL, SQLite may have rolled back the whole transaction already
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK TO op")
                self._conn.execute("RELEASE op")
            raise
        self._conn.execute("RELEASE op")

    def checkpoint(self) -> None:
        """Copy the write-ahead log into the database file, so that it starts over (outside transactions)."""
        try:
            # PASSIVE: the log file is then reused from its start, so commits overwrite blocks already
            # allocated instead of growing the file (cheaper to fsync)
            self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except DRIVER_ERRORS as exc:
            raise translate(exc, self.path) from None

    @property
    def in_transaction(self) -> bool:
        """Whether a transaction is open (SQLite ends one by itself on some errors, e.g. a full disk)."""
        return self._conn.in_transaction

    def execute_checked(self, sql: str, params: tuple[object, ...] = ()) -> sqlite3.Cursor:
        """Run one statement, turning SQLite errors into :class:`StoreError`."""
        return execute_checked(self._conn, self.path, sql, params)


__all__ = ["QUICK_CHECK_REPORTS", "Store"]
