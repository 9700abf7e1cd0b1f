"""The call log and recorded call audio in the store, and the step from schema version 1 to 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline.store.db import Store
from hotline.store.errors import StoreCorrupt
from hotline.store.schema import CALLS, IN, OUT, SCHEMA, SCHEMA_VERSION
from tests.unit.store.helpers import KEY, add_line, raw_connection


def test_a_call_is_logged_and_updated(store: Store) -> None:
    line = add_line(store)
    with store.transaction():
        rowid = store.calls.add(line.id, b"\x01" * 16, OUT, 10.0)
    assert store.calls.by_id(b"\x01" * 16) is not None
    with store.transaction():
        store.calls.update(
            rowid,
            answered_at=11.0,
            ended_at=20.0,
            end_reason="hangup",
            sas_confirmed=1,
            path="udp",
            stats={"loss": 0.5},
        )
    (row,) = store.calls.recent(line_id=line.id)
    assert (row.call_id, row.direction, row.started_at, row.answered_at, row.ended_at) == (
        b"\x01" * 16, OUT, 10.0, 11.0, 20.0,
    )  # fmt: skip
    assert row.end_reason == "hangup" and row.sas_confirmed is True and row.path == "udp"
    assert row.stats == {"loss": 0.5}
    assert store.calls.by_id(b"\x02" * 16) is None


def test_only_known_columns_can_be_set(store: Store) -> None:
    line = add_line(store)
    with store.transaction():
        rowid = store.calls.add(line.id, b"\x01" * 16, IN, 1.0)
        with pytest.raises(ValueError):
            store.calls.update(rowid, line_id=5)
        with pytest.raises(ValueError):
            store.calls.update(rowid)


def test_the_log_keeps_the_newest_oldest_first(store: Store) -> None:
    line = add_line(store)
    with store.transaction():
        for n in range(5):
            store.calls.add(line.id, bytes([n]) * 16, OUT, float(n))
    assert [r.started_at for r in store.calls.recent(limit=3)] == [2.0, 3.0, 4.0]


def test_recorded_audio_is_sealed_and_bound_to_its_place(store: Store, path: Path) -> None:
    line = add_line(store)
    with store.transaction():
        rowid = store.calls.add(line.id, b"\x01" * 16, OUT, 1.0)
        store.calls.add_audio(rowid, OUT, 0, b"opus frames, run zero")
        store.calls.add_audio(rowid, OUT, 1, b"opus frames, run one")
        store.calls.add_audio(rowid, IN, 0, b"what we heard")
    assert list(store.calls.audio(rowid, OUT)) == [b"opus frames, run zero", b"opus frames, run one"]
    assert list(store.calls.audio(rowid, IN)) == [b"what we heard"]
    assert b"opus frames" not in path.read_bytes() + Path(str(path) + "-wal").read_bytes()
    # a run moved to another place does not open
    raw = raw_connection(path)
    raw.execute("UPDATE call_audio SET seq = 7 WHERE seq = 1 AND direction = ?", (OUT,))
    raw.commit()
    raw.close()
    with pytest.raises(StoreCorrupt):
        list(store.calls.audio(rowid, OUT))


def test_removing_a_line_removes_its_calls(store: Store) -> None:
    line = add_line(store)
    with store.transaction():
        rowid = store.calls.add(line.id, b"\x01" * 16, OUT, 1.0)
        store.calls.add_audio(rowid, OUT, 0, b"x")
        store.lines.remove(line.id)
    assert store.calls.recent() == []
    assert list(store.calls.audio(rowid, OUT)) == []


def test_a_version_1_store_is_brought_to_the_current_version(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    store = Store.open(path, KEY)
    add_line(store)
    store.close()
    # make it what Hotline 0.1 wrote: no call or document tables, schema 1
    raw = raw_connection(path)
    raw.execute("DROP TABLE call_audio")
    raw.execute("DROP TABLE calls")
    raw.execute("DROP TABLE documents")
    raw.execute("ALTER TABLE messages DROP COLUMN refused")  # version 3's
    raw.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (b"1",))
    raw.commit()
    raw.close()
    store = Store.open(path, KEY)
    assert store.meta.get("schema") == str(SCHEMA_VERSION).encode() == b"4"
    assert [line.peer for line in store.lines.all()] == ["bravo"]
    with store.transaction():
        store.calls.add(store.lines.all()[0].id, b"\x01" * 16, OUT, 1.0)
    assert store.documents.find() == []
    store.close()
    assert CALLS in SCHEMA
