"""The JSON shapes of docs/control.md ("Results"): a message, a line, a line's status and its carrier.

Every answer the station gives an operator is built here from plain values and store rows, so the
control socket, the offline mode and the follower events show the same thing the same way. Nothing
here reads the store or changes state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from hotline.proto.cards import StationCard
from hotline.proto.carrier import CarrierStatus, Lane
from hotline.proto.carriermode import CarrierSetting
from hotline.proto.constants import AEAD_TAG_LEN, RECORD_HEADER_LEN
from hotline.proto.document import DocMetaError, decode_meta, hash_label
from hotline.proto.linemsg import Kind, Precedence
from hotline.station.ids import show_id
from hotline.store.rows import LineRow, MessageRow
from hotline.store.schema import OUT


class ReceiptFacts(Protocol):
    """What the views read of a line's transcripts."""

    #: The highest of our sequence numbers the peer has receipted.
    @property
    def peer_seq(self) -> int: ...
    #: When the last receipt came (Unix seconds), if one came since the station opened.
    @property
    def receipted_at(self) -> float | None: ...


class DeliveryFacts(Protocol):
    """What the views read of a line's delivery."""

    @property
    def machine(self) -> ReceiptFacts: ...


class LineFacts(Protocol):
    """What the views read of a line."""

    @property
    def peer(self) -> str: ...
    @property
    def row(self) -> LineRow: ...
    @property
    def card(self) -> StationCard: ...
    @property
    def state(self) -> str: ...
    @property
    def delivery(self) -> DeliveryFacts: ...


def describe_message(row: MessageRow, line: LineFacts | None) -> dict[str, object]:
    """A message as docs/control.md shows it (``line``: the line it is on, if the station has it)."""
    peer = line.peer if line is not None else "?"
    delivered_at = row.delivered_at
    # a receipt is known at once; the store's mark follows a moment later (or, with a full
    # store, once there is room): the receipt is what counts
    receipted = line is not None and row.seq is not None and row.seq <= line.delivery.machine.peer_seq
    if delivered_at is None and row.direction == OUT and receipted and line is not None:
        delivered_at = line.delivery.machine.receipted_at
    if row.direction == OUT:
        if row.acked_at is not None:
            state = "acked"
        elif delivered_at is not None:
            state = "delivered"
        elif row.seq is not None:
            state = "sent"
        else:
            state = "queued"
    else:
        state = "acked" if row.acked_at is not None else "received"
    return {
        "id": show_id(row.id),
        "peer": peer,
        "direction": "out" if row.direction == OUT else "in",
        "kind": Kind(row.kind).name.lower().replace("_", "-"),
        "seq": row.seq,
        "precedence": Precedence(row.precedence).name.lower(),
        "text": message_text(row),
        "ref": show_id(row.ref) if row.ref else None,
        "created_at": row.created_ms / 1000,
        "stored_at": row.stored_at,
        "state": state,
        "delivered_at": delivered_at,
        "acked_at": row.acked_at,
        "inbox": row.rowid,
    }


def message_text(row: MessageRow) -> str:
    """The ``text`` of a message: its words, a line about its document, or nothing."""
    if row.kind == Kind.TEXT:
        try:
            return row.body.decode("utf-8")
        except UnicodeDecodeError:
            # only a row stored before stations refused such entries (§10.2 rule 6): nothing of it
            # is shown as if it were the peer's words
            return "(a text message that is not UTF-8)"
    if row.kind == Kind.DOC:
        try:
            meta = decode_meta(row.body)
        except DocMetaError:
            return "(a document we could not read)"
        return (
            f"document {meta.name} ({meta.size:,} bytes, {hash_label(meta.hash)} {meta.digest.hex()[:16]}…)"
        )
    return ""


def describe_line(line: LineFacts, *, running: bool) -> dict[str, object]:
    """``line`` as docs/control.md shows it; ``state`` is ``stopped`` when no daemon serves it."""
    row = line.row
    card = line.card
    return {
        "peer": line.peer,
        "station": card.name,
        "fingerprint": str(card.fingerprint_for(row.profile)),
        "endpoints": list(row.endpoints),
        "profile": row.profile,
        "verified": row.verified,
        "has_key": row.has_key,
        "key_created_at": row.key_created_at,
        "state": line.state if running or line.state in ("unverified", "no-key") else "stopped",
        "added_at": row.added_at,
    }


#: What a cell costs beyond its plaintext as a transport record: the record header and the AEAD tag.
RECORD_OVERHEAD = RECORD_HEADER_LEN + AEAD_TAG_LEN
#: IPv4 (20) and TCP (20, and 12 of the timestamps option Linux sends by default) headers, counted
#: once per cell as when every cell leaves in a segment of its own (docs/state-machines/carrier.md).
TCP_IPV4_OVERHEAD = 52
_DAY = 86_400


@dataclass(frozen=True, slots=True)
class CarrierLoad:
    """How full a carrier's cells were over a stretch of time."""

    #: The share of cell bytes that carried lane bytes (0.0 to just under 1.0).
    share: float
    #: The seconds it was measured over.
    over: float


def describe_carrier(
    setting: CarrierSetting | None, status: CarrierStatus | None, *, load: CarrierLoad | None = None
) -> dict[str, object] | None:
    """A line's ``carrier`` (docs/control.md "line status"): None when the line runs none.

    Args:
        setting: the line's carrier as ``station.toml`` sets it (None: ``carrier = "off"``).
        status: the current session's carrier snapshot, None when no session runs one.
        load: how full the cells were lately; without it, ``load`` is the average since the
            session's first cell.
    """
    if setting is None:
        return None
    wire_cell = setting.cell_size + RECORD_OVERHEAD + TCP_IPV4_OVERHEAD
    described: dict[str, object] = {
        "mode": "steady",
        "cell": setting.cell_size,
        "interval_ms": _milliseconds(setting.interval),
        "wire_bytes_per_cell": wire_cell,
        "bytes_per_day": round(wire_cell * _DAY / setting.interval),
        "running": status is not None,
        "cells_sent": None,
        "load": None,
        "load_over_s": None,
        "load_since_start": None,
        "waiting": None,
        "backlog_cells": None,
        "backlog_s": None,
    }
    if status is None:
        return described
    if load is None:
        load = CarrierLoad(status.load, status.cells * setting.interval)
    backlog = status.backlog
    described.update(
        cells_sent=status.cells,
        load=round(load.share, 4),
        load_over_s=round(load.over, 1),
        load_since_start=round(status.load, 4),
        waiting={lane.name.lower(): _waiting(status, lane) for lane in Lane},
        backlog_cells=backlog,
        # the least it takes to send what waits now, if nothing more came and nothing went ahead of it
        backlog_s=round(backlog * setting.interval, 3),
    )
    return described


def _milliseconds(seconds: float) -> int | float:
    # station.toml sets whole milliseconds: show them as such
    ms = round(seconds * 1000, 3)
    return int(ms) if ms.is_integer() else ms


def _waiting(status: CarrierStatus, lane: Lane) -> dict[str, int]:
    waiting = status.waiting.get(lane)
    return (
        {"frames": 0, "bytes": 0} if waiting is None else {"frames": waiting.frames, "bytes": waiting.bytes}
    )


def log_entries(
    rows: list[MessageRow], events: list[tuple[float, str, dict[str, object]]], line: LineFacts, limit: int
) -> list[dict[str, object]]:
    """A line's log (``entry`` of docs/control.md): messages, receipts, acks, tests and alerts by time."""
    entries: list[dict[str, object]] = []
    for row in rows:
        described = describe_message(row, line)
        entries.append({"at": row.stored_at, "kind": "message", "message": described})
        if row.direction == OUT and row.delivered_at is not None:
            entries.append({"at": row.delivered_at, "kind": "receipt", "id": described["id"]})
        if row.acked_at is not None:
            entries.append(
                {
                    "at": row.acked_at,
                    "kind": "ack",
                    "id": described["id"],
                    "direction": described["direction"],
                }
            )
    for at, kind, detail in events:
        shown = "test" if kind == "test" else "alert"
        entries.append({"at": at, "kind": shown, "event": kind, **detail})
    entries.sort(key=lambda entry: float(entry["at"]))  # type: ignore[arg-type]
    return entries[-limit:]


__all__ = [
    "RECORD_OVERHEAD",
    "TCP_IPV4_OVERHEAD",
    "CarrierLoad",
    "LineFacts",
    "describe_carrier",
    "describe_line",
    "describe_message",
    "log_entries",
    "message_text",
]
