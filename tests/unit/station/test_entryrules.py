"""The id rules on a peer's entries (hotline.station.entryrules) against a real store.

Issue 13: B1 (an id the line already holds), B2 (our id in the peer's transcript), B3 (an ACK naming
no message of ours), F4 (a document id already used at the station).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.proto.document import DocMeta, encode_meta
from hotline.proto.linemsg import Entry, Kind
from hotline.station.entryrules import Refused, check_entry
from hotline.station.lines.deliveryjobs import store_inbound
from hotline.station.views import message_text
from hotline.store.db import Store
from hotline.store.rows import MessageRow
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


@pytest.mark.parametrize(
    "body",
    [
        b"\xff",  # never in UTF-8
        b"caf\xc3",  # cut inside a character
        b"\xc0\xaf",  # an overlong "/"
        b"\xed\xa0\x80",  # a surrogate (U+D800)
        b"\xf4\x90\x80\x80",  # above U+10FFFF
        b"ok \x80 then",  # a lone continuation byte
    ],
)
def test_a_text_entry_that_is_not_utf8_is_refused_and_keeps_its_id(store: Store, body: bytes) -> None:
    """§10.2 rule 6: a TEXT body must be UTF-8, strictly; the refusal names the entry's id."""
    line = add_line(store)
    refused = check_entry(store, line.id, entry(1, 1, body=body))
    assert refused is not None and "not UTF-8" in refused[0].why and "entry 1" in refused[0].why
    assert refused[1] is True  # the id is new to the line: it is kept with the refused entry


@pytest.mark.parametrize("body", [b"", "caf\u00e9 \u2014 \U0001f4de".encode(), b"tab\tbell\x07nul\x00"])
def test_any_utf8_text_is_taken_control_characters_and_empty_too(store: Store, body: bytes) -> None:
    """What a TEXT body may hold beyond UTF-8: anything; showing it safely is the reader's affair."""
    line = add_line(store)
    assert check_entry(store, line.id, entry(1, 1, body=body)) is None


def test_a_refused_text_keeps_its_place_and_the_next_entry_is_taken(store: Store) -> None:
    """The refused entry is stored at its sequence number (chained, so it is receipted and never sent
    again), shows nowhere, and the entry after it is an ordinary message."""
    line = add_line(store)
    batch = [entry(1, 1, body=b"\xffbad"), entry(2, 2, body=b"good")]
    with store.transaction():
        stored = store_inbound(store, line_id=line.id, chain_out0=CHAIN, peer="bravo", batch=batch,
                               doc_hook=lambda *_: None)  # fmt: skip
    assert isinstance(stored[0][1], Refused) and stored[1][1] is None
    assert store.messages.position(line.id, IN)[0] == 2
    assert [row.body for row in store.messages.find(line_id=line.id)] == [b"good"]


def test_an_old_row_that_is_not_utf8_is_never_shown_with_replacement_characters() -> None:
    """A row stored before the rule (§10.2 rule 6) reads as a note of ours, not as the peer's words."""
    row = MessageRow(1, 1, IN, mid(1), 1, Kind.TEXT, 3, 1, b"", b"caf\xc3 \xff", CHAIN, 1.0, None, None)
    assert message_text(row) == "(a text message that is not UTF-8)"
    assert message_text(dataclasses.replace(row, body="café".encode())) == "café"
