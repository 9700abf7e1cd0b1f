"""One voice call's signalling, as a sans-IO state machine (docs/protocol.md §12).

The station feeds a :class:`Call` the call messages that arrive on the line, the operator's actions
and the time; the call gives back the messages to send (:meth:`Call.messages_to_send`), what happened
(:meth:`Call.next_event`) and when it next needs the time (:meth:`Call.get_timer`). Media never goes
through here: the station only tells the call when media arrived, so that a call whose UDP path is
dead falls back to the session, and a call that hears nothing at all ends.

States::

    caller:  OFFERING --RINGING--> RINGING --answer--> ACTIVE --hang-up--> ENDED
    callee:  RINGING (we ring) --operator answers--> ACTIVE --> ENDED

Every state can end. Timers: no RINGING within :data:`OFFER_TIMEOUT` (the far station never saw the
offer) ends the call as ``unreachable``; no answer within :data:`RING_TIMEOUT` ends it as
``no-answer`` on both ends; in a call, no media over UDP for :data:`FALLBACK_AFTER` switches both
ends to media inside the session, and no media at all for :data:`MEDIA_LOST_AFTER` ends the call.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from hotline.proto.linemsg import CallAnswer, CallOffer, CallSignal, LineMessage, Signal

#: The one media format there is: Opus, 48 kHz, mono, 20 ms frames.
CODEC = "opus/48000/1/20"
#: Seconds the caller waits for the far station to say it rings.
OFFER_TIMEOUT = 5.0
#: Seconds a call rings before it counts as unanswered.
RING_TIMEOUT = 60.0
#: Seconds of an active call without UDP media before both ends move media into the session.
FALLBACK_AFTER = 2.0
#: Seconds of an active call without any media before it ends.
MEDIA_LOST_AFTER = 10.0


class CallState(enum.Enum):
    """Where a call stands."""

    OFFERING = "offering"
    RINGING = "ringing"
    ACTIVE = "active"
    ENDED = "ended"


class Path(enum.Enum):
    """How a call's media travels."""

    UDP = "udp"
    SESSION = "tcp"


class EndReason(enum.Enum):
    """Why a call ended, as the call log records it."""

    HANGUP = "hangup"
    REMOTE_HANGUP = "remote-hangup"
    BUSY = "busy"
    DECLINED = "declined"
    NO_ANSWER = "no-answer"
    UNREACHABLE = "unreachable"
    SAS_MISMATCH = "sas-mismatch"
    MEDIA_LOST = "media-lost"
    LINE_DOWN = "line-down"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Ringing:
    """The far end rings (caller), or an incoming call rings here (callee)."""


@dataclass(frozen=True, slots=True)
class Answered:
    """The call is up: media may flow over UDP."""


@dataclass(frozen=True, slots=True)
class PathChanged:
    """Media moves into the session from now on."""

    path: Path


@dataclass(frozen=True, slots=True)
class Ended:
    """The call is over."""

    reason: EndReason


CallEvent = Ringing | Answered | PathChanged | Ended

#: What each hang-up reason tells the far end, and what the far end makes of it.
_SIGNAL_FOR = {
    EndReason.HANGUP: Signal.HANGUP,
    EndReason.DECLINED: Signal.DECLINED,
    EndReason.BUSY: Signal.BUSY,
    EndReason.NO_ANSWER: Signal.NO_ANSWER,
    EndReason.SAS_MISMATCH: Signal.SAS_MISMATCH,
    EndReason.MEDIA_LOST: Signal.FAILED,
    EndReason.FAILED: Signal.FAILED,
}
_REASON_FOR = {
    Signal.HANGUP: EndReason.REMOTE_HANGUP,
    Signal.DECLINED: EndReason.DECLINED,
    Signal.BUSY: EndReason.BUSY,
    Signal.NO_ANSWER: EndReason.NO_ANSWER,
    Signal.SAS_MISMATCH: EndReason.SAS_MISMATCH,
    Signal.FAILED: EndReason.FAILED,
}


class Call:
    """One call on one line, from either end. Make one with :meth:`place` or :meth:`offered`."""

    def __init__(self, call_id: bytes, *, caller: bool, local_index: int, now: float) -> None:
        self.call_id = call_id
        self.caller = caller
        self.local_index = local_index
        self.remote_index: int | None = None
        self.state = CallState.OFFERING if caller else CallState.RINGING
        self.path = Path.UDP
        self.created_at = now
        self.answered_at: float | None = None
        self.ended_at: float | None = None
        self.end_reason: EndReason | None = None
        self._deadline: float | None = now + (OFFER_TIMEOUT if caller else RING_TIMEOUT)
        self._last_udp: float | None = None
        self._last_media: float | None = None
        self._outbox: list[LineMessage] = []
        self._events: list[CallEvent] = []

    @classmethod
    def place(cls, call_id: bytes, local_index: int, now: float) -> Call:
        """An outgoing call; its offer waits in :meth:`messages_to_send`."""
        call = cls(call_id, caller=True, local_index=local_index, now=now)
        call._outbox.append(CallOffer(call_id, local_index, CODEC))
        return call

    @classmethod
    def offered(cls, offer: CallOffer, local_index: int, now: float) -> Call:
        """An incoming call from ``offer``; it rings here and tells the caller so."""
        call = cls(offer.call_id, caller=False, local_index=local_index, now=now)
        call.remote_index = offer.index
        if offer.codec != CODEC:
            call._end(EndReason.FAILED, now, tell=Signal.DECLINED)
            return call
        call._outbox.append(CallSignal(offer.call_id, Signal.RINGING))
        call._events.append(Ringing())
        return call

    # -- what the station reads

    @property
    def ended(self) -> bool:
        """Whether the call is over."""
        return self.state is CallState.ENDED

    def messages_to_send(self) -> list[LineMessage]:
        """Signals for the far end, in order (empties the outbox)."""
        out, self._outbox = self._outbox, []
        return out

    def next_event(self) -> CallEvent | None:
        """The oldest event not yet taken."""
        return self._events.pop(0) if self._events else None

    def get_timer(self) -> float | None:
        """When :meth:`handle_timer` must next run, or None."""
        if self.state is not CallState.ACTIVE:
            return self._deadline
        assert self._last_media is not None
        lost = self._last_media + MEDIA_LOST_AFTER
        if self.path is Path.UDP:
            return min(lost, self._udp_deadline())
        return lost

    # -- what the station feeds in

    def answer(self, now: float) -> None:
        """The operator (or auto-answer) picks up an incoming call."""
        if self.caller or self.state is not CallState.RINGING:
            raise ValueError("only a ringing incoming call can be answered")
        self._outbox.append(CallAnswer(self.call_id, self.local_index))
        self._activate(now)

    def hangup(self, now: float, reason: EndReason = EndReason.HANGUP) -> None:
        """End the call from this side (a no-op once ended)."""
        if self.ended:
            return
        if reason is EndReason.HANGUP and not self.caller and self.state is CallState.RINGING:
            reason = EndReason.DECLINED
        self._end(reason, now, tell=_SIGNAL_FOR.get(reason))

    def line_down(self, now: float) -> None:
        """The session that carried the call is gone: nothing can be told to the far end."""
        if not self.ended:
            self._end(EndReason.LINE_DOWN, now, tell=None)

    def receive(self, message: CallAnswer | CallSignal, now: float) -> None:
        """A call message for this call from the far end."""
        if self.ended:
            return
        if isinstance(message, CallAnswer):
            if self.caller and self.state in (CallState.OFFERING, CallState.RINGING):
                self.remote_index = message.index
                self._activate(now)
            return
        signal = Signal(message.signal)
        if signal is Signal.RINGING:
            if self.caller and self.state is CallState.OFFERING:
                self.state = CallState.RINGING
                self._deadline = now + RING_TIMEOUT
                self._events.append(Ringing())
        elif signal is Signal.USE_SESSION:
            if self.state is CallState.ACTIVE:
                self._use_session(now, tell=False)
        else:
            self._end(_REASON_FOR[signal], now, tell=None)

    def media_received(self, now: float, *, udp: bool) -> None:
        """An authentic media packet for this call arrived (over UDP or in the session)."""
        if self.state is not CallState.ACTIVE:
            return
        self._last_media = now
        if udp:
            self._last_udp = now

    def handle_timer(self, now: float) -> None:
        """Run whatever falls due at ``now``."""
        if self.ended:
            return
        if self.state is CallState.OFFERING:
            if self._deadline is not None and now >= self._deadline:
                self._end(EndReason.UNREACHABLE, now, tell=Signal.HANGUP)
        elif self.state is CallState.RINGING:
            if self._deadline is not None and now >= self._deadline:
                self._end(EndReason.NO_ANSWER, now, tell=Signal.NO_ANSWER)
        else:
            assert self._last_media is not None
            if now >= self._last_media + MEDIA_LOST_AFTER:
                self._end(EndReason.MEDIA_LOST, now, tell=Signal.FAILED)
            elif self.path is Path.UDP and now >= self._udp_deadline():
                self._use_session(now, tell=True)

    # -- inside

    def _udp_deadline(self) -> float:
        # media inside the session (a copy sent while UDP is tried) does not count: only UDP does
        assert self.answered_at is not None
        return (self._last_udp if self._last_udp is not None else self.answered_at) + FALLBACK_AFTER

    def _activate(self, now: float) -> None:
        self.state = CallState.ACTIVE
        self.answered_at = now
        self._deadline = None
        # the clocks start at the answer: media gets FALLBACK_AFTER to arrive over UDP
        self._last_media = now
        self._last_udp = None
        self._events.append(Answered())

    def _use_session(self, now: float, *, tell: bool) -> None:
        self.path = Path.SESSION
        self._last_media = now
        if tell:
            self._outbox.append(CallSignal(self.call_id, Signal.USE_SESSION))
        self._events.append(PathChanged(Path.SESSION))

    def _end(self, reason: EndReason, now: float, *, tell: Signal | None) -> None:
        self.state = CallState.ENDED
        self.end_reason = reason
        self.ended_at = now
        self._deadline = None
        if tell is not None:
            self._outbox.append(CallSignal(self.call_id, tell))
        self._events.append(Ended(reason))


__all__ = [
    "CODEC",
    "FALLBACK_AFTER",
    "MEDIA_LOST_AFTER",
    "OFFER_TIMEOUT",
    "RING_TIMEOUT",
    "Answered",
    "Call",
    "CallEvent",
    "CallState",
    "EndReason",
    "Ended",
    "Path",
    "PathChanged",
    "Ringing",
]
