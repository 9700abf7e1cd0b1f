"""The station benchmarks' tables (:mod:`bench.station`, :mod:`bench.hub`): the daemons' durable
round trip against the floor of TCP plus fsync, their sustained rate, and a hub's memory and CPU
per idle line, each checked against its goal.
"""

from __future__ import annotations

import os

from bench import hub as hub_bench
from bench import station as station_bench
from bench.report_table import Table, verdict
from bench.stats import Latencies

#: The goals the station benchmarks are held to.
ROUND_TRIP_GOAL = 3.0  # p99 over the floor's p99, at most
RATE_GOAL = 5_000  # durable messages per second on one line, at least
LINE_MEMORY_GOAL_KIB = 256  # hub memory per idle line, less than


def _ms(run: Latencies, p: int) -> str:
    return f"{station_bench.percentile_ms(run, p):.3f}"


def goal_table(stations: station_bench.Results | None, hub: hub_bench.Results | None) -> list[Table]:
    """One row per goal: what we measured, the goal, pass or fail."""
    rows: list[list[str]] = []
    if stations is not None:
        ours, floor = (station_bench.percentile_ms(run, 99) for run in (stations.durable, stations.floor))
        rows += [
            [
                "Durable round trip p99, over the floor's p99",
                f"{ours / floor:.1f}x ({ours:.2f} ms vs {floor:.2f} ms)",
                f"< {ROUND_TRIP_GOAL:g}x",
                verdict(ours < ROUND_TRIP_GOAL * floor),
            ],
            [
                "Durable round trip p50, over the floor's p50",
                f"{stations.durable.p50_ms / stations.floor.p50_ms:.1f}x "
                f"({stations.durable.p50_ms:.2f} ms vs {stations.floor.p50_ms:.2f} ms)",
                "(none set)",
                "-",
            ],
            [
                "Sustained durable messages/s on one line",
                f"{stations.rate:,.0f}",
                f">= {RATE_GOAL:,}",
                verdict(stations.rate >= RATE_GOAL),
            ],
        ]
    if hub is not None:
        rows += [
            [
                f"Hub memory per idle line ({hub.settings.lines} lines up)",
                f"{hub.per_line_kib:.1f} KiB",
                f"< {LINE_MEMORY_GOAL_KIB} KiB",
                verdict(hub.per_line_kib < LINE_MEMORY_GOAL_KIB),
            ],
            [
                f"Hub idle CPU ({hub.settings.lines} lines up, {hub.settings.idle_seconds:g} s)",
                f"{hub.cpu_percent:.2f}% of one core",
                "(none set)",
                "-",
            ],
        ]
    if not rows:
        return []
    return [Table("Station goals", ["", "measured", "goal", "result"], rows)]


def station_tables(r: station_bench.Results) -> list[Table]:
    """The station daemons: round trip against its floor, where the time goes, sustained rate."""
    s = r.settings
    floor_p99 = station_bench.percentile_ms(r.floor, 99)
    runs: list[tuple[str, Latencies]] = [
        ("Floor: TCP round trip between two processes + one fsync on each side", r.floor),
        (
            "Hotline: `send` with `wait` (`hotline send --wait`): stored at the far end, receipt back",
            r.durable,
        ),
        ("of which until the queued message is reported (committed at the sender)", r.send),
        ("Control socket round trip alone (`station` request)", r.control),
    ]
    out = [
        Table(
            f"Durable message round trip on loopback ({s.messages} sequential messages of "
            f"{len(station_bench.TEXT)} bytes after {s.warmup} warm-up; best of {s.repeats} runs by p99)",
            ["", "mean ms", "p50 ms", "p99 ms", "p99 / floor p99"],
            [
                [
                    label,
                    f"{run.mean_ms:.3f}",
                    f"{run.p50_ms:.3f}",
                    _ms(run, 99),
                    f"{station_bench.percentile_ms(run, 99) / floor_p99:.2f}x",
                ]
                for label, run in runs
            ],
            note=(
                "Two station daemons (`run_daemon`, one process each) with one verified line; the client "
                "sends `send` then `wait` on one control connection, and `wait` answers once the receipt is "
                "back, i.e. once the far end has committed the entry (SQLite WAL, synchronous=FULL). The "
                "floor is a client that fsyncs a file before each send and an echo process that appends to "
                f"a file and fsyncs before answering; the two take turns in {s.blocks} blocks per run."
            ),
        )
    ]
    if r.stages is not None:
        out.append(
            Table(
                "Where a durable round trip's time goes (per stage, over the same messages)",
                ["stage", "p50 ms", "p99 ms"],
                [
                    [label, f"{run.p50_ms:.3f}", _ms(run, 99)]
                    for label, run in zip(station_bench.STAGES, r.stages, strict=True)
                ],
                note=(
                    "From the times both stores record on the one clock of this machine: the sender's "
                    "`stored_at` (its `send` handler), the receiver's `stored_at` (its store thread takes "
                    "the entry, before the commit) and the sender's `delivered_at` (it handles the receipt, "
                    "before the commit). The stages of one message add up to its round trip; their "
                    "percentiles need not."
                ),
            )
        )
    out.append(
        Table(
            f"Sustained messages on one line ({s.sustained:,} `send` requests pipelined over "
            f"{s.connections} control connections)",
            ["", "seconds", "messages/s"],
            [
                [
                    "every `send` answered (queued, committed at the sender)",
                    f"{r.accepted_seconds:.2f}",
                    f"{r.accept_rate:,.0f}",
                ],
                [
                    "every message stored at the far end (last receipt back)",
                    f"{r.stored_seconds:.2f}",
                    f"{r.rate:,.0f}",
                ],
                *_quarter_rows(r),
            ],
            note=(
                "Timed from the first request until `wait` on the last-queued message answers; receipts "
                "are cumulative, so by then the far end has stored every message (the sender's `status` is "
                "checked to show none queued or in flight). Runs on the same line right after the round "
                f"trips ({s.warmup + s.repeats * s.messages:,} messages before). The quarters are by "
                "message count, from "
                "the receiver's `stored_at` times."
            ),
        )
    )
    return out


def _quarter_rows(r: station_bench.Results) -> list[list[str]]:
    if r.quarters is None:
        return []
    names = ("first", "second", "third", "last")
    return [
        [f"{name} quarter of the messages stored at the far end", "", f"{rate:,.0f}"]
        for name, rate in zip(names, r.quarters, strict=True)
    ]


def hub_tables(h: hub_bench.Results) -> list[Table]:
    """The hub: memory with no lines and with every line up, idle CPU."""
    n = h.settings.lines
    return [
        Table(
            f"Hub: one daemon with {n} lines up and idle",
            ["", "value"],
            [
                ["hub RSS, no lines", f"{h.rss_empty_kib / 1024:.1f} MiB"],
                [f"hub RSS, {n} lines up", f"{h.rss_lines_kib / 1024:.1f} MiB"],
                ["memory per idle line", f"{h.per_line_kib:.1f} KiB"],
                [
                    f"hub CPU over {h.window_seconds:.0f} s idle",
                    f"{h.cpu_percent:.2f}% of one core ({h.cpu_seconds:.2f} s)",
                ],
                [f"all {n} lines up, from starting the peers", f"{h.up_seconds:.1f} s"],
                [
                    f"peers' process ({n} stations), same window",
                    f"RSS {h.peers_rss_kib / 1024:.1f} MiB, CPU {h.peers_cpu_percent:.2f}% of one core",
                ],
            ],
            note=(
                f"The hub is a daemon process; its {n} peers are `Station` objects served in one event "
                "loop of one other process, each on its own port with its own store. Memory is VmRSS from "
                "/proc/PID/status of a fresh daemon with no lines, and of a fresh daemon with every line up "
                "at the end of the idle window; CPU is utime + stime from /proc/PID/stat over the window "
                f"({1000 // os.sysconf('SC_CLK_TCK')} ms ticks), with heartbeats every {_heartbeat()} s."
            ),
        )
    ]


def _heartbeat() -> str:
    from hotline.station.config import StationConfig

    return f"{StationConfig(name='x', listen='127.0.0.1:1').heartbeat:g}"


__all__ = [
    "LINE_MEMORY_GOAL_KIB",
    "RATE_GOAL",
    "ROUND_TRIP_GOAL",
    "goal_table",
    "hub_tables",
    "station_tables",
]
