"""The traffic benchmark's adversary and report, on windows made by hand."""

from __future__ import annotations

import functools
import random

import numpy as np
import pytest
from bench import traffic, traffic_report
from bench.traffic_adversary import CLASSIFIERS, IDLE_OR_ACTIVE, WHICH_SCENARIO, attack
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


@functools.cache
def results() -> traffic.Results:
    vectors, labels = windows(4)
    episodes = [traffic.Episode(label, 1000.0 + 6 * i, i, 1.0) for i, label in enumerate(labels)]
    settings = traffic.Settings(windows=4, window=WINDOW)
    return traffic.Results(settings, episodes, vectors, attack(vectors, labels, "idle"), 1234, 0)


def test_the_report_section_replaces_its_own_and_keeps_the_rest() -> None:
    r = results()
    document = "# Benchmarks\n\n## Documents\n\nold\n\n## How it was measured\n\nmethod\n"
    once = traffic_report.merge(document, r)
    assert (
        once.index("## Documents") < once.index("## Traffic analysis") < once.index("## How it was measured")
    )
    assert "carrier off" in once and "| random forest (300 trees) |" in once
    twice = traffic_report.merge(once.replace("carrier off (", "stale ("), r)
    assert twice.count("## Traffic analysis") == 1
    assert twice == once
    assert "method" in twice and "old" in twice


def test_the_carrier_setting_is_named_in_the_report() -> None:
    on = traffic.Settings(carrier={"carrier": True})
    assert on.carrier_label == "carrier on (carrier = True)"
    assert traffic.Settings().carrier_label == "carrier off"
