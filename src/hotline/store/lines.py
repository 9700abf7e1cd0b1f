"""The store's lines: one row per counterpart, with its card, endpoints, profile and sealed line key.

A line's line key, message bodies and call audio are sealed with its profile's sealer
(:meth:`hotline.store.sealing.Sealer.for_suite`). Changing a line's profile (:meth:`LineStore.set_profile`)
is a key change: the line key goes (the new profile's key is sealed to the peer anew), the
verification goes, and the line's bodies and audio are sealed again under the new profile.
"""

from __future__ import annotations

import json
from typing import Any

from hotline.proto.suites import DEFAULT_PROFILE, ProfileName, Suite
from hotline.store.base import TablePart, line_suite
from hotline.store.calls import CallStore
from hotline.store.documents import DocumentStore
from hotline.store.messages import MessageStore
from hotline.store.rows import LineRow
from hotline.store.schema import IN, OUT

_LINE_COLUMNS = (
    "id, peer, card, key_digest, static_public, endpoints, line_key IS NOT NULL, key_created_at, "
    "verified_digest, added_at, chain_out0, chain_in0, delivered_upto, profile"
)


def _key_ad(line_id: int) -> bytes:
    return b"line-key" + line_id.to_bytes(8, "big")


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
            profile=line_suite(str(row[13]), self.path).profile,
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
        profile: ProfileName = DEFAULT_PROFILE,
    ) -> LineRow:
        """Create a line (unverified, without a key) with ``profile``.

        Raises:
            StoreError: ``profile`` is not a profile this Hotline knows.
        """
        suite = line_suite(profile, self.path)
        cursor = self.execute_checked(
            "INSERT INTO lines (peer, card, key_digest, static_public, endpoints, added_at, chain_out0,"
            " chain_in0, profile) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (peer, card, key_digest, static_public, json.dumps(endpoints), now, chain_out0, chain_in0,
             suite.profile),
        )  # fmt: skip
        line_id = int(cursor.lastrowid or 0)
        self._sealers.set(line_id, suite)
        line = self.by_id(line_id)
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
        sealed = self._sealers.line(line_id).seal(_key_ad(line_id), key)
        self.execute_checked(
            "UPDATE lines SET line_key = ?, key_created_at = ? WHERE id = ?", (sealed, created_at, line_id)
        )

    def key(self, line_id: int) -> bytes | None:
        """The line key in the clear, or ``None`` when the line has none yet."""
        row = self.execute_checked("SELECT line_key FROM lines WHERE id = ?", (line_id,)).fetchone()
        if row is None or row[0] is None:
            return None
        return self._sealers.line(line_id).open(_key_ad(line_id), bytes(row[0]))

    def suite(self, line_id: int) -> Suite:
        """The suite of the line's profile."""
        return self._sealers.suite(line_id)

    def set_profile(
        self,
        line_id: int,
        profile: ProfileName,
        *,
        key_digest: bytes | None = None,
        chains: tuple[bytes, bytes] | None = None,
    ) -> bool:
        """Give the line another profile: a key change. Whether anything changed.

        The line key and the verification go (the ``key_created_at`` stays, so a key older than the
        last one is still refused); the line's message bodies, call audio and received files'
        keys are sealed again under the new profile's sealer, in the caller's transaction.
        ``key_digest`` is the peer's key digest of the new profile (what verification pins from now
        on). ``chains`` are the new
        profile's ``(chain_out0, chain_in0)``: each replaces the stored one only for a direction
        that holds no numbered entry yet (a transcript under way keeps its start).

        Raises:
            StoreError: ``profile`` is not a profile this Hotline knows.
        """
        new = line_suite(profile, self.path)
        old = self._sealers.suite(line_id)
        if old == new:
            return False
        was, into = self._sealer.for_suite(old), self._sealer.for_suite(new)
        bodies = self.execute_checked(
            "SELECT rowid, direction, id, body FROM messages WHERE line_id = ?", (line_id,)
        ).fetchall()
        for rowid, direction, message_id, body in bodies:
            ad = MessageStore._body_ad(line_id, int(direction), bytes(message_id))
            resealed = was.reseal(ad, bytes(body), into)
            self.execute_checked("UPDATE messages SET body = ? WHERE rowid = ?", (resealed, rowid))
        audio = self.execute_checked(
            "SELECT a.rowid, a.call_rowid, a.direction, a.seq, a.frames FROM call_audio AS a"
            " JOIN calls AS c ON c.rowid = a.call_rowid WHERE c.line_id = ?",
            (line_id,),
        ).fetchall()
        for rowid, call_rowid, direction, seq, frames in audio:
            ad = CallStore._audio_ad(int(call_rowid), int(direction), int(seq))
            resealed = was.reseal(ad, bytes(frames), into)
            self.execute_checked("UPDATE call_audio SET frames = ? WHERE rowid = ?", (resealed, rowid))
        DocumentStore.reseal_keys(self, line_id, was, into)
        self.execute_checked(
            "UPDATE lines SET profile = ?, line_key = NULL, verified_digest = NULL WHERE id = ?",
            (new.profile, line_id),
        )
        if key_digest is not None:
            self.execute_checked("UPDATE lines SET key_digest = ? WHERE id = ?", (key_digest, line_id))
        if chains is not None:
            for column, direction, start in (("chain_out0", OUT, chains[0]), ("chain_in0", IN, chains[1])):
                numbered = self.execute_checked(
                    "SELECT 1 FROM messages WHERE line_id = ? AND direction = ? AND seq IS NOT NULL LIMIT 1",
                    (line_id, direction),
                ).fetchone()
                if numbered is None:
                    self.execute_checked(f"UPDATE lines SET {column} = ? WHERE id = ?", (start, line_id))
        self._sealers.set(line_id, new)
        return True

    def remove(self, line_id: int) -> None:
        """Delete a line with its transcript and events."""
        self.execute_checked("DELETE FROM lines WHERE id = ?", (line_id,))
        self._sealers.forget(line_id)


__all__ = ["LineStore"]
