"""The store's lines: one row per counterpart, with its card, endpoints and sealed line key."""

from __future__ import annotations

import json
from typing import Any

from hotline.store.base import TablePart
from hotline.store.rows import LineRow

_LINE_COLUMNS = (
    "id, peer, card, key_digest, static_public, endpoints, line_key IS NOT NULL, key_created_at, "
    "verified_digest, added_at, chain_out0, chain_in0, delivered_upto"
)


class LineStore(TablePart):
    """The station's lines (``store.lines``)."""

    attribute = "lines"

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

    def all(self) -> list[LineRow]:
        """Every line, by name."""
        rows = self.execute_checked(f"SELECT {_LINE_COLUMNS} FROM lines ORDER BY peer").fetchall()
        return [self._line(row) for row in rows]

    def by_peer(self, peer: str) -> LineRow | None:
        """The line to ``peer``, if there is one."""
        row = self.execute_checked(f"SELECT {_LINE_COLUMNS} FROM lines WHERE peer = ?", (peer,)).fetchone()
        return None if row is None else self._line(row)

    def by_id(self, line_id: int) -> LineRow | None:
        """The line with ``line_id``."""
        row = self.execute_checked(f"SELECT {_LINE_COLUMNS} FROM lines WHERE id = ?", (line_id,)).fetchone()
        return None if row is None else self._line(row)

    def add(
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
        line = self.by_id(int(cursor.lastrowid or 0))
        assert line is not None
        return line

    def update(
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

    def set_key(self, line_id: int, key: bytes, created_at: int) -> None:
        """Store the line key, sealed at rest."""
        sealed = self._sealer.seal(b"line-key" + line_id.to_bytes(8, "big"), key)
        self.execute_checked(
            "UPDATE lines SET line_key = ?, key_created_at = ? WHERE id = ?", (sealed, created_at, line_id)
        )

    def key(self, line_id: int) -> bytes | None:
        """The line key in the clear, or ``None`` when the line has none yet."""
        row = self.execute_checked("SELECT line_key FROM lines WHERE id = ?", (line_id,)).fetchone()
        if row is None or row[0] is None:
            return None
        return self._sealer.open(b"line-key" + line_id.to_bytes(8, "big"), bytes(row[0]))

    def remove(self, line_id: int) -> None:
        """Delete a line with its transcript and events."""
        self.execute_checked("DELETE FROM lines WHERE id = ?", (line_id,))


__all__ = ["LineStore"]
