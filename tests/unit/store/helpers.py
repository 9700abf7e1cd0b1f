"""Shared helpers for the store and store-worker tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hotline.store.connection import connect, dbapi
from hotline.store.db import Store
from hotline.store.rows import LineRow

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))


def raw_connection(path: Path, key: bytes = KEY) -> dbapi.Connection:
    """A connection to the encrypted store file behind the Store's back (what a test alters it with)."""
    return connect(path, key)


def line_fields(peer: str = "bravo", now: float = 100.0, **changes: Any) -> dict[str, Any]:
    """Recognisable fields of a new line to ``peer`` (the arguments of ``store.lines.add``), with
    ``changes`` (a profile, say)."""
    return {
        "peer": peer,
        "card": b"card:" + peer.encode(),
        "key_digest": b"\xd1" * 32,
        "static_public": b"\x5a" * 32,
        "endpoints": [f"{peer}.example:7000", "127.0.0.1:7001"],
        "now": now,
        "chain_out0": b"\x00" * 32,
        "chain_in0": b"\x01" * 32,
        **changes,
    }


def add_line(store: Store, peer: str = "bravo", now: float = 100.0, **changes: Any) -> LineRow:
    """A line with recognisable fields (:func:`line_fields`), added in its own transaction."""
    with store.transaction():
        return store.lines.add(**line_fields(peer, now, **changes))


def undo_line_profiles(raw: dbapi.Connection) -> None:
    """Take schema version 4's line profiles out of a store (to make it what an older Hotline wrote)."""
    raw.execute("ALTER TABLE lines DROP COLUMN profile")


def undo_document_hashes(raw: dbapi.Connection) -> None:
    """Take schema version 5's document hash and AEAD columns out of a store (back to ``sha256``)."""
    raw.execute("ALTER TABLE documents DROP COLUMN hash")
    raw.execute("ALTER TABLE documents DROP COLUMN blob_aead")
    raw.execute("ALTER TABLE documents RENAME COLUMN digest TO sha256")
