"""The asyncio protocol that drives one :class:`~hotline.proto.session.Session` over one TCP
connection (aioquic ``asyncio/protocol.py``): bytes and ``loop.time()`` in, events drained, what the
session wants written written, one timer armed at :meth:`Session.get_timer`, and the flow control
that keeps memory bounded whatever the peer does. :mod:`hotline.net.tcp` wraps it in
:class:`~hotline.net.tcp.SecureChannel` and dials and listens with it.
"""

from __future__ import annotations

import asyncio
import collections
from typing import assert_never

from hotline.net.pacer import PacedSocket, lead, pacer
from hotline.proto.carrier import Lane
from hotline.proto.carriermode import CarrierMode
from hotline.proto.errors import ErrorCode
from hotline.proto.events import (
    DataReceived,
    HandshakeCompleted,
    RekeyCompleted,
    RoundTripMeasured,
    SessionTerminated,
)
from hotline.proto.messages import Bytes
from hotline.proto.session import Session
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
#: Whether carrier sessions write their cells from the cell clock's thread (:mod:`hotline.net.pacer`)
#: rather than from the event loop, so that a busy loop does not move them.
PACED = True
#: With the cell clock, a responder writes each cell this share of the interval after its tick. The
#: responder's schedule starts when the initiator's first cell arrives, so without a shift its cells
#: would leave just as the initiator's arrive: whether the kernel acknowledges those alone (a bare
#: ACK) or with our next cell would then turn on tiny delays, and the count of bare ACKs would show
#: how busy the station is.
RESPONDER_SHIFT = 0.5


class ChannelClosed(Exception):
    """The channel is over; ``code`` and ``reason`` say why."""

    def __init__(self, code: ErrorCode, reason: str) -> None:
        super().__init__(f"{reason} ({code.name})")
        self.code = code
        self.reason = reason


class SessionProtocol(asyncio.Protocol):
    """Drives one Session over one TCP connection."""

    def __init__(
        self, make_session: collections.abc.Callable[[float, str | None], Session], *, responder: bool = False
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._make_session = make_session
        self.session: Session | None = None
        self.transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self.established: asyncio.Future[HandshakeCompleted] = self._loop.create_future()
        self.closed: asyncio.Future[ChannelClosed] = self._loop.create_future()
        self.received: collections.deque[bytes | memoryview] = collections.deque()
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
        self.on_close: collections.abc.Callable[[SessionProtocol], None] | None = None
        self._transmit_scheduled = False
        # carrier mode: the cell clock's queue for this connection, once the cells have started
        self._paced: PacedSocket | None = None
        self._responder = responder

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
        if self._paced is not None and (
            self.session is None or self.session.state is not SessionState.CLOSED
        ):
            self._paced.abort()  # the peer is gone: nothing queued can reach it
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

    def _process(self, *, arm: bool = True) -> None:
        """Drain events, transmit, and re-arm the timer: call after every input to the session
        (``arm=False``: a call that follows re-arms it)."""
        self._transmit_scheduled = False
        session = self.session
        assert session is not None and self.transport is not None
        if (
            session.carrier is not None
            and session.state is SessionState.ESTABLISHED
            and self._write_backlog() > CARRIER_WRITE_LIMIT
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
            if session.carrier is not None and self._paced is None:
                self._paced = self._attach_pacer()
            if self._paced is not None and session.carrier is not None:
                self._paced.write(out, self._write_at(session.carrier, self._loop.time()))
            else:
                self.transport.write(out)
            if session.carrier is not None:
                self._carrier_sent()
        if session.state is SessionState.CLOSED:
            self._cancel_timer()
            self.transport.close()
            # a peer that stops reading must not keep a closed session's socket open for ever
            self._loop.call_later(CLOSE_GRACE, self.transport.abort)
            if self._paced is not None:
                self._paced.close()
                self._loop.call_later(CLOSE_GRACE, self._paced.abort)
            return
        if not arm:
            return
        timer = session.get_timer()
        if self._paced is not None and session.carrier is not None:
            # the next cell is sealed ahead of its tick, and the cell clock writes it on time
            cell_at = session.carrier.next_deadline()
            if cell_at is not None and timer is not None:
                shift = self._shift(session.carrier)
                timer = min(timer, cell_at + shift - lead(session.carrier.setting.interval))
        self._arm_timer(timer)

    def _attach_pacer(self) -> PacedSocket | None:
        """The cell clock's queue for this connection, once the session is established and what
        the loop wrote before (the handshake) has left: from then on everything goes through it,
        in order."""
        transport, session = self.transport, self.session
        assert transport is not None and session is not None
        if not PACED or session.state is not SessionState.ESTABLISHED or transport.get_write_buffer_size():
            return None
        sock = transport.get_extra_info("socket")
        if sock is None:
            return None
        interval = session.carrier.setting.interval if session.carrier is not None else None
        return pacer().attach(sock.fileno(), interval)

    def _write_backlog(self) -> int:
        """Bytes written and not yet taken by the socket (ours and the cell clock's)."""
        assert self.transport is not None
        paced = 0 if self._paced is None else self._paced.backlog
        return self.transport.get_write_buffer_size() + paced

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
        session = self.session
        if session is None:
            return
        now = self._loop.time()
        session.handle_timer(now)
        carrier = session.carrier
        if self._paced is None or carrier is None:
            self._process()
            return
        self._process(arm=False)
        if session.state is SessionState.ESTABLISHED:
            # seal the next cell now and let the cell clock write it at its tick: whatever keeps
            # the loop busy then does not move it
            cell_at = carrier.next_deadline()
            lead_time = lead(carrier.setting.interval) - self._shift(carrier)
            ahead = cell_at is not None and cell_at - lead_time <= now
            if ahead and cell_at is not None and not carrier.seal_due(cell_at):
                session.handle_timer(cell_at)  # the key is spent: the session's timer ends it
        self._process()

    def _shift(self, carrier: CarrierMode) -> float:
        """How long after its tick each cell is written: a responder writes half an interval after,
        so that on a short path neither end's cells arrive just as it sends its own."""
        return RESPONDER_SHIFT * carrier.setting.interval if self._responder else 0.0

    def _write_at(self, carrier: CarrierMode, now: float) -> float:
        """When the cells just sealed go: the last one's tick (and shift), unless it was taken
        ahead of the schedule (a ``Close``), which goes at once."""
        deadline = carrier.next_deadline()
        if deadline is None:
            return now
        due = deadline - carrier.setting.interval
        if due > now + lead(carrier.setting.interval):
            return now
        return max(now, due + self._shift(carrier))

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

    def send(self, data: bytes | list[Bytes], lane: Lane) -> None:
        """Queue a payload (or its parts, borrowed as :meth:`Session.send_parts` says): full records
        go out now, the rest on the next loop turn, so a burst of small sends shares records
        (aioquic's ``_transmit_soon``). In carrier mode it goes in ``lane`` and leaves with the
        cells (raises :class:`LaneFull` when the lane has no room)."""
        session = self.session
        assert session is not None and self.transport is not None
        if isinstance(data, list):
            session.send_parts(data, self._loop.time(), lane)
        else:
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
            if self._paced is not None:
                self._paced.write(out, self._loop.time())  # behind the cells already queued
            else:
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

    def own_queued(self) -> None:
        """Copy what is queued of borrowed parts (:meth:`Session.own_queued`)."""
        if self.session is not None:
            self.session.own_queued()

    def take(self) -> bytes | memoryview:
        data = self.received.popleft()
        self.received_bytes -= len(data)
        if self._read_paused and self.received_bytes < RECEIVE_HIGH_WATER // 2:
            self._read_paused = False
            self._update_reading()
        return data


__all__ = [
    "CARRIER_WRITE_LIMIT",
    "CLOSE_GRACE",
    "RECEIVE_HIGH_WATER",
    "WRITE_HIGH_WATER",
    "ChannelClosed",
    "SessionProtocol",
]
