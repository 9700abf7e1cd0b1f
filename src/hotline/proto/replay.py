"""Replay protection for handshake initiations (docs/protocol.md §3.3).

Each initiation carries the initiator's wall-clock timestamp inside the encrypted payload; the
responder accepts an initiation from a peer only if its timestamp is strictly greater than the last
one accepted from that peer (WireGuard's TAI64N rule). A recorded initiation replayed later is then
refused without any reply.
"""

from __future__ import annotations


class TimestampGuard:
    """Greatest accepted initiation timestamp per peer static key. Not safe for concurrent use.

    A station keeps one guard for all its connections (and may persist :attr:`latest`), so a
    replay on a new connection is caught as well as one on the same connection.
    """

    __slots__ = ("latest",)

    def __init__(self, latest: dict[bytes, int] | None = None) -> None:
        #: Peer static public key -> greatest accepted timestamp (ns).
        self.latest: dict[bytes, int] = dict(latest or {})

    def accept(self, peer_static: bytes, timestamp_ns: int) -> bool:
        """Record ``timestamp_ns`` for the peer if it is newer than any seen; return whether it was."""
        if timestamp_ns <= self.latest.get(peer_static, -1):
            return False
        self.latest[peer_static] = timestamp_ns
        return True
