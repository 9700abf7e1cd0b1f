"""A Session in carrier mode (docs/protocol.md §14.5), driven back to back on exact simulated time."""

from __future__ import annotations

import os
import random

import pytest

from hotline.proto.carrier import CELL_INTERVAL, Lane, LaneFull
from hotline.proto.carriermode import CarrierSetting
from hotline.proto.constants import AEAD_TAG_LEN, RECORD_HEADER_LEN
from hotline.proto.errors import ErrorCode, LocalProtocolError
from hotline.proto.events import (
    DataReceived,
    HandshakeCompleted,
    RekeyCompleted,
    RoundTripMeasured,
    SessionTerminated,
)
from hotline.proto.handshake import INIT_LEN, RESPONSE_LEN
from hotline.proto.messages import RekeyInit, RekeyRequest, RekeyResponse, encode_message
from hotline.proto.records import RecordType
from hotline.proto.states import SessionState
from tests.support.carrierlink import CarrierLink

#: A slower carrier for the long runs: the rules are the same at any interval.
SLOW = CarrierSetting(cell_size=1024, interval=0.1)
#: Rekeys every 30 s (keys refused after 45 s), so a few minutes hold several.
FAST_REKEYS = {"rekey_after_time": 30.0, "reject_after_time": 45.0}


def of(kind: type, events: list) -> list:
    return [e for e in events if isinstance(e, kind)]


def data(events: list) -> list[bytes]:
    return [e.data for e in events if isinstance(e, DataReceived)]


def record_len(setting: CarrierSetting) -> int:
    return RECORD_HEADER_LEN + setting.cell_size + AEAD_TAG_LEN


def started(setting: CarrierSetting = SLOW, **config: object) -> CarrierLink:
    link = CarrierLink(setting, **config)
    link.handshake()
    assert link.i.state is link.r.state is SessionState.ESTABLISHED
    return link


def test_off_by_default() -> None:
    link = CarrierLink(i_carrier=False, r_carrier=False)
    link.handshake()
    assert link.i.carrier is None and link.r.carrier is None
    link.i.send_data(b"plain", link.now)
    link.i.send_data(bytes(5000), link.now)
    link.move()
    assert data(link.take("r")) == [b"plain", bytes(5000)]
    assert {size for _, size, _ in link.after_handshake("i")} == {83, 8211}  # buckets, not cells


def test_a_setting_must_be_a_padding_bucket_and_a_positive_interval() -> None:
    with pytest.raises(ValueError, match="padding bucket"):
        CarrierSetting(cell_size=1000)
    with pytest.raises(ValueError, match="positive"):
        CarrierSetting(interval=0.0)


def test_cell_0_leaves_at_the_handshake_with_the_confirming_ping() -> None:
    link = CarrierLink(SLOW)
    link.pair.now = 5.0
    link.handshake()
    for name, session in (("i", link.i), ("r", link.r)):
        assert [at for at, _, _ in link.after_handshake(name)] == [5.0]
        assert session.carrier is not None
        status = session.carrier.status()
        assert status is not None and status.cells == 1
    initiator = link.i.carrier.status()  # type: ignore[union-attr]
    assert initiator is not None and initiator.sent[Lane.CONTROL] > 0  # the Ping
    assert link.r.state is SessionState.ESTABLISHED  # it confirmed the keys


def test_idle_sessions_send_one_cell_per_interval_each_way_across_rekeys() -> None:
    link = started(**FAST_REKEYS)
    link.run_until(300.0)  # five minutes
    epochs = {name: len(of(RekeyCompleted, link.take(name))) for name in ("i", "r")}
    assert epochs["i"] == epochs["r"] >= 9  # a rekey every 30 s
    assert link.i.state is link.r.state is SessionState.ESTABLISHED
    for name in ("i", "r"):
        sent = link.after_handshake(name)
        assert [at for at, _, _ in sent] == [k * SLOW.interval for k in range(3001)]  # exact, no drift
        assert {size for _, size, _ in sent} == {record_len(SLOW)}
        # both key phases were used: the rekeys switched keys inside the steady stream
        assert {kind for _, _, kind in sent} == {RecordType.TRANSPORT_PHASE0, RecordType.TRANSPORT_PHASE1}
    assert link.i.carrier is not None
    status = link.i.carrier.status()
    assert status is not None and status.cells == 3001


def test_default_cells_every_20_ms_for_a_minute() -> None:
    link = started(CarrierSetting())
    link.run_until(60.0)
    for name in ("i", "r"):
        sent = link.after_handshake(name)
        assert len(sent) == 3001
        assert {size for _, size, _ in sent} == {1043}
        assert sent[-1][0] == 3000 * CELL_INTERVAL


def test_data_pings_a_rekey_and_a_close_arrive_intact() -> None:
    link = started(**FAST_REKEYS)
    assert of(HandshakeCompleted, link.take("i")) and of(HandshakeCompleted, link.take("r"))
    payloads = {name: [os.urandom(n) for n in (0, 1, 500, 1016, 1017, 5000, 70_000)] for name in ("i", "r")}
    for name, session in (("i", link.i), ("r", link.r)):
        for n, payload in enumerate(payloads[name]):
            session.send_data(payload, link.now, lane=(Lane.MESSAGES, Lane.FLASH, Lane.DOCUMENTS)[n % 3])
    link.run_until(40.0)  # past a rekey (30 s) and the keepalive pings (10 s)
    events = {name: link.take(name) for name in ("i", "r")}
    assert sorted(data(events["r"])) == sorted(payloads["i"])
    assert sorted(data(events["i"])) == sorted(payloads["r"])
    assert of(RekeyCompleted, events["i"]) and of(RekeyCompleted, events["r"])
    assert of(RoundTripMeasured, events["i"]) and of(RoundTripMeasured, events["r"])
    more = b"after the rekey"
    link.i.send_data(more, link.now)
    link.run_until(41.0)
    assert data(link.take("r")) == [more]
    link.i.close(link.now, ErrorCode.NO_ERROR, "done")
    link.move()
    (ended,) = of(SessionTerminated, link.take("r"))
    assert ended.by_peer and ended.code is ErrorCode.NO_ERROR and ended.reason == "done"
    assert link.i.state is link.r.state is SessionState.CLOSED
    for name in ("i", "r"):
        assert {size for _, size, _ in link.after_handshake(name)} == {record_len(SLOW)}


def test_lanes_keep_their_order_and_a_flash_overtakes_messages() -> None:
    link = started()
    link.take("r")
    for n in range(20):
        link.i.send_data(b"routine %d" % n + bytes(900), link.now, lane=Lane.MESSAGES)
    link.i.send_data(b"FLASH", link.now, lane=Lane.FLASH)
    link.run_until(link.now + 5.0)
    got = data(link.take("r"))
    assert got[0] == b"FLASH"
    assert got[1:] == [b"routine %d" % n + bytes(900) for n in range(20)]


def test_a_close_leaves_at_once_in_a_cell_taken_early() -> None:
    link = started()
    link.run_until(1.05)  # half way between two cells
    sent_before = len(link.after_handshake("i"))
    link.i.close(link.now)
    link.move()
    closing = link.after_handshake("i")[sent_before:]
    assert [(at, size) for at, size, _ in closing] == [(1.05, record_len(SLOW))]
    (ended,) = of(SessionTerminated, link.take("r"))
    assert ended.by_peer and ended.code is ErrorCode.LOCAL_CLOSE
    assert link.i.get_timer() is None


def test_a_close_behind_a_long_control_backlog_takes_the_cells_it_needs() -> None:
    link = started()
    link.take("r")
    link.run_until(1.05)
    link.i.send_data(bytes(3000), link.now, lane=Lane.CONTROL)
    link.i.close(link.now, ErrorCode.NO_ERROR, "x" * 1024)
    link.move()
    assert data(link.take("r")) == [bytes(3000)]
    # the peer read the Close; every record is still one cell
    assert link.r.state is SessionState.CLOSED
    assert {size for _, size, _ in link.after_handshake("i")} == {record_len(SLOW)}


def test_every_cell_counts_as_traffic_and_a_silent_peer_times_out() -> None:
    link = started(keepalive_interval=10.0)
    link.run_until(100.0)
    assert link.r.state is link.i.state is SessionState.ESTABLISHED
    link.deliver["i"] = False  # the initiator's cells stop reaching the responder
    link.run_until(131.0)
    (ended,) = of(SessionTerminated, link.take("r"))
    assert ended.code is ErrorCode.IDLE_TIMEOUT and not ended.by_peer


def test_rekeys_go_by_the_timer_only() -> None:
    link = started(rekey_after_records=5, rekey_after_bytes=2000, rekey_after_time=60.0)
    link.run_until(59.0)  # 590 cells each way, far past the volume limits
    assert not of(RekeyCompleted, link.take("i"))
    link.run_until(61.0)
    assert len(of(RekeyCompleted, link.take("i"))) == 1


def test_the_responder_switches_right_after_the_cell_that_ends_its_response() -> None:
    link = started(SLOW, rekey_after_time=30.0)
    link.run_until(29.95)
    # the initiator's RekeyInit leaves in its cells of 30.0 s and 30.1 s (it is longer than a cell)
    link.i.handle_timer(30.0)
    link.i.handle_timer(30.1)
    wire = link.i.data_to_send()
    assert len(wire) == 2 * record_len(SLOW)
    # they reach the responder 1.9 s late, and its timer is late too: one poll seals 21 cells
    link.r.receive_data(wire, 32.0)
    assert link.r.data_to_send() == b""  # cells leave on the timer, not on what arrives
    link.r.handle_timer(32.0)
    batch = link.r.data_to_send()
    types = [batch[k * record_len(SLOW) + 2] for k in range(len(batch) // record_len(SLOW))]
    assert len(batch) == 21 * record_len(SLOW)  # the cells of 30.0 s to 32.0 s, all at once
    old, new = RecordType.TRANSPORT_PHASE0, RecordType.TRANSPORT_PHASE1
    # the response ends in the last cell under the old key; every later cell is under the new one
    response = 4 + len(encode_message(RekeyResponse(bytes(RESPONSE_LEN))))
    switch = -(-response // (SLOW.cell_size - 6))
    assert switch == 2
    assert types == [old] * switch + [new] * (21 - switch)
    link.i.receive_data(batch, 32.0)
    link.pair.drain()
    assert of(RekeyCompleted, link.take("i")) and of(RekeyCompleted, link.take("r"))
    link.pair.now = 32.0
    link.move()
    link.i.send_data(b"under the new keys", link.now)
    link.run_until(40.0)
    assert data(link.take("r")) == [b"under the new keys"]
    assert link.i.state is link.r.state is SessionState.ESTABLISHED


def test_rekey_messages_are_the_same_size_every_time() -> None:
    inits = {len(encode_message(RekeyInit(os.urandom(INIT_LEN)))) for _ in range(20)}
    responses = {len(encode_message(RekeyResponse(os.urandom(RESPONSE_LEN)))) for _ in range(20)}
    assert len(inits) == len(responses) == 1


def test_a_full_lane_surfaces_to_the_caller_and_nothing_is_queued() -> None:
    link = started()
    carrier = link.i.carrier
    assert carrier is not None
    big = bytes(1_000_000)
    while carrier.room(Lane.DOCUMENTS) >= len(big) + 16:
        link.i.send_data(big, link.now, lane=Lane.DOCUMENTS)
    waiting = carrier.status().waiting[Lane.DOCUMENTS]  # type: ignore[union-attr]
    with pytest.raises(LaneFull) as info:
        link.i.send_data(big, link.now, lane=Lane.DOCUMENTS)
    assert isinstance(info.value, LocalProtocolError)
    assert "DOCUMENTS" in str(info.value)
    assert carrier.status().waiting[Lane.DOCUMENTS] == waiting  # type: ignore[union-attr]
    link.i.send_data(b"other lanes still take", link.now, lane=Lane.MESSAGES)
    assert link.i.state is SessionState.ESTABLISHED


def test_status_counts_cells_and_what_waits() -> None:
    link = started()
    link.run_until(1.0)
    carrier = link.r.carrier
    assert carrier is not None and carrier.setting == SLOW
    status = carrier.status()
    assert status is not None and status.cells == 11 and status.cell_size == 1024
    link.r.send_data(bytes(5000), link.now)
    status = carrier.status()
    assert status is not None and status.waiting[Lane.MESSAGES].bytes > 5000 and status.backlog == 5


@pytest.mark.parametrize("carrier_side", ["i", "r"])
def test_mismatched_modes_end_with_a_protocol_violation(carrier_side: str) -> None:
    link = CarrierLink(SLOW, i_carrier=carrier_side == "i", r_carrier=carrier_side == "r")
    link.handshake()
    link.run_until(1.0)
    plain_side = "r" if carrier_side == "i" else "i"
    ends = {}
    for name in ("i", "r"):
        (ends[name],) = of(SessionTerminated, link.take(name))
        assert ends[name].code is ErrorCode.PROTOCOL_VIOLATION and not ends[name].by_peer
    assert link.i.state is link.r.state is SessionState.CLOSED
    # each side says which way round it is, for the station's alert
    assert "the peer does not use carrier mode" in ends[carrier_side].reason
    assert "the peer uses carrier mode" in ends[plain_side].reason


def test_cells_of_another_size_end_with_a_protocol_violation() -> None:
    link = CarrierLink(SLOW, r_setting=CarrierSetting(cell_size=2048, interval=0.1))
    link.handshake()
    link.run_until(1.0)
    for name in ("i", "r"):
        (ended,) = of(SessionTerminated, link.take(name))
        assert ended.code is ErrorCode.PROTOCOL_VIOLATION and not ended.by_peer
        assert "different carrier settings" in ended.reason


def test_a_rekey_request_in_carrier_mode_is_a_protocol_violation() -> None:
    link = started()
    link.take("i")
    link.r._send_message(RekeyRequest(), link.now)  # no honest responder does this in carrier mode
    link.run_until(link.now + 0.2)
    (ended,) = of(SessionTerminated, link.take("i"))
    assert ended.code is ErrorCode.PROTOCOL_VIOLATION and "carrier mode" in ended.reason


def _chosen_by_key(initiator: CarrierSetting | None, responder: CarrierSetting | None) -> CarrierLink:
    """A link whose ends choose their carrier by the peer's key (``carrier_for``), as a station
    does for its lines: the initiator picks ``initiator`` for the responder's key, and the
    responder ``responder`` for the initiator's."""
    from dataclasses import replace

    from hotline.proto.session import Session
    from tests.support.pair import WALL_NS

    link = CarrierLink(SLOW, i_carrier=False, r_carrier=False)
    pair = link.pair
    a_key, b_key = pair.a.public, pair.b.public
    pair.ca = replace(pair.ca, carrier_for=lambda key: initiator if key == b_key else None)
    pair.cb = replace(pair.cb, carrier_for=lambda key: responder if key == a_key else None)
    pair.i = Session.initiator(
        pair.ca, peer_static=b_key, line_key=pair.line_key, now=pair.now, wall_time_ns=WALL_NS
    )
    pair.r = Session.responder(pair.cb, peers=pair.b.peers, guard=pair.b.guard, now=pair.now)
    return link


def test_each_end_chooses_the_carrier_by_the_peers_key() -> None:
    link = _chosen_by_key(SLOW, SLOW)
    # the responder learns who calls only from the initiation, and still runs that line's carrier
    assert link.i.carrier is not None and link.r.carrier is None
    link.handshake()
    assert link.r.carrier is not None and link.r.carrier.setting == SLOW
    link.run_until(1.0)
    assert not of(SessionTerminated, link.take("i") + link.take("r"))
    cell = record_len(SLOW)
    for name in ("i", "r"):
        sizes = {
            size
            for _, size, kind in link.wire[name]
            if kind != RecordType.HANDSHAKE_INIT and kind != RecordType.HANDSHAKE_RESPONSE
        }
        assert sizes == {cell}
        assert len(sizes) == 1


def test_a_peer_without_a_carrier_choice_gets_plain_records() -> None:
    link = _chosen_by_key(None, None)
    link.handshake()
    link.run_until(1.0)
    assert link.i.carrier is None and link.r.carrier is None
    assert not of(SessionTerminated, link.take("i") + link.take("r"))


def test_ends_that_choose_differently_end_with_a_protocol_violation() -> None:
    link = _chosen_by_key(SLOW, None)  # only the initiator runs the carrier
    link.handshake()
    link.run_until(1.0)
    ends = {name: of(SessionTerminated, link.take(name)) for name in ("i", "r")}
    assert "the peer does not use carrier mode" in ends["i"][0].reason
    assert "the peer uses carrier mode" in ends["r"][0].reason


def test_a_flash_offered_while_idle_rides_in_the_next_cell_across_rekeys() -> None:
    """An idle line's FLASH waits for nothing but the next tick, whichever end sends it and
    wherever a rekey stands; the one exception is a rekey message in CONTROL ahead of it (a
    ``RekeyInit`` or ``RekeyResponse`` fills a cell and more, and a response ends its cell, §14.4),
    which sends it two cells later at most."""
    link = started(SLOW, **FAST_REKEYS)
    rng = random.Random(15)
    rekeys = {"i": 0, "r": 0}
    behind_rekey = 0
    for n in range(400):  # about 150 s: five rekeys
        link.run_until(link.now + rng.uniform(0.01, 0.7))
        sender, receiver = ("i", "r") if rng.random() < 0.5 else ("r", "i")
        session = getattr(link, sender)
        assert session.carrier is not None
        due = session.carrier.next_deadline()
        assert due is not None
        payload = b"FLASH %d" % n
        session.send_data(payload, link.now, lane=Lane.FLASH)
        link.run_until(due)
        got: dict[str, list[bytes]] = {"i": [], "r": []}
        for name in ("i", "r"):
            events = link.take(name)
            rekeys[name] += len(of(RekeyCompleted, events))
            got[name] = data(events)
        if not got[receiver]:
            # the tick's cell went to a rekey message (counted: at most two per rekey)
            behind_rekey += 1
            link.run_until(due + 2 * SLOW.interval)
            got[receiver] = data(link.take(receiver))
        assert got[receiver] == [payload]
        assert got[sender] == []
    # the responder counts a rekey when it switches, the initiator when the answer comes
    assert rekeys["r"] - 1 <= rekeys["i"] <= rekeys["r"] and rekeys["i"] >= 4
    assert behind_rekey <= 2 * rekeys["r"]
    assert link.i.state is link.r.state is SessionState.ESTABLISHED
