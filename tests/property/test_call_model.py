"""The call machine (hotline.proto.call.Call) against a slow reference model of its table.

:class:`SlowCall` is the transition table of docs/state-machines/call.md written out as plain
Python, row by row, with its own maps of reasons and signals and nothing shared with the module
under test but the names. Hypothesis plays one end (caller or callee) a random sequence of inputs:
the far end's call messages (good and bad key shares and reveals, an early answer, every signal),
the operator's actions (answer, hang up with any reason), the station's (refuse, line down), media
over UDP or the session, and time passing. After every input both agree on the state, the path,
the end reason, whether keys are held, whether the call can be answered and the next deadline; at
each drain, on the messages sent and the events given, in order.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.crypto.mlkem import MLKEM768
from hotline.proto.call import Answered, Call, CallEvent, Ended, EndReason, Path, PathChanged, Ringing
from hotline.proto.linemsg import (
    CallAnswer,
    CallOffer,
    CallReveal,
    CallRinging,
    CallSignal,
    LineMessage,
    Signal,
)

CALL_ID = b"\x61" * 16
BINDING = b"\x62" * 32

#: The table's numbers, written here again: the model does not read the module's constants.
OFFER_S, RING_S, FALLBACK_S, LOST_S = 5.0, 60.0, 2.0, 10.0

#: "hang-up ... tells it": the signal each reason of a local hang-up tells the far end.
TELLS = {
    EndReason.HANGUP: Signal.HANGUP,
    EndReason.DECLINED: Signal.DECLINED,
    EndReason.BUSY: Signal.BUSY,
    EndReason.NO_ANSWER: Signal.NO_ANSWER,
    EndReason.SAS_MISMATCH: Signal.SAS_MISMATCH,
    EndReason.MEDIA_LOST: Signal.FAILED,
    EndReason.FAILED: Signal.FAILED,
    EndReason.BAD_KEYS: Signal.BAD_KEYS,
}
#: "a signal that ends ... its reason (HANGUP is remote-hangup)".
ENDS_AS = {
    Signal.HANGUP: EndReason.REMOTE_HANGUP,
    Signal.DECLINED: EndReason.DECLINED,
    Signal.BUSY: EndReason.BUSY,
    Signal.NO_ANSWER: EndReason.NO_ANSWER,
    Signal.SAS_MISMATCH: EndReason.SAS_MISMATCH,
    Signal.FAILED: EndReason.FAILED,
    Signal.BAD_KEYS: EndReason.BAD_KEYS,
}

#: A message as the model writes it down: its type, and the signal for a CallSignal.
Sent = tuple[str, Signal | None]


def sent(message: LineMessage) -> Sent:
    return (type(message).__name__, Signal(message.signal) if isinstance(message, CallSignal) else None)


@dataclass
class SlowCall:
    """One end of a call, as the table says, the obvious way (fields named as the table speaks)."""

    caller: bool
    state: str
    answering: bool = False
    #: The key exchange has not finished yet (the share or the reveal is still awaited).
    exchanging: bool = True
    keys: bool = False
    path: Path = Path.UDP
    deadline: float | None = None
    answered_at: float | None = None
    last_media: float | None = None
    last_udp: float | None = None
    end_reason: EndReason | None = None
    outbox: list[Sent] = field(default_factory=list)
    events: list[CallEvent] = field(default_factory=list)

    # -- what each row does

    def end(self, reason: EndReason, tell: Signal | None) -> None:
        self.state, self.end_reason = "ENDED", reason
        self.keys = self.answering = self.exchanging = False
        self.deadline = None
        if tell is not None:
            self.outbox.append(("CallSignal", tell))
        self.events.append(Ended(reason))

    def activate(self, now: float) -> None:
        self.state, self.answered_at, self.deadline = "ACTIVE", now, None
        self.last_media, self.last_udp = now, None
        self.events.append(Answered())

    def to_session(self, now: float, *, tell: bool) -> None:
        self.path, self.last_media = Path.SESSION, now
        if tell:
            self.outbox.append(("CallSignal", Signal.USE_SESSION))
        self.events.append(PathChanged(Path.SESSION))

    # -- the inputs

    def ringing(self, good: bool, now: float) -> None:
        if self.state != "OFFERING" or not self.caller:
            return
        self.exchanging = False
        if not good:
            self.end(EndReason.BAD_KEYS, Signal.BAD_KEYS)
            return
        self.keys = True
        self.outbox.append(("CallReveal", None))
        self.state, self.deadline = "RINGING", now + RING_S
        self.events.append(Ringing())

    def reveal(self, good: bool, now: float) -> None:
        if self.state == "ENDED" or self.caller or not self.exchanging:
            return
        self.exchanging = False
        if not good:
            self.end(EndReason.BAD_KEYS, Signal.BAD_KEYS)
            return
        self.keys = True
        if self.answering:
            self.answering = False
            self.outbox.append(("CallAnswer", None))
            self.activate(now)

    def answer_message(self, now: float) -> None:
        if not self.caller:
            return
        if self.state == "RINGING":
            self.activate(now)
        elif self.state == "OFFERING":
            self.end(EndReason.FAILED, Signal.FAILED)

    def signal(self, signal: Signal, now: float) -> None:
        if self.state == "ENDED":
            return
        if signal is Signal.USE_SESSION:
            if self.state == "ACTIVE":
                self.to_session(now, tell=False)
            return
        self.end(ENDS_AS[signal], None)

    @property
    def can_answer(self) -> bool:
        return not self.caller and self.state == "RINGING" and not self.answering

    def answer(self, now: float) -> bool:
        """False where the table has no answer row (the machine raises)."""
        if not self.can_answer:
            return False
        if self.keys:
            self.outbox.append(("CallAnswer", None))
            self.activate(now)
        else:
            self.answering = True
            assert self.deadline is not None
            self.deadline = min(self.deadline, now + OFFER_S)
        return True

    def hangup(self, reason: EndReason) -> None:
        if self.state == "ENDED":
            return
        if reason is EndReason.HANGUP and not self.caller and self.state == "RINGING":
            reason = EndReason.DECLINED
        self.end(reason, TELLS.get(reason))

    def refuse(self) -> None:
        if self.state != "ENDED":
            self.outbox.clear()
            self.events.clear()
            self.end(EndReason.FAILED, Signal.FAILED)

    def line_down(self) -> None:
        if self.state != "ENDED":
            self.end(EndReason.LINE_DOWN, None)

    def media(self, now: float, udp: bool) -> None:
        if self.state == "ACTIVE":
            self.last_media = now
            if udp:
                self.last_udp = now

    def fallback_at(self) -> float:
        assert self.answered_at is not None
        return (self.answered_at if self.last_udp is None else self.last_udp) + FALLBACK_S

    def timer(self) -> float | None:
        if self.state != "ACTIVE":
            return self.deadline
        assert self.last_media is not None
        lost = self.last_media + LOST_S
        return min(lost, self.fallback_at()) if self.path is Path.UDP else lost

    def time_passes(self, now: float) -> None:
        if self.state in ("OFFERING", "RINGING"):
            assert self.deadline is not None
            if now < self.deadline:
                return
            if self.state == "OFFERING":
                self.end(EndReason.UNREACHABLE, Signal.HANGUP)
            elif self.answering:
                self.end(EndReason.FAILED, Signal.FAILED)
            else:
                self.end(EndReason.NO_ANSWER, Signal.NO_ANSWER)
        elif self.state == "ACTIVE":
            assert self.last_media is not None
            if now >= self.last_media + LOST_S:
                self.end(EndReason.MEDIA_LOST, Signal.FAILED)
            elif self.path is Path.UDP and now >= self.fallback_at():
                self.to_session(now, tell=True)


def fresh_caller() -> Call:
    return Call.place(
        CALL_ID, 1, 0.0, binding=BINDING, dh_secret=random.randbytes(32), kem_seed=random.randbytes(64)
    )


def fresh_callee(offer: CallOffer) -> Call:
    return Call.offered(offer, 2, 0.0, binding=BINDING, dh_secret=random.randbytes(32), kem=MLKEM768())


@dataclass
class Far:
    """What the far end can send the end under test, good and bad."""

    ringing: dict[bool, CallRinging]
    reveal: dict[bool, CallReveal]

    def to(self, caller: bool, kind: str, good: bool) -> CallRinging | CallReveal:
        """What the far end sends; to the end that never takes it, any one will do (it is ignored)."""
        if kind == "ringing":
            return self.ringing[good if caller else True]
        return self.reveal[good] if not caller else CallReveal(CALL_ID, bytes(32))


def setting_up(caller: bool, offer_kind: str) -> tuple[Call, SlowCall, Far]:
    """The end under test, its model, and the far end's messages."""
    if caller:
        call = fresh_caller()
        # "(place) | a new call | OFFERING | CallOffer sent"
        (offer,) = call.messages_to_send()
        assert isinstance(offer, CallOffer) and call.next_event() is None
        (good,) = fresh_callee(offer).messages_to_send()
        assert isinstance(good, CallRinging)
        bad = msgspec.structs.replace(good, dh_public=bytes(32))  # the all-zero point does not check
        far = Far({True: good, False: bad}, {})
        return call, SlowCall(caller=True, state="OFFERING", deadline=OFFER_S), far
    peer = fresh_caller()
    (offer,) = peer.messages_to_send()
    assert isinstance(offer, CallOffer)
    # the reveal opens the caller's commitment: it is the same whichever callee asked for it
    (share,) = fresh_callee(offer).messages_to_send()
    assert isinstance(share, CallRinging)
    peer.receive(share, 0.0)
    (good_reveal,) = peer.messages_to_send()
    assert isinstance(good_reveal, CallReveal)
    far = Far({True: share}, {True: good_reveal, False: CallReveal(CALL_ID, random.randbytes(32))})
    model = SlowCall(caller=False, state="RINGING", deadline=RING_S)
    if offer_kind == "codec":
        offer = msgspec.structs.replace(offer, codec="speex/8000/1/20")
        model.end(EndReason.FAILED, Signal.DECLINED)
    elif offer_kind == "kem":
        offer = msgspec.structs.replace(offer, kem_public=b"\xff" * len(offer.kem_public))
        model.end(EndReason.BAD_KEYS, Signal.BAD_KEYS)
    else:
        model.outbox.append(("CallRinging", None))
        model.events.append(Ringing())
    return fresh_callee(offer), model, far


#: How often each input comes: the ones that end a call come seldom, or few calls would get far.
WEIGHTS = {
    "ringing": 3,
    "reveal": 3,
    "answer-message": 2,
    "answer": 3,
    "media": 4,
    "wait": 5,
    "drain": 2,
    "signal": 2,
    "hangup": 1,
    "refuse": 1,
    "line-down": 1,
}
VALUES: dict[str, st.SearchStrategy[object]] = {
    # a bad share or reveal ends the call: three good ones to each bad one
    "ringing": st.one_of(st.just(True), st.booleans()),
    "reveal": st.one_of(st.just(True), st.booleans()),
    "answer-message": st.none(),
    "answer": st.none(),
    "media": st.booleans(),
    "wait": st.one_of(
        # mostly short waits (long ones end most calls), and the deadlines to the dot
        st.floats(0, 3),
        st.sampled_from([0.0, 0.5, 1.0, 1.99, 2.0, 4.99, 5.0, 10.0, 55.0, 59.9, 60.0]),
    ),
    "drain": st.none(),
    # USE_SESSION is the one signal that does not end the call: give it half the draws
    "signal": st.one_of(st.just(Signal.USE_SESSION), st.sampled_from(list(Signal))),
    # the operator's own hang-up is the one that is told apart by state: give it half the draws
    "hangup": st.one_of(st.just(EndReason.HANGUP), st.sampled_from(list(EndReason))),
    "refuse": st.none(),
    "line-down": st.none(),
}
INPUTS = st.sampled_from([kind for kind, weight in WEIGHTS.items() for _ in range(weight)]).flatmap(
    lambda kind: st.tuples(st.just(kind), VALUES[kind])
)


def drain(call: Call) -> tuple[list[Sent], list[CallEvent]]:
    events: list[CallEvent] = []
    while (event := call.next_event()) is not None:
        events.append(event)
    return [sent(m) for m in call.messages_to_send()], events


@settings(max_examples=500, deadline=None)
@given(
    caller=st.booleans(),
    offer_kind=st.sampled_from(["good"] * 8 + ["codec", "kem"]),
    inputs=st.lists(INPUTS, max_size=40),
)
def test_the_machine_does_what_its_table_says(
    caller: bool, offer_kind: str, inputs: list[tuple[str, object]]
) -> None:
    call, model, far = setting_up(caller, offer_kind)
    now = 0.0
    for kind, value in [*inputs, ("drain", None)]:
        match kind:
            case "ringing":
                assert isinstance(value, bool)
                call.receive(far.to(caller, kind, value), now)
                model.ringing(value, now)
            case "reveal":
                assert isinstance(value, bool)
                call.receive(far.to(caller, kind, value), now)
                model.reveal(value, now)
            case "answer-message":
                call.receive(CallAnswer(CALL_ID), now)
                model.answer_message(now)
            case "signal":
                assert isinstance(value, Signal)
                call.receive(CallSignal(CALL_ID, value), now)
                model.signal(value, now)
            case "answer":
                if model.answer(now):
                    call.answer(now)
                else:
                    try:
                        call.answer(now)
                    except ValueError:
                        pass
                    else:
                        raise AssertionError("answer outside the table was taken")
            case "hangup":
                assert isinstance(value, EndReason)
                call.hangup(now, value)
                model.hangup(value)
            case "refuse":
                call.refuse(now)
                model.refuse()
            case "line-down":
                call.line_down(now)
                model.line_down()
            case "media":
                assert isinstance(value, bool)
                call.media_received(now, udp=value)
                model.media(now, value)
            case "wait":
                assert isinstance(value, float)
                now += value
                call.handle_timer(now)
                model.time_passes(now)
            case "drain":
                assert drain(call) == (model.outbox, model.events)
                model.outbox, model.events = [], []
        assert call.state.name == model.state, kind
        assert call.end_reason is model.end_reason
        assert call.path is model.path
        assert (call.keys is not None) is model.keys
        assert call.can_answer is model.can_answer
        assert call.get_timer() == model.timer()
