"""How a call's payloads go into its session: signals in order, media frames paced to the carrier.

Every call message goes in the session's VOICE lane. On a line without a carrier that lane never
refuses anything. On a line whose session runs a carrier (docs/protocol.md §14) the lane is bounded:
speech late is speech lost, so at most :func:`voice_bound` media frames wait there (about one cell's
worth, and one more), and a frame that finds it full waits beside it in one slot, where the next
frame replaces it (the older is dropped and counted). A slow or preempted carrier costs the call
loss, never a growing delay. Signals are never dropped: one the lane has no room for waits, with
every signal after it, until the next tick of the call's media clock.
"""

from __future__ import annotations

import collections
import math

from hotline.net.tcp import ChannelClosed
from hotline.proto import linemsg
from hotline.proto.carrier import Lane, LaneFull
from hotline.proto.carriermode import CarrierSetting
from hotline.proto.linemsg import CallMedia
from hotline.station.calls.needs import CallChannel, CallSession

#: The media clock's tick: one Opus frame.
FRAME = 0.020


def voice_bound(setting: CarrierSetting) -> int:
    """How many media frames may wait in a carrier's VOICE lane: the frames one cell interval
    brings, and one more for a media clock and a cell clock that tick at different moments."""
    return math.ceil(setting.interval / FRAME - 1e-9) + 1


class VoiceLane:
    """One call's way into its session's VOICE lane (on the event loop, like the call).

    Counts the media frames it drops because the carrier could not take them in time
    (:attr:`dropped_late`); the call counts what went.
    """

    def __init__(self, session: CallSession) -> None:
        self.session = session
        #: The carrier of the call's session: media and signals ride in its VOICE lane, never UDP.
        self.carrier = session.channel.carrier
        self.bound = voice_bound(self.carrier) if self.carrier is not None else 0
        #: A media frame that found the VOICE lane full; the next one replaces it (carrier only).
        self.held: bytes | None = None
        #: Signals the VOICE lane had no room for, sent before anything else at the next tick.
        self.signals_held: collections.deque[bytes] = collections.deque()
        #: Media frames dropped here because the carrier could not take them in time.
        self.dropped_late = 0

    def signal(self, data: bytes) -> None:
        """An encoded call signal: sent now, or held (in order) until the lane has room."""
        if self.signals_held:
            self.signals_held.append(data)  # behind the ones already waiting: signals keep order
            return
        if not _send(self.session.channel, data):
            self.signals_held.append(data)

    def send_held_signals(self) -> None:
        """Send the held signals the lane now has room for, oldest first."""
        channel = self.session.channel
        while self.signals_held and not channel.is_closed:
            if not _send(channel, self.signals_held[0]):
                return
            self.signals_held.popleft()

    def media(self, packet: bytes) -> bool:
        """One media packet inside the session; False when it did not go (closed, or no room)."""
        channel = self.session.channel
        return not channel.is_closed and _send(channel, linemsg.encode(CallMedia(packet)))

    def paced(self, packet: bytes) -> int:
        """A media frame into the carrier's VOICE lane, never more than :attr:`bound` waiting
        there: the frame held beside the lane goes first if there is room, and a frame that finds no
        room replaces the held one, which is dropped (speech late is speech lost). Returns how many
        frames went into the lane."""
        channel = self.session.channel
        if channel.is_closed:
            return 0
        sent = 0
        if self.held is not None and self._room(channel):
            held, self.held = self.held, None
            sent += self.media(held)
        if self.held is None and self._room(channel):
            return sent + self.media(packet)
        if self.held is not None:
            self.dropped_late += 1
        self.held = packet
        return sent

    def _room(self, channel: CallChannel) -> bool:
        status = channel.carrier_status()
        return status is None or status.waiting[Lane.VOICE].frames < self.bound


def _send(channel: CallChannel, data: bytes) -> bool:
    """Queue a call's payload in its lane and put it on the wire; False when the carrier's lane has
    no room for it now (nothing queued). A closed session swallows it: the call ends on its own."""
    try:
        channel.send_nowait(data, Lane.VOICE)
        channel.flush()
    except LaneFull:
        return False
    except ChannelClosed:
        pass
    return True


__all__ = ["FRAME", "VoiceLane", "voice_bound"]
