"""What every part of the store shares: the one connection, SQLite's failures in an operator's words.

The store is one SQLite file behind one connection; :class:`~hotline.store.db.Store` opens it and owns
its transactions, and each table family (lines, messages, documents, calls, events, meta) has a
:class:`TablePart` over that same connection. A part never begins or commits a transaction: its
methods run inside the caller's (:meth:`~hotline.store.db.Store.transaction`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ClassVar, Concatenate, ParamSpec, Self, TypeVar

from hotline.proto.suites import Suite, suite
from hotline.store.connection import DRIVER_ERRORS
from hotline.store.connection import dbapi as sqlite3
from hotline.store.errors import StoreCorrupt, StoreError, StoreFull
from hotline.store.sealing import Sealer

P = ParamSpec("P")
T = TypeVar("T")

#: SQLite's wording for a file it cannot read as a database, or one whose pages do not add up.
_DAMAGE_WORDS = ("malformed", "not a database", "corrupt")


def damaged(path: Path | None, detail: str) -> StoreCorrupt:
    """The error for a store file that fails its checks, saying what to do about it."""
    where = f"the store file {path}" if path is not None else "the store file"
    return StoreCorrupt(
        f"{where} is damaged ({detail}): restore it from a backup, or move it aside with its -wal "
        "and -shm files (the station then starts with an empty store)"
    )


def translate(exc: Exception, path: Path | None) -> StoreError:
    """A driver failure as the store's error (full, damaged, or anything else)."""
    if isinstance(exc, MemoryError):  # SQLCipher's answer once a page failed its check
        return damaged(path, "a page failed its authentication check")
    if isinstance(exc, sqlite3.OperationalError) and "full" in str(exc):
        return StoreFull(
            "the store is full (disk or size limit): free space, then retry; nothing stored was lost"
        )
    if isinstance(exc, sqlite3.DatabaseError) and any(word in str(exc) for word in _DAMAGE_WORDS):
        return damaged(path, str(exc))
    return StoreError(f"store error: {exc}")


def execute_checked(
    conn: sqlite3.Connection, path: Path | None, sql: str, params: tuple[object, ...] = ()
) -> sqlite3.Cursor:
    """Run one statement on ``conn``, turning SQLite errors into :class:`StoreError`."""
    try:
        return conn.execute(sql, params)
    except DRIVER_ERRORS as exc:
        raise translate(exc, path) from None


def line_suite(profile: str, path: Path | None) -> Suite:
    """The suite of a stored profile name; a name this Hotline does not know is a store error."""
    try:
        return suite(profile)
    except ValueError:
        raise StoreError(
            f"a line in {path or 'the store'} has the profile {profile!r}, which this Hotline does not "
            "know: it was written by a newer Hotline"
        ) from None


class LineSealers:
    """Each line's sealer (:meth:`Sealer.for_suite` of its profile), its profile read once.

    Shared by every part of one store. A profile remembered here may come from a transaction that
    is then rolled back: the store calls :meth:`forget` on every rollback.
    """

    def __init__(self, conn: sqlite3.Connection, sealer: Sealer, path: Path | None) -> None:
        self._conn = conn
        self._sealer = sealer
        self._path = path
        self._profiles: dict[int, Suite] = {}

    def suite(self, line_id: int) -> Suite:
        """The suite of the line ``line_id`` (``standard`` for a line that is not there)."""
        found = self._profiles.get(line_id)
        if found is None:
            row = execute_checked(
                self._conn, self._path, "SELECT profile FROM lines WHERE id = ?", (line_id,)
            ).fetchone()
            found = line_suite("standard" if row is None else str(row[0]), self._path)
            if row is not None:
                self._profiles[line_id] = found
        return found

    def line(self, line_id: int) -> Sealer:
        """The sealer of the values of the line ``line_id``."""
        return self._sealer.for_suite(self.suite(line_id))

    def call(self, call_rowid: int) -> Sealer:
        """The sealer of a logged call's values (its line's)."""
        row = execute_checked(
            self._conn, self._path, "SELECT line_id FROM calls WHERE rowid = ?", (call_rowid,)
        ).fetchone()
        return self._sealer if row is None else self.line(int(row[0]))

    def set(self, line_id: int, line_suite: Suite) -> None:
        """The line's profile was just stored as ``line_suite``."""
        self._profiles[line_id] = line_suite

    def forget(self, line_id: int | None = None) -> None:
        """Read the profile of ``line_id`` (of every line: ``None``) from the store again next time."""
        if line_id is None:
            self._profiles.clear()
        else:
            self._profiles.pop(line_id, None)


class TablePart:
    """One table family of the store, over the store's connection. Not thread-safe, like the store."""

    #: The :class:`~hotline.store.db.Store` attribute this part is reached through.
    attribute: ClassVar[str]

    def __init__(
        self,
        conn: sqlite3.Connection,
        sealer: Sealer,
        path: Path | None,
        sealers: LineSealers | None = None,
    ) -> None:
        self._conn = conn
        #: The station-wide sealer (``standard``); a line's values go through :attr:`_sealers`.
        self._sealer = sealer
        #: Each line's sealer, by its profile.
        self._sealers = sealers if sealers is not None else LineSealers(conn, sealer, path)
        #: The SQLite file, named in errors.
        self.path = path

    def execute_checked(self, sql: str, params: tuple[object, ...] = ()) -> sqlite3.Cursor:
        """Run one statement, turning SQLite errors into :class:`StoreError`."""
        return execute_checked(self._conn, self.path, sql, params)

    @classmethod
    def job(
        cls, method: Callable[Concatenate[Self, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> Callable[[object], T]:
        """``method`` of this part with these arguments, as a job for the store's worker thread.

        The arguments are taken now, on the caller's side (as :func:`functools.partial` would);
        the job receives the :class:`~hotline.store.db.Store` and calls the method on its part.
        """
        attribute = cls.attribute

        def run(store: object) -> T:
            part: Self = getattr(store, attribute)
            return method(part, *args, **kwargs)

        return run


__all__ = ["LineSealers", "TablePart", "damaged", "execute_checked", "line_suite", "translate"]
