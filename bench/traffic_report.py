"""The traffic analysis's tables and its section of ``docs/benchmarks.md`` (:mod:`bench.traffic`)."""

from __future__ import annotations

import statistics

from rich.console import Console

from bench import traffic
from bench.report import Table, markdown_table, print_table
from bench.traffic_adversary import CLASSIFIERS, IDLE_OR_ACTIVE, WHICH_SCENARIO
from bench.traffic_features import FEATURE_NAMES, Vector

#: The heading of the section, which a traffic-only run replaces in place (:func:`merge`).
HEADING = "## Traffic analysis"


def _percent(share: float) -> str:
    return f"{100 * share:.0f} %"


def tables(r: traffic.Results) -> list[Table]:
    """The adversary's scores, what it saw per scenario, its confusion, and what gave it away."""
    s, v = r.settings, r.verdict
    n = len(r.episodes)
    rows = []
    for name in CLASSIFIERS:
        row = [name]
        for task in (IDLE_OR_ACTIVE, WHICH_SCENARIO):
            score = v.score(task, name)
            row += [f"{_percent(score.accuracy)} ± {100 * score.spread:.0f}", _percent(score.balanced)]
        rows.append(row)
    (idle_chance, idle_classes), (which_chance, which_classes) = (
        v.chance[IDLE_OR_ACTIVE],
        v.chance[WHICH_SCENARIO],
    )
    rows.append(
        [
            "chance: always the most common class",
            _percent(idle_chance),
            _percent(1 / idle_classes),
            _percent(which_chance),
            _percent(1 / which_classes),
        ]
    )
    scores = Table(
        f"What the adversary gets, {s.carrier_label} ({n} windows of {s.window:g} s, "
        f"{v.folds}-fold stratified cross-validation)",
        ["classifier", "idle or active: accuracy", "balanced", "which scenario: accuracy", "balanced"],
        rows,
        note=f"Accuracy is the mean over the folds ± its standard deviation, in points; balanced accuracy "
        f"is the mean of the per-class recalls (chance: 1 / classes). {len(traffic.SCENARIOS)} scenarios, "
        f"{s.windows} windows each; idle or active has 1 idle window in {len(traffic.SCENARIOS)}, so "
        "always guessing active already scores its share.",
    )

    index = {name: i for i, name in enumerate(FEATURE_NAMES)}
    seen = []
    for scenario in traffic.SCENARIOS:
        vectors = [w for e, w in zip(r.episodes, r.windows, strict=True) if e.scenario == scenario]
        if not vectors:
            continue

        def median(feature: str, vectors: list[Vector] = vectors) -> float:
            return statistics.median(float(w[index[feature]]) for w in vectors)

        empty = sum(1 for w in vectors if w[index["all packets"]] == 0)
        seen.append(
            [
                scenario,
                str(len(vectors)),
                f"{median('out packets'):.0f} / {median('in packets'):.0f}",
                f"{median('all bytes') / 1e3:,.1f}",
                f"{median('all size max'):,.0f}",
                f"{empty} of {len(vectors)}",
            ]
        )
    observer = Table(
        f"What the observer sees in one {s.window:g} s window, per scenario (medians over the windows)",
        [
            "scenario",
            "windows",
            "packets alpha→bravo / back",
            "kB both ways",
            "largest packet, B",
            "no packet",
        ],
        seen,
        note=f"{r.packets:,} packets captured in the run, {r.dropped} dropped by the kernel before tcpdump "
        "read them. Sizes are IP packets (headers included); loopback carries up to 64 KiB per packet, "
        "so a bulk transfer shows fewer, larger packets than on an Ethernet path.",
    )

    confusion = Table(
        "Which scenario: the random forest's cross-validated guesses (rows: what ran; columns: its guess)",
        ["ran \\ guessed", *v.scenarios],
        [[real, *map(str, counts)] for real, counts in zip(v.scenarios, v.confusion, strict=True)],
    )
    telling = Table(
        "What gives the line away: the random forest's most important features (all windows)",
        ["feature", "share of the importance"],
        [[name, f"{100 * weight:.1f} %"] for name, weight in v.important],
        note="Mean decrease in impurity, over the features of the 'which scenario' forest fitted on every "
        "window. 'out' is alpha to bravo, 'in' bravo to alpha; a slot is 0.5 s, a run is consecutive "
        "packets one way, a cluster is packets less than 0.1 s apart.",
    )
    return [scores, observer, confusion, telling]


def print_rich(console: Console, r: traffic.Results) -> None:
    """Print the traffic tables."""
    for table in tables(r):
        print_table(console, table)


def _summary(r: traffic.Results) -> str:
    """One sentence: the best classifier's accuracy on each question, against chance."""
    v = r.verdict

    def best(task: str) -> float:
        return max(v.score(task, name).accuracy for name in CLASSIFIERS)

    idle_chance, _ = v.chance[IDLE_OR_ACTIVE]
    which_chance, classes = v.chance[WHICH_SCENARIO]
    return (
        f"**What the adversary gets, {r.settings.carrier_label}:** the best of the classifiers tells an "
        f"idle window from an active one in {_percent(best(IDLE_OR_ACTIVE))} of the windows (always "
        f"guessing 'active' scores {_percent(idle_chance)}) and names which of the {classes} scenarios ran "
        f"in {_percent(best(WHICH_SCENARIO))} (chance {_percent(which_chance)})."
    )


def section(r: traffic.Results) -> list[str]:
    """The section's Markdown lines."""
    s = r.settings
    scenarios = [f"- **{name}**: {what}." for name, what in traffic.SCENARIOS.items()]
    lines = [
        HEADING,
        "",
        f"Measured {r.measured_at}, {s.carrier_label} (`python -m bench --only traffic` rewrites this "
        "section alone, in about eleven minutes; `python -m bench --only traffic --quick` is a three-minute "
        "run that writes nothing).",
        "",
        "The adversary records every packet between two stations: it cannot read them, but it sees when "
        "each passes, which way, and how big it is. Two station daemons with the default timers run on "
        "loopback and tcpdump records every TCP segment (bare ACKs and retransmissions included) and UDP "
        "datagram between their ports. The run is a series of episodes of one window each, the "
        "scenarios taking turns in a fresh random order every round; each episode draws its own "
        "contents, sizes, directions and timing, is driven through the control socket (messages, "
        "documents) and the CLI (`hotline call`, `hotline answer`), and is followed by a quiet gap once "
        "both stations have nothing queued, in flight or ringing. The scenarios:",
        "",
        *scenarios,
        "",
        "Each window becomes a vector of k-fingerprinting-style features: per direction and both "
        "together, packet counts and bytes, a histogram and percentiles of packet sizes, inter-arrival "
        "statistics, how the packets spread over 0.5 s slots, runs of packets one way and clusters of "
        "packets close in time. The classifiers are scored by stratified cross-validation on two "
        "questions: is anyone using the line in this window, and what is going on. The windows are "
        "given to the adversary aligned on the episodes, which a real one has to find: an upper bound on "
        "what it learns, which is what a defence should be measured against.",
        "",
        "`Settings.carrier` in `bench/traffic.py` (`--carrier TOML` on the command line) holds the "
        "station.toml settings that turn the constant-rate carrier on in both stations, and the same run "
        "then measures what the carrier hides: `python -m bench --only traffic --carrier 'NAME = VALUE'` "
        "(a setting the station does not know is refused before anything starts; the run replaces this "
        "section, so give `--output FILE` to keep it). "
        + ("It is empty here: this is the line as it runs today." if not s.carrier else ""),
        "",
        _summary(r),
        "",
    ]
    for table in tables(r):
        lines += markdown_table(table)
    return lines


def merge(document: str, r: traffic.Results) -> str:
    """``document`` (a ``docs/benchmarks.md``) with its traffic section replaced by ``r``'s.

    Every other section is kept as it was. Without a traffic section, ours goes in before the method
    (or the re-run instructions, or at the end).
    """
    lines = document.splitlines()
    if HEADING in lines:
        start = lines.index(HEADING)
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    else:
        later = [i for i, line in enumerate(lines) if line in ("## How it was measured", "## How to re-run")]
        start = end = later[0] if later else len(lines)
    return "\n".join([*lines[:start], *section(r), *lines[end:], ""])


__all__ = ["HEADING", "merge", "print_rich", "section", "tables"]
