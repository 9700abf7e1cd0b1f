"""The voice benchmarks' tables (:mod:`bench.voice`): speech quality per network condition against
its goal, the latency a call adds, the CPU per call end, and voice inside the carrier.
"""

from __future__ import annotations

import os
import statistics

from bench import voice as voice_bench
from bench.report_table import Table, met


def _cpu_medians(v: voice_bench.Results, condition: voice_bench.Condition) -> list[float]:
    return [statistics.median(v.cpu_percent(run, end) for run in v.of(condition)) for end in (0, 1)]


def voice_tables(v: voice_bench.Results) -> list[Table]:
    """Voice calls: goals, speech quality per condition, added latency, CPU per call end."""
    clean = voice_bench.CLEAN
    goals: list[list[str]] = []
    for condition in voice_bench.CONDITIONS:
        scores = [run.pesq for run in v.of(condition)]
        target = f">= {condition.goal:g}" + ("" if condition.stated else " (our target; none set)")
        goals.append(
            [
                f"PESQ-WB, {condition.label}",
                f"{statistics.median(scores):.2f} median, {min(scores):.2f} min",
                target,
                met(statistics.median(scores) >= condition.goal),
            ]
        )
    p95 = voice_bench.percentile(v.latency_ms(clean, buffer=True), 95)
    p95_net = voice_bench.percentile(v.latency_ms(clean, buffer=False), 95)
    goals.append(
        [
            f"Added latency p95, capture to playout, {clean.label}",
            f"{p95:.1f} ms ({p95_net:.1f} ms without the buffer's target delay)",
            f"<= {voice_bench.LATENCY_GOAL_MS:g} ms",
            met(p95 <= voice_bench.LATENCY_GOAL_MS),
        ]
    )
    for end, percent in zip(("caller (alpha)", "callee (bravo)"), _cpu_medians(v, clean), strict=True):
        goals.append(
            [
                f"CPU per call end, {end}, {clean.label}",
                f"{percent:.2f}% of one core",
                f"< {voice_bench.CPU_GOAL_PERCENT:g}%",
                met(percent < voice_bench.CPU_GOAL_PERCENT),
            ]
        )
    runs = v.settings.runs
    tables = [
        Table(
            "Voice goals", ["", "measured", "goal", "result"], goals, note=f"Medians over {runs} calls each."
        ),
        Table(
            f"Speech through the whole call path (PESQ-WB of a {v.clip_seconds:.1f} s clip, {runs} calls "
            "per condition; the transport's figures are the callee's, medians)",
            [
                "condition",
                "PESQ-WB median",
                "min",
                "path",
                "datagrams dropped %",
                "concealed %",
                "jitter ms",
                "buffer delay ms",
                "repaired frames",
            ],
            [
                ["codec and jitter buffer alone, in memory (the ceiling)", f"{v.ceiling:.2f}", *[""] * 7],
                *[_quality_row(condition.label, v.of(condition)) for condition in voice_bench.CONDITIONS],
                _quality_row(f"{voice_bench.JITTER.label}, from the first packet (first call)", [v.probe]),
            ],
            note=(
                f"The clip: {v.clip}. Each call is `hotline call bravo --play CLIP` on alpha and `hotline "
                "answer alpha --record HEARD` on bravo, two daemons on loopback; alpha dials bravo through "
                "the impairment proxy, which applies the condition to the media's UDP both ways and passes "
                "the session's TCP untouched. The condition is switched on once media flows over UDP both "
                "ways, a few frames into the call; the last row had it from the first packet. Concealed is "
                "the share of frames the receiver had to conceal (after redundant copies and FEC); repaired "
                "frames came from a redundant copy or FEC. The ceiling is the same clip through the "
                "call's sender and receiver in memory with every payload on time."
            ),
        ),
        Table(
            "Added latency, capture to playout (every frame played from the network, over all calls of "
            "a condition)",
            ["condition", "frames", "p50 ms", "p95 ms", "max ms", "without buffer: p50", "p95", "max"],
            [_latency_row(v, condition) for condition in voice_bench.CONDITIONS],
            note=(
                "Per frame: when the callee's daemon played it minus when the caller's daemon encoded and "
                "sent it (`HOTLINE_VOICE_TRACE`; one monotonic clock, both daemons on this machine). "
                "Without buffer: less the jitter buffer's target delay in force when the frame was played, "
                "which leaves the network, the processing and the phase between the two 20 ms clocks. "
                f"The goal (p95 <= {voice_bench.LATENCY_GOAL_MS:g} ms) is held to the first row, with the "
                "buffer's delay; the others are for information."
            ),
        ),
        Table(
            "CPU per call end, % of one core (medians over the calls; idle subtracted)",
            ["condition", "caller (alpha)", "callee (bravo)"],
            [
                [condition.label, *(f"{p:.2f}" for p in _cpu_medians(v, condition))]
                for condition in voice_bench.CONDITIONS
            ]
            + [
                [
                    f"idle line, {v.idle_window:.0f} s (subtracted above)",
                    *(f"{100 * cpu / v.idle_window:.2f}" for cpu in v.idle_cpu),
                ],
                [
                    "codec and jitter buffer alone, in memory (the ceiling's run)",
                    *[f"{100 * v.ceiling_cpu:.2f}"] * 2,
                ],
            ],
            note=(
                "utime + stime of each daemon process from /proc/PID/stat, from the moment the condition "
                "was switched on until both `hotline` commands had ended, per second of that window, less "
                "the same daemon's rate over an idle window as long as a call measured in the same run "
                f"({1000 // os.sysconf('SC_CLK_TCK')} ms ticks). The `hotline` commands' own processes "
                "are not counted. The last row is the CPU of the ceiling's run in this process per second "
                "of audio: reading and writing WAV, one encode and one decode (one call end's media work)."
            ),
        ),
    ]
    return tables + carrier_voice_tables(v)


def carrier_voice_tables(v: voice_bench.Results) -> list[Table]:
    """Voice inside the carrier against the UDP path under netem loss (tables of :mod:`bench.voice`)."""
    title, columns, note = voice_bench.carrier_table()
    if not v.netem:
        return [Table(title, ["", "result"], [["not measured", v.netem_skipped or "no calls"]])]
    return [Table(title, columns, voice_bench.carrier_rows(v), note=note)]


def _quality_row(label: str, runs: list[voice_bench.CallRun]) -> list[str]:
    def median(key: str) -> float:
        return statistics.median(float(run.ended[key]) for run in runs)

    scores = [run.pesq for run in runs]
    repaired = statistics.median(sum(run.ended["repaired"].values()) for run in runs)
    return [
        label,
        f"{statistics.median(scores):.2f}",
        f"{min(scores):.2f}",
        "/".join(sorted({str(run.ended["path"]) for run in runs})),
        f"{100 * statistics.median(run.dropped for run in runs):.1f}",
        f"{median('loss'):.2f}",
        f"{median('jitter_ms'):.1f}",
        f"{median('delay_ms'):.1f}",
        f"{repaired:g}",
    ]


def _latency_row(v: voice_bench.Results, condition: voice_bench.Condition) -> list[str]:
    row = [condition.label]
    for buffer in (True, False):
        ms = v.latency_ms(condition, buffer=buffer)
        if buffer:
            row.append(f"{len(ms):,}")
        row += [
            f"{voice_bench.percentile(ms, 50):.1f}",
            f"{voice_bench.percentile(ms, 95):.1f}",
            f"{max(ms):.1f}",
        ]
    return row


__all__ = ["carrier_voice_tables", "voice_tables"]
