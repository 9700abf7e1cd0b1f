"""What the traffic benchmark computes about a line's cost: CPU from /proc, bytes on the wire, packet
shapes, FLASH latencies, and the carrier hub's socket counts from ss."""

from __future__ import annotations

import math
import os

import pytest
from bench.hub_carrier import CarrierResults, CarrierRun, CarrierSettings, parse_ss
from bench.traffic_capture import TCP, UDP, Packet
from bench.traffic_costs import (
    DAY,
    Flash,
    Idle,
    Wire,
    by_condition,
    cpu_seconds,
    latencies,
    parse_stat_cpu,
    percentile,
    shape,
    wire,
)


def test_cpu_seconds_are_read_after_the_last_parenthesis_of_the_command() -> None:
    # a command may hold spaces and parentheses; utime and stime are fields 14 and 15
    fields = ["S", *map(str, range(4, 14)), "250", "150", *map(str, range(16, 52))]
    stat = "1234 (python (x) y) " + " ".join(fields)
    assert parse_stat_cpu(stat, 100) == pytest.approx(4.0)
    with pytest.raises(ValueError, match="no '\\)'"):
        parse_stat_cpu("1234 python S 1 2", 100)
    with pytest.raises(ValueError, match="fields"):
        parse_stat_cpu("1234 (python) S 1 2", 100)


def test_cpu_seconds_of_this_process_are_read_from_proc() -> None:
    assert 0 < cpu_seconds(os.getpid()) < 1e6


def test_wire_counts_each_way_inside_the_stretch_only() -> None:
    trace = [(9.9, 1, 1000), (10.0, 1, 100), (10.5, -1, 52), (11.0, 1, 200), (12.0, -1, 7)]
    w = wire(trace, 10.0, 12.0)
    assert (w.bytes_out, w.bytes_in, w.packets_out, w.packets_in) == (300, 52, 2, 1)
    assert w.per_day() == (pytest.approx(300 * DAY / 2), pytest.approx(52 * DAY / 2))
    assert w.packets_per_second() == (1.0, 0.5)
    assert Wire(0.0, 5, 5, 1, 1).per_day() == (0.0, 0.0)


def test_idle_cpu_per_hour_is_the_mean_of_the_two_ends() -> None:
    idle = Idle(100.0, 130.0, (0.3, 0.5))
    assert idle.seconds == 30.0
    assert idle.cpu_per_hour() == pytest.approx(0.4 * 3600 / 30)


def packet(at: float, src: int, dst: int, payload: int, protocol: int = TCP) -> Packet:
    return Packet(at, protocol, src, dst, payload + 52, payload)


def test_shape_tells_data_bare_acks_udp_and_coalesced_cells() -> None:
    a, b = 4000, 5000
    packets = [
        packet(0.5, 40123, b, 1043),  # alpha dialled bravo: alpha's side
        packet(0.52, b, 40123, 0),  # a bare ACK back
        packet(0.56, 40123, b, 2086),  # two cells in one segment
        packet(0.57, b, 40123, 1043),
        packet(0.6, a, b, 431, UDP),
        packet(0.6, 1, 2, 1043),  # other ports: not ours
        packet(5.5, 40123, b, 1043),  # after the window
    ]
    got = shape(packets, (a, b), 0.0, 5.0, 1043)
    assert (got.data, got.bare, got.udp, got.coalesced) == (3, 1, 1, 1)
    assert got.gap_max == got.gap_p50 == got.gap_p99 == pytest.approx(0.06)
    assert shape([], (a, b), 0.0, 5.0, 1043).gap_max == 5.0


def test_percentile_by_nearest_rank() -> None:
    values = [float(v) for v in range(1, 21)]
    assert percentile(values, 95) == 19.0
    assert percentile(values, 50) == 10.0
    assert percentile(values, 100) == 20.0
    assert percentile([3.0], 95) == 3.0
    assert math.isnan(percentile([], 95))


def test_latencies_are_stored_minus_created_per_text() -> None:
    inbox = [
        {"text": "other", "created_at": 1.0, "stored_at": 9.0},
        {"text": "f1", "created_at": 10.0, "stored_at": 10.25},
        {"text": "f2", "created_at": 11.0, "stored_at": 13.0},
    ]
    assert latencies(["f1", "f2"], inbox) == {"f1": 0.25, "f2": 2.0}
    with pytest.raises(ValueError, match="not in the receiver's inbox"):
        latencies(["f1", "lost"], inbox)
    with pytest.raises(ValueError, match="no created_at"):
        latencies(["f3"], [{"text": "f3", "created_at": None, "stored_at": 1.0}])


def test_flashes_are_grouped_by_condition_in_order() -> None:
    grouped = by_condition([Flash("document", 2.0), Flash("idle", 0.1), Flash("idle", 0.2)])
    assert list(grouped) == ["idle", "burst", "document"]
    assert grouped == {"idle": [0.1, 0.2], "burst": [], "document": [2.0]}


SS = """\
0      0      127.0.0.1:35606 127.0.0.1:31224 users:(("python",pid=29659,fd=13))
\t bbr wscale:10,10 rto:204 bytes_sent:831551 bytes_acked:831552 bytes_received:831383 segs_out:856
0      1043   127.0.0.1:31224 127.0.0.1:35606 users:(("python",pid=29658,fd=13))
\t bbr wscale:10,10 rto:220 bytes_sent:1000 bytes_acked:1000
0      0      127.0.0.1:31225 127.0.0.1:35607 users:(("python",pid=29658,fd=14),("python",pid=7,fd=3))
\t bbr wscale:10,10 rto:220 bytes_sent:500 bytes_received:12
0      0      127.0.0.1:31226 127.0.0.1:35608 users:(("python",pid=29658,fd=15))
\t bbr wscale:10,10 rto:220 bytes_received:12
0      0      127.0.0.1:22 127.0.0.1:35609
\t cubic bytes_sent:99
"""


def test_ss_bytes_sent_are_summed_per_process() -> None:
    assert parse_ss(SS) == {29659: 831551, 29658: 1500, 7: 500}
    assert parse_ss("") == {}


def test_a_carrier_hub_run_counts_cells_against_the_schedule() -> None:
    # 10 lines, a cell every 20 ms, over 2 s: 1,000 cells owed; 900 cell records of 1043 bytes sent
    run = CarrierRun(10, 20, 1024, 2.0, 0.5, 40_000, 0.25, 80_000, 900 * 1043, 1.0)
    assert run.cells_owed == pytest.approx(1000)
    assert run.cells_sent == pytest.approx(900)
    assert run.share == pytest.approx(0.9)
    assert run.cpu_percent == pytest.approx(25.0)
    assert run.peers_cpu_percent == pytest.approx(12.5)
    results = CarrierResults(CarrierSettings(keep_up=0.97), [run])
    assert not results.kept_up(run)
    assert CarrierResults(CarrierSettings(keep_up=0.9), [run]).kept_up(run)
