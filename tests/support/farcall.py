"""The far end of a call, played by the real call machine, for tests of the station's live call."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Protocol

from hotline.crypto.mlkem import MLKEM768
from hotline.proto import linemsg
from hotline.proto.call import Call
from hotline.proto.carrier import Lane
from hotline.proto.constants import PROTOCOL_NAME
from hotline.proto.linemsg import CallAnswer, CallOffer, CallReveal, CallRinging, LineMessage


class CallChannel:
    """A session's channel as a live call uses it, standing in: it keeps what the call sends,
    decoded, each with what :meth:`note` says of it (here nothing). No carrier: media may go over
    UDP, as on a line without one."""

    peer_ip_port = ("127.0.0.1", 9)
    is_closed = False
    carrier: object = None
    protocol_name = PROTOCOL_NAME

    def __init__(self, binding: bytes) -> None:
        #: The session's handshake hash, which the call binds to.
        self.handshake_hash = binding
        self.sent: list[tuple[LineMessage, object]] = []

    def carrier_status(self) -> object:
        return None

    def send_nowait(self, data: bytes, lane: Lane = Lane.MESSAGES) -> None:
        self.sent.append((linemsg.decode(data), self.note(data, lane)))

    def note(self, data: bytes, lane: Lane) -> object:
        """What to keep beside a message sent in ``lane`` (may raise, as the session's send may)."""
        return None

    def flush(self) -> None:
        pass

    def take(self) -> list[LineMessage]:
        """What was sent since the last take, in order."""
        out, self.sent = self.sent, []
        return [message for message, _ in out]


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
