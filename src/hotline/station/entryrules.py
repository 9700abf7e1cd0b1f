"""What a peer's entry may not name or hold: the rules a station enforces on each inbound entry.

docs/protocol.md §10.2 and §13: an entry's id is unique on its line across both directions; a TEXT
entry's body is UTF-8; an ACK's ``ref`` names a message the acker received from us; a DOC entry's
document id is new to the whole station (every line, both directions). An entry that breaks one
is a protocol error of that peer: it is kept in its place in the transcript (it was chained, and is
receipted like any other, so the peer does not send it again and the line goes on) but marked
refused and never acted on, and the line raises a ``protocol`` alert naming the id. A true
retransmission never gets here: an entry at a sequence number we already hold is a duplicate and is
dropped before (§10.1).
"""

from __future__ import annotations

from dataclasses import dataclass

from hotline.proto.document import DocMetaError, decode_meta
from hotline.proto.linemsg import Entry, Kind
from hotline.station.ids import show_id
from hotline.store.db import Store
from hotline.store.schema import OUT


@dataclass(frozen=True, slots=True)
class Refused:
    """Why an inbound entry was refused (a sentence after the peer's name)."""

    why: str


def check_entry(store: Store, line_id: int, entry: Entry) -> tuple[Refused, bool] | None:
    """Whether ``entry`` breaks a rule of §10.2 rule 6 or §13: ``(why, whether its id may still be
    stored)``, or None."""
    held = store.messages.id_direction(line_id, entry.id)
    if held is not None:
        whose = "one of ours" if held == OUT else "one of its earlier entries"
        why = f"sent entry {entry.seq} with the id {show_id(entry.id)}, already {whose} on this line"
        return Refused(why), False
    if entry.kind == Kind.TEXT:
        try:
            entry.body.decode("utf-8")  # strict: RFC 3629, no overlong forms, surrogates or > U+10FFFF
        except UnicodeDecodeError as exc:
            why = (
                f"sent a text message (entry {entry.seq}, {show_id(entry.id)}) that is not UTF-8 "
                f"(at byte {exc.start})"
            )
            return Refused(why), True
    elif entry.kind == Kind.ACK:
        acked = store.messages.line_message(line_id, entry.ref, OUT)
        if acked is None or acked.seq is None or acked.kind not in (Kind.TEXT, Kind.DOC):
            why = f"acknowledged {show_id(entry.ref)} (entry {entry.seq}), which is no message we sent it"
            return Refused(why), True
    elif entry.kind == Kind.DOC:
        try:
            doc_id = decode_meta(entry.body).doc_id
        except DocMetaError:
            return None  # refused as a document, with its own alert (hotline.station.documents)
        if store.documents.id_in_use(doc_id):
            why = (
                f"announced a document (entry {entry.seq}, {show_id(entry.id)}) with the document id "
                f"{doc_id.hex()}, already used at this station"
            )
            return Refused(why), True
    return None


__all__ = ["Refused", "check_entry"]
