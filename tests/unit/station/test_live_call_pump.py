"""A live call acts on its machine's events one at a time, never from inside another.

What the call does about an event can itself be an input for the machine: the SAS verdict given
as the call is answered hangs up, and whoever hears of the call (the station's feed) may hang up
while it is being told. Such an input waits until the event has been dealt with, then goes in; the
call's pump is never re-entered. The line, session and station here are stand-ins that only
carry messages and record what they are told (the daemon-level tests are
tests/integration/test_calls.py and test_call_security.py).
"""

from __future__ import annotations

import random
import sys
from types import SimpleNamespace
from typing import Any

from hotline.crypto.mlkem import MLKEM768
from hotline.proto.call import Call, CallState, EndReason
from hotline.proto.carrier import Lane
from hotline.proto.linemsg import (
    CallOffer,
    CallRinging,
    CallSignal,
    Signal,
)
from hotline.station.calls.audio import Discard, Silence
from hotline.station.calls.live import LiveCall, Media
from tests.support.farcall import CallChannel, answer_from_far_end

BINDING = b"\x44" * 32


def pumps_on_stack() -> int:
    """How many frames of ``LiveCall.pump`` are running right now."""
    frame, count = sys._getframe(), 0
    while frame is not None:
        if frame.f_code.co_name == "pump" and "call" in frame.f_code.co_filename:
            count += 1
        frame = frame.f_back  # type: ignore[assignment]
    return count


class Channel(CallChannel):
    """Carries what the live call sends, decoded, with how deep in pumps each was sent."""

    def __init__(self) -> None:
        super().__init__(BINDING)

    def note(self, data: bytes, lane: Lane) -> object:
        return pumps_on_stack()


class Feed:
    """The station's ``inbox --follow`` feed: records each event, and whether it came while another
    was still being published."""

    def __init__(self) -> None:
        self.events: list[dict[str, object]] = []
        self.nested = 0
        self.on_event: Any = None
        self._depth = 0

    def publish(self, event: dict[str, object]) -> None:
        self._depth += 1
        try:
            if self._depth > 1:
                self.nested += 1
            self.events.append(event)
            if self.on_event is not None:
                self.on_event(event)
        finally:
            self._depth -= 1


def live(machine: Call, feed: Feed, *, initiated: bool) -> tuple[LiveCall, Channel, list[Any]]:
    channel = Channel()
    session = SimpleNamespace(channel=channel, initiated=initiated)
    alerts: list[Any] = []
    line = SimpleNamespace(peer="bravo", current=session, alert=lambda *a, **k: alerts.append(a))
    station = SimpleNamespace(
        config=SimpleNamespace(line=lambda peer: SimpleNamespace(record_calls=False)), publish=feed.publish
    )
    desk = SimpleNamespace(station=station, trace_file=lambda call_id: None, forget=lambda call: None)
    call = LiveCall(desk, line, session, machine)  # type: ignore[arg-type]
    call.rowid = 1  # logged: nothing is held back
    return call, channel, alerts


def told(queue: Any) -> list[str]:
    out: list[str] = []
    while not queue.empty():
        out.append(queue.get_nowait()["event"])
    return out


def test_the_sas_verdict_given_as_the_call_is_answered_hangs_up_after_the_answer() -> None:
    """A caller told to say "mismatch" as soon as the words are known: the verdict comes while the
    call handles its answer, and its hang-up goes in once that is done (it used to run a second pump
    inside the first). The far end hears the reveal, then SAS_MISMATCH; the watchers hear ringing,
    answered, the verdict and the end, in that order; one alert."""
    feed = Feed()
    machine = Call.place(
        b"\x51" * 16, 7, 0.0, binding=BINDING, dh_secret=random.randbytes(32), kem_seed=random.randbytes(64)
    )
    call, channel, alerts = live(machine, feed, initiated=True)
    call.attach(Media(Silence(), Discard(), sas="mismatch"))
    watcher = call.watch()
    answer_from_far_end(call, channel.take, BINDING)

    sent = channel.sent
    assert [m for m, _ in sent] == [CallSignal(machine.call_id, Signal.SAS_MISMATCH)]
    assert [depth for _, depth in sent] == [1], "the hang-up went out from a pump inside a pump"
    assert told(watcher) == ["ringing", "answered", "sas-verdict", "ended"]
    assert call.ended and machine.end_reason is EndReason.SAS_MISMATCH and call.sas_confirmed is False
    assert [a[0] for a in alerts] == ["sas-mismatch"]
    assert feed.nested == 0
    assert [e["call"]["state"] for e in feed.events] == ["ended"]  # type: ignore[index]


def test_a_hang_up_from_whoever_hears_the_call_ring_goes_in_after_the_ringing() -> None:
    """The station's feed hears an incoming call ring and, right then, hangs it up (a callback into
    the call while it pumps). The ringing is told to the end before the hang-up goes in: the feed
    hears "ringing" then "ended", never one inside the other; the caller hears our ringing, then
    DECLINED, each sent by the one pump."""
    feed = Feed()
    caller = Call.place(
        b"\x52" * 16, 3, 0.0, binding=BINDING, dh_secret=random.randbytes(32), kem_seed=random.randbytes(64)
    )
    (offer,) = caller.messages_to_send()
    assert isinstance(offer, CallOffer)
    machine = Call.offered(offer, 11, 0.0, binding=BINDING, dh_secret=random.randbytes(32), kem=MLKEM768())
    call, channel, _ = live(machine, feed, initiated=False)
    watcher = call.watch()

    def hang_up_when_ringing(event: dict[str, object]) -> None:
        if event["call"]["state"] == CallState.RINGING.value:  # type: ignore[index]
            call.hangup()

    feed.on_event = hang_up_when_ringing
    call.pump()

    assert [type(m) for m, _ in channel.sent] == [CallRinging, CallSignal]
    assert channel.take()[1] == CallSignal(machine.call_id, Signal.DECLINED)
    assert feed.nested == 0, "the end was published from inside the ringing's publication"
    assert [e["call"]["state"] for e in feed.events] == ["ringing", "ended"]  # type: ignore[index]
    assert told(watcher) == ["ringing", "ended"]
    assert machine.end_reason is EndReason.DECLINED


def test_inputs_queued_while_pumping_go_in_one_at_a_time_in_order() -> None:
    """Two inputs given while the call acts on one event go in after it, in the order given: a
    hang-up then a line-down ends the call as a hang-up (the line-down finds it ended)."""
    feed = Feed()
    caller = Call.place(
        b"\x53" * 16, 3, 0.0, binding=BINDING, dh_secret=random.randbytes(32), kem_seed=random.randbytes(64)
    )
    (offer,) = caller.messages_to_send()
    assert isinstance(offer, CallOffer)
    machine = Call.offered(offer, 12, 0.0, binding=BINDING, dh_secret=random.randbytes(32), kem=MLKEM768())
    call, channel, _ = live(machine, feed, initiated=False)
    seen_state: list[CallState] = []

    def two_inputs(event: dict[str, object]) -> None:
        if event["call"]["state"] == CallState.RINGING.value:  # type: ignore[index]
            call.hangup()
            call.line_down()
            # neither has gone in yet: the machine still rings while its ringing is told
            seen_state.append(machine.state)

    feed.on_event = two_inputs
    call.pump()

    assert seen_state == [CallState.RINGING]
    assert machine.end_reason is EndReason.DECLINED
    assert channel.take()[1:] == [CallSignal(machine.call_id, Signal.DECLINED)]
    assert [e["call"]["state"] for e in feed.events] == ["ringing", "ended"]  # type: ignore[index]
