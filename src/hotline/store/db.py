"""The station's SQLite store: lines, both directions of every transcript, and events.

Synchronous and single-threaded by design: the daemon owns one :class:`Store` and calls it from one
worker thread, which wraps a batch of calls in one transaction (:meth:`Store.transaction`), so many
messages share one fsync (group commit). Methods never commit on their own.

Durability: WAL with ``synchronous=FULL``, so a committed transaction survives a killed process and
a power cut. At rest the file and its log are encrypted page by page (:mod:`hotline.store.connection`),
and message bodies, call audio and line keys are sealed again inside (:mod:`hotline.store.sealing`).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hotline.store.connection import DRIVER_ERRORS, open_encrypted
from hotline.store.connection import dbapi as sqlite3
from hotline.store.documents import DocumentBlobs
from hotline.store.errors import StoreCorrupt, StoreError, StoreFull
from hotline.store.ids import MessageIds
from hotline.store.schema import IN, MESSAGE_COLUMNS, MIGRATIONS, OUT, SCHEMA, SCHEMA_VERSION
from hotline.store.sealing import Sealer


@dataclass(frozen=True, slots=True)
class LineRow:
    """A line as stored (without its key, which :meth:`Store.line_key` opens on demand)."""

    id: int
    peer: str
    card: bytes
    key_digest: bytes
    static_public: bytes
    endpoints: tuple[str, ...]
    has_key: bool
    key_created_at: int | None
    verified_digest: bytes | None
    added_at: float
    chain_out0: bytes
    chain_in0: bytes
    #: Outbound entries up to this sequence number are marked delivered.
    delivered_upto: int = 0

    @property
    def verified(self) -> bool:
        """The operators confirmed the safety number of the card we hold now."""
        return self.verified_digest is not None and self.verified_digest == self.key_digest


@dataclass(frozen=True, slots=True)
class MessageRow:
    """One transcript entry, body opened."""

    rowid: int
    line_id: int
    direction: int
    id: bytes
    seq: int | None
    kind: int
    precedence: int
    created_ms: int
    ref: bytes
    body: bytes
    chain: bytes | None
    stored_at: float
    delivered_at: float | None
    acked_at: float | None


@dataclass(frozen=True, slots=True)
class EventRow:
    """Something that happened on a line or the station (alerts, tests, sessions)."""

    rowid: int
    line_id: int | None
    at: float
    kind: str
    detail: dict[str, object]


#: The meta row that keeps the last initiation timestamp we sent (docs/protocol.md §3.3).
_LAST_INITIATION = "last_initiation_ns"

_MESSAGE_COLUMNS = MESSAGE_COLUMNS
_LINE_COLUMNS = (
    "id, peer, card, key_digest, static_public, endpoints, line_key IS NOT NULL, key_created_at, "
    "verified_digest, added_at, chain_out0, chain_in0, delivered_upto"
)


#: How many problems the integrity check at open reports, at most (the first few say enough).
QUICK_CHECK_REPORTS = 3
#: SQLite's wording for a file it cannot read as a database, or one whose pages do not add up.
_DAMAGE_WORDS = ("malformed", "not a database", "corrupt")


def _damaged(path: Path | None, detail: str) -> StoreCorrupt:
    where = f"the store file {path}" if path is not None else "the store file"
    return StoreCorrupt(
        f"{where} is damaged ({detail}): restore it from a backup, or move it aside with its -wal "
        "and -shm files (the station then starts with an empty store)"
    )


def _translate(exc: Exception, path: Path | None) -> StoreError:
    if isinstance(exc, MemoryError):  # SQLCipher's answer once a page failed its check
        return _damaged(path, "a page failed its authentication check")
    if isinstance(exc, sqlite3.OperationalError) and "full" in str(exc):
        return StoreFull(
            "the store is full (disk or size limit): free space, then retry; nothing stored was lost"
        )
    if isinstance(exc, sqlite3.DatabaseError) and any(word in str(exc) for word in _DAMAGE_WORDS):
        return _damaged(path, str(exc))
    return StoreError(f"store error: {exc}")


def _check_integrity(conn: sqlite3.Connection, path: Path) -> None:
    # A damaged page otherwise shows only when a read reaches it, and the daemon would serve a
    # transcript with holes until then. quick_check reads every page once but skips integrity_check's
    # index cross-checks: on a 50 MB store of 100,000 messages it took about 40 ms with the file in
    # the page cache and 1.2 s cold. It only reads, so a refused file is left as evidence.
    problems = [str(row[0]) for row in conn.execute(f"PRAGMA quick_check({QUICK_CHECK_REPORTS})")]
    if problems != ["ok"]:
        raise _damaged(path, "; ".join(problems))


class Store(DocumentBlobs, MessageIds):
    """The station's durable state in one SQLite file. Not thread-safe: use it from one thread."""

    def __init__(self, conn: sqlite3.Connection, sealer: Sealer, path: Path | None = None) -> None:
        self._conn = conn
        self._sealer = sealer
        #: The SQLite file (documents live in a directory beside it).
        self.path = path

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
            raise _translate(exc, path) from None
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
            raise _translate(exc, path) from None
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
                self._set_meta("schema", str(SCHEMA_VERSION).encode())
                self._set_meta("key_check", self._sealer.seal(b"key_check", b"hotline"))
            return
        if "meta" not in tables:
            raise StoreError("this file is not a Hotline store")
        version = self._meta("schema")
        if version is not None and version.isdigit() and 0 < int(version) < SCHEMA_VERSION:
            self._migrate(int(version))
            version = self._meta("schema")
        if version != str(SCHEMA_VERSION).encode():
            raise StoreError(f"the store has schema version {version!r}; this Hotline reads {SCHEMA_VERSION}")
        check = self._meta("key_check")
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
                self._set_meta("schema", str(target).encode())

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
            raise _translate(exc, self.path) from None
        try:
            yield
            if not self._conn.in_transaction:
                raise StoreFull(
                    "the store is full (disk or size limit): free space, then retry; nothing stored was lost"
                )
            self._conn.execute("COMMIT")
        except DRIVER_ERRORS as exc:
            with contextlib.suppress(*DRIVER_ERRORS):
                self._conn.execute("ROLLBACK")
            raise _translate(exc, self.path) from None
        except BaseException:
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
            raise _translate(exc, self.path) from None

    @property
    def in_transaction(self) -> bool:
        """Whether a transaction is open (SQLite ends one by itself on some errors, e.g. a full disk)."""
        return self._conn.in_transaction

    def execute_checked(self, sql: str, params: tuple[object, ...] = ()) -> sqlite3.Cursor:
        """Run one statement, turning SQLite errors into :class:`StoreError`."""
        try:
            return self._conn.execute(sql, params)
        except DRIVER_ERRORS as exc:
            raise _translate(exc, self.path) from None

    # -- meta

    def _meta(self, key: str) -> bytes | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def _set_meta(self, key: str, value: bytes) -> None:
        self._conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def meta(self, key: str) -> bytes | None:
        """A station-level value (e.g. the last handshake timestamp seen per peer)."""
        return self._meta(key)

    def set_meta(self, key: str, value: bytes) -> None:
        """Set a station-level value."""
        self._set_meta(key, value)

    def last_initiation(self) -> int:
        """The greatest handshake initiation timestamp this station has sent (ns), 0 if none yet."""
        row = self.execute_checked("SELECT value FROM meta WHERE key = ?", (_LAST_INITIATION,)).fetchone()
        return 0 if row is None else int.from_bytes(bytes(row[0]), "big")

    def set_last_initiation(self, timestamp_ns: int) -> None:
        """Record a sent initiation timestamp; a smaller one than already stored is ignored."""
        if timestamp_ns > self.last_initiation():
            self.execute_checked(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                (_LAST_INITIATION, timestamp_ns.to_bytes(8, "big")),
            )

    # -- lines

    def _line(self, row: Any) -> LineRow:
        return LineRow(
            id=int(row[0]),
            peer=str(row[1]),
            card=bytes(row[2]),
            key_digest=bytes(row[3]),
            static_public=bytes(row[4]),
            endpoints=tuple(json.loads(str(row[5]))),
            has_key=bool(row[6]),
            key_created_at=None if row[7] is None else int(row[7]),
            verified_digest=None if row[8] is None else bytes(row[8]),
            added_at=float(row[9]),
            chain_out0=bytes(row[10]),
            chain_in0=bytes(row[11]),
            delivered_upto=int(row[12]),
        )

    def lines(self) -> list[LineRow]:
        """Every line, by name."""
        rows = self.execute_checked(f"SELECT {_LINE_COLUMNS} FROM lines ORDER BY peer").fetchall()
        return [self._line(row) for row in rows]

    def line(self, peer: str) -> LineRow | None:
        """The line to ``peer``, if there is one."""
        row = self.execute_checked(f"SELECT {_LINE_COLUMNS} FROM lines WHERE peer = ?", (peer,)).fetchone()
        return None if row is None else self._line(row)

    def line_by_id(self, line_id: int) -> LineRow | None:
        """The line with ``line_id``."""
        row = self.execute_checked(f"SELECT {_LINE_COLUMNS} FROM lines WHERE id = ?", (line_id,)).fetchone()
        return None if row is None else self._line(row)

    def add_line(
        self,
        *,
        peer: str,
        card: bytes,
        key_digest: bytes,
        static_public: bytes,
        endpoints: list[str],
        now: float,
        chain_out0: bytes,
        chain_in0: bytes,
    ) -> LineRow:
        """Create a line (unverified, without a key)."""
        cursor = self.execute_checked(
            "INSERT INTO lines (peer, card, key_digest, static_public, endpoints, added_at, chain_out0,"
            " chain_in0) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (peer, card, key_digest, static_public, json.dumps(endpoints), now, chain_out0, chain_in0),
        )
        line = self.line_by_id(int(cursor.lastrowid or 0))
        assert line is not None
        return line

    def update_line(
        self, line_id: int, *, card: bytes, key_digest: bytes, static_public: bytes, endpoints: list[str]
    ) -> None:
        """Replace a line's card and endpoints (a changed key digest leaves it unverified)."""
        self.execute_checked(
            "UPDATE lines SET card = ?, key_digest = ?, static_public = ?, endpoints = ? WHERE id = ?",
            (card, key_digest, static_public, json.dumps(endpoints), line_id),
        )

    def set_verified(self, line_id: int, digest: bytes | None) -> None:
        """Pin the key digest the operators confirmed (``None`` clears it)."""
        self.execute_checked("UPDATE lines SET verified_digest = ? WHERE id = ?", (digest, line_id))

    def set_line_key(self, line_id: int, key: bytes, created_at: int) -> None:
        """Store the line key, sealed at rest."""
        sealed = self._sealer.seal(b"line-key" + line_id.to_bytes(8, "big"), key)
        self.execute_checked(
            "UPDATE lines SET line_key = ?, key_created_at = ? WHERE id = ?", (sealed, created_at, line_id)
        )

    def line_key(self, line_id: int) -> bytes | None:
        """The line key in the clear, or ``None`` when the line has none yet."""
        row = self.execute_checked("SELECT line_key FROM lines WHERE id = ?", (line_id,)).fetchone()
        if row is None or row[0] is None:
            return None
        return self._sealer.open(b"line-key" + line_id.to_bytes(8, "big"), bytes(row[0]))

    def remove_line(self, line_id: int) -> None:
        """Delete a line with its transcript and events."""
        self.execute_checked("DELETE FROM lines WHERE id = ?", (line_id,))

    # -- transcripts

    @staticmethod
    def _body_ad(line_id: int, direction: int, message_id: bytes) -> bytes:
        return b"body" + line_id.to_bytes(8, "big") + bytes([direction]) + message_id

    def _message(self, row: Any) -> MessageRow:
        line_id, direction, message_id = int(row[1]), int(row[2]), bytes(row[3])
        return MessageRow(
            rowid=int(row[0]),
            line_id=line_id,
            direction=direction,
            id=message_id,
            seq=None if row[4] is None else int(row[4]),
            kind=int(row[5]),
            precedence=int(row[6]),
            created_ms=int(row[7]),
            ref=bytes(row[8]),
            body=self._sealer.open_padded(self._body_ad(line_id, direction, message_id), bytes(row[9])),
            chain=None if row[10] is None else bytes(row[10]),
            stored_at=float(row[11]),
            delivered_at=None if row[12] is None else float(row[12]),
            acked_at=None if row[13] is None else float(row[13]),
        )

    def queue(
        self,
        line_id: int,
        *,
        id: bytes,
        kind: int,
        precedence: int,
        created_ms: int,
        ref: bytes,
        body: bytes,
        now: float,
        place: tuple[int, bytes] | None = None,
    ) -> int:
        """Put an outbound entry in the line's queue; returns its rowid.

        ``place`` (sequence number, chain head) numbers it at once, when the caller knows it is next.
        """
        sealed = self._sealer.seal_padded(self._body_ad(line_id, OUT, id), body)
        seq, chain = place if place is not None else (None, None)
        cursor = self.execute_checked(
            "INSERT INTO messages (line_id, direction, id, seq, kind, precedence, created_ms, ref, body,"
            " chain, stored_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (line_id, OUT, id, seq, kind, precedence, created_ms, ref, sealed, chain, now),
        )
        return int(cursor.lastrowid or 0)

    def position(self, line_id: int, direction: int) -> tuple[int, bytes | None]:
        """``(seq, chain head)`` at the end of one direction's transcript (``(0, None)`` when empty)."""
        row = self.execute_checked(
            "SELECT seq, chain FROM messages WHERE line_id = ? AND direction = ? AND seq IS NOT NULL"
            " ORDER BY seq DESC LIMIT 1",
            (line_id, direction),
        ).fetchone()
        return (0, None) if row is None else (int(row[0]), bytes(row[1]))

    def chain_at(self, line_id: int, direction: int, seq: int) -> bytes | None:
        """The chain head right after entry ``seq`` of one direction."""
        row = self.execute_checked(
            "SELECT chain FROM messages WHERE line_id = ? AND direction = ? AND seq = ?",
            (line_id, direction, seq),
        ).fetchone()
        return None if row is None else bytes(row[0])

    def next_queued(self, line_id: int, limit: int) -> list[MessageRow]:
        """The next ``limit`` queued outbound entries: by precedence, then in the order queued."""
        rows = self.execute_checked(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE line_id = ? AND direction = {OUT} AND seq IS NULL"
            " ORDER BY precedence, rowid LIMIT ?",
            (line_id, limit),
        ).fetchall()
        return [self._message(row) for row in rows]

    def assign(self, rowid: int, seq: int, chain: bytes) -> None:
        """Fix a queued entry's place in the outbound transcript."""
        self.execute_checked("UPDATE messages SET seq = ?, chain = ? WHERE rowid = ?", (seq, chain, rowid))

    def sent_after(self, line_id: int, seq: int, limit: int) -> list[MessageRow]:
        """Outbound entries with a sequence number above ``seq``, in order (what to resend)."""
        rows = self.execute_checked(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE line_id = ? AND direction = {OUT} AND seq > ?"
            " ORDER BY seq LIMIT ?",
            (line_id, seq, limit),
        ).fetchall()
        return [self._message(row) for row in rows]

    def mark_delivered(self, line_id: int, upto: int, now: float, after: int = 0) -> list[bytes]:
        """Outbound entries in ``(after, upto]`` are stored at the peer; returns the ids newly marked.

        ``after`` is a hint (everything up to it is known to be marked already); it keeps the work
        proportional to the entries in flight, not to the line's history. The line's watermark
        (``delivered_upto``) moves to ``upto``.
        """
        where = f"line_id = ? AND direction = {OUT} AND seq > ? AND seq <= ? AND delivered_at IS NULL"
        rows = self.execute_checked(
            f"SELECT id FROM messages WHERE {where}", (line_id, after, upto)
        ).fetchall()
        if rows:
            self.execute_checked(
                f"UPDATE messages SET delivered_at = ? WHERE {where}", (now, line_id, after, upto)
            )
        self.execute_checked(
            "UPDATE lines SET delivered_upto = ? WHERE id = ? AND delivered_upto < ?", (upto, line_id, upto)
        )
        return [bytes(row[0]) for row in rows]

    def store_incoming(
        self,
        line_id: int,
        *,
        id: bytes,
        seq: int,
        kind: int,
        precedence: int,
        created_ms: int,
        ref: bytes,
        body: bytes,
        chain: bytes,
        now: float,
    ) -> int:
        """Append a received entry to the inbound transcript; returns its rowid."""
        sealed = self._sealer.seal_padded(self._body_ad(line_id, IN, id), body)
        cursor = self.execute_checked(
            "INSERT INTO messages (line_id, direction, id, seq, kind, precedence, created_ms, ref, body,"
            " chain, stored_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (line_id, IN, id, seq, kind, precedence, created_ms, ref, sealed, chain, now),
        )
        return int(cursor.lastrowid or 0)

    def mark_acked(self, line_id: int, direction: int, message_id: bytes, now: float) -> bool:
        """Record an operator's acknowledgement of one entry; False if unknown or already acked."""
        cursor = self.execute_checked(
            "UPDATE messages SET acked_at = ? WHERE line_id = ? AND direction = ? AND id = ?"
            " AND acked_at IS NULL",
            (now, line_id, direction, message_id),
        )
        return cursor.rowcount > 0

    def message(self, message_id: bytes, direction: int | None = None) -> MessageRow | None:
        """The entry with ``message_id`` (inbound first when ``direction`` is not given)."""
        if direction is None:
            sql = (
                f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE id = ? AND refused IS NULL"
                " ORDER BY direction DESC LIMIT 1"
            )
            row = self.execute_checked(sql, (message_id,)).fetchone()
        else:
            sql = (
                f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE id = ? AND direction = ? AND refused IS NULL"
                " LIMIT 1"
            )
            row = self.execute_checked(sql, (message_id, direction)).fetchone()
        return None if row is None else self._message(row)

    def messages(
        self,
        *,
        line_id: int | None = None,
        direction: int | None = None,
        kinds: tuple[int, ...] | None = None,
        after_rowid: int = 0,
        unacked: bool = False,
        limit: int = 1000,
        newest: bool = False,
    ) -> list[MessageRow]:
        """Entries matching the filters, oldest first (the newest ``limit`` with ``newest``)."""
        where, params = ["rowid > ?", "refused IS NULL"], [after_rowid]
        if line_id is not None:
            where.append("line_id = ?")
            params.append(line_id)
        if direction is not None:
            where.append("direction = ?")
            params.append(direction)
        if kinds is not None:
            where.append(f"kind IN ({', '.join('?' * len(kinds))})")
            params.extend(kinds)
        if unacked:
            where.append("acked_at IS NULL")
        order = "DESC" if newest else "ASC"
        clause = " AND ".join(where)
        sql = f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE {clause} ORDER BY rowid {order} LIMIT ?"
        rows = self.execute_checked(sql, (*params, limit)).fetchall()
        found = [self._message(row) for row in rows]
        return found[::-1] if newest else found

    def count_queued(self, line_id: int) -> tuple[int, int]:
        """``(queued, in flight)``: outbound entries not yet sent, and sent but not yet receipted."""
        # both counts cost what is pending, not the line's history: a partial index for the queue,
        # the sequence-number index above the delivered watermark for what is in flight
        queued = self.execute_checked(
            f"SELECT COUNT(*) FROM messages WHERE line_id = ? AND direction = {OUT} AND seq IS NULL",
            (line_id,),
        ).fetchone()[0]
        in_flight = self.execute_checked(
            f"SELECT COUNT(*) FROM messages WHERE line_id = ? AND direction = {OUT} AND seq > "
            "(SELECT delivered_upto FROM lines WHERE id = ?) AND delivered_at IS NULL",
            (line_id, line_id),
        ).fetchone()[0]
        return int(queued), int(in_flight)

    def has_queued(self, line_id: int) -> bool:
        """Whether any outbound entry waits unnumbered."""
        row = self.execute_checked(
            f"SELECT 1 FROM messages WHERE line_id = ? AND direction = {OUT} AND seq IS NULL LIMIT 1",
            (line_id,),
        ).fetchone()
        return row is not None

    # -- events

    def add_event(self, line_id: int | None, kind: str, detail: dict[str, object], now: float) -> EventRow:
        """Record an event; returns it."""
        cursor = self.execute_checked(
            "INSERT INTO events (line_id, at, kind, detail) VALUES (?, ?, ?, ?)",
            (line_id, now, kind, json.dumps(detail)),
        )
        return EventRow(int(cursor.lastrowid or 0), line_id, now, kind, detail)

    def events(
        self, *, line_id: int | None = None, kinds: tuple[str, ...] | None = None, limit: int = 1000
    ) -> list[EventRow]:
        """The newest ``limit`` events matching the filters, oldest first."""
        where: list[str] = []
        params: list[object] = []
        if line_id is not None:
            where.append("line_id = ?")
            params.append(line_id)
        if kinds is not None:
            where.append(f"kind IN ({', '.join('?' * len(kinds))})")
            params.extend(kinds)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self.execute_checked(
            f"SELECT rowid, line_id, at, kind, detail FROM events {clause} ORDER BY rowid DESC LIMIT ?",
            (*params, limit),
        ).fetchall()
        return [
            EventRow(int(r[0]), None if r[1] is None else int(r[1]), float(r[2]), str(r[3]), json.loads(r[4]))
            for r in reversed(rows)
        ]

    # -- documents

    def add_document(
        self,
        line_id: int,
        direction: int,
        *,
        doc_id: bytes,
        message_id: bytes,
        name: str,
        size: int,
        sha256: bytes,
        now: float,
        source: str | None = None,
        source_mtime: int | None = None,
    ) -> DocRow:
        """Record a document (out: when queued; in: when its DOC entry is stored)."""
        cursor = self.execute_checked(
            "INSERT INTO documents (line_id, direction, doc_id, message_id, name, size, sha256, state,"
            " source, source_mtime, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'receiving', ?, ?, ?)",
            (line_id, direction, doc_id, message_id, name, size, sha256, source, source_mtime, now),
        )
        rowid = int(cursor.lastrowid or 0)
        doc = self.document_by_rowid(rowid)
        assert doc is not None
        return doc

    def document_by_rowid(self, rowid: int) -> DocRow | None:
        row = self.execute_checked(
            f"SELECT {_DOC_COLUMNS} FROM documents WHERE rowid = ?", (rowid,)
        ).fetchone()
        return None if row is None else _doc(row)

    def document(self, line_id: int, direction: int, doc_id: bytes) -> DocRow | None:
        """One document of a line, by its id."""
        row = self.execute_checked(
            f"SELECT {_DOC_COLUMNS} FROM documents WHERE line_id = ? AND direction = ? AND doc_id = ?",
            (line_id, direction, doc_id),
        ).fetchone()
        return None if row is None else _doc(row)

    def document_by_message(self, message_id: bytes) -> DocRow | None:
        """The document a DOC entry announced."""
        row = self.execute_checked(
            f"SELECT {_DOC_COLUMNS} FROM documents WHERE message_id = ?", (message_id,)
        ).fetchone()
        return None if row is None else _doc(row)

    def documents(
        self, *, line_id: int | None = None, direction: int | None = None, unfinished: bool = False
    ) -> list[DocRow]:
        """Documents matching the filters, oldest first."""
        where, params = [], []
        if line_id is not None:
            where.append("line_id = ?")
            params.append(line_id)
        if direction is not None:
            where.append("direction = ?")
            params.append(direction)
        if unfinished:
            where.append("state IN ('receiving', 'paused')")
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self.execute_checked(
            f"SELECT {_DOC_COLUMNS} FROM documents {clause} ORDER BY rowid", tuple(params)
        ).fetchall()
        return [_doc(r) for r in rows]

    def set_document(self, rowid: int, *, stored: int, state: str, detail: str | None = None,
                     completed_at: float | None = None) -> None:  # fmt: skip
        """Record how far a document got."""
        self.execute_checked(
            "UPDATE documents SET stored = ?, state = ?, detail = ?, completed_at = ? WHERE rowid = ?",
            (stored, state, detail, completed_at, rowid),
        )

    def blob_key(self, doc_id: bytes, direction: int) -> bytes:
        """The key that sealed a legacy document's bytes (schema 2); a new document has a random key of
        its own in its row (:meth:`new_blob`), never one derived from the id its sender chose."""
        return self._sealer.derive(b"document|%d|" % direction + doc_id)

    # -- calls

    def add_call(self, line_id: int, call_id: bytes, direction: int, started_at: float) -> int:
        """Log a new call; returns its row id."""
        cursor = self.execute_checked(
            "INSERT INTO calls (line_id, call_id, direction, started_at) VALUES (?, ?, ?, ?)",
            (line_id, call_id, direction, started_at),
        )
        return int(cursor.lastrowid or 0)

    def update_call(self, rowid: int, **fields: object) -> None:
        """Set some of a logged call's columns (answered_at, ended_at, end_reason, sas_confirmed,
        path, stats)."""
        allowed = {"answered_at", "ended_at", "end_reason", "sas_confirmed", "path", "stats"}
        if not fields or not set(fields) <= allowed:
            raise ValueError(f"cannot set {sorted(set(fields) - allowed)} on a call")
        values = [json.dumps(v) if k == "stats" else v for k, v in fields.items()]
        assignments = ", ".join(f"{k} = ?" for k in fields)
        self.execute_checked(f"UPDATE calls SET {assignments} WHERE rowid = ?", (*values, rowid))

    def calls(self, *, line_id: int | None = None, limit: int = 100) -> list[CallRow]:
        """The newest ``limit`` logged calls, oldest first."""
        clause, params = ("WHERE line_id = ?", (line_id,)) if line_id is not None else ("", ())
        rows = self.execute_checked(
            "SELECT rowid, line_id, call_id, direction, started_at, answered_at, ended_at, end_reason,"
            f" sas_confirmed, path, stats FROM calls {clause} ORDER BY rowid DESC LIMIT ?",
            (*params, limit),
        ).fetchall()
        return [_call(r) for r in reversed(rows)]

    def call(self, call_id: bytes) -> CallRow | None:
        """One logged call by its id."""
        row = self.execute_checked(
            "SELECT rowid, line_id, call_id, direction, started_at, answered_at, ended_at, end_reason,"
            " sas_confirmed, path, stats FROM calls WHERE call_id = ?",
            (call_id,),
        ).fetchone()
        return None if row is None else _call(row)

    @staticmethod
    def _audio_ad(call_rowid: int, direction: int, seq: int) -> bytes:
        return b"call_audio|%d|%d|%d" % (call_rowid, direction, seq)

    def add_call_audio(self, call_rowid: int, direction: int, seq: int, frames: bytes) -> None:
        """Keep a run of a call's Opus frames, sealed at rest."""
        sealed = self._sealer.seal_padded(self._audio_ad(call_rowid, direction, seq), frames)
        self.execute_checked(
            "INSERT INTO call_audio (call_rowid, direction, seq, frames) VALUES (?, ?, ?, ?)",
            (call_rowid, direction, seq, sealed),
        )

    def call_audio(self, call_rowid: int, direction: int) -> Iterator[bytes]:
        """A recorded call's runs of frames in one direction, in order, opened."""
        cursor = self._conn.execute(
            "SELECT seq, frames FROM call_audio WHERE call_rowid = ? AND direction = ? ORDER BY seq",
            (call_rowid, direction),
        )
        for seq, sealed in cursor:
            yield self._sealer.open_padded(self._audio_ad(call_rowid, direction, int(seq)), bytes(sealed))


@dataclass(frozen=True)
class DocRow:
    """Where one document stands, in one direction."""

    rowid: int
    line_id: int
    direction: int
    doc_id: bytes
    message_id: bytes
    name: str
    size: int
    sha256: bytes
    stored: int
    state: str
    detail: str | None
    source: str | None
    source_mtime: int | None
    created_at: float
    completed_at: float | None


_DOC_COLUMNS = (
    "rowid, line_id, direction, doc_id, message_id, name, size, sha256, stored, state, detail, source,"
    " source_mtime, created_at, completed_at"
)


def _doc(r: Any) -> DocRow:
    return DocRow(
        int(r[0]), int(r[1]), int(r[2]), bytes(r[3]), bytes(r[4]), str(r[5]), int(r[6]), bytes(r[7]),
        int(r[8]), str(r[9]), r[10], r[11], r[12], float(r[13]), r[14],
    )  # fmt: skip


@dataclass(frozen=True)
class CallRow:
    """One call in the log."""

    rowid: int
    line_id: int
    call_id: bytes
    direction: int
    started_at: float
    answered_at: float | None
    ended_at: float | None
    end_reason: str | None
    sas_confirmed: bool | None
    path: str | None
    stats: dict[str, Any] | None


def _call(r: Any) -> CallRow:
    return CallRow(
        rowid=int(r[0]),
        line_id=int(r[1]),
        call_id=bytes(r[2]),
        direction=int(r[3]),
        started_at=float(r[4]),
        answered_at=r[5],
        ended_at=r[6],
        end_reason=r[7],
        sas_confirmed=None if r[8] is None else bool(r[8]),
        path=r[9],
        stats=None if r[10] is None else json.loads(r[10]),
    )


__all__ = ["CallRow", "DocRow", "EventRow", "LineRow", "MessageRow", "Store"]
