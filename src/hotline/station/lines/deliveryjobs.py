"""The store jobs of a line's delivery (:mod:`hotline.station.lines.delivery`): they run on the
store's thread, on plain values only (never the line), inside the worker's transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from hotline.crypto.hashing import constant_time_equal
from hotline.proto import linemsg
from hotline.proto.delivery import entry_chain
from hotline.proto.linemsg import Entry, Kind, Precedence, TestProbe
from hotline.proto.pacing import LanePacer
from hotline.proto.suites import STANDARD, Suite
from hotline.station.entryrules import check_entry
from hotline.station.ids import new_message_id
from hotline.store.db import Store
from hotline.store.rows import MessageRow
from hotline.store.schema import IN, OUT

#: What storing one inbound entry gave: its row, and what the line needs to act on it (a refusal,
#: the ACK's outcome, a document problem, a line test's verdict).
Stored = list[tuple[MessageRow, Any]]
#: Stores a DOC entry's document row in the entry's transaction: a problem, or None.
DocHook = Callable[[Store, Entry, float], str | None]


def store_inbound(
    store: Store, *, line_id: int, chain_out0: bytes, peer: str, batch: list[Entry], doc_hook: DocHook
) -> Stored:
    """Store accepted inbound entries (one transaction: the worker's); what each one gave."""
    now = time.time()
    out: Stored = []
    for entry in batch:
        refused = check_entry(store, line_id, entry)
        if refused is not None:
            why, keep_id = refused
            rowid = store.messages.add_refused(line_id, entry, why.why, now, keep_id=keep_id)
            out.append((_inbound_row(rowid, line_id, entry, now), why))
            continue
        rowid = store.messages.add_incoming(
            line_id,
            id=entry.id,
            seq=entry.seq,
            kind=entry.kind,
            precedence=entry.precedence,
            created_ms=entry.created_ms,
            ref=entry.ref,
            body=entry.body,
            chain=entry.chain,
            now=now,
        )
        extra: Any = None
        if entry.kind == Kind.ACK:
            extra = store.messages.mark_acked(line_id, OUT, entry.ref, now)
        elif entry.kind == Kind.DOC:
            extra = doc_hook(store, entry, now)
        elif entry.kind in (Kind.TEST, Kind.TEST_REPLY):
            extra = check_probe(store, line_id, chain_out0, peer, entry)
            if entry.kind == Kind.TEST:
                reply = linemsg.encode(TestProbe(entry.seq, entry.chain))
                store.messages.queue(
                    line_id,
                    id=new_message_id(),
                    kind=Kind.TEST_REPLY,
                    precedence=Precedence.FLASH,
                    created_ms=int(now * 1000),
                    ref=entry.id,
                    body=reply,
                    now=now,
                )
        out.append((_inbound_row(rowid, line_id, entry, now), extra))
    return out


def check_probe(store: Store, line_id: int, chain_out0: bytes, peer: str, entry: Entry) -> str | None:
    """Compare the peer's view of our outbound transcript (a line test's body) with ours; a problem,
    or None."""
    try:
        probe = linemsg.decode_probe(entry.body)
    except linemsg.LineMessageError as exc:
        return str(exc)
    if probe.received_seq == 0:
        ours: bytes | None = chain_out0
    else:
        ours = store.messages.chain_at(line_id, OUT, probe.received_seq)
    if ours is None:
        return f"{peer} holds entry {probe.received_seq} of ours, which we never sent"
    if not constant_time_equal(ours, probe.received_head):
        return f"{peer}'s chain head at our entry {probe.received_seq} differs from ours"
    return None


def number_entries(
    store: Store,
    line_id: int,
    chain0: bytes,
    rows: list[MessageRow],
    pacer: LanePacer | None = None,
    suite: Suite = STANDARD,
) -> list[MessageRow]:
    """Give queued ``rows`` the next sequence numbers and chain heads of the line's outbound transcript.

    With ``pacer`` (carrier mode), only while it may queue (§14.3): the first rows, as many as the
    lanes take. Runs in the store's thread, inside the caller's transaction; returns the rows with
    their place.
    """
    seq, head = store.messages.position(line_id, OUT)
    chain = head or chain0
    done: list[MessageRow] = []
    for row in rows:
        if pacer is not None and not pacer.may_queue():
            break
        seq, chain = next_place(seq, chain, row, suite)
        store.messages.assign(row.rowid, seq, chain)
        placed = _with_place(row, seq, chain)
        if pacer is not None:
            pacer.queue(entry_of(placed))
        done.append(placed)
    return done


def next_place(seq: int, head: bytes, row: MessageRow, suite: Suite = STANDARD) -> tuple[int, bytes]:
    """The sequence number and chain head ``row`` gets after entry ``seq`` whose head is ``head``, on
    a line of profile ``suite`` (its chain's hash, §10.1)."""
    entry = Entry(seq + 1, row.id, row.kind, row.precedence, row.created_ms, row.ref, row.body, b"")
    return seq + 1, entry_chain(head, entry, suite)


def entry_of(row: MessageRow) -> Entry:
    """The wire entry of a numbered outbound row."""
    assert row.seq is not None and row.chain is not None
    return Entry(row.seq, row.id, row.kind, row.precedence, row.created_ms, row.ref, row.body, row.chain)


def _inbound_row(rowid: int, line_id: int, entry: Entry, now: float) -> MessageRow:
    return MessageRow(rowid, line_id, IN, entry.id, entry.seq, entry.kind, entry.precedence, entry.created_ms,
                      entry.ref, entry.body, entry.chain, now, None, None)  # fmt: skip


def _with_place(row: MessageRow, seq: int, chain: bytes) -> MessageRow:
    return MessageRow(row.rowid, row.line_id, row.direction, row.id, seq, row.kind, row.precedence,
                      row.created_ms, row.ref, row.body, chain, row.stored_at, row.delivered_at,
                      row.acked_at)  # fmt: skip


__all__ = [
    "DocHook",
    "Stored",
    "check_probe",
    "entry_of",
    "next_place",
    "number_entries",
    "store_inbound",
]
