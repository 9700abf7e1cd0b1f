"""send_in_lane never loses a message a full lane refuses, and keeps the order it was handed them.

The channel here is a stand-in with one small lane per kind: it refuses what does not fit
(``LaneFull``, nothing queued, as the real carrier does) until the test lets cells "leave"; the
real channel's lanes are exercised by tests/integration/test_station_carrier.py.
"""

from __future__ import annotations

import asyncio

import pytest

from hotline.net.tcp import ChannelClosed
from hotline.proto import linemsg
from hotline.proto.carrier import Lane, LaneFull
from hotline.proto.document import DocState
from hotline.proto.errors import ErrorCode
from hotline.proto.linemsg import DocProgress, HoldReason, Withhold
from hotline.station import lanes
from hotline.station.lanes import send_in_lane


class Channel:
    """Lanes that hold ``room`` messages each; :meth:`leave` empties them as the next cells would."""

    def __init__(self, room: int) -> None:
        self.room = room
        self.queued: dict[Lane, list[bytes]] = {}
        self.wire: list[linemsg.LineMessage] = []
        self.is_closed = False
        self.flushes = 0
        self._left = asyncio.Event()

    def send_nowait(self, data: bytes, lane: Lane = Lane.MESSAGES, /) -> None:
        if self.is_closed:
            raise ChannelClosed(ErrorCode.CONNECTION_LOST, "connection lost")
        waiting = self.queued.setdefault(lane, [])
        if len(waiting) >= self.room:
            raise LaneFull("full")
        waiting.append(data)

    def flush(self) -> None:
        self.flushes += 1

    async def wait_room(self) -> None:
        if not self.is_closed:
            self._left.clear()
            await self._left.wait()

    def leave(self) -> None:
        for lane in sorted(self.queued):
            self.wire += [linemsg.decode(d) for d in self.queued[lane]]
            self.queued[lane] = []
        self._left.set()

    def close(self) -> None:
        self.is_closed = True
        self._left.set()


def progress(n: int) -> DocProgress:
    return DocProgress(bytes(16), n, DocState.RECEIVING)


async def test_room_sends_at_once() -> None:
    channel = Channel(room=4)
    send_in_lane(channel, progress(1))
    assert channel.queued[Lane.CONTROL] and channel.flushes == 1
    assert lanes.waiting(channel) == 0


async def test_a_full_lane_delays_but_never_drops_and_order_holds() -> None:
    channel = Channel(room=2)
    for n in range(7):
        send_in_lane(channel, progress(n))
    send_in_lane(channel, Withhold(3, HoldReason.RESUME, 0))
    assert lanes.waiting(channel) == 6  # two fit, the rest wait, in order
    for _ in range(10):
        channel.leave()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
    channel.leave()
    sent = channel.wire
    assert [m.stored for m in sent if isinstance(m, DocProgress)] == list(range(7))
    assert isinstance(sent[-1], Withhold)
    assert lanes.waiting(channel) == 0
    # once the backlog is gone, room sends at once again
    send_in_lane(channel, progress(99))
    assert channel.queued[Lane.CONTROL]


async def test_what_waits_when_the_session_ends_is_dropped_quietly() -> None:
    channel = Channel(room=1)
    for n in range(3):
        send_in_lane(channel, progress(n))
    assert lanes.waiting(channel) == 2
    channel.close()
    for _ in range(3):
        await asyncio.sleep(0)
    assert lanes.waiting(channel) == 0
    send_in_lane(channel, progress(5))  # a closed channel: nothing raised
    assert lanes.waiting(channel) == 0


@pytest.fixture(autouse=True)
def _no_leftovers() -> object:
    yield
    assert not list(lanes._backlogs.keys())
