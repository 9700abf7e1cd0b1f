"""The store's documents: where each one stands, in each direction, and where a received one's bytes live.

Each received document has its own random file name and sealed random key: a file name or a key
is never derived from the document id, which the sender chose: a peer that
reuses an id (on its line or another) must not reach another document's file or key
(docs/protocol.md §13). The key is sealed at rest with the store key, bound to the file name, the
way line keys are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hotline.crypto.random import random_bytes
from hotline.store.base import TablePart
from hotline.store.errors import StoreError
from hotline.store.rows import DocRow
from hotline.store.schema import IN
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
    #: The AEAD that seals its chunks (a Noise cipher name; files before schema 4: ChaCha20-Poly1305).
    aead: str = "ChaChaPoly"


def _key_ad(name: str) -> bytes:
    return b"blob-key|" + name.encode("ascii")


class DocumentStore(TablePart):
    """The station's documents and their files' names and keys (``store.documents``)."""

    attribute = "documents"

    def add(
        self,
        line_id: int,
        direction: int,
        *,
        doc_id: bytes,
        message_id: bytes,
        name: str,
        size: int,
        digest: bytes,
        hash: str,
        now: float,
        source: str | None = None,
        source_mtime: int | None = None,
    ) -> DocRow:
        """Record a document (out: when queued; in: when its DOC entry is stored)."""
        cursor = self.execute_checked(
            "INSERT INTO documents (line_id, direction, doc_id, message_id, name, size, digest, hash,"
            " state, source, source_mtime, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'receiving', ?, ?, ?)",
            (line_id, direction, doc_id, message_id, name, size, digest, hash, source, source_mtime, now),
        )
        rowid = int(cursor.lastrowid or 0)
        doc = self.by_rowid(rowid)
        assert doc is not None
        return doc

    def by_rowid(self, rowid: int) -> DocRow | None:
        row = self.execute_checked(
            f"SELECT {_DOC_COLUMNS} FROM documents WHERE rowid = ?", (rowid,)
        ).fetchone()
        return None if row is None else _doc(row)

    def by_id(self, line_id: int, direction: int, doc_id: bytes) -> DocRow | None:
        """One document of a line, by its id."""
        row = self.execute_checked(
            f"SELECT {_DOC_COLUMNS} FROM documents WHERE line_id = ? AND direction = ? AND doc_id = ?",
            (line_id, direction, doc_id),
        ).fetchone()
        return None if row is None else _doc(row)

    def by_message(self, message_id: bytes) -> DocRow | None:
        """The document a DOC entry announced."""
        row = self.execute_checked(
            f"SELECT {_DOC_COLUMNS} FROM documents WHERE message_id = ?", (message_id,)
        ).fetchone()
        return None if row is None else _doc(row)

    def find(
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

    def update(self, rowid: int, *, stored: int, state: str, detail: str | None = None,
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

    def new_blob(self, rowid: int, aead: str = "ChaChaPoly") -> BlobRef:
        """Give the inbound document ``rowid`` a new file name and key of its own (its bytes start over),
        sealed with ``aead`` (a Noise cipher name: the line's suite's AEAD).

        The name is random and unique among rows, so the file it names is made by this row alone.
        """
        name = random_bytes(BLOB_NAME_LEN).hex() + ".in"
        key = random_bytes(BLOB_KEY_LEN)
        self.execute_checked(
            "UPDATE documents SET blob_name = ?, blob_key = ?, blob_legacy = 0, blob_aead = ?, stored = 0"
            " WHERE rowid = ?",
            (name, self._row_sealer(rowid).seal(_key_ad(name), key), aead, rowid),
        )
        return BlobRef(name, key, aead=aead)

    def blob_of(self, rowid: int) -> BlobRef | None:
        """The file and key of the inbound document ``rowid`` (None: it has none)."""
        row = self.execute_checked(
            "SELECT blob_name, blob_key, blob_legacy, doc_id, blob_aead FROM documents"
            " WHERE rowid = ? AND direction = ?",
            (rowid, IN),
        ).fetchone()
        if row is None or row[0] is None:
            return None
        name = str(row[0])
        if row[1] is None:
            # a legacy blob: its key was derived, and the migration recorded its file
            return BlobRef(name, self.blob_key(bytes(row[3]), IN), legacy=True)
        key = self._row_sealer(rowid).open(_key_ad(name), bytes(row[1]))
        return BlobRef(name, key, legacy=bool(row[2]), aead=str(row[4]))

    def _row_sealer(self, rowid: int) -> Sealer:
        # a file's key is one of its line's values: sealed with the line's profile (docs/store.md)
        row = self.execute_checked("SELECT line_id FROM documents WHERE rowid = ?", (rowid,)).fetchone()
        if row is None:
            raise StoreError(f"no document row {rowid}")
        return self._sealers.line(int(row[0]))

    @staticmethod
    def reseal_keys(store: TablePart, line_id: int, was: Sealer, into: Sealer) -> None:
        """Seal the keys of ``line_id``'s received files again, from ``was`` into ``into`` (a profile
        change, in the caller's transaction)."""
        rows = store.execute_checked(
            "SELECT rowid, blob_name, blob_key FROM documents WHERE line_id = ? AND blob_key IS NOT NULL",
            (line_id,),
        ).fetchall()
        for rowid, name, sealed in rows:
            resealed = was.reseal(_key_ad(str(name)), bytes(sealed), into)
            store.execute_checked("UPDATE documents SET blob_key = ? WHERE rowid = ?", (resealed, rowid))

    def id_in_use(self, doc_id: bytes) -> bool:
        """Whether any document of the station, on any line and in either direction, has ``doc_id``."""
        row = self.execute_checked("SELECT 1 FROM documents WHERE doc_id = ? LIMIT 1", (doc_id,)).fetchone()
        return row is not None

    def blob_names(self, line_id: int) -> list[str]:
        """The files of a line's received documents (to delete with the line)."""
        rows = self.execute_checked(
            "SELECT blob_name FROM documents WHERE line_id = ? AND blob_name IS NOT NULL", (line_id,)
        ).fetchall()
        return [str(row[0]) for row in rows]


_DOC_COLUMNS = (
    "rowid, line_id, direction, doc_id, message_id, name, size, digest, stored, state, detail, source,"
    " source_mtime, created_at, completed_at, hash"
)


def _doc(r: Any) -> DocRow:
    return DocRow(
        int(r[0]), int(r[1]), int(r[2]), bytes(r[3]), bytes(r[4]), str(r[5]), int(r[6]), bytes(r[7]),
        int(r[8]), str(r[9]), r[10], r[11], r[12], float(r[13]), r[14], str(r[15]),
    )  # fmt: skip


__all__ = ["BLOB_KEY_LEN", "BLOB_NAME_LEN", "BlobRef", "DocumentStore"]
