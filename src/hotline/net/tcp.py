"""A small asyncio TCP adapter around :class:`hotline.proto.session.Session`.

It does only what an adapter must (aioquic ``asyncio/protocol.py``): feed bytes and
``loop.time()`` in, drain events, write what the session wants written, and keep one timer armed
at :meth:`Session.get_timer`. Protocol decisions stay in the core.

:func:`connect` dials and returns a :class:`SecureChannel` once the handshake is done, and
:func:`connect_first` races several endpoints with staggered starts (happy eyeballs);
:func:`listen` accepts connections and hands out channels only after their peer authenticated.
Unauthenticated connections never reach the caller: they are read and discarded (nothing is ever
written back) until the handshake deadline closes them, and there are at most ``max_pending`` of
them at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Sequence

from hotline.net.driver import ChannelClosed, SessionProtocol
from hotline.proto.carrier import CarrierStatus, Lane, LaneFull
from hotline.proto.carriermode import CarrierSetting
from hotline.proto.constants import MAX_DATA_LEN
from hotline.proto.errors import ErrorCode
from hotline.proto.events import (
    HandshakeCompleted,
)
from hotline.proto.handshake import PeerDirectory
from hotline.proto.messages import Bytes, Data, encode_message
from hotline.proto.ratelimit import HandshakeLimits
from hotline.proto.replay import TimestampGuard
from hotline.proto.session import Session, SessionConfig

# what a payload gains on its way into a lane: the message around it, at its longest (bin 32)
_DATA_OVERHEAD = len(encode_message(Data(bytes(2**16)))) - 2**16
#: :func:`connect_first` dials the next endpoint after this long without a session from the ones
#: before (seconds). A handshake takes two round trips with the TCP connect, well under this on
#: any terrestrial or satellite path; a silent endpoint costs this, not a whole handshake timeout.
DIAL_STAGGER = 2.0


class SecureChannel:
    """An authenticated Hotline session over TCP. One task at a time receives; any number may send
    and wait in :meth:`drain`."""

    def __init__(self, protocol: SessionProtocol, handshake: HandshakeCompleted) -> None:
        self._p = protocol
        #: The peer's static public key (32 bytes).
        self.peer_static = handshake.peer_static
        #: The Noise protocol name.
        self.protocol_name = handshake.protocol_name
        #: The first handshake's hash.
        self.handshake_hash = handshake.handshake_hash

    @property
    def rtt(self) -> float | None:
        """Latest keepalive round-trip time in seconds, if measured."""
        return self._p.rtt

    @property
    def rekeys(self) -> int:
        """In-band rekeys completed so far."""
        return self._p.rekeys

    @property
    def epoch(self) -> int:
        """Handshakes completed on this session (1 + rekeys)."""
        assert self._p.session is not None
        return self._p.session.epoch

    @property
    def records(self) -> tuple[int, int]:
        """Transport records (sent, received) so far."""
        assert self._p.session is not None
        return self._p.session.records_sent, self._p.session.records_received

    @property
    def is_closed(self) -> bool:
        """Whether the session has ended."""
        return self._p.closed.done()

    @property
    def close_reason(self) -> ChannelClosed | None:
        """Why the session ended, once it has."""
        return self._p.closed.result() if self._p.closed.done() else None

    @property
    def carrier(self) -> CarrierSetting | None:
        """The session's carrier setting (docs/protocol.md §14), or None when it runs without one."""
        session = self._p.session
        return None if session is None or session.carrier is None else session.carrier.setting

    def carrier_status(self) -> CarrierStatus | None:
        """What the carrier sent and what waits in it, by lane; None without a carrier."""
        session = self._p.session
        return None if session is None or session.carrier is None else session.carrier.status()

    def room(self, lane: Lane) -> int | None:
        """In carrier mode, the longest payload ``lane`` takes now (0: full); None without a carrier,
        where only :meth:`drain` holds a sender back."""
        session = self._p.session
        if session is None or session.carrier is None:
            return None
        return max(0, session.carrier.room(lane) - _DATA_OVERHEAD)

    def send_nowait(self, data: bytes, lane: Lane = Lane.MESSAGES) -> None:
        """Queue one payload (at most :data:`MAX_DATA_LEN` bytes) without waiting for the socket;
        in carrier mode, in ``lane`` (docs/protocol.md §14.2).

        Raises:
            ChannelClosed: the session is over, or its connection is gone.
            LaneFull: carrier mode, and the lane has no room for it now (nothing was queued): send
                it again after :meth:`wait_room`, or use :meth:`send`.
        """
        p = self._p
        if p.closed.done():
            raise p.closed.result()
        if p.transport is None or p.transport.is_closing():  # gone: asyncio warns at each later write
            raise ChannelClosed(ErrorCode.CONNECTION_LOST, "connection lost")
        p.send(data, lane)

    def send_parts_nowait(self, parts: list[Bytes], lane: Lane = Lane.MESSAGES) -> None:
        """Like :meth:`send_nowait` for the payload ``b"".join(parts)``, without copying the parts:
        they are borrowed, and must not change until :meth:`own_queued` (or the next loop turn, which
        seals them). In carrier mode they are joined at once.

        Raises:
            ChannelClosed: the session is over, or its connection is gone.
            LaneFull: carrier mode, and the lane has no room for it now (nothing was queued).
        """
        p = self._p
        if p.closed.done():
            raise p.closed.result()
        if p.transport is None or p.transport.is_closing():
            raise ChannelClosed(ErrorCode.CONNECTION_LOST, "connection lost")
        p.send(parts, lane)

    def own_queued(self) -> None:
        """Copy what is still queued of parts given to :meth:`send_parts_nowait` (at most about a
        record's worth), so that their owner may change them now."""
        self._p.own_queued()

    async def send(self, data: bytes, lane: Lane = Lane.MESSAGES) -> None:
        """Send one payload, waiting while the socket's write buffer is full, and in carrier mode
        while ``lane`` has no room for it.

        Raises:
            ChannelClosed: the session is over, or its connection is gone.
        """
        while True:
            try:
                self.send_nowait(data, lane)
            except LaneFull:
                await self._p.wait_room()
                continue
            break
        await self._p.drain()

    async def wait_room(self) -> None:
        """Wait until the next cells have left (carrier mode: lanes have more room), or the session
        has ended. Returns at once without a carrier."""
        if self.carrier is not None:
            await self._p.wait_room()

    def flush(self) -> None:
        """Put what :meth:`send_nowait` queued on the wire now, not on the next loop turn: for a lone
        payload someone waits for (a receipt), where a turn of latency matters more than sharing a
        record with whatever else this turn would have sent."""
        self._p.flush()

    async def drain(self) -> None:
        """Wait while the socket's write buffer is full (after :meth:`send_nowait` calls)."""
        await self._p.drain()

    @property
    def peer_address(self) -> str:
        """``host:port`` of the other end, as the socket sees it."""
        transport = self._p.transport
        peer = transport.get_extra_info("peername") if transport is not None else None
        return f"{peer[0]}:{peer[1]}" if peer else "?"

    @property
    def peer_ip_port(self) -> tuple[str, int] | None:
        """``(ip, port)`` of the other end, or None once the socket is gone."""
        transport = self._p.transport
        peer = transport.get_extra_info("peername") if transport is not None else None
        return (str(peer[0]), int(peer[1])) if peer else None

    async def receive(self) -> bytes | memoryview:
        """The next payload, in order (a large one as a view of the bytes it arrived in, which never
        change).

        Raises:
            ChannelClosed: the session ended and every received payload has been returned.
        """
        p = self._p
        while not p.received:
            if p.closed.done():
                raise p.closed.result()
            await p.wait_data()
        return p.take()

    def close_nowait(self, code: ErrorCode = ErrorCode.LOCAL_CLOSE, reason: str = "closed") -> None:
        """Close the session, telling the peer ``code`` and ``reason`` (docs/protocol.md §6), without
        waiting for the connection to end. Once the session has ended this does nothing."""
        p = self._p
        if p.session is not None and not p.closed.done():
            p.session.close(p._loop.time(), code, reason)
            p._process()

    async def close(self, code: ErrorCode = ErrorCode.LOCAL_CLOSE, reason: str = "closed") -> None:
        """Close the session (telling the peer, as :meth:`close_nowait`) and wait for the connection
        to end."""
        p = self._p
        self.close_nowait(code, reason)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(p.closed), 5)

    async def wait_closed(self) -> ChannelClosed:
        """Wait until the session ends; return why."""
        return await asyncio.shield(self._p.closed)


async def connect(
    host: str,
    port: int,
    *,
    config: SessionConfig,
    peer_static: bytes,
    line_key: bytes,
) -> SecureChannel:
    """Dial ``host:port`` and complete the handshake.

    The initiation's timestamp comes from ``config.initiation_clock`` (the wall clock without one),
    taken only once the connection is made. Cancelled while the handshake runs, the connection is
    aborted rather than left to the handshake timeout.

    Raises:
        ChannelClosed: the handshake failed or timed out.
        OSError: the connection could not be made.
    """
    loop = asyncio.get_running_loop()
    clock = config.initiation_clock or time.time_ns

    def make(now: float, _source: str | None) -> Session:
        return Session.initiator(
            config, peer_static=peer_static, line_key=line_key, now=now, wall_time_ns=clock()
        )

    transport, protocol = await loop.create_connection(lambda: SessionProtocol(make), host, port)
    try:
        handshake = await protocol.established
    except BaseException:
        transport.abort()
        raise
    return SecureChannel(protocol, handshake)


async def connect_first(
    endpoints: Sequence[tuple[str, int]],
    *,
    config: SessionConfig,
    peer_static: bytes,
    line_key: bytes,
    stagger: float = DIAL_STAGGER,
) -> tuple[int, SecureChannel]:
    """Dial ``endpoints`` in order with staggered starts; keep the first session that authenticates.

    Happy eyeballs (RFC 8305 §5) for our handshake: the first endpoint is dialled at once, and each
    next one as soon as an attempt fails or after ``stagger`` seconds without a session, while the
    earlier attempts go on. So a silent endpoint costs ``stagger`` seconds rather than a handshake
    timeout, and a lone endpoint on a slow link still gets the whole timeout. Each attempt has
    ``config.handshake_timeout`` seconds to connect and authenticate. Once one wins, the others are
    cancelled (their connections aborted), and one that authenticated too is closed.

    Returns:
        The index of the endpoint that answered, and its channel.

    Raises:
        ValueError: no endpoints.
        ChannelClosed, OSError, TimeoutError: every attempt failed (the first endpoint's error).
    """
    if not endpoints:
        raise ValueError("no endpoints to dial")
    outcomes: asyncio.Queue[tuple[int, SecureChannel | Exception]] = asyncio.Queue()

    async def attempt(index: int, host: str, port: int) -> None:
        try:
            async with asyncio.timeout(config.handshake_timeout):
                channel = await connect(host, port, config=config, peer_static=peer_static, line_key=line_key)
        except (OSError, ChannelClosed, TimeoutError) as exc:
            outcomes.put_nowait((index, exc))
        else:
            outcomes.put_nowait((index, channel))

    winner: tuple[int, SecureChannel] | None = None
    errors: dict[int, Exception] = {}
    try:
        async with asyncio.TaskGroup() as tg:
            attempts = [tg.create_task(attempt(0, *endpoints[0]))]
            while winner is None and len(errors) < len(endpoints):
                left = len(attempts) < len(endpoints)
                try:
                    async with asyncio.timeout(stagger if left else None):
                        index, outcome = await outcomes.get()
                except TimeoutError:
                    outcome = None  # nothing yet: time to try the next endpoint alongside
                if isinstance(outcome, SecureChannel):
                    winner = (index, outcome)
                    break
                if outcome is not None:
                    errors[index] = outcome
                if left:
                    attempts.append(tg.create_task(attempt(len(attempts), *endpoints[len(attempts)])))
            for task in attempts:
                task.cancel()
    except BaseException:
        if winner is not None:
            winner[1].close_nowait()
        raise
    finally:
        while not outcomes.empty():  # sessions that authenticated after the winner
            _, late = outcomes.get_nowait()
            if isinstance(late, SecureChannel):
                late.close_nowait()
    if winner is None:
        raise errors[0]
    return winner


class Listener:
    """Accepts connections; :meth:`accept` yields channels whose peer has authenticated."""

    def __init__(
        self,
        *,
        config: SessionConfig,
        peers: PeerDirectory,
        guard: TimestampGuard,
        max_pending: int,
        limits: HandshakeLimits | None = None,
    ) -> None:
        self._config = config
        self._peers = peers
        self._guard = guard
        #: The handshake rate limits of every connection (issue 13, F12).
        self.limits = limits if limits is not None else HandshakeLimits()
        self._max_pending = max_pending
        self._pending: dict[SessionProtocol, None] = {}  # insertion-ordered: oldest first
        self._accepted: asyncio.Queue[SecureChannel] = asyncio.Queue()
        self.server: asyncio.Server | None = None
        #: Connections closed without authenticating (strangers, garbage, timeouts).
        self.dropped = 0

    @property
    def port(self) -> int:
        """The bound TCP port."""
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    @property
    def pending(self) -> int:
        """Connections still waiting to authenticate."""
        return len(self._pending)

    def _protocol(self) -> SessionProtocol:
        def make(now: float, source: str | None) -> Session:
            return Session.responder(
                self._config, peers=self._peers, guard=self._guard, now=now, limits=self.limits, source=source
            )

        protocol = SessionProtocol(make, responder=True)
        protocol.on_close = self._on_pending_closed
        if len(self._pending) >= self._max_pending:
            # shed the oldest half-open connection rather than grow without bound
            oldest = next(iter(self._pending))
            del self._pending[oldest]
            oldest.evicted = True  # aborted in connection_made if that has not happened yet
            if oldest.transport is not None:
                oldest.transport.abort()
        self._pending[protocol] = None
        protocol.established.add_done_callback(lambda fut: self._on_established(protocol, fut))
        return protocol

    def _on_established(self, protocol: SessionProtocol, fut: asyncio.Future[HandshakeCompleted]) -> None:
        self._pending.pop(protocol, None)
        if fut.cancelled() or fut.exception() is not None:
            return
        protocol.on_close = None
        self._accepted.put_nowait(SecureChannel(protocol, fut.result()))

    def _on_pending_closed(self, protocol: SessionProtocol) -> None:
        self._pending.pop(protocol, None)
        self.dropped += 1

    async def accept(self) -> SecureChannel:
        """The next authenticated channel."""
        return await self._accepted.get()


@contextlib.asynccontextmanager
async def listen(
    host: str,
    port: int,
    *,
    config: SessionConfig,
    peers: PeerDirectory,
    guard: TimestampGuard,
    max_pending: int = 1024,
    limits: HandshakeLimits | None = None,
) -> AsyncIterator[Listener]:
    """Listen on ``host:port`` (port 0 picks one; see :attr:`Listener.port`) until the block exits.

    Every connection's handshake is held to ``limits`` (default ones if None; issue 13, F12).
    """
    loop = asyncio.get_running_loop()
    listener = Listener(config=config, peers=peers, guard=guard, max_pending=max_pending, limits=limits)
    listener.server = await loop.create_server(listener._protocol, host, port)
    try:
        yield listener
    finally:
        listener.server.close()
        await listener.server.wait_closed()


__all__ = [
    "DIAL_STAGGER",
    "MAX_DATA_LEN",
    "ChannelClosed",
    "Listener",
    "SecureChannel",
    "connect",
    "connect_first",
    "listen",
]
