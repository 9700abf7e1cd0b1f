"""The store's call log: one row per call, and a recorded call's audio, sealed at rest."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from hotline.store.base import TablePart
from hotline.store.rows import CallRow


class CallStore(TablePart):
    """The station's call log and recordings (``store.calls``)."""

    attribute = "calls"

    def add(self, line_id: int, call_id: bytes, direction: int, started_at: float) -> int:
        """Log a new call; returns its row id."""
        cursor = self.execute_checked(
            "INSERT INTO calls (line_id, call_id, direction, started_at) VALUES (?, ?, ?, ?)",
            (line_id, call_id, direction, started_at),
        )
        return int(cursor.lastrowid or 0)

    def update(self, rowid: int, **fields: object) -> None:
        """Set some of a logged call's columns (answered_at, ended_at, end_reason, sas_confirmed,
        path, stats)."""
        allowed = {"answered_at", "ended_at", "end_reason", "sas_confirmed", "path", "stats"}
        if not fields or not set(fields) <= allowed:
            raise ValueError(f"cannot set {sorted(set(fields) - allowed)} on a call")
        values = [json.dumps(v) if k == "stats" else v for k, v in fields.items()]
        assignments = ", ".join(f"{k} = ?" for k in fields)
        self.execute_checked(f"UPDATE calls SET {assignments} WHERE rowid = ?", (*values, rowid))

    def recent(self, *, line_id: int | None = None, limit: int = 100) -> list[CallRow]:
        """The newest ``limit`` logged calls, oldest first."""
        clause, params = ("WHERE line_id = ?", (line_id,)) if line_id is not None else ("", ())
        rows = self.execute_checked(
            "SELECT rowid, line_id, call_id, direction, started_at, answered_at, ended_at, end_reason,"
            f" sas_confirmed, path, stats FROM calls {clause} ORDER BY rowid DESC LIMIT ?",
            (*params, limit),
        ).fetchall()
        return [_call(r) for r in reversed(rows)]

    def by_id(self, call_id: bytes) -> CallRow | None:
        """One logged call by its id."""
        row = self.execute_checked(
            "SELECT rowid, line_id, call_id, direction, started_at, answered_at, ended_at, end_reason,"
            " sas_confirmed, path, stats FROM calls WHERE call_id = ?",
            (call_id,),
        ).fetchone()
        return None if row is None else _call(row)

    @staticmethod
    def _audio_ad(call_rowid: int, direction: int, seq: int) -> bytes:
        """What a run of audio is bound to at rest: its call, direction and place."""
        return b"call_audio|%d|%d|%d" % (call_rowid, direction, seq)

    def add_audio(self, call_rowid: int, direction: int, seq: int, frames: bytes) -> None:
        """Keep a run of a call's Opus frames, sealed at rest."""
        sealed = self._sealers.call(call_rowid).seal_padded(
            self._audio_ad(call_rowid, direction, seq), frames
        )
        self.execute_checked(
            "INSERT INTO call_audio (call_rowid, direction, seq, frames) VALUES (?, ?, ?, ?)",
            (call_rowid, direction, seq, sealed),
        )

    def audio(self, call_rowid: int, direction: int) -> Iterator[bytes]:
        """A recorded call's runs of frames in one direction, in order, opened."""
        sealer = self._sealers.call(call_rowid)
        cursor = self._conn.execute(
            "SELECT seq, frames FROM call_audio WHERE call_rowid = ? AND direction = ? ORDER BY seq",
            (call_rowid, direction),
        )
        for seq, sealed in cursor:
            yield sealer.open_padded(self._audio_ad(call_rowid, direction, int(seq)), bytes(sealed))


def _call(r: Any) -> CallRow:
    return CallRow(
        rowid=int(r[0]),
        line_id=int(r[1]),
        call_id=bytes(r[2]),
        direction=int(r[3]),
        started_at=float(r[4]),
        answered_at=r[5],
        ended_at=r[6],
        end_reason=r[7],
        sas_confirmed=None if r[8] is None else bool(r[8]),
        path=r[9],
        stats=None if r[10] is None else json.loads(r[10]),
    )


__all__ = ["CallStore"]
