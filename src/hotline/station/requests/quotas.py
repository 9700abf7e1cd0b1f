"""The control socket's quota requests (F5; docs/control.md, "Quotas").

``quotas`` shows every line's quotas and what it uses of them; ``quota.reload`` reads the quotas in
``station.toml`` again, so a paused line whose quota was raised resumes without a restart;
``file.accept`` and ``file.refuse`` decide a document held for the operator's approval.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from hotline.proto.document import DocMetaError, decode_meta
from hotline.station.documents import describe_doc
from hotline.station.errors import StationError
from hotline.station.lookup import lookup
from hotline.station.service import Station, parse_id
from hotline.store.schema import IN

Emit = Callable[[dict[str, object]], Awaitable[None]]


class _Args(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class QuotasArgs(_Args):
    peer: str | None = None


class FileDecisionArgs(_Args):
    id: str
    #: The line the document came on, when two lines hold the id (as for ``file.get``).
    peer: str | None = None


class QuotaRequests:
    """The quota handlers of one station."""

    def __init__(self, station: Station) -> None:
        self.station = station

    def handlers(
        self,
    ) -> dict[str, tuple[type[msgspec.Struct], Callable[[Any, Emit], Awaitable[dict[str, object]]]]]:
        return {
            "quotas": (QuotasArgs, self.quotas),
            "quota.reload": (_Args, self.reload),
            "file.accept": (FileDecisionArgs, self.accept),
            "file.refuse": (FileDecisionArgs, self.refuse),
        }

    async def quotas(self, args: QuotasArgs, emit: Emit) -> dict[str, object]:
        station = self.station
        lines = [station.line(args.peer)] if args.peer is not None else list(station.lines.values())
        return {"lines": [station.quotas.describe(line) for line in lines]}

    async def reload(self, args: _Args, emit: Emit) -> dict[str, object]:
        return await self.station.quotas.reload()

    async def accept(self, args: FileDecisionArgs, emit: Emit) -> dict[str, object]:
        return await self._decide(args, accept=True)

    async def refuse(self, args: FileDecisionArgs, emit: Emit) -> dict[str, object]:
        return await self._decide(args, accept=False)

    async def _decide(self, args: FileDecisionArgs, *, accept: bool) -> dict[str, object]:
        station = self.station
        message_id = parse_id(args.id)
        # the DOC entry on one line names the document: ids are unique per line only (§10.2 rule 6)
        entry = await lookup(station, args.id, message_id, IN, args.peer)
        try:
            doc_id = None if entry is None else decode_meta(entry.body).doc_id
        except DocMetaError:
            doc_id = None
        if entry is None or doc_id is None:
            raise StationError("no-such-document", f"no received document {args.id} (see `hotline files`)")
        row = await station.quotas.decide(entry.line_id, doc_id, message_id, accept)
        names = {ln.row.id: ln.peer for ln in station.lines.values()}
        return {"document": describe_doc(row, names.get(row.line_id, "?"))}


__all__ = ["QuotaRequests"]
