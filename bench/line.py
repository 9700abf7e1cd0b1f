"""Two Hotline stations that know each other, and the settings to dial from one to the other.

This is the benchmark's own tiny stand-in for a station: one static key each, one line key, a peers
directory with a single entry and one replay guard on the listening side.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass

from hotline.crypto.x25519 import X25519PrivateKey
from hotline.net.tcp import Listener, SecureChannel, connect
from hotline.proto.handshake import PeerTable as Peers
from hotline.proto.replay import TimestampGuard
from hotline.proto.session import SessionConfig


@dataclass
class Line:
    """A dialling station (``client``) and a listening one (``server``) sharing a line key."""

    client: SessionConfig
    server: SessionConfig
    server_static: bytes
    line_key: bytes
    peers: Peers
    guard: TimestampGuard


def make_line() -> Line:
    """Fresh keys for both stations; the server knows the client."""
    client_key = X25519PrivateKey.generate()
    server_key = X25519PrivateKey.generate()
    line_key = secrets.token_bytes(32)
    peers = Peers({client_key.public_key().raw: line_key})
    return Line(
        client=SessionConfig(static=client_key),
        server=SessionConfig(static=server_key),
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
