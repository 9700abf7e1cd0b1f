"""A call on a carrier line: its frames ride in the VOICE lane and never pile up there.

The live call is the station's own (:class:`hotline.station.calls.live.LiveCall`); the channel is a
stand-in that puts what the call sends into a real sans-IO :class:`hotline.proto.carrier.Carrier`,
as the session does in carrier mode, and the far end is the real call machine. The daemon-level
test is tests/integration/test_call_carrier.py.
"""

from __future__ import annotations

import random
from types import SimpleNamespace

from hotline.proto import linemsg
from hotline.proto.call import (
    CARRIER_VOICE_FRAME,
    FALLBACK_AFTER,
    Call,
    CallState,
    Path,
    carrier_voice_problem,
)
from hotline.proto.carrier import SEGMENT_HEADER_LEN, Carrier, CarrierStatus, Lane, LaneFull
from hotline.proto.carriermode import CarrierSetting
from hotline.proto.linemsg import CallMedia
from hotline.proto.media import PACKET_LEN
from hotline.proto.messages import Data, encode_message
from hotline.station.calls.audio import Discard, Silence
from hotline.station.calls.live import LiveCall, Media
from hotline.station.calls.voicelane import voice_bound
from tests.support.farcall import CallChannel, answer_from_far_end

BINDING = b"\x45" * 32
#: When the call's media starts, on the carrier's clock: its signals have all left by then.
START = 1.0


class CarrierChannel(CallChannel):
    """The session's channel in carrier mode: each payload goes in a lane of a real carrier, wrapped
    in a ``Data`` message as the session wraps it, and is kept with its lane. Nothing polls the
    carrier unless a test does."""

    def __init__(self, setting: CarrierSetting) -> None:
        super().__init__(BINDING)
        self.carrier = setting
        self.shaper = Carrier(0.0, interval=setting.interval, cell_size=setting.cell_size)

    def carrier_status(self) -> CarrierStatus:
        return self.shaper.status()

    def note(self, data: bytes, lane: Lane) -> object:
        self.shaper.offer(lane, encode_message(Data(data)))  # may raise LaneFull, as the session does
        return lane

    def waiting_voice(self) -> int:
        return self.shaper.waiting(Lane.VOICE).frames


def carrier_call(setting: CarrierSetting) -> tuple[LiveCall, CarrierChannel]:
    """An outgoing call on a carrier line, answered by a real far end, with silence to send."""
    channel = CarrierChannel(setting)
    session = SimpleNamespace(channel=channel, initiated=True)
    line = SimpleNamespace(peer="bravo", current=session, alert=lambda *a, **k: None)
    station = SimpleNamespace(
        config=SimpleNamespace(line=lambda peer: SimpleNamespace(record_calls=False)), publish=lambda e: None
    )
    desk = SimpleNamespace(
        station=station, socket=None, trace_file=lambda call_id: None, forget=lambda c: None
    )
    machine = Call.place(
        b"\x61" * 16,
        5,
        0.0,
        binding=BINDING,
        dh_secret=random.randbytes(32),
        kem_seed=random.randbytes(64),
        path=Path.SESSION,
    )
    call = LiveCall(desk, line, session, machine)  # type: ignore[arg-type]
    call.rowid = 1
    call.attach(Media(Silence(), Discard()))
    answer_from_far_end(call, channel.take, BINDING)
    assert machine.state is CallState.ACTIVE
    channel.shaper.poll(START)  # the signals have left
    assert channel.waiting_voice() == 0
    return call, channel


def test_a_call_on_a_carrier_line_sends_its_signals_and_media_in_the_voice_lane_and_no_udp() -> None:
    call, channel = carrier_call(CarrierSetting())
    assert call.target is None, "a carrier call has nowhere to send UDP"
    for tick in range(10):
        call._tick(START + 0.02 * tick)
        channel.shaper.poll(START + 0.02 * (tick + 1))  # the cells leave on time
    lanes = {lane for _, lane in channel.sent}
    assert lanes == {Lane.VOICE}
    assert all(isinstance(m, CallMedia) for m, _ in channel.sent)
    assert call.counts["tcp_out"] == 10 and call.counts["udp_out"] == 0
    assert call.voice.dropped_late == 0
    # a datagram for the call is not taken, even an authentic one
    call.on_packet(channel.sent[0][0].packet, ("127.0.0.1", 9))  # type: ignore[attr-defined]
    assert call.counts["udp_in"] == 0 and call.counts["wrong_address"] == 1


def test_a_stalled_carrier_costs_the_call_frames_not_delay() -> None:
    """No cell leaves for a while (a slow peer, a FLASH in every cell): at most two frames wait in
    the lane and one beside it; every older frame is dropped and counted; nothing raises. When the
    cells flow again, the newest frame goes first and the call carries on."""
    call, channel = carrier_call(CarrierSetting())
    bound = voice_bound(CarrierSetting())
    assert bound == 2
    for tick in range(50):
        call._tick(START + 0.02 * tick)
        assert channel.waiting_voice() <= bound
    assert channel.waiting_voice() == bound
    assert call.counts["tcp_out"] == bound and call.voice.dropped_late == 50 - bound - 1
    assert call.describe()["dropped"]["late"] == call.voice.dropped_late  # type: ignore[index]
    held = call.voice.held
    channel.shaper.poll(START + 1.0)  # the carrier catches up: the lane empties
    assert channel.waiting_voice() == 0
    call._tick(START + 1.0)
    sent = [m.packet for m, _ in channel.sent[-2:]]  # type: ignore[attr-defined]
    assert sent[0] == held and call.voice.held is None
    assert call.voice.dropped_late == 50 - bound - 1


def test_a_full_voice_lane_holds_the_signals_back_in_order_and_nothing_raises() -> None:
    call, channel = carrier_call(CarrierSetting())
    # another sender filled the lane to the brim: the call's hang-up waits for room
    channel.shaper = Carrier(0.0, max_frame=4096, capacity=4 + 4096 + 10)
    channel.shaper.offer(Lane.VOICE, bytes(4096))
    call.hangup()
    assert call.ended and call.voice.signals_held
    try:
        channel.shaper.offer(Lane.VOICE, bytes(100))
        raise AssertionError("the lane should be full")
    except LaneFull:
        pass
    channel.shaper.poll(10.0)
    call.voice.send_held_signals()
    assert not call.voice.signals_held and channel.take()[-1].signal == 3  # type: ignore[attr-defined]


def test_a_session_path_call_never_falls_back_or_tells_use_session() -> None:
    call, _ = carrier_call(CarrierSetting())
    machine = call.machine
    machine.media_received(1.0, udp=False)
    machine.handle_timer(1.0 + FALLBACK_AFTER + 0.5)
    assert machine.path is Path.SESSION and not machine.ended
    assert machine.messages_to_send() == [] and machine.next_event() is None


def test_the_voice_frame_size_is_what_a_media_packet_takes_in_the_lane() -> None:
    carrier = Carrier(0.0)
    carrier.offer(Lane.VOICE, encode_message(Data(linemsg.encode(CallMedia(bytes(PACKET_LEN))))))
    assert carrier.waiting(Lane.VOICE).bytes + SEGMENT_HEADER_LEN == CARRIER_VOICE_FRAME == 448


def test_which_carriers_carry_a_call() -> None:
    assert carrier_voice_problem(CarrierSetting()) is None  # 1024 bytes every 20 ms
    assert carrier_voice_problem(CarrierSetting(cell_size=512, interval=0.010)) is None
    assert carrier_voice_problem(CarrierSetting(cell_size=2048, interval=0.040)) is None
    slow = carrier_voice_problem(CarrierSetting(cell_size=512, interval=0.020))
    assert slow is not None and "25450 bytes a second" in slow and "28000" in slow
    assert carrier_voice_problem(CarrierSetting(cell_size=1024, interval=0.040)) is not None
    late = carrier_voice_problem(CarrierSetting(cell_size=16384, interval=0.050))
    assert late is not None and "every 50 ms" in late
    assert voice_bound(CarrierSetting(cell_size=2048, interval=0.040)) == 3
    assert voice_bound(CarrierSetting(cell_size=512, interval=0.010)) == 2
