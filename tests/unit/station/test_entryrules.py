"""The id rules on a peer's entries (hotline.station.entryrules) against a real store.

Issue 13: B1 (an id the line already holds), B2 (our id in the peer's transcript), B3 (an ACK naming
no message of ours), F4 (a document id already used at the station).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.proto.document import DocMeta, encode_meta
from hotline.proto.linemsg import Entry, Kind
from hotline.station.entryrules import check_entry
from hotline.store.db import Store
from hotline.store.schema import IN, OUT
from tests.unit.store.helpers import KEY, add_line

CHAIN = b"\x07" * 32


def mid(n: int) -> bytes:
    return n.to_bytes(10, "big")


def entry(seq: int, n: int, kind: int = Kind.TEXT, ref: bytes = b"", body: bytes = b"hi") -> Entry:
    return Entry(seq, mid(n), kind, 3, 1000, ref, body, CHAIN)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path / "store.sqlite", KEY)
    yield s
    s.close()


def _sent(store: Store, line_id: int, n: int, kind: int = Kind.TEXT, *, numbered: bool = True) -> None:
    with store.transaction():
        store.messages.queue(line_id, id=mid(n), kind=kind, precedence=3, created_ms=1, ref=b"", body=b"x",
                             now=1.0, place=(n, CHAIN) if numbered else None)  # fmt: skip


def _received(store: Store, line_id: int, n: int, seq: int) -> None:
    with store.transaction():
        store.messages.add_incoming(line_id, id=mid(n), seq=seq, kind=Kind.TEXT, precedence=3, created_ms=1,
                                    ref=b"", body=b"y", chain=CHAIN, now=1.0)  # fmt: skip


def test_an_id_the_line_holds_is_refused_either_way(store: Store) -> None:
    """B1, B2: the peer's earlier id and one of ours are refused, and the id may not be stored."""
    line, other = add_line(store, "one"), add_line(store, "two")
    _received(store, line.id, 1, 1)
    _sent(store, line.id, 2)
    for n, whose in ((1, "its earlier entries"), (2, "ours")):
        refused = check_entry(store, line.id, entry(2, n))
        assert refused is not None and whose in refused[0].why and refused[1] is False
    assert check_entry(store, line.id, entry(2, 3)) is None
    assert check_entry(store, other.id, entry(1, 1)) is None  # ids are per line


def test_an_ack_must_name_a_message_we_sent(store: Store) -> None:
    """B3: an ACK counts only for a TEXT or DOC entry we sent on this line."""
    line, other = add_line(store, "one"), add_line(store, "two")
    _sent(store, line.id, 1)
    _sent(store, line.id, 2, Kind.TEST)
    _sent(store, line.id, 3, numbered=False)  # queued, never sent
    _received(store, line.id, 4, 1)
    _sent(store, other.id, 5)
    assert check_entry(store, line.id, entry(2, 10, Kind.ACK, mid(1))) is None
    for ref in (2, 3, 4, 5, 99):
        refused = check_entry(store, line.id, entry(2, 10, Kind.ACK, mid(ref)))
        assert refused is not None and refused[1] is True, ref


def test_a_document_id_in_use_anywhere_is_refused(store: Store) -> None:
    """F4: a DOC entry reusing a document id of any line, either direction, is refused."""
    line, other = add_line(store, "one"), add_line(store, "two")
    doc_id = b"\x42" * 16
    with store.transaction():
        store.documents.add(other.id, OUT, doc_id=doc_id, message_id=mid(9), name="a", size=1,
                            digest=b"\x00" * 32, hash="SHA256", now=1.0)  # fmt: skip
    body = encode_meta(DocMeta(doc_id, "b", 1, b"\x00" * 32))
    refused = check_entry(store, line.id, entry(1, 1, Kind.DOC, body=body))
    assert refused is not None and doc_id.hex() in refused[0].why
    fresh = encode_meta(DocMeta(b"\x43" * 16, "b", 1, b"\x00" * 32))
    assert check_entry(store, line.id, entry(1, 1, Kind.DOC, body=fresh)) is None
    assert check_entry(store, line.id, entry(1, 1, Kind.DOC, body=b"\xc1")) is None  # the desk's to refuse


@settings(max_examples=40, deadline=None)
@given(ids=st.lists(st.integers(0, 6), min_size=1, max_size=25))
def test_whatever_ids_a_peer_sends_each_is_taken_once(
    tmp_path_factory: pytest.TempPathFactory, ids: list[int]
) -> None:
    """B1: storing a run of entries through the rule never fails on the store's unique ids, and an
    id is taken (not refused) exactly the first time the line sees it."""
    store = Store.open(tmp_path_factory.mktemp("s") / "store.sqlite", KEY)
    line = add_line(store)
    taken: list[int] = []
    with store.transaction():
        for seq, n in enumerate(ids, start=1):
            e = entry(seq, n)
            refused = check_entry(store, line.id, e)
            if refused is None:
                store.messages.add_incoming(line.id, id=e.id, seq=seq, kind=e.kind, precedence=3,
                                            created_ms=1, ref=b"", body=e.body, chain=CHAIN,
                                            now=1.0)  # fmt: skip
                taken.append(n)
            else:
                store.messages.add_refused(line.id, e, refused[0].why, 1.0, keep_id=refused[1])
    assert taken == list(dict.fromkeys(ids))
    assert store.messages.position(line.id, IN)[0] == len(ids)
    assert [row.id for row in store.messages.find(line_id=line.id)] == [mid(n) for n in taken]
    store.close()
