"""Message ids by line: the lookups behind "an id names one entry of one line".

Ids are unique per line across both directions (docs/protocol.md §10.2): an entry a peer sends with
an id the line already holds is refused. A refused entry is still kept, marked, in the inbound
transcript (its sequence number and chain head hold the transcript together, and it was receipted),
under an id of our own when its id was the problem; nothing reads it as a message.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

from hotline.crypto.random import random_bytes
from hotline.store.schema import IN, MESSAGE_COLUMNS

if TYPE_CHECKING:
    from hotline.proto.linemsg import Entry
    from hotline.store.db import MessageRow
    from hotline.store.sealing import Sealer


class MessageIds:
    """The :class:`hotline.store.db.Store` methods for message ids and refused entries (a mixin)."""

    _sealer: Sealer

    if TYPE_CHECKING:

        def execute_checked(self, sql: str, params: tuple[object, ...] = ()) -> sqlite3.Cursor: ...

        @staticmethod
        def _body_ad(line_id: int, direction: int, message_id: bytes) -> bytes: ...

        def _message(self, row: Any) -> MessageRow: ...

    def id_direction(self, line_id: int, message_id: bytes) -> int | None:
        """The direction of the entry of ``line_id`` with ``message_id`` (None: the line has none)."""
        row = self.execute_checked(
            "SELECT direction FROM messages WHERE id = ? AND line_id = ? LIMIT 1", (message_id, line_id)
        ).fetchone()
        return None if row is None else int(row[0])

    def line_message(self, line_id: int, message_id: bytes, direction: int) -> MessageRow | None:
        """One entry of one line (refused entries are never found)."""
        row = self.execute_checked(
            f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ? AND line_id = ? AND direction = ?"
            " AND refused IS NULL",
            (message_id, line_id, direction),
        ).fetchone()
        return None if row is None else self._message(row)

    def messages_with_id(self, message_id: bytes, direction: int) -> list[MessageRow]:
        """Every line's entry with ``message_id`` in ``direction`` (one, unless peers chose alike)."""
        rows = self.execute_checked(
            f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ? AND direction = ? AND refused IS NULL"
            " ORDER BY rowid",
            (message_id, direction),
        ).fetchall()
        return [self._message(row) for row in rows]

    def store_refused(self, line_id: int, entry: Entry, why: str, now: float, *, keep_id: bool) -> int:
        """Keep a refused inbound entry in its place in the transcript; returns its rowid.

        ``keep_id`` False: its id is already the line's, so it is kept under a random id of ours.
        """
        message_id = entry.id if keep_id else random_bytes(len(entry.id))
        sealed = self._sealer.seal(self._body_ad(line_id, IN, message_id), entry.body)
        cursor = self.execute_checked(
            "INSERT INTO messages (line_id, direction, id, seq, kind, precedence, created_ms, ref, body,"
            " chain, stored_at, refused) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (line_id, IN, message_id, entry.seq, entry.kind, entry.precedence, entry.created_ms, entry.ref,
             sealed, entry.chain, now, why),
        )  # fmt: skip
        return int(cursor.lastrowid or 0)


__all__ = ["MessageIds"]
