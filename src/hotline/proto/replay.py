"""Replay protection for handshake initiations (docs/protocol.md §3.3).

Each initiation carries the initiator's wall-clock timestamp inside the encrypted payload; the
responder answers an initiation from a peer only if its timestamp is strictly greater than the
greatest one *confirmed* from that peer (WireGuard's TAI64N rule). A recorded initiation replayed
later is then refused without any reply.

Two refinements (issue 13, F8):

* The guard is raised only when the session the initiation started is confirmed, i.e. the
  initiator's first transport record proved the line key (§3.5). An initiation that never
  confirms — forged by someone who holds the peer's static key but not the line key, or a replay
  cut short — leaves the guard where it was, so it cannot lock the real peer out.
* A station persists the guard (``on_raise``) and builds it from what it stored, so a restart does
  not reopen the door to recordings.

Between an answer and its confirmation the same timestamp is not answered again: a copy of an
initiation still in flight is a recording too (the genuine initiator never repeats a timestamp).
"""

from __future__ import annotations

from collections.abc import Callable

#: Answered, not yet confirmed timestamps remembered per peer (the oldest are forgotten first).
MAX_PENDING = 16


class TimestampGuard:
    """Greatest confirmed initiation timestamp per peer static key. Not safe for concurrent use.

    A station keeps one guard for all its connections, so a replay on a new connection is caught
    as well as one on the same connection. Use :meth:`admit` before answering an initiation and
    :meth:`confirm` once its session is confirmed; :meth:`accept` does both at once (for rekeys,
    which arrive already authenticated by the session's keys).
    """

    __slots__ = ("_on_raise", "_pending", "latest")

    def __init__(
        self,
        latest: dict[bytes, int] | None = None,
        *,
        on_raise: Callable[[bytes, int], None] | None = None,
    ) -> None:
        #: Peer static public key -> greatest confirmed timestamp (ns).
        self.latest: dict[bytes, int] = dict(latest or {})
        self._on_raise = on_raise
        self._pending: dict[bytes, list[int]] = {}

    def admit(self, peer_static: bytes, timestamp_ns: int) -> bool:
        """Whether an initiation with ``timestamp_ns`` may be answered: strictly newer than any
        confirmed, and not one already answered and awaiting confirmation. Admitting it does not
        raise the guard."""
        if timestamp_ns <= self.latest.get(peer_static, -1):
            return False
        pending = self._pending.setdefault(peer_static, [])
        if timestamp_ns in pending:
            return False
        pending.append(timestamp_ns)
        if len(pending) > MAX_PENDING:
            del pending[0]
        return True

    def confirm(self, peer_static: bytes, timestamp_ns: int) -> None:
        """The session of an initiation with ``timestamp_ns`` is confirmed: raise the guard to it
        (it never goes down) and tell ``on_raise``."""
        if timestamp_ns <= self.latest.get(peer_static, -1):
            return
        self.latest[peer_static] = timestamp_ns
        pending = self._pending.get(peer_static)
        if pending is not None:
            pending[:] = [t for t in pending if t > timestamp_ns]
            if not pending:
                del self._pending[peer_static]
        if self._on_raise is not None:
            self._on_raise(peer_static, timestamp_ns)

    def accept(self, peer_static: bytes, timestamp_ns: int) -> bool:
        """:meth:`admit` and :meth:`confirm` at once; return whether the timestamp was newer."""
        if not self.admit(peer_static, timestamp_ns):
            return False
        self.confirm(peer_static, timestamp_ns)
        return True
