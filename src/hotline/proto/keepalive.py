"""Liveness of an established session: keepalive pings and the idle timeout (docs/protocol.md §5.5).

This module keeps when we last sent and last heard from the peer, and the pings still waiting for
their pong. It decides nothing about ending a session: the :class:`~hotline.proto.session.Session`
reads the deadlines here and acts on them. Both roles follow the same rules.
"""

from __future__ import annotations

from hotline.proto.messages import Ping

#: Unanswered pings remembered at most; older ones are forgotten, oldest first.
_PINGS_KEPT = 8


class Keepalive:
    """When we last sent and heard, and our pings in flight. Not thread-safe.

    Starts with both times at ``now``, as if the peer had just spoken.
    """

    __slots__ = ("_interval", "_misses", "_ping_id", "_pings", "last_received", "last_sent", "reading_paused")

    def __init__(self, interval: float, misses: int, now: float) -> None:
        self._interval = interval
        self._misses = misses
        self.last_sent = now
        self.last_received = now
        #: The adapter stopped reading (its application is slow): the peer is not idle, we are.
        self.reading_paused = False
        # keepalive pings: id -> time sent
        self._ping_id = 0
        self._pings: dict[int, float] = {}

    # -- hooks -------------------------------------------------------------------------------------

    def sent(self, now: float) -> None:
        """Call after a message is queued for the peer."""
        self.last_sent = now

    def received(self, now: float) -> None:
        """Call after an authenticated record is read."""
        self.last_received = now

    def restart(self, now: float) -> None:
        """Call when the session is established: both sides have just spoken."""
        self.last_received = now
        self.last_sent = now

    def pause_reading(self, paused: bool, now: float) -> None:
        """Call when the adapter stops or resumes reading the stream."""
        if self.reading_paused and not paused:
            self.last_received = max(self.last_received, now)
        self.reading_paused = paused

    # -- deadlines ---------------------------------------------------------------------------------

    @property
    def ping_at(self) -> float:
        """When we must send something (a ping if nothing else) to show we are alive."""
        return self.last_sent + self._interval

    @property
    def idle_at(self) -> float | None:
        """When the peer's silence ends the session, or None while we are not reading."""
        if self.reading_paused:
            return None
        return self.last_received + self._interval * self._misses

    # -- pings -------------------------------------------------------------------------------------

    def new_ping(self, now: float) -> Ping:
        """A ping to send now, remembered until its pong comes back."""
        self._ping_id += 1
        self._pings[self._ping_id] = now
        if len(self._pings) > _PINGS_KEPT:
            del self._pings[min(self._pings)]
        return Ping(self._ping_id)

    def pong(self, ping_id: int, now: float) -> float | None:
        """The round trip of the ping ``ping_id`` answered at ``now``, or None if we forgot it."""
        sent = self._pings.pop(ping_id, None)
        return None if sent is None else now - sent
