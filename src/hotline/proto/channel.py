"""The established phase of a session: messages in, pings, rekeys and the timers that keep a
channel alive (docs/protocol.md §5.3 to §5.5).

A :class:`Channel` reads the messages of each authenticated record and acts on them, and runs the
timers of an established session. It owns no state of its own: it works the session's
:class:`~hotline.proto.transport.Transport`, :class:`~hotline.proto.keepalive.Keepalive` and
:class:`~hotline.proto.rekeying.Rekeying`, and it leaves the session's states to the
:class:`~hotline.proto.session.Session`: what it needs of it comes in as callables, and an end it
finds is handed back as an :data:`Ending` (a timer) or through ``peer_closed`` (a ``Close``).
Both roles follow the same rules here. In carrier mode (docs/protocol.md §14) it also seals the
cells that fall due and reads every record as a cell, through the session's
:class:`~hotline.proto.carriermode.CarrierMode`.
"""

from __future__ import annotations

from collections.abc import Callable

from hotline.proto.carriermode import CarrierMode
from hotline.proto.errors import ErrorCode, LocalProtocolError, RemoteProtocolError
from hotline.proto.events import DataReceived, RoundTripMeasured, SessionEvent
from hotline.proto.keepalive import Keepalive
from hotline.proto.messages import (
    Close,
    Data,
    DataView,
    Message,
    Ping,
    Pong,
    ReceivedMessage,
    RekeyInit,
    RekeyRequest,
    RekeyResponse,
)
from hotline.proto.rekeying import Rekeying
from hotline.proto.transport import DirectionKey, Transport

#: Why a timer ends a session: the code and reason to tell the peer.
Ending = tuple[ErrorCode, str]

_KEYS_EXPIRED: Ending = (ErrorCode.KEY_EXPIRED, "keys expired before a rekey succeeded")
_REKEY_UNANSWERED: Ending = (ErrorCode.HANDSHAKE_TIMEOUT, "the peer did not answer a rekey")
_PEER_IDLE: Ending = (ErrorCode.IDLE_TIMEOUT, "nothing received from the peer")
_KEY_SPENT: Ending = (ErrorCode.KEY_EXPIRED, "key exhausted")


class Channel:
    """The traffic and timers of one established session. Not thread-safe.

    ``send`` queues a message for the peer, ``report`` queues a session event, ``peer_closed``
    ends the session on the peer's ``Close`` and ``is_closed`` tells whether it has ended;
    ``carrier`` is the session's carrier in carrier mode (None otherwise).
    """

    __slots__ = (
        "_carrier",
        "_is_closed",
        "_keepalive",
        "_peer_closed",
        "_reject_after_time",
        "_rekeying",
        "_report",
        "_send",
        "_transport",
    )

    def __init__(
        self,
        transport: Transport,
        keepalive: Keepalive,
        rekeying: Rekeying,
        *,
        send: Callable[[Message, float], None],
        report: Callable[[SessionEvent], None],
        peer_closed: Callable[[ErrorCode, str], None],
        is_closed: Callable[[], bool],
        carrier: CarrierMode | None = None,
    ) -> None:
        self._transport = transport
        self._carrier = carrier
        self._keepalive = keepalive
        self._rekeying = rekeying
        self._send = send
        self._report = report
        self._peer_closed = peer_closed
        self._is_closed = is_closed

    def use_carrier(self, carrier: CarrierMode | None) -> None:
        """Set the session's carrier: a responder learns it with the initiator's key, before any
        record of the session is sealed."""
        self._carrier = carrier

    # -- timers (docs/protocol.md §5.4, §5.5) ------------------------------------------------------

    def deadline(self) -> float:
        """The earliest deadline of the established session."""
        keepalive = self._keepalive
        deadlines = [keepalive.ping_at, self._transport.keys_expire_at()]
        cell_at = None if self._carrier is None else self._carrier.next_deadline()
        for deadline in (keepalive.idle_at, self._rekeying.deadline(), cell_at):
            if deadline is not None:
                deadlines.append(deadline)
        return min(deadlines)

    def handle_timer(self, now: float) -> Ending | None:
        """Run whatever is due at ``now``; returns why the session must end, if it must."""
        self._transport.retire_superseded(now)
        if now >= self._transport.keys_expire_at():
            return _KEYS_EXPIRED
        idle_at = self._keepalive.idle_at
        if idle_at is not None and now >= idle_at:
            return _PEER_IDLE
        if self._rekeying.timed_out(now):
            return _REKEY_UNANSWERED
        if self._rekeying.due(now):
            self._rekeying.start(now)
        if now >= self._keepalive.ping_at:
            self.ping(now)
        if self._carrier is not None and not self._carrier.seal_due(now):
            return _KEY_SPENT
        return None

    def sent_volume(self) -> None:
        """Call when a record we sealed took its key to the volume limit (§5.4)."""
        self._rekeying.volume_reached(self._keepalive.last_sent)

    def established(self, now: float, *, confirm: bool) -> None:
        """Call when the session is established: both sides have just spoken, and in carrier mode
        the first cell is due. With ``confirm`` (the initiator), a ``Ping`` confirms the keys to
        the responder at once (in carrier mode, in the first cell)."""
        self._keepalive.restart(now)
        if self._carrier is not None:
            self._carrier.start(now)
        if confirm:
            self.ping(now)
        self._seal_cells(now)

    def _seal_cells(self, now: float) -> None:
        if self._carrier is not None and not self._carrier.seal_due(now):
            raise LocalProtocolError(_KEY_SPENT[1], _KEY_SPENT[0])

    def ping(self, now: float) -> None:
        """Send a keepalive ping (also how the initiator confirms its keys at once)."""
        self._send(self._keepalive.new_ping(now), now)

    # -- receiving (docs/protocol.md §5.3) ---------------------------------------------------------

    def receive(
        self, recv: DirectionKey, plaintext: bytes, now: float, *, peer_static: bytes, line_key: bytes | None
    ) -> None:
        """Act on the messages of one authenticated record, read under ``recv``.

        Raises:
            RemoteProtocolError: the record or a message in it breaks the protocol.
        """
        transport = self._transport
        self._keepalive.received(now)
        carrier = self._carrier
        messages = transport.messages_in(plaintext) if carrier is None else carrier.messages_in(plaintext)
        for message in messages:
            self._dispatch(message, now, peer_static, line_key)
            if self._is_closed():
                return  # nothing counts after the peer's Close, and we say nothing more
        transport.check_spent(recv)
        if recv is transport.recv and transport.volume_exceeded(recv):  # not a key this record retired
            self._rekeying.volume_reached(now)

    def _dispatch(
        self, message: ReceivedMessage | Message, now: float, peer_static: bytes, line_key: bytes | None
    ) -> None:
        match message:
            case DataView(body=view):
                self._report(DataReceived(view))
            case Data(body=body):
                self._report(DataReceived(body))
            case Ping(id=ping_id):
                self._send(Pong(ping_id), now)
            case Pong(id=ping_id):
                rtt = self._keepalive.pong(ping_id, now)
                if rtt is not None:
                    self._report(RoundTripMeasured(rtt))
            case RekeyInit(handshake=handshake):
                assert line_key is not None
                self._rekeying.answer(handshake, now, peer_static=peer_static, line_key=line_key)
            case RekeyResponse(handshake=handshake):
                self._rekeying.finish(handshake, now)
            case RekeyRequest():
                self._rekeying.requested_by_peer(peer_static, now)
            case Close(code=code, reason=reason):
                try:
                    error = ErrorCode(code)
                except ValueError:
                    error = ErrorCode.PROTOCOL_VIOLATION
                self._peer_closed(error, reason)
            case _:  # pragma: no cover - the decoder only yields the union
                raise RemoteProtocolError("unknown message")
