"""The call machine's deadlines to the dot (docs/state-machines/call.md, "Timers"): time is a
number given by hand, each test says when everything happens."""

from __future__ import annotations

import random

from hotline.crypto.mlkem import MLKEM768
from hotline.proto.call import Call, EndReason, Path
from hotline.proto.linemsg import CallAnswer, CallOffer, CallReveal, CallRinging, CallSignal, Signal

CALL_ID = b"\x71" * 16
BINDING = b"\x72" * 32


def offer_at(now: float) -> tuple[Call, CallOffer]:
    caller = Call.place(
        CALL_ID, 1, now, binding=BINDING, dh_secret=random.randbytes(32), kem_seed=random.randbytes(64)
    )
    (offer,) = caller.messages_to_send()
    assert isinstance(offer, CallOffer)
    return caller, offer


def callee_of(offer: CallOffer, now: float) -> Call:
    callee = Call.offered(offer, 2, now, binding=BINDING, dh_secret=random.randbytes(32), kem=MLKEM768())
    (ringing,) = callee.messages_to_send()
    assert isinstance(ringing, CallRinging)
    return callee


def ringing_at(now: float) -> tuple[Call, Call]:
    """Both ends ring from ``now``, the reveal delivered."""
    caller, offer = offer_at(now)
    callee = Call.offered(offer, 2, now, binding=BINDING, dh_secret=random.randbytes(32), kem=MLKEM768())
    (ringing,) = callee.messages_to_send()
    assert isinstance(ringing, CallRinging)
    caller.receive(ringing, now)
    (reveal,) = caller.messages_to_send()
    assert isinstance(reveal, CallReveal)
    callee.receive(reveal, now)
    return caller, callee


def test_the_caller_rings_for_sixty_seconds_from_the_ringing() -> None:
    """Offer at 10.0 (timer 15.0); the ringing comes at 13.0: no answer ends it at 73.0."""
    caller, offer = offer_at(10.0)
    assert caller.get_timer() == 15.0
    callee = Call.offered(offer, 2, 13.0, binding=BINDING, dh_secret=random.randbytes(32), kem=MLKEM768())
    (ringing,) = callee.messages_to_send()
    assert isinstance(ringing, CallRinging)
    caller.receive(ringing, 13.0)
    assert caller.get_timer() == 73.0
    caller.handle_timer(72.99)
    assert not caller.ended
    caller.handle_timer(73.0)
    assert caller.end_reason is EndReason.NO_ANSWER
    assert caller.messages_to_send()[-1] == CallSignal(CALL_ID, Signal.NO_ANSWER)


def test_an_answer_before_the_reveal_waits_five_seconds_for_it() -> None:
    """Offered at 0.0, answered at 1.0 with no reveal yet: the call gives up at 6.0, as failed."""
    _, offer = offer_at(0.0)
    callee = callee_of(offer, 0.0)
    assert callee.get_timer() == 60.0
    callee.answer(1.0)
    assert callee.get_timer() == 6.0 and not callee.can_answer
    callee.handle_timer(5.99)
    assert not callee.ended
    callee.handle_timer(6.0)
    assert callee.end_reason is EndReason.FAILED
    assert callee.messages_to_send() == [CallSignal(CALL_ID, Signal.FAILED)]


def test_an_answer_in_the_last_seconds_keeps_the_ring_deadline() -> None:
    """Offered at 0.0, answered at 58.0 with no reveal: the 60 s still stands (not 63.0), and ends
    the call as failed (the callee was answering), not as unanswered."""
    _, offer = offer_at(0.0)
    callee = callee_of(offer, 0.0)
    callee.answer(58.0)
    assert callee.get_timer() == 60.0
    callee.handle_timer(60.0)
    assert callee.end_reason is EndReason.FAILED


def test_the_media_clocks_start_at_the_answer_and_restart_at_the_move() -> None:
    """Answered at 10.0: the fallback is due at 12.0; UDP media at 11.0 puts it at 13.0; nothing
    more comes, so at 13.0 the call moves into the session, which restarts the media clock: the
    call is lost at 23.0 unless media comes."""
    caller, callee = ringing_at(0.0)
    callee.answer(10.0)
    (answer,) = callee.messages_to_send()
    assert isinstance(answer, CallAnswer)
    caller.receive(answer, 10.0)
    assert caller.get_timer() == 12.0
    caller.media_received(11.0, udp=True)
    assert caller.get_timer() == 13.0
    caller.handle_timer(13.0)
    assert caller.path is Path.SESSION
    assert caller.messages_to_send() == [CallSignal(CALL_ID, Signal.USE_SESSION)]
    assert caller.get_timer() == 23.0
    caller.media_received(20.0, udp=False)
    assert caller.get_timer() == 30.0
    caller.handle_timer(30.0)
    assert caller.end_reason is EndReason.MEDIA_LOST


def test_a_callee_hanging_up_a_call_in_progress_hangs_up() -> None:
    """Only a call still ringing here is declined: hung up once answered, it is a hang-up, and the
    caller hears remote-hangup."""
    caller, callee = ringing_at(0.0)
    callee.answer(1.0)
    (answer,) = callee.messages_to_send()
    assert isinstance(answer, CallAnswer)
    caller.receive(answer, 1.0)
    callee.hangup(2.0)
    assert callee.end_reason is EndReason.HANGUP
    (told,) = callee.messages_to_send()
    assert told == CallSignal(CALL_ID, Signal.HANGUP)
    assert isinstance(told, CallSignal)
    caller.receive(told, 2.0)
    assert caller.end_reason is EndReason.REMOTE_HANGUP
