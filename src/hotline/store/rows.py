"""The store's rows as the rest of the station sees them: frozen values, bodies and keys already opened."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hotline.proto.suites import ProfileName


@dataclass(frozen=True, slots=True)
class LineRow:
    """A line as stored (without its key: :meth:`~hotline.store.lines.LineStore.key` opens it on demand)."""

    id: int
    peer: str
    card: bytes
    key_digest: bytes
    static_public: bytes
    endpoints: tuple[str, ...]
    has_key: bool
    key_created_at: int | None
    verified_digest: bytes | None
    added_at: float
    chain_out0: bytes
    chain_in0: bytes
    #: Outbound entries up to this sequence number are marked delivered.
    delivered_upto: int = 0
    #: The line's profile (:mod:`hotline.proto.suites`): fixed when made, the same at both ends.
    profile: ProfileName = "standard"

    @property
    def verified(self) -> bool:
        """The operators confirmed the safety number of the card we hold now."""
        return self.verified_digest is not None and self.verified_digest == self.key_digest


@dataclass(frozen=True, slots=True)
class MessageRow:
    """One transcript entry, body opened."""

    rowid: int
    line_id: int
    direction: int
    id: bytes
    seq: int | None
    kind: int
    precedence: int
    created_ms: int
    ref: bytes
    body: bytes
    chain: bytes | None
    stored_at: float
    delivered_at: float | None
    acked_at: float | None


@dataclass(frozen=True, slots=True)
class EventRow:
    """Something that happened on a line or the station (alerts, tests, sessions)."""

    rowid: int
    line_id: int | None
    at: float
    kind: str
    detail: dict[str, object]


@dataclass(frozen=True)
class DocRow:
    """Where one document stands, in one direction."""

    rowid: int
    line_id: int
    direction: int
    doc_id: bytes
    message_id: bytes
    name: str
    size: int
    #: The whole document's digest, by :attr:`hash`.
    digest: bytes
    stored: int
    state: str
    detail: str | None
    source: str | None
    source_mtime: int | None
    created_at: float
    completed_at: float | None
    #: The hash of :attr:`digest` (``SHA256``, ``BLAKE3``, ``SHA384``; rows from before the profiles:
    #: SHA-256).
    hash: str = "SHA256"


@dataclass(frozen=True)
class CallRow:
    """One call in the log."""

    rowid: int
    line_id: int
    call_id: bytes
    direction: int
    started_at: float
    answered_at: float | None
    ended_at: float | None
    end_reason: str | None
    sas_confirmed: bool | None
    path: str | None
    stats: dict[str, Any] | None


__all__ = ["CallRow", "DocRow", "EventRow", "LineRow", "MessageRow"]
