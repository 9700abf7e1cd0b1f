"""The call signalling machine (hotline.proto.call): two ends wired back to back, time given by hand."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.crypto.mlkem import MLKEM768
from hotline.proto.call import (
    FALLBACK_AFTER,
    MEDIA_LOST_AFTER,
    OFFER_TIMEOUT,
    RING_TIMEOUT,
    Answered,
    Call,
    CallEvent,
    CallState,
    Ended,
    EndReason,
    Path,
    PathChanged,
    Ringing,
)
from hotline.proto.linemsg import (
    CallAnswer,
    CallOffer,
    CallReveal,
    CallRinging,
    CallSignal,
    LineMessage,
    Signal,
    decode,
    encode,
)

CALL_ID = b"\x42" * 16
#: The session's handshake hash both ends bind the call to.
BINDING = b"\x07" * 32


def place(now: float = 0.0, call_id: bytes = CALL_ID, binding: bytes = BINDING) -> Call:
    return Call.place(
        call_id, 1, now, binding=binding, dh_secret=random.randbytes(32), kem_seed=random.randbytes(64)
    )


def offered(offer: CallOffer, now: float = 0.0, binding: bytes = BINDING) -> Call:
    return Call.offered(offer, 2, now, binding=binding, dh_secret=random.randbytes(32), kem=MLKEM768())


def events(call: Call) -> list[CallEvent]:
    out = []
    while (event := call.next_event()) is not None:
        out.append(event)
    return out


def wire(messages: list[LineMessage]) -> list[LineMessage]:
    # everything crosses as bytes, as on a line
    return [decode(encode(m)) for m in messages]


def deliver(messages: list[LineMessage], to: Call | None, now: float) -> Call | None:
    for message in wire(messages):
        if isinstance(message, CallOffer):
            to = offered(message, now)
        else:
            assert to is not None and isinstance(message, CallAnswer | CallRinging | CallReveal | CallSignal)
            to.receive(message, now)
    return to


def ring(now: float = 0.0) -> tuple[Call, Call]:
    """Offer, ringing with the callee's share, and the caller's reveal, all delivered."""
    caller = place(now)
    callee = deliver(caller.messages_to_send(), None, now)
    assert callee is not None
    deliver(callee.messages_to_send(), caller, now)
    deliver(caller.messages_to_send(), callee, now)
    return caller, callee


def test_a_call_rings_is_answered_and_hung_up() -> None:
    caller, callee = ring()
    assert caller.state is CallState.RINGING and callee.state is CallState.RINGING
    assert events(caller) == [Ringing()] and events(callee) == [Ringing()]
    callee.answer(1.0)
    deliver(callee.messages_to_send(), caller, 1.0)
    assert caller.state is callee.state is CallState.ACTIVE
    assert caller.remote_index == 2 and callee.remote_index == 1
    assert events(caller) == [Answered()] and events(callee) == [Answered()]
    caller.hangup(5.0)
    deliver(caller.messages_to_send(), callee, 5.0)
    assert events(caller) == [Ended(EndReason.HANGUP)]
    assert events(callee) == [Ended(EndReason.REMOTE_HANGUP)]
    assert caller.ended and callee.ended


def test_refusing_a_ringing_call_is_a_decline() -> None:
    caller, callee = ring()
    callee.hangup(1.0)
    deliver(callee.messages_to_send(), caller, 1.0)
    assert callee.end_reason is caller.end_reason is EndReason.DECLINED


def test_an_offer_nobody_hears_is_unreachable() -> None:
    caller = place()
    caller.messages_to_send()
    assert caller.get_timer() == OFFER_TIMEOUT
    caller.handle_timer(OFFER_TIMEOUT - 0.01)
    assert not caller.ended
    caller.handle_timer(OFFER_TIMEOUT)
    assert caller.end_reason is EndReason.UNREACHABLE


def test_an_unanswered_call_stops_ringing_on_both_ends() -> None:
    caller, callee = ring()
    callee.handle_timer(RING_TIMEOUT)
    deliver(callee.messages_to_send(), caller, RING_TIMEOUT)
    assert callee.end_reason is caller.end_reason is EndReason.NO_ANSWER


def test_no_udp_media_moves_both_ends_into_the_session() -> None:
    caller, callee = ring()
    callee.answer(0.0)
    deliver(callee.messages_to_send(), caller, 0.0)
    events(caller), events(callee)
    assert caller.get_timer() == FALLBACK_AFTER
    caller.handle_timer(FALLBACK_AFTER)
    assert caller.path is Path.SESSION and events(caller) == [PathChanged(Path.SESSION)]
    deliver(caller.messages_to_send(), callee, FALLBACK_AFTER)
    assert callee.path is Path.SESSION and events(callee) == [PathChanged(Path.SESSION)]
    # media inside the session keeps the call alive; silence ends it
    callee.media_received(FALLBACK_AFTER + 1, udp=False)
    callee.handle_timer(FALLBACK_AFTER + MEDIA_LOST_AFTER)
    assert not callee.ended
    callee.handle_timer(FALLBACK_AFTER + 1 + MEDIA_LOST_AFTER)
    assert callee.end_reason is EndReason.MEDIA_LOST


def test_udp_media_keeps_the_call_on_udp() -> None:
    caller, callee = ring()
    callee.answer(0.0)
    deliver(callee.messages_to_send(), caller, 0.0)
    for t in range(1, 100):
        caller.media_received(t * 0.1, udp=True)
        caller.handle_timer(t * 0.1)
    assert caller.path is Path.UDP and caller.state is CallState.ACTIVE


def test_sas_mismatch_reaches_the_far_end() -> None:
    caller, callee = ring()
    callee.answer(0.0)
    deliver(callee.messages_to_send(), caller, 0.0)
    callee.hangup(1.0, EndReason.SAS_MISMATCH)
    deliver(callee.messages_to_send(), caller, 1.0)
    assert caller.end_reason is callee.end_reason is EndReason.SAS_MISMATCH


def test_a_codec_we_cannot_play_is_declined() -> None:
    offer = place().messages_to_send()[0]
    assert isinstance(offer, CallOffer)
    callee = offered(CallOffer(CALL_ID, 1, "speex/8000", offer.commitment, offer.kem_public))
    assert callee.end_reason is EndReason.FAILED
    assert callee.messages_to_send() == [CallSignal(CALL_ID, Signal.DECLINED)]


def test_line_down_ends_without_telling() -> None:
    caller, _callee = ring()
    caller.line_down(1.0)
    assert caller.end_reason is EndReason.LINE_DOWN and caller.messages_to_send() == []


def test_answering_twice_or_as_the_caller_is_refused() -> None:
    caller, callee = ring()
    callee.answer(0.0)
    for call in (caller, callee):
        try:
            call.answer(0.0)
        except ValueError:
            continue
        raise AssertionError("answer should have been refused")


ACTIONS = st.lists(
    st.tuples(
        st.sampled_from(["answer", "hangup_caller", "hangup_callee", "media", "udp", "tick", "deliver"]),
        st.floats(min_value=0.0, max_value=20.0),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(ACTIONS)
def test_any_sequence_ends_both_ends_consistently(actions: list[tuple[str, float]]) -> None:
    """Whatever the operators do and however long messages take, both ends agree in the end."""
    now = 0.0
    caller = place(now)
    callee: Call | None = None
    to_callee: list[LineMessage] = list(caller.messages_to_send())
    to_caller: list[LineMessage] = []
    for action, step in actions:
        now += step
        if action == "deliver":
            callee = deliver(to_callee, callee, now)
            to_callee = []
            if callee is not None:
                to_caller += callee.messages_to_send()
            deliver(to_caller, caller, now)
            to_caller = []
        elif action == "answer" and callee is not None and callee.can_answer:
            callee.answer(now)
        elif action == "hangup_caller":
            caller.hangup(now)
        elif action == "hangup_callee" and callee is not None:
            callee.hangup(now)
        elif action in ("media", "udp"):
            for call in (caller, callee):
                if call is not None:
                    call.media_received(now, udp=action == "udp")
        for call in (caller, callee):
            if call is not None:
                timer = call.get_timer()
                assert timer is None or call.state is not CallState.ENDED
                call.handle_timer(now)
        to_callee += caller.messages_to_send()
        if callee is not None:
            to_caller += callee.messages_to_send()
        for call in (caller, callee):
            if call is not None:
                seen = events(call)
                assert seen.count(Answered()) <= 1
                assert len([e for e in seen if isinstance(e, Ended)]) <= (1 if call.ended else 0)
    # the operators hang up, and every signal arrives
    caller.hangup(now)
    callee = deliver(to_callee + caller.messages_to_send(), callee, now)
    if callee is not None:
        deliver(to_caller + callee.messages_to_send(), caller, now)
        callee.hangup(now)
        assert callee.ended
    assert caller.ended
    assert caller.get_timer() is None
    assert caller.end_reason is not None


def test_media_inside_the_session_does_not_hold_off_the_fallback() -> None:
    caller, callee = ring()
    callee.answer(0.0)
    deliver(callee.messages_to_send(), caller, 0.0)
    for t in (0.5, 1.0, 1.5, 1.9):
        caller.media_received(t, udp=False)
        caller.handle_timer(t)
    assert caller.path is Path.UDP
    caller.handle_timer(FALLBACK_AFTER)
    assert caller.path is Path.SESSION
