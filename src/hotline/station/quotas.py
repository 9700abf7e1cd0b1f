"""Per-line quotas at run time (F5, docs/protocol.md §10.3 and §13.1; the rules: :mod:`.quotarules`).

Receiving: every entry the chain would accept first passes :meth:`QuotaDesk.admit`. One over a quota
is not stored: the line *pauses*. We send the peer ``Withhold(held_seq, reason, retry_after)`` and
drop, silently, what it had already sent after that entry (a gap that is no tampering: the peer is
about to resend it). The peer keeps every entry and resends from ``held_seq + 1`` once the retry time
has passed or we send ``Withhold(RESUME)``, which we do as soon as the quota allows again: the hour
rolls, the disk has room, or the operator raised the quota (``hotline quota reload``). Nothing is
lost and the chain never breaks. The operator gets one alert per pause naming the line, the quota
and what to do; the other lines go on as before.

Sending: a ``Withhold`` from the peer rewinds the line's delivery to ``held_seq`` and holds our
sender until the retry time or the peer's RESUME; we tell our operator that the entries wait here.

Documents: one announced above ``document_bytes`` is refused (FAILED to the sender, an alert here),
one above ``approve_documents_above`` is ``held`` (no byte is asked for) until the operator runs
``hotline file accept`` or ``hotline file refuse``. Document bytes stop (PAUSED, §13) before they
would take the disk reserve.

The desk asks the station only for what :class:`QuotaHost` names; a held document accepted by the
operator is handed back through ``receive_document`` (the documents desk), which it does not import.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import shutil
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgspec

from hotline.proto.document import DocMetaError, DocState, decode_meta
from hotline.proto.linemsg import MAX_RETRY_AFTER, DocProgress, Entry, HoldReason, Kind, Withhold
from hotline.station.alertkinds import AlertKind
from hotline.station.config import StationConfig, load_config
from hotline.station.errors import StationError
from hotline.station.home import StationPaths
from hotline.station.ids import show_id
from hotline.station.lanes import send_in_lane
from hotline.station.lines.registry import LineRegistry
from hotline.station.ports import Link, LinkSession
from hotline.station.quotarules import (
    HOUR,
    STEP,
    Disk,
    Limits,
    RateWindow,
    limits,
    reserve,
    verdict,
)
from hotline.station.worker import StoreWorker
from hotline.store import usage
from hotline.store.db import Store
from hotline.store.errors import StoreError
from hotline.store.rows import DocRow
from hotline.store.schema import IN

log = logging.getLogger("hotline.quotas")

#: Seconds a disk reading is trusted (bytes taken since are subtracted from it).
DISK_FRESH = 1.0
#: Seconds between looks at the disk while a line waits for room, and the retry time we give.
DISK_POLL = 5.0
DISK_RETRY = 30


@dataclass(eq=False)
class _LineQuota:
    """One line's accounting and pause state."""

    rate: RateWindow = field(default_factory=RateWindow)
    #: Bytes the peer's entries and documents take here.
    stored: int = 0
    #: Receiving: the session on which we withheld entries (its gaps are the peer's leftovers).
    withheld: LinkSession | None = None
    #: Receiving: the quota the line is paused for, and whether a task watches for it to free.
    paused: HoldReason | None = None
    resuming: bool = False
    #: Receiving: the bytes of the entry we refused: the one the peer sends first when we resume.
    blocked: int = 0
    #: Sending: the peer withholds our entries on this session until this monotonic time.
    held_on: LinkSession | None = None
    held_until: float = 0.0
    released: asyncio.Event = field(default_factory=asyncio.Event)
    #: Sending: resend from here; applied by the sender itself, whose step under way may still
    #: move the cursor past it (what that step sends the peer drops as leftovers).
    rewind: int | None = None


class QuotaLine(Link, Protocol):
    """What the quota desk reads of a line besides :class:`~hotline.station.ports.Link`."""

    def clear_alerts(self, kinds: tuple[str, ...] | None = None) -> int: ...
    def close_session(self, session: LinkSession, why: str) -> None: ...
    def violated(self, session: LinkSession, reason: str) -> None: ...


class QuotaHost(Protocol):
    """What the quota desk needs of the station."""

    #: The settings in force (``quota.reload`` replaces them).
    config: StationConfig

    @property
    def paths(self) -> StationPaths: ...
    @property
    def worker(self) -> StoreWorker: ...
    @property
    def registry(self) -> LineRegistry: ...
    @property
    def lines(self) -> Mapping[str, QuotaLine]: ...

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None: ...
    def record(self, line: Link | None, kind: str, detail: dict[str, object]) -> None: ...
    async def receive_document(self, row: DocRow) -> None:
        """Ask the peer for the held document ``row`` now (the documents desk does)."""
        ...


class QuotaDesk:
    """Every line's quotas, and the station's disk reserve."""

    def __init__(self, station: QuotaHost) -> None:
        self.station = station
        self._lines: dict[int, _LineQuota] = {}
        self._disk: tuple[float, Disk] | None = None
        #: Bytes admitted since the disk was last looked at.
        self._since_disk = 0

    def _of(self, line: QuotaLine) -> _LineQuota:
        quota = self._lines.get(line.row.id)
        if quota is None:
            quota = self._lines[line.row.id] = _LineQuota()
        return quota

    def limits(self, line: QuotaLine) -> Limits:
        """The quotas in force on ``line``."""
        config = self.station.config
        return limits(config.quotas, config.line(line.peer))

    async def load(self, line: QuotaLine) -> None:
        """Read what the line's peer holds here and has sent in the last hour (at start, on reload)."""
        line_id, now = line.row.id, time.time()

        def read(store: Store) -> tuple[int, dict[int, int]]:
            return usage.stored_bytes(store, line_id), usage.recent_entries(store, line_id, now - HOUR, STEP)

        try:
            stored, recent = await self.station.worker.call(read)
        except StoreError as exc:
            log.error("cannot read a line's usage", extra={"peer": line.peer, "error": exc.reason})
            return
        quota = self._of(line)
        quota.stored = stored
        quota.rate.load(recent)

    # -- the disk

    def disk(self) -> Disk:
        """The station directory's filesystem, at most :data:`DISK_FRESH` seconds old."""
        now = time.monotonic()
        if self._disk is None or now - self._disk[0] > DISK_FRESH:
            try:
                found = shutil.disk_usage(self.station.paths.home)
            except OSError:
                found = None
            seen = Disk(found.free, found.total) if found is not None else Disk(2**62, 2**62)
            self._disk, self._since_disk = (now, seen), 0
        seen = self._disk[1]
        return Disk(seen.free - self._since_disk, seen.total)

    def kept(self, disk: Disk) -> int:
        """The free bytes peer traffic never takes."""
        return reserve(self.station.config.quotas, disk.total)

    def data_problem(self, line: QuotaLine, size: int) -> str | None:
        """Why ``size`` more document bytes from ``line``'s peer may not be written now, or None."""
        disk = self.disk()
        kept = self.kept(disk)
        if disk.free - size < kept:
            return (
                f"the disk is down to the {kept:,} bytes kept free for the operator and the other lines"
                " (free disk space; the document resumes by itself)"
            )
        self._since_disk += size
        return None

    # -- receiving entries

    def _size(self, line: QuotaLine, entry: Entry) -> int:
        size = len(entry.body)
        if entry.kind == Kind.DOC:
            try:
                announced = decode_meta(entry.body).size
            except DocMetaError:
                return size  # refused as malformed when stored
            if announced <= self.limits(line).document_bytes:
                size += announced
        return size

    def _verdict(self, line: QuotaLine, size: int, now: float) -> HoldReason | None:
        quota = self._of(line)
        disk = self.disk()
        return verdict(
            self.limits(line),
            recent=quota.rate.count(now),
            stored=quota.stored,
            size=size,
            disk=disk,
            kept=self.kept(disk),
            shared=len(self.station.lines) > 1,
        )

    def admit(self, line: QuotaLine, entry: Entry) -> bool:
        """``entry`` extends the chain: may it be stored? If not, the line pauses (the peer is told)."""
        now = time.time()
        size = self._size(line, entry)
        reason = self._verdict(line, size, now)
        quota = self._of(line)
        if reason is None:
            quota.rate.add(now)
            quota.stored += size
            self._since_disk += size
            if quota.paused is not None:
                self._resumed(line, quota)  # the peer retried after its wait and we had room
            quota.withheld = None  # the peer's leftovers are behind us: a gap is a gap again
            return True
        quota.blocked = size
        self._withhold(line, quota, reason, now)
        return False

    def leftover(self, line: QuotaLine, entry: Entry) -> bool:
        """A gap on a session where we withheld: an entry the peer sent before it heard us. Drop it."""
        quota = self._of(line)
        return (
            quota.withheld is not None
            and quota.withheld is line.current
            and entry.seq > line.delivery.machine.in_seq
        )

    def _withhold(self, line: QuotaLine, quota: _LineQuota, reason: HoldReason, now: float) -> None:
        session = line.current
        limit = self.limits(line)
        if reason is HoldReason.RATE:
            retry = max(1, math.ceil(quota.rate.free_in(now, limit.entries_per_hour)))
        elif reason is HoldReason.DISK:
            retry = DISK_RETRY
        else:
            retry = MAX_RETRY_AFTER  # only the operator frees it: we send RESUME then
        if session is not None:
            quota.withheld = session
            self._send(session, Withhold(line.delivery.machine.in_seq, reason, min(retry, MAX_RETRY_AFTER)))
        if quota.paused is None:
            quota.paused = reason
            line.alert(AlertKind.QUOTA, self._why(line, quota, reason, limit, retry))
            log.warning("line paused", extra={"peer": line.peer, "quota": reason.name.lower()})
        if not quota.resuming:
            quota.resuming = True
            self.station.spawn(self._resume_when_free(line, quota))

    def _why(self, line: QuotaLine, quota: _LineQuota, reason: HoldReason, limit: Limits, retry: int) -> str:
        peer = line.peer
        waits = f"its entries wait at {peer} and nothing is lost"
        if reason is HoldReason.RATE:
            return (
                f"the line to {peer} is paused: {peer} passed its quota of {limit.entries_per_hour:,} entries"
                f" an hour; {waits}. They come when the hour allows (in about {retry // 60 + 1} min), or at"
                f" once if you raise `entries_per_hour` under [lines.{peer}] in station.toml and run"
                " `hotline quota reload`; or remove the line"
            )
        if reason is HoldReason.SPACE:
            return (
                f"the line to {peer} is paused: {peer}'s messages and documents here would pass its quota of"
                f" {limit.stored_bytes:,} stored bytes (it holds {quota.stored:,}); {waits}. Raise"
                f" `stored_bytes` under [lines.{peer}] in station.toml and run `hotline quota reload`, or"
                " remove the line"
            )
        disk = self.disk()
        return (
            f"the line to {peer} is paused: the disk has {disk.free:,} bytes free, and"
            f" {self.kept(disk):,} are kept for you and the other lines (this line holds"
            f" {quota.stored:,}); {waits}. It resumes by itself when there is room: free disk space,"
            " or remove the line"
        )

    async def _resume_when_free(self, line: QuotaLine, quota: _LineQuota) -> None:
        try:
            while quota.paused is not None:
                if quota.paused is HoldReason.DISK:
                    self._disk = None  # look at the disk again
                if self._verdict(line, quota.blocked, time.time()) is None:
                    self._resumed(line, quota)
                    return
                if quota.paused is HoldReason.RATE:
                    wait = quota.rate.free_in(time.time(), self.limits(line).entries_per_hour)
                elif quota.paused is HoldReason.DISK:
                    wait = DISK_POLL
                else:
                    return  # only the operator frees stored bytes: reload() looks again
                await asyncio.sleep(max(wait, 0.5))
        finally:
            quota.resuming = False

    def _resumed(self, line: QuotaLine, quota: _LineQuota) -> None:
        was = quota.paused
        quota.paused = None
        session = line.current
        if session is not None and quota.withheld is session:
            self._send(session, Withhold(line.delivery.machine.in_seq, HoldReason.RESUME, 0))
        if was is not None:
            line.clear_alerts(("quota",))
            line.alert(AlertKind.QUOTA_RESUMED, f"the line to {line.peer} takes entries again", active=False)
            log.info("line resumed", extra={"peer": line.peer})

    @staticmethod
    def _send(session: LinkSession, message: Withhold | DocProgress) -> None:
        # in carrier mode in the CONTROL lane, kept until it has room: never dropped while the
        # session lasts (a lost RESUME would hold the peer's entries until the next session)
        if not session.channel.is_closed:
            send_in_lane(session.channel, message)

    # -- sending entries

    def on_withhold(self, line: QuotaLine, session: LinkSession, message: Withhold) -> bool:
        """The peer withholds our entries after ``held_seq`` (or resumes); False: a protocol violation."""
        if (
            not session.hello.is_set()
            or not line.delivery.machine.peer_seq <= message.held_seq <= session.cursor
        ):
            line.alert(
                AlertKind.PROTOCOL,
                f"{line.peer} withheld our entries after {message.held_seq}, which does not fit what we sent",
            )
            line.violated(
                session, f"Withhold after entry {message.held_seq} does not fit what we sent (§10.3)"
            )
            return False
        quota = self._of(line)
        if message.reason == HoldReason.RESUME:
            quota.held_until = 0.0
            quota.released.set()
            line.clear_alerts(("peer-paused",))
            line.delivery.wake()
            return True
        line.delivery.rewind(session, message.held_seq)  # resent from there when the peer takes entries again
        first = quota.held_on is not session or quota.held_until == 0.0
        if quota.held_on is not session:
            quota.rewind = None
        quota.rewind = message.held_seq if quota.rewind is None else min(quota.rewind, message.held_seq)
        quota.held_on = session
        quota.held_until = time.monotonic() + max(1, message.retry_after)
        quota.released.clear()
        if first:
            why = {
                HoldReason.RATE: "its entries-per-hour quota for this line",
                HoldReason.SPACE: "its stored-bytes quota for this line",
                HoldReason.DISK: "its disk reserve",
            }.get(HoldReason(message.reason), "a quota")
            line.alert(
                AlertKind.PEER_PAUSED,
                f"{line.peer} stores none of our entries for now ({why}); they stay queued here, nothing is"
                f" lost, and go by themselves when {line.peer} takes them again (next try in"
                f" {message.retry_after} s); its operator can raise the quota",
            )
        return True

    def holding(self, line: QuotaLine, session: LinkSession) -> bool:
        """The peer withholds our entries on ``session`` right now."""
        quota = self._lines.get(line.row.id)
        return quota is not None and quota.held_on is session and quota.held_until > time.monotonic()

    async def hold_sender(self, line: QuotaLine, session: LinkSession) -> bool:
        """Between the sender's steps: go back to where the peer withholds, and wait while it does;
        True if we waited."""
        quota = self._lines.get(line.row.id)
        if quota is None:
            return False
        if quota.rewind is not None:
            if quota.held_on is session:
                line.delivery.rewind(session, quota.rewind)
            quota.rewind = None
        if not self.holding(line, session):
            return False
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(quota.held_until - time.monotonic()):
                await quota.released.wait()
        return True

    # -- documents

    def document_judge(self, line: QuotaLine) -> Callable[[Store, DocRow], None]:
        """On the event loop: the store job's judge of ``line``'s inbound documents, bound to the
        quotas in force now (values only: it runs in the store's thread)."""
        return functools.partial(judge_document, limit=self.limits(line))

    def announced(self, line: QuotaLine, doc: DocRow) -> None:
        """The DOC entry is stored: tell the operator of a held document, the peer of a refused one."""
        shown = show_id(doc.message_id)
        if doc.state == "held":
            line.alert(
                AlertKind.DOCUMENT_HELD,
                f"document {shown} from {line.peer} ({doc.size:,} bytes) waits for your approval:"
                f" `hotline file accept {shown}` or `hotline file refuse {shown}`",
            )
        elif doc.state == "failed":
            line.alert(AlertKind.DOCUMENT_REFUSED, f"document {shown} from {line.peer} refused: {doc.detail}")
            if line.current is not None:
                self._send(line.current, DocProgress(doc.doc_id, 0, DocState.FAILED))

    async def decide(self, line_id: int, doc_id: bytes, message_id: bytes, accept: bool) -> DocRow:
        """The operator approves or refuses the held document ``doc_id`` of line ``line_id`` (its DOC
        entry is ``message_id``).

        Raises:
            StationError: ``no-such-document``, ``not-held``, store errors.
        """
        station = self.station

        def find(store: Store) -> tuple[DocRow | None, bool]:
            row = store.documents.by_id(line_id, IN, doc_id)
            if row is None or row.message_id != message_id or row.state != "held":
                return row, False
            if accept:
                store.documents.update(row.rowid, stored=0, state="receiving")
            else:
                store.documents.update(
                    row.rowid,
                    stored=0,
                    state="failed",
                    detail="refused by the operator",
                    completed_at=time.time(),
                )
            return store.documents.by_rowid(row.rowid), True

        try:
            row, held = await station.worker.call(find)
        except StoreError as exc:
            raise StationError("store-error", exc.reason) from None
        if row is None or row.direction != IN:
            raise StationError(
                "no-such-document",
                f"no received document {show_id(message_id)} (see `hotline files`)",
            )
        line = station.registry.by_id(row.line_id)
        if not held:
            raise StationError("not-held", f"document {show_id(message_id)} is {row.state}, not held")
        if line is None:
            return row
        if accept:
            await station.receive_document(row)
        else:
            self._of(line).stored -= row.size
            if line.current is not None:
                self._send(line.current, DocProgress(row.doc_id, 0, DocState.FAILED))
            station.record(line, "document-refused", {"id": show_id(message_id), "size": row.size})
        line.clear_alerts(("document-held",))
        return row

    # -- the operator

    async def reload(self) -> dict[str, object]:
        """Read the quotas (and the per-line settings) in ``station.toml`` again; paused lines that now
        fit resume at once, and a line whose carrier setting changed starts a new session with it.

        Raises:
            StationError: ``bad-config`` naming the problem (the settings in force stay).
        """
        station = self.station
        fresh = load_config(station.paths.config)
        station.config = _with_quotas(station.config, fresh)
        for line in list(station.lines.values()):
            session = line.current
            if session is not None and session.channel.carrier != fresh.line(line.peer).carrier_setting():
                # a session keeps the carrier it was made with: the next one takes the new setting
                line.close_session(session, "its carrier setting changed")
            await self.load(line)
            quota = self._of(line)
            if quota.paused is not None and self._verdict(line, quota.blocked, time.time()) is None:
                self._resumed(line, quota)
        return {"lines": [self.describe(line) for line in station.lines.values()]}

    def status(self, line: QuotaLine) -> dict[str, object]:
        """What ``status`` shows of a line's quotas: ``quota_paused`` (null, rate, space or disk: we
        withhold the peer's entries) and ``held_by_peer`` (the peer withholds ours)."""
        quota = self._of(line)
        return {
            "quota_paused": None if quota.paused is None else quota.paused.name.lower(),
            "held_by_peer": self.holding(line, line.current) if line.current is not None else False,
        }

    def describe(self, line: QuotaLine) -> dict[str, object]:
        """A line's quotas, what it uses of them and whether it is paused."""
        quota = self._of(line)
        limit = self.limits(line)
        disk = self.disk()
        return {
            "peer": line.peer,
            "entries_per_hour": limit.entries_per_hour,
            "entries_last_hour": quota.rate.count(time.time()),
            "stored_bytes": limit.stored_bytes,
            "stored": quota.stored,
            "document_bytes": limit.document_bytes,
            "approve_documents_above": limit.approve_documents_above,
            "paused": None if quota.paused is None else quota.paused.name.lower(),
            "held_by_peer": self.holding(line, line.current) if line.current is not None else False,
            "disk_free": disk.free,
            "disk_kept": self.kept(disk),
        }


def _with_quotas(current: StationConfig, fresh: StationConfig) -> StationConfig:
    return msgspec.structs.replace(current, quotas=fresh.quotas, lines=fresh.lines)


def judge_document(store: Store, doc: DocRow, *, limit: Limits) -> None:
    """In the DOC entry's transaction: refuse a document over the line's size quota, hold a big one."""
    if doc.size > limit.document_bytes:
        why = (
            f"{doc.size:,} bytes is more than the {limit.document_bytes:,} of the line's `document_bytes`"
            " quota"
        )
        store.documents.update(doc.rowid, stored=0, state="failed", detail=why, completed_at=time.time())
    elif doc.size > limit.approve_documents_above:
        store.documents.update(doc.rowid, stored=0, state="held", detail="waits for the operator's approval")


__all__ = ["QuotaDesk", "judge_document"]
