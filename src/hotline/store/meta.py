"""The store's ``meta`` rows: station-level values (the schema version, the key check, handshake stamps)."""

from __future__ import annotations

from hotline.store.base import TablePart

#: The meta row that keeps the last initiation timestamp we sent (docs/protocol.md §3.3).
_LAST_INITIATION = "last_initiation_ns"


class MetaStore(TablePart):
    """Station-level values by key (``store.meta``)."""

    attribute = "meta"

    def get(self, key: str) -> bytes | None:
        """A station-level value (e.g. the last handshake timestamp seen per peer)."""
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def set(self, key: str, value: bytes) -> None:
        """Set a station-level value."""
        self._conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

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


__all__ = ["MetaStore"]
