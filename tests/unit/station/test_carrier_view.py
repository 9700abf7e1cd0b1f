"""A line's ``carrier`` in ``status`` (docs/control.md "line status"), from real carriers driven by hand.

The snapshots come from :class:`hotline.proto.carrier.Carrier` itself, polled at chosen times; the
meter is the station's (hotline.station.requests.carriermeter), fed those snapshots at those times.
"""

from __future__ import annotations

import pytest

from hotline.proto.carrier import Carrier, CarrierStatus, Lane
from hotline.proto.carriermode import CarrierSetting
from hotline.station.config import LineSettings
from hotline.station.requests.carriermeter import MIN_SPAN, WINDOW, CarrierMeter
from hotline.station.views import CarrierLoad, describe_carrier

DEFAULT = CarrierSetting()


def test_a_line_without_a_carrier_has_none() -> None:
    assert describe_carrier(LineSettings().carrier_setting(), None) is None


def test_the_default_costs_4_7_gb_a_day_each_way_on_the_wire() -> None:
    shown = describe_carrier(LineSettings(carrier="steady").carrier_setting(), None)
    assert shown is not None
    assert shown["mode"] == "steady" and shown["cell"] == 1024 and shown["interval_ms"] == 20
    # 1024 of cell, 19 of record header and tag, 52 of IPv4 and TCP headers; 50 a second
    assert shown["wire_bytes_per_cell"] == 1024 + 19 + 52
    assert shown["bytes_per_day"] == 1095 * 50 * 86_400 == 4_730_400_000
    # no session runs it: the live numbers are unknown, not zero
    assert shown["running"] is False
    assert shown["load"] is None and shown["waiting"] is None and shown["backlog_s"] is None


def test_a_slower_smaller_carrier_costs_less() -> None:
    setting = LineSettings(carrier="steady", carrier_cell=512, carrier_interval_ms=100).carrier_setting()
    shown = describe_carrier(setting, None)
    assert shown is not None
    assert shown["interval_ms"] == 100
    assert shown["bytes_per_day"] == (512 + 19 + 52) * 10 * 86_400


def test_what_waits_is_shown_by_lane_with_the_backlog_it_means() -> None:
    carrier = Carrier(0.0)
    for _ in range(3):
        carrier.offer(Lane.FLASH, b"f" * 100)
    carrier.offer(Lane.DOCUMENTS, b"d" * 40_000)
    status = carrier.status()
    shown = describe_carrier(DEFAULT, status)
    assert shown is not None and shown["running"] is True
    waiting = shown["waiting"]
    assert isinstance(waiting, dict)
    assert list(waiting) == ["control", "flash", "voice", "messages", "documents"]
    assert waiting["flash"] == {"frames": 3, "bytes": 3 * 104}
    assert waiting["documents"] == {"frames": 1, "bytes": 40_004}
    assert waiting["control"] == {"frames": 0, "bytes": 0}
    # each cell takes at most 1018 bytes of one lane: 40,316 bytes need 40 cells, 0.8 s at 20 ms
    assert shown["backlog_cells"] == 40 and shown["backlog_s"] == pytest.approx(0.8)
    # before any cell, nothing was carried
    assert shown["load"] == 0.0 and shown["cells_sent"] == 0


def test_without_a_recent_measure_the_load_is_the_sessions_average() -> None:
    carrier = Carrier(0.0)
    carrier.offer(Lane.MESSAGES, b"m" * 1000)
    carrier.poll(0.999)  # cells 0 to 49: one second
    status = carrier.status()
    shown = describe_carrier(DEFAULT, status)
    assert shown is not None
    assert shown["cells_sent"] == 50
    assert shown["load"] == pytest.approx(1004 / (50 * 1024), abs=1e-4)
    assert shown["load_over_s"] == pytest.approx(1.0)
    assert shown["load_since_start"] == shown["load"]


def snapshot(carrier: Carrier, now: float) -> CarrierStatus:
    carrier.poll(now)
    return carrier.status()


def test_the_meter_measures_the_last_minute_not_the_whole_session() -> None:
    carrier = Carrier(0.0)
    meter = CarrierMeter()
    session = object()
    # an hour of silence, then a status request
    assert meter.measure("bravo", session, snapshot(carrier, 3600.0), 3600.0) is None
    # a busy minute: documents fill every cell
    now = 3600.0
    while now < 3600.0 + WINDOW:
        if carrier.waiting(Lane.DOCUMENTS).bytes < 100_000:
            carrier.offer(Lane.DOCUMENTS, b"d" * 60_000)
        now += 1.0
        load = meter.measure("bravo", session, snapshot(carrier, now), now)
    assert load is not None and load.over == pytest.approx(WINDOW)
    # every cell full but for its cell and segment headers
    assert load.share == pytest.approx(1018 / 1024)
    status = carrier.status()
    assert status.load < 0.02  # the session's average hides the busy minute
    shown = describe_carrier(DEFAULT, status, load=load)
    assert shown is not None and shown["load"] == pytest.approx(0.9941, abs=1e-4)
    assert shown["load_over_s"] == 60.0
    # then quiet (what still waited goes in a few seconds): a minute later the recent load is zero
    end = now + 2 * WINDOW
    while now < end:
        now += 1.0
        load = meter.measure("bravo", session, snapshot(carrier, now), now)
    assert load is not None and load.share == 0.0 and load.over == pytest.approx(WINDOW)


def test_the_meter_starts_over_with_a_new_session_and_needs_a_span() -> None:
    meter = CarrierMeter()
    first, second = Carrier(0.0), Carrier(100.0)
    assert meter.measure("bravo", "s1", snapshot(first, 50.0), 50.0) is None
    assert meter.measure("bravo", "s1", snapshot(first, 50.0 + MIN_SPAN / 2), 50.0 + MIN_SPAN / 2) is None
    assert isinstance(meter.measure("bravo", "s1", snapshot(first, 60.0), 60.0), CarrierLoad)
    # the session changed: the old snapshots measure nothing of the new one
    assert meter.measure("bravo", "s2", snapshot(second, 110.0), 110.0) is None
    assert isinstance(meter.measure("bravo", "s2", snapshot(second, 120.0), 120.0), CarrierLoad)
    meter.forget_others(set())
    assert meter.measure("bravo", "s2", snapshot(second, 130.0), 130.0) is None
    assert isinstance(meter.measure("bravo", "s2", snapshot(second, 140.0), 140.0), CarrierLoad)
    meter.forget("bravo")  # the session ended
    assert meter.measure("bravo", "s2", snapshot(second, 150.0), 150.0) is None
