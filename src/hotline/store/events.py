"""The store's events: what happened on a line or the station (alerts, line tests, sessions)."""

from __future__ import annotations

import json

from hotline.store.base import TablePart
from hotline.store.rows import EventRow


class EventStore(TablePart):
    """The station's event log (``store.events``)."""

    attribute = "events"

    def add(self, line_id: int | None, kind: str, detail: dict[str, object], now: float) -> EventRow:
        """Record an event; returns it."""
        cursor = self.execute_checked(
            "INSERT INTO events (line_id, at, kind, detail) VALUES (?, ?, ?, ?)",
            (line_id, now, kind, json.dumps(detail)),
        )
        return EventRow(int(cursor.lastrowid or 0), line_id, now, kind, detail)

    def recent(
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


__all__ = ["EventStore"]
