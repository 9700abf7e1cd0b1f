"""One line at run time: its sessions, its supervision and reliable delivery over it.

Theory of operation (docs/protocol.md §10):
- Every operator message, acknowledgement and line test is an entry in the store *before* anything
  is sent. Queued entries get their sequence number and chain head when they are first sent, in
  precedence order, so FLASH overtakes what waits; within a precedence the queue order holds. At
  most :data:`WINDOW` entries are in flight (sent, not receipted), which keeps overtaking meaningful.
- A new session starts with a ``Hello`` each way saying how far our inbound transcript goes; each side
  then resends everything after that, in order. The receiver accepts only the next entry whose chain
  head matches its own computation (:func:`hotline.proto.delivery.classify`), stores batches of them in
  one transaction, and only then sends a ``Receipt``. So after any fault every entry arrives exactly
  once, in order, and a gap or alteration raises an alert instead of passing silently.
- The supervisor dials the endpoints in order with exponential backoff and jitter whenever the line
  is verified, keyed and down. When both stations dial at once, the session started by the station
  with the lower static key wins (both sides apply the same rule); outside that short window the
  newest session wins, because the peer evidently restarted.
- The line knows nothing of documents or calls: what it does not handle itself (hello, entries,
  receipts) goes to the :class:`~hotline.station.ports.Route` its context names for the message's
  type, and the context's session listeners run beside each session (:mod:`hotline.station.ports`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import time
from typing import Any

from hotline.crypto.hashing import constant_time_equal
from hotline.net.tcp import ChannelClosed, SecureChannel, connect_first
from hotline.proto import linemsg
from hotline.proto.cards import StationCard, decode_card, parse_endpoint
from hotline.proto.delivery import Accept, ChainMismatch, Duplicate, Gap, classify, entry_chain
from hotline.proto.errors import ErrorCode
from hotline.proto.linemsg import Entry, Hello, Kind, Precedence, Receipt, TestProbe
from hotline.station.entryrules import Refused, check_entry
from hotline.station.events import AlertBoard
from hotline.station.ids import new_message_id
from hotline.station.lines.linetest import TestResult, test_schedule
from hotline.station.ports import LineContext, LinkSession
from hotline.store.db import LineRow, MessageRow, Store
from hotline.store.errors import StoreError
from hotline.store.schema import IN, OUT

log = logging.getLogger("hotline.line")

#: Entries sent and not yet receipted, at most.
WINDOW = 1024
#: Sessions established this close together count as "both dialled at once".
TIE_WINDOW = 3.0
#: A session that lasted this long counts as healthy: the redial backoff starts over.
STABLE_AFTER = 10.0
#: Entries read back from the store per resend step.
RESEND_BATCH = 256


class LineRuntime:
    """A line's live state. Belongs to one event loop; its store calls go through the station's worker."""

    def __init__(
        self,
        station: LineContext[LineRuntime],
        row: LineRow,
        inbound: tuple[int, bytes],
        outbound: tuple[int, bytes],
    ):
        self.station = station
        self.row = row
        #: The line key in the clear (kept in memory for handshakes), or None.
        self.key: bytes | None = None
        self._card: tuple[bytes, StationCard] | None = None
        self.in_seq, self.in_head = inbound
        self.committed_in = inbound
        self.out_seq, self.out_head = outbound
        #: The highest of our sequence numbers the peer has receipted, and when that was known.
        self.peer_seq = 0
        self.receipted_at: float | None = None
        self.current: LinkSession | None = None
        self.state_since = time.time()
        self.was_up = False
        #: Replayed handshakes from this peer's key dropped since the daemon started (an attacker on
        #: the path), and when that was last logged.
        self.replays = 0
        self.replay_logged = -float("inf")
        #: The endpoint of the last session that died of silence: dialled last next time.
        self._silent_endpoint: str | None = None
        self._alerts = AlertBoard(station.events, lambda: self.peer, lambda: self.row.id)
        self.last_test: TestResult | None = None
        self._pending_in: list[Entry] = []
        self._receipt_due = False
        self._committing = False
        self._marking = False
        self._marked_seq = row.delivered_upto
        self._wake = asyncio.Event()
        self._changed = asyncio.Event()
        self._assign_lock = asyncio.Lock()
        #: Futures for ``wait``: set to the time the peer's receipt came.
        self._waiters: dict[bytes, list[asyncio.Future[float]]] = {}
        self._tests: dict[bytes, tuple[float, asyncio.Future[TestResult]]] = {}
        #: Sent entries not yet receipted, in sequence order: seq -> (chain head, message id).
        self._inflight: dict[int, tuple[bytes, bytes]] = {}
        self._tg: asyncio.TaskGroup | None = None
        self._down_alerted = False
        self._failures = 0
        self._retry_at = 0.0
        #: Unnumbered entries may wait in the store (true at start: we have not looked yet).
        self._maybe_queued = True

    # -- what the line is

    @property
    def peer(self) -> str:
        return self.row.peer

    @property
    def alerts(self) -> list[dict[str, object]]:
        """The standing alerts ``status`` shows (oldest first)."""
        return self._alerts.standing

    @alerts.setter
    def alerts(self, standing: list[dict[str, object]]) -> None:
        self._alerts.standing = standing

    @property
    def ready(self) -> bool:
        """Verified and keyed: allowed to carry traffic."""
        return self.row.verified and self.row.has_key

    @property
    def up(self) -> bool:
        session = self.current
        return session is not None and session.hello.is_set() and not session.channel.is_closed

    @property
    def state(self) -> str:
        if not self.row.verified:
            return "unverified"
        if not self.row.has_key:
            return "no-key"
        if self.up:
            return "up"
        if self.current is not None:
            return "connecting"
        return "down"

    @property
    def card(self) -> StationCard:
        """The peer's card, read (and its signature checked) once per change of the line's row."""
        if self._card is None or self._card[0] != self.row.card:
            self._card = (self.row.card, decode_card(self.row.card))
        return self._card[1]

    def refresh(self, row: LineRow, key: bytes | None) -> None:
        """The line's row or key changed (card, key, verification): re-evaluate."""
        self.row = row
        self.key = key
        if not self.ready and self.current is not None:
            self._close(self.current, "the line is no longer verified and keyed")
        self._changed.set()

    # -- supervision

    async def run(self) -> None:
        """Supervise the line until cancelled: dial, test on schedule, raise alerts."""
        await self.station.quotas.load(self)
        async with asyncio.TaskGroup() as tg:
            self._tg = tg
            tg.create_task(test_schedule(self))
            await self._dial_loop()

    def _backoff(self, failures: int) -> float:
        config = self.station.config
        delay = min(config.redial_max, config.redial_min * 2 ** min(failures, 16))
        return float(delay * random.uniform(0.5, 1.0))

    async def _wait_changed(self, timeout: float | None) -> None:
        self._changed.clear()
        try:
            async with asyncio.timeout(timeout):
                await self._changed.wait()
        except TimeoutError:
            pass

    async def _dial_loop(self) -> None:
        down_since = time.monotonic()
        while True:
            if not self.ready or self.current is not None:
                await self._wait_changed(self.station.config.heartbeat)
                down_since = time.monotonic()
                continue
            if not self.station.running:
                await self._wait_changed(None)
                continue
            wait = self._retry_at - time.monotonic()
            if wait > 0:
                await self._wait_changed(wait)
                continue
            dialled = await self._dial()
            if dialled is not None:
                endpoint, channel = dialled
                self.attach(channel, initiated=True, endpoint=endpoint)
            else:
                self._failed()
            if self.current is None:
                down_for = time.monotonic() - down_since
                if not self._down_alerted and down_for > 3 * self.station.config.heartbeat:
                    self._down_alerted = True
                    self.alert("line-down", f"no session with {self.peer} for {down_for:.0f} s")

    def _failed(self) -> None:
        """A dial round or a short-lived session failed: back off before the next try."""
        self._failures += 1
        self._retry_at = time.monotonic() + self._backoff(self._failures)

    async def _dial(self) -> tuple[str, SecureChannel] | None:
        key = self.key
        if key is None or not self.ready or not self.row.endpoints:
            return None
        endpoints = list(self.row.endpoints)
        if self._silent_endpoint in endpoints and len(endpoints) > 1:
            endpoints.remove(self._silent_endpoint)
            endpoints.append(self._silent_endpoint)
        config = self.station.session_config
        try:
            index, channel = await connect_first(
                [parse_endpoint(e) for e in endpoints],
                config=config,
                peer_static=self.row.static_public,
                line_key=key,
            )
        except (OSError, ChannelClosed, TimeoutError) as exc:
            log.debug("dial failed", extra={"peer": self.peer, "endpoints": endpoints, "error": str(exc)})
            return None
        return endpoints[index], channel

    def attach(self, channel: SecureChannel, *, initiated: bool, endpoint: str) -> None:
        """Take a new authenticated session for this line, or refuse it by the tie-break rule."""
        if self._tg is None:  # the supervisor has not started yet: the peer will redial
            self.station.spawn(channel.close())
            return
        now = time.monotonic()
        current = self.current
        if current is not None and not current.channel.is_closed:
            we_win = self.station.static_public < self.row.static_public
            if now - current.started < TIE_WINDOW:
                # simultaneous dials: keep the one the lower-keyed station started, on both sides
                keep_new = initiated == we_win and current.initiated != we_win
            else:
                keep_new = True  # the peer restarted: the old session is stale
            if not keep_new:
                self._spawn(channel.close())
                return
            self._close(current, "replaced by a newer session")
        session = LinkSession(channel, initiated, endpoint, now, time.time())
        self.current = session
        self._changed.set()
        self._tg.create_task(self._serve(session))

    def _close(self, session: LinkSession, why: str) -> None:
        log.info("closing session", extra={"peer": self.peer, "why": why})
        session.closing = True
        self._spawn(session.channel.close())

    async def _serve(self, session: LinkSession) -> None:
        channel = session.channel
        try:
            # what is on our disk, not what is still being stored: the peer counts it as delivered
            received_seq, received_head = self.committed_in
            channel.send_nowait(linemsg.encode(Hello(received_seq, received_head, self.out_seq)))
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._sender(session))
                for listener in self.station.session_listeners:
                    for work in listener.session_tasks(self, session):
                        tg.create_task(work)
                await self._reader(session)
                raise _SessionOver
        except* _SessionOver:
            pass
        except* (ChannelClosed, ConnectionError) as group:
            log.debug("session ended", extra={"peer": self.peer, "why": str(group.exceptions[0])})
        except* Exception as group:
            # a bug of ours must cost this session, never the line or the daemon
            log.error("session failed", extra={"peer": self.peer}, exc_info=group.exceptions[0])
            self.alert("internal", f"the session with {self.peer} failed: {group.exceptions[0]!r}")
        finally:
            ended = channel.close_reason
            await channel.close()
            # a path that went silent is tried last on the next dial; a peer that closed or
            # restarted says nothing about its path
            if ended is not None and ended.code is ErrorCode.IDLE_TIMEOUT:
                self._silent_endpoint = session.endpoint
            if ended is not None and ended.code is ErrorCode.RATE_LIMITED:
                self.station.handshakes.rekey_flood(self)  # issue 13, F12
            if time.monotonic() - session.started < STABLE_AFTER:
                self._failed()  # a session that dies young (refused, store full) must not spin
            else:
                self._failures = 0
            for listener in self.station.session_listeners:
                listener.session_ended(self, session)
            if self.current is session:
                self.current = None
                self.state_since = time.time()
                if self.was_up and not self.station.stopping:
                    self.was_up = False
                    self._down_alerted = True
                    self.alert("line-down", f"the session with {self.peer} ended")
                self._changed.set()

    async def _reader(self, session: LinkSession) -> None:
        channel = session.channel
        while True:
            try:
                data = await channel.receive()
            except ChannelClosed:
                return
            if self.current is not session or session.closing:
                return
            try:
                message = linemsg.decode(data)
            except linemsg.LineMessageError as exc:
                self.alert("protocol", f"{self.peer} sent a malformed message: {exc}")
                return
            match message:
                case Hello():
                    if not await self._on_hello(session, message):
                        return
                case Entry():
                    if not self._on_entry(message):
                        return
                case Receipt():
                    if not self._on_receipt(message):
                        return
                case _:
                    route = self.station.routes.get(type(message), self.station.default_route)
                    if route.before_hello is not None and not session.hello.is_set():
                        self.alert("protocol", f"{self.peer} sent {route.before_hello} before its hello")
                        return
                    if not await route.handle(self, session, message):
                        return

    # -- inbound

    async def _on_hello(self, session: LinkSession, hello: Hello) -> bool:
        received = hello.received_seq
        if received > self.out_seq:
            self.alert(
                "chain-mismatch",
                f"{self.peer} holds {received} of our entries but we sent only {self.out_seq}: "
                "was our store restored from an old copy?",
            )
            return False
        ours = await self._out_chain(received)
        if ours is None or not constant_time_equal(ours, hello.received_head):
            self.alert("chain-mismatch", f"{self.peer}'s copy of our transcript differs at entry {received}")
            return False
        if hello.sent_seq < self.in_seq:
            self.alert(
                "chain-mismatch",
                f"{self.peer} says it sent {hello.sent_seq} entries but we hold {self.in_seq}",
            )
        self._note_receipt(received)
        session.cursor = received
        self._maybe_queued = True  # a numbering cut short with the last session may have left some
        session.hello.set()
        self.state_since = time.time()
        self.was_up = True
        if self._down_alerted or any(a["kind"] == "line-down" for a in self.alerts):
            self.alerts = [a for a in self.alerts if a["kind"] not in ("line-down",)]
            self.alert("line-up", f"session with {self.peer} via {session.endpoint}", active=False)
        self._down_alerted = False
        log.info("line up", extra={"peer": self.peer, "endpoint": session.endpoint})
        self._wake.set()
        return True

    def _on_entry(self, entry: Entry) -> bool:
        verdict = classify(self.in_seq, self.in_head, entry)
        match verdict:
            case Accept(head):
                if not self.station.quotas.admit(self, entry):
                    return True  # F5: over a quota; the peer keeps it and sends it again later
                self.in_seq, self.in_head = entry.seq, head
                self._pending_in.append(entry)
            case Duplicate():
                self._receipt_due = True
            case Gap(expected):
                if self.station.quotas.leftover(self, entry):
                    return True  # F5: sent before the peer heard that we withhold
                self.alert("gap", f"{self.peer} sent entry {entry.seq} where {expected} was due")
                return False
            case ChainMismatch():
                self.alert("chain-mismatch", f"entry {entry.seq} from {self.peer} does not extend our chain")
                return False
        if not self._committing:
            self._committing = True
            # hand the first batch to the store thread now rather than a loop turn later
            first = None
            if self._pending_in:
                batch, self._pending_in = self._pending_in, []
                first = (
                    batch,
                    self.station.worker.submit(functools.partial(self._store_inbound, batch=batch)),
                )
            self._spawn(self._commit_inbound(first))
        return True

    def _spawn(self, coro: Any) -> None:
        if self._tg is None:
            coro.close()
            return
        try:
            self._tg.create_task(coro)
        except RuntimeError:
            coro.close()  # the line is being stopped

    async def _commit_inbound(self, first: _Submitted | None = None) -> None:
        try:
            await self._commit_inbound_loop(first)
        except Exception as exc:
            log.error("storing entries failed", extra={"peer": self.peer}, exc_info=exc)
            self.in_seq, self.in_head = self.committed_in
            self._pending_in = []
            if self.current is not None:
                self._close(self.current, "internal error while storing")
        finally:
            self._committing = False

    async def _commit_inbound_loop(self, first: _Submitted | None) -> None:
        while first is not None or self._pending_in or self._receipt_due:
            if first is not None:
                batch, stored = first
                first = None
            else:
                batch, self._pending_in = self._pending_in, []
                stored = None
            self._receipt_due = False
            if batch:
                try:
                    if stored is None:
                        stored = self.station.worker.submit(
                            functools.partial(self._store_inbound, batch=batch)
                        )
                    outcome = await stored
                except StoreError as exc:
                    # forget what we did not store; the peer resends it on the next session
                    self.alert("store-error", f"could not store entries from {self.peer}: {exc.reason}")
                    self.in_seq, self.in_head = self.committed_in
                    self._pending_in = []
                    if self.current is not None:
                        self._close(self.current, "store failure")
                    return
                self.committed_in = (batch[-1].seq, batch[-1].chain)
                self._after_inbound(outcome)
            session = self.current
            if session is not None and not session.channel.is_closed:
                seq, head = self.committed_in
                session.channel.send_nowait(linemsg.encode(Receipt(seq, head)))
                session.channel.flush()  # the sender waits for it

    def _store_inbound(self, store: Store, *, batch: list[Entry]) -> list[tuple[MessageRow, Any]]:
        now = time.time()
        out: list[tuple[MessageRow, Any]] = []
        line_id = self.row.id
        for entry in batch:
            refused = check_entry(store, line_id, entry)
            if refused is not None:
                why, keep_id = refused
                rowid = store.store_refused(line_id, entry, why.why, now, keep_id=keep_id)
                out.append((MessageRow(rowid, line_id, IN, entry.id, entry.seq, entry.kind, entry.precedence,
                                       entry.created_ms, entry.ref, entry.body, entry.chain, now, None, None),
                            why))  # fmt: skip
                continue
            rowid = store.store_incoming(
                line_id,
                id=entry.id,
                seq=entry.seq,
                kind=entry.kind,
                precedence=entry.precedence,
                created_ms=entry.created_ms,
                ref=entry.ref,
                body=entry.body,
                chain=entry.chain,
                now=now,
            )
            extra: Any = None
            if entry.kind == Kind.ACK:
                extra = store.mark_acked(line_id, OUT, entry.ref, now)
            elif entry.kind == Kind.DOC:
                extra = self.station.documents.entry_stored(store, self, entry, now)
            elif entry.kind in (Kind.TEST, Kind.TEST_REPLY):
                extra = self._check_probe(store, entry)
                if entry.kind == Kind.TEST:
                    reply = linemsg.encode(TestProbe(entry.seq, entry.chain))
                    store.queue(
                        line_id,
                        id=new_message_id(),
                        kind=Kind.TEST_REPLY,
                        precedence=Precedence.FLASH,
                        created_ms=int(now * 1000),
                        ref=entry.id,
                        body=reply,
                        now=now,
                    )
            row = MessageRow(
                rowid,
                line_id,
                IN,
                entry.id,
                entry.seq,
                entry.kind,
                entry.precedence,
                entry.created_ms,
                entry.ref,
                entry.body,
                entry.chain,
                now,
                None,
                None,
            )
            out.append((row, extra))
        return out

    def _check_probe(self, store: Store, entry: Entry) -> str | None:
        """Compare the peer's view of our outbound transcript with ours; a problem, or None."""
        try:
            probe = linemsg.decode_probe(entry.body)
        except linemsg.LineMessageError as exc:
            return str(exc)
        if probe.received_seq == 0:
            ours: bytes | None = self.row.chain_out0
        else:
            ours = store.chain_at(self.row.id, OUT, probe.received_seq)
        if ours is None:
            return f"{self.peer} holds entry {probe.received_seq} of ours, which we never sent"
        if not constant_time_equal(ours, probe.received_head):
            return f"{self.peer}'s chain head at our entry {probe.received_seq} differs from ours"
        return None

    def _after_inbound(self, outcome: list[tuple[MessageRow, Any]]) -> None:
        for row, extra in outcome:
            if isinstance(extra, Refused):
                self.alert("protocol", f"{self.peer} {extra.why}: refused, the line goes on")
                continue
            if row.kind == Kind.DOC:
                if extra is not None:
                    self.alert(
                        "document-failed",
                        f"{self.peer} announced a document we cannot take: {extra}",
                        logged=f"{self.peer} announced a document we cannot take",
                    )
                else:
                    self.station.documents.doc_entry_committed(self, row)
            if row.kind in (Kind.TEXT, Kind.DOC):
                if not self.station.has_followers:
                    continue
                self.station.publish({"message": self.station.describe(row, self)})
            elif row.kind == Kind.ACK and extra:
                self.station.publish({"acked": {"peer": self.peer, "id": self.station.show_id(row.ref)}})
            elif row.kind == Kind.TEST:
                if extra is not None:
                    self.alert("chain-mismatch", extra)
                self.wake()  # our reply is queued
            elif row.kind == Kind.TEST_REPLY:
                pending = self._tests.pop(row.ref, None)
                if pending is not None:
                    started, future = pending
                    ok = extra is None
                    detail = "chain heads match in both stores" if ok else str(extra)
                    rtt = (time.monotonic() - started) * 1000
                    if not future.done():
                        future.set_result(TestResult(time.time(), ok, detail, rtt))

    # -- outbound

    async def _out_chain(self, seq: int) -> bytes | None:
        if seq == 0:
            return self.row.chain_out0
        if seq in self._inflight:
            return self._inflight[seq][0]
        return await self.station.worker.call(lambda store: store.chain_at(self.row.id, OUT, seq))

    def _on_receipt(self, receipt: Receipt) -> bool:
        if receipt.seq > self.out_seq:
            self.alert("chain-mismatch", f"{self.peer} receipted entry {receipt.seq}; we sent {self.out_seq}")
            return False
        known = self._inflight.get(receipt.seq)
        ours = self.row.chain_out0 if receipt.seq == 0 else known[0] if known is not None else None
        if ours is not None and not constant_time_equal(ours, receipt.head):
            self.alert(
                "chain-mismatch", f"{self.peer}'s receipt for entry {receipt.seq} has another chain head"
            )
            return False
        self._note_receipt(receipt.seq)
        return True

    def _note_receipt(self, seq: int) -> None:
        if seq <= self.peer_seq:
            return
        self.peer_seq = seq
        self.receipted_at = time.time()
        # the receipt is the delivery: whoever waits hears it now, before our own bookkeeping commits
        now = time.time()
        inflight = self._inflight
        while inflight:
            first = next(iter(inflight))
            if first > seq:
                break
            _, message_id = inflight.pop(first)
            self._deliver(message_id, now)
        self._wake.set()
        if not self._marking:
            self._marking = True
            self._spawn(self._mark_delivered())

    def _deliver(self, message_id: bytes, at: float) -> None:
        for waiter in self._waiters.pop(message_id, []):
            if not waiter.done():
                waiter.set_result(at)

    async def _mark_delivered(self) -> None:
        try:
            while self._marked_seq < self.peer_seq:
                upto = self.peer_seq
                try:
                    # bookkeeping only (the receipt already told every waiter): no fsync of its own
                    ids = await self.station.worker.call_deferred(
                        functools.partial(
                            Store.mark_delivered,
                            line_id=self.row.id,
                            after=self._marked_seq,
                            upto=upto,
                            now=time.time(),
                        )
                    )
                except StoreError as exc:
                    self.alert("store-error", f"could not record receipts from {self.peer}: {exc.reason}")
                    return
                self._marked_seq = upto
                now = time.time()
                for message_id in ids:  # entries sent before a restart are not in _inflight
                    self._deliver(message_id, now)
        finally:
            self._marking = False

    async def _sender(self, session: LinkSession) -> None:
        channel = session.channel
        await session.hello.wait()
        while self.current is session and not channel.is_closed:
            if await self.station.quotas.hold_sender(self, session):
                continue  # F5: the peer withholds our entries for now
            if session.cursor < self.out_seq:
                after = session.cursor
                rows = await self.station.worker.call(
                    functools.partial(Store.sent_after, line_id=self.row.id, seq=after, limit=RESEND_BATCH)
                )
                for row in rows:
                    assert row.seq is not None and row.chain is not None
                    channel.send_nowait(linemsg.encode(_entry(row)))
                    session.cursor = row.seq
                await channel.drain()
                continue
            room = WINDOW - (self.out_seq - self.peer_seq)
            self._wake.clear()
            if room > 0 and self._maybe_queued:
                self._maybe_queued = False  # cleared first: a wake() during the call sets it again
                assigned = await self._assign(room)
                if len(assigned) == room:
                    self._maybe_queued = True  # the window filled: more may wait behind
                if assigned and assigned[0].seq != session.cursor + 1:
                    continue  # another numbering landed first: resend in order from the store
                if assigned:
                    for row in assigned:
                        channel.send_nowait(linemsg.encode(_entry(row)))
                        assert row.seq is not None
                        session.cursor = row.seq
                    await channel.drain()
                    continue
            await self._wake.wait()

    async def _assign(self, room: int) -> list[MessageRow]:
        async with self._assign_lock:
            line_id, start = self.row.id, self.row.chain_out0

            def assign(store: Store) -> list[MessageRow]:
                return number_entries(store, line_id, start, store.next_queued(line_id, room))

            # The numbering commits even if this session is cancelled while we wait (it closed):
            # our count of what we sent must follow the store, or the next session would skip
            # the entries numbered here. So the bookkeeping rides on the future, not on us.
            numbering = asyncio.ensure_future(self.station.worker.call(assign))
            numbering.add_done_callback(self._numbered)
            try:
                return await asyncio.shield(numbering)
            except StoreError as exc:
                self._maybe_queued = True  # still there: try again on the next wake
                self.alert("store-error", f"could not number entries for {self.peer}: {exc.reason}")
                return []

    def _numbered(self, numbering: asyncio.Future[list[MessageRow]]) -> None:
        if numbering.cancelled() or numbering.exception() is not None:
            return
        for row in numbering.result():
            assert row.seq is not None and row.chain is not None
            if row.seq > self.out_seq:
                self.out_seq, self.out_head = row.seq, row.chain
                self._inflight[row.seq] = (row.chain, row.id)

    # -- what operators ask for

    def can_number_now(self) -> bool:
        """Up, with room in the window: a new entry may be numbered as it is queued."""
        return self.up and self.out_seq - self.peer_seq < WINDOW

    def numbered_now(self, row: MessageRow) -> None:
        """``row`` was queued and numbered in one transaction: count it and send it if it is next."""
        assert row.seq is not None and row.chain is not None
        if row.seq > self.out_seq:
            self.out_seq, self.out_head = row.seq, row.chain
            self._inflight[row.seq] = (row.chain, row.id)
        session = self.current
        if (
            session is not None
            and session.hello.is_set()
            and session.cursor == row.seq - 1
            and not self.station.quotas.holding(self, session)
        ):
            try:
                session.channel.send_nowait(linemsg.encode(_entry(row)))
                if self.out_seq - self.peer_seq == 1:
                    # alone on the line: put it on the wire now; under load, records fill up instead
                    session.channel.flush()
            except ChannelClosed:
                return
            session.cursor = row.seq
        else:
            self._wake.set()  # the sender resends in order from the store

    def wake(self) -> None:
        """Something was queued unnumbered: send it if the line is up."""
        self._maybe_queued = True
        self._wake.set()

    def waiter(self, message_id: bytes) -> asyncio.Future[float]:
        """A future set to the receipt's time when ``message_id`` (outbound) is receipted."""
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(message_id, []).append(future)
        return future

    def unwait(self, message_id: bytes, future: asyncio.Future[float]) -> None:
        """Drop a waiter that is no longer needed."""
        waiting = self._waiters.get(message_id)
        if waiting is not None:
            with contextlib.suppress(ValueError):
                waiting.remove(future)
            if not waiting:
                del self._waiters[message_id]

    # -- line tests (hotline.station.lines.linetest runs them)

    def expect_test_reply(self, test_id: bytes) -> asyncio.Future[TestResult]:
        """A future set when the reply to the line test ``test_id`` is stored."""
        future: asyncio.Future[TestResult] = asyncio.get_running_loop().create_future()
        self._tests[test_id] = (time.monotonic(), future)
        return future

    def forget_test(self, test_id: bytes) -> None:
        """Stop waiting for the reply to ``test_id``."""
        self._tests.pop(test_id, None)

    # -- alerts and what wings ask of the line

    def clear_alerts(self, kinds: tuple[str, ...] | None = None) -> int:
        """Stop showing the standing alerts (of ``kinds``); how many went. The log keeps them."""
        return self._alerts.clear_alerts(kinds)

    def alert(self, kind: str, detail: str, *, active: bool = True, logged: str | None = None) -> None:
        """Raise an alert: logged, stored, shown by ``status``, ``inbox --follow`` and ``log``.

        ``logged`` replaces ``detail`` in the log when the detail names a document or a file: the
        operator sees those in the station, never in the log.
        """
        self._alerts.alert(kind, detail, active=active, logged=logged)

    def send_now(self, message: linemsg.LineMessage) -> bool:
        """Put ``message`` on the current session if the line is up; whether it went."""
        session = self.current
        if session is None or not self.up:
            return False
        try:
            session.channel.send_nowait(linemsg.encode(message))
        except ChannelClosed:
            return False
        return True


#: Entries handed to the store thread, and the future of that call.
_Submitted = tuple[list[Entry], "asyncio.Future[list[tuple[MessageRow, Any]]]"]


class _SessionOver(Exception):
    pass


def number_entries(store: Store, line_id: int, chain0: bytes, rows: list[MessageRow]) -> list[MessageRow]:
    """Give queued ``rows`` the next sequence numbers and chain heads of the line's outbound transcript.

    Runs in the store's thread, inside the caller's transaction; returns the rows with their place.
    """
    seq, head = store.position(line_id, OUT)
    chain = head or chain0
    done: list[MessageRow] = []
    for row in rows:
        seq, chain = next_place(seq, chain, row)
        store.assign(row.rowid, seq, chain)
        done.append(_with_place(row, seq, chain))
    return done


def next_place(seq: int, head: bytes, row: MessageRow) -> tuple[int, bytes]:
    """The sequence number and chain head ``row`` gets after entry ``seq`` whose head is ``head``."""
    entry = Entry(seq + 1, row.id, row.kind, row.precedence, row.created_ms, row.ref, row.body, b"")
    return seq + 1, entry_chain(head, entry)


def _entry(row: MessageRow) -> Entry:
    assert row.seq is not None and row.chain is not None
    return Entry(row.seq, row.id, row.kind, row.precedence, row.created_ms, row.ref, row.body, row.chain)


def _with_place(row: MessageRow, seq: int, chain: bytes) -> MessageRow:
    return MessageRow(
        row.rowid,
        row.line_id,
        row.direction,
        row.id,
        seq,
        row.kind,
        row.precedence,
        row.created_ms,
        row.ref,
        row.body,
        chain,
        row.stored_at,
        row.delivered_at,
        row.acked_at,
    )


__all__ = [
    "TIE_WINDOW",
    "WINDOW",
    "LineRuntime",
    "LinkSession",
    "TestResult",
    "new_message_id",
    "number_entries",
]
