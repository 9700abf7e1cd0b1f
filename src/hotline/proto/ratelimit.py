"""Rate limits for handshakes and rekeys (docs/protocol.md §3.7, §5.4; issue 13 F12).

An authenticated peer could otherwise make a station do one full handshake (two X25519 operations,
a key generation and an ML-KEM-768 encapsulation) per connection, or one rekey per round trip,
and on a hub that starves every other line. Each limit is a token bucket (WireGuard's ratelimiter
is the model: a steady rate with a small burst). Sans-IO: ``now`` (monotonic seconds) comes in with
every call and nothing here reads a clock.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Hashable

from hotline.proto.constants import (
    HANDSHAKE_BURST,
    HANDSHAKE_RATE,
    SOURCE_HANDSHAKE_BURST,
    SOURCE_HANDSHAKE_RATE,
)

#: Buckets kept per limiter at most: beyond it, buckets that have refilled are forgotten (they are
#: equivalent to a new one), then the oldest.
MAX_BUCKETS = 4096
#: Rounding slack when a token is counted: events spaced exactly ``1 / rate`` apart must all pass.
_SLACK = 1e-9


class TokenBucket:
    """``burst`` tokens, refilled at ``rate`` per second; each allowed event takes one. Not thread-safe.

    Over any interval of ``d`` seconds at most ``burst + rate * d`` events are allowed, and after
    ``burst / rate`` idle seconds a full burst is allowed again.
    """

    __slots__ = ("burst", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a token bucket needs a positive rate and a burst of at least 1")
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.stamp = now

    def _refill(self, now: float) -> None:
        if now > self.stamp:  # a clock that goes back gives nothing and takes nothing
            self.tokens = min(float(self.burst), self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now

    def take(self, now: float) -> bool:
        """Take one token if there is one; return whether the event is allowed."""
        self._refill(now)
        if self.tokens >= 1.0 - _SLACK:
            self.tokens = max(0.0, self.tokens - 1.0)
            return True
        return False

    def full(self, now: float) -> bool:
        """Whether the bucket has refilled completely (it then behaves like a new one)."""
        self._refill(now)
        return self.tokens >= self.burst - _SLACK


class KeyedBuckets:
    """One :class:`TokenBucket` per key (a peer's static key, a source address). Not thread-safe.

    Memory is bounded by :data:`MAX_BUCKETS`: a forgotten bucket comes back full, which is what it
    would have been after ``burst / rate`` idle seconds anyway.
    """

    __slots__ = ("_buckets", "burst", "max_buckets", "rate")

    def __init__(self, rate: float, burst: int, *, max_buckets: int = MAX_BUCKETS) -> None:
        self.rate = rate
        self.burst = burst
        self.max_buckets = max_buckets
        self._buckets: dict[Hashable, TokenBucket] = {}

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: Hashable, now: float) -> bool:
        """Take one token from ``key``'s bucket; return whether the event is allowed."""
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_buckets:
                self._evict(now)
            bucket = self._buckets[key] = TokenBucket(self.rate, self.burst, now)
        return bucket.take(now)

    def _evict(self, now: float) -> None:
        for key in [k for k, b in self._buckets.items() if b.full(now)]:
            del self._buckets[key]
        while len(self._buckets) >= self.max_buckets:
            del self._buckets[next(iter(self._buckets))]


class HandshakeLimits:
    """A responder's limits on first handshakes, shared by every connection of a station.

    Two buckets stand in front of the expensive work:

    * per source address, checked after ``mac1`` and before any DH: someone who holds our card but
      is no peer of ours can make us do at most this many pairs of DH per second per address;
    * per peer static key, checked once the initiation has identified and authenticated the peer
      and its timestamp is fresh, before the response (DH, key generation, KEM encapsulation).

    What exceeds them is dropped silently (docs/protocol.md §3.6) and counted; ``on_drop`` hears of
    each drop with the peer's static key, or None for a per-address drop.
    """

    def __init__(
        self,
        *,
        peer_rate: float = HANDSHAKE_RATE,
        peer_burst: int = HANDSHAKE_BURST,
        source_rate: float = SOURCE_HANDSHAKE_RATE,
        source_burst: int = SOURCE_HANDSHAKE_BURST,
        on_drop: Callable[[bytes | None], None] | None = None,
    ) -> None:
        self._peers = KeyedBuckets(peer_rate, peer_burst)
        self._sources = KeyedBuckets(source_rate, source_burst)
        self._on_drop = on_drop
        #: Initiations dropped by the per-address limit (their sender was not identified).
        self.dropped_by_source = 0
        #: Peer static key -> initiations dropped by the per-peer limit.
        self.dropped_by_peer: dict[bytes, int] = {}

    def allow_source(self, source: str | None, now: float) -> bool:
        """Whether an initiation from ``source`` (an address; None when unknown) may cost a DH."""
        if source is None or self._sources.take(source_key(source), now):
            return True
        self.dropped_by_source += 1
        if self._on_drop is not None:
            self._on_drop(None)
        return False

    def allow_peer(self, peer_static: bytes, now: float) -> bool:
        """Whether an authenticated initiation from ``peer_static`` may be answered."""
        if self._peers.take(peer_static, now):
            return True
        self.dropped_by_peer[peer_static] = self.dropped_by_peer.get(peer_static, 0) + 1
        if self._on_drop is not None:
            self._on_drop(peer_static)
        return False


def source_key(address: str) -> str:
    """The bucket an address counts against: the address itself for IPv4, its /64 for IPv6 (one
    host usually holds a whole /64, so counting single IPv6 addresses would not limit it)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(ip) >> 64 << 64, 64)))
    return str(ip)
