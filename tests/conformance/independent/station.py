"""A blocking, single-line station of either profile: dial or accept (§3), the session of
:mod:`.session` (§5), and the line protocol of §10 (Hello, entries with their chain, receipts, line
tests)."""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass, field

from . import noise
from .keys import Card, Identity
from .session import Session, read_record
from .wire import (
    DATA,
    ENTRY,
    FLASH,
    HANDSHAKE_INIT,
    HANDSHAKE_RESPONSE,
    HELLO,
    PING,
    RECEIPT,
    TEST,
    TEST_REPLY,
    TRANSPORT_PHASE0,
    Entry,
    Value,
    WireError,
    chain_next,
    chain_start,
    pack,
    record,
    unpack,
)


@dataclass
class Line:
    """Our end of one line: keys and both transcripts (kept in memory across sessions)."""

    me: Identity
    peer: Card
    line_key: bytes
    profile: str = "standard"
    sent: list[Entry] = field(default_factory=list)
    received: list[Entry] = field(default_factory=list)
    last_timestamp: int = 0
    peer_guard: int = 0

    @property
    def suite(self) -> noise.Suite:
        return noise.SUITES[self.profile]

    def start(self, outbound: bool) -> bytes:
        """``H0`` of our outbound direction, or of the peer's (§10.1)."""
        ours, theirs = self.me.digest_of(self.profile), self.peer.digest_of(self.profile)
        return (
            chain_start(ours, theirs, self.profile) if outbound else chain_start(theirs, ours, self.profile)
        )

    def out_head(self) -> bytes:
        return self.sent[-1].chain if self.sent else self.start(True)

    def in_head(self) -> bytes:
        return self.received[-1].chain if self.received else self.start(False)

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
        if head != (self.sent[received_seq - 1].chain if received_seq else self.start(True)):
            raise WireError("the peer's Hello does not match our chain")

    def new_entry(self, kind: int, precedence: int, body: bytes, ref: bytes = b"") -> Entry:
        seq, entry_id, created = len(self.sent) + 1, os.urandom(10), time.time_ns() // 1_000_000
        fields: list[Value] = [seq, entry_id, kind, precedence, created, ref, body]
        entry = Entry(
            seq,
            entry_id,
            kind,
            precedence,
            created,
            ref,
            body,
            chain_next(self.out_head(), fields, self.profile),
        )
        self.sent.append(entry)
        return entry

    def take(self, entry: Entry) -> list[Value]:
        """Accept the peer's next entry (§10.1); returns the Receipt to send."""
        if entry.seq == len(self.received) + 1:
            if chain_next(self.in_head(), entry.fields(), self.profile) != entry.chain:
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
    suite = line.suite
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        hs = noise.Initiator(line.me.x25519, line.peer.x25519, line.line_key, suite)
        t0, started = line.next_timestamp(), time.monotonic()
        sock.sendall(record(HANDSHAKE_INIT, hs.initiation(t0)))
        kind, body = read_record(sock, suite.response_len + 1)
        if kind != HANDSHAKE_RESPONSE:
            raise WireError("HANDSHAKE_FAILED: not a response")
        keys = hs.read_response(body)
    except BaseException:
        sock.close()
        raise
    session = Session(
        sock, keys, initiator=True, suite=suite, static=line.me.x25519, peer_static=line.peer.x25519,
        psk=line.line_key, t0=t0, started=started,
    )  # fmt: skip
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
    if kind != HANDSHAKE_INIT or len(body) != line.suite.initiation_len:
        raise WireError("not an initiation of the line's profile")
    hs = noise.Responder(line.me.x25519, line.suite)
    initiator, t = hs.read_initiation(body)
    if initiator != line.peer.x25519 or t <= line.peer_guard:
        raise WireError("unknown initiator or replayed timestamp")
    response, send, receive, handshake_hash = hs.response(line.line_key)
    sock.sendall(record(HANDSHAKE_RESPONSE, response))
    session = Session(
        sock, (send, receive, handshake_hash), initiator=False, suite=line.suite,
        static=line.me.x25519, peer_static=initiator, psk=line.line_key, t0=t,
    )  # fmt: skip
    # the first record must authenticate (it may hold more than the Ping: keep what it carries)
    kind, first = read_record(sock)
    if kind != TRANSPORT_PHASE0:
        raise WireError("first record")
    session.take_record(kind, first)
    line.peer_guard = t
    return session


def entry_of(msg: list[Value]) -> Entry:
    if msg[0] != ENTRY:
        raise WireError(f"expected an Entry, got tag {msg[0]!r}")
    return Entry.parse(msg)


__all__ = ["TEST", "Line", "Session", "accept", "dial", "entry_of"]
