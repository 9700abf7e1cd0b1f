"""A line's redial backoff (hotline.station.lines.dialer): doubling, bounded, jittered, reset by a
session that lasted."""

from __future__ import annotations

import time

from hotline.station.config import StationConfig
from hotline.station.lines.dialer import STABLE_AFTER, Dialer


def test_backoff_doubles_up_to_the_most_and_is_jittered_down_to_half() -> None:
    config = StationConfig(name="a", listen="127.0.0.1:7000", redial_min=1.0, redial_max=8.0)
    dialer = Dialer(lambda: config)
    for failures, full in [(0, 1.0), (1, 2.0), (2, 4.0), (3, 8.0), (4, 8.0), (60, 8.0)]:
        for _ in range(50):
            assert full / 2 <= dialer.backoff(failures) <= full


def test_backoff_reads_the_settings_in_force_at_each_failure() -> None:
    settings = [StationConfig(name="a", listen="127.0.0.1:7000", redial_min=1.0, redial_max=1.0)]
    dialer = Dialer(lambda: settings[0])
    assert dialer.backoff(5) <= 1.0
    settings[0] = StationConfig(name="a", listen="127.0.0.1:7000", redial_min=100.0, redial_max=100.0)
    assert dialer.backoff(5) >= 50.0


def test_failures_push_the_next_try_back_and_a_lasting_session_starts_over() -> None:
    config = StationConfig(name="a", listen="127.0.0.1:7000", redial_min=100.0, redial_max=1000.0)
    dialer = Dialer(lambda: config)
    assert dialer.wait() <= 0  # the first try is at once
    dialer.failed()
    assert 100.0 - 1 <= dialer.wait() <= 200.0  # one failure: between half and all of twice the least
    dialer.session_ended(time.monotonic(), "a:1", went_silent=False)  # died young: one more failure
    assert 200.0 - 1 <= dialer.wait() <= 400.0
    dialer.session_ended(time.monotonic() - STABLE_AFTER - 1, "a:1", went_silent=False)
    dialer.failed()  # counted from zero again
    assert dialer.wait() <= 200.0
