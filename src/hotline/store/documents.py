"""Where a received document's bytes live: each row's own random file name and sealed random key.

A file name or a key is never derived from the document id, which the sender chose: a peer that
reuses an id (on its line or another) must not reach another document's file or key
(docs/protocol.md §13). The key is sealed at rest with the store key, bound to the file name, the
way line keys are.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hotline.crypto.random import random_bytes
from hotline.store.schema import IN

if TYPE_CHECKING:
    from hotline.store.sealing import Sealer

#: Random bytes in a blob's file name (hex in the name).
BLOB_NAME_LEN = 16
BLOB_KEY_LEN = 32


@dataclass(frozen=True, slots=True)
class BlobRef:
    """A received document's file (a name inside ``documents/``) and the key that seals it."""

    name: str
    key: bytes
    #: Written before schema version 3 (:mod:`hotline.store.blobs`): read only.
    legacy: bool = False


def _key_ad(name: str) -> bytes:
    return b"blob-key|" + name.encode("ascii")


class DocumentBlobs:
    """The :class:`hotline.store.db.Store` methods for document files (a mixin)."""

    _sealer: Sealer

    if TYPE_CHECKING:

        def execute_checked(self, sql: str, params: tuple[object, ...] = ()) -> sqlite3.Cursor: ...

        def blob_key(self, doc_id: bytes, direction: int) -> bytes: ...

    def new_blob(self, rowid: int) -> BlobRef:
        """Give the inbound document ``rowid`` a new file name and key of its own (its bytes start over).

        The name is random and unique among rows, so the file it names is made by this row alone.
        """
        name = random_bytes(BLOB_NAME_LEN).hex() + ".in"
        key = random_bytes(BLOB_KEY_LEN)
        self.execute_checked(
            "UPDATE documents SET blob_name = ?, blob_key = ?, blob_legacy = 0, stored = 0 WHERE rowid = ?",
            (name, self._sealer.seal(_key_ad(name), key), rowid),
        )
        return BlobRef(name, key)

    def blob_of(self, rowid: int) -> BlobRef | None:
        """The file and key of the inbound document ``rowid`` (None: it has none)."""
        row = self.execute_checked(
            "SELECT blob_name, blob_key, blob_legacy, doc_id FROM documents"
            " WHERE rowid = ? AND direction = ?",
            (rowid, IN),
        ).fetchone()
        if row is None or row[0] is None:
            return None
        name = str(row[0])
        if row[1] is None:
            # a legacy blob: its key was derived, and the migration recorded its file
            return BlobRef(name, self.blob_key(bytes(row[3]), IN), legacy=True)
        return BlobRef(name, self._sealer.open(_key_ad(name), bytes(row[1])), legacy=bool(row[2]))

    def doc_id_in_use(self, doc_id: bytes) -> bool:
        """Whether any document of the station, on any line and in either direction, has ``doc_id``."""
        row = self.execute_checked("SELECT 1 FROM documents WHERE doc_id = ? LIMIT 1", (doc_id,)).fetchone()
        return row is not None

    def blob_names(self, line_id: int) -> list[str]:
        """The files of a line's received documents (to delete with the line)."""
        rows = self.execute_checked(
            "SELECT blob_name FROM documents WHERE line_id = ? AND blob_name IS NOT NULL", (line_id,)
        ).fetchall()
        return [str(row[0]) for row in rows]


__all__ = ["BLOB_KEY_LEN", "BLOB_NAME_LEN", "BlobRef", "DocumentBlobs"]
