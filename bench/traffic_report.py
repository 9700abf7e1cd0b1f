"""The traffic analysis's tables and its section of ``docs/benchmarks.md`` (:mod:`bench.traffic`).

One section holds both modes of a run (the carrier off and on): the adversary against the goals,
per mode its scores, what it saw and what gave the line away, then what the carrier costs (bytes on
the wire, CPU), FLASH latency, and a hub of carrier lines (:mod:`bench.hub_carrier`).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from rich.console import Console

from bench import traffic
from bench.hub_carrier import CarrierResults
from bench.report import Table, markdown_table, print_table
from bench.traffic_adversary import CLASSIFIERS, IDLE_OR_ACTIVE, WHICH_SCENARIO, Verdict
from bench.traffic_costs import FLASH_CONDITIONS, Shape, by_condition, percentile
from bench.traffic_features import FEATURE_NAMES, Vector

#: The heading of the section, which a traffic-only run replaces in place (:func:`merge`).
HEADING = "## Traffic analysis"


#: Goals with the carrier on: idle or active at most this balanced accuracy; which scenario at most
#: this many points above chance.
IDLE_GOAL = 0.55
SCENARIO_MARGIN = 0.05


@dataclass(frozen=True)
class Analysis:
    """A traffic run: each mode's results, in order (carrier off first), and the carrier hub."""

    modes: list[traffic.Results]
    hub: CarrierResults | None = None


def _percent(share: float) -> str:
    return f"{100 * share:.0f} %"


def best(r: traffic.Results, task: str, balanced: bool = False) -> float:
    """The best classifier's (balanced) accuracy on ``task``."""
    return _best(r.verdict, task, balanced)


def _best(v: Verdict, task: str, balanced: bool = False) -> float:
    scores = [v.score(task, name) for name in CLASSIFIERS]
    return max(s.balanced if balanced else s.accuracy for s in scores)


def verdict_goals(v: Verdict) -> tuple[bool, bool]:
    """Whether ``v`` meets the carrier's two goals: idle or active (best balanced accuracy) at most
    :data:`IDLE_GOAL`, which scenario (best accuracy) within :data:`SCENARIO_MARGIN` of chance."""
    _, classes = v.chance[WHICH_SCENARIO]
    idle = _best(v, IDLE_OR_ACTIVE, balanced=True) <= IDLE_GOAL
    which = _best(v, WHICH_SCENARIO) <= 1 / classes + SCENARIO_MARGIN
    return idle, which


def goals(r: traffic.Results) -> tuple[bool, bool]:
    """:func:`verdict_goals` of the run's verdict on every scenario."""
    return verdict_goals(r.verdict)


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
        shapes = [sh for e, sh in zip(r.episodes, r.shapes, strict=False) if e.scenario == scenario]
        shaped = (
            [
                f"{statistics.median(x.bare for x in shapes):.0f}",
                f"{statistics.median(x.udp for x in shapes):.0f}",
                f"{sum(x.coalesced for x in shapes)}",
                f"{1000 * max(x.gap_max for x in shapes):,.0f}",
            ]
            if shapes
            else ["", "", "", ""]
        )
        seen.append(
            [
                scenario,
                str(len(vectors)),
                f"{median('out packets'):.0f} / {median('in packets'):.0f}",
                f"{median('all bytes') / 1e3:,.1f}",
                f"{median('all size max'):,.0f}",
                f"{empty} of {len(vectors)}",
                *shaped,
            ]
        )
    observer = Table(
        f"What the observer sees in one {s.window:g} s window, {s.carrier_label}, per scenario "
        "(medians over the windows)",
        [
            "scenario",
            "windows",
            "packets alpha→bravo / back",
            "kB both ways",
            "largest packet, B",
            "no packet",
            "bare ACKs",
            "UDP",
            "coalesced (sum)",
            "longest gap one way, ms (max)",
        ],
        seen,
        note=f"{r.packets:,} packets captured in the run, {r.dropped} dropped by the kernel before tcpdump "
        "read them. Sizes are IP packets (headers included); loopback carries up to 64 KiB per packet, "
        "so a bulk transfer shows fewer, larger packets than on an Ethernet path. Bare ACKs are TCP "
        "segments without data (median per window); UDP is datagrams (median per window); coalesced "
        "is TCP segments holding more than one cell record's bytes (all windows: with the carrier, "
        "cells a late timer sealed together); the longest gap is between two TCP data segments one way "
        "(the largest over the windows).",
    )

    confusion = Table(
        f"Which scenario, {s.carrier_label}: the random forest's cross-validated guesses "
        "(rows: what ran; columns: its guess)",
        ["ran \\ guessed", *v.scenarios],
        [[real, *map(str, counts)] for real, counts in zip(v.scenarios, v.confusion, strict=True)],
    )
    telling = Table(
        f"What gives the line away, {s.carrier_label}: the random forest's most important features",
        ["feature", "share of the importance"],
        [[name, f"{100 * weight:.1f} %"] for name, weight in v.important],
        note="Mean decrease in impurity, over the features of the 'which scenario' forest fitted on every "
        "window. 'out' is alpha to bravo, 'in' bravo to alpha; a slot is 0.5 s, a run is consecutive "
        "packets one way, a cluster is packets less than 0.1 s apart.",
    )
    return [scores, observer, confusion, telling]


def goal_table(a: Analysis) -> Table:
    """Each mode's best classifier on both questions, against chance and the carrier's goals."""
    rows = []
    for r in a.modes:
        verdicts = [(r.settings.carrier_label, r.verdict)]
        if r.without_calls is not None:
            left = ", ".join(sorted(traffic.CALLS))
            verdicts.append((f"{r.settings.carrier_label}, without {left}", r.without_calls))
        for label, v in verdicts:
            _, classes = v.chance[WHICH_SCENARIO]
            idle_ok, which_ok = verdict_goals(v)
            met = "met" if idle_ok and which_ok else "idle or active met" if idle_ok else "not met"
            rows.append(
                [
                    label,
                    _percent(_best(v, IDLE_OR_ACTIVE, balanced=True)),
                    _percent(_best(v, IDLE_OR_ACTIVE)),
                    _percent(_best(v, WHICH_SCENARIO)),
                    _percent(1 / classes),
                    met if r.settings.carrier_on else "(no goal: what the adversary gets today)",
                ]
            )
    return Table(
        "The adversary against the carrier's goals (best of the classifiers, cross-validated)",
        [
            "mode",
            "idle or active: balanced accuracy",
            "accuracy",
            "which scenario: accuracy",
            "chance",
            "goals",
        ],
        rows,
        note=f"Goals with the carrier on: idle or active at most {_percent(IDLE_GOAL)} (50 % is chance; "
        "balanced accuracy, since 1 window in 7 is idle and always guessing 'active' scores 86 %), and "
        f"which scenario within {100 * SCENARIO_MARGIN:.0f} points of chance (1 / scenarios; the "
        "scenarios have as many windows each). The rows 'without' leave the scenarios with a call out "
        "(the same windows, fewer of them): what the rest of the line gives away while calls go beside "
        "the carrier." + _spread(a),
    )


def _spread(a: Analysis) -> str:
    """A sentence on how far one run's scenario accuracy moves by chance alone, carrier on."""
    on = [r for r in a.modes if r.settings.carrier_on]
    if not on:
        return ""
    r = on[0]
    _, classes = r.verdict.chance[WHICH_SCENARIO]
    n = len(r.windows)
    p = 1 / classes
    error = math.sqrt(p * (1 - p) / n)
    return (
        f" How far one run moves by chance alone: with {n} windows, an adversary that learns nothing "
        f"still scores {_percent(p)} ± {100 * error:.1f} points (one standard error), and the best of "
        "three such classifiers more; one window more or less right is "
        f"{100 / n:.1f} points."
    )


def _gb(value: float) -> str:
    return f"{value / 1e9:,.2f}"


def cost_table(a: Analysis) -> Table:
    """Bytes on the wire and CPU of an idle line, per mode; bytes over the episodes."""
    rows = []
    for r in a.modes:
        idle, busy = r.idle, r.episodes_wire
        if idle is None or idle.wire is None or busy is None:
            continue
        out, back = idle.wire.per_day()
        pps_out, pps_back = idle.wire.packets_per_second()
        busy_out, busy_back = busy.per_day()
        rows.append(
            [
                r.settings.carrier_label,
                f"{_gb(out)} / {_gb(back)}",
                f"{pps_out:,.1f} / {pps_back:,.1f}",
                f"{_gb(busy_out)} / {_gb(busy_back)}",
                f"{idle.cpu_per_hour():,.1f}",
                f"{100 * idle.cpu_per_hour() / 3600:.2f} %",
            ]
        )
    return Table(
        "What one line costs: bytes on the wire (GB = 10^9 bytes per day) and CPU",
        [
            "mode",
            "idle line, GB/day alpha→bravo / back",
            "packets/s each way",
            "during the episodes, GB/day",
            "CPU s per hour, one station",
            "of one core",
        ],
        rows,
        note="Bytes are IP packets on the wire as tcpdump captured them (TCP headers and bare ACKs "
        "included, the link's own framing not), over the idle stretch before the first episode, scaled to "
        "a day; 'during the episodes' is every scenario together, from the first episode to the last. CPU "
        "is utime + stime of each station daemon (/proc/PID/stat, 10 ms ticks) over the idle stretch, "
        "the mean of the two ends; each station runs this one line.",
    )


def flash_table(a: Analysis) -> Table:
    """FLASH latency per condition and mode."""
    columns = ["queued"]
    for r in a.modes:
        columns += [f"{r.settings.carrier_label}: p50 ms", "p95 ms", "max ms"]
    rows = []
    for condition, what in FLASH_CONDITIONS.items():
        row = [what]
        for r in a.modes:
            seconds = by_condition(r.flashes).get(condition, [])
            if not seconds:
                row += ["", "", ""]
                continue
            row += [f"{1000 * percentile(seconds, p):,.0f}" for p in (50, 95, 100)]
        rows.append(row)
    counts = {len(by_condition(r.flashes).get(c, [])) for r in a.modes for c in FLASH_CONDITIONS}
    return Table(
        "FLASH latency: queued at the sender until stored at the receiver",
        columns,
        rows,
        note=f"{'/'.join(map(str, sorted(counts)))} FLASH messages per condition, alpha to bravo, one every "
        "0.5 s while the load runs (ROUTINE messages sent as fast as the control socket takes them, or "
        "documents back to back, the same way as the FLASH messages). From the message's created_at "
        "(the sender queued it) to its stored_at in the receiver's inbox, on one machine's clock; "
        "percentiles by nearest rank.",
    )


def hub_table(h: CarrierResults) -> Table:
    """The carrier hub at each interval tried."""
    rows = []
    for run in h.runs:
        rows.append(
            [
                f"{run.lines} lines, {run.cell}-byte cells every {run.interval_ms} ms",
                f"{run.lines * 1000 / run.interval_ms:,.0f}",
                f"{run.cells_sent / run.window_seconds:,.0f} ({_percent(run.share)})",
                f"{run.cpu_percent:.0f} %",
                f"{run.rss_kib / 1024:,.1f}",
                f"{run.peers_cpu_percent:.0f} % / {run.peers_rss_kib / 1024:,.1f}",
                f"{run.up_seconds:.1f}",
                "yes" if h.kept_up(run) else "no",
            ]
        )
    return Table(
        "A hub of carrier lines, idle: CPU, memory, and whether it keeps the schedule",
        [
            "hub",
            "cells/s owed, hub to peers",
            "cells/s on the wire (share)",
            "hub CPU, of one core",
            "hub RSS, MiB",
            "peers' process: CPU / RSS MiB",
            "lines up, s",
            "keeps up",
        ],
        rows,
        note=f"One hub daemon; its peers are stations served in one other process on the same "
        "shared cores (as in the hub benchmark above), every line "
        f'carrier = "steady" at both ends. Over a {h.settings.idle_seconds:g} s idle window: CPU is '
        "utime + stime of the hub's process; cells on the wire are the bytes its TCP sockets sent "
        "(bytes_sent of `ss -tinp`) over the bytes of one cell record. The hub keeps up when at least "
        f"{_percent(h.settings.keep_up)} of the owed cells left; intervals are tried from the default "
        "up until one keeps up.",
    )


def leaks(a: Analysis) -> list[str]:
    """Sentences on what the carrier-on windows still show, from the measured shapes."""
    out: list[str] = []
    for r in a.modes:
        if not r.settings.carrier_on or not r.shapes:
            continue
        per: dict[str, list[Shape]] = {name: [] for name in traffic.SCENARIOS}
        for episode, sh in zip(r.episodes, r.shapes, strict=False):
            per.setdefault(episode.scenario, []).append(sh)
        per = {name: shapes for name, shapes in per.items() if shapes}
        udp = sorted(name for name, shapes in per.items() if any(x.udp for x in shapes))
        if udp:
            out.append(
                f"- **UDP** with the carrier on: windows of {', '.join(udp)} hold UDP datagrams: "
                "the call's media still goes beside the carrier, not in it, and that alone names a call."
            )
        else:
            out.append(
                "- **UDP**: no window holds a UDP datagram with the carrier on (calls ride in the cells)."
            )
        coalesced = {name: sum(x.coalesced for x in shapes) for name, shapes in per.items()}
        if any(coalesced.values()):
            where = ", ".join(f"{name} {count}" for name, count in coalesced.items() if count)
            out.append(
                f"- **Coalesced cells**: TCP segments with more than one cell ({where}, over all windows): "
                "a timer that fires late seals the cells it owes at once and they leave as one segment."
            )
        else:
            out.append("- **Coalesced cells**: none; every data segment held one cell.")
        gaps = {name: max(x.gap_max for x in shapes) for name, shapes in per.items()}
        worst = max(gaps, key=lambda name: gaps[name])
        out.append(
            "- **Timer gaps**: the longest gap between two data segments one way, per scenario (ms): "
            + ", ".join(f"{name} {1000 * gap:,.0f}" for name, gap in gaps.items())
            + f" (the cell interval is {r.settings.line_settings().carrier_interval_ms} ms; "
            f"the worst is {worst})."
        )
        jitter = {
            name: (statistics.median(x.gap_p50 for x in shapes), statistics.median(x.gap_p99 for x in shapes))
            for name, shapes in per.items()
        }
        out.append(
            "- **Cell timing under load**: gaps between data segments one way, median / 99th percentile per "
            "window (ms, medians over the windows): "
            + ", ".join(f"{name} {1000 * p50:.1f} / {1000 * p99:.1f}" for name, (p50, p99) in jitter.items())
            + ". Each cell is sealed ahead of its tick and written at the tick by a thread that does "
            "nothing else, so work on the station's event loop moves a cell only when it stalls the loop "
            "past the seal-ahead time; what is left is the thread waiting for the interpreter and the "
            "operating system on a busy machine."
        )
        acks = {name: statistics.median(x.bare for x in shapes) for name, shapes in per.items()}
        out.append(
            "- **Bare ACKs** per window (median): "
            + ", ".join(f"{name} {count:.0f}" for name, count in acks.items())
            + "."
        )
        interval = r.settings.line_settings().carrier_interval_ms
        slow = {
            condition: percentile(seconds, 95)
            for condition, seconds in by_condition(r.flashes).items()
            if seconds and percentile(seconds, 95) > 5 * interval / 1000
        }
        if slow:
            out.append(
                "- **FLASH behind the load**: with the carrier on, the FLASH p95 is "
                + ", ".join(f"{1000 * p95:,.0f} ms {FLASH_CONDITIONS[c]}" for c, p95 in slow.items())
                + f", far beyond one cell interval ({interval} ms) plus its own cells. The figure runs "
                "from `send` until the receiver stores the message, so it includes the sender's store "
                "commit that queues it: in a trace of 40 FLASH messages across rekeys, the slow ones "
                "were slow `send` requests (the disk busy), while queued-to-received on the line "
                "stayed under 30 ms."
            )
        names = ", ".join(f"{name} ({100 * weight:.1f} %)" for name, weight in r.verdict.important[:4])
        out.append(f"- **What the forest leaned on** with the carrier on: {names}.")
    return out


def print_rich(console: Console, a: Analysis) -> None:
    """Print the traffic tables."""
    for table in all_tables(a):
        print_table(console, table)


def all_tables(a: Analysis) -> list[Table]:
    out = [goal_table(a)]
    for r in a.modes:
        out += tables(r)
    out += [cost_table(a), flash_table(a)]
    if a.hub is not None and a.hub.runs:
        out.append(hub_table(a.hub))
    return out


def _summary(r: traffic.Results) -> str:
    """One sentence: the best classifier's accuracy on each question, against chance."""
    v = r.verdict
    idle_chance, _ = v.chance[IDLE_OR_ACTIVE]
    which_chance, classes = v.chance[WHICH_SCENARIO]
    return (
        f"**What the adversary gets, {r.settings.carrier_label}:** the best of the classifiers tells an "
        f"idle window from an active one in {_percent(best(r, IDLE_OR_ACTIVE))} of the windows (balanced "
        f"accuracy {_percent(best(r, IDLE_OR_ACTIVE, balanced=True))}; always guessing 'active' scores "
        f"{_percent(idle_chance)}) and names which of the {classes} scenarios ran in "
        f"{_percent(best(r, WHICH_SCENARIO))} (chance {_percent(which_chance)})."
    )


def section(a: Analysis) -> list[str]:
    """The section's Markdown lines."""
    first = a.modes[0]
    s = first.settings
    scenarios = [f"- **{name}**: {what}." for name, what in traffic.SCENARIOS.items()]
    modes = ", then ".join(r.settings.carrier_label for r in a.modes)
    on = [r for r in a.modes if r.settings.carrier_on]
    lines = [
        HEADING,
        "",
        f"Measured {first.measured_at}: {modes}, each on a fresh pair of stations, "
        + ", ".join(
            f"{r.settings.windows} windows of {r.settings.window:g} s per scenario with the "
            f"{r.settings.carrier_label.split(' (')[0]}"
            for r in a.modes
        )
        + " (`python -m bench --only traffic` "
        "rewrites this section alone, in about fifteen minutes; `python -m bench --only traffic --quick` "
        "is a short run that writes nothing).",
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
        "With the carrier on, the largest document is what the carrier moves in "
        f"{s.document_seconds:g} s ({on[0].settings.biggest_document() / 1024:,.0f} KiB at the default "
        "cells), so that an episode ends within a few windows; the adversary only sees the first window "
        "of it either way."
        if on
        else "",
        "",
        "Each window becomes a vector of k-fingerprinting-style features: per direction and both "
        "together, packet counts and bytes, a histogram and percentiles of packet sizes, inter-arrival "
        "statistics, how the packets spread over 0.5 s slots, runs of packets one way and clusters of "
        "packets close in time. The classifiers are scored by stratified cross-validation on two "
        "questions: is anyone using the line in this window, and what is going on. The windows are "
        "given to the adversary aligned on the episodes, which a real one has to find: an upper bound on "
        "what it learns, which is what a defence should be measured against.",
        "",
        "The modes are the `[lines.NAME]` settings both stations give their line to each other "
        '(`MODES` in `bench/traffic.py`): none (the default, carrier off), then `carrier = "steady"` '
        "with the default cells. `--carrier 'carrier = \"steady\"\ncarrier_interval_ms = 40'` replaces the "
        "carrier-on mode's settings.",
        "",
        *(_summary(r) + "\n" for r in a.modes),
    ]
    lines += markdown_table(goal_table(a))
    for r in a.modes:
        for table in tables(r):
            lines += markdown_table(table)
    found = leaks(a)
    if found:
        lines += ["### What still shows with the carrier on", "", *found, ""]
    lines += markdown_table(cost_table(a))
    lines += markdown_table(flash_table(a))
    if a.hub is not None and a.hub.runs:
        lines += markdown_table(hub_table(a.hub))
    return lines


def merge(document: str, a: Analysis) -> str:
    """``document`` (a ``docs/benchmarks.md``) with its traffic section replaced by ``a``'s.

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
    return "\n".join([*lines[:start], *section(a), *lines[end:], ""])


__all__ = [
    "HEADING",
    "IDLE_GOAL",
    "SCENARIO_MARGIN",
    "Analysis",
    "all_tables",
    "best",
    "goals",
    "merge",
    "print_rich",
    "section",
    "tables",
    "verdict_goals",
]
