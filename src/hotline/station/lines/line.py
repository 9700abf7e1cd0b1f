"""One line at run time: its sessions, its supervision and reliable delivery over it.

Theory of operation (docs/protocol.md §10):
- Every operator message, acknowledgement and line test is an entry in the store *before* anything
  is sent. Queued entries get their sequence number and chain head when they are first sent, in
  precedence order, so FLASH overtakes what waits; within a precedence the queue order holds. At
  most :data:`~hotline.proto.constants.WINDOW` entries are in flight (sent, not receipted), which
  keeps overtaking meaningful. :mod:`hotline.station.lines.delivery` drives this over
  :class:`hotline.proto.transcript.Transcript`.
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
import logging
import time
from typing import Any

from hotline.net.tcp import ChannelClosed, SecureChannel
from hotline.proto import linemsg
from hotline.proto.cards import StationCard, decode_card
from hotline.proto.constants import TIE_WINDOW
from hotline.proto.errors import ErrorCode
from hotline.proto.linemsg import Entry, Hello, Kind, Receipt
from hotline.proto.suites import ProfileName, Suite, suite
from hotline.station.alertkinds import AlertKind
from hotline.station.entryrules import Refused
from hotline.station.events import AlertBoard
from hotline.station.ids import show_id
from hotline.station.lanes import send_in_lane
from hotline.station.lines.carriercheck import (
    RATE_CHECK_EVERY,
    CarrierCheck,
    PeerRate,
    interval_mismatch,
    session_mismatch,
)
from hotline.station.lines.delivery import Delivery
from hotline.station.lines.dialer import Dialer
from hotline.station.lines.linetest import PendingTests, TestResult, test_schedule
from hotline.station.lines.profilecheck import ProfileCheck
from hotline.station.ports import LineContext, LinkSession
from hotline.store.rows import LineRow, MessageRow

log = logging.getLogger("hotline.line")


class Line:
    """A line's live state. Belongs to one event loop; its store calls go through the station's worker."""

    def __init__(
        self,
        station: LineContext[Line],
        row: LineRow,
        inbound: tuple[int, bytes],
        outbound: tuple[int, bytes],
    ):
        self.station = station
        self.row = row
        #: The line key in the clear (kept in memory for handshakes), or None.
        self.key: bytes | None = None
        self._card: tuple[bytes, StationCard] | None = None
        #: Both transcripts of the line: what we accept, store, number, send and see receipted.
        self.delivery = Delivery(self, inbound, outbound)
        self.current: LinkSession | None = None
        self.state_since = time.time()
        self.was_up = False
        #: Replayed handshakes from this peer's key dropped since the daemon started (an attacker on
        #: the path), and when that was last logged.
        self.replays = 0
        self.replay_logged = -float("inf")
        self._alerts = AlertBoard(station.events, lambda: self.peer, lambda: self.row.id)
        self.last_test: TestResult | None = None
        self._changed = asyncio.Event()
        self.tests = PendingTests()
        self._tg: asyncio.TaskGroup | None = None
        self._down_alerted = False
        self._dialer = Dialer(lambda: station.config)
        #: The carrier mismatch the standing ``carrier`` alert tells of (said once, not per redial).
        self._carriers = CarrierCheck(self._alerts)
        self._profiles = ProfileCheck(self._alerts)

    # -- what the line is

    @property
    def peer(self) -> str:
        return self.row.peer

    @property
    def profile(self) -> ProfileName:
        """The line's profile, fixed when it was made (docs/protocol.md §3.8)."""
        return self.row.profile

    @property
    def suite(self) -> Suite:
        """Everything the line's profile fixes: the handshake, records, media, values at rest."""
        return suite(self.row.profile)

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
            self.close_session(self.current, "the line is no longer verified and keyed")
        self._changed.set()

    # -- supervision

    async def run(self) -> None:
        """Supervise the line until cancelled: dial, test on schedule, raise alerts."""
        await self.station.quotas.load(self)
        async with asyncio.TaskGroup() as tg:
            self._tg = tg
            tg.create_task(test_schedule(self))
            await self._dial_loop()

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
            wait = self._dialer.wait()
            if wait > 0:
                await self._wait_changed(wait)
                continue
            dialled = await self._dial()
            if dialled is not None:
                endpoint, channel = dialled
                self.attach(channel, initiated=True, endpoint=endpoint)
            else:
                self._dialer.failed()
            if self.current is None:
                down_for = time.monotonic() - down_since
                if not self._down_alerted and down_for > 3 * self.station.config.heartbeat:
                    self._down_alerted = True
                    self.alert(AlertKind.LINE_DOWN, f"no session with {self.peer} for {down_for:.0f} s")

    async def _dial(self) -> tuple[str, SecureChannel] | None:
        key = self.key
        if key is None or not self.ready or not self.row.endpoints:
            return None
        return await self._dialer.dial(
            list(self.row.endpoints),
            peer=self.peer,
            peer_static=self.row.static_public,
            line_key=key,
            session_config=self.station.session_config,
        )

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
                self.spawn(channel.close())
                return
            self.close_session(current, "replaced by a newer session")
        session = LinkSession(channel, initiated, endpoint, now, time.time())
        self.current = session
        self._changed.set()
        self._tg.create_task(self._serve(session))

    def close_session(self, session: LinkSession, why: str) -> None:
        """Close ``session`` for a reason of ours (``LOCAL_CLOSE``, in the background); what it still
        delivers is ignored."""
        log.info("closing session", extra={"peer": self.peer, "why": why})
        session.closing = True
        self.spawn(session.channel.close())

    def violated(self, session: LinkSession, reason: str) -> None:
        """The peer broke a rule of docs/protocol.md §10 to §13 on ``session`` (the caller raised the
        alert): end it now with ``PROTOCOL_VIOLATION`` and ``reason`` (§6), before anything else
        closes it with another code. What it still delivers is ignored."""
        log.info("closing session: the peer broke the protocol", extra={"peer": self.peer, "why": reason})
        session.closing = True
        session.channel.close_nowait(ErrorCode.PROTOCOL_VIOLATION, reason)

    async def _serve(self, session: LinkSession) -> None:
        channel = session.channel
        try:
            self.delivery.follow_session()  # our Hello goes out first
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self.delivery.run_sender(session))
                for listener in self.station.session_listeners:
                    for work in listener.session_tasks(self, session):
                        tg.create_task(work)
                if channel.carrier is not None:
                    tg.create_task(self._watch_carrier(session))
                await self._reader(session)
                raise _SessionOver
        except* _SessionOver:
            pass
        except* (ChannelClosed, ConnectionError) as group:
            log.debug("session ended", extra={"peer": self.peer, "why": str(group.exceptions[0])})
        except* Exception as group:
            # a bug of ours must cost this session, never the line or the daemon
            log.error("session failed", extra={"peer": self.peer}, exc_info=group.exceptions[0])
            self.alert(AlertKind.INTERNAL, f"the session with {self.peer} failed: {group.exceptions[0]!r}")
        finally:
            ended = channel.close_reason
            await channel.close()
            mismatch = session_mismatch(ended, channel.carrier, peer=self.peer, us=self.station.config.name)
            if mismatch is not None:
                self._carriers.differs(mismatch)
            went_silent = ended is not None and ended.code is ErrorCode.IDLE_TIMEOUT
            if ended is not None and ended.code is ErrorCode.RATE_LIMITED:
                self.station.handshakes.rekey_flood(self)  # issue 13, F12
            self._dialer.session_ended(session.started, session.endpoint, went_silent)
            for listener in self.station.session_listeners:
                listener.session_ended(self, session)
            if self.current is session:
                self.current = None
                self.state_since = time.time()
                if self.was_up and not self.station.stopping:
                    self.was_up = False
                    self._down_alerted = True
                    # the reason says what ended it: a peer stopped or killed (connection lost),
                    # silence, a protocol violation
                    why = "closed" if ended is None else ended.reason
                    self.alert(AlertKind.LINE_DOWN, f"the session with {self.peer} ended: {why}")
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
                self.alert(AlertKind.PROTOCOL, f"{self.peer} sent a malformed message: {exc}")
                self.violated(session, f"malformed line message: {exc} (§10)")
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
                        self.alert(
                            AlertKind.PROTOCOL, f"{self.peer} sent {route.before_hello} before its hello"
                        )
                        self.violated(session, f"{type(message).__name__} before Hello (§10)")
                        return
                    if not await route.handle(self, session, message):
                        # the handler raised the alert (and may have ended the session with its reason)
                        self.violated(session, f"{type(message).__name__} not allowed here")
                        return

    # -- carrier mismatches (docs/protocol.md §14.5)

    async def _watch_carrier(self, session: LinkSession) -> None:
        """Count the peer's cells against ours while ``session`` lasts: an interval that differs
        ends no session, so only the counts show it."""
        channel = session.channel
        setting = channel.carrier
        assert setting is not None
        rates = PeerRate(setting.interval)
        told = False
        while not channel.is_closed:
            await asyncio.sleep(RATE_CHECK_EVERY)
            if channel.is_closed:
                return
            found = rates.look(*channel.records)
            if found is None:
                continue
            if found.same:
                self._carriers.agree(fatal=False)
            elif not told:
                told = True
                us = self.station.config.name
                self._carriers.differs(interval_mismatch(setting, found.their_ms, peer=self.peer, us=us))

    # -- profile mismatches (docs/protocol.md §3.8; hotline.station.lines.profilecheck)

    def profile_mismatch(self, theirs: str) -> None:
        """The peer's end of this line has the profile ``theirs``: if it is not ours, no session can
        come up, and the ``profile-mismatch`` alert says so (once per profile found)."""
        us = self.station.config.name
        self._profiles.differs(peer=self.peer, us=us, ours=self.profile, theirs=theirs)

    def profiles_agree(self) -> None:
        """The two ends have one profile again (a session came up, or ours changed): the alert goes."""
        self._profiles.agree()

    # -- inbound

    async def _on_hello(self, session: LinkSession, hello: Hello) -> bool:
        if not await self.delivery.on_hello(session, hello):
            return False
        self.state_since = time.time()
        self.was_up = True
        if self._down_alerted or any(a["kind"] == "line-down" for a in self.alerts):
            self.alerts = [a for a in self.alerts if a["kind"] not in ("line-down",)]
            self.alert(AlertKind.LINE_UP, f"session with {self.peer} via {session.endpoint}", active=False)
        self._down_alerted = False
        self._carriers.agree(fatal=True)  # a session came up: the two ends' carriers match now
        self.profiles_agree()  # and so do their profiles
        log.info("line up", extra={"peer": self.peer, "endpoint": session.endpoint})
        return True

    def _on_entry(self, entry: Entry) -> bool:
        return self.delivery.on_entry(entry)

    def spawn(self, coro: Any) -> None:
        """Run ``coro`` in the line's TaskGroup (closed unrun when the line is not, or no longer, running)."""
        if self._tg is None:
            coro.close()
            return
        try:
            self._tg.create_task(coro)
        except RuntimeError:
            coro.close()  # the line is being stopped

    def after_inbound(self, outcome: list[tuple[MessageRow, Any]]) -> None:
        """Act on inbound entries now on our disk: alerts, followers, documents, line tests."""
        for row, extra in outcome:
            if isinstance(extra, Refused):
                self.alert(AlertKind.PROTOCOL, f"{self.peer} {extra.why}: refused, the line goes on")
                continue
            if row.kind == Kind.DOC:
                if extra is not None:
                    self.alert(
                        AlertKind.DOCUMENT_FAILED,
                        f"{self.peer} announced a document we cannot take: {extra}",
                        logged=f"{self.peer} announced a document we cannot take",
                    )
                else:
                    self.station.documents.doc_entry_committed(self, row)
            if row.kind in (Kind.TEXT, Kind.DOC):
                self.station.events.unread.changed(self.row.id)
                if not self.station.has_followers:
                    continue
                self.station.publish({"message": self.station.describe(row, self)})
            elif row.kind == Kind.ACK and extra:
                acked = {"peer": self.peer, "id": show_id(row.ref), "direction": "out", "at": row.stored_at}
                self.station.publish({"acked": acked})
            elif row.kind == Kind.TEST:
                if extra is not None:
                    self.alert(AlertKind.CHAIN_MISMATCH, extra)
                self.delivery.wake()  # our reply is queued
            elif row.kind == Kind.TEST_REPLY:
                self.tests.answered(row.ref, extra)

    # -- outbound

    def _on_receipt(self, receipt: Receipt) -> bool:
        return self.delivery.on_receipt(receipt)

    # -- alerts and what wings ask of the line

    def clear_alerts(self, kinds: tuple[str, ...] | None = None) -> int:
        """Stop showing the standing alerts (of ``kinds``); how many went. The log keeps them."""
        return self._alerts.clear_alerts(kinds)

    def alert(self, kind: AlertKind, detail: str, *, active: bool = True, logged: str | None = None) -> None:
        """Raise an alert: logged, stored, shown by ``status``, ``inbox --follow`` and ``log``.

        ``logged`` replaces ``detail`` in the log when the detail names a document or a file: the
        operator sees those in the station, never in the log.
        """
        self._alerts.alert(kind, detail, active=active, logged=logged)

    def send_now(self, message: linemsg.LineMessage) -> bool:
        """Put ``message`` on the current session if the line is up (in carrier mode in its lane, as
        soon as that has room: :func:`~hotline.station.lanes.send_in_lane`); whether it went."""
        session = self.current
        if session is None or not self.up:
            return False
        send_in_lane(session.channel, message)
        return not session.channel.is_closed


class _SessionOver(Exception):
    pass


__all__ = ["Line", "LinkSession", "TestResult"]
