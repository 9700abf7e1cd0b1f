"""The control socket's quota requests (F5; docs/control.md, "Quotas").

``quotas`` shows every line's quotas and what it uses of them; ``quota.reload`` reads the quotas in
``station.toml`` again, so a paused line whose quota was raised resumes without a restart;
``file.accept`` and ``file.refuse`` decide a document held for the operator's approval.
"""

from __future__ import annotations

from hotline.proto.document import DocMetaError, decode_meta
from hotline.station.documents import describe_doc
from hotline.station.errors import StationError
from hotline.station.ids import parse_id
from hotline.station.lookup import lookup
from hotline.station.requests.base import Args, Emit, NoArgs, StationHost
from hotline.store.schema import IN


class QuotasArgs(Args):
    peer: str | None = None


class FileDecisionArgs(Args):
    id: str
    #: The line the document came on, when two lines hold the id (as for ``file.get``).
    peer: str | None = None


async def quotas(station: StationHost, args: QuotasArgs, emit: Emit) -> dict[str, object]:
    """``quotas``: every line's quotas (or one line's) and what it uses of them."""
    lines = [station.line(args.peer)] if args.peer is not None else list(station.lines.values())
    return {"lines": [station.quotas.describe(line) for line in lines]}


async def reload(station: StationHost, args: NoArgs, emit: Emit) -> dict[str, object]:
    """``quota.reload``: read the quotas in station.toml again."""
    return await station.quotas.reload()


async def accept(station: StationHost, args: FileDecisionArgs, emit: Emit) -> dict[str, object]:
    """``file.accept``: ask for a held document now."""
    return await _decide(station, args, accept=True)


async def refuse(station: StationHost, args: FileDecisionArgs, emit: Emit) -> dict[str, object]:
    """``file.refuse``: a held document fails; the sender hears so."""
    return await _decide(station, args, accept=False)


async def _decide(station: StationHost, args: FileDecisionArgs, *, accept: bool) -> dict[str, object]:
    message_id = parse_id(args.id)
    # the DOC entry on one line names the document: ids are unique per line only (§10.2 rule 6)
    entry = await lookup(station.registry, station.worker, args.id, message_id, IN, args.peer)
    try:
        doc_id = None if entry is None else decode_meta(entry.body).doc_id
    except DocMetaError:
        doc_id = None
    if entry is None or doc_id is None:
        raise StationError("no-such-document", f"no received document {args.id} (see `hotline files`)")
    row = await station.quotas.decide(entry.line_id, doc_id, message_id, accept)
    names = station.registry.names()
    return {"document": describe_doc(row, names.get(row.line_id, "?"))}


__all__ = ["FileDecisionArgs", "QuotasArgs", "accept", "quotas", "refuse", "reload"]
