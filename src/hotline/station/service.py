"""The station: one identity, one store, many lines, one listener and the control socket.

:class:`Station` owns the store worker and every :class:`~hotline.station.line.LineRuntime`. The
daemon runs :meth:`Station.serve` (structured: one TaskGroup holds the listener, the control socket
and every line's supervisor). The CLI's offline mode opens the same object without serving, so a
request means the same thing whether the daemon is up or not.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from pathlib import Path
from typing import Any

from hotline.net.tcp import SecureChannel, listen
from hotline.proto.cards import StationCard, issue_card
from hotline.proto.handshake import InitiationTimestamps
from hotline.proto.identity import Identity
from hotline.proto.linemsg import Kind, Precedence
from hotline.proto.session import SessionConfig
from hotline.station.calls import CallDesk
from hotline.station.config import StationConfig
from hotline.station.documents import DocumentDesk, doc_dir
from hotline.station.errors import StationError
from hotline.station.handshakes import HandshakeDefence
from hotline.station.home import StationLock, StationPaths, unlock
from hotline.station.ids import parse_id, show_id
from hotline.station.line import LineRuntime
from hotline.station.quotas import QuotaDesk
from hotline.station.worker import StoreWorker
from hotline.store.db import LineRow, MessageRow, Store
from hotline.store.errors import StoreError
from hotline.store.schema import IN, OUT
from hotline.store.sealing import derive_store_key

log = logging.getLogger("hotline.station")

#: How long opening a station waits for another process to let go of it (an offline command).
LOCK_WAIT = 5.0
#: How often one unverified or unknown station's attempts are logged.
REFUSAL_LOG_INTERVAL = 60.0
#: After a restart, initiation timestamps go on this far (ns) past the last one stored: a dial's
#: timestamp is stored a few milliseconds after it is sent, and a process killed in between must
#: not send it again.
RESTART_MARGIN_NS = 10**9


class _Directory:
    """The handshake's view of our lines: a key only for verified, keyed lines; refusals are logged."""

    def __init__(self, station: Station) -> None:
        self._station = station
        self._logged: dict[bytes, float] = {}

    def line_key(self, peer_static: bytes) -> bytes | None:
        key = self._station.line_key(peer_static)
        if key is None:
            now = time.monotonic()
            if now - self._logged.get(peer_static, -REFUSAL_LOG_INTERVAL) >= REFUSAL_LOG_INTERVAL:
                self._logged[peer_static] = now
                self._station.refused(peer_static)
        return key

    def replayed(self, peer_static: bytes) -> None:
        self._station.replayed(peer_static)


class Station:
    """A station opened from its directory: :meth:`open`, then :meth:`serve` or requests, :meth:`close`."""

    def __init__(
        self, paths: StationPaths, config: StationConfig, identity: Identity, store: Store, lock: StationLock
    ) -> None:
        self.paths = paths
        self.config = config
        self.identity = identity
        self.worker = StoreWorker(store)
        self._lock = lock
        self._initiations = InitiationTimestamps()
        #: The persisted anti-replay guard and the handshake rate limits (issue 13, F8, F12).
        self.handshakes = HandshakeDefence(self)
        self.session_config = SessionConfig(
            static=identity.static_key,
            keepalive_interval=config.heartbeat,
            rekey_after_time=config.rekey_after,
            reject_after_time=config.rekey_after + 60.0,
            initiation_clock=self.initiation_timestamp,
        )
        self.static_public = identity.static_key.public_key().raw
        self.lines: dict[str, LineRuntime] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._followers: set[asyncio.Queue[dict[str, object]]] = set()
        self._tg: asyncio.TaskGroup | None = None
        #: Serving the network (the daemon), or opened for one request (offline).
        self.running = False
        #: Set when the daemon is shutting down: sessions ending then are not alerts.
        self.stopping = False
        self.started_at = time.time()
        self.listen_port: int | None = None
        self.calls = CallDesk(self)
        self.documents: DocumentDesk[LineRuntime] = DocumentDesk(
            worker=self.worker,
            quotas=lambda: self.quotas,
            publish=self.publish,
            spawn=self.spawn,
            directory=doc_dir(self),
            max_bytes=lambda: self.config.documents_max_bytes,
        )
        self.quotas = QuotaDesk(self)
        # work started while not serving (offline requests); awaited by close()
        self._background: list[asyncio.Future[Any]] = []

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
        station.worker.start()
        await station._load()
        return station

    async def _load(self) -> None:
        last_sent = await self.worker.call(lambda store: store.last_initiation())
        if last_sent:
            self._initiations.observe(last_sent + RESTART_MARGIN_NS)

        def load(
            store: Store,
        ) -> list[tuple[LineRow, bytes | None, tuple[int, bytes | None], tuple[int, bytes | None]]]:
            return [
                (row, store.line_key(row.id), store.position(row.id, IN), store.position(row.id, OUT))
                for row in store.lines()
            ]

        for row, key, (in_seq, in_head), (out_seq, out_head) in await self.worker.call(load):
            line = self._add_runtime(
                row, (in_seq, in_head or row.chain_in0), (out_seq, out_head or row.chain_out0)
            )
            line.key = key
        await self.handshakes.load([line.row.static_public for line in self.lines.values()])

    def _add_runtime(
        self, row: LineRow, inbound: tuple[int, bytes], outbound: tuple[int, bytes]
    ) -> LineRuntime:
        line = LineRuntime(self, row, inbound, outbound)
        self.lines[row.peer] = line
        if self._tg is not None:
            self._tasks[row.peer] = self._tg.create_task(self._supervise(line))
        return line

    async def add_line(self, row: LineRow) -> LineRuntime:
        """Start supervising a newly created line."""
        return self._add_runtime(row, (0, row.chain_in0), (0, row.chain_out0))

    def drop_line(self, peer: str) -> None:
        """Stop supervising a removed line."""
        line = self.lines.pop(peer, None)
        task = self._tasks.pop(peer, None)
        if task is not None:
            task.cancel()
        if line is not None and line.current is not None and self._tg is not None:
            self._tg.create_task(line.current.channel.close())

    async def close(self) -> None:
        """Finish store work, close the store and release the lock."""
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        try:
            await self.worker.stop()
        finally:
            self._lock.release()

    # -- handshakes

    def initiation_timestamp(self) -> int:
        """The anti-replay timestamp for a handshake we start now (docs/protocol.md §3.3): the wall
        clock, but always greater than the last one we sent, also across a clock step back and a
        restart. Stored in the background; call from the event loop."""
        stamp = self._initiations.next(time.time_ns())
        stored = self.worker.submit(lambda store: store.set_last_initiation(stamp))
        stored.add_done_callback(_log_unstored_initiation)
        return stamp

    # -- lines and keys

    def line(self, peer: str) -> LineRuntime:
        """The line to ``peer``.

        Raises:
            StationError: ``no-such-line``.
        """
        line = self.lines.get(peer)
        if line is None:
            raise StationError("no-such-line", f"no line to {peer!r} (see `hotline line list`)")
        return line

    def line_by_static(self, peer_static: bytes) -> LineRuntime | None:
        for line in self.lines.values():
            if line.row.static_public == peer_static:
                return line
        return None

    def line_key(self, peer_static: bytes) -> bytes | None:
        """The line key for a handshake with ``peer_static``, if that line may carry traffic."""
        line = self.line_by_static(peer_static)
        if line is None or not line.ready:
            return None
        return line.key

    def refused(self, peer_static: bytes) -> None:
        """A station we will not talk to completed the first half of a handshake."""
        line = self.line_by_static(peer_static)
        if line is None:
            log.warning("refused an unknown station", extra={"static_key": peer_static.hex()[:16]})
        else:
            why = "not verified" if not line.row.verified else "without a line key"
            line.alert("refused", f"refused {line.peer}: the line is {why}")

    def replayed(self, peer_static: bytes) -> None:
        """A recording of a peer's earlier handshake was played back to us (and dropped unanswered)."""
        line = self.line_by_static(peer_static)
        if line is None:
            return
        line.replays += 1
        now = time.monotonic()
        if now - line.replay_logged >= REFUSAL_LOG_INTERVAL:
            line.replay_logged = now
            log.warning(
                "dropped a replayed handshake: someone on the path played back a recording of an "
                "earlier one (nothing was answered; the count is in `hotline status --json`)",
                extra={"peer": line.peer, "replays": line.replays},
            )

    def card(self) -> StationCard:
        """Our card, issued now."""
        return issue_card(self.identity, endpoints=self.config.advertised, created_at=int(time.time()))

    # -- events for followers and the log

    def publish(self, event: dict[str, object]) -> None:
        """Tell every ``inbox --follow`` about ``event``."""
        for queue in self._followers:
            queue.put_nowait(event)

    @property
    def has_followers(self) -> bool:
        return bool(self._followers)

    def follow(self) -> asyncio.Queue[dict[str, object]]:
        queue: asyncio.Queue[dict[str, object]] = asyncio.Queue()
        self._followers.add(queue)
        return queue

    def unfollow(self, queue: asyncio.Queue[dict[str, object]]) -> None:
        self._followers.discard(queue)

    def record(self, line: LineRuntime | None, kind: str, detail: dict[str, object]) -> None:
        """Store an event in the background (a full store must not stop the line)."""
        line_id = None if line is None else line.row.id

        async def write() -> None:
            try:
                await self.worker.call(lambda store: store.add_event(line_id, kind, detail, time.time()))
            except StoreError as exc:
                log.error("could not record an event", extra={"kind": kind, "error": exc.reason})

        self.spawn(write())

    def show_id(self, message_id: bytes) -> str:
        return show_id(message_id)

    def describe(self, row: MessageRow, line: LineRuntime | None = None) -> dict[str, object]:
        """A message as docs/control.md shows it."""
        if line is None:
            line = self._line_of(row.line_id)
        peer = line.peer if line is not None else "?"
        delivered_at = row.delivered_at
        # a receipt is known at once; the store's mark follows a moment later (or, with a full
        # store, once there is room): the receipt is what counts
        receipted = line is not None and row.seq is not None and row.seq <= line.peer_seq
        if delivered_at is None and row.direction == OUT and receipted and line is not None:
            delivered_at = line.receipted_at
        if row.direction == OUT:
            if row.acked_at is not None:
                state = "acked"
            elif delivered_at is not None:
                state = "delivered"
            elif row.seq is not None:
                state = "sent"
            else:
                state = "queued"
        else:
            state = "acked" if row.acked_at is not None else "received"
        return {
            "id": show_id(row.id),
            "peer": peer,
            "direction": "out" if row.direction == OUT else "in",
            "kind": Kind(row.kind).name.lower().replace("_", "-"),
            "seq": row.seq,
            "precedence": Precedence(row.precedence).name.lower(),
            "text": _text(row),
            "ref": show_id(row.ref) if row.ref else None,
            "created_at": row.created_ms / 1000,
            "stored_at": row.stored_at,
            "state": state,
            "delivered_at": delivered_at,
            "acked_at": row.acked_at,
            "inbox": row.rowid,
        }

    def _line_of(self, line_id: int) -> LineRuntime | None:
        for line in self.lines.values():
            if line.row.id == line_id:
                return line
        return None

    # -- the daemon

    async def serve(self, *, ready: asyncio.Event | None = None) -> None:
        """Listen, dial every line and serve the control socket until cancelled."""
        from hotline.station.control import serve_control  # the control server needs the requests

        host, port = _split(self.config.listen)
        async with contextlib.AsyncExitStack() as stack:
            try:
                listener = await stack.enter_async_context(
                    listen(
                        host,
                        port,
                        config=self.session_config,
                        peers=_Directory(self),
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
                for peer, line in self.lines.items():
                    self._tasks[peer] = tg.create_task(self._supervise(line))
                tg.create_task(serve_control(self))
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
                    self._route(channel)

    async def _supervise(self, line: LineRuntime) -> None:
        # a line's supervisor that fails (a bug) is logged and restarted; the other lines go on
        while True:
            try:
                await line.run()
            except Exception as exc:
                log.error("line supervisor failed", extra={"peer": line.peer}, exc_info=exc)
                await asyncio.sleep(1.0)

    def _route(self, channel: SecureChannel) -> None:
        line = self.line_by_static(channel.peer_static)
        assert self._tg is not None
        if line is None or not line.ready:
            self._tg.create_task(channel.close())
            return
        line.attach(channel, initiated=False, endpoint=channel.peer_address)

    def spawn(self, coro: Any) -> None:
        """Run ``coro`` as a child of the station (dropped when the station is shutting down)."""
        if self._tg is None:
            self._background.append(asyncio.ensure_future(coro))
            return
        try:
            self._tg.create_task(coro)
        except RuntimeError:
            coro.close()  # the station is stopping: what it would record no longer matters


def _log_unstored_initiation(stored: asyncio.Future[None]) -> None:
    # in memory the rule still holds; only a restart before the next stored dial could repeat it
    error = None if stored.cancelled() else stored.exception()
    if error is not None:
        why = error.reason if isinstance(error, StoreError) else repr(error)
        log.warning("could not store the last handshake timestamp", extra={"error": why})


def _text(row: MessageRow) -> str:
    if row.kind == Kind.TEXT:
        return row.body.decode("utf-8", "replace")
    if row.kind == Kind.DOC:
        from hotline.proto.document import DocMetaError, decode_meta

        try:
            meta = decode_meta(row.body)
        except DocMetaError:
            return "(a document we could not read)"
        return f"document {meta.name} ({meta.size:,} bytes, SHA-256 {meta.sha256.hex()[:16]}…)"
    return ""


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


def _split(endpoint: str) -> tuple[str, int]:
    from hotline.proto.cards import parse_endpoint

    return parse_endpoint(endpoint)


__all__ = ["Station", "parse_id", "show_id"]
