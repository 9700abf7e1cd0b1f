"""The Session: Hotline's sans-IO state machine for one line connection (docs/protocol.md §4, §5).

A Session is driven by three kinds of sources (after aioquic's ``QuicConnection``): bytes from the
stream (:meth:`Session.receive_data`), the passage of time (:meth:`Session.handle_timer`), and the
application (:meth:`Session.send_data`, :meth:`Session.close`). After any of them, the adapter drains
:meth:`Session.next_event`, writes :meth:`Session.data_to_send` and re-arms a timer for
:meth:`Session.get_timer`. The Session never reads a clock or draws randomness on its own: ``now``
(monotonic seconds) comes in with every call, the wall clock once at start, and fresh ephemeral keys
through the factories in :class:`SessionConfig`.

Rule 2 (h11's "we don't cheat"): after the handshake both roles follow the same rules, with one
exception written down where it is made: only the side that dialled starts rekeys, the other asks
for one with ``RekeyRequest``. That keeps two rekeys from crossing on the wire.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from hotline.crypto.mlkem import MLKEM768, Kem
from hotline.crypto.x25519 import X25519PrivateKey
from hotline.proto.constants import (
    AEAD_TAG_LEN,
    HANDSHAKE_TIMEOUT,
    KEEPALIVE_INTERVAL,
    KEEPALIVE_MISSES,
    MAX_CONTENT,
    MAX_DATA_LEN,
    PROLOGUE,
    PROTOCOL_NAME,
    RECORD_HEADER_LEN,
    REJECT_AFTER_MESSAGES,
    REJECT_AFTER_TIME,
    REKEY_AFTER_BYTES,
    REKEY_AFTER_RECORDS,
    REKEY_AFTER_TIME,
    REKEY_BURST,
    REKEY_RATE,
)
from hotline.proto.errors import ErrorCode, LocalProtocolError, ProtocolError, RemoteProtocolError
from hotline.proto.events import (
    DataReceived,
    HandshakeCompleted,
    RekeyCompleted,
    RoundTripMeasured,
    SessionEvent,
    SessionTerminated,
)
from hotline.proto.handshake import (
    INIT_LEN,
    RESPONSE_LEN,
    HandshakeFailed,
    HandshakeResult,
    InitiatorHandshake,
    PeerDirectory,
    ResponderHandshake,
    mac1_key,
)
from hotline.proto.messages import (
    Close,
    Data,
    Message,
    MessageError,
    Ping,
    Pong,
    RekeyInit,
    RekeyRequest,
    RekeyResponse,
)
from hotline.proto.noise import CipherState, NoiseError
from hotline.proto.ratelimit import HandshakeLimits, KeyedBuckets
from hotline.proto.records import (
    ContentKind,
    RecordError,
    RecordReader,
    RecordType,
    frame,
    pad,
    unpad,
)
from hotline.proto.replay import TimestampGuard
from hotline.proto.states import SessionState, Trigger, transition
from hotline.proto.stream import IncomingStream, OutgoingStream

_TRANSPORT_TYPES = (RecordType.TRANSPORT_PHASE0, RecordType.TRANSPORT_PHASE1)
#: The associated data of each transport record type (its type byte), built once.
_AD = {int(t): bytes([t]) for t in _TRANSPORT_TYPES}


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """What a session needs besides its role; shared by every session of a station."""

    #: Our X25519 static key (the station identity's Noise ``s``).
    static: X25519PrivateKey
    rekey_after_time: float = REKEY_AFTER_TIME
    reject_after_time: float = REJECT_AFTER_TIME
    rekey_after_records: int = REKEY_AFTER_RECORDS
    rekey_after_bytes: int = REKEY_AFTER_BYTES
    keepalive_interval: float = KEEPALIVE_INTERVAL
    keepalive_misses: int = KEEPALIVE_MISSES
    handshake_timeout: float = HANDSHAKE_TIMEOUT
    #: Rekeys a peer may make us do (answer ``RekeyInit``, act on ``RekeyRequest``), one bucket
    #: per peer static key shared by every session made with this config, so a new session does
    #: not bring a new burst; past it the session ends with ``RATE_LIMITED`` (§5.4; issue 13, F12).
    rekey_limits: KeyedBuckets = field(default_factory=lambda: KeyedBuckets(REKEY_RATE, REKEY_BURST))
    #: The KEM behind the ``hfs`` tokens (a deterministic one in golden tests).
    kem: Kem = field(default_factory=MLKEM768)
    #: Draws a fresh X25519 ephemeral for each handshake.
    new_ephemeral: Callable[[], X25519PrivateKey] = X25519PrivateKey.generate
    #: Where an adapter that dials takes each first initiation's timestamp (ns; docs/protocol.md
    #: §3.3), ``None`` for the bare wall clock. A station passes one that never repeats or goes
    #: back (:class:`~hotline.proto.handshake.InitiationTimestamps`). The session never calls it:
    #: the timestamp comes in as :meth:`Session.initiator`'s ``wall_time_ns``.
    initiation_clock: Callable[[], int] | None = None


class _DirectionKey:
    """One direction's transport key with its phase, age and use counts."""

    __slots__ = ("bytes", "cipher", "created_at", "phase", "records")

    def __init__(self, cipher: CipherState, phase: int, created_at: float) -> None:
        self.cipher = cipher
        self.phase = phase
        self.created_at = created_at
        self.records = 0
        self.bytes = 0


class _OnePeer:
    """A :class:`PeerDirectory` that knows only the peer of an established session (for rekeys)."""

    def __init__(self, peer_static: bytes, line_key: bytes) -> None:
        self._peer = peer_static
        self._key = line_key

    def line_key(self, peer_static: bytes) -> bytes | None:
        return self._key if peer_static == self._peer else None

    def replayed(self, peer_static: bytes) -> None:
        pass  # a replayed rekey ends the session, which says why


class Session:
    """One authenticated, rekeying, length-hiding channel over a byte stream. Not thread-safe.

    Build one with :meth:`initiator` or :meth:`responder`.

    End of stream is data: call ``receive_data(b"", now)`` when the peer closed the connection.
    """

    def __init__(self, config: SessionConfig, *, initiator: bool, now: float) -> None:
        self._config = config
        self._initiator = initiator
        self._state = SessionState.AWAIT_RESPONSE if initiator else SessionState.AWAIT_INITIATION
        self._events: deque[SessionEvent] = deque()
        self._out: list[bytes | bytearray] = []
        # each direction is one stream of framed messages cut into records (docs/protocol.md §5.3)
        self._stream_out = OutgoingStream()
        self._stream_in = IncomingStream()
        #: Transport records sealed and read on this session (all epochs).
        self.records_sent = 0
        self.records_received = 0
        self._reader = RecordReader(max_len=(RESPONSE_LEN if initiator else INIT_LEN) + 1)
        self._started_at = now
        # after the handshake
        self._peer_static: bytes | None = None
        self._line_key: bytes | None = None
        self._handshake_hash: bytes | None = None
        self._send: _DirectionKey | None = None
        self._recv: _DirectionKey | None = None
        self._next_recv: _DirectionKey | None = None
        self._epoch = 0
        self._last_sent = now
        self._last_received = now
        # rekeys
        self._rekey: InitiatorHandshake | None = None
        self._rekey_started = 0.0
        # rekey initiations are checked per session: they travel inside the encrypted stream and
        # bind the previous handshake hash, so they cannot be replayed from elsewhere
        # (issue 13, B4) seeded with the session's own initiation timestamp once it is confirmed,
        # so even the first rekey must be newer than the handshake that opened the session
        self._rekey_guard = TimestampGuard()
        # the adapter stopped reading (its application is slow): the peer is not idle, we are
        self._reading_paused = False
        self._rekey_requested = False
        # keepalive pings: id -> time sent
        self._ping_id = 0
        self._pings: dict[int, float] = {}
        # the initiator's clock: wall time at start, extrapolated with ``now`` for rekeys
        self._wall_base_ns = 0
        self._last_timestamp = -1
        self._initiator_hs: InitiatorHandshake | None = None
        # the responder's context
        self._peers: PeerDirectory | None = None
        self._guard: TimestampGuard | None = None
        self._limits: HandshakeLimits | None = None
        self._source: str | None = None
        self._initiation_ts = 0
        self._mac_key = mac1_key(config.static.public_key().raw)

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
        """Start a session to ``peer_static``; the first record is ready in :meth:`data_to_send`.

        Args:
            config: our station's session settings.
            peer_static: the responder's X25519 static public key (from its card).
            line_key: the 32-byte line key (Noise PSK).
            now: monotonic time, seconds.
            wall_time_ns: the anti-replay timestamp of this initiation (ns since the Unix epoch):
                greater than any the station sent before (docs/protocol.md §3.3). The rekeys'
                timestamps continue it with ``now``.
        """
        session = cls(config, initiator=True, now=now)
        session._peer_static = peer_static
        session._line_key = line_key
        session._wall_base_ns = wall_time_ns
        hs = session._new_initiation(PROLOGUE, now)
        session._initiator_hs = hs
        session._write(RecordType.HANDSHAKE_INIT, hs.create_initiation())
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
        """Wait for an initiation on a freshly accepted connection.

        Args:
            config: our station's session settings.
            peers: looks up the line key of an initiator by its static key.
            guard: the station's initiation timestamps (shared by all its sessions); raised only
                when this session is confirmed (issue 13, F8).
            now: monotonic time, seconds.
            limits: the station's handshake rate limits (shared by all its sessions), if any.
            source: the address the connection came from, for the per-address limit.
        """
        session = cls(config, initiator=False, now=now)
        session._peers = peers
        session._guard = guard
        session._limits = limits
        session._source = source
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
        return self._handshake_hash

    @property
    def epoch(self) -> int:
        """Handshakes completed on this session (1 after the first)."""
        return self._epoch

    @property
    def protocol_name(self) -> str:
        """The Noise protocol name."""
        return PROTOCOL_NAME

    @property
    def has_full_record(self) -> bool:
        """Whether a full record's worth is waiting (``data_to_send(flush=False)`` has output)."""
        return self._stream_out.pending >= MAX_CONTENT or bool(self._out)

    # -- outputs -----------------------------------------------------------------------------------

    def data_to_send(self, *, flush: bool = True) -> bytes | bytearray:
        """Bytes to write to the stream now (empties the buffer).

        Messages share records: with ``flush=False`` only full records are sealed and returned, and
        the rest waits for a later call (the adapter uses this to coalesce a burst of sends into
        few records, and flushes on the next loop turn).
        """
        self._flush(full_only=not flush)
        out = self._out
        if not out:
            return b""
        self._out = []
        return out[0] if len(out) == 1 else b"".join(out)

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
        cfg = self._config
        assert self._send is not None and self._recv is not None
        deadlines = [
            self._last_sent + cfg.keepalive_interval,
            self._last_received + cfg.keepalive_interval * cfg.keepalive_misses,
            min(self._send.created_at, self._recv.created_at) + cfg.reject_after_time,
        ]
        if self._reading_paused:
            deadlines.remove(self._last_received + cfg.keepalive_interval * cfg.keepalive_misses)
        if self._initiator and self._rekey is None:
            deadlines.append(self._send.created_at + cfg.rekey_after_time)
        if self._rekey is not None:
            deadlines.append(self._rekey_started + cfg.handshake_timeout)
        return min(deadlines)

    def pause_reading(self, paused: bool, now: float) -> None:
        """Tell the session whether the adapter has stopped reading the stream (its application
        is slow to consume). While paused, silence from the peer is ours, not the peer's, so it
        does not count towards the idle timeout."""
        if self._reading_paused and not paused:
            self._last_received = max(self._last_received, now)
        self._reading_paused = paused

    # -- inputs ------------------------------------------------------------------------------------

    def send_data(self, data: bytes, now: float) -> None:
        """Queue one application payload (at most :data:`MAX_DATA_LEN` bytes).

        Raises:
            LocalProtocolError: not established, or the payload is too large.
        """
        if self._state is not SessionState.ESTABLISHED:
            raise LocalProtocolError(f"cannot send in state {self._state.value}")
        if len(data) > MAX_DATA_LEN:
            raise LocalProtocolError("payload too large for one record", ErrorCode.MESSAGE_TOO_LARGE)
        self._stream_out.push(Data(data))
        self._last_sent = now

    def close(self, now: float, code: ErrorCode = ErrorCode.LOCAL_CLOSE, reason: str = "closed") -> None:
        """End the session; tells an authenticated peer why. Idempotent."""
        if self._state is SessionState.CLOSED:
            return
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
        cfg = self._config
        if state is not SessionState.ESTABLISHED:
            if now >= self._started_at + cfg.handshake_timeout:
                self._expired_handshake(now)
            return
        assert self._send is not None and self._recv is not None
        if self._next_recv is not None and now >= self._recv.created_at + cfg.reject_after_time:
            # a superseded key that reaches its age limit is retired, not a reason to end:
            # from now on a record under the old phase is a protocol violation
            self._recv, self._next_recv = self._next_recv, None
        if now >= min(self._send.created_at, self._recv.created_at) + cfg.reject_after_time:
            self._expired_keys(now)
            return
        if (
            not self._reading_paused
            and now >= self._last_received + cfg.keepalive_interval * cfg.keepalive_misses
        ):
            self._expired_idle(now)
            return
        if self._rekey is not None and now >= self._rekey_started + cfg.handshake_timeout:
            self._expired_rekey(now)
            return
        if self._initiator and self._rekey is None and now >= self._send.created_at + cfg.rekey_after_time:
            self._start_rekey(now)
        if now >= self._last_sent + cfg.keepalive_interval:
            self._expired_keepalive(now)

    # -- timer expiry handlers -----------------------------------------------------------------------

    def _expired_handshake(self, now: float) -> None:
        # Also how a silently dropped connection ends: the adapter closes it now.
        self._terminate(ErrorCode.HANDSHAKE_TIMEOUT, "handshake did not complete", now, notify_peer=False)

    def _expired_keys(self, now: float) -> None:
        self._terminate(ErrorCode.KEY_EXPIRED, "keys expired before a rekey succeeded", now, notify_peer=True)

    def _expired_rekey(self, now: float) -> None:
        self._terminate(ErrorCode.HANDSHAKE_TIMEOUT, "the peer did not answer a rekey", now, notify_peer=True)

    def _expired_idle(self, now: float) -> None:
        self._terminate(ErrorCode.IDLE_TIMEOUT, "nothing received from the peer", now, notify_peer=True)

    def _expired_keepalive(self, now: float) -> None:
        self._ping_id += 1
        self._pings[self._ping_id] = now
        if len(self._pings) > 8:  # unanswered pings are forgotten, oldest first
            del self._pings[min(self._pings)]
        self._send_message(Ping(self._ping_id), now)

    # -- records -----------------------------------------------------------------------------------

    def _handle_record(self, record_type: int, body: bytes | memoryview, now: float) -> None:
        state = self._state
        if state is SessionState.AWAIT_INITIATION:
            self._consume_initiation(record_type, body, now)
        elif state is SessionState.AWAIT_RESPONSE:
            self._consume_response(record_type, body, now)
        else:
            self._consume_transport(record_type, body, now)

    def _consume_initiation(self, record_type: int, body: bytes | memoryview, now: float) -> None:
        assert self._peers is not None and self._guard is not None
        try:
            if record_type != RecordType.HANDSHAKE_INIT:
                raise HandshakeFailed("expected an initiation")
            hs = ResponderHandshake.consume_initiation(
                bytes(body),
                static=self._config.static,
                mac_key=self._mac_key,
                peers=self._peers,
                guard=self._guard,
                prologue=PROLOGUE,
                new_ephemeral=self._config.new_ephemeral,
                kem=self._config.kem,
                limits=self._limits,
                source=self._source,
                now=now,
            )
            response, result = hs.create_response()
        except HandshakeFailed:
            self._drop()
            return
        self._initiation_ts = hs.timestamp_ns
        self._line_key = self._peers.line_key(hs.peer_static)
        self._write(RecordType.HANDSHAKE_RESPONSE, response)
        # psk2 is only proven by the initiator's first record: hold the keys until it arrives
        self._state = transition(self._state, Trigger.RESPONDED)
        self._peer_static = result.peer_static
        self._install_keys(result, now, flip=False)
        self._reader.max_len = 65535

    def _drop(self) -> None:
        # before authentication: no reply, no distinct error, nothing kept
        self._state = transition(self._state, Trigger.UNAUTHENTICATED_INPUT)
        self._reader = RecordReader(max_len=0)
        self._send = self._recv = None
        self._peer_static = self._line_key = self._handshake_hash = None
        self._out.clear()
        self._stream_out.clear()

    def _consume_response(self, record_type: int, body: bytes | memoryview, now: float) -> None:
        assert self._initiator_hs is not None
        try:
            if record_type != RecordType.HANDSHAKE_RESPONSE:
                raise HandshakeFailed("expected a response")
            result = self._initiator_hs.consume_response(bytes(body))
        except HandshakeFailed as exc:
            self._initiator_hs = None
            self._state = transition(self._state, Trigger.UNAUTHENTICATED_INPUT)
            self._events.append(SessionTerminated(ErrorCode.HANDSHAKE_FAILED, str(exc), by_peer=False))
            self._out.clear()
            return
        self._initiator_hs = None
        self._established(result, now)

    def _established(self, result: HandshakeResult, now: float) -> None:
        self._state = transition(self._state, Trigger.AUTHENTICATED)
        self._peer_static = result.peer_static
        self._install_keys(result, now, flip=False)
        self._reader.max_len = 65535
        self._announce(now)
        # confirm the keys to the responder at once (it holds its side until a record arrives)
        self._expired_keepalive(now)

    def _announce(self, now: float) -> None:
        assert self._peer_static is not None and self._handshake_hash is not None
        self._last_received = now
        self._last_sent = now
        self._events.append(
            HandshakeCompleted(
                peer_static=self._peer_static,
                protocol_name=PROTOCOL_NAME,
                handshake_hash=self._handshake_hash,
                initiator=self._initiator,
            )
        )

    def _install_keys(self, result: HandshakeResult, now: float, *, flip: bool) -> None:
        phase = 0 if self._send is None else (self._send.phase ^ 1 if flip else self._send.phase)
        self._send = _DirectionKey(result.send, phase, now)
        self._recv = _DirectionKey(result.receive, phase, now)
        self._handshake_hash = result.handshake_hash
        self._epoch += 1

    def _consume_transport(self, record_type: int, body: bytes | memoryview, now: float) -> None:
        if record_type not in _TRANSPORT_TYPES:
            raise RemoteProtocolError(f"unexpected record type {record_type} after the handshake")
        phase = record_type - RecordType.TRANSPORT_PHASE0
        recv = self._recv
        assert recv is not None
        if phase != recv.phase:
            # the peer switched to the keys of a rekey we answered
            if self._next_recv is None or self._next_recv.phase != phase:
                raise RemoteProtocolError("record under an unknown key phase")
            recv = self._recv = self._next_recv
            self._next_recv = None
        if now >= recv.created_at + self._config.reject_after_time:
            raise RemoteProtocolError("record under an expired key", ErrorCode.KEY_EXPIRED)
        try:
            plaintext = recv.cipher.decrypt_with_ad(_AD[record_type], body)
        except NoiseError as exc:
            if self._state is SessionState.AWAIT_CONFIRMATION:
                # the initiator does not hold the line key: still a stranger, still no answer
                self._drop()
                return
            raise RemoteProtocolError("record failed authentication", ErrorCode.DECRYPT_FAILED) from exc
        if self._state is SessionState.AWAIT_CONFIRMATION:
            self._state = transition(self._state, Trigger.AUTHENTICATED)
            # the line key is proven: only now may the initiation raise the station's guard (F8)
            assert self._guard is not None and self._peer_static is not None
            self._guard.confirm(self._peer_static, self._initiation_ts)
            self._rekey_guard = TimestampGuard({self._peer_static: self._initiation_ts})
            self._announce(now)
        recv.records += 1
        recv.bytes += len(plaintext)
        self.records_received += 1
        self._last_received = now
        try:
            kind, content = unpad(plaintext)
            if kind != ContentKind.STREAM:
                raise RemoteProtocolError(f"unknown content kind {kind}")
            messages = self._stream_in.feed(content)
        except (RecordError, MessageError) as exc:
            raise RemoteProtocolError(f"malformed record content: {exc}") from exc
        for message in messages:
            self._dispatch(message, now)
            if self._state is SessionState.CLOSED:
                return  # nothing counts after the peer's Close, and we say nothing more
        if recv.records >= REJECT_AFTER_MESSAGES:
            raise RemoteProtocolError("peer exceeded the record limit of a key", ErrorCode.KEY_EXPIRED)
        if recv is self._recv and self._volume_exceeded(recv):  # not a key this record retired
            self._volume_reached(now)

    def _dispatch(self, message: Message, now: float) -> None:
        match message:
            case Data(body=body):
                self._events.append(DataReceived(body))
            case Ping(id=ping_id):
                self._send_message(Pong(ping_id), now)
            case Pong(id=ping_id):
                sent = self._pings.pop(ping_id, None)
                if sent is not None:
                    self._events.append(RoundTripMeasured(now - sent))
            case RekeyInit(handshake=handshake):
                self._answer_rekey(handshake, now)
            case RekeyResponse(handshake=handshake):
                self._finish_rekey(handshake, now)
            case RekeyRequest():
                if not self._initiator:
                    raise RemoteProtocolError("only the responder may ask for a rekey")
                if self._rekey is None:
                    self._rekey_budget(now)
                    self._start_rekey(now)
            case Close(code=code, reason=reason):
                try:
                    error = ErrorCode(code)
                except ValueError:
                    error = ErrorCode.PROTOCOL_VIOLATION
                self._state = transition(self._state, Trigger.TERMINATE)
                self._events.append(SessionTerminated(error, reason, by_peer=True))
            case _:  # pragma: no cover - the decoder only yields the union
                raise RemoteProtocolError("unknown message")

    # -- rekeying (docs/protocol.md §5.4) ---------------------------------------------------------------

    def _rekey_prologue(self) -> bytes:
        # bind the new handshake to the one it replaces
        assert self._handshake_hash is not None
        return PROLOGUE + b" rekey " + self._handshake_hash

    def _new_initiation(self, prologue: bytes, now: float) -> InitiatorHandshake:
        assert self._peer_static is not None and self._line_key is not None
        return InitiatorHandshake(
            static=self._config.static,
            responder_static=self._peer_static,
            line_key=self._line_key,
            prologue=prologue,
            timestamp_ns=self._next_timestamp(now),
            ephemeral=self._config.new_ephemeral(),
            kem=self._config.kem,
        )

    def _next_timestamp(self, now: float) -> int:
        # strictly increasing even when several handshakes share one ``now``
        stamp = max(self._wall_base_ns + int((now - self._started_at) * 1e9), self._last_timestamp + 1)
        self._last_timestamp = stamp
        return stamp

    def _start_rekey(self, now: float) -> None:
        hs = self._new_initiation(self._rekey_prologue(), now)
        self._rekey = hs
        self._rekey_started = now
        self._send_message(RekeyInit(hs.create_initiation()), now)

    def _answer_rekey(self, handshake: bytes, now: float) -> None:
        if self._initiator:
            raise RemoteProtocolError("only the initiator starts rekeys")
        if self._next_recv is not None:
            raise RemoteProtocolError("a new rekey before the last one finished")
        assert self._guard is not None and self._peer_static is not None and self._line_key is not None
        self._rekey_budget(now)
        try:
            hs = ResponderHandshake.consume_initiation(
                handshake,
                static=self._config.static,
                mac_key=self._mac_key,
                peers=_OnePeer(self._peer_static, self._line_key),
                guard=self._rekey_guard,
                prologue=self._rekey_prologue(),
                new_ephemeral=self._config.new_ephemeral,
                kem=self._config.kem,
            )
            response, result = hs.create_response()
        except HandshakeFailed as exc:
            raise RemoteProtocolError(f"rekey failed: {exc}", ErrorCode.HANDSHAKE_FAILED) from exc
        self._rekey_guard.confirm(self._peer_static, hs.timestamp_ns)  # inside the session: proven
        # answer under the old keys, then switch our sending side at once; our receiving side
        # switches when the initiator's first record under the new phase arrives
        self._send_message(RekeyResponse(response), now)
        self._flush(before_switch=True)
        assert self._send is not None
        new_phase = self._send.phase ^ 1
        self._send = _DirectionKey(result.send, new_phase, now)
        self._next_recv = _DirectionKey(result.receive, new_phase, now)
        self._handshake_hash = result.handshake_hash
        self._epoch += 1
        self._rekey_requested = False
        self._events.append(RekeyCompleted(self._epoch, result.handshake_hash))

    def _rekey_budget(self, now: float) -> None:
        # issue 13, F12: a peer that makes us rekey faster than this is flooding us
        limits = self._config.rekey_limits
        if not limits.take(self._peer_static, now):
            raise RemoteProtocolError(
                f"the peer asked for rekeys faster than {limits.rate:g} per second",
                ErrorCode.RATE_LIMITED,
            )

    def _finish_rekey(self, handshake: bytes, now: float) -> None:
        if self._rekey is None:
            raise RemoteProtocolError("rekey response without a rekey")
        try:
            result = self._rekey.consume_response(handshake)
        except HandshakeFailed as exc:
            raise RemoteProtocolError(f"rekey failed: {exc}", ErrorCode.HANDSHAKE_FAILED) from exc
        self._rekey = None
        # the responder switched right after its response, and the stream is ordered: switch both
        self._install_keys(result, now, flip=True)
        self._events.append(RekeyCompleted(self._epoch, result.handshake_hash))

    def _volume_exceeded(self, key: _DirectionKey) -> bool:
        cfg = self._config
        return key.records >= cfg.rekey_after_records or key.bytes >= cfg.rekey_after_bytes

    def _volume_reached(self, now: float) -> None:
        # the initiator rekeys; the responder asks it to, once per epoch
        if self._state is not SessionState.ESTABLISHED:
            return
        if self._initiator:
            if self._rekey is None:
                self._start_rekey(now)
        elif not self._rekey_requested and self._next_recv is None:
            self._rekey_requested = True
            self._send_message(RekeyRequest(), now)

    # -- sending -----------------------------------------------------------------------------------

    def _send_message(self, message: Message, now: float) -> None:
        """Queue ``message`` on the outgoing stream."""
        self._stream_out.push(message)
        self._last_sent = now

    def _flush(self, *, full_only: bool = False, before_switch: bool = False) -> None:
        """Seal the outgoing stream into records under the current sending key.

        With ``full_only``, only whole records' worth. Reaching the volume limit queues a rekey (or
        a request for one) on the stream, unless ``before_switch``: then the last record sealed must
        be the last under this key.
        """
        stream = self._stream_out
        while stream.pending >= MAX_CONTENT or (stream.pending and not full_only):
            send = self._send
            assert send is not None
            if send.records >= REJECT_AFTER_MESSAGES:
                # never reached in practice (2^60 records); end rather than reuse a nonce
                stream.clear()
                if self._state is not SessionState.CLOSED:
                    self._state = transition(self._state, Trigger.TERMINATE)
                    self._events.append(
                        SessionTerminated(ErrorCode.KEY_EXPIRED, "key exhausted", by_peer=False)
                    )
                return
            plaintext = pad(ContentKind.STREAM, stream.take(MAX_CONTENT))
            record_type = RecordType.TRANSPORT_PHASE0 + send.phase
            # seal straight into the record: header, then ciphertext and tag
            body_len = len(plaintext) + AEAD_TAG_LEN
            record = bytearray(RECORD_HEADER_LEN + body_len)
            record[0:2] = (body_len + 1).to_bytes(2, "big")
            record[2] = record_type
            with memoryview(record) as view:
                send.cipher.encrypt_with_ad_into(_AD[record_type], plaintext, view[RECORD_HEADER_LEN:])
            self._out.append(record)
            self.records_sent += 1
            send.records += 1
            send.bytes += len(plaintext)
            if self._volume_exceeded(send) and not before_switch and self._state is SessionState.ESTABLISHED:
                self._volume_reached(self._last_sent)  # idempotent within an epoch

    def _write(self, record_type: RecordType, body: bytes) -> None:
        self._out.append(frame(record_type, body))

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
            # if the key is spent the peer sees the connection close instead
            with contextlib.suppress(LocalProtocolError):
                self._send_message(Close(int(code), reason[:1024]), now)
        self._state = transition(self._state, Trigger.TERMINATE)
        self._events.append(SessionTerminated(code, reason, by_peer=False))
