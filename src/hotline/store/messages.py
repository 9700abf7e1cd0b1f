"""The store's transcripts: both directions of every line, one row per entry, bodies sealed at rest.

Outbound entries wait in the line's queue unnumbered, get their sequence number and chain head when
first sent (:meth:`MessageStore.assign`), and are marked delivered when the peer's receipt covers
them. Inbound entries are stored numbered, as received.

Message ids by line: ids are unique per line across both directions (docs/protocol.md §10.2): an
entry a peer sends with an id the line already holds is refused. A refused entry is still kept,
marked, in the inbound transcript (its sequence number and chain head hold the transcript together,
and it was receipted), under an id of our own when its id was the problem; nothing reads it as a
message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hotline.crypto.random import random_bytes
from hotline.store.base import TablePart
from hotline.store.rows import MessageRow
from hotline.store.schema import IN, MESSAGE_COLUMNS, OUT

if TYPE_CHECKING:
    from hotline.proto.linemsg import Entry


class MessageStore(TablePart):
    """Every line's transcript entries, both directions (``store.messages``)."""

    attribute = "messages"

    @staticmethod
    def _body_ad(line_id: int, direction: int, message_id: bytes) -> bytes:
        """What a body is bound to at rest: its line, direction and id."""
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
            body=self._sealers.line(line_id).open_padded(
                self._body_ad(line_id, direction, message_id), bytes(row[9])
            ),
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
        sealed = self._sealers.line(line_id).seal_padded(self._body_ad(line_id, OUT, id), body)
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
            f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE line_id = ? AND direction = {OUT} AND seq IS NULL"
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
            f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE line_id = ? AND direction = {OUT} AND seq > ?"
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

    def add_incoming(
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
        sealed = self._sealers.line(line_id).seal_padded(self._body_ad(line_id, IN, id), body)
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

    def by_id(self, message_id: bytes, direction: int | None = None) -> MessageRow | None:
        """The entry with ``message_id`` (inbound first when ``direction`` is not given)."""
        if direction is None:
            sql = (
                f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ? AND refused IS NULL"
                " ORDER BY direction DESC LIMIT 1"
            )
            row = self.execute_checked(sql, (message_id,)).fetchone()
        else:
            sql = (
                f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ? AND direction = ? AND refused IS NULL"
                " LIMIT 1"
            )
            row = self.execute_checked(sql, (message_id, direction)).fetchone()
        return None if row is None else self._message(row)

    def find(
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
        sql = f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE {clause} ORDER BY rowid {order} LIMIT ?"
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

    def count_unacked(self, line_id: int, kinds: tuple[int, ...]) -> dict[int, int]:
        """Received entries of ``kinds`` no operator has acknowledged, counted by precedence."""
        # the (line_id, direction, seq) index narrows this to the line's inbound entries
        marks = ", ".join("?" * len(kinds))
        rows = self.execute_checked(
            f"SELECT precedence, COUNT(*) FROM messages WHERE line_id = ? AND direction = {IN}"
            f" AND kind IN ({marks}) AND acked_at IS NULL AND refused IS NULL GROUP BY precedence",
            (line_id, *kinds),
        ).fetchall()
        return {int(precedence): int(count) for precedence, count in rows}

    def has_queued(self, line_id: int) -> bool:
        """Whether any outbound entry waits unnumbered."""
        row = self.execute_checked(
            f"SELECT 1 FROM messages WHERE line_id = ? AND direction = {OUT} AND seq IS NULL LIMIT 1",
            (line_id,),
        ).fetchone()
        return row is not None

    # -- ids by line

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

    def with_id(self, message_id: bytes, direction: int) -> list[MessageRow]:
        """Every line's entry with ``message_id`` in ``direction`` (one, unless peers chose alike)."""
        rows = self.execute_checked(
            f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ? AND direction = ? AND refused IS NULL"
            " ORDER BY rowid",
            (message_id, direction),
        ).fetchall()
        return [self._message(row) for row in rows]

    def add_refused(self, line_id: int, entry: Entry, why: str, now: float, *, keep_id: bool) -> int:
        """Keep a refused inbound entry in its place in the transcript; returns its rowid.

        ``keep_id`` False: its id is already the line's, so it is kept under a random id of ours.
        """
        message_id = entry.id if keep_id else random_bytes(len(entry.id))
        sealed = self._sealers.line(line_id).seal(self._body_ad(line_id, IN, message_id), entry.body)
        cursor = self.execute_checked(
            "INSERT INTO messages (line_id, direction, id, seq, kind, precedence, created_ms, ref, body,"
            " chain, stored_at, refused) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (line_id, IN, message_id, entry.seq, entry.kind, entry.precedence, entry.created_ms, entry.ref,
             sealed, entry.chain, now, why),
        )  # fmt: skip
        return int(cursor.lastrowid or 0)


__all__ = ["MessageStore"]
