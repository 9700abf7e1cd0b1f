"""How a line's entries go into a carrier's lanes (docs/protocol.md §14.3), as pure rules.

In carrier mode a sender numbers an entry when it queues it in a lane, so what it has queued is
what a FLASH numbered later has to wait behind. Three rules keep that short and the transcript in
order:

- an entry of precedence FLASH goes in the FLASH lane only while MESSAGES holds no entry (waiting
  or partly sent); otherwise, like every other entry, in MESSAGES (:func:`entry_lane`), so no entry
  overtakes one numbered before it;
- the next entry is numbered and queued only while less than one cell's worth of entries waits in
  FLASH and MESSAGES (:meth:`LanePacer.may_queue`): MESSAGES then never holds more than one cell
  and one entry, and a FLASH numbered meanwhile waits at most for that;
- ``Hello`` and ``Receipt`` go in CONTROL (:func:`hotline.proto.linemsg.carrier_lane`).

A :class:`LanePacer` starts from what the runtime reads off the channel (:class:`LaneFacts`) and
counts what is queued through it in the same step, so a batch of entries obeys the rules as if
each were queued alone. Counting FLASH too (§14.3 names only MESSAGES) keeps the FLASH lane as
short: a thousand line tests cannot pile up there either.
"""

from __future__ import annotations

from dataclasses import dataclass

from hotline.proto.carrier import FRAME_HEADER_LEN, CarrierStatus, Lane
from hotline.proto.linemsg import Entry, Precedence, encode
from hotline.proto.messages import Data, encode_message

#: Numbered entries a sender in carrier mode reads back from its store at once to resend them: a
#: few cells' worth of small entries, so the read-ahead it holds stays small.
CARRIER_READ = 16


@dataclass(frozen=True, slots=True)
class LaneFacts:
    """What a carrier holds of a line's entries now: read off the channel by the runtime."""

    #: Bytes of every cell.
    cell_size: int
    #: Framed bytes waiting in the FLASH and MESSAGES lanes, not yet in any cell.
    waiting: int
    #: Frames in MESSAGES not finished (waiting or partly sent): entries, since only they go there.
    messages_frames: int

    @classmethod
    def of(cls, status: CarrierStatus) -> LaneFacts:
        """The facts of a carrier's status."""
        flash, messages = status.waiting[Lane.FLASH], status.waiting[Lane.MESSAGES]
        return cls(status.cell_size, flash.bytes + messages.bytes, messages.frames)


def entry_size(entry: Entry) -> int:
    """The bytes ``entry`` takes in its lane: its line message inside a ``Data``, framed."""
    return FRAME_HEADER_LEN + len(encode_message(Data(encode(entry))))


def entry_lane(entry: Entry, messages_frames: int) -> Lane:
    """The lane of ``entry`` when MESSAGES holds ``messages_frames`` unfinished frames."""
    if entry.precedence == Precedence.FLASH and messages_frames == 0:
        return Lane.FLASH
    return Lane.MESSAGES


class LanePacer:
    """The rules of §14.3 over one step of queueing: start from the lanes' facts, then ask
    :meth:`may_queue` before each entry and :meth:`queue` it."""

    __slots__ = ("cell_size", "messages_frames", "waiting")

    def __init__(self, facts: LaneFacts) -> None:
        self.cell_size = facts.cell_size
        self.waiting = facts.waiting
        self.messages_frames = facts.messages_frames

    def may_queue(self) -> bool:
        """Whether the next entry may be numbered and queued: less than a cell's worth waits."""
        return self.waiting < self.cell_size

    def queue(self, entry: Entry) -> Lane:
        """Count ``entry`` as queued now; the lane it goes in."""
        lane = entry_lane(entry, self.messages_frames)
        if lane is Lane.MESSAGES:
            self.messages_frames += 1
        self.waiting += entry_size(entry)
        return lane

    @property
    def facts(self) -> LaneFacts:
        """The lanes as they stand after what was queued through this pacer."""
        return LaneFacts(self.cell_size, self.waiting, self.messages_frames)


__all__ = ["CARRIER_READ", "LaneFacts", "LanePacer", "entry_lane", "entry_size"]
