"""The record layer of a session: transport keys, and the records sealed and opened under them
(docs/protocol.md §5.1 to §5.3).

This module owns the keys of both directions with their phase, age and use counts, the outgoing
and incoming message streams, and the bytes waiting to be written. It knows nothing of session
states, timers or who dialled: the :class:`~hotline.proto.session.Session` decides when to seal,
which key to install and what a failure means, and this module does the byte work the same way
for both roles.
"""

from __future__ import annotations

from collections.abc import Callable

from hotline.proto.constants import (
    AEAD_TAG_LEN,
    MAX_CONTENT,
    MAX_PLAINTEXT,
    RECORD_HEADER_LEN,
    REJECT_AFTER_MESSAGES,
)
from hotline.proto.errors import ErrorCode, RemoteProtocolError
from hotline.proto.handshake import HandshakeResult
from hotline.proto.messages import Message, MessageError, ReceivedMessage
from hotline.proto.noise import CipherState
from hotline.proto.records import ContentKind, RecordError, RecordType, frame, pad_into, unpad
from hotline.proto.stream import IncomingStream, OutgoingStream

TRANSPORT_TYPES = (RecordType.TRANSPORT_PHASE0, RecordType.TRANSPORT_PHASE1)
#: The associated data of each transport record type (its type byte), built once.
_AD = {int(t): bytes([t]) for t in TRANSPORT_TYPES}


class DirectionKey:
    """One direction's transport key with its phase, age and use counts."""

    __slots__ = ("bytes", "cipher", "created_at", "phase", "records")

    def __init__(self, cipher: CipherState, phase: int, created_at: float) -> None:
        self.cipher = cipher
        self.phase = phase
        self.created_at = created_at
        self.records = 0
        self.bytes = 0


class Transport:
    """Both directions' transport keys and the record streams under them. Not thread-safe.

    Empty (no keys) until the first handshake installs some. Each direction is one stream of
    framed messages cut into records (docs/protocol.md §5.3); :attr:`out` collects the records
    to write, handshake records included.
    """

    __slots__ = (
        "_plain",
        "_reject_after_time",
        "_rekey_after_bytes",
        "_rekey_after_records",
        "epoch",
        "handshake_hash",
        "next_recv",
        "out",
        "records_received",
        "records_sent",
        "recv",
        "send",
        "stream_in",
        "stream_out",
    )

    def __init__(self, rekey_after_records: int, rekey_after_bytes: int, reject_after_time: float) -> None:
        self._rekey_after_records = rekey_after_records
        self._rekey_after_bytes = rekey_after_bytes
        self._reject_after_time = reject_after_time
        self.out: list[bytes | bytearray] = []
        # each record's plaintext is built here before it is sealed: one buffer, reused, made at the
        # first record (a connection that never authenticates must not cost 64 KiB)
        self._plain: bytearray | None = None
        self.stream_out = OutgoingStream()
        self.stream_in = IncomingStream()
        #: Transport records sealed and read (all epochs).
        self.records_sent = 0
        self.records_received = 0
        self.send: DirectionKey | None = None
        self.recv: DirectionKey | None = None
        #: The responder's receiving key of a rekey it answered, until the first record under it.
        self.next_recv: DirectionKey | None = None
        #: Hash of the latest completed handshake, and how many have completed.
        self.handshake_hash: bytes | None = None
        self.epoch = 0

    # -- keys --------------------------------------------------------------------------------------

    def install(self, result: HandshakeResult, now: float, *, flip: bool) -> None:
        """Switch both directions to the keys of ``result`` (the phase flipped for a rekey)."""
        phase = 0 if self.send is None else (self.send.phase ^ 1 if flip else self.send.phase)
        self.send = DirectionKey(result.send, phase, now)
        self.recv = DirectionKey(result.receive, phase, now)
        self.handshake_hash = result.handshake_hash
        self.epoch += 1

    def switch_sending(self, result: HandshakeResult, now: float) -> None:
        """Send under the keys of an answered rekey at once; receive under them from the first
        record in their phase (docs/protocol.md §5.4)."""
        assert self.send is not None
        new_phase = self.send.phase ^ 1
        self.send = DirectionKey(result.send, new_phase, now)
        self.next_recv = DirectionKey(result.receive, new_phase, now)
        self.handshake_hash = result.handshake_hash
        self.epoch += 1

    def retire_superseded(self, now: float) -> None:
        """Drop a superseded receiving key that reached its age limit before the peer switched."""
        assert self.recv is not None
        if self.next_recv is not None and now >= self.recv.created_at + self._reject_after_time:
            # not a reason to end: from now on a record under the old phase is a protocol violation
            self.recv, self.next_recv = self.next_recv, None

    def keys_expire_at(self) -> float:
        """When the older of the two current keys reaches its age limit (§5.4)."""
        assert self.send is not None and self.recv is not None
        return min(self.send.created_at, self.recv.created_at) + self._reject_after_time

    def forget(self) -> None:
        """Drop every key and everything waiting to be sent (a dropped handshake keeps nothing)."""
        self.send = self.recv = None
        self.handshake_hash = None
        self.out.clear()
        self.stream_out.clear()

    # -- sending -----------------------------------------------------------------------------------

    @property
    def has_full_record(self) -> bool:
        """Whether a full record's worth is waiting to be sealed or written."""
        return self.stream_out.pending >= MAX_CONTENT or bool(self.out)

    def push(self, message: Message) -> None:
        """Queue ``message`` on the outgoing stream."""
        self.stream_out.push(message)

    def write(self, record_type: RecordType, body: bytes) -> None:
        """Queue a handshake record as it is."""
        self.out.append(frame(record_type, body))

    def take_output(self) -> bytes | bytearray:
        """The records queued so far, as one buffer (empties the queue)."""
        out = self.out
        if not out:
            return b""
        self.out = []
        return out[0] if len(out) == 1 else b"".join(out)

    def seal(self, *, full_only: bool, on_volume: Callable[[], None] | None) -> bool:
        """Seal the outgoing stream into records under the current sending key.

        With ``full_only``, only whole records' worth. ``on_volume`` is called after each record
        sealed once the key has reached its volume limit (it may queue more messages, which are
        sealed in the same call). Returns False when the key is spent: the stream is emptied and
        the session must end.
        """
        stream, plain = self.stream_out, self._plain
        if plain is None:
            if not stream.pending:
                return True
            plain = self._plain = bytearray(MAX_PLAINTEXT)
        while stream.pending >= MAX_CONTENT or (stream.pending and not full_only):
            size = pad_into(plain, ContentKind.STREAM, stream.take(MAX_CONTENT))
            with memoryview(plain) as view, view[:size] as plaintext:
                sealed = self.seal_plaintext(plaintext)
            if not sealed:
                stream.clear()
                return False
            send = self.send
            if on_volume is not None and send is not None and self.volume_exceeded(send):
                on_volume()
        return True

    def seal_plaintext(self, plaintext: bytes | memoryview) -> bool:
        """Seal one padded plaintext (a slice of the stream, or a carrier cell) as a record under
        the current sending key. Returns False, sealing nothing, when the key is spent."""
        send = self.send
        assert send is not None
        if send.records >= REJECT_AFTER_MESSAGES:
            return False  # never reached in practice (2^60 records); end rather than reuse a nonce
        record_type = RecordType.TRANSPORT_PHASE0 + send.phase
        # seal straight into the record: header, then ciphertext and tag
        body_len = len(plaintext) + AEAD_TAG_LEN
        record = bytearray(RECORD_HEADER_LEN + body_len)
        record[0:2] = (body_len + 1).to_bytes(2, "big")
        record[2] = record_type
        with memoryview(record) as view:
            send.cipher.encrypt_with_ad_into(_AD[record_type], plaintext, view[RECORD_HEADER_LEN:])
        self.out.append(record)
        self.records_sent += 1
        send.records += 1
        send.bytes += len(plaintext)
        return True

    def volume_exceeded(self, key: DirectionKey) -> bool:
        """Whether ``key`` has carried enough records or bytes to be replaced (§5.4)."""
        return key.records >= self._rekey_after_records or key.bytes >= self._rekey_after_bytes

    # -- receiving ---------------------------------------------------------------------------------

    def open(self, record_type: int, body: bytes | memoryview, now: float) -> tuple[DirectionKey, bytes]:
        """Authenticate and decrypt one transport record; returns the key it was under and the
        padded plaintext, and counts it.

        Raises:
            RemoteProtocolError: not a transport record, or under an unknown or expired key.
            NoiseError: the record failed authentication (what that means depends on the state).
        """
        if record_type not in TRANSPORT_TYPES:
            raise RemoteProtocolError(f"unexpected record type {record_type} after the handshake")
        phase = record_type - RecordType.TRANSPORT_PHASE0
        recv = self.recv
        assert recv is not None
        if phase != recv.phase:
            # the peer switched to the keys of a rekey we answered
            if self.next_recv is None or self.next_recv.phase != phase:
                raise RemoteProtocolError("record under an unknown key phase")
            recv = self.recv = self.next_recv
            self.next_recv = None
        if now >= recv.created_at + self._reject_after_time:
            raise RemoteProtocolError("record under an expired key", ErrorCode.KEY_EXPIRED)
        plaintext = recv.cipher.decrypt_with_ad(_AD[record_type], body)
        recv.records += 1
        recv.bytes += len(plaintext)
        self.records_received += 1
        return recv, plaintext

    def messages_in(self, plaintext: bytes) -> list[ReceivedMessage]:
        """The messages that ``plaintext`` (an opened record) completes on the incoming stream.

        Raises:
            RemoteProtocolError: the content is malformed.
        """
        if plaintext[:1] == bytes([ContentKind.CELL]):
            raise RemoteProtocolError("the peer uses carrier mode (§14) and this session does not")
        try:
            kind, content = unpad(plaintext)
            if kind != ContentKind.STREAM:
                raise RemoteProtocolError(f"unknown content kind {kind}")
            return self.stream_in.feed(content)
        except (RecordError, MessageError) as exc:
            raise RemoteProtocolError(f"malformed record content: {exc}") from exc

    def check_spent(self, key: DirectionKey) -> None:
        """Raise when the peer has sent more records under ``key`` than a key may carry."""
        if key.records >= REJECT_AFTER_MESSAGES:
            raise RemoteProtocolError("peer exceeded the record limit of a key", ErrorCode.KEY_EXPIRED)
