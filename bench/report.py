"""Turns the benchmarks' results into tables: rich on the terminal, Markdown for the docs.

Each table is built once as plain strings and rendered twice, so the terminal and
``docs/benchmarks.md`` can never disagree. Ratios of the protocol benchmarks are always Hotline over
a baseline, of a rate (handshakes/s, MB/s): above 1 means Hotline is faster. The station, hub and
voice benchmarks (:mod:`bench.station`, :mod:`bench.hub`, :mod:`bench.voice`) are checked against their
goals, and so are the document benchmarks (:mod:`bench.documents`, :mod:`bench.large_document`).
"""

from __future__ import annotations

import datetime
import os
import platform
import ssl
import statistics
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import cryptography
from cryptography.hazmat.backends.openssl.backend import backend
from rich.console import Console
from rich.table import Table as RichTable

from bench import documents as documents_bench
from bench import hub as hub_bench
from bench import large_document as large_bench
from bench import scp as scp_bench
from bench import station as station_bench
from bench import voice as voice_bench
from bench.line import HOTLINE_CNSA2, PROFILES
from bench.runner import Results
from bench.stats import HOTLINE, TCP, TLS, Latencies, Transfer
from bench.tls import CERTIFICATES


@dataclass(frozen=True)
class Table:
    """A titled table of strings; the first column is a label, the rest are numbers."""

    title: str
    columns: list[str]
    rows: list[list[str]]
    #: How it was measured, in a sentence or two, shown under the table.
    note: str = ""


def machine(results: Results | None, stations: station_bench.Results | None = None) -> list[tuple[str, str]]:
    """Where and with what this run happened."""
    rows = [
        ("Date", datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")),
        ("CPU", _cpu_model()),
        ("CPU features", _cpu_features()),
        ("Cores", f"{os.cpu_count()} logical CPUs"),
        ("OS", platform.platform()),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
    ]
    if results is not None:
        rows.append(("Event loop", f"asyncio, stdlib {results.event_loop}"))
    rows += [
        ("cryptography", f"{cryptography.__version__} ({backend.openssl_version_text()}), used by Hotline"),
        ("Stdlib ssl", f"{ssl.OPENSSL_VERSION}, used by the TLS baseline"),
        (
            "Hotline ciphers",
            "records in ChaCha20-Poly1305 (`standard`) or AES-256-GCM (`cnsa2`), fixed by the line profile",
        ),
    ]
    if results is not None:
        rows += [
            ("TLS baseline", f"{results.tls_parameters}, X25519 key exchange (OpenSSL's default group)"),
            ("TLS certificates", f"{CERTIFICATES}; client certificate required"),
        ]
    if stations is not None:
        rows.append(("Station stores", stations.storage))
    return rows


#: CPU flags that decide how fast the two ciphers run (AES-GCM leans on aes/vaes/vpclmulqdq).
_FLAGS = ("aes", "vaes", "pclmulqdq", "vpclmulqdq", "avx2", "avx512f")


def _cpuinfo(field: str) -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.split(":", 1)[0].strip() == field:
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _cpu_model() -> str:
    return _cpuinfo("model name") or platform.processor() or "unknown"


def _cpu_features() -> str:
    flags = set((_cpuinfo("flags") or "").split())
    if not flags:
        return "unknown"
    return ", ".join(f"{flag} {'yes' if flag in flags else 'no'}" for flag in _FLAGS)


def _ratio(ours: float, theirs: float) -> str:
    return f"{ours / theirs:.2f}x"


def _latency_rows(cases: dict[str, Latencies], labels: dict[str, str]) -> list[list[str]]:
    return [
        [
            labels[name],
            f"{run.mean_ms:.3f}",
            f"{run.p50_ms:.3f}",
            f"{run.p95_ms:.3f}",
            f"{run.per_second:,.0f}",
        ]
        for name, run in cases.items()
    ]


def _payload(size: int) -> str:
    if size % 1024 == 0:
        return f"{size // 1024} KiB"
    return f"{size} B"


#: The protocol goals of issue 16, as ratios of one run (Hotline's rate over TLS 1.3's).
HANDSHAKE_GOAL = 1.4  # standard handshakes per second over TLS 1.3 with mutual certificates, at least
CNSA2_BULK_GOAL = 1.0  # cnsa2 64 KiB bulk MB/s over TLS 1.3's, at least
#: Short names of the profiles' rows, by label.
_PROFILE_NAMES = {HOTLINE: "standard", HOTLINE_CNSA2: "cnsa2"}


def _profiles(cases: Mapping[str, object]) -> list[str]:
    """The Hotline profile labels measured in ``cases``, standard first."""
    return [label for label in PROFILES if label in cases]


def _bulk_64k(results: Results) -> dict[str, Transfer] | None:
    rows = [row for row in results.bulk if row.payload == 64 * 1024]
    return rows[0].transfers if rows else None


def protocol_goal_table(results: Results) -> list[Table]:
    """The protocol's goals (issue 16): measured ratio, goal, pass or fail; cnsa2's handshake reported."""
    rows: list[list[str]] = []
    for where, cases in (("on loopback", results.loopback), ("in memory", results.in_memory)):
        for label in _profiles(cases):
            ratio = cases[label].per_second / cases[TLS].per_second
            goal = label == HOTLINE
            rows.append(
                [
                    f"`{_PROFILE_NAMES[label]}` handshakes/s {where} over TLS 1.3 mutual certificates",
                    f"{ratio:.2f}x ({cases[label].per_second:,.0f} vs {cases[TLS].per_second:,.0f})",
                    f">= {HANDSHAKE_GOAL:g}x" if goal else "(reported)",
                    _verdict(ratio >= HANDSHAKE_GOAL) if goal else "-",
                ]
            )
    t = _bulk_64k(results)
    if t is not None:
        for label in _profiles(t):
            ratio = t[label].mb_per_s / t[TLS].mb_per_s
            goal = label == HOTLINE_CNSA2
            rows.append(
                [
                    f"`{_PROFILE_NAMES[label]}` 64 KiB bulk MB/s over TLS 1.3",
                    f"{ratio:.2f}x ({t[label].mb_per_s:,.1f} vs {t[TLS].mb_per_s:,.1f})",
                    f">= {CNSA2_BULK_GOAL:g}x" if goal else "(reported)",
                    _verdict(ratio >= CNSA2_BULK_GOAL) if goal else "-",
                ]
            )
    if not rows:
        return []
    return [Table("Protocol goals (one run, Hotline / TLS 1.3)", ["", "measured", "goal", "result"], rows)]


def tables(results: Results) -> list[Table]:
    """The report's tables, in order."""
    s = results.settings
    latency_columns = ["", "mean ms", "p50 ms", "p95 ms", "handshakes/s"]
    loopback = results.loopback
    in_memory = results.in_memory
    mutual = "TLS 1.3, mutual certificates"
    handshake_labels = {
        TCP: "TCP connect only (floor)",
        TLS: mutual,
        HOTLINE: "Hotline `standard` (TCP + X25519 + ML-KEM-768)",
        HOTLINE_CNSA2: "Hotline `cnsa2` (TCP + X25519 + ML-KEM-1024)",
    }
    memory_labels = {TLS: mutual, HOTLINE: "Hotline `standard`", HOTLINE_CNSA2: "Hotline `cnsa2`"}
    ours = _profiles(loopback)
    out = [
        *protocol_goal_table(results),
        Table(
            f"Handshakes on loopback ({s.handshakes} sequential after {s.warmup} warm-up; "
            f"best of {s.repeats} runs by mean)",
            latency_columns,
            _latency_rows(loopback, handshake_labels),
        ),
        Table(
            f"Handshake CPU cost, in memory without sockets ({s.handshakes} sequential; "
            f"best of {s.repeats} runs by mean)",
            latency_columns,
            _latency_rows(in_memory, memory_labels),
        ),
        Table(
            "Handshake ratios (Hotline / TLS 1.3, handshakes per second)",
            ["", *(f"{_PROFILE_NAMES[label]} / TLS 1.3" for label in ours)],
            [
                [
                    "On loopback",
                    *(_ratio(loopback[label].per_second, loopback[TLS].per_second) for label in ours),
                ],
                [
                    "In memory",
                    *(_ratio(in_memory[label].per_second, in_memory[TLS].per_second) for label in ours),
                ],
            ],
        ),
    ]
    mb_rows: list[list[str]] = []
    record_rows: list[list[str]] = []
    for row in results.bulk:
        t = row.transfers
        profiles = _profiles(t)
        mb_rows.append(
            [
                _payload(row.payload),
                f"{t[TCP].mb_per_s:,.1f}",
                f"{t[TLS].mb_per_s:,.1f}",
                *(f"{t[label].mb_per_s:,.1f}" for label in profiles),
                *(_ratio(t[label].mb_per_s, t[TLS].mb_per_s) for label in profiles),
                *(_ratio(t[label].mb_per_s, t[TCP].mb_per_s) for label in profiles),
            ]
        )
        record_rows.append(
            [
                _payload(row.payload),
                f"{t[TCP].records_per_s:,.0f}",
                f"{t[TLS].records_per_s:,.0f}",
                *(f"{t[label].records_per_s:,.0f}" for label in profiles),
                f"{row.tls_wire:,}",
                *(f"{row.hotline_wire[label]:,}" for label in profiles),
                *(f"{t[label].count:,}" for label in profiles),
            ]
        )
    names = [_PROFILE_NAMES[label] for label in _profiles(results.bulk[0].transfers)] if results.bulk else []
    out += [
        Table(
            f"Bulk throughput, one way, payload MB/s (10^6 bytes/s; ~{s.bulk_seconds:g} s per transfer, "
            f"best of {s.repeats})",
            [
                "payload",
                TCP,
                TLS,
                *(f"Hotline {name}" for name in names),
                *(f"{name} / TLS" for name in names),
                *(f"{name} / TCP" for name in names),
            ],
            mb_rows,
            note="`standard` records are ChaCha20-Poly1305, `cnsa2` records AES-256-GCM (the cipher the "
            "TLS baseline negotiates).",
        ),
        Table(
            "Bulk payloads per second (one write or send per payload) and bytes on the wire per payload "
            "in a burst",
            [
                "payload",
                TCP,
                TLS,
                *(f"Hotline {name}" for name in names),
                "TLS wire B",
                *(f"{name} wire B" for name in names),
                *(f"{name} payloads sent" for name in names),
            ],
            record_rows,
        ),
    ]
    if results.aead_us:
        out.append(
            Table(
                "AEAD alone: seal + open of one 65,518-byte record (pyca, best of 3)",
                ["cipher", "µs", "GB/s"],
                [[name, f"{us:.1f}", f"{2 * 65518 / us / 1e3:.2f}"] for name, us in results.aead_us.items()],
            )
        )
        out.extend(_gap_table(results))
    return out


#: The record cipher of each profile's rows, as :data:`bench.aead.CIPHERS` names it.
_RECORD_CIPHER = {HOTLINE: "ChaCha20-Poly1305", HOTLINE_CNSA2: "AES-256-GCM"}


def _gap_table(results: Results) -> list[Table]:
    """Per 64 KiB payload: how much of each profile's time over TLS's is the AEAD's difference."""
    t = _bulk_64k(results)
    if t is None or len(results.aead_us) < 2:
        return []
    profiles = _profiles(t)
    aes = results.aead_us["AES-256-GCM"]
    tls_us = 1e6 / t[TLS].records_per_s
    ours = {label: 1e6 / t[label].records_per_s for label in profiles}
    # the AEAD bench times 65,518 bytes; a 64 KiB payload is that much more
    aead_us = {label: results.aead_us[_RECORD_CIPHER[label]] * 65536 / 65518 for label in profiles}
    tls_aead = aes * 65536 / 65518
    names = [_PROFILE_NAMES[label] for label in profiles]
    return [
        Table(
            "Where the bulk gap is: µs per 64 KiB payload, both ends together",
            ["", "TLS 1.3", *(f"Hotline {name}" for name in names), *(f"{name} - TLS" for name in names)],
            [
                [
                    "whole transfer",
                    f"{tls_us:.1f}",
                    *(f"{ours[label]:.1f}" for label in profiles),
                    *(f"{ours[label] - tls_us:+.1f}" for label in profiles),
                ],
                [
                    "AEAD alone (seal + open)",
                    f"{tls_aead:.1f}",
                    *(f"{aead_us[label]:.1f}" for label in profiles),
                    *(f"{aead_us[label] - tls_aead:+.1f}" for label in profiles),
                ],
                [
                    "everything else",
                    f"{tls_us - tls_aead:.1f}",
                    *(f"{ours[label] - aead_us[label]:.1f}" for label in profiles),
                    *(f"{(ours[label] - aead_us[label]) - (tls_us - tls_aead):+.1f}" for label in profiles),
                ],
            ],
        )
    ]


#: The goals the station benchmarks are held to.
ROUND_TRIP_GOAL = 3.0  # p99 over the floor's p99, at most
RATE_GOAL = 5_000  # durable messages per second on one line, at least
LINE_MEMORY_GOAL_KIB = 256  # hub memory per idle line, less than


def _verdict(ok: bool) -> str:
    return "pass" if ok else "FAIL"


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
                _verdict(ours < ROUND_TRIP_GOAL * floor),
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
                _verdict(stations.rate >= RATE_GOAL),
            ],
        ]
    if hub is not None:
        rows += [
            [
                f"Hub memory per idle line ({hub.settings.lines} lines up)",
                f"{hub.per_line_kib:.1f} KiB",
                f"< {LINE_MEMORY_GOAL_KIB} KiB",
                _verdict(hub.per_line_kib < LINE_MEMORY_GOAL_KIB),
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


def _met(ok: bool) -> str:
    return "met" if ok else "not met"


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
                _met(statistics.median(scores) >= condition.goal),
            ]
        )
    p95 = voice_bench.percentile(v.latency_ms(clean, buffer=True), 95)
    p95_net = voice_bench.percentile(v.latency_ms(clean, buffer=False), 95)
    goals.append(
        [
            f"Added latency p95, capture to playout, {clean.label}",
            f"{p95:.1f} ms ({p95_net:.1f} ms without the buffer's target delay)",
            f"<= {voice_bench.LATENCY_GOAL_MS:g} ms",
            _met(p95 <= voice_bench.LATENCY_GOAL_MS),
        ]
    )
    for end, percent in zip(("caller (alpha)", "callee (bravo)"), _cpu_medians(v, clean), strict=True):
        goals.append(
            [
                f"CPU per call end, {end}, {clean.label}",
                f"{percent:.2f}% of one core",
                f"< {voice_bench.CPU_GOAL_PERCENT:g}%",
                _met(percent < voice_bench.CPU_GOAL_PERCENT),
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


def _mb(kib: int) -> str:
    return f"{kib * 1024 / 1e6:.1f} MB ({kib / 1024:.1f} MiB)"


def document_tables(d: documents_bench.Results) -> list[Table]:
    """Documents: goals, throughput against TCP and TLS, memory and CPU of the daemons, FLASH latency."""
    s = d.settings
    size = f"{s.size / 2**30:g} GiB" if s.size >= 2**30 else f"{s.size / 2**20:g} MiB"
    best = d.best
    ours, alone = d.mb_per_s(best.total), d.mb_per_s(best.transfer)
    tls, tcp = (d.mb_per_s(d.baseline(mode)) for mode in (documents_bench.TLS, documents_bench.TCP))
    busy = d.busy_flashes
    busy_p95 = documents_bench.percentile_ms(busy, 95)
    chacha, aes = scp_bench.CIPHERS
    goals = [
        *_scp_goals(d, chacha, aes),
        [
            f"Throughput of a {size} document over the TLS 1.3 baseline's",
            f"{ours / tls:.2f}x ({ours:,.0f} MB/s vs {tls:,.0f} MB/s; transfer alone {alone / tls:.2f}x)",
            f">= {documents_bench.THROUGHPUT_GOAL:g}x",
            _met(ours >= documents_bench.THROUGHPUT_GOAL * tls),
        ],
        *[
            [
                f"Peak memory (VmHWM) of {end} during the transfers",
                _mb(kib),
                f"< {documents_bench.MEMORY_GOAL_MB:g} MB",
                _met(kib * 1024 / 1e6 < documents_bench.MEMORY_GOAL_MB),
            ]
            for end, kib in zip(("the sender (alpha)", "the receiver (bravo)"), d.peak_kib, strict=True)
        ],
        [
            "FLASH send to receipt p95, during a transfer",
            f"{busy_p95:.1f} ms ({len(busy)} of {len(d.busy.flashes)} messages answered during it)",
            f"< {documents_bench.FLASH_GOAL_MS:g} ms",
            _met(bool(busy) and busy_p95 < documents_bench.FLASH_GOAL_MS),
        ],
    ]

    def runs(seconds: list[float]) -> str:
        return ", ".join(f"{x:.2f}" for x in seconds)

    def ratios(mb: float) -> list[str]:
        return [_ratio(mb, tls), _ratio(mb, tcp)]

    hotline_cpu = f"{d.hotline_cpu_per_gib:.2f}"
    throughput = [
        [
            "Hotline `standard` (BLAKE3, ChaCha20-Poly1305): `send.file` until the receiver shows it "
            "`complete` (hashing included)",
            f"{best.total:.2f}",
            f"{ours:,.1f}",
            hotline_cpu,
            *ratios(ours),
            runs([run.total for run in d.hotline]),
        ],
        *_cnsa2_rows(d, ratios, runs),
        [
            "of which hashing and queueing (until `send.file` answers)",
            f"{best.queued:.2f}",
            "",
            "",
            "",
            "",
            runs([run.queued for run in d.hotline]),
        ],
        [
            "Hotline: the transfer alone (queued until `complete`)",
            f"{best.transfer:.2f}",
            f"{alone:,.1f}",
            "",
            *ratios(alone),
            runs([run.transfer for run in d.hotline]),
        ],
        [
            "Hotline by the receiver's `completed_at` (no polling granularity)",
            f"{best.total_stored:.2f}",
            f"{d.mb_per_s(best.total_stored):,.1f}",
            hotline_cpu,
            *ratios(d.mb_per_s(best.total_stored)),
            runs([run.total_stored for run in d.hotline]),
        ],
        *[
            [
                label,
                f"{d.baseline(mode):.2f}",
                f"{d.mb_per_s(d.baseline(mode)):,.1f}",
                f"{d.baseline_cpu_per_gib(mode):.2f}",
                "",
                "",
                runs(d.baselines[mode]),
            ]
            for label, mode in _baseline_labels(d)
        ],
    ]
    cpu = [100 * c / best.total for c in best.cpu]
    memory = [
        [
            end,
            f"{idle / 1024:.1f}",
            f"{peak / 1024:.1f}",
            f"{percent:.0f}",
        ]
        for end, idle, peak, percent in zip(
            ("sender (alpha)", "receiver (bravo)"), d.idle_rss_kib, d.peak_kib, cpu, strict=True
        )
    ]

    def flash_row(label: str, seconds: list[float]) -> list[str]:
        if not seconds:
            return [label, "0", "", "", ""]
        return [
            label,
            f"{len(seconds)}",
            f"{documents_bench.percentile_ms(seconds, 50):.1f}",
            f"{documents_bench.percentile_ms(seconds, 95):.1f}",
            f"{1e3 * max(seconds):.1f}",
        ]

    reset = "reset just before each transfer" if all(r.hwm_reset for r in d.hotline) else "since start"
    return [
        Table(
            "Document goals",
            ["", "measured", "goal", "result"],
            goals,
            note=f"Medians of {s.runs} runs, every row from the same run of the benchmark.",
        ),
        Table(
            f"Document transfer of {size} of random bytes on loopback, MB/s (10^6 bytes/s; median of "
            f"{s.runs} runs, taking turns)",
            ["", "seconds", "MB/s", "CPU s per GiB", "Hotline / TLS 1.3", "Hotline / TCP", "every run, s"],
            throughput,
            note=(
                "Two station daemons (`hotline up`, one process each) with one verified line. Hotline: "
                "`send.file` on the sender with `wait: false` (it answers once the file is hashed and "
                "the document queued), then the receiver's `files` polled every "
                f"{1e3 * documents_bench.POLL:.0f} ms until the document is `complete` (every byte "
                "stored, sealed at rest and fsynced, and its hash matched). `cnsa2`: two more daemons "
                "paired with a `cnsa2` line (`pair --profile cnsa2`), so everything on its path follows "
                "that profile: AES-256-GCM records, SHA-384 document hashes, AES-256-GCM at rest. "
                "The TCP and TLS "
                "baselines copy the same file's bytes (read in 1 MiB blocks, page-cached) from a sender "
                "process to a receiver process that writes them to a file with plain writes and fsyncs "
                "at the end, then answers one byte; timed in the sender from before the connect "
                "(handshake included) until that byte. TLS is stdlib `ssl` with self-signed ECDSA P-256 "
                "certificates made at bench time, client certificate required. scp: see the next table. "
                "CPU s per GiB: user + system seconds of every process involved over the row's median "
                "run (Hotline: both daemons, hashing included; baselines: sender and receiver, and for "
                "scp its ssh client and sshd). The machine's 1-minute load average was "
                f"{d.load[0]:.2f} when the transfers began and {d.load[1]:.2f} when they ended "
                f"({os.cpu_count()} logical CPUs)."
            ),
        ),
        *_scp_tables(d),
        Table(
            "Daemon memory and CPU around a transfer",
            ["", "idle RSS MiB", "peak RSS (VmHWM) MiB", "CPU % of one core, best transfer"],
            memory,
            note=(
                "Idle: VmRSS from /proc/PID/status with the line up, before any transfer. Peak: the highest "
                f"VmHWM over every transfer of the run (the peak is {reset}). CPU: utime + stime of the "
                "daemon over the best transfer (hashing included), per second of it."
            ),
        ),
        Table(
            "Where the CPU goes: CPU seconds per GiB moved (user + system)",
            ["", "CPU s per GiB"],
            _cpu_rows(d),
            note=(
                "Hotline: utime + stime of each daemon over its median transfer (hashing included). "
                "Baselines: every process of their median run (resource usage of the reaped children; "
                "for scp: scp, ssh and the sshd with its per-connection processes). On a machine with "
                f"{os.cpu_count()} logical CPUs both ends share the cores, so the CPU per GiB, not the "
                "protocol's round trips, sets the rate."
            ),
        ),
        Table(
            "The floor: the cryptographic passes over every byte each side cannot leave out (CPU s per GiB)",
            ["", "passes (CPU s per GiB of one pass)", "floor", "measured", "measured - floor"],
            floor_rows(d),
            note=(
                "Each primitive timed in the benchmark's own process over 64 KiB pieces, one thread, best "
                "of 3, times the passes over every byte: a Hotline document is hashed at both ends (the "
                "sender before queueing it, the receiver as it stores it) and goes through the AEAD three "
                "times (the sender seals records, the receiver opens them and seals the chunks at rest); "
                "scp and TLS seal and open once each and neither hash nor store encrypted. What is left "
                "over the floor is reading, copying, writing, fsync, the kernel's socket work and Python."
            ),
        ),
        Table(
            f"FLASH message, `send` to receipt ({s.flashes} messages, one every "
            f"{documents_bench.FLASH_EVERY:g} s)",
            ["", "messages", "p50 ms", "p95 ms", "max ms"],
            [
                flash_row("line idle", d.idle_flashes),
                flash_row(f"during a {size} transfer", busy),
            ],
            note=(
                "Wall time of `send` with `precedence: flash` and `wait` on the sender's control socket, "
                "until the answer that the far end's receipt is back (a fresh control connection each). "
                "During: sent while another transfer of the same file ran (starting once `send.file` had "
                f"answered); only the messages answered before the document was complete are counted "
                f"({len(busy)} of {len(d.busy.flashes)}; that transfer took {d.busy.total:.2f} s)."
            ),
        ),
    ]


def _cpu_rows(d: documents_bench.Results) -> list[list[str]]:
    gib = d.settings.size / 2**30
    sender, receiver = (cpu / gib for cpu in d.best.cpu)
    rows = [
        ["Hotline `standard`, sender daemon", f"{sender:.2f}"],
        ["Hotline `standard`, receiver daemon", f"{receiver:.2f}"],
        ["Hotline `standard`, both daemons", f"{sender + receiver:.2f}"],
    ]
    cnsa2 = d.cnsa2_run
    if cnsa2 is not None:
        c_sender, c_receiver = (cpu / gib for cpu in cnsa2.cpu)
        rows += [
            ["Hotline `cnsa2`, sender daemon", f"{c_sender:.2f}"],
            ["Hotline `cnsa2`, receiver daemon", f"{c_receiver:.2f}"],
            ["Hotline `cnsa2`, both daemons", f"{c_sender + c_receiver:.2f}"],
        ]
    rows += [
        [f"{label}, every process", f"{d.baseline_cpu_per_gib(mode):.2f}"]
        for label, mode in _baseline_labels(d)
    ]
    return rows


def floor_rows(d: documents_bench.Results) -> list[list[str]]:
    """The passes over every byte each side cannot leave out, priced by the primitives alone."""
    if not d.floor:
        return []

    def passes(label: str, counts: dict[str, int], measured: float) -> list[str]:
        spelled = " + ".join(f"{n} x {name} ({d.floor.get(name, 0.0):.2f})" for name, n in counts.items())
        floor = sum(n * d.floor.get(name, 0.0) for name, n in counts.items())
        return [label, spelled, f"{floor:.2f}", f"{measured:.2f}", f"{measured - floor:.2f}"]

    rows = [passes("Hotline `standard`", documents_bench.HOTLINE_PASSES, d.hotline_cpu_per_gib)]
    if d.cnsa2_run is not None:
        rows.append(passes("Hotline `cnsa2`", documents_bench.CNSA2_PASSES, d.cnsa2_cpu_per_gib))
    for cipher, counts in documents_bench.SCP_CIPHER_PASSES.items():
        if d.baselines.get(cipher) and d.baseline_cpu.get(cipher):
            label = f"scp, {scp_bench.cipher_label(cipher)}"
            rows.append(passes(label, counts, d.baseline_cpu_per_gib(cipher)))
    if d.baselines.get(documents_bench.TLS) and d.baseline_cpu.get(documents_bench.TLS):
        rows.append(
            passes("TLS 1.3", documents_bench.TLS_PASSES, d.baseline_cpu_per_gib(documents_bench.TLS))
        )
    return rows


def _scp_goals(d: documents_bench.Results, chacha: str, aes: str) -> list[list[str]]:
    """Issue 16's goals: ``standard`` against scp with OpenSSH's default cipher, ``cnsa2`` against
    scp with aes256-gcm, as ratios of MB/s in the same run."""
    rows = []
    wanted = [("`standard`", d.best, chacha)]
    if d.cnsa2_run is not None:
        wanted.append(("`cnsa2`", d.cnsa2_run, aes))
    for label, run, cipher in wanted:
        if not d.baselines.get(cipher):
            continue
        ours, theirs = d.mb_per_s(run.total), d.mb_per_s(d.baseline(cipher))
        rows.append(
            [
                f"Hotline {label} documents over scp with {scp_bench.cipher_label(cipher)}",
                f"{ours / theirs:.2f}x ({ours:,.0f} MB/s vs {theirs:,.0f} MB/s)",
                ">= 1x",
                _met(ours >= theirs),
            ]
        )
    return rows


def _cnsa2_rows(
    d: documents_bench.Results,
    ratios: Callable[[float], list[str]],
    runs: Callable[[list[float]], str],
) -> list[list[str]]:
    run = d.cnsa2_run
    if run is None:
        return []
    mb = d.mb_per_s(run.total)
    return [
        [
            "Hotline `cnsa2` documents (SHA-384, AES-256-GCM at rest): the same",
            f"{run.total:.2f}",
            f"{mb:,.1f}",
            f"{d.cnsa2_cpu_per_gib:.2f}",
            *ratios(mb),
            runs([r.total for r in d.cnsa2]),
        ]
    ]


def _baseline_labels(d: documents_bench.Results) -> list[tuple[str, str]]:
    """(label, mode) of each baseline the run measured: TLS, TCP, then scp by cipher."""
    labels = [
        (f"TLS 1.3 over asyncio ({d.tls_cipher or 'cipher unknown'})", documents_bench.TLS),
        ("TCP over asyncio", documents_bench.TCP),
    ]
    labels += [(f"scp (SFTP mode), {scp_bench.cipher_label(c)}", c) for c in scp_bench.CIPHERS]
    return [(label, mode) for label, mode in labels if d.baselines.get(mode) and d.baseline_cpu.get(mode)]


def _scp_tables(d: documents_bench.Results) -> list[Table]:
    """Hotline's document transfer over each scp baseline of the same run: rate and CPU per GiB."""
    ours, ours_cpu = d.mb_per_s(d.best.total), d.hotline_cpu_per_gib
    rows = []
    for cipher in scp_bench.CIPHERS:
        if not d.baselines.get(cipher) or not d.baseline_cpu.get(cipher):
            continue
        theirs, theirs_cpu = d.mb_per_s(d.baseline(cipher)), d.baseline_cpu_per_gib(cipher)
        rows.append(
            [
                f"scp, {scp_bench.cipher_label(cipher)}",
                f"{theirs:,.1f}",
                f"{theirs_cpu:.2f}",
                f"{ours:,.1f}",
                f"{ours_cpu:.2f}",
                _ratio(ours, theirs),
                _ratio(ours_cpu, theirs_cpu),
            ]
        )
    if not rows:
        return []
    return [
        Table(
            "Hotline's documents against OpenSSH scp, same file and run (Hotline / scp)",
            ["", "scp MB/s", "scp CPU s per GiB", "Hotline MB/s", "Hotline CPU s per GiB", "MB/s", "CPU"],
            rows,
            note=(
                f"{d.openssh or 'OpenSSH (version unknown)'}. Each scp copy goes through an sshd of its "
                "own started by the benchmark on a free loopback port (`sshd -D -e -f CONFIG`, Ed25519 host "
                "and client keys made at bench time, SFTP served by `internal-sftp`), logging in as root by "
                "key; `scp -s` (SFTP mode, OpenSSH's default) with `-o Ciphers=...` copies the file into a "
                "temporary directory. Timed from scp's start (connect, key exchange and authentication "
                "included) until it exits. scp neither fsyncs the copy nor hashes it, and stores it in the "
                "clear; Hotline fsyncs, hashes at both ends and seals at rest. CPU: user + system seconds of "
                "scp, its ssh client, the sshd listener and its per-connection processes, all reaped "
                "before the reading (RUSAGE_CHILDREN). Hotline: `send.file` until `complete`, both "
                "daemons' CPU. A MB/s ratio above 1 means Hotline is faster; a CPU ratio above 1 means it "
                "spends more CPU per GiB."
            ),
        )
    ]


def _gib(size: int) -> str:
    return f"{size / 2**30:g} GiB" if size >= 2**30 else f"{size / 2**20:g} MiB"


def _over(part: int, whole: int) -> str:
    return f"{100 * (part - whole) / whole:+.3f} %"


def large_tables(r: large_bench.Results) -> list[Table]:
    """The large document: goals, time, each daemon's RSS along the transfer, the blob on disk."""
    size = _gib(r.settings.size)
    checked = "BLAKE3 matched" if r.verified else "BLAKE3 MISMATCH"
    goals = [
        [
            "Largest document sent and verified (source's BLAKE3 = sender's = receiver's)",
            f"{size}, {checked}",
            f">= {large_bench.SIZE_GOAL_GIB:g} GiB",
            _met(r.verified and r.settings.size >= large_bench.SIZE_GOAL_GIB * 2**30),
        ],
        *[
            [
                f"Constant memory: peak (VmHWM) of {end} during the transfer",
                _mb(kib),
                f"< {large_bench.MEMORY_GOAL_MB:g} MB",
                _met(kib * 1024 / 1e6 < large_bench.MEMORY_GOAL_MB),
            ]
            for end, kib in zip(("the sender (alpha)", "the receiver (bravo)"), r.hwm_kib, strict=True)
        ],
    ]
    mib = [f"{kib / 1024:.1f}" for kib in r.idle_rss_kib]
    memory = []
    for end, label in enumerate(("sender (alpha)", "receiver (bravo)")):
        low, high = r.rss_range(end)
        memory.append(
            [
                label,
                mib[end],
                *[f"{r.rss_at(share)[end] / 1024:.1f}" for share in large_bench.MARKS],
                f"{low / 1024:.1f}",
                f"{high / 1024:.1f}",
                f"{r.hwm_kib[end] / 1024:.1f}",
            ]
        )
    reset = "reset just before the transfer" if r.hwm_reset else "since the daemon started"
    as_expected = "as it is" if r.blob_bytes == r.sealed_bytes else "it is not"
    marks = ", ".join(f"{100 * share:.0f} %" for share in large_bench.MARKS)
    return [
        Table("Large document goals", ["", "measured", "goal", "result"], goals, note="One run."),
        Table(
            f"Large document: {size} of random bytes on loopback, one run (MB/s: 10^6 bytes/s)",
            ["", "seconds", "MB/s"],
            [
                [
                    "`send.file` until the receiver shows it `complete` (hashing included)",
                    f"{r.total:.1f}",
                    f"{r.mb_per_s(r.total):,.1f}",
                ],
                ["of which hashing and queueing (until `send.file` answers)", f"{r.queued:.1f}", ""],
                [
                    "the transfer alone (queued until `complete`)",
                    f"{r.transfer:.1f}",
                    f"{r.mb_per_s(r.transfer):,.1f}",
                ],
            ],
            note=(
                "Two station daemons (`hotline up`, one process each) with one verified line, as above; "
                "`send.file` on the sender with `wait: false`, then the receiver's `files` polled every "
                f"{1e3 * large_bench.POLL:.0f} ms until the document is `complete`. The file is written "
                "once just before (so much of it is in the page cache) to a temporary directory on disk. "
                f"The machine's 1-minute load average was {r.load[0]:.2f} when the transfer began and "
                f"{r.load[1]:.2f} when it ended ({os.cpu_count()} logical CPUs)."
            ),
        ),
        Table(
            "Daemon memory along the large document, RSS MiB",
            [
                "",
                "idle",
                *[f"at {100 * share:.0f} %" for share in large_bench.MARKS],
                "lowest",
                "highest",
                "peak (VmHWM)",
            ],
            memory,
            note=(
                "VmRSS from /proc/PID/status: idle with the line up before the transfer, then sampled every "
                f"{large_bench.SAMPLE_EVERY:g} s ({len(r.samples)} samples) from just before `send.file` "
                f"until complete. At {marks}: the sample nearest the poll that first saw that share of the "
                "bytes made durable at the receiver. Lowest and highest: over the samples once "
                f"`send.file` had answered. Peak: VmHWM at the end ({reset}), hashing included."
            ),
        ),
        Table(
            "The received document on disk",
            ["", "bytes", "over the document"],
            [
                ["the document", f"{r.settings.size:,}", ""],
                ["sealed blob, length", f"{r.blob_bytes:,}", _over(r.blob_bytes, r.settings.size)],
                [
                    "sealed blob, blocks allocated",
                    f"{r.blob_disk_bytes:,}",
                    _over(r.blob_disk_bytes, r.settings.size),
                ],
            ],
            note=(
                "The receiver keeps the document as sealed chunks (ChaCha20-Poly1305, a 16-byte tag per "
                "chunk) in one file beside its store; its length should be "
                f"{r.sealed_bytes:,} bytes ({as_expected}). "
                "Blocks allocated: `st_blocks` x 512 from stat."
            ),
        ),
    ]


def all_tables(
    results: Results | None,
    stations: station_bench.Results | None = None,
    hub: hub_bench.Results | None = None,
    voice: voice_bench.Results | None = None,
    documents: documents_bench.Results | None = None,
    large: large_bench.Results | None = None,
) -> list[Table]:
    """Every table of a run, in report order."""
    out = tables(results) if results is not None else []
    out += goal_table(stations, hub)
    if stations is not None:
        out += station_tables(stations)
    if hub is not None:
        out += hub_tables(hub)
    if voice is not None:
        out += voice_tables(voice)
    if documents is not None:
        out += document_tables(documents)
    if large is not None:
        out += large_tables(large)
    return out


def print_rich(
    console: Console,
    results: Results | None,
    stations: station_bench.Results | None = None,
    hub: hub_bench.Results | None = None,
    voice: voice_bench.Results | None = None,
    documents: documents_bench.Results | None = None,
    large: large_bench.Results | None = None,
) -> None:
    """Print the machine summary and every table."""
    info = RichTable(title="Machine", show_header=False)
    info.add_column(style="bold")
    info.add_column()
    for key, value in machine(results, stations):
        info.add_row(key, value)
    console.print(info)
    for table in all_tables(results, stations, hub, voice, documents, large):
        print_table(console, table)


def print_table(console: Console, table: Table) -> None:
    """Print one table to the terminal: the first column left, the figures right."""
    rich = RichTable(title=table.title, caption=table.note or None)
    for i, column in enumerate(table.columns):
        rich.add_column(column, justify="left" if i == 0 else "right")
    for row in table.rows:
        rich.add_row(*row)
    console.print(rich)


def markdown_table(table: Table) -> list[str]:
    """One table as the lines of a Markdown section (a heading, the table, its note)."""
    align = ["---"] + ["---:"] * (len(table.columns) - 1)
    lines = [f"### {table.title}", "", "| " + " | ".join(table.columns) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in table.rows]
    lines.append("")
    if table.note:
        lines += [table.note, ""]
    return lines


METHOD = """\
- **Line profiles**: every Hotline case runs twice, on a `standard` line (X25519 + ML-KEM-768,
  ChaCha20-Poly1305 and BLAKE2s in the handshake, ChaCha20-Poly1305 records) and on a `cnsa2` line
  (X25519 + ML-KEM-1024, AES-256-GCM and SHA-512 in the handshake, AES-256-GCM records), both ends
  of a line on the same profile. The goals are held by one run's ratios: `standard` handshakes at
  least 1.4x TLS 1.3 with mutual certificates, `cnsa2` 64 KiB bulk at least TLS 1.3's; `cnsa2`'s
  handshake ratio is reported beside them.
- **Handshakes on loopback** are timed from just before the dial until both ends hold an
  authenticated connection: Hotline's `connect()` has returned and `Listener.accept()` has handed
  out the server's channel (after the client's key confirmation); TLS's `create_connection` has
  returned and the server's protocol got `connection_made`, which asyncio calls only after the
  server's side of the handshake (client Certificate, CertificateVerify and Finished) is done. The
  TCP row is a bare connect timed the same way: the floor under both. Connections are closed
  outside the timed window. Every handshake is a full one: Hotline has no resumption, and the TLS
  server issues no session tickets (none would be used, so issuing them would only slow it down).
- **Handshakes in memory** run the same two protocols without sockets or event loop: two Hotline
  `Session` objects passing their three records (initiation, response, key confirmation), and two
  `ssl.SSLObject` over `MemoryBIO` pairs.
- **Bulk** sends the same random payload over a fresh connection, one write per payload, in one
  process and one event loop, timed from just before the first send until the receiver has
  counted the last byte. Senders wait only while the transport has paused writing (Hotline's
  `SecureChannel.send`; `transport.write` plus `pause_writing`/`resume_writing` for the baselines).
  The TCP and TLS receivers are bare `asyncio.Protocol`s that only count in `data_received`
  (asyncio reads up to 256 KiB at a time; `BufferedProtocol` was tried and was no faster for TCP
  and slower for TLS); Hotline's receiver awaits `SecureChannel.receive()` once per payload.
  Each implementation's transfer size is calibrated to take about the same time.
- **Repetitions**: every case runs {repeats} times with the implementations taking turns; the tables keep
  the best run (lowest mean handshake time, shortest transfer), since noise on a shared machine only
  ever adds time. Compare ratios within one run, not numbers across runs or machines.
- **Wire bytes**: each direction of a Hotline session is one stream of framed messages (4-byte
  length each) cut into records; a burst of small payloads shares records and a bulk transfer
  fills every record to the largest padding bucket (65,518 bytes of plaintext), so padding costs
  nothing there. The wire column is the average per payload over a burst of 64. TLS adds 22 bytes
  per 16 KiB record and pads nothing.
- **Where the bulk gap is**: the AEAD table times the cipher alone on one full record. The
  `standard` profile fixes ChaCha20-Poly1305; the TLS baseline negotiates AES-256-GCM, which a CPU
  with AES instructions runs several times faster, and so does the `cnsa2` profile. The last table
  splits the time per 64 KiB payload into the AEAD and everything else (framing, padding, the
  message stream, the event loop, the kernel), for each, from the figures of the same run.
"""


#: The heading of the voice section, which a voice-only run replaces in place (:func:`merge_voice`).
VOICE_HEADING = "## Voice calls"


def _voice_section(voice: voice_bench.Results) -> list[str]:
    lines = [
        VOICE_HEADING,
        "",
        f"Measured {voice.measured_at} (`python -m bench --only voice` rewrites this section alone).",
        "",
    ]
    for table in voice_tables(voice):
        lines += markdown_table(table)
    return lines


def merge_voice(document: str, voice: voice_bench.Results) -> str:
    """``document`` (a ``docs/benchmarks.md``) with its voice section replaced by ``voice``'s.

    Every other section is kept as it was. Without a voice section, ours goes in before the method.
    """
    return _merge_section(document, VOICE_HEADING, _voice_section(voice))


#: The heading of the documents section, which a documents-only run replaces in place.
DOCUMENTS_HEADING = "## Documents"


def _documents_section(documents: documents_bench.Results) -> list[str]:
    lines = [
        DOCUMENTS_HEADING,
        "",
        f"Measured {documents.measured_at} (`python -m bench --only documents` rewrites this section alone).",
        "",
    ]
    for table in document_tables(documents):
        lines += markdown_table(table)
    return lines


def merge_documents(document: str, documents: documents_bench.Results) -> str:
    """``document`` (a ``docs/benchmarks.md``) with its documents section replaced by ``documents``'s.

    Every other section is kept as it was. Without a documents section, ours goes in before the method.
    """
    return _merge_section(document, DOCUMENTS_HEADING, _documents_section(documents))


#: The heading of the large documents section, which a large-only run replaces in place (:func:`merge_large`).
LARGE_HEADING = "## Large documents"


def _large_section(large: large_bench.Results) -> list[str]:
    lines = [
        LARGE_HEADING,
        "",
        f"Measured {large.measured_at} (`python -m bench --only large` rewrites this section alone).",
        "",
        f"One document of {_gib(large.settings.size)} of random bytes, sent once between the same two "
        "daemons as above, to show that neither holds the file in memory: each daemon's memory is "
        "sampled along the whole transfer, the received bytes are checked against the source's "
        "BLAKE3 (the `standard` document hash), and the received blob's size on disk is compared to "
        "the document's. The goal is "
        f"constant memory, a peak below {large_bench.MEMORY_GOAL_MB:g} MB per daemon, for any size up to "
        f"at least {large_bench.SIZE_GOAL_GIB:g} GiB.",
        "",
    ]
    for table in large_tables(large):
        lines += markdown_table(table)
    return lines


def merge_large(document: str, large: large_bench.Results) -> str:
    """``document`` (a ``docs/benchmarks.md``) with its large documents section replaced by ``large``'s.

    Every other section is kept as it was. Without a large documents section, ours goes in before the
    method (so after the documents section).
    """
    return _merge_section(document, LARGE_HEADING, _large_section(large))


def _merge_section(document: str, heading: str, section: list[str]) -> str:
    """``document`` with the section under ``heading`` replaced by ``section`` (or added before the
    method, or the documents or large documents section that should follow it, whichever comes first)."""
    lines = document.splitlines()
    if heading in lines:
        start = lines.index(heading)
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    else:
        later = {"## How it was measured", "## How to re-run"}
        if heading == VOICE_HEADING:
            later.add(DOCUMENTS_HEADING)
        if heading in (VOICE_HEADING, DOCUMENTS_HEADING):
            later.add(LARGE_HEADING)
        ahead = [i for i, line in enumerate(lines) if line in later]
        start = end = ahead[0] if ahead else len(lines)
    return "\n".join([*lines[:start], *section, *lines[end:], ""])


def markdown(
    results: Results | None,
    stations: station_bench.Results | None = None,
    hub: hub_bench.Results | None = None,
    voice: voice_bench.Results | None = None,
    documents: documents_bench.Results | None = None,
    large: large_bench.Results | None = None,
) -> str:
    """The whole of ``docs/benchmarks.md``."""
    lines = [
        "# Benchmarks",
        "",
        "Hotline against stdlib TLS 1.3 and plain TCP, the station daemons against the floor of TCP plus",
        "fsync, voice calls and documents between two daemons, all measured in the same run on loopback.",
        "This file is written by `make bench`; edit `bench/report.py` rather than this file.",
        "",
        "## Machine and run",
        "",
        *[f"- **{key}**: {value}" for key, value in machine(results, stations)],
        "",
    ]
    if results is not None:
        lines += ["## Results", ""]
        for table in tables(results):
            lines += markdown_table(table)
    if stations is not None or hub is not None:
        lines += ["## Stations: durable messages and a hub", ""]
        for table in all_tables(None, stations, hub):
            lines += markdown_table(table)
    if voice is not None:
        lines += _voice_section(voice)
    if documents is not None:
        lines += _documents_section(documents)
    if large is not None:
        lines += _large_section(large)
    if results is not None:
        lines += ["## How it was measured", "", METHOD.format(repeats=results.settings.repeats)]
    lines += ["## How to re-run", ""]
    lines += [
        "`make bench` (a few minutes; rewrites this file); `python -m bench --quick` is a smoke run;",
        "`python -m bench --only station hub` runs only the station benchmarks (and writes no file unless",
        "`--output` is given); `python -m bench --only voice` (about three minutes) runs only the voice",
        "calls and rewrites only their section of this file; `python -m bench --only documents` (about two",
        "minutes) likewise runs only the document transfers and rewrites only their section;",
        "`python -m bench --only large` (about two minutes, 22 GB of free disk) sends one 10 GiB document",
        "(`--large-gib N` for another size) and rewrites only its section;",
        "`python -m bench --only traffic` (about fifteen minutes, as root for tcpdump) measures the line",
        "with the carrier off and on and rewrites only the traffic analysis (`--quick`: a few minutes, no",
        "file written).",
        "",
    ]
    return "\n".join(lines)
