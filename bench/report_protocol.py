"""The protocol benchmarks' tables (:mod:`bench.handshake`, :mod:`bench.bulk`, :mod:`bench.aead`):
handshakes and bulk transfers of Hotline against TLS 1.3 and TCP, per line profile, with the goals
of issue 16 and where the bulk gap is; and how they were measured (:data:`METHOD`).

Ratios are always Hotline over a baseline, of a rate (handshakes/s, MB/s): above 1 means Hotline
is faster.
"""

from __future__ import annotations

from collections.abc import Mapping

from bench.line import HOTLINE_CNSA2, PROFILES
from bench.report_table import Table, times, verdict
from bench.runner import Results
from bench.stats import HOTLINE, TCP, TLS, Latencies, Transfer


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
        handshakes = {label: run.per_second for label, run in cases.items()}
        what = f"handshakes/s {where} over TLS 1.3 mutual certificates"
        rows += _goal_rows(handshakes, what, ",.0f", (HOTLINE, HANDSHAKE_GOAL))
    t = _bulk_64k(results)
    if t is not None:
        bulk = {label: transfer.mb_per_s for label, transfer in t.items()}
        rows += _goal_rows(bulk, "64 KiB bulk MB/s over TLS 1.3", ",.1f", (HOTLINE_CNSA2, CNSA2_BULK_GOAL))
    if not rows:
        return []
    return [Table("Protocol goals (one run, Hotline / TLS 1.3)", ["", "measured", "goal", "result"], rows)]


def _goal_rows(rates: dict[str, float], what: str, shown: str, goal: tuple[str, float]) -> list[list[str]]:
    """A row per profile measured in ``rates``: its rate over TLS 1.3's (each shown as ``shown``
    formats it), against the goal for the one profile ``goal`` names (the others: reported)."""
    rows = []
    for label in _profiles(rates):
        ours, tls = rates[label], rates[TLS]
        ratio = ours / tls
        held = goal[1] if label == goal[0] else None
        rows.append(
            [
                f"`{_PROFILE_NAMES[label]}` {what}",
                f"{ratio:.2f}x ({ours:{shown}} vs {tls:{shown}})",
                "(reported)" if held is None else f">= {held:g}x",
                "-" if held is None else verdict(ratio >= held),
            ]
        )
    return rows


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
                    *(times(loopback[label].per_second, loopback[TLS].per_second) for label in ours),
                ],
                [
                    "In memory",
                    *(times(in_memory[label].per_second, in_memory[TLS].per_second) for label in ours),
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
                *(times(t[label].mb_per_s, t[TLS].mb_per_s) for label in profiles),
                *(times(t[label].mb_per_s, t[TCP].mb_per_s) for label in profiles),
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


__all__ = ["CNSA2_BULK_GOAL", "HANDSHAKE_GOAL", "METHOD", "protocol_goal_table", "tables"]
