"""The far end of a call, played by the real call machine, for tests of the station's live call."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Protocol

from hotline.crypto.mlkem import MLKEM768
from hotline.proto.call import Call
from hotline.proto.linemsg import CallAnswer, CallOffer, CallReveal, CallRinging, LineMessage


class _Caller(Protocol):
    def pump(self) -> None: ...
    def receive(self, message: LineMessage) -> None: ...


def answer_from_far_end(call: _Caller, take: Callable[[], list[LineMessage]], binding: bytes) -> Call:
    """Run the caller ``call`` through offer, ringing, reveal and answer against a far end that
    picks up at once; ``take`` returns what ``call`` sent since it was last called. The far end's
    machine is returned (its keys, its next messages)."""
    call.pump()
    (offer,) = take()
    assert isinstance(offer, CallOffer)
    far = Call.offered(offer, 9, 0.0, binding=binding, dh_secret=random.randbytes(32), kem=MLKEM768())
    (ringing,) = far.messages_to_send()
    assert isinstance(ringing, CallRinging)
    call.receive(ringing)
    (reveal,) = take()
    assert isinstance(reveal, CallReveal)
    far.receive(reveal, 0.0)
    far.answer(0.0)
    (answer,) = far.messages_to_send()
    assert isinstance(answer, CallAnswer)
    call.receive(answer)
    return far
