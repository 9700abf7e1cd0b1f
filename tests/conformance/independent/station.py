"""A blocking, single-line station: dial or accept (§3), transport records (§5), and the line
protocol of §10 (Hello, entries with their chain, receipts, line tests)."""

from __future__ import annotations

import os
import socket
import struct
import time
from dataclasses import dataclass, field

from . import noise
from .keys import Card, Identity
from .wire import (
    DATA,
    ENTRY,
    FLASH,
    HELLO,
    MAX_CONTENT,
    PING,
    PONG,
    RECEIPT,
    TEST,
    TEST_REPLY,
    TRANSPORT_PHASE0,
    Entry,
    StreamReader,
    Value,
    WireError,
    chain_next,
    chain_start,
    frame,
    pack,
    pad,
    record,
    unpack,
    unpad,
)


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


class Session:
    """An established session (§5): phase 0 keys only; this station never rekeys."""

    def __init__(self, sock: socket.socket, send: noise.CipherState, receive: noise.CipherState) -> None:
        self.sock, self.send_cs, self.receive_cs = sock, send, receive
        self.reader = StreamReader()
        self.pending: list[list[Value]] = []

    def send(self, *messages: list[Value]) -> None:
        """Queue ``messages`` on the stream and seal them into as few records as they need."""
        stream = b"".join(frame(m) for m in messages)
        for at in range(0, len(stream), MAX_CONTENT):
            content = stream[at : at + MAX_CONTENT]
            ad = bytes([TRANSPORT_PHASE0])
            self.sock.sendall(record(TRANSPORT_PHASE0, self.send_cs.encrypt(ad, pad(content))))

    def send_line(self, *line_messages: list[Value]) -> None:
        """Send line messages (§10), each as the body of one ``Data``."""
        data: list[list[Value]] = [[DATA, pack(m)] for m in line_messages]
        self.send(*data)

    def receive(self, timeout: float) -> list[Value]:
        """The next line message; answers ``Ping`` on the way (§5.3)."""
        deadline = time.monotonic() + timeout
        while not self.pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no line message in time")
            self.sock.settimeout(left)
            kind, body = read_record(self.sock)
            if kind != TRANSPORT_PHASE0:
                raise WireError(f"record type {kind} (this station never rekeys)")
            content = unpad(self.receive_cs.decrypt(bytes([kind]), body))
            for message in self.reader.feed(content):
                if message[0] == PING:
                    self.send([PONG, message[1]])
                elif message[0] == DATA:
                    inner = unpack(message[1]) if isinstance(message[1], bytes) else None
                    if not isinstance(inner, list):
                        raise WireError("a Data body holds one line message")
                    self.pending.append(inner)
                elif message[0] != PONG:
                    raise WireError(f"unexpected session message {message[0]!r}")
        return self.pending.pop(0)

    def close(self) -> None:
        self.sock.close()


@dataclass
class Line:
    """Our end of one line: keys and both transcripts (kept in memory across sessions)."""

    me: Identity
    peer: Card
    line_key: bytes
    sent: list[Entry] = field(default_factory=list)
    received: list[Entry] = field(default_factory=list)
    last_timestamp: int = 0
    peer_guard: int = 0

    def out_head(self) -> bytes:
        return self.sent[-1].chain if self.sent else chain_start(self.me.digest, self.peer.digest)

    def in_head(self) -> bytes:
        return self.received[-1].chain if self.received else chain_start(self.peer.digest, self.me.digest)

    def hello(self) -> list[Value]:
        return [HELLO, len(self.received), self.in_head(), len(self.sent)]

    def check_hello(self, msg: list[Value]) -> None:
        """The peer's Hello must match our outbound chain (§10.2 rule 3)."""
        if msg[0] != HELLO or len(msg) != 4:
            raise WireError(f"expected Hello, got {msg!r:.80}")
        received_seq, head = msg[1], msg[2]
        assert isinstance(received_seq, int)
        if received_seq > len(self.sent):
            raise WireError("the peer's Hello claims entries we never sent")
        start = chain_start(self.me.digest, self.peer.digest)
        if head != (self.sent[received_seq - 1].chain if received_seq else start):
            raise WireError("the peer's Hello does not match our chain")

    def new_entry(self, kind: int, precedence: int, body: bytes, ref: bytes = b"") -> Entry:
        seq, entry_id, created = len(self.sent) + 1, os.urandom(10), time.time_ns() // 1_000_000
        fields: list[Value] = [seq, entry_id, kind, precedence, created, ref, body]
        entry = Entry(
            seq, entry_id, kind, precedence, created, ref, body, chain_next(self.out_head(), fields)
        )
        self.sent.append(entry)
        return entry

    def take(self, entry: Entry) -> list[Value]:
        """Accept the peer's next entry (§10.1); returns the Receipt to send."""
        if entry.seq == len(self.received) + 1:
            if chain_next(self.in_head(), entry.fields()) != entry.chain:
                raise WireError("chain head differs: tampering")
            self.received.append(entry)
        elif entry.seq > len(self.received) + 1:
            raise WireError("a gap in the peer's transcript")
        return [RECEIPT, len(self.received), self.in_head()]

    def check_receipt(self, msg: list[Value], seq: int) -> None:
        if msg[0] != RECEIPT or msg[1] != seq or msg[2] != self.sent[seq - 1].chain:
            raise WireError(f"expected Receipt({seq}) with our head, got {msg!r:.120}")

    def test_view(self) -> bytes:
        """The body of a TEST: our view of the inbound direction (§10)."""
        return pack([len(self.received), self.in_head()])

    def answer_test(self, test: Entry) -> Entry:
        """Check a TEST's view against our outbound chain and queue its TEST_REPLY (§10.2 rule 4)."""
        view = unpack(test.body)
        if view != [len(self.sent), self.out_head()]:
            raise WireError("the line test's view does not match our chain")
        return self.new_entry(TEST_REPLY, FLASH, pack([test.seq, test.chain]), ref=test.id)

    def next_timestamp(self) -> int:
        self.last_timestamp = max(time.time_ns(), self.last_timestamp + 1)
        return self.last_timestamp


def dial(
    line: Line, address: tuple[str, int], timeout: float = 10.0, with_ping: tuple[list[Value], ...] = ()
) -> Session:
    """Run the handshake as initiator (§3) and confirm the keys with a ``Ping`` (§3.5); the line
    messages ``with_ping`` share that first record."""
    sock = socket.create_connection(address, timeout=timeout)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        hs = noise.Initiator(line.me.x25519, line.peer.x25519, line.line_key)
        sock.sendall(record(1, hs.initiation(line.next_timestamp())))
        kind, body = read_record(sock, noise.RESPONSE_LEN + 1)
        if kind != 2:
            raise WireError("HANDSHAKE_FAILED: not a response")
        send, receive, _ = hs.read_response(body)
    except BaseException:
        sock.close()
        raise
    session = Session(sock, send, receive)
    first: list[list[Value]] = [[PING, 1]]
    first.extend([DATA, pack(m)] for m in with_ping)
    session.send(*first)
    return session


def accept(line: Line, listener: socket.socket, timeout: float = 10.0) -> Session:
    """Answer one initiation on ``listener`` as responder (§3.2, §3.3, §3.5)."""
    listener.settimeout(timeout)
    sock, _ = listener.accept()
    sock.settimeout(timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    kind, body = read_record(sock, 1705)
    if kind != 1:
        raise WireError("not an initiation")
    hs = noise.Responder(line.me.x25519)
    initiator, t = hs.read_initiation(body)
    if initiator != line.peer.x25519 or t <= line.peer_guard:
        raise WireError("unknown initiator or replayed timestamp")
    response, send, receive, _ = hs.response(line.line_key)
    sock.sendall(record(2, response))
    session = Session(sock, send, receive)
    # the first record must authenticate (it may hold more than the Ping: keep what it carries)
    kind, first = read_record(sock)
    if kind != TRANSPORT_PHASE0:
        raise WireError("first record")
    for message in session.reader.feed(unpad(receive.decrypt(bytes([kind]), first))):
        if message[0] == PING:
            session.send([PONG, message[1]])
        elif message[0] == DATA and isinstance(message[1], bytes):
            inner = unpack(message[1])
            assert isinstance(inner, list)
            session.pending.append(inner)
    line.peer_guard = t
    return session


def entry_of(msg: list[Value]) -> Entry:
    if msg[0] != ENTRY:
        raise WireError(f"expected an Entry, got tag {msg[0]!r}")
    return Entry.parse(msg)


__all__ = ["TEST", "Line", "Session", "accept", "dial", "entry_of"]
