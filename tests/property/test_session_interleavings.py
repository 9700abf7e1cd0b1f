"""Rekeys under any interleaving: whatever order sends, deliveries and timers come in, with volume
limits small enough that rekeys overlap with traffic both ways, every payload arrives once, in
order, and the session never ends."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotline.proto.events import DataReceived, SessionTerminated
from hotline.proto.states import SessionState
from tests.support.pair import SessionPair

ops = st.lists(
    st.one_of(
        st.tuples(
            st.sampled_from(["send-i", "send-r"]),
            st.one_of(st.integers(0, 3000), st.integers(60_000, 140_000)),  # small, or spanning records
        ),
        st.tuples(st.sampled_from(["deliver-i", "deliver-r", "flush-i", "flush-r"]), st.just(0)),
        st.tuples(st.just("time"), st.integers(1, 40)),
    ),
    min_size=1,
    max_size=120,
)


@given(ops, st.integers(1, 6))
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_interleaving_delivers_everything_in_order(steps: list[tuple[str, int]], limit: int) -> None:
    # a network that may hold records for long: timeouts are tested on their own elsewhere
    pair = SessionPair(rekey_after_records=limit, keepalive_interval=15.0, handshake_timeout=1e9)
    pair.roundtrip_until_idle()
    sent: dict[str, list[bytes]] = {"i": [], "r": []}
    wires: dict[str, list[bytes]] = {"i": [], "r": []}
    counter = 0
    for op, arg in steps:
        side = op[-1]
        session = pair.i if side == "i" else pair.r
        if op.startswith("send"):
            counter += 1
            payload = counter.to_bytes(4, "big") + bytes(arg)
            session.send_data(payload, pair.now)
            sent[side].append(payload)
            wires[side].append(session.data_to_send(flush=False))
        elif op.startswith("flush"):
            wires[side].append(session.data_to_send())
        elif op.startswith("deliver"):
            other = pair.r if side == "i" else pair.i
            for chunk in wires[side]:
                if chunk:
                    other.receive_data(chunk, pair.now)
            wires[side].clear()
        else:  # time passes (less than the keepalive interval, so nothing idles out)
            pair.now += arg / 10
            pair.i.handle_timer(pair.now)
            pair.r.handle_timer(pair.now)
        pair.drain()
    for side, session in (("i", pair.i), ("r", pair.r)):
        wires[side].append(session.data_to_send())
        other = pair.r if side == "i" else pair.i
        for chunk in wires[side]:
            if chunk:
                other.receive_data(chunk, pair.now)
    pair.roundtrip_until_idle()
    got_r = [e.data for e in pair.events["r"] if isinstance(e, DataReceived)]
    got_i = [e.data for e in pair.events["i"] if isinstance(e, DataReceived)]
    ends = [e for e in pair.events["i"] + pair.events["r"] if isinstance(e, SessionTerminated)]
    assert not ends
    assert got_r == sent["i"] and got_i == sent["r"]
    assert pair.i.state is pair.r.state is SessionState.ESTABLISHED
    assert pair.i.epoch == pair.r.epoch
