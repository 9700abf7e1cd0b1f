"""Two Hotline stations that know each other, and the settings to dial from one to the other.

This is the benchmark's own tiny stand-in for a station: one static key each, one line key, a peers
directory with a single entry and one replay guard on the listening side. The line runs one profile
(``standard`` unless told otherwise) at both ends, as a real line does.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass

from bench.stats import HOTLINE
from hotline.crypto.x25519 import X25519PrivateKey
from hotline.net.tcp import Listener, SecureChannel, connect
from hotline.proto.handshake import PeerTable as Peers
from hotline.proto.replay import TimestampGuard
from hotline.proto.session import SessionConfig
from hotline.proto.suites import CNSA2, STANDARD, Suite

#: Report label of each profile's Hotline rows; ``standard`` keeps the plain label of earlier runs.
HOTLINE_CNSA2 = "Hotline cnsa2"
#: The profiles the protocol benchmarks run, by the label of their rows (standard first).
PROFILES: dict[str, Suite] = {HOTLINE: STANDARD, HOTLINE_CNSA2: CNSA2}


@dataclass
class Line:
    """A dialling station (``client``) and a listening one (``server``) sharing a line key."""

    client: SessionConfig
    server: SessionConfig
    server_static: bytes
    line_key: bytes
    peers: Peers
    guard: TimestampGuard

    @property
    def suite(self) -> Suite:
        """The line's profile (the same at both ends)."""
        return self.client.suite


def make_line(suite: Suite = STANDARD) -> Line:
    """Fresh keys for both stations; the server knows the client; both ends run ``suite``."""
    client_key = X25519PrivateKey.generate()
    server_key = X25519PrivateKey.generate()
    line_key = secrets.token_bytes(32)
    peers = Peers({client_key.public_key().raw: line_key})
    return Line(
        client=SessionConfig(static=client_key, suite=suite),
        server=SessionConfig(static=server_key, suite=suite),
        server_static=server_key.public_key().raw,
        line_key=line_key,
        peers=peers,
        guard=TimestampGuard(),
    )


async def dial(line: Line, listener: Listener) -> tuple[SecureChannel, SecureChannel]:
    """Dial ``listener`` as the line's client; return (client, server) once both are authenticated."""
    return await asyncio.gather(
        connect(
            "127.0.0.1",
            listener.port,
            config=line.client,
            peer_static=line.server_static,
            line_key=line.line_key,
        ),
        listener.accept(),
    )
