"""Views of a document: how the control socket shows one, and where received ones are kept."""

from __future__ import annotations

from pathlib import Path

from hotline.proto.document import hash_label
from hotline.station.documents.needs import StationWithHome
from hotline.station.ids import show_id
from hotline.store.rows import DocRow
from hotline.store.schema import OUT


def doc_dir(station: StationWithHome) -> Path:
    """The directory of a station's received documents' files."""
    return station.paths.home / "documents"


def describe_doc(row: DocRow, peer: str) -> dict[str, object]:
    """A document as the control socket shows it: ``hash`` names the hash of ``digest`` (hex); a
    SHA-256 document also shows it as ``sha256``, as before the profiles."""
    shown: dict[str, object] = {
        "id": show_id(row.message_id),
        "peer": peer,
        "direction": "out" if row.direction == OUT else "in",
        "name": row.name,
        "size": row.size,
        "hash": hash_label(row.hash),
        "digest": row.digest.hex(),
        "stored": row.stored,
        "state": row.state,
        "detail": row.detail,
        "created_at": row.created_at,
        "completed_at": row.completed_at,
    }
    if row.hash == "SHA256":
        shown["sha256"] = row.digest.hex()
    return shown


__all__ = ["describe_doc", "doc_dir"]
