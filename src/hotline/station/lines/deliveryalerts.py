"""What a line's delivery tells the operator when a session breaks on a rule of docs/protocol.md
§10 (:class:`hotline.proto.transcriptio.Broken`): the alert's kind and its sentence."""

from __future__ import annotations

from hotline.proto.transcriptio import Broken, Why
from hotline.station.alertkinds import AlertKind


def broken_alert(peer: str, broken: Broken) -> tuple[AlertKind, str] | None:
    """The alert ``(kind, detail)`` for a session to ``peer`` that broke so; None: none (the
    store's failure was told where it happened)."""
    match broken.why:
        case Why.ROLLED_BACK:
            detail = (
                f"{peer} holds {broken.seq} of our entries but we sent only {broken.other}: "
                "was our store restored from an old copy?"
            )
        case Why.HELLO_MISMATCH:
            detail = f"{peer}'s copy of our transcript differs at entry {broken.seq}"
        case Why.GAP:
            return AlertKind.GAP, f"{peer} sent entry {broken.seq} where {broken.other} was due"
        case Why.CHAIN:
            detail = f"entry {broken.seq} from {peer} does not extend our chain"
        case Why.RECEIPT_BEYOND:
            detail = f"{peer} receipted entry {broken.seq}; we sent {broken.other}"
        case Why.RECEIPT_MISMATCH:
            detail = f"{peer}'s receipt for entry {broken.seq} has another chain head"
        case Why.STORE_FAILED:
            return None
    return AlertKind.CHAIN_MISMATCH, detail


__all__ = ["broken_alert"]
