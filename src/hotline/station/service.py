"""The station: the composition root. One identity, one store, the wings, one listener.

:class:`Station` opens the identity and the store, builds the pieces and wires them to each other:
the line registry (:mod:`hotline.station.lines`), the call and document desks, the quotas, the event
bus (:mod:`hotline.station.events`) and the handshake defences. The wings never import this module:
each line is handed the station as its :class:`~hotline.station.ports.LineContext`, whose router
sends documents' and calls' messages to their desks and whose session listeners let the desks work
beside each session. It decides nothing itself.

Structured concurrency: every task the station starts belongs to a TaskGroup. While the daemon
serves (:meth:`Station.serve`) that is the serving group (listener, control socket, line
supervisors, and what they spawn); before and after, it is a group the station holds from
:meth:`Station.open` to :meth:`Station.close`, so work a request started offline is awaited by
``close``. The CLI's offline mode opens the same object without serving, so a request means the
same thing whether the daemon is up or not.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Coroutine, Mapping, Sequence
from pathlib import Path
from typing import Any

from hotline.net.tcp import listen
from hotline.proto.cards import StationCard, issue_card, parse_endpoint
from hotline.proto.carriermode import CarrierSetting
from hotline.proto.events import ProfileMismatch
from hotline.proto.handshake import InitiationTimestamps
from hotline.proto.identity import Identity
from hotline.proto.linemsg import DocData, DocProgress, LineMessage, Withhold
from hotline.proto.session import SessionConfig
from hotline.proto.suites import Suite
from hotline.station.calls.desk import CallDesk
from hotline.station.config import StationConfig
from hotline.station.control import serve_control
from hotline.station.documents import DocumentDesk, doc_dir
from hotline.station.errors import StationError
from hotline.station.events import EventBus
from hotline.station.handshakes import HandshakeDefence
from hotline.station.home import StationLock, StationPaths, unlock
from hotline.station.lines.line import Line
from hotline.station.lines.registry import Directory, LineRegistry
from hotline.station.pairing import PairingClaims
from hotline.station.ports import Link, LinkSession, Route, SessionListener
from hotline.station.quotas import QuotaDesk
from hotline.station.requests.dispatch import Requests
from hotline.station.views import describe_message
from hotline.station.worker import StoreWorker
from hotline.store.db import Store
from hotline.store.errors import StoreError
from hotline.store.rows import DocRow, LineRow, MessageRow
from hotline.store.schema import IN, OUT
from hotline.store.sealing import derive_store_key

log = logging.getLogger("hotline.station")

#: How long opening a station waits for another process to let go of it (an offline command).
LOCK_WAIT = 5.0
#: After a restart, initiation timestamps go on this far (ns) past the last one stored: a dial's
#: timestamp is stored a few milliseconds after it is sent, and a process killed in between must
#: not send it again.
RESTART_MARGIN_NS = 10**9


class Station:
    """A station opened from its directory: :meth:`open`, then :meth:`serve` or requests, :meth:`close`.

    Event loop only. Also the :class:`~hotline.station.ports.LineContext` of its lines.
    """

    def __init__(
        self, paths: StationPaths, config: StationConfig, identity: Identity, store: Store, lock: StationLock
    ) -> None:
        self.paths = paths
        self.config = config
        self.identity = identity
        self.worker = StoreWorker(store)
        self._lock = lock
        self._initiations = InitiationTimestamps()
        self.session_config = SessionConfig(
            static=identity.static_key,
            keepalive_interval=config.heartbeat,
            rekey_after_time=config.rekey_after,
            reject_after_time=config.rekey_after + 60.0,
            initiation_clock=self.initiation_timestamp,
            carrier_for=self.carrier_for,
            # each line's profile picks its handshake; an initiation under the other one is an alert
            suite_for=self.suite_for,
            on_profile_mismatch=self._profile_mismatch,
        )
        self.static_public = identity.static_key.public_key().raw
        # the group work is spawned in: the serving one while the daemon serves, else _background
        self._tg: asyncio.TaskGroup | None = None
        self._background: asyncio.TaskGroup | None = None
        self._exit = contextlib.AsyncExitStack()
        #: Serving the network (the daemon), or opened for one request (offline).
        self.running = False
        #: Set when the daemon is shutting down: sessions ending then are not alerts.
        self.stopping = False
        self.started_at = time.time()
        self.listen_port: int | None = None
        self.events = EventBus(self.worker, self.spawn)
        self.registry = LineRegistry(self, self.spawn)
        #: Every line by peer name (the registry's own map).
        self.lines: dict[str, Line] = self.registry.lines
        #: The persisted anti-replay guard and the handshake rate limits (issue 13, F8, F12).
        self.handshakes = HandshakeDefence(self.worker, self.registry)
        #: Pairings waiting for a connection, one per line name (hotline.station.pairing).
        self.pairings = PairingClaims()
        self.calls: CallDesk[Line] = CallDesk(self)
        self.quotas = QuotaDesk(self)
        self.documents: DocumentDesk[Line] = DocumentDesk(
            worker=self.worker,
            quotas=lambda: self.quotas,
            publish=self.publish,
            spawn=self.spawn,
            directory=doc_dir(self),
            max_bytes=lambda: self.config.documents_max_bytes,
            profile_of=lambda line: line.profile,
        )
        # the wiring that keeps the line from knowing calls and documents
        self._routes: dict[type[LineMessage], Route[Line]] = {
            DocData: Route(self._document_message, "document data"),
            DocProgress: Route(self._document_message, "document data"),
            Withhold: Route(self._withhold, None),
        }
        self._default_route: Route[Line] = Route(self._call_message, "a call message")
        self._listeners: tuple[SessionListener[Line], ...] = (
            _CallSessions(self.calls),
            _DocumentSessions(self.documents),
        )

    @classmethod
    async def open(cls, home: Path, passphrase: str) -> Station:
        """Unlock and open the station at ``home``.

        Raises:
            StationError: no station, wrong passphrase, busy (another process has it), bad store.
        """
        paths = StationPaths(home)
        config, identity = unlock(home, passphrase)
        lock = StationLock(paths.lock)
        # a command run offline holds the lock for a moment: wait for it rather than fail at once
        await asyncio.to_thread(lock.acquire, LOCK_WAIT)
        try:
            key = derive_store_key(identity.secret_parts)
            store = await asyncio.to_thread(_open_private, paths.store, key, config.store_max_pages or None)
        except StoreError as exc:
            lock.release()
            raise StationError("store-error", exc.reason) from None
        except BaseException:
            lock.release()
            raise
        station = cls(paths, config, identity, store, lock)
        station._background = await station._exit.enter_async_context(asyncio.TaskGroup())
        station.worker.start()
        await station._load()
        return station

    async def _load(self) -> None:
        last_sent = await self.worker.call(lambda store: store.meta.last_initiation())
        if last_sent:
            self._initiations.observe(last_sent + RESTART_MARGIN_NS)

        def load(
            store: Store,
        ) -> list[tuple[LineRow, bytes | None, tuple[int, bytes | None], tuple[int, bytes | None]]]:
            return [
                (
                    row,
                    store.lines.key(row.id),
                    store.messages.position(row.id, IN),
                    store.messages.position(row.id, OUT),
                )
                for row in store.lines.all()
            ]

        for row, key, (in_seq, in_head), (out_seq, out_head) in await self.worker.call(load):
            line = self.registry.add(
                row, (in_seq, in_head or row.chain_in0), (out_seq, out_head or row.chain_out0)
            )
            line.key = key
        await self.handshakes.load([line.row.static_public for line in self.lines.values()])

    async def add_line(self, row: LineRow) -> Line:
        """Start supervising a newly created line."""
        return self.registry.add_new(row)

    def drop_line(self, peer: str) -> None:
        """Stop supervising a removed line."""
        self.registry.drop(peer)

    async def close(self) -> None:
        """Finish the work started offline, close the store and release the lock."""
        try:
            await self._exit.aclose()  # waits for what was spawned outside the daemon's group
        finally:
            try:
                await self.worker.stop()
            finally:
                self._lock.release()

    # -- handshakes

    def carrier_for(self, peer_static: bytes) -> CarrierSetting | None:
        """The carrier of the line to ``peer_static`` as ``station.toml`` sets it (None: off, or
        no such line: a stranger's handshake fails before this matters)."""
        line = self.registry.by_static(peer_static)
        return None if line is None else self.config.line(line.peer).carrier_setting()

    def suite_for(self, peer_static: bytes) -> Suite | None:
        """The suite of the line to ``peer_static``: what its handshakes, records and media run
        (docs/protocol.md §3.8). None: no such line (a stranger's handshake fails anyway)."""
        return self.registry.suite_for(peer_static)

    def profile_mismatch(self, peer_static: bytes, theirs: str) -> None:
        """A handshake found that the station ``peer_static`` runs our line with the profile
        ``theirs``: the line's ``profile-mismatch`` alert names both and what each end would run."""
        self.registry.profile_mismatch(peer_static, theirs)

    def _profile_mismatch(self, found: ProfileMismatch) -> None:
        self.profile_mismatch(found.peer_static, found.peer_profile)

    def initiation_timestamp(self) -> int:
        """The anti-replay timestamp for a handshake we start now (docs/protocol.md §3.3): the wall
        clock, but always greater than the last one we sent, also across a clock step back and a
        restart. Stored in the background; call from the event loop."""
        stamp = self._initiations.next(time.time_ns())
        stored = self.worker.submit(lambda store: store.meta.set_last_initiation(stamp))
        stored.add_done_callback(_log_unstored_initiation)
        return stamp

    # -- lines

    def line(self, peer: str) -> Line:
        """The line to ``peer``.

        Raises:
            StationError: ``no-such-line``.
        """
        return self.registry.line(peer)

    def card(self) -> StationCard:
        """Our card, issued now."""
        return issue_card(self.identity, endpoints=self.config.advertised, created_at=int(time.time()))

    # -- what the wings are handed (LineContext and the desks' needs)

    @property
    def routes(self) -> Mapping[type[LineMessage], Route[Line]]:
        return self._routes

    @property
    def default_route(self) -> Route[Line]:
        return self._default_route

    @property
    def session_listeners(self) -> Sequence[SessionListener[Line]]:
        return self._listeners

    async def _document_message(self, line: Line, session: LinkSession, message: LineMessage) -> bool:
        assert isinstance(message, DocData | DocProgress)
        await self.documents.on_message(line, message)
        return True

    async def _withhold(self, line: Line, session: LinkSession, message: LineMessage) -> bool:
        assert isinstance(message, Withhold)
        return self.quotas.on_withhold(line, session, message)

    async def _call_message(self, line: Line, session: LinkSession, message: LineMessage) -> bool:
        self.calls.on_message(line, session, message)
        return True

    async def receive_document(self, row: DocRow) -> None:
        """Ask for a held document the operator accepted (the quota desk's way to the documents desk)."""
        line = self.registry.by_id(row.line_id)
        if line is not None:
            await self.documents.receive(line, row)

    @property
    def has_followers(self) -> bool:
        return self.events.has_followers

    def publish(self, event: dict[str, object]) -> None:
        """Tell every ``inbox --follow`` about ``event``."""
        self.events.publish(event)

    def record(self, line: Link | None, kind: str, detail: dict[str, object]) -> None:
        """Store an event in the background (a full store must not stop the line)."""
        self.events.record(None if line is None else line.row.id, kind, detail)

    def describe(self, row: MessageRow, line: Line | None = None) -> dict[str, object]:
        """A message as docs/control.md shows it."""
        return describe_message(row, line if line is not None else self.registry.by_id(row.line_id))

    # -- the daemon

    async def serve(self, *, ready: asyncio.Event | None = None) -> None:
        """Listen, dial every line and serve the control socket until cancelled."""
        host, port = parse_endpoint(self.config.listen)
        async with contextlib.AsyncExitStack() as stack:
            try:
                listener = await stack.enter_async_context(
                    listen(
                        host,
                        port,
                        config=self.session_config,
                        peers=Directory(self.registry),
                        guard=self.handshakes.guard,
                        max_pending=self.config.max_pending,
                        limits=self.handshakes.limits,
                    )
                )
            except OSError as exc:
                why = os.strerror(exc.errno).lower() if exc.errno else str(exc)
                raise StationError(
                    "bad-config",
                    f"cannot listen on {self.config.listen}: {why} (see `listen` in station.toml)",
                ) from None
            self.running = True
            self.listen_port = listener.port
            await self.calls.start(host, listener.port)
            await self.documents.load()
            stack.callback(self.calls.stop)
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                self.registry.serve(tg)
                tg.create_task(serve_control(self.paths.control, Requests(self)))
                log.info(
                    "station up",
                    extra={
                        "station": self.identity.name,
                        "listen": f"{host}:{listener.port}",
                        "pid": os.getpid(),
                    },
                )
                if ready is not None:
                    ready.set()
                while True:
                    channel = await listener.accept()
                    self.registry.accepted(channel)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run ``coro`` as a child of the station (dropped when the station is shutting down)."""
        try:
            if self._tg is not None:
                self._tg.create_task(coro)
            elif self._background is not None:
                # offline, what failed used to be dropped unseen: now it is logged, and never
                # takes the requests' own task down with it
                self._background.create_task(_logged(coro))
            else:
                coro.close()  # never opened (built by hand): nothing would run it
        except RuntimeError:
            coro.close()  # the station is stopping: what it would record no longer matters


class _CallSessions:
    """The call desk as a session listener: a call ends with the session that carried it."""

    def __init__(self, calls: CallDesk[Line]) -> None:
        self._calls = calls

    def session_tasks(self, line: Line, session: LinkSession) -> list[Coroutine[Any, Any, None]]:
        return []

    def session_ended(self, line: Line, session: LinkSession) -> None:
        self._calls.on_line_down(line, session)


class _DocumentSessions:
    """The document desk as a session listener: it sends and resumes documents while a session lasts."""

    def __init__(self, documents: DocumentDesk[Line]) -> None:
        self._documents = documents

    def session_tasks(self, line: Line, session: LinkSession) -> list[Coroutine[Any, Any, None]]:
        return [self._documents.run_sender(line, session), self._documents.resume_incoming(line, session)]

    def session_ended(self, line: Line, session: LinkSession) -> None:
        self._documents.session_down(line)


async def _logged(coro: Coroutine[Any, Any, None]) -> None:
    # a background job that fails (a bug) is logged; it must not take the station's group down
    try:
        await coro
    except Exception as exc:
        log.error("background work failed", exc_info=exc)


def _log_unstored_initiation(stored: asyncio.Future[None]) -> None:
    # in memory the rule still holds; only a restart before the next stored dial could repeat it
    error = None if stored.cancelled() else stored.exception()
    if error is not None:
        why = error.reason if isinstance(error, StoreError) else repr(error)
        log.warning("could not store the last handshake timestamp", extra={"error": why})


def _open_private(path: Path, key: bytes, max_page_count: int | None) -> Store:
    # the store and its -wal/-shm files are the owner's only, whatever the caller's umask
    old = os.umask(0o077)
    try:
        store = Store.open(path, key, max_page_count=max_page_count)
    finally:
        os.umask(old)
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            path.with_name(path.name + suffix).chmod(0o600)
    return store


__all__ = ["Station"]
