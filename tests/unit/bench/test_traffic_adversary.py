"""The traffic benchmark's adversary and report, on windows made by hand."""

from __future__ import annotations

import functools
import random

import numpy as np
import pytest
from bench import traffic, traffic_report
from bench.hub_carrier import CarrierResults, CarrierRun, CarrierSettings
from bench.station import BenchError
from bench.traffic_adversary import CLASSIFIERS, IDLE_OR_ACTIVE, WHICH_SCENARIO, attack
from bench.traffic_costs import FLASH_CONDITIONS, Flash, Idle, Shape, Wire
from bench.traffic_features import features

WINDOW = 5.0


def window(scenario: str, rng: random.Random) -> np.ndarray:
    """One window of a made-up scenario: idle is empty, chat is a few small packets, bulk many big ones."""
    if scenario == "idle":
        trace: list[tuple[float, int, int]] = []
    elif scenario == "chat":
        trace = [(rng.uniform(0, WINDOW), rng.choice([1, -1]), rng.randint(60, 600)) for _ in range(4)]
    else:
        trace = [(rng.uniform(0, WINDOW), 1, rng.randint(30000, 65000)) for _ in range(80)]
    return features(trace, 0.0, WINDOW)


def windows(per: int) -> tuple[list[np.ndarray], list[str]]:
    rng = random.Random(5)
    labels = [scenario for _ in range(per) for scenario in ("idle", "chat", "bulk")]
    return [window(label, rng) for label in labels], labels


def test_scenarios_that_differ_on_the_wire_are_told_apart() -> None:
    vectors, labels = windows(10)
    verdict = attack(vectors, labels, "idle")
    assert verdict.folds == 5
    assert verdict.chance[IDLE_OR_ACTIVE] == (pytest.approx(2 / 3), 2)
    assert verdict.chance[WHICH_SCENARIO] == (pytest.approx(1 / 3), 3)
    for name in CLASSIFIERS:
        assert verdict.score(IDLE_OR_ACTIVE, name).accuracy >= 0.9
        assert verdict.score(WHICH_SCENARIO, name).accuracy >= 0.9
    assert verdict.score(IDLE_OR_ACTIVE, next(iter(CLASSIFIERS))).accuracy == 1.0
    assert verdict.scenarios == ["bulk", "chat", "idle"]
    assert sum(map(sum, verdict.confusion)) == 30
    assert len(verdict.important) == 8


def test_windows_that_look_alike_leave_the_adversary_at_chance() -> None:
    rng = random.Random(9)
    vectors = [window("chat", rng) for _ in range(30)]
    labels = ["idle", "chat", "bulk"] * 10
    verdict = attack(vectors, labels, "idle")
    forest = verdict.score(WHICH_SCENARIO, next(iter(CLASSIFIERS)))
    assert forest.accuracy < 0.6


def test_too_few_windows_are_refused() -> None:
    vectors, labels = windows(1)
    with pytest.raises(ValueError, match="too few windows"):
        attack(vectors, labels, "idle")
    vectors, labels = windows(3)
    with pytest.raises(ValueError, match="no window is labelled 'quiet'"):
        attack(vectors, labels, "quiet")


def results(carrier: tuple[tuple[str, object], ...] = ()) -> traffic.Results:
    vectors, labels = windows(4)
    episodes = [traffic.Episode(label, 1000.0 + 6 * i, i, 1.0) for i, label in enumerate(labels)]
    settings = traffic.Settings(windows=4, window=WINDOW, carrier=dict(carrier))
    idle = Idle(900.0, 930.0, (0.3, 0.5), Wire(30.0, 30 * 52_000, 30 * 52_000, 30 * 55, 30 * 52))
    shapes = [Shape(10, 2, 1 if label == "bulk" else 0, 0, 0.02) for label in labels]
    flashes = [Flash(condition, 0.01 * (i + 1)) for condition in FLASH_CONDITIONS for i in range(4)]
    return traffic.Results(
        settings,
        episodes,
        vectors,
        attack(vectors, labels, "idle"),
        1234,
        0,
        idle,
        Wire(60.0, 10**6, 10**6, 3000, 3000),
        flashes,
        shapes,
        attack(vectors, labels, "idle") if carrier else None,
    )


@functools.cache
def analysis() -> traffic_report.Analysis:
    run = CarrierRun(100, 20, 1024, 20.0, 12.0, 80_000, 10.0, 150_000, 100_000 * 1043, 2.0)
    hub = CarrierResults(CarrierSettings(), [run])
    return traffic_report.Analysis([results(), results((("carrier", "steady"),))], hub)


def test_the_report_section_replaces_its_own_and_keeps_the_rest() -> None:
    a = analysis()
    document = "# Benchmarks\n\n## Documents\n\nold\n\n## How it was measured\n\nmethod\n"
    once = traffic_report.merge(document, a)
    assert (
        once.index("## Documents") < once.index("## Traffic analysis") < once.index("## How it was measured")
    )
    assert "carrier off" in once and "| random forest (300 trees) |" in once
    assert "carrier on (1024-byte cells every 20 ms)" in once
    twice = traffic_report.merge(once.replace("carrier off (", "stale ("), a)
    assert twice.count("## Traffic analysis") == 1
    assert twice == once
    assert "method" in twice and "old" in twice


def test_the_section_holds_the_goals_costs_flash_latency_and_the_hub() -> None:
    tables = {table.title: table for table in traffic_report.all_tables(analysis())}
    goals = next(t for title, t in tables.items() if title.startswith("The adversary against"))
    on = "carrier on (1024-byte cells every 20 ms)"
    assert [row[0] for row in goals.rows] == ["carrier off", on, f"{on}, without call, mix"]
    # the made-up windows differ on the wire: the carrier-on rows miss their goals
    assert goals.rows[1][-1] == goals.rows[2][-1] == "not met"
    costs = next(t for title, t in tables.items() if title.startswith("What one line costs"))
    # 52,000 bytes a second each way is 4.49 GB a day; 0.4 CPU s per 30 s is 48 s an hour
    assert costs.rows[0][1] == "4.49 / 4.49" and costs.rows[0][4] == "48.0"
    flash = next(t for title, t in tables.items() if title.startswith("FLASH latency"))
    assert flash.rows[0][1:4] == ["20", "40", "40"]
    hub = next(t for title, t in tables.items() if title.startswith("A hub of carrier lines"))
    assert hub.rows[0][1] == "5,000" and hub.rows[0][-1] == "yes"
    section = "\n".join(traffic_report.section(analysis()))
    assert "bulk" in section and "UDP datagrams" in section


def test_the_goals_are_judged_on_balanced_idle_accuracy_and_scenario_accuracy() -> None:
    rng = random.Random(9)
    vectors = [window("chat", rng) for _ in range(30)]
    labels = ["idle", "chat", "bulk"] * 10
    episodes = [traffic.Episode(label, 6.0 * i, i, 1.0) for i, label in enumerate(labels)]
    r = traffic.Results(
        traffic.Settings(carrier={"carrier": "steady"}),
        episodes,
        vectors,
        attack(vectors, labels, "idle"),
        0,
        0,
    )
    idle_ok, which_ok = traffic_report.goals(r)
    assert traffic_report.best(r, IDLE_OR_ACTIVE, balanced=True) <= 0.7
    assert idle_ok == (traffic_report.best(r, IDLE_OR_ACTIVE, balanced=True) <= 0.55)
    assert which_ok == (traffic_report.best(r, WHICH_SCENARIO) <= 1 / 3 + 0.05)


def test_the_carrier_settings_are_line_settings() -> None:
    on = traffic.Settings(carrier={"carrier": "steady", "carrier_interval_ms": 40})
    assert on.carrier_on and on.carrier_label == "carrier on (1024-byte cells every 40 ms)"
    assert traffic.Settings().carrier_label == "carrier off" and not traffic.Settings().carrier_on
    # a document the carrier moves in 10 s: 1024 bytes every 40 ms is 25,600 bytes a second
    assert on.biggest_document() == 256_000
    assert traffic.Settings().biggest_document() == 4 << 20
    with pytest.raises(BenchError, match="no such setting"):
        traffic.Settings(carrier={"carrier_speed": 3}).line_settings()


def test_a_run_measures_every_mode_and_the_carrier_option_replaces_the_on_mode() -> None:
    modes = traffic.modes(traffic.QUICK)
    assert [m.carrier_on for m in modes] == [False, True]
    assert all(m.windows == traffic.QUICK.windows for m in modes)
    custom = traffic.modes(traffic.QUICK, {"carrier": "steady", "carrier_cell": 512})
    assert custom[1].line_settings().carrier_cell == 512
    with pytest.raises(BenchError):
        traffic.modes(traffic.QUICK, {"carrier_speed": 3})


def test_the_carrier_on_mode_gets_its_own_count_of_windows() -> None:
    off, on = traffic.modes(traffic.DEFAULT)
    assert off.windows == traffic.DEFAULT.windows
    assert on.windows == traffic.DEFAULT.carrier_windows > off.windows
