"""What a line's delivery puts on its current session (:mod:`hotline.station.lines.delivery`).

Each message goes in its carrier lane (docs/protocol.md §14.3), or on the session's stream without
a carrier. A message a full lane refuses is never lost: a control message waits, in order, for the
lanes to take it as cells leave (and every control message after it waits behind it); an entry is
refused back to the caller, which sends it again from the store.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from hotline.net.tcp import ChannelClosed, SecureChannel
from hotline.proto import linemsg
from hotline.proto.carrier import Lane, LaneFull
from hotline.proto.linemsg import Entry, Hello, Receipt


class OutboxSession(Protocol):
    """What the outbox uses of a session (:class:`hotline.station.ports.LinkSession`)."""

    @property
    def channel(self) -> SecureChannel: ...


class Outbox:
    """Puts a line's messages on the session it follows; holds the control messages a full lane
    refused, in order. Belongs to the line's event loop.

    Args:
        spawn: runs a task for the line (it offers the refused messages again as cells leave).
    """

    __slots__ = ("_backlog", "_spawn", "session")

    def __init__(self, spawn: Callable[[Coroutine[Any, Any, None]], None]) -> None:
        self._spawn = spawn
        #: The session messages go on (None: none; they are dropped).
        self.session: OutboxSession | None = None
        #: Control messages of :attr:`session` a full lane refused, in order.
        self._backlog: list[tuple[bytes, Lane]] = []

    def follow(self, session: OutboxSession | None) -> None:
        """Send on ``session`` from now on; what waited for the one before is dropped with it."""
        self.session = session
        self._backlog = []

    def send(self, message: Hello | Entry | Receipt, flush: bool, lane: Lane | None) -> bool:
        """Put ``message`` in ``lane`` (None: its own, :func:`hotline.proto.linemsg.carrier_lane`)
        and, if ``flush``, on the wire now; False: an entry that a full lane refused, to be sent
        again from the store.

        Raises:
            ChannelClosed: the session's channel is closed.
        """
        session = self.session
        if session is None:
            return True
        channel, data = session.channel, linemsg.encode(message)
        lane = linemsg.carrier_lane(message) if lane is None else lane
        if self._backlog and not isinstance(message, Entry):
            self._backlog.append((data, lane))  # behind what a full lane refused before it
            return True
        try:
            channel.send_nowait(data, lane)
        except LaneFull:
            if isinstance(message, Entry):
                # the pacing keeps the entry lanes far below their bound; should one refuse anyway,
                # the entry stays numbered in the store and the sender resends from it, in order
                return False
            self._backlog.append((data, lane))
            self._spawn(self._send_backlog(session))
            return True
        if flush:
            channel.flush()
        return True

    async def _send_backlog(self, session: OutboxSession) -> None:
        """Offer the control messages a full lane refused again, in order, as cells leave."""
        channel = session.channel
        while self._backlog and self.session is session and not channel.is_closed:
            await channel.wait_room()
            while self._backlog and self.session is session:
                data, lane = self._backlog[0]
                try:
                    channel.send_nowait(data, lane)
                except LaneFull:
                    break
                except ChannelClosed:
                    return
                self._backlog.pop(0)


__all__ = ["Outbox", "OutboxSession"]
