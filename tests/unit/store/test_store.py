"""The station store (hotline.store.db) against real SQLite files in ``tmp_path``.

Every write goes through :meth:`Store.transaction`, as the daemon's worker does; a test that
reopens the file checks what actually reached the disk.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from hotline.store.connection import PAGE_SIZE
from hotline.store.db import Store
from hotline.store.errors import StoreCorrupt, StoreError, StoreFull
from hotline.store.rows import LineRow
from hotline.store.schema import IN, OUT, SCHEMA_VERSION
from tests.unit.store.helpers import KEY, OTHER_KEY, add_line, raw_connection

ROUTINE, PRIORITY, IMMEDIATE, FLASH = 3, 2, 1, 0


def mid(n: int) -> bytes:
    """A 10-byte message id."""
    return n.to_bytes(10, "big")


def queue(store: Store, line_id: int, n: int, *, precedence: int = ROUTINE, body: bytes | None = None) -> int:
    return store.messages.queue(
        line_id,
        id=mid(n),
        kind=0,
        precedence=precedence,
        created_ms=1000 + n,
        ref=b"",
        body=body if body is not None else f"out {n}".encode(),
        now=float(n),
    )


def incoming(store: Store, line_id: int, seq: int, *, kind: int = 0, body: bytes | None = None) -> int:
    return store.messages.add_incoming(
        line_id,
        id=mid(1000 + seq),
        seq=seq,
        kind=kind,
        precedence=ROUTINE,
        created_ms=2000 + seq,
        ref=b"",
        body=body if body is not None else f"in {seq}".encode(),
        chain=bytes([seq]) * 32,
        now=float(seq),
    )


def file_bytes(path: Path) -> bytes:
    """The store file and its WAL, as they are on disk right now."""
    return b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists())


# -- opening


def test_open_creates_the_schema(store: Store, path: Path) -> None:
    assert path.exists()
    tables = {r[0] for r in store.execute_checked("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"meta", "lines", "messages", "events"} <= tables
    assert store.meta.get("schema") == str(SCHEMA_VERSION).encode()
    assert store.lines.all() == []


def test_open_uses_wal_and_full_sync(store: Store) -> None:
    assert store.execute_checked("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.execute_checked("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert store.execute_checked("PRAGMA foreign_keys").fetchone()[0] == 1


def test_reopen_with_the_same_key_keeps_the_data(path: Path) -> None:
    store = Store.open(path, KEY)
    line = add_line(store)
    with store.transaction():
        queue(store, line.id, 1)
    store.close()

    again = Store.open(path, KEY)
    try:
        assert again.lines.by_peer("bravo") == line
        assert [m.body for m in again.messages.find()] == [b"out 1"]
    finally:
        again.close()


def test_reopen_with_another_key_is_refused(path: Path) -> None:
    Store.open(path, KEY).close()
    with pytest.raises(StoreError, match="another station identity"):
        Store.open(path, OTHER_KEY)


def test_reopen_with_another_key_is_refused_as_a_store_error(path: Path) -> None:
    """Whatever the wording, the refusal is a StoreError and the file stays usable with the right key."""
    Store.open(path, KEY).close()
    with pytest.raises(StoreError):
        Store.open(path, OTHER_KEY)
    Store.open(path, KEY).close()


def test_a_non_hotline_sqlite_file_is_refused(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (text TEXT)")
    conn.execute("INSERT INTO notes VALUES ('keep me')")
    conn.commit()
    conn.close()

    with pytest.raises(StoreError, match="not a Hotline store"):
        Store.open(path, KEY)

    conn = sqlite3.connect(path)
    assert conn.execute("SELECT text FROM notes").fetchall() == [("keep me",)]
    conn.close()


def test_a_refused_file_is_left_as_it_was(path: Path) -> None:
    """Refusing someone else's database must not change it (here: switching it to WAL for good)."""
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (text TEXT)")
    conn.commit()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    conn.close()

    with pytest.raises(StoreError):
        Store.open(path, KEY)

    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    finally:
        conn.close()


def test_a_file_that_is_not_sqlite_is_refused(path: Path) -> None:
    path.write_bytes(b"this is not a database, just some text\n" * 200)
    with pytest.raises(StoreError) as refused:
        Store.open(path, KEY)
    assert str(path) in refused.value.reason


def _store_with_pages(path: Path, count: int = 250) -> LineRow:
    """A closed store of ``count`` inbound messages of 400 bytes: a few dozen pages of them."""
    store = Store.open(path, KEY)
    line = add_line(store)
    with store.transaction():
        for seq in range(1, count + 1):
            incoming(store, line.id, seq, body=bytes([seq]) * 400)
    store.close()  # checkpoints: everything is in the main file
    return line


def _overwrite_middle_page(path: Path) -> None:
    page_size = PAGE_SIZE  # the header that says it is encrypted
    pages = path.stat().st_size // page_size
    with path.open("r+b") as f:
        f.seek(pages // 2 * page_size)
        f.write(bytes(range(256)) * (page_size // 256))


def test_a_store_with_a_damaged_page_is_refused_naming_the_file_and_left_unchanged(path: Path) -> None:
    """Regression: the open ran no integrity check, so a station served a store with a damaged page
    (reads reaching it failed later, one request at a time)."""
    _store_with_pages(path)
    _overwrite_middle_page(path)
    before = path.read_bytes()
    with pytest.raises(StoreCorrupt) as refused:
        Store.open(path, KEY)
    assert str(path) in refused.value.reason
    assert "backup" in refused.value.reason and "move it aside" in refused.value.reason
    assert path.read_bytes() == before


def test_damage_found_by_a_later_read_names_the_file(path: Path) -> None:
    """A page damaged while the store is open shows on the next read that reaches it: as
    :class:`StoreCorrupt` naming the file, never as a short answer."""
    line = _store_with_pages(path)
    store = Store.open(path, KEY)
    try:
        _overwrite_middle_page(path)
        # another connection's commit makes our connection drop its page cache and read the file
        other = raw_connection(path)
        other.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('poke', x'00')")
        other.close()
        with pytest.raises(StoreCorrupt) as damaged:
            store.messages.find(line_id=line.id)
        assert str(path) in damaged.value.reason
    finally:
        store.close()


def test_another_schema_version_is_refused(path: Path) -> None:
    store = Store.open(path, KEY)
    with store.transaction():
        store.meta.set("schema", b"999")
    store.close()
    with pytest.raises(StoreError, match="schema version"):
        Store.open(path, KEY)


def test_store_error_carries_its_reason() -> None:
    error = StoreFull("disk full")
    assert isinstance(error, StoreError)
    assert error.reason == "disk full" == str(error)
    assert issubclass(StoreCorrupt, StoreError)


# -- meta


def test_meta_round_trip(store: Store) -> None:
    assert store.meta.get("handshake/bravo") is None
    with store.transaction():
        store.meta.set("handshake/bravo", b"\x01\x02")
    assert store.meta.get("handshake/bravo") == b"\x01\x02"
    with store.transaction():
        store.meta.set("handshake/bravo", b"\x03")
    assert store.meta.get("handshake/bravo") == b"\x03"


def test_last_initiation_starts_at_zero_only_grows_and_survives_reopening(path: Path) -> None:
    store = Store.open(path, KEY)
    assert store.meta.last_initiation() == 0
    with store.transaction():
        store.meta.set_last_initiation(1_700_000_000 * 10**9)
        store.meta.set_last_initiation(1_700_000_000 * 10**9 - 5)  # an older one, stored late: ignored
    store.close()
    store = Store.open(path, KEY)
    try:
        assert store.meta.last_initiation() == 1_700_000_000 * 10**9
    finally:
        store.close()


# -- lines


def test_add_and_get_line(store: Store) -> None:
    line = add_line(store)
    assert line.peer == "bravo"
    assert line.card == b"card:bravo"
    assert line.key_digest == b"\xd1" * 32
    assert line.static_public == b"\x5a" * 32
    assert line.endpoints == ("bravo.example:7000", "127.0.0.1:7001")
    assert line.added_at == 100.0
    assert (line.chain_out0, line.chain_in0) == (b"\x00" * 32, b"\x01" * 32)
    assert not line.has_key
    assert line.key_created_at is None
    assert line.verified_digest is None
    assert not line.verified
    assert store.lines.by_peer("bravo") == line == store.lines.by_id(line.id)
    assert store.lines.by_peer("nobody") is None
    assert store.lines.by_id(line.id + 100) is None


def test_lines_are_listed_by_name(store: Store) -> None:
    for peer in ("charlie", "alpha", "bravo"):
        add_line(store, peer)
    assert [line.peer for line in store.lines.all()] == ["alpha", "bravo", "charlie"]


def test_peer_names_are_unique(store: Store) -> None:
    add_line(store, "bravo")
    with pytest.raises(StoreError):
        add_line(store, "bravo")
    assert len(store.lines.all()) == 1


def test_update_line_replaces_card_and_endpoints(store: Store) -> None:
    line = add_line(store)
    with store.transaction():
        store.lines.update(
            line.id,
            card=b"new card",
            key_digest=b"\xd1" * 32,
            static_public=b"\x5b" * 32,
            endpoints=["x.example:1"],
        )
    updated = store.lines.by_id(line.id)
    assert updated is not None
    assert (updated.card, updated.static_public, updated.endpoints) == (
        b"new card",
        b"\x5b" * 32,
        ("x.example:1",),
    )


def test_verification_pins_the_key_digest(store: Store) -> None:
    line = add_line(store)
    with store.transaction():
        store.lines.set_verified(line.id, line.key_digest)
    verified = store.lines.by_id(line.id)
    assert verified is not None and verified.verified

    # a new card with other keys leaves the line unverified until the operators check again
    with store.transaction():
        store.lines.update(
            line.id, card=b"c2", key_digest=b"\xd2" * 32, static_public=b"s" * 32, endpoints=[]
        )
    changed = store.lines.by_id(line.id)
    assert changed is not None
    assert changed.verified_digest == line.key_digest
    assert not changed.verified

    with store.transaction():
        store.lines.set_verified(line.id, None)
    cleared = store.lines.by_id(line.id)
    assert cleared is not None and cleared.verified_digest is None


def test_line_key_round_trip(store: Store) -> None:
    line = add_line(store)
    assert store.lines.key(line.id) is None
    with store.transaction():
        store.lines.set_key(line.id, b"\x42" * 32, created_at=1234)
    assert store.lines.key(line.id) == b"\x42" * 32
    keyed = store.lines.by_id(line.id)
    assert keyed is not None
    assert keyed.has_key
    assert keyed.key_created_at == 1234
    assert store.lines.key(line.id + 100) is None


def test_line_key_survives_reopening(path: Path) -> None:
    store = Store.open(path, KEY)
    line = add_line(store)
    with store.transaction():
        store.lines.set_key(line.id, b"\x43" * 32, created_at=1)
    store.close()
    again = Store.open(path, KEY)
    try:
        assert again.lines.key(line.id) == b"\x43" * 32
    finally:
        again.close()


def test_line_key_is_not_in_the_file_in_the_clear(store: Store, path: Path) -> None:
    line = add_line(store)
    secret = b"LINE-KEY-SECRET!" * 2
    with store.transaction():
        store.lines.set_key(line.id, secret, created_at=1)
    assert path.with_name(path.name + "-wal").exists()
    assert secret[:16] not in file_bytes(path)
    store.execute_checked("PRAGMA wal_checkpoint(TRUNCATE)")
    assert secret[:16] not in file_bytes(path)


def test_a_line_key_moved_to_another_line_does_not_open(store: Store) -> None:
    first, second = add_line(store, "alpha"), add_line(store, "bravo")
    with store.transaction():
        store.lines.set_key(first.id, b"\x44" * 32, created_at=1)
        store.execute_checked(
            "UPDATE lines SET line_key = (SELECT line_key FROM lines WHERE id = ?) WHERE id = ?",
            (first.id, second.id),
        )
    with pytest.raises(StoreCorrupt):
        store.lines.key(second.id)


def test_remove_line_takes_its_transcript_and_events(store: Store) -> None:
    line, other = add_line(store, "bravo"), add_line(store, "charlie")
    with store.transaction():
        queue(store, line.id, 1)
        incoming(store, line.id, 1)
        store.events.add(line.id, "alert", {}, 1.0)
        queue(store, other.id, 2)
        store.events.add(None, "station", {}, 2.0)
    with store.transaction():
        store.lines.remove(line.id)
    assert store.lines.by_peer("bravo") is None
    assert store.messages.find(line_id=line.id) == []
    assert [m.id for m in store.messages.find()] == [mid(2)]
    assert [e.kind for e in store.events.recent()] == ["station"]


# -- the outbound queue


def test_next_queued_orders_by_precedence_then_queue_order(store: Store, line: LineRow) -> None:
    with store.transaction():
        queue(store, line.id, 1, precedence=ROUTINE)
        queue(store, line.id, 2, precedence=FLASH)
        queue(store, line.id, 3, precedence=ROUTINE)
        queue(store, line.id, 4, precedence=PRIORITY)
        queue(store, line.id, 5, precedence=FLASH)
        queue(store, line.id, 6, precedence=IMMEDIATE)
    assert [m.id for m in store.messages.next_queued(line.id, 10)] == [mid(n) for n in (2, 5, 6, 4, 1, 3)]
    assert [m.id for m in store.messages.next_queued(line.id, 2)] == [mid(2), mid(5)]


def test_queued_row_reads_back(store: Store, line: LineRow) -> None:
    with store.transaction():
        rowid = queue(store, line.id, 7, precedence=PRIORITY)
    (row,) = store.messages.next_queued(line.id, 10)
    assert row.rowid == rowid
    assert (row.line_id, row.direction, row.id) == (line.id, OUT, mid(7))
    assert (row.kind, row.precedence, row.created_ms, row.ref, row.body) == (0, PRIORITY, 1007, b"", b"out 7")
    assert (row.seq, row.chain, row.delivered_at, row.acked_at) == (None, None, None, None)
    assert row.stored_at == 7.0


def test_queue_is_per_line(store: Store) -> None:
    a, b = add_line(store, "alpha"), add_line(store, "bravo")
    with store.transaction():
        queue(store, a.id, 1)
        queue(store, b.id, 2)
    assert [m.id for m in store.messages.next_queued(a.id, 10)] == [mid(1)]
    assert [m.id for m in store.messages.next_queued(b.id, 10)] == [mid(2)]


def test_message_ids_are_unique_per_line_and_direction(store: Store, line: LineRow) -> None:
    with store.transaction():
        queue(store, line.id, 1)
    with pytest.raises(StoreError), store.transaction():
        queue(store, line.id, 1)
    # the same id inbound is another row
    with store.transaction():
        store.messages.add_incoming(
            line.id,
            id=mid(1),
            seq=1,
            kind=0,
            precedence=3,
            created_ms=0,
            ref=b"",
            body=b"",
            chain=b"c" * 32,
            now=0,
        )


def test_assign_then_position_chain_at_and_sent_after(store: Store, line: LineRow) -> None:
    assert store.messages.position(line.id, OUT) == (0, None)
    with store.transaction():
        rowids = [queue(store, line.id, n) for n in range(1, 5)]
    with store.transaction():
        for seq, rowid in enumerate(rowids[:3], start=1):
            store.messages.assign(rowid, seq, bytes([seq]) * 32)

    assert store.messages.position(line.id, OUT) == (3, b"\x03" * 32)
    assert store.messages.position(line.id, IN) == (0, None)
    assert store.messages.chain_at(line.id, OUT, 2) == b"\x02" * 32
    assert store.messages.chain_at(line.id, OUT, 4) is None
    assert store.messages.chain_at(line.id, IN, 1) is None
    assert [m.seq for m in store.messages.sent_after(line.id, 0, 10)] == [1, 2, 3]
    assert [m.seq for m in store.messages.sent_after(line.id, 1, 10)] == [2, 3]
    assert [m.seq for m in store.messages.sent_after(line.id, 1, 1)] == [2]
    assert store.messages.sent_after(line.id, 3, 10) == []
    # assigned entries leave the queue
    assert [m.id for m in store.messages.next_queued(line.id, 10)] == [mid(4)]


def test_sequence_numbers_are_unique_per_direction(store: Store, line: LineRow) -> None:
    with store.transaction():
        a, b = queue(store, line.id, 1), queue(store, line.id, 2)
        store.messages.assign(a, 1, b"\x01" * 32)
    with pytest.raises(StoreError), store.transaction():
        store.messages.assign(b, 1, b"\x02" * 32)


def test_mark_delivered_returns_newly_delivered_ids_once(store: Store, line: LineRow) -> None:
    with store.transaction():
        rowids = [queue(store, line.id, n) for n in range(1, 5)]
        for seq, rowid in enumerate(rowids[:3], start=1):
            store.messages.assign(rowid, seq, bytes([seq]) * 32)
    with store.transaction():
        assert store.messages.mark_delivered(line.id, 2, now=50.0) == [mid(1), mid(2)]
    with store.transaction():
        assert store.messages.mark_delivered(line.id, 2, now=51.0) == []
        assert store.messages.mark_delivered(line.id, 3, now=52.0) == [mid(3)]
        # the queued (unsent) entry is never "delivered", whatever the receipt says
        assert store.messages.mark_delivered(line.id, 99, now=53.0) == []
    delivered = {m.id: m.delivered_at for m in store.messages.find(line_id=line.id)}
    assert delivered == {mid(1): 50.0, mid(2): 50.0, mid(3): 52.0, mid(4): None}


def test_count_queued(store: Store, line: LineRow) -> None:
    assert store.messages.count_queued(line.id) == (0, 0)
    with store.transaction():
        rowids = [queue(store, line.id, n) for n in range(1, 6)]
        incoming(store, line.id, 1)
    assert store.messages.count_queued(line.id) == (5, 0)
    with store.transaction():
        for seq, rowid in enumerate(rowids[:3], start=1):
            store.messages.assign(rowid, seq, bytes([seq]) * 32)
    assert store.messages.count_queued(line.id) == (2, 3)
    with store.transaction():
        store.messages.mark_delivered(line.id, 2, now=1.0)
    assert store.messages.count_queued(line.id) == (2, 1)


# -- the inbound transcript


def test_store_incoming_and_position(store: Store, line: LineRow) -> None:
    with store.transaction():
        rowid = incoming(store, line.id, 1)
        incoming(store, line.id, 2)
    assert store.messages.position(line.id, IN) == (2, b"\x02" * 32)
    row = store.messages.by_id(mid(1001))
    assert row is not None
    assert (row.rowid, row.direction, row.seq, row.body, row.chain) == (rowid, IN, 1, b"in 1", b"\x01" * 32)
    assert row.created_ms == 2001


def test_mark_acked_once(store: Store, line: LineRow) -> None:
    with store.transaction():
        incoming(store, line.id, 1)
    with store.transaction():
        assert store.messages.mark_acked(line.id, IN, mid(1001), now=9.0)
        assert not store.messages.mark_acked(line.id, IN, mid(1001), now=10.0)
        assert not store.messages.mark_acked(line.id, OUT, mid(1001), now=10.0)
        assert not store.messages.mark_acked(line.id, IN, mid(4242), now=10.0)
    row = store.messages.by_id(mid(1001), IN)
    assert row is not None and row.acked_at == 9.0


def test_message_prefers_inbound_without_a_direction(store: Store, line: LineRow) -> None:
    with store.transaction():
        queue(store, line.id, 1001, body=b"ours")
        incoming(store, line.id, 1, body=b"theirs")
    any_direction = store.messages.by_id(mid(1001))
    assert any_direction is not None and any_direction.body == b"theirs"
    ours = store.messages.by_id(mid(1001), OUT)
    assert ours is not None and ours.body == b"ours"
    assert store.messages.by_id(mid(9999)) is None


def test_messages_filters(store: Store) -> None:
    line, other = add_line(store, "bravo"), add_line(store, "charlie")
    with store.transaction():
        out1 = queue(store, line.id, 1)
        in1 = incoming(store, line.id, 1, kind=0)
        in2 = incoming(store, line.id, 2, kind=1)
        out2 = queue(store, line.id, 2)
        in3 = incoming(store, line.id, 3, kind=2)
        elsewhere = queue(store, other.id, 3)
        store.messages.mark_acked(line.id, IN, mid(1001), now=1.0)

    def rowids(**filters: object) -> list[int]:
        return [m.rowid for m in store.messages.find(**filters)]  # type: ignore[arg-type]

    assert rowids() == [out1, in1, in2, out2, in3, elsewhere]
    assert rowids(line_id=line.id) == [out1, in1, in2, out2, in3]
    assert rowids(line_id=line.id, direction=IN) == [in1, in2, in3]
    assert rowids(direction=OUT) == [out1, out2, elsewhere]
    assert rowids(kinds=(1, 2)) == [in2, in3]
    assert rowids(kinds=(2,), direction=OUT) == []
    assert rowids(after_rowid=in2) == [out2, in3, elsewhere]
    assert rowids(direction=IN, unacked=True) == [in2, in3]
    assert rowids(limit=2) == [out1, in1]
    assert rowids(limit=2, newest=True) == [in3, elsewhere]
    assert rowids(line_id=line.id, newest=True, limit=3) == [in2, out2, in3]
    assert rowids(after_rowid=elsewhere) == []


# -- events


def test_events_round_trip_and_filters(store: Store) -> None:
    line = add_line(store)
    with store.transaction():
        first = store.events.add(line.id, "alert", {"what": "gap", "expected": 3}, 1.0)
        store.events.add(None, "station", {"up": True}, 2.0)
        store.events.add(line.id, "test", {"ok": True}, 3.0)
        store.events.add(line.id, "alert", {"what": "mismatch"}, 4.0)
    assert (
        first.kind == "alert" and first.detail == {"what": "gap", "expected": 3} and first.line_id == line.id
    )

    everything = store.events.recent()
    assert [e.at for e in everything] == [1.0, 2.0, 3.0, 4.0]
    assert everything[0] == first
    assert everything[1].line_id is None
    assert [e.at for e in store.events.recent(line_id=line.id)] == [1.0, 3.0, 4.0]
    assert [e.at for e in store.events.recent(kinds=("alert",))] == [1.0, 4.0]
    assert [e.at for e in store.events.recent(kinds=("alert", "station"))] == [1.0, 2.0, 4.0]
    assert [e.at for e in store.events.recent(limit=2)] == [3.0, 4.0]
    assert store.events.recent(kinds=("nothing",)) == []


# -- transactions


def test_transaction_rolls_back_on_exception(store: Store, line: LineRow) -> None:
    with pytest.raises(RuntimeError, match="operator pulled the plug"), store.transaction():
        queue(store, line.id, 1)
        store.events.add(line.id, "alert", {}, 1.0)
        raise RuntimeError("operator pulled the plug")
    assert store.messages.find() == []
    assert store.events.recent() == []
    # and the store is usable afterwards
    with store.transaction():
        queue(store, line.id, 2)
    assert [m.id for m in store.messages.find()] == [mid(2)]


def test_uncommitted_writes_are_not_on_disk(path: Path) -> None:
    store = Store.open(path, KEY)
    line = add_line(store)
    with pytest.raises(KeyboardInterrupt), store.transaction():
        queue(store, line.id, 1)
        raise KeyboardInterrupt
    store.close()
    again = Store.open(path, KEY)
    try:
        assert again.messages.find() == []
    finally:
        again.close()


def test_savepoint_isolates_a_failing_op(store: Store, line: LineRow) -> None:
    with store.transaction():
        queue(store, line.id, 1)
    with store.transaction():
        with store.savepoint():
            queue(store, line.id, 2)
        with pytest.raises(StoreError), store.savepoint():
            queue(store, line.id, 3)
            queue(store, line.id, 1)  # duplicate id: this op fails, and takes its id 3 with it
        with pytest.raises(ValueError), store.savepoint():
            queue(store, line.id, 4)
            raise ValueError("not a store error")
        with store.savepoint():
            queue(store, line.id, 5)
    assert [m.id for m in store.messages.find()] == [mid(1), mid(2), mid(5)]


# -- a full disk


def _fill(store: Store, line_id: int, start: int) -> int:
    """Queue large messages one transaction at a time until the store is full; returns how many fit."""
    stored = 0
    with pytest.raises(StoreFull):
        for n in range(start, start + 10_000):
            with store.transaction():
                queue(store, line_id, n, body=bytes([n % 256]) * 600)
            stored += 1
    return stored


def _capped(path: Path) -> Store:
    """Reopen ``path`` with a cap just above what it holds now."""
    probe = Store.open(path, KEY)
    pages = probe.execute_checked("PRAGMA page_count").fetchone()[0]
    probe.close()
    return Store.open(path, KEY, max_page_count=pages + 4)


def test_store_full_keeps_what_was_committed(path: Path) -> None:
    store = Store.open(path, KEY)
    line = add_line(store)
    with store.transaction():
        queue(store, line.id, 1, body=b"before the disk filled")
    store.close()

    capped = _capped(path)
    stored = _fill(capped, line.id, 100)
    assert stored >= 1
    # the store still works for reads after the failure, and refuses further writes the same way
    assert len(capped.messages.find()) == 1 + stored
    with pytest.raises(StoreFull), capped.transaction():
        queue(capped, line.id, 99_999, body=b"\x00" * 4000)
    capped.close()

    again = Store.open(path, KEY)
    try:
        bodies = [m.body for m in again.messages.find()]
        assert bodies[0] == b"before the disk filled"
        assert len(bodies) == 1 + stored
        assert bodies[1:] == [bytes([n % 256]) * 600 for n in range(100, 100 + stored)]
        # with the cap lifted, writing works again
        with again.transaction():
            queue(again, line.id, 99_999)
    finally:
        again.close()


def test_store_full_inside_a_savepoint_is_reported_as_store_full(path: Path) -> None:
    """A full disk in the middle of a batch (the worker's savepoints) must still say "full".

    SQLite rolls back the whole transaction on SQLITE_FULL; ``savepoint()`` must not then hide the
    StoreFull behind an error about the savepoint it can no longer roll back to.
    """
    store = Store.open(path, KEY)
    line = add_line(store)
    store.close()
    capped = _capped(path)
    try:
        with pytest.raises(StoreFull), capped.transaction():
            for n in range(10_000):
                with capped.savepoint():
                    queue(capped, line.id, n, body=b"\x00" * 600)
        assert capped.messages.find() == []
        with capped.transaction():
            capped.events.add(None, "after", {}, 1.0)
    finally:
        capped.close()


# -- sealing at rest


def test_message_bodies_are_not_in_the_file_in_the_clear(store: Store, path: Path, line: LineRow) -> None:
    out_text, in_text = b"ZEBRA CROSSING AT DAWN", b"PELICAN CROSSING AT DUSK"
    with store.transaction():
        queue(store, line.id, 1, body=out_text)
        incoming(store, line.id, 1, body=in_text)
    for stage in ("wal", "checkpointed"):
        data = file_bytes(path)
        assert out_text not in data, stage
        assert in_text not in data, stage
        store.execute_checked("PRAGMA wal_checkpoint(TRUNCATE)")
    assert [m.body for m in store.messages.find()] == [out_text, in_text]


def test_a_sealed_body_moved_to_another_row_does_not_open(store: Store, line: LineRow) -> None:
    with store.transaction():
        a = queue(store, line.id, 1, body=b"first")
        b = queue(store, line.id, 2, body=b"second")
        store.execute_checked(
            "UPDATE messages SET body = (SELECT body FROM messages WHERE rowid = ?) WHERE rowid = ?", (a, b)
        )
    with pytest.raises(StoreCorrupt):
        store.messages.find()
    first = store.messages.by_id(mid(1))
    assert first is not None and first.body == b"first"
    with pytest.raises(StoreCorrupt):
        store.messages.by_id(mid(2))


def test_a_sealed_body_moved_to_the_other_direction_does_not_open(store: Store, line: LineRow) -> None:
    with store.transaction():
        queue(store, line.id, 1, body=b"ours")
        incoming(store, line.id, 1)
        # same id, other direction: only the direction byte of the binding differs
        store.execute_checked("UPDATE messages SET id = ? WHERE direction = ?", (mid(1), IN))
        store.execute_checked(
            "UPDATE messages SET body = (SELECT body FROM messages WHERE direction = ?) WHERE direction = ?",
            (OUT, IN),
        )
    with pytest.raises(StoreCorrupt):
        store.messages.by_id(mid(1), IN)


def test_a_flipped_bit_in_a_body_is_store_corrupt(store: Store, line: LineRow) -> None:
    with store.transaction():
        rowid = queue(store, line.id, 1, body=b"text")
        sealed = store.execute_checked("SELECT body FROM messages WHERE rowid = ?", (rowid,)).fetchone()[0]
        store.execute_checked(
            "UPDATE messages SET body = ? WHERE rowid = ?", (sealed[:-1] + bytes([sealed[-1] ^ 1]), rowid)
        )
    with pytest.raises(StoreCorrupt):
        store.messages.by_id(mid(1))
