"""The adversary: classifiers trained on windows of traffic, scored by stratified cross-validation.

Two questions, each answered by several classifiers on the same windows and the same folds:

- **Idle or active**: is anyone using the line in this window?
- **Which scenario**: what is going on (idle, a few messages, a FLASH exchange, ...)?

Every window is labelled with the scenario that ran in it. Scores are the mean accuracy (and balanced
accuracy: the mean of the per-class recalls) over the folds of a shuffled :class:`StratifiedKFold`, so
every fold holds each scenario in the same proportion. Chance is what an adversary gets by always
guessing the most common class (its accuracy) and 1 / classes (its balanced accuracy).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.model_selection import StratifiedKFold, cross_val_predict, cross_validate
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from bench.traffic_features import FEATURE_NAMES, Vector

IDLE_OR_ACTIVE = "idle or active"
WHICH_SCENARIO = "which scenario"


def _forest(seed: int) -> Any:
    return RandomForestClassifier(n_estimators=300, random_state=seed, n_jobs=1)


def _boosting(seed: int) -> Any:
    return GradientBoostingClassifier(n_estimators=100, max_depth=3, random_state=seed)


def _neighbours(seed: int) -> Any:
    return make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=3))


#: The classifiers, by the name the tables give them: each makes a fresh, unfitted model from a seed.
CLASSIFIERS: dict[str, Callable[[int], Any]] = {
    "random forest (300 trees)": _forest,
    "gradient boosting (100 stages)": _boosting,
    "3-nearest neighbours, scaled": _neighbours,
}


@dataclass(frozen=True)
class Score:
    """One classifier on one question, over the folds."""

    task: str
    classifier: str
    accuracy: float
    #: Standard deviation of the accuracy over the folds.
    spread: float
    balanced: float


@dataclass(frozen=True)
class Verdict:
    """What the adversary learnt from the windows."""

    scores: list[Score]
    folds: int
    #: Per task: the accuracy of always guessing the most common class, and the number of classes.
    chance: dict[str, tuple[float, int]]
    #: The scenarios in the confusion matrix's order.
    scenarios: list[str]
    #: The random forest's cross-validated predictions of the scenario: rows true, columns guessed.
    confusion: list[list[int]]
    #: The random forest's most important features (mean decrease in impurity), fitted on every window.
    important: list[tuple[str, float]]

    def score(self, task: str, classifier: str) -> Score:
        return next(s for s in self.scores if s.task == task and s.classifier == classifier)


def attack(windows: Sequence[Vector], labels: Sequence[str], idle: str, seed: int = 0) -> Verdict:
    """Train and score every classifier of :data:`CLASSIFIERS` on both questions.

    ``labels`` holds each window's scenario; ``idle`` is the label of the idle scenario.

    Raises:
        ValueError: fewer than two windows of some scenario, or no idle windows (no folds can be made).
    """
    x = np.vstack(windows)
    scenarios = sorted(set(labels))
    counts = Counter(labels)
    if idle not in counts:
        raise ValueError(f"no window is labelled {idle!r}: the idle-or-active question needs some")
    least = min(counts.values())
    if least < 2 or len(scenarios) < 2:
        raise ValueError(f"too few windows to cross-validate: {dict(counts)} (at least 2 of each, 2 kinds)")
    folds = min(5, least)
    tasks = {
        IDLE_OR_ACTIVE: np.array(["idle" if label == idle else "active" for label in labels]),
        WHICH_SCENARIO: np.array(labels),
    }
    chance = {
        task: (max(Counter(y.tolist()).values()) / len(y), len(set(y.tolist()))) for task, y in tasks.items()
    }
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    scores = []
    for task, y in tasks.items():
        for name, make in CLASSIFIERS.items():
            result = cross_validate(make(seed), x, y, cv=splitter, scoring=("accuracy", "balanced_accuracy"))
            accuracy = result["test_accuracy"]
            balanced = result["test_balanced_accuracy"]
            scores.append(
                Score(task, name, float(accuracy.mean()), float(accuracy.std()), float(balanced.mean()))
            )
    y = tasks[WHICH_SCENARIO]
    guessed = cross_val_predict(_forest(seed), x, y, cv=splitter)
    confusion = [
        [int(np.sum((y == truth) & (guessed == guess))) for guess in scenarios] for truth in scenarios
    ]
    forest = _forest(seed).fit(x, y)
    ranked = sorted(zip(FEATURE_NAMES, forest.feature_importances_, strict=True), key=lambda p: -p[1])
    important = [(name, float(weight)) for name, weight in ranked[:8]]
    return Verdict(scores, folds, chance, scenarios, confusion, important)


__all__ = ["CLASSIFIERS", "IDLE_OR_ACTIVE", "WHICH_SCENARIO", "Score", "Verdict", "attack"]
