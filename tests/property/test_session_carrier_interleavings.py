"""Carrier mode under any interleaving: whatever order sends, deliveries and (late) timers come in,
with rekeys every two seconds, every payload arrives once and in its lane's order, every record
after the handshake is one cell, and the session never ends."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotline.proto.carrier import Lane
from hotline.proto.carriermode import CarrierSetting
from hotline.proto.events import DataReceived, SessionTerminated
from hotline.proto.records import RecordType
from hotline.proto.states import SessionState
from tests.support.carrierlink import CarrierLink

TRANSPORT = {RecordType.TRANSPORT_PHASE0, RecordType.TRANSPORT_PHASE1}
SETTING = CarrierSetting(cell_size=256, interval=0.1)
#: A network that may hold records for long, and rekeys often: timeouts are tested on their own.
CONFIG = {
    "rekey_after_time": 2.0,
    "reject_after_time": 1e9,
    "keepalive_interval": 1e6,
    "handshake_timeout": 1e9,
}

ops = st.lists(
    st.one_of(
        st.tuples(
            st.sampled_from(["send-i", "send-r"]),
            st.tuples(st.one_of(st.integers(0, 200), st.integers(500, 2000)), st.sampled_from(list(Lane))),
        ),
        st.tuples(st.sampled_from(["deliver-i", "deliver-r"]), st.just((0, Lane.CONTROL))),
        st.tuples(st.just("time"), st.tuples(st.integers(1, 40), st.just(Lane.CONTROL))),
    ),
    min_size=1,
    max_size=80,
)


@given(ops)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_interleaving_delivers_everything_in_lane_order(
    steps: list[tuple[str, tuple[int, Lane]]],
) -> None:
    link = CarrierLink(SETTING, **CONFIG)
    link.handshake()
    pair = link.pair
    sent: dict[str, list[tuple[Lane, bytes]]] = {"i": [], "r": []}
    wires: dict[str, list[bytes | bytearray]] = {"i": [], "r": []}
    sizes: set[int] = set()
    counter = 0

    def collect() -> None:
        for side, session in (("i", pair.i), ("r", pair.r)):
            data = session.data_to_send()
            if data:
                wires[side].append(data)
                cell = 3 + SETTING.cell_size + 16
                assert len(data) % cell == 0
                sizes.add(cell)
                assert {data[k + 2] for k in range(0, len(data), cell)} <= TRANSPORT

    for op, (arg, lane) in steps:
        side = op[-1]
        if op.startswith("send"):
            counter += 1
            payload = counter.to_bytes(4, "big") + bytes(arg)
            (pair.i if side == "i" else pair.r).send_data(payload, pair.now, lane=lane)
            sent[side].append((lane, payload))
        elif op.startswith("deliver"):
            other = pair.r if side == "i" else pair.i
            for chunk in wires[side]:
                other.receive_data(chunk, pair.now)
            wires[side].clear()
        else:  # time passes: each side's timer fires late, once, sealing every cell due
            pair.now += arg / 10
            pair.i.handle_timer(pair.now)
            pair.r.handle_timer(pair.now)
        collect()
        pair.drain()
    # then a network without delay until everything has arrived
    for side in ("i", "r"):
        other = pair.r if side == "i" else pair.i
        for chunk in wires[side]:
            other.receive_data(chunk, pair.now)
    pair.drain()
    link.run_until(pair.now + 90.0)  # time enough for the largest workload
    events = {side: link.take(side) for side in ("i", "r")}
    assert not [e for side in ("i", "r") for e in events[side] if isinstance(e, SessionTerminated)]
    assert pair.i.state is pair.r.state is SessionState.ESTABLISHED
    assert sizes <= {3 + SETTING.cell_size + 16}
    for side, peer in (("i", "r"), ("r", "i")):
        received = [e.data for e in events[peer] if isinstance(e, DataReceived)]
        assert sorted(received) == sorted(p for _, p in sent[side])
        for lane in Lane:
            in_lane = [p for lane_of, p in sent[side] if lane_of is lane]
            assert [p for p in received if p in set(in_lane)] == in_lane
    assert {size for _, size, _ in link.after_handshake("i")} <= {3 + SETTING.cell_size + 16}
