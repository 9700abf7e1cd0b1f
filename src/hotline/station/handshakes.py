"""The station's defences around handshakes: the persisted anti-replay guard and the rate limits.

* Issue 13, F8: the greatest confirmed initiation timestamp of each peer (docs/protocol.md §3.3)
  is kept in the store, one ``meta`` row per peer static key, and loaded when the station opens,
  so a recording of an earlier initiation gets no answer after a restart either. The guard is
  raised (and written) only once a session is confirmed (§3.5).
* Issue 13, F12: initiations beyond the per-address and per-peer limits are dropped unanswered
  (§3.7) and sessions that rekey too fast end with ``RATE_LIMITED`` (§5.4). Both are counted per
  line for ``status`` and logged at most once a minute per line.
"""

from __future__ import annotations

import asyncio
import logging
import time

from hotline.proto.ratelimit import HandshakeLimits
from hotline.proto.replay import TimestampGuard
from hotline.station.lines.registry import LineRegistry
from hotline.station.ports import Link
from hotline.station.worker import StoreWorker
from hotline.store.db import Store
from hotline.store.errors import StoreError

log = logging.getLogger("hotline.station")

#: Prefix of the store's ``meta`` key holding one peer's guard (then the static key in hex).
GUARD_META_PREFIX = "replay_guard:"
#: How often throttling of one line (or of unidentified addresses) is logged, at most (seconds).
THROTTLE_LOG_INTERVAL = 60.0


def guard_meta_key(peer_static: bytes) -> str:
    """The ``meta`` key of ``peer_static``'s greatest confirmed initiation timestamp."""
    return GUARD_META_PREFIX + peer_static.hex()


def load_guard(store: Store, peers: list[bytes]) -> dict[bytes, int]:
    """The stored guard of each of ``peers`` that has one (timestamps in ns)."""
    latest = {}
    for peer in peers:
        value = store.meta.get(guard_meta_key(peer))
        if value is not None:
            latest[peer] = int.from_bytes(value, "big")
    return latest


def store_guard(store: Store, peer_static: bytes, timestamp_ns: int) -> None:
    """Raise ``peer_static``'s stored guard to ``timestamp_ns``; never lower it."""
    key = guard_meta_key(peer_static)
    current = store.meta.get(key)
    if current is None or int.from_bytes(current, "big") < timestamp_ns:
        store.meta.set(key, timestamp_ns.to_bytes(8, "big"))


class HandshakeDefence:
    """The guard and limits a station's listener uses, with their counts and logs. Event loop only."""

    def __init__(self, worker: StoreWorker, lines: LineRegistry) -> None:
        self._worker = worker
        self._lines = lines
        #: Shared by every incoming connection; raised on confirmation and persisted.
        self.guard = TimestampGuard(on_raise=self._raised)
        #: Shared by every incoming connection.
        self.limits = HandshakeLimits(on_drop=self._dropped)
        #: Peer static key -> sessions ended because the peer rekeyed too fast.
        self.rekey_floods: dict[bytes, int] = {}
        # what was last logged when: (kind, peer static key or None for addresses)
        self._logged: dict[tuple[str, bytes | None], float] = {}

    async def load(self, peers: list[bytes]) -> None:
        """Restore the stored guard of ``peers`` (call before listening)."""
        stored = await self._worker.call(lambda store: load_guard(store, peers))
        for peer, stamp in stored.items():
            self.guard.latest[peer] = max(stamp, self.guard.latest.get(peer, -1))

    def counts(self, peer_static: bytes) -> dict[str, int]:
        """What ``status`` shows for the line to ``peer_static``."""
        return {
            "handshakes_throttled": self.limits.dropped_by_peer.get(peer_static, 0),
            "rekey_floods": self.rekey_floods.get(peer_static, 0),
        }

    def rekey_flood(self, line: Link) -> None:
        """A session of ``line`` ended with ``RATE_LIMITED`` (a rekey flood)."""
        peer = line.row.static_public
        self.rekey_floods[peer] = self.rekey_floods.get(peer, 0) + 1
        if self._due(("rekeys", peer)):
            log.warning(
                "ended a session whose peer rekeyed faster than the limit (a misbehaving or hostile "
                "station; the line redials; the count is in `hotline status --json`)",
                extra={"peer": line.peer, "rekey_floods": self.rekey_floods[peer]},
            )

    def _raised(self, peer_static: bytes, timestamp_ns: int) -> None:
        stored = self._worker.submit(lambda store: store_guard(store, peer_static, timestamp_ns))
        stored.add_done_callback(_log_unstored_guard)

    def _dropped(self, peer_static: bytes | None) -> None:
        if not self._due(("handshakes", peer_static)):
            return
        if peer_static is None:
            log.warning(
                "dropped initiations from an address over its handshake rate limit (nothing answered; "
                "the count is in `hotline status --json`)",
                extra={"dropped": self.limits.dropped_by_source},
            )
            return
        line = self._lines.by_static(peer_static)
        log.warning(
            "dropped initiations from a peer over its handshake rate limit (nothing answered; the "
            "count is in `hotline status --json`)",
            extra={
                "peer": line.peer if line is not None else "?",
                "dropped": self.limits.dropped_by_peer.get(peer_static, 0),
            },
        )

    def _due(self, key: tuple[str, bytes | None]) -> bool:
        now = time.monotonic()
        if now - self._logged.get(key, -THROTTLE_LOG_INTERVAL) < THROTTLE_LOG_INTERVAL:
            return False
        self._logged[key] = now
        return True


def _log_unstored_guard(stored: asyncio.Future[None]) -> None:
    # in memory the guard still holds; only a restart before the next confirmed session forgets it
    error = None if stored.cancelled() else stored.exception()
    if error is not None:
        why = error.reason if isinstance(error, StoreError) else repr(error)
        log.warning("could not store a peer's handshake timestamp", extra={"error": why})
