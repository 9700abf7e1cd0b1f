"""The op table of the control socket (docs/control.md) and the one dispatcher over it.

Every request an operator can make is one row of :data:`OPS`: its argument struct, its handler,
whether it is *live* (it streams events or waits on others, so the control socket runs it alone and
watches for the client leaving) and whether it works with the daemon stopped (the CLI's offline
mode; ``tests/unit/station/test_op_table.py`` keeps the CLI's list and docs/control.md in step with
this table). :class:`Requests` runs a request by its row and maps store failures to the station's
error codes in one place (:func:`store_failure`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import msgspec

from hotline.station.errors import StationError
from hotline.station.requests import calls, documents, lines, messages, pairing, quotas, station
from hotline.station.requests.base import Args, Emit, NoArgs, PeerArgs, StationHost
from hotline.store.errors import StoreError, StoreFull

A = TypeVar("A", bound=Args)

#: Whether a request, given its arguments, is live.
Live = Callable[[Mapping[str, object]], bool]


def never(args: Mapping[str, object]) -> bool:
    """Never live: answered as soon as it is done."""
    return False


def always(args: Mapping[str, object]) -> bool:
    """Always live: streams or waits."""
    return True


def _following(args: Mapping[str, object]) -> bool:
    return bool(args.get("follow"))


def _waiting(args: Mapping[str, object]) -> bool:
    return bool(args.get("wait"))


def _asked_to_wait(args: Mapping[str, object]) -> bool:
    return "wait" in args


@dataclass(frozen=True)
class Op(Generic[A]):
    """One request an operator can make (mypy checks that the handler takes the struct given)."""

    #: The strict struct its arguments are converted to.
    args: type[A]
    handler: Callable[[StationHost, A, Emit], Awaitable[dict[str, object]]]
    #: Live with these arguments: run alone on its connection, after everything asked before.
    live: Live = never
    #: Answers with the daemon stopped (the CLI opens the station itself).
    offline: bool = False
    #: Live, but bounded by its own timeout: the client leaving need not stop it.
    bounded: bool = False


#: Every op of docs/control.md.
OPS: dict[str, Op[Any]] = {
    "station": Op(NoArgs, station.station_info, offline=True),
    "card": Op(NoArgs, station.card, offline=True),
    "status": Op(NoArgs, station.status, offline=True),
    "line.add": Op(lines.LineAddArgs, lines.line_add, offline=True),
    "line.grant": Op(PeerArgs, lines.line_grant, offline=True),
    "line.accept": Op(lines.LineAcceptArgs, lines.line_accept, offline=True),
    "line.verify": Op(lines.LineVerifyArgs, lines.line_verify, offline=True),
    "line.profile": Op(lines.LineProfileArgs, lines.line_profile, offline=True),
    "line.list": Op(NoArgs, lines.line_list, offline=True),
    "line.remove": Op(PeerArgs, lines.line_remove, offline=True),
    "alerts.clear": Op(lines.AlertsClearArgs, lines.alerts_clear),
    # with ``wait`` it streams the receipt, bounded by that wait (offline it answers not-running)
    "send": Op(messages.SendArgs, messages.send, _asked_to_wait, offline=True, bounded=True),
    "wait": Op(messages.WaitArgs, messages.wait),
    # ``follow`` streams until the client leaves (and needs the daemon)
    "inbox": Op(messages.InboxArgs, messages.inbox, _following, offline=True),
    "ack": Op(messages.AckArgs, messages.ack, offline=True),
    "log": Op(messages.LogArgs, messages.log, offline=True),
    "test": Op(messages.TestArgs, messages.test),
    "pair.listen": Op(pairing.PairListenArgs, pairing.pair_listen, always, offline=True),
    "pair.connect": Op(pairing.PairConnectArgs, pairing.pair_connect, always, offline=True),
    "send.file": Op(documents.SendFileArgs, documents.send_file, _waiting, offline=True),
    "files": Op(documents.FilesArgs, documents.files, offline=True),
    "file.get": Op(documents.FileGetArgs, documents.file_get, offline=True),
    "file.accept": Op(quotas.FileDecisionArgs, quotas.accept),
    "file.refuse": Op(quotas.FileDecisionArgs, quotas.refuse),
    "quotas": Op(quotas.QuotasArgs, quotas.quotas),
    "quota.reload": Op(NoArgs, quotas.reload),
    "call.place": Op(calls.PlaceArgs, calls.place, always),
    "call.answer": Op(calls.AnswerArgs, calls.answer, always),
    "call.hangup": Op(calls.HangupArgs, calls.hangup),
    "call.sas": Op(calls.SasArgs, calls.sas),
    "calls": Op(calls.CallsArgs, calls.calls, offline=True),
    "call.export": Op(calls.ExportArgs, calls.export, offline=True),
}


def store_failure(exc: StoreError) -> StationError:
    """The station's error for a store failure: ``store-full`` when the store has no room left (the
    operator frees disk or raises ``store_max_pages``), ``store-error`` for anything else."""
    return StationError("store-full" if isinstance(exc, StoreFull) else "store-error", exc.reason)


class Requests:
    """Runs the requests of one station through :data:`OPS`. Event loop only."""

    def __init__(self, station: StationHost, ops: Mapping[str, Op[Any]] = OPS) -> None:
        self.station = station
        self._ops = ops

    def is_live(self, op: str, args: Mapping[str, object]) -> bool:
        """Whether ``op`` with ``args`` streams or waits (an unknown op is not: it fails at once)."""
        known = self._ops.get(op)
        return known is not None and known.live(args)

    def is_bounded(self, op: str) -> bool:
        """Whether a live ``op`` ends by itself (its own timeout), whatever its client does."""
        known = self._ops.get(op)
        return known is not None and known.bounded

    async def handle(self, op: object, args: object, emit: Emit) -> dict[str, object]:
        """Run one request.

        Raises:
            StationError: anything the operator should hear about.
        """
        if not isinstance(op, str) or op not in self._ops:
            raise StationError("bad-request", f"unknown request {op!r}")
        row = self._ops[op]
        try:
            parsed = msgspec.convert(args if args is not None else {}, type=row.args)
        except msgspec.ValidationError as exc:
            raise StationError("bad-request", f"{op}: {exc}") from None
        try:
            return await row.handler(self.station, parsed, emit)
        except StoreError as exc:
            raise store_failure(exc) from None


__all__ = ["OPS", "Live", "Op", "Requests", "always", "never", "store_failure"]
