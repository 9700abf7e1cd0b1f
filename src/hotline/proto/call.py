"""One voice call's signalling and key exchange, as a sans-IO state machine (docs/protocol.md §12).

The station feeds a :class:`Call` the call messages that arrive on the line, the operator's actions,
the time and fresh random bytes; the call gives back the messages to send
(:meth:`Call.messages_to_send`), what happened (:meth:`Call.next_event`), when it next needs the time
(:meth:`Call.get_timer`) and, once its key exchange is done, its keys (:attr:`Call.keys`). Media
never goes through here: the station only tells the call when media arrived, so that a call whose
UDP path is dead falls back to the session, and a call that hears nothing at all ends.

Every call runs its own committed X25519 + ML-KEM exchange (:mod:`hotline.proto.callkeys`,
findings F3 and F9) under the line's profile (ML-KEM-768 on ``standard``, ML-KEM-1024 on
``cnsa2``), all of it while the call rings: the offer carries the caller's commitment, the ringing
the callee's share, and the caller reveals as soon as it hears the ringing. The keys are
dropped when the call ends.

The transitions are in :class:`Call`'s docstring and in docs/state-machines/call.md: one table,
the same in both (tests/unit/proto/test_call_table.py checks that they agree).

Timers: no ringing within :data:`OFFER_TIMEOUT` (the far station never saw the offer) ends the call as
``unreachable``; no answer within :data:`RING_TIMEOUT` ends it as ``no-answer`` on both ends; in a
call, no media over UDP for :data:`FALLBACK_AFTER` switches both ends to media inside the session,
and no media at all for :data:`MEDIA_LOST_AFTER` ends the call. Both of those clocks start at the
answer; media restarts the second (and, over UDP, the first), and so does the move into the session.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from hotline.crypto.mlkem import Kem
from hotline.proto.callkeys import CalleeExchange, CallerExchange, CallKeyError, CallKeys
from hotline.proto.carrier import CELL_HEADER_LEN, FRAME_HEADER_LEN, SEGMENT_HEADER_LEN
from hotline.proto.carriermode import CarrierSetting
from hotline.proto.linemsg import (
    CallAnswer,
    CallMedia,
    CallOffer,
    CallReveal,
    CallRinging,
    CallSignal,
    LineMessage,
    Signal,
    encode,
)
from hotline.proto.media import PACKET_LEN
from hotline.proto.messages import Data, encode_message
from hotline.proto.suites import STANDARD, Suite

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
#: Seconds between two media frames (one Opus frame): 50 a second each way.
MEDIA_FRAME = 0.020
#: Bytes one media frame takes in a carrier's VOICE lane: the media packet in a ``CallMedia`` line
#: message, in the session's ``Data`` message, framed in the lane (§14.1), plus the segment header
#: of the cell that carries it.
CARRIER_VOICE_FRAME = (
    len(encode_message(Data(encode(CallMedia(bytes(PACKET_LEN)))))) + FRAME_HEADER_LEN + SEGMENT_HEADER_LEN
)
#: A carrier carries a call only with this much more room than its media frames need: the lanes
#: ahead of VOICE (CONTROL, FLASH) take their bytes first, and speech must not lose a frame to them.
CARRIER_VOICE_HEADROOM = 1.25
#: The longest cell interval a call accepts: speech waits up to one interval for its cell, and the
#: whole added latency (that wait, the jitter buffer, the network) has a 60 ms budget.
CARRIER_MAX_INTERVAL = 0.040


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
    #: The key exchange failed: the reveal did not match the commitment, or a share did not check.
    BAD_KEYS = "bad-keys"
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
    EndReason.BAD_KEYS: Signal.BAD_KEYS,
}
_REASON_FOR = {
    Signal.HANGUP: EndReason.REMOTE_HANGUP,
    Signal.DECLINED: EndReason.DECLINED,
    Signal.BUSY: EndReason.BUSY,
    Signal.NO_ANSWER: EndReason.NO_ANSWER,
    Signal.SAS_MISMATCH: EndReason.SAS_MISMATCH,
    Signal.FAILED: EndReason.FAILED,
    Signal.BAD_KEYS: EndReason.BAD_KEYS,
}


def carrier_voice_problem(setting: CarrierSetting) -> str | None:
    """Why a carrier of ``setting`` cannot carry a call, or None when it can.

    A call in carrier mode puts one media frame in the VOICE lane every :data:`MEDIA_FRAME`. The
    carrier must give those frames :data:`CARRIER_VOICE_HEADROOM` times the bytes they take
    (:data:`CARRIER_VOICE_FRAME` each, cell headers counted) and send a cell at least every
    :data:`CARRIER_MAX_INTERVAL`; otherwise speech would queue behind the cells and arrive later
    and later, or be dropped.
    """
    if setting.interval > CARRIER_MAX_INTERVAL + 1e-9:
        return (
            f"its cells leave every {round(setting.interval * 1e3)} ms, and a call needs one at least "
            f"every {round(CARRIER_MAX_INTERVAL * 1e3)} ms"
        )
    per_frame = (setting.cell_size - CELL_HEADER_LEN) * MEDIA_FRAME / setting.interval
    needed = CARRIER_VOICE_FRAME * CARRIER_VOICE_HEADROOM
    if per_frame < needed:
        per_second = round((setting.cell_size - CELL_HEADER_LEN) / setting.interval)
        return (
            f"it carries {per_second} bytes a second and a call needs "
            f"{math.ceil(needed / MEDIA_FRAME)} (50 media frames of {CARRIER_VOICE_FRAME} bytes, "
            f"and a quarter more)"
        )
    return None


class Call:
    """One call on one line, from either end. Make one with :meth:`place` or :meth:`offered`.

    Not thread-safe, and never calls out: every input returns before anything it caused is read
    (:meth:`messages_to_send`, :meth:`next_event`), so a driver that acts on an event by feeding an
    input must queue that input until it is done with the event.

    Transitions. Anything not listed is ignored; "any" is every state but ENDED, and an ended call
    ignores everything. Entering RINGING gives the event ``Ringing``, entering ACTIVE ``Answered``,
    the move into the session ``PathChanged``, and entering ENDED ``Ended(reason)``, which drops
    every secret. "tells" is the :class:`CallSignal` sent to the far end (a hang-up tells the
    signal of its reason, where it has one). :meth:`answer` where no row has it raises
    ``ValueError``.

    | end | from | on | to | notes |
    |---|---|---|---|---|
    | caller | (place) | a new call | OFFERING | `CallOffer` sent |
    | caller | OFFERING | `CallRinging`, share checks | RINGING | keys derived; `CallReveal` sent |
    | caller | OFFERING | `CallRinging`, share bad | ENDED | `bad-keys`, tells `BAD_KEYS` |
    | caller | OFFERING | `CallAnswer` | ENDED | `failed` (answer before ringing), tells `FAILED` |
    | caller | OFFERING | 5 s from the offer | ENDED | `unreachable`, tells `HANGUP` |
    | caller | RINGING | `CallAnswer` | ACTIVE | |
    | caller | RINGING | 60 s from the ringing | ENDED | `no-answer`, tells `NO_ANSWER` |
    | callee | (offer) | another codec | ENDED | `failed`, tells `DECLINED` |
    | callee | (offer) | ML-KEM key bad or another profile's | ENDED | `bad-keys`, tells `BAD_KEYS` |
    | callee | (offer) | good offer | RINGING | `CallRinging` sent |
    | callee | RINGING | `CallReveal` matches | RINGING | keys derived; answering: `CallAnswer` sent, ACTIVE |
    | callee | RINGING | `CallReveal` does not match | ENDED | `bad-keys`, tells `BAD_KEYS` |
    | callee | RINGING | answer, keys derived | ACTIVE | `CallAnswer` sent |
    | callee | RINGING | answer, no keys yet | RINGING (answering) | `CallAnswer` once the reveal checks |
    | callee | RINGING | 60 s from the offer, not answering | ENDED | `no-answer`, tells `NO_ANSWER` |
    | callee | RINGING (answering) | 5 s from the answer (60 s if sooner) | ENDED | `failed`, tells `FAILED` |
    | both | ACTIVE, on UDP | no UDP media for 2 s | ACTIVE | path: session; tells `USE_SESSION` |
    | both | ACTIVE | `USE_SESSION` | ACTIVE | path: session |
    | both | ACTIVE | no media for 10 s | ENDED | `media-lost`, tells `FAILED` |
    | both | any | hang-up | ENDED | its reason (`hangup` is `declined` while ringing here), tells it |
    | both | any | a signal that ends | ENDED | its reason (`HANGUP` is `remote-hangup`), tells nothing |
    | both | any | line down | ENDED | `line-down`, tells nothing |
    | both | any | refused by the station | ENDED | `failed`; tells `FAILED`, nothing queued before |
    """

    def __init__(
        self,
        call_id: bytes,
        *,
        caller: bool,
        local_index: int,
        binding: bytes,
        now: float,
        path: Path = Path.UDP,
    ) -> None:
        if not binding:
            raise ValueError("a call needs the session's handshake hash (channel binding)")
        self.call_id = call_id
        self.caller = caller
        self.local_index = local_index
        self.remote_index: int | None = None
        self.state = CallState.OFFERING if caller else CallState.RINGING
        #: Where media goes; a call made with ``Path.SESSION`` (a carrier line) never tries UDP.
        self.path = path
        self.created_at = now
        self.answered_at: float | None = None
        self.ended_at: float | None = None
        self.end_reason: EndReason | None = None
        #: The media keys, from the exchange's end until the call's end (then dropped).
        self.keys: CallKeys | None = None
        #: The SAS words, kept after the end for the log and status (they give nothing away).
        self.sas: tuple[str, ...] | None = None
        self._binding = binding
        self._caller_exchange: CallerExchange | None = None
        self._callee_exchange: CalleeExchange | None = None
        #: The operator picked up before the reveal arrived: answer as soon as it checks.
        self._answering = False
        self._deadline: float | None = now + (OFFER_TIMEOUT if caller else RING_TIMEOUT)
        self._last_udp: float | None = None
        self._last_media: float | None = None
        self._outbox: list[LineMessage] = []
        self._events: list[CallEvent] = []

    @classmethod
    def place(
        cls,
        call_id: bytes,
        local_index: int,
        now: float,
        *,
        binding: bytes,
        dh_secret: bytes,
        kem_seed: bytes,
        path: Path = Path.UDP,
        suite: Suite = STANDARD,
    ) -> Call:
        """An outgoing call; its offer waits in :meth:`messages_to_send`.

        ``binding`` is the session's handshake hash; ``dh_secret`` (32) and ``kem_seed`` (64) are
        fresh random bytes for this call's exchange. ``path`` is ``Path.SESSION`` on a line whose
        session runs a carrier: media rides inside it from the first frame. ``suite`` is the line's
        profile: the exchange's KEM and hash, and the media's AEAD (:attr:`CallKeys.aead`).
        """
        call = cls(call_id, caller=True, local_index=local_index, binding=binding, now=now, path=path)
        exchange = CallerExchange(call_id, dh_secret=dh_secret, kem_seed=kem_seed, suite=suite)
        call._caller_exchange = exchange
        call._outbox.append(CallOffer(call_id, local_index, CODEC, exchange.commitment, exchange.kem_public))
        return call

    @classmethod
    def offered(
        cls,
        offer: CallOffer,
        local_index: int,
        now: float,
        *,
        binding: bytes,
        dh_secret: bytes,
        kem: Kem,
        path: Path = Path.UDP,
        suite: Suite = STANDARD,
    ) -> Call:
        """An incoming call from ``offer``; it rings here and sends the caller our key share.

        ``dh_secret`` is 32 fresh random bytes; ``kem`` (``suite``'s KEM) encapsulates to the caller's
        ML-KEM key; ``path`` and ``suite`` as in :meth:`place`. An offer whose key is not ``suite``'s
        KEM's ends the call as ``bad-keys``.
        """
        call = cls(offer.call_id, caller=False, local_index=local_index, binding=binding, now=now, path=path)
        call.remote_index = offer.index
        if offer.codec != CODEC:
            call._end(EndReason.FAILED, now, tell=Signal.DECLINED)
            return call
        try:
            exchange = CalleeExchange(
                offer.call_id, offer.commitment, offer.kem_public, dh_secret=dh_secret, kem=kem, suite=suite
            )
        except CallKeyError:
            call._end(EndReason.BAD_KEYS, now, tell=Signal.BAD_KEYS)
            return call
        call._callee_exchange = exchange
        call._outbox.append(CallRinging(offer.call_id, local_index, exchange.dh_public, exchange.ciphertext))
        call._events.append(Ringing())
        return call

    # -- what the station reads

    @property
    def ended(self) -> bool:
        """Whether the call is over."""
        return self.state is CallState.ENDED

    @property
    def can_answer(self) -> bool:
        """Whether this is an incoming call that rings and nobody has picked up yet."""
        return not self.caller and self.state is CallState.RINGING and not self._answering

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
        """The operator (or auto-answer) picks up an incoming call (at once if the keys are ready,
        else as soon as the caller's reveal checks)."""
        if not self.can_answer:
            raise ValueError("only a ringing incoming call can be answered")
        if self.keys is not None:
            self._pick_up(now)
            return
        self._answering = True
        # an honest caller reveals as soon as it hears us ring: not hearing it soon is a failure
        self._deadline = min(self._deadline or now + OFFER_TIMEOUT, now + OFFER_TIMEOUT)

    def hangup(self, now: float, reason: EndReason = EndReason.HANGUP) -> None:
        """End the call from this side (a no-op once ended)."""
        if self.ended:
            return
        if reason is EndReason.HANGUP and not self.caller and self.state is CallState.RINGING:
            reason = EndReason.DECLINED
        self._end(reason, now, tell=_SIGNAL_FOR.get(reason))

    def refuse(self, now: float) -> None:
        """The station will not take this call (it cannot log it, or its id is not new): nothing
        queued for the far end goes out but a FAILED signal."""
        if not self.ended:
            self._outbox.clear()
            self._events.clear()
            self._end(EndReason.FAILED, now, tell=Signal.FAILED)

    def line_down(self, now: float) -> None:
        """The session that carried the call is gone: nothing can be told to the far end."""
        if not self.ended:
            self._end(EndReason.LINE_DOWN, now, tell=None)

    def receive(self, message: CallAnswer | CallRinging | CallReveal | CallSignal, now: float) -> None:
        """A call message for this call from the far end."""
        if self.ended:
            return
        match message:
            case CallRinging():
                if self.caller and self.state is CallState.OFFERING:
                    self._take_share(message, now)
            case CallReveal(_, dh_public):
                if not self.caller and self._callee_exchange is not None:
                    self._take_reveal(dh_public, now)
            case CallAnswer():
                if self.caller and self.state is CallState.RINGING:
                    self._activate(now)
                elif self.caller and self.state is CallState.OFFERING:
                    # an answer before the key share: not a callee following the protocol
                    self._end(EndReason.FAILED, now, tell=Signal.FAILED)
            case CallSignal(_, value):
                signal = Signal(value)
                if signal is Signal.USE_SESSION:
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
                if self._answering:
                    self._end(EndReason.FAILED, now, tell=Signal.FAILED)
                else:
                    self._end(EndReason.NO_ANSWER, now, tell=Signal.NO_ANSWER)
        else:
            assert self._last_media is not None
            if now >= self._last_media + MEDIA_LOST_AFTER:
                self._end(EndReason.MEDIA_LOST, now, tell=Signal.FAILED)
            elif self.path is Path.UDP and now >= self._udp_deadline():
                self._use_session(now, tell=True)

    # -- inside

    def _take_share(self, ringing: CallRinging, now: float) -> None:
        exchange, self._caller_exchange = self._caller_exchange, None
        assert exchange is not None
        self.remote_index = ringing.index
        try:
            self.keys = exchange.finish(
                self._binding,
                self.call_id,
                self.local_index,
                ringing.index,
                ringing.dh_public,
                ringing.kem_ciphertext,
            )
        except CallKeyError:
            self._end(EndReason.BAD_KEYS, now, tell=Signal.BAD_KEYS)
            return
        self.sas = self.keys.sas
        self._outbox.append(CallReveal(self.call_id, exchange.dh_public))
        self.state = CallState.RINGING
        self._deadline = now + RING_TIMEOUT
        self._events.append(Ringing())

    def _take_reveal(self, dh_public: bytes, now: float) -> None:
        exchange, self._callee_exchange = self._callee_exchange, None
        assert exchange is not None and self.remote_index is not None
        try:
            self.keys = exchange.finish(self._binding, self.remote_index, self.local_index, dh_public)
        except CallKeyError:
            self._end(EndReason.BAD_KEYS, now, tell=Signal.BAD_KEYS)
            return
        self.sas = self.keys.sas
        if self._answering:
            self._pick_up(now)

    def _pick_up(self, now: float) -> None:
        self._answering = False
        self._outbox.append(CallAnswer(self.call_id))
        self._activate(now)

    def _udp_deadline(self) -> float:
        # media inside the session (a copy sent while UDP is tried) does not count: only UDP does
        assert self.answered_at is not None
        return (self._last_udp if self._last_udp is not None else self.answered_at) + FALLBACK_AFTER

    def _activate(self, now: float) -> None:
        self.state = CallState.ACTIVE
        self.answered_at = now
        self._deadline = None
        # the clocks start at the answer: media gets FALLBACK_AFTER to arrive over UDP (a call on a
        # session path from the start has only the second clock)
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
        # F9: the call's secrets go with the call; nothing left here derives its keys again
        for exchange in (self._caller_exchange, self._callee_exchange):
            if exchange is not None:
                exchange.forget()
        self._caller_exchange = self._callee_exchange = None
        self.keys = None
        self._answering = False
        self.state = CallState.ENDED
        self.end_reason = reason
        self.ended_at = now
        self._deadline = None
        if tell is not None:
            self._outbox.append(CallSignal(self.call_id, tell))
        self._events.append(Ended(reason))


__all__ = [
    "CARRIER_MAX_INTERVAL",
    "CARRIER_VOICE_FRAME",
    "CARRIER_VOICE_HEADROOM",
    "CODEC",
    "FALLBACK_AFTER",
    "MEDIA_FRAME",
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
    "carrier_voice_problem",
]
