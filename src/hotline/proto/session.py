"""The Session: Hotline's sans-IO state machine for one line connection (docs/protocol.md §4, §5).

A Session is driven by three kinds of sources (after aioquic's ``QuicConnection``): bytes from the
stream (:meth:`Session.receive_data`), the passage of time (:meth:`Session.handle_timer`), and the
application (:meth:`Session.send_data`, :meth:`Session.close`). After any of them, the adapter drains
:meth:`Session.next_event`, writes :meth:`Session.data_to_send` and re-arms a timer for
:meth:`Session.get_timer`. The Session never reads a clock or draws randomness on its own: ``now``
(monotonic seconds) comes in with every call, the wall clock once at start, and fresh ephemeral keys
through the factories in :class:`SessionConfig`.

The Session owns the states, the events and the order of things; it composes the parts that do
the work: each role's side of the handshake (:mod:`hotline.proto.opening`), the record layer
(:mod:`hotline.proto.transport`), the sending side (:mod:`hotline.proto.outbox`), rekeys and their
defences (:mod:`hotline.proto.rekeying`) and liveness (:mod:`hotline.proto.keepalive`). A session
made with a carrier setting sends its messages in constant-rate cells (docs/protocol.md §14.5,
:mod:`hotline.proto.carriermode`).

A Session's transitions (``TRANSITIONS`` in :mod:`hotline.proto.states`; docs/state-machines/session.md)::

    role       from                on                                  to
    responder  AWAIT_INITIATION    valid initiation, response queued   AWAIT_CONFIRMATION
    responder  AWAIT_INITIATION    invalid input                       DROPPED
    responder  AWAIT_CONFIRMATION  first record authenticates          ESTABLISHED
    responder  AWAIT_CONFIRMATION  invalid input                       DROPPED
    initiator  AWAIT_RESPONSE      valid response (Ping queued)        ESTABLISHED
    initiator  AWAIT_RESPONSE      invalid input (HANDSHAKE_FAILED)    CLOSED
    responder  DROPPED             more input                          DROPPED (read, ignored)
    both       any but CLOSED      end of stream                       CLOSED
    both       not ESTABLISHED     handshake timeout                   CLOSED
    both       ESTABLISHED         close(), Close, error, timer        CLOSED

Rule 2 (h11's "we don't cheat"): after the handshake both roles follow the same rules, with one
exception written down where it is made (:mod:`hotline.proto.rekeying`): only the side that
dialled starts rekeys, the other asks for one with ``RekeyRequest``.
"""

from __future__ import annotations

from collections import deque

from hotline.proto.carrier import Lane
from hotline.proto.carriermode import CarrierMode, CarrierSetting
from hotline.proto.channel import Channel
from hotline.proto.errors import ErrorCode, LocalProtocolError, ProtocolError, RemoteProtocolError
from hotline.proto.events import (
    HandshakeCompleted,
    ProfileMismatch,
    SessionEvent,
    SessionTerminated,
)
from hotline.proto.handshake import (
    HandshakeFailed,
    HandshakeResult,
    PeerDirectory,
)
from hotline.proto.keepalive import Keepalive
from hotline.proto.messages import Bytes
from hotline.proto.noise import NoiseError
from hotline.proto.opening import InitiatorSide, LocalKeys, ResponderSide
from hotline.proto.outbox import Outbox
from hotline.proto.ratelimit import HandshakeLimits
from hotline.proto.records import RecordError, RecordReader, RecordType
from hotline.proto.rekeying import Rekeying
from hotline.proto.replay import TimestampGuard
from hotline.proto.sessionconfig import (
    SessionConfig,
    dialled_suite,
    first_record_max,
    local_keys,
    responder_side,
    undecided_keys,
)
from hotline.proto.states import SessionState, Trigger, transition
from hotline.proto.suites import Suite
from hotline.proto.transport import Transport

#: Why a handshake that did not finish in time ends its session.
_HANDSHAKE_EXPIRED = (ErrorCode.HANDSHAKE_TIMEOUT, "handshake did not complete")


class Session:
    """One authenticated, rekeying, length-hiding channel over a byte stream. Not thread-safe.

    Build one with :meth:`initiator` or :meth:`responder`. End of stream is data: call
    ``receive_data(b"", now)`` when the peer closed the connection. Its transitions are in the
    module docstring; rekeys, keepalives and the key switch happen inside ``ESTABLISHED``.
    """

    def __init__(
        self,
        config: SessionConfig,
        keys: LocalKeys,
        initiator: InitiatorSide | None,
        now: float,
        setting: CarrierSetting | None = None,
    ) -> None:
        self._config = config
        self._suite = keys.suite
        self._initiator = initiator is not None
        self._state = SessionState.AWAIT_RESPONSE if self._initiator else SessionState.AWAIT_INITIATION
        self._events: deque[SessionEvent] = deque()
        self._transport = Transport(
            config.rekey_after_records, config.rekey_after_bytes, config.reject_after_time
        )
        self._reader = RecordReader(max_len=first_record_max(keys, self._initiator))
        self._started_at = now
        self._keepalive = Keepalive(config.keepalive_interval, config.keepalive_misses, now)
        #: In carrier mode its carrier (``status()``, each lane's ``room()``), else None. Read only.
        self.carrier = None if setting is None else CarrierMode(setting, self._transport)
        self._outbox = Outbox(
            self._transport, self._keepalive, key_spent=self._key_spent, carrier=self.carrier
        )
        #: Queues one of the session's own messages (in carrier mode in a lane, CONTROL by default).
        self._send_message = self._outbox.send
        self._rekeying = Rekeying(
            self._transport,
            keys,
            initiator,
            send=self._send_message,
            # before a key switch: the last record sealed is the last under the old key
            seal=self._outbox.flush,
            report=self._events.append,
            limits=config.rekey_limits,
            rekey_after_time=config.rekey_after_time,
            handshake_timeout=config.handshake_timeout,
            carrier=self.carrier,
        )
        self._channel = Channel(
            self._transport,
            self._keepalive,
            self._rekeying,
            send=self._send_message,
            report=self._events.append,
            peer_closed=self._closed_by_peer,
            is_closed=lambda: self._state is SessionState.CLOSED,
            carrier=self.carrier,
        )
        # the peer, once known (from the start for the initiator)
        self._peer_static: bytes | None = None
        self._line_key: bytes | None = None
        # each role's side of the first handshake; the initiator keeps its side for rekeys
        self._initiator_side = initiator
        self._responder_side: ResponderSide | None = None

    # -- construction ------------------------------------------------------------------------------

    @classmethod
    def initiator(
        cls,
        config: SessionConfig,
        *,
        peer_static: bytes,
        line_key: bytes,
        now: float,
        wall_time_ns: int,
    ) -> Session:
        """Start a session to ``peer_static`` (the responder's X25519 static public key, from its
        card) with the 32-byte ``line_key`` (the Noise PSK), under the profile of that line; the
        first record is ready in :meth:`data_to_send`. ``now`` is monotonic seconds;
        ``wall_time_ns`` the anti-replay timestamp of this initiation (ns since the Unix epoch),
        greater than any the station sent before (docs/protocol.md §3.3), which the rekeys'
        timestamps continue with ``now``."""
        keys = local_keys(config, dialled_suite(config, peer_static))
        side = InitiatorSide(
            keys, peer_static=peer_static, line_key=line_key, wall_time_ns=wall_time_ns, started_at=now
        )
        setting = config.carrier if config.carrier_for is None else config.carrier_for(peer_static)
        session = cls(config, keys, side, now, setting)
        session._peer_static = peer_static
        session._line_key = line_key
        session._transport.write(RecordType.HANDSHAKE_INIT, side.initiate(now))
        return session

    @classmethod
    def responder(
        cls,
        config: SessionConfig,
        *,
        peers: PeerDirectory,
        guard: TimestampGuard,
        now: float,
        limits: HandshakeLimits | None = None,
        source: str | None = None,
    ) -> Session:
        """Wait for an initiation on a freshly accepted connection (``now``: monotonic seconds).

        ``peers`` looks up the line key of an initiator by its static key; ``guard`` holds the
        station's initiation timestamps, raised only when this session is confirmed (issue 13,
        F8); ``limits`` the station's handshake rate limits, if any, with ``source`` the address
        the connection came from. All three are shared by every session of the station.
        """
        setting = config.carrier if config.carrier_for is None else None
        # the profile is known once the initiation is read: until then, the config's default
        session = cls(config, undecided_keys(config), None, now, setting)
        session._responder_side = responder_side(config, peers, guard, limits, source)
        return session

    # -- read-only views ---------------------------------------------------------------------------

    @property
    def state(self) -> SessionState:
        """The current :class:`SessionState`."""
        return self._state

    @property
    def peer_static(self) -> bytes | None:
        """The authenticated peer's static key, once known."""
        return self._peer_static if self._state is SessionState.ESTABLISHED else None

    @property
    def handshake_hash(self) -> bytes | None:
        """Hash of the latest completed handshake (channel binding for voice keys)."""
        return self._transport.handshake_hash

    @property
    def epoch(self) -> int:
        """Handshakes completed on this session (1 after the first)."""
        return self._transport.epoch

    @property
    def records_sent(self) -> int:
        """Transport records sealed on this session (all epochs)."""
        return self._transport.records_sent

    @property
    def records_received(self) -> int:
        """Transport records read on this session (all epochs)."""
        return self._transport.records_received

    @property
    def protocol_name(self) -> str:
        """The Noise protocol name of :attr:`suite`."""
        return self._suite.protocol_name

    @property
    def suite(self) -> Suite:
        """The line profile (a responder's is known once it has read the initiation)."""
        return self._suite

    @property
    def mismatch(self) -> ProfileMismatch | None:
        """Why a responder refused its initiation when the two profiles disagreed (§3.8), else None."""
        return None if self._responder_side is None else self._responder_side.mismatch

    @property
    def has_full_record(self) -> bool:
        """Whether a full record's worth is waiting (``data_to_send(flush=False)`` has output)."""
        return self._transport.has_full_record

    # -- outputs -----------------------------------------------------------------------------------

    def data_to_send(self, *, flush: bool = True) -> bytes | bytearray:
        """Bytes to write to the stream now (empties the buffer).

        Messages share records: with ``flush=False`` only full records are sealed and returned, and
        the rest waits for a later call (the adapter uses this to coalesce a burst of sends into
        few records, and flushes on the next loop turn).
        """
        # reaching a key's volume limit queues a rekey (or a request for one), idempotent in an epoch
        on_volume = self._channel.sent_volume if self._state is SessionState.ESTABLISHED else None
        return self._outbox.take(full_only=not flush, on_volume=on_volume)

    def next_event(self) -> SessionEvent | None:
        """The next event, or None when there are no more."""
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        """The earliest deadline at which :meth:`handle_timer` must be called, or None."""
        state = self._state
        if state is SessionState.CLOSED:
            return None
        if state is not SessionState.ESTABLISHED:
            return self._started_at + self._config.handshake_timeout
        return self._channel.deadline()

    def pause_reading(self, paused: bool, now: float) -> None:
        """Tell the session whether the adapter has stopped reading the stream (its application
        is slow to consume). While paused, silence from the peer is ours, not the peer's, so it
        does not count towards the idle timeout."""
        self._keepalive.pause_reading(paused, now)

    # -- inputs ------------------------------------------------------------------------------------

    def send_data(self, data: bytes, now: float, lane: Lane = Lane.MESSAGES) -> None:
        """Queue one application payload (at most :data:`MAX_DATA_LEN` bytes), in ``lane`` in carrier
        mode (CONTROL, which the session's pings and rekeys wait behind, only for short ones).

        Raises:
            LaneFull: carrier mode, and ``lane`` is too full to take it now (nothing queued).
            LocalProtocolError: not established, or the payload is too large.
        """
        if self._state is not SessionState.ESTABLISHED:
            raise LocalProtocolError(f"cannot send in state {self._state.value}")
        self._outbox.send_data(data, now, lane)

    def send_parts(self, parts: list[Bytes], now: float, lane: Lane = Lane.MESSAGES) -> None:
        """:meth:`send_data` of ``b"".join(parts)`` (the same bytes on the wire) without copying the
        parts: they are borrowed, and must not change before :meth:`data_to_send` (``flush=True``)
        or :meth:`own_queued`. In carrier mode they are joined at once. Raises as :meth:`send_data`."""
        if self._state is not SessionState.ESTABLISHED:
            raise LocalProtocolError(f"cannot send in state {self._state.value}")
        self._outbox.send_parts(parts, now, lane)

    def own_queued(self) -> None:
        """Copy what is still queued of :meth:`send_parts`'s parts, so that their owner may change them."""
        self._outbox.own_queued()

    def close(self, now: float, code: ErrorCode = ErrorCode.LOCAL_CLOSE, reason: str = "closed") -> None:
        """End the session; tells an authenticated peer why. Idempotent."""
        self._terminate(code, reason, now, notify_peer=True)

    def receive_data(self, data: bytes | bytearray, now: float) -> None:
        """Feed bytes read from the stream; ``b""`` means the peer closed it.

        Never raises for anything the network sends: before authentication bad input is dropped
        silently, after it the session ends with a :class:`SessionTerminated` event.
        """
        if self._state is SessionState.CLOSED:
            return
        if self._state is SessionState.DROPPED:
            if not data:
                self._terminate(ErrorCode.CONNECTION_LOST, "connection closed", now, notify_peer=False)
            return  # silent: we read and discard, buffering nothing
        if not data:
            self._terminate(ErrorCode.CONNECTION_LOST, "connection closed by peer", now, notify_peer=False)
            return
        self._reader.feed(data)
        try:
            while self._state not in (SessionState.CLOSED, SessionState.DROPPED):
                try:
                    record = self._reader.next_record()
                except RecordError as exc:
                    raise RemoteProtocolError(str(exc)) from exc
                if record is None:
                    break
                self._handle_record(record[0], record[1], now)
        except ProtocolError as exc:
            self._fail(exc, now)

    def handle_timer(self, now: float) -> None:
        """Run whatever is due at ``now`` (call at :meth:`get_timer`; early or late calls are safe)."""
        state = self._state
        if state is SessionState.CLOSED:
            return
        if state is not SessionState.ESTABLISHED:
            if now >= self._started_at + self._config.handshake_timeout:
                # also how a silently dropped connection ends: the adapter closes it now
                self._terminate(*_HANDSHAKE_EXPIRED, now, notify_peer=False)
            return
        ending = self._channel.handle_timer(now)
        if ending is not None:
            self._terminate(*ending, now, notify_peer=True)

    # -- the handshake (docs/protocol.md §3) ---------------------------------------------------------

    def _handle_record(self, record_type: int, body: bytes | memoryview, now: float) -> None:
        state = self._state
        if state is SessionState.AWAIT_INITIATION:
            self._consume_initiation(record_type, body, now)
        elif state is SessionState.AWAIT_RESPONSE:
            self._consume_response(record_type, body, now)
        else:
            self._consume_transport(record_type, body, now)

    def _consume_initiation(self, record_type: int, body: bytes | memoryview, now: float) -> None:
        side = self._responder_side
        assert side is not None
        try:
            response, result = side.answer(record_type, body, now)
        except HandshakeFailed:  # a profile mismatch too: the side reported it
            self._drop()
            return
        assert side.keys is not None
        self._suite = side.keys.suite
        self._rekeying.use_keys(side.keys)
        self._line_key = side.peers.line_key(result.peer_static)
        if self._config.carrier_for is not None:
            # nothing of the session has been sealed yet: the carrier can still be chosen
            self._use_carrier(self._config.carrier_for(result.peer_static))
        self._transport.write(RecordType.HANDSHAKE_RESPONSE, response)
        # psk2 is only proven by the initiator's first record: hold the keys until it arrives
        self._state = transition(self._state, Trigger.RESPONDED)
        self._peer_static = result.peer_static
        self._transport.install(result, now, flip=False)
        self._reader.max_len = 65535

    def _use_carrier(self, setting: CarrierSetting | None) -> None:
        self.carrier = carrier = None if setting is None else CarrierMode(setting, self._transport)
        self._outbox.use_carrier(carrier)
        self._rekeying.use_carrier(carrier)
        self._channel.use_carrier(carrier)

    def _drop(self) -> None:
        # before authentication: no reply, no distinct error, nothing kept
        self._state = transition(self._state, Trigger.UNAUTHENTICATED_INPUT)
        self._reader = RecordReader(max_len=0)
        self._peer_static = self._line_key = None
        self._transport.forget()

    def _consume_response(self, record_type: int, body: bytes | memoryview, now: float) -> None:
        assert self._initiator_side is not None
        try:
            result = self._initiator_side.consume_response(record_type, body)
        except HandshakeFailed as exc:
            self._state = transition(self._state, Trigger.UNAUTHENTICATED_INPUT)
            self._events.append(SessionTerminated(ErrorCode.HANDSHAKE_FAILED, str(exc), by_peer=False))
            self._transport.out.clear()
            return
        self._established(result, now)

    def _established(self, result: HandshakeResult, now: float) -> None:
        self._state = transition(self._state, Trigger.AUTHENTICATED)
        self._peer_static = result.peer_static
        self._transport.install(result, now, flip=False)
        self._reader.max_len = 65535
        # confirm the keys to the responder at once (it holds its side until a record arrives)
        self._announce(now, confirm=True)

    def _announce(self, now: float, *, confirm: bool = False) -> None:
        handshake_hash = self._transport.handshake_hash
        assert self._peer_static is not None and handshake_hash is not None
        self._channel.established(now, confirm=confirm)
        self._events.append(
            HandshakeCompleted(
                peer_static=self._peer_static,
                protocol_name=self._suite.protocol_name,
                handshake_hash=handshake_hash,
                initiator=self._initiator,
            )
        )

    # -- records (docs/protocol.md §5) ---------------------------------------------------------------

    def _consume_transport(self, record_type: int, body: bytes | memoryview, now: float) -> None:
        transport = self._transport
        try:
            recv, plaintext = transport.open(record_type, body, now)
        except NoiseError as exc:
            if self._state is SessionState.AWAIT_CONFIRMATION:
                # the initiator does not hold the line key: still a stranger, still no answer
                self._drop()
                return
            raise RemoteProtocolError("record failed authentication", ErrorCode.DECRYPT_FAILED) from exc
        if self._state is SessionState.AWAIT_CONFIRMATION:
            self._state = transition(self._state, Trigger.AUTHENTICATED)
            # the line key is proven: only now may the initiation raise the station's guard (F8)
            assert self._responder_side is not None and self._peer_static is not None
            self._rekeying.guard = self._responder_side.confirm(self._peer_static)
            self._announce(now)
        assert self._peer_static is not None
        self._channel.receive(recv, plaintext, now, peer_static=self._peer_static, line_key=self._line_key)

    def _closed_by_peer(self, code: ErrorCode, reason: str) -> None:
        self._state = transition(self._state, Trigger.TERMINATE)
        self._events.append(SessionTerminated(code, reason, by_peer=True))

    # -- ending ------------------------------------------------------------------------------------

    def _fail(self, exc: ProtocolError, now: float) -> None:
        if self._state in (SessionState.AWAIT_INITIATION, SessionState.AWAIT_CONFIRMATION):
            self._drop()
        elif self._state is SessionState.AWAIT_RESPONSE:
            self._terminate(ErrorCode.HANDSHAKE_FAILED, str(exc), now, notify_peer=False)
        else:
            self._terminate(exc.code, str(exc), now, notify_peer=True)

    def _terminate(self, code: ErrorCode, reason: str, now: float, *, notify_peer: bool) -> None:
        if self._state is SessionState.CLOSED:
            return
        if notify_peer and self._state is SessionState.ESTABLISHED:
            self._outbox.send_close(code, reason, now)
        self._state = transition(self._state, Trigger.TERMINATE)
        self._events.append(SessionTerminated(code, reason, by_peer=False))

    def _key_spent(self) -> None:
        # the sending key can seal no more records: end rather than reuse a nonce
        if self._state is not SessionState.CLOSED:
            self._state = transition(self._state, Trigger.TERMINATE)
            self._events.append(SessionTerminated(ErrorCode.KEY_EXPIRED, "key exhausted", by_peer=False))


__all__ = ["Session", "SessionConfig"]
