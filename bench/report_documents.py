"""The document benchmarks' tables: the transfers of :mod:`bench.documents` (goals, throughput
against TCP, TLS and scp, memory and CPU of the daemons, the cryptographic floor, FLASH latency) and
the one large document of :mod:`bench.large_document` (memory along the transfer, the blob on disk).
"""

from __future__ import annotations

import os
from collections.abc import Callable

from bench import documents as documents_bench
from bench import large_document as large_bench
from bench import scp as scp_bench
from bench.report_table import Table
from bench.report_table import met as _met
from bench.report_table import times as _ratio


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


def gib(size: int) -> str:
    """``size`` bytes in GiB, or in MiB below one GiB."""
    return f"{size / 2**30:g} GiB" if size >= 2**30 else f"{size / 2**20:g} MiB"


def _over(part: int, whole: int) -> str:
    return f"{100 * (part - whole) / whole:+.3f} %"


def large_tables(r: large_bench.Results) -> list[Table]:
    """The large document: goals, time, each daemon's RSS along the transfer, the blob on disk."""
    size = gib(r.settings.size)
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


__all__ = ["document_tables", "floor_rows", "gib", "large_tables"]
