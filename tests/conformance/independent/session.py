"""An established session (§5): records under two key phases, the message stream, keepalives and
in-band rekeys in both roles (§5.4, §3.3)."""

from __future__ import annotations

import socket
import struct
import time

from cryptography.hazmat.primitives.asymmetric import x25519

from . import noise
from .wire import (
    CLOSE,
    DATA,
    MAX_CONTENT,
    PING,
    PONG,
    REKEY_INIT,
    REKEY_REQUEST,
    REKEY_RESPONSE,
    TRANSPORT_PHASE0,
    TRANSPORT_PHASE1,
    StreamReader,
    Value,
    WireError,
    frame,
    pack,
    pad,
    unpack,
    unpad,
)
from .wire import record as make_record


def read_record(sock: socket.socket, max_len: int = 65535) -> tuple[int, bytes]:
    """One record: (type, body); refuses a length field above ``max_len`` (§5.1)."""
    header = _read_exact(sock, 3)
    length, kind = struct.unpack(">HB", header)
    if not 1 <= length <= max_len:
        raise WireError(f"record length {length}")
    return kind, _read_exact(sock, length - 1)


def _read_exact(sock: socket.socket, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise ConnectionError("the peer closed the connection")
        out += chunk
    return out


def _flip(kind: int) -> int:
    return TRANSPORT_PHASE1 if kind == TRANSPORT_PHASE0 else TRANSPORT_PHASE0


class Session:
    """One session after its handshake. ``initiator`` says whether we dialled: only that side starts
    rekeys (§5.4). ``t0`` is the first initiation's timestamp, ``started`` the monotonic time it was
    sent (the initiator dates its rekeys from both, §3.3)."""

    def __init__(
        self,
        sock: socket.socket,
        keys: tuple[noise.CipherState, noise.CipherState, bytes],
        *,
        initiator: bool,
        suite: noise.Suite,
        static: x25519.X25519PrivateKey,
        peer_static: bytes,
        psk: bytes,
        t0: int,
        started: float = 0.0,
    ) -> None:
        self.sock, self.initiator, self.suite = sock, initiator, suite
        self.send_cs, self.receive_cs, self.handshake_hash = keys
        self.static, self.peer_static, self.psk = static, peer_static, psk
        self.t0 = self.t_last = t0  # t_last: the initiator's last t sent, the responder's last accepted
        self.started = started
        self.send_type = self.receive_type = TRANSPORT_PHASE0
        self.superseded: noise.CipherState | None = None  # the responder's old receiving key (§5.4)
        self.rekey: noise.Initiator | None = None  # our rekey in flight
        self.rekeys = 0  # rekeys completed in this session, either role
        self.clock = time.monotonic  # seams to replay docs/vectors: the clock, and the fresh keys
        self.fresh: list[tuple[bytes, bytes]] = []  # (X25519 ephemeral, ML-KEM seed) per rekey we start
        self.fresh_answers: list[tuple[bytes, tuple[bytes, bytes]]] = []  # (ephemeral, (secret, ct))
        self.reader = StreamReader()
        self.pending: list[list[Value]] = []

    # -- sending

    def send(self, *messages: list[Value]) -> None:
        """Queue ``messages`` on the stream and seal them into as few records as they need."""
        stream = b"".join(frame(m) for m in messages)
        for at in range(0, len(stream), MAX_CONTENT):
            sealed = self.send_cs.encrypt(bytes([self.send_type]), pad(stream[at : at + MAX_CONTENT]))
            self.sock.sendall(make_record(self.send_type, sealed))

    def send_line(self, *line_messages: list[Value]) -> None:
        """Send line messages (§10), each as the body of one ``Data``."""
        data: list[list[Value]] = [[DATA, pack(m)] for m in line_messages]
        self.send(*data)

    # -- receiving

    def receive(self, timeout: float) -> list[Value]:
        """The next line message; answers ``Ping`` and rekeys on the way."""
        deadline = time.monotonic() + timeout
        while not self.pending:
            self.pump(deadline)
        return self.pending.pop(0)

    def pump(self, deadline: float) -> None:
        """Read and act on one record before ``deadline`` (monotonic)."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("nothing from the peer in time")
        self.sock.settimeout(left)
        kind, body = read_record(self.sock)
        self.take_record(kind, body)

    def take_record(self, kind: int, body: bytes) -> None:
        """Open one transport record under the key of its phase (§5.1) and act on its messages."""
        if kind == self.receive_type:
            content = unpad(self.receive_cs.decrypt(bytes([kind]), body))
            self.superseded = None  # the first record under the new phase retires the old key
        elif self.superseded is not None and kind == _flip(self.receive_type):
            content = unpad(self.superseded.decrypt(bytes([kind]), body))
        else:
            raise WireError(f"PROTOCOL_VIOLATION: record type {kind}")
        for message in self.reader.feed(content):
            self._act(message)

    def _act(self, message: list[Value]) -> None:
        tag = message[0]
        if tag == DATA:
            inner = unpack(message[1]) if len(message) == 2 and isinstance(message[1], bytes) else None
            if not isinstance(inner, list):
                raise WireError("a Data body holds one line message")
            self.pending.append(inner)
        elif tag == PING:
            self.send([PONG, message[1]])
        elif tag == PONG:
            pass
        elif tag == REKEY_INIT and not self.initiator and isinstance(message[1], bytes):
            self._answer_rekey(message[1])
        elif tag == REKEY_RESPONSE and self.rekey is not None and isinstance(message[1], bytes):
            self._finish_rekey(message[1])
        elif tag == REKEY_REQUEST and self.initiator:
            if self.rekey is None:  # one in flight already answers it
                self.start_rekey()
        elif tag == CLOSE:
            raise ConnectionError(f"the peer closed the session: {message[1:]!r}")
        else:
            raise WireError(f"PROTOCOL_VIOLATION: session message {message!r:.80}")

    # -- rekeys (§5.4)

    def _prologue(self) -> bytes:
        return noise.REKEY_PROLOGUE + self.handshake_hash

    def start_rekey(self) -> None:
        """As the side that dialled: send ``RekeyInit`` under the current keys, dated as §3.3 says."""
        assert self.initiator and self.rekey is None
        t = max(self.t0 + int((self.clock() - self.started) * 1e9), self.t_last + 1)
        self.t_last = t
        ephemeral, kem_seed = self.fresh.pop(0) if self.fresh else (None, None)
        self.rekey = noise.Initiator(
            self.static, self.peer_static, self.psk, self.suite, self._prologue(),
            ephemeral=ephemeral, kem_seed=kem_seed,
        )  # fmt: skip
        self.send([REKEY_INIT, self.rekey.initiation(t)])

    def _finish_rekey(self, response: bytes) -> None:
        assert self.rekey is not None
        self.send_cs, self.receive_cs, self.handshake_hash = self.rekey.read_response(response)
        self.send_type, self.receive_type = _flip(self.send_type), _flip(self.receive_type)
        self.rekey, self.rekeys = None, self.rekeys + 1

    def _answer_rekey(self, initiation: bytes) -> None:
        if self.superseded is not None:
            raise WireError("PROTOCOL_VIOLATION: a rekey while the last one's old key is held")
        hs = noise.Responder(self.static, self.suite, self._prologue())
        initiator, t = hs.read_initiation(initiation)
        if initiator != self.peer_static or t <= self.t_last:
            raise WireError("HANDSHAKE_FAILED: another initiator, or a stale rekey timestamp")
        ephemeral, encapsulated = self.fresh_answers.pop(0) if self.fresh_answers else (None, None)
        response, send, receive, handshake_hash = hs.response(
            self.psk, ephemeral=ephemeral, encapsulated=encapsulated
        )
        self.send([REKEY_RESPONSE, response])  # a record of its own: nothing else under the old key
        self.send_cs, self.send_type = send, _flip(self.send_type)
        self.superseded, self.receive_cs = self.receive_cs, receive
        self.receive_type = _flip(self.receive_type)
        self.handshake_hash, self.t_last, self.rekeys = handshake_hash, t, self.rekeys + 1

    def wait_rekeys(self, count: int, timeout: float) -> None:
        """Read records (keeping their line messages) until ``count`` rekeys have completed."""
        deadline = time.monotonic() + timeout
        while self.rekeys < count:
            self.pump(deadline)

    def close(self) -> None:
        self.sock.close()
