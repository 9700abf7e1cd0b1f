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


class TablePart:
    """One table family of the store, over the store's connection. Not thread-safe, like the store."""

    #: The :class:`~hotline.store.db.Store` attribute this part is reached through.
    attribute: ClassVar[str]

    def __init__(self, conn: sqlite3.Connection, sealer: Sealer, path: Path | None) -> None:
        self._conn = conn
        self._sealer = sealer
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


__all__ = ["TablePart", "damaged", "execute_checked", "translate"]
