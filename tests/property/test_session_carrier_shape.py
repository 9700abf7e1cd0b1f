"""What an observer sees of a session in carrier mode does not depend on what it carries.

For any workload of sends (sizes, times, lanes, either side) over simulated time that holds
rekeys and keepalive pings, the sequence of (time, record length) each side writes after the
handshake is exactly the idle session's, and every payload arrives once, in the order of its lane.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotline.proto.carrier import Lane, LaneFull
from hotline.proto.carriermode import CarrierSetting
from hotline.proto.events import DataReceived, RekeyCompleted
from hotline.proto.states import SessionState
from tests.support.carrierlink import CarrierLink

SETTING = CarrierSetting(cell_size=512, interval=0.1)
#: Rekeys every 8 s, pings after 3 s without a message: a run of 30 s holds several of each.
CONFIG = {"rekey_after_time": 8.0, "reject_after_time": 12.0, "keepalive_interval": 3.0}
END = 30.0

sends = st.lists(
    st.tuples(
        st.integers(0, 200).map(lambda n: n / 20),  # between two cells, or on one
        st.sampled_from(["i", "r"]),
        st.one_of(st.integers(0, 600), st.integers(1500, 4000)),  # inside a cell, or spanning some
        st.sampled_from(list(Lane)),
    ),
    max_size=15,  # at most 60 KB a side: all of it arrives by the end
)


def run(workload: list[tuple[float, str, int, Lane]]) -> tuple[CarrierLink, dict[str, list[bytes]]]:
    link = CarrierLink(SETTING, **CONFIG)
    link.handshake()
    sent: dict[str, list[tuple[Lane, bytes]]] = {"i": [], "r": []}
    for n, (at, side, size, lane) in enumerate(sorted(workload, key=lambda w: w[0])):
        link.run_until(at)
        payload = n.to_bytes(2, "big") + bytes(size)
        (link.i if side == "i" else link.r).send_data(payload, link.now, lane=lane)
        sent[side].append((lane, payload))
    link.run_until(END)
    return link, {side: [p for _, p in items] for side, items in sent.items()} | {
        f"{side}:{lane.name}": [p for lane_of, p in items if lane_of is lane]
        for side, items in sent.items()
        for lane in Lane
    }


def trace(link: CarrierLink, side: str) -> list[tuple[float, int]]:
    return [(at, size) for at, size, _ in link.after_handshake(side)]


IDLE, _ = run([])


@given(sends)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_the_wire_is_the_idle_wire_whatever_is_sent(workload: list[tuple[float, str, int, Lane]]) -> None:
    link, sent = run(workload)
    assert link.i.state is link.r.state is SessionState.ESTABLISHED
    for side in ("i", "r"):
        assert trace(link, side) == trace(IDLE, side)
        assert len({size for _, size in trace(link, side)}) == 1
    assert len(trace(IDLE, "i")) == int(END / SETTING.interval) + 1
    received = {side: [e.data for e in link.take(side) if isinstance(e, DataReceived)] for side in ("i", "r")}
    for side, peer in (("i", "r"), ("r", "i")):
        assert sorted(received[peer]) == sorted(sent[side])
        for lane in Lane:  # each lane keeps its order
            in_lane = set(sent[f"{side}:{lane.name}"])
            assert [p for p in received[peer] if p in in_lane] == sent[f"{side}:{lane.name}"]


def test_the_idle_run_holds_rekeys() -> None:
    link, _ = run([])
    assert len([e for e in link.take("i") if isinstance(e, RekeyCompleted)]) == 3


def run_pressed(
    burst: list[tuple[float, int, Lane]], gone_at: float | None
) -> tuple[CarrierLink, list[bytes], list[bytes]]:
    """The initiator sends bursts past what a lane holds (``LaneFull``: it keeps the payload and
    offers it again at the next cell, as a station does); from ``gone_at`` on the network drops
    everything the responder writes (the peer has gone away)."""
    link = CarrierLink(SETTING, **CONFIG)
    link.handshake()
    backlog: list[tuple[Lane, bytes]] = []
    sent: list[bytes] = []
    events = sorted(burst, key=lambda b: b[0])
    n = 0
    t = 0.0
    while t < END:
        t = round(t + SETTING.interval, 6)
        if gone_at is not None and t >= gone_at:
            link.deliver["r"] = False
        link.run_until(t)
        while events and events[0][0] <= t:
            _, count, lane = events.pop(0)
            for _ in range(count):
                backlog.append((lane, bytes([lane]) + n.to_bytes(4, "big") + bytes(60_000)))
                n += 1
        while backlog and link.i.state is SessionState.ESTABLISHED:
            lane, payload = backlog[0]
            try:
                link.i.send_data(payload, link.now, lane=lane)
            except LaneFull:
                break
            sent.append(payload)
            backlog.pop(0)
    received = [e.data for e in link.take("r") if isinstance(e, DataReceived)]
    return link, sent, received


PRESSED_IDLE = {gone: run_pressed([], gone)[0] for gone in (None, 12.0)}


@given(
    st.lists(
        # not CONTROL: the session's own messages share it, and a station puts only short line
        # messages there (a megabyte in CONTROL would hold a rekey back by the cells it takes)
        st.tuples(
            st.integers(1, 250).map(lambda n: n / 10), st.integers(1, 60), st.sampled_from(list(Lane)[1:])
        ),
        max_size=4,
    ),
    st.sampled_from([None, 12.0]),
)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_the_wire_is_the_idle_wire_under_backpressure_and_when_the_peer_goes(
    burst: list[tuple[float, int, Lane]], gone_at: float | None
) -> None:
    """Megabytes offered faster than the cells carry them (lanes full, the sender held back), and
    a peer that stops answering: the initiator's wire is still the idle one, cell for cell, up to
    the moment its session gives the silent peer up, which does not depend on the workload."""
    link, sent, received = run_pressed(burst, gone_at)
    idle = PRESSED_IDLE[gone_at]
    assert trace(link, "i") == trace(idle, "i")
    assert link.i.state is idle.i.state
    assert len(set(received)) == len(received) and set(received) <= set(sent)
    for lane in Lane:  # each lane in order, none lost before the peer went
        in_lane = [p for p in received if p[0] == lane]
        assert in_lane == [p for p in sent if p[0] == lane][: len(in_lane)]
    if gone_at is None:
        assert link.i.state is SessionState.ESTABLISHED
    for lane in Lane:
        offered = sum(count for _, count, lane_of in burst if lane_of is lane)
        if offered > 40:  # 2.4 MB: past a lane's 2 MiB, so some were held back
            assert len(sent) < sum(count for _, count, _ in burst)
