"""What a line's peer has stored here, for the line's quotas (F5; :mod:`hotline.station.quotarules`)."""

from __future__ import annotations

from hotline.store.db import Store
from hotline.store.schema import IN


def stored_bytes(store: Store, line_id: int) -> int:
    """Bytes the peer's entries and documents take on this line: entry bodies as stored, plus the
    announced size of every document not failed or refused (a held one counts: it may be approved)."""
    messages = store.execute_checked(
        "SELECT COALESCE(SUM(LENGTH(body)), 0) FROM messages WHERE line_id = ? AND direction = ?",
        (line_id, IN),
    ).fetchone()
    documents = store.execute_checked(
        "SELECT COALESCE(SUM(size), 0) FROM documents"
        " WHERE line_id = ? AND direction = ? AND state != 'failed'",
        (line_id, IN),
    ).fetchone()
    return int(messages[0]) + int(documents[0])


def recent_entries(store: Store, line_id: int, since: float, step: int) -> dict[int, int]:
    """The peer's entries stored at ``since`` or later, counted per ``step`` seconds since the epoch."""
    rows = store.execute_checked(
        "SELECT CAST(stored_at / ? AS INTEGER), COUNT(*) FROM messages"
        " WHERE line_id = ? AND direction = ? AND stored_at >= ? GROUP BY 1",
        (step, line_id, IN, since),
    ).fetchall()
    return {int(r[0]): int(r[1]) for r in rows}


__all__ = ["recent_entries", "stored_bytes"]
