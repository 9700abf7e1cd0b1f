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
import collections
import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from typing import assert_never

from hotline.proto.carrier import CarrierStatus, Lane, LaneFull
from hotline.proto.carriermode import CarrierSetting
from hotline.proto.constants import MAX_DATA_LEN
from hotline.proto.errors import ErrorCode
from hotline.proto.events import (
    DataReceived,
    HandshakeCompleted,
    RekeyCompleted,
    RoundTripMeasured,
    SessionTerminated,
)
from hotline.proto.handshake import PeerDirectory
from hotline.proto.messages import Data, encode_message
from hotline.proto.ratelimit import HandshakeLimits
from hotline.proto.replay import TimestampGuard
from hotline.proto.session import Session, SessionConfig
from hotline.proto.states import SessionState

#: Seconds a closed session's socket may take to flush before it is aborted.
CLOSE_GRACE = 5.0
#: Pause reading from the socket when this many bytes of received payloads wait to be consumed;
#: resume below half of it. Memory per channel stays bounded whatever the peer sends.
RECEIVE_HIGH_WATER = 4 * 2**20
#: Pause the sender when this much waits in the socket's user-space write buffer.
WRITE_HIGH_WATER = 2**20
#: A session in carrier mode ends when this much of its cells waits in the socket's user-space
#: buffer: the peer has stopped reading (or the path cannot carry the cells), and a carrier never
#: waits, so without a bound its cells would pile up in memory (160 s of the default carrier).
CARRIER_WRITE_LIMIT = 8 * 2**20
# what a payload gains on its way into a lane: the message around it, at its longest (bin 32)
_DATA_OVERHEAD = len(encode_message(Data(bytes(2**16)))) - 2**16
#: :func:`connect_first` dials the next endpoint after this long without a session from the ones
#: before (seconds). A handshake takes two round trips with the TCP connect, well under this on
#: any terrestrial or satellite path; a silent endpoint costs this, not a whole handshake timeout.
DIAL_STAGGER = 2.0


class ChannelClosed(Exception):
    """The channel is over; ``code`` and ``reason`` say why."""

    def __init__(self, code: ErrorCode, reason: str) -> None:
        super().__init__(f"{reason} ({code.name})")
        self.code = code
        self.reason = reason


class _SessionProtocol(asyncio.Protocol):
    """Drives one Session over one TCP connection."""

    def __init__(self, make_session: collections.abc.Callable[[float, str | None], Session]) -> None:
        self._loop = asyncio.get_running_loop()
        self._make_session = make_session
        self.session: Session | None = None
        self.transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self.established: asyncio.Future[HandshakeCompleted] = self._loop.create_future()
        self.closed: asyncio.Future[ChannelClosed] = self._loop.create_future()
        self.received: collections.deque[bytes] = collections.deque()
        self.received_bytes = 0
        self._data_waiter: asyncio.Future[None] | None = None
        self._write_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
        # carrier mode: senders whose lane was full wait here for the next cells to leave
        self._room_waiter: asyncio.Future[None] | None = None
        # reading stops while the application has too much unread (``_read_paused``) or while the
        # socket will not take what we write (``_write_paused``): a peer that floods us with pings
        # and never reads cannot make our answers pile up
        self._read_paused = False
        #: Set by the listener when it sheds this connection before it was even made.
        self.evicted = False
        self._reading_stopped = False
        self.rtt: float | None = None
        self.rekeys = 0
        self.on_close: collections.abc.Callable[[_SessionProtocol], None] | None = None
        self._transmit_scheduled = False

    # -- asyncio.Protocol ----------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        # room for a whole read block of a document before the sender is paused: pausing and
        # resuming after every 64 KiB (asyncio's default) costs a wake-up each time
        transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)
        if self.evicted:
            transport.abort()
            return
        peer = transport.get_extra_info("peername")
        self.session = self._make_session(self._loop.time(), str(peer[0]) if peer else None)
        self._process()

    def data_received(self, data: bytes) -> None:
        assert self.session is not None
        self.session.receive_data(data, self._loop.time())
        self._process()

    def eof_received(self) -> bool | None:
        if self.session is not None:
            self.session.receive_data(b"", self._loop.time())
            self._process()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if self.session is not None and self.session.state is not SessionState.CLOSED:
            self.session.receive_data(b"", self._loop.time())
            self._process()
        self._finish(ChannelClosed(ErrorCode.CONNECTION_LOST, str(exc or "connection lost")))

    def pause_writing(self) -> None:
        self._write_paused = True
        self._update_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        self._update_reading()
        if self._drain_waiter is not None and not self._drain_waiter.done():
            self._drain_waiter.set_result(None)

    def _update_reading(self) -> None:
        transport, session = self.transport, self.session
        if transport is None or session is None or transport.is_closing():
            return
        stop = self._read_paused or self._write_paused
        if stop != self._reading_stopped:
            self._reading_stopped = stop
            if stop:
                transport.pause_reading()
            else:
                transport.resume_reading()
            # not reading must not look like the peer's silence (the timer re-arms on the next
            # turn of _process; an earlier wake-up that finds nothing due is harmless)
            session.pause_reading(stop, self._loop.time())

    # -- driving the session --------------------------------------------------------------------------

    def _process(self) -> None:
        """Drain events, transmit, and re-arm the timer: call after every input to the session."""
        self._transmit_scheduled = False
        session = self.session
        assert session is not None and self.transport is not None
        if (
            session.carrier is not None
            and session.state is SessionState.ESTABLISHED
            and self.transport.get_write_buffer_size() > CARRIER_WRITE_LIMIT
        ):
            # a carrier never waits: for a peer that reads nothing its cells would pile up here
            session.close(self._loop.time(), ErrorCode.IDLE_TIMEOUT, "the peer stopped reading the carrier")
        while (event := session.next_event()) is not None:
            match event:
                case DataReceived(data=data):
                    self.received.append(data)
                    self.received_bytes += len(data)
                    if self._data_waiter is not None and not self._data_waiter.done():
                        self._data_waiter.set_result(None)
                    if self.received_bytes >= RECEIVE_HIGH_WATER and not self._read_paused:
                        self._read_paused = True
                        self._update_reading()
                case HandshakeCompleted():
                    if not self.established.done():
                        self.established.set_result(event)
                case RekeyCompleted():
                    self.rekeys += 1
                case RoundTripMeasured(rtt=rtt):
                    self.rtt = rtt
                case SessionTerminated(code=code, reason=reason):
                    self._finish(ChannelClosed(code, reason))
                case _:
                    assert_never(event)
        out = session.data_to_send()
        if out and not self.transport.is_closing():
            self.transport.write(out)
            if session.carrier is not None:
                self._carrier_sent()
        if session.state is SessionState.CLOSED:
            self._cancel_timer()
            self.transport.close()
            # a peer that stops reading must not keep a closed session's socket open for ever
            self._loop.call_later(CLOSE_GRACE, self.transport.abort)
            return
        self._arm_timer(session.get_timer())

    def _carrier_sent(self) -> None:
        """Cells left: lanes have room again."""
        waiter = self._room_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _arm_timer(self, at: float | None) -> None:
        # Deadlines mostly move later (every send pushes the keepalive back): keep an earlier
        # wake-up armed; when it fires, handle_timer does nothing early and _process re-arms.
        if at is None:
            self._cancel_timer()
            return
        if self._timer_at is not None and self._timer_at <= at:
            return
        self._cancel_timer()
        self._timer_at = at
        self._timer = self._loop.call_at(at, self._on_timer)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None
        self._timer_at = None

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        if self.session is not None:
            self.session.handle_timer(self._loop.time())
            self._process()

    def _finish(self, closed: ChannelClosed) -> None:
        if not self.closed.done():
            self.closed.set_result(closed)
        if not self.established.done():
            self.established.set_exception(closed)
            self.established.exception()  # mark retrieved: a dropped stranger is not an error
        for waiter in (self._data_waiter, self._drain_waiter, self._room_waiter):
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
        if self.on_close is not None:
            callback, self.on_close = self.on_close, None
            callback(self)

    # -- used by SecureChannel ------------------------------------------------------------------------

    def send(self, data: bytes, lane: Lane) -> None:
        """Queue a payload: full records go out now, the rest on the next loop turn, so a burst
        of small sends shares records (aioquic's ``_transmit_soon``). In carrier mode it goes in
        ``lane`` and leaves with the cells (raises :class:`LaneFull` when the lane has no room)."""
        session = self.session
        assert session is not None and self.transport is not None
        session.send_data(data, self._loop.time(), lane)
        if session.carrier is not None:
            return  # the timer seals the cells: nothing to write before it fires
        if session.has_full_record:
            self.transport.write(session.data_to_send(flush=False))
        if not self._transmit_scheduled:
            self._transmit_scheduled = True
            self._loop.call_soon(self._process)

    def flush(self) -> None:
        """Write what is queued now instead of on the next loop turn (for a lone, urgent payload)."""
        session = self.session
        if session is None or self.transport is None or self.transport.is_closing():
            return
        out = session.data_to_send()
        if out:
            self.transport.write(out)

    async def wait_room(self) -> None:
        # like drain: one shared future, each waiter behind a shield
        if not self.closed.done():
            if self._room_waiter is None or self._room_waiter.done():
                self._room_waiter = self._loop.create_future()
            await asyncio.shield(self._room_waiter)

    async def wait_data(self) -> None:
        self._data_waiter = self._loop.create_future()
        await self._data_waiter

    async def drain(self) -> None:
        if self._write_paused and not self.closed.done():
            # several tasks write on one session (a line's entries, a document's chunks, a call's
            # audio) and may wait here at once: they share one future, so none is forgotten, and
            # each waits behind a shield, so one that is cancelled does not wake the others
            if self._drain_waiter is None or self._drain_waiter.done():
                self._drain_waiter = self._loop.create_future()
            await asyncio.shield(self._drain_waiter)

    def take(self) -> bytes:
        data = self.received.popleft()
        self.received_bytes -= len(data)
        if self._read_paused and self.received_bytes < RECEIVE_HIGH_WATER // 2:
            self._read_paused = False
            self._update_reading()
        return data


class SecureChannel:
    """An authenticated Hotline session over TCP. One task at a time receives; any number may send
    and wait in :meth:`drain`."""

    def __init__(self, protocol: _SessionProtocol, handshake: HandshakeCompleted) -> None:
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

    async def receive(self) -> bytes:
        """The next payload, in order.

        Raises:
            ChannelClosed: the session ended and every received payload has been returned.
        """
        p = self._p
        while not p.received:
            if p.closed.done():
                raise p.closed.result()
            await p.wait_data()
        return p.take()

    def close_nowait(self) -> None:
        """Close the session (telling the peer) without waiting for the connection to end."""
        p = self._p
        if p.session is not None and not p.closed.done():
            p.session.close(p._loop.time(), ErrorCode.LOCAL_CLOSE, "closed")
            p._process()

    async def close(self) -> None:
        """Close the session (telling the peer) and wait for the connection to end."""
        p = self._p
        self.close_nowait()
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

    transport, protocol = await loop.create_connection(lambda: _SessionProtocol(make), host, port)
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
        self._pending: dict[_SessionProtocol, None] = {}  # insertion-ordered: oldest first
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

    def _protocol(self) -> _SessionProtocol:
        def make(now: float, source: str | None) -> Session:
            return Session.responder(
                self._config, peers=self._peers, guard=self._guard, now=now, limits=self.limits, source=source
            )

        protocol = _SessionProtocol(make)
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

    def _on_established(self, protocol: _SessionProtocol, fut: asyncio.Future[HandshakeCompleted]) -> None:
        self._pending.pop(protocol, None)
        if fut.cancelled() or fut.exception() is not None:
            return
        protocol.on_close = None
        self._accepted.put_nowait(SecureChannel(protocol, fut.result()))

    def _on_pending_closed(self, protocol: _SessionProtocol) -> None:
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
