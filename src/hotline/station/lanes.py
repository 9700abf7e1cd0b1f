"""Putting a line message in its carrier lane without ever losing it (docs/protocol.md §14.2).

In carrier mode a lane holds a bounded number of bytes, and a send into a full lane raises
:class:`~hotline.proto.carrier.LaneFull` with nothing queued. The small messages a station sends
from code that cannot wait (a ``DocProgress``, a ``Withhold``) go through :func:`send_in_lane`: it
queues the message at once when its lane has room, as before, and otherwise keeps it, in order
with every later one it is handed for the same session, until the next cells have made room. So a
full lane delays such a message by a cell or two and never drops it; nothing is kept past the end of
its session. Without a carrier nothing is ever full and this is ``send_nowait`` then ``flush``.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import deque
from typing import Protocol

from hotline.net.tcp import ChannelClosed
from hotline.proto import linemsg
from hotline.proto.carrier import Lane, LaneFull

log = logging.getLogger("hotline.line")


class LaneChannel(Protocol):
    """The secure channel of a session, as far as sending into lanes goes."""

    @property
    def is_closed(self) -> bool:
        """Whether the session has ended."""
        ...

    def send_nowait(self, data: bytes, lane: Lane = ..., /) -> None:
        """Queue one payload in ``lane`` (raises ``LaneFull`` in carrier mode when it has no room)."""
        ...

    def flush(self) -> None:
        """Put what is queued on the wire now."""
        ...

    async def wait_room(self) -> None:
        """Wait until the next cells have left (or the session ended)."""
        ...


class _Backlog:
    """What waits for lane room on one channel, in the order it was handed over."""

    __slots__ = ("messages", "task")

    def __init__(self) -> None:
        self.messages: deque[tuple[bytes, Lane]] = deque()
        self.task: asyncio.Task[None] | None = None


# one backlog per channel that met a full lane, dropped when it is sent (or its session ended)
_backlogs: weakref.WeakKeyDictionary[LaneChannel, _Backlog] = weakref.WeakKeyDictionary()


def send_in_lane(channel: LaneChannel, message: linemsg.LineMessage) -> None:
    """Send ``message`` on ``channel`` in its lane (:func:`~hotline.proto.linemsg.carrier_lane`), now
    if the lane has room, else as soon as the cells make room, after whatever waits already.

    A session that has ended, or ends while the message waits, drops it silently: the line
    says it again on the next session, as it always did.
    """
    data, lane = linemsg.encode(message), linemsg.carrier_lane(message)
    backlog = _backlogs.get(channel)
    if backlog is None:
        try:
            channel.send_nowait(data, lane)
        except ChannelClosed:
            return
        except LaneFull:
            backlog = _backlogs[channel] = _Backlog()
        else:
            channel.flush()
            return
    backlog.messages.append((data, lane))
    if backlog.task is None:
        backlog.task = asyncio.get_running_loop().create_task(_send_backlog(channel, backlog))


def waiting(channel: LaneChannel) -> int:
    """How many messages wait for lane room on ``channel`` (0 almost always)."""
    backlog = _backlogs.get(channel)
    return 0 if backlog is None else len(backlog.messages)


async def _send_backlog(channel: LaneChannel, backlog: _Backlog) -> None:
    try:
        while backlog.messages:
            data, lane = backlog.messages[0]
            try:
                channel.send_nowait(data, lane)
            except LaneFull:
                await channel.wait_room()  # returns at once once the session has ended
                continue
            backlog.messages.popleft()
        channel.flush()
    except ChannelClosed:
        pass
    except Exception as exc:  # a bug of ours: logged, and the rest of the station goes on
        log.error("could not send a waiting message", exc_info=exc)
    finally:
        if _backlogs.get(channel) is backlog:
            del _backlogs[channel]


__all__ = ["LaneChannel", "send_in_lane", "waiting"]
