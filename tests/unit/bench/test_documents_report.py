"""The documents section's tables from results made by hand: every row has MB/s and CPU per GiB,
and Hotline is set against each scp baseline of the same run."""

from __future__ import annotations

import pytest
from bench import documents, report
from bench import scp as scp_bench

GIB = 2**30
CHACHA, AES = scp_bench.CIPHERS


def results(with_scp: bool = True) -> documents.Results:
    """A 1 GiB run: Hotline 4 s at 2 + 4 CPU s; TLS 2.5 s / 3.5; TCP 2.5 s / 3.0; scp 3 s / 4.5, 2 s / 3.0."""
    run = documents.HotlineRun(
        total=4.0, queued=0.5, total_stored=3.9, cpu=(2.0, 4.0), hwm_kib=(70_000, 68_000), hwm_reset=True
    )
    slower = documents.HotlineRun(
        total=5.0, queued=0.6, total_stored=4.9, cpu=(3.0, 5.0), hwm_kib=(71_000, 69_000), hwm_reset=True
    )
    cnsa2 = documents.HotlineRun(
        total=4.5, queued=0.5, total_stored=4.4, cpu=(3.0, 4.0), hwm_kib=(70_000, 68_000), hwm_reset=True
    )
    baselines = {documents.TLS: [2.5, 2.7], documents.TCP: [2.6, 2.5]}
    cpu = {documents.TLS: [3.5, 3.9], documents.TCP: [3.1, 3.0]}
    if with_scp:
        baselines |= {CHACHA: [3.2, 3.0], AES: [2.0, 2.4]}
        cpu |= {CHACHA: [4.9, 4.5], AES: [3.0, 3.4]}
    return documents.Results(
        documents.Settings(size=GIB),
        hotline=[slower, run],
        busy=run,
        baselines=baselines,
        baseline_cpu=cpu,
        floor={},
        tls_cipher="TLS_AES_256_GCM_SHA384",
        idle_rss_kib=(60_000, 60_000),
        idle_flashes=[0.005, 0.006],
        openssh="OpenSSH_9.2p1 Debian-2+deb12u10, OpenSSL 3.0.19 27 Jan 2026",
        cnsa2=[cnsa2, slower, run],
    )


def table(tables: list[report.Table], starts: str) -> report.Table:
    return next(t for t in tables if t.title.startswith(starts))


def test_cpu_per_gib_of_the_fastest_runs() -> None:
    r = results()
    assert r.hotline_cpu_per_gib == pytest.approx(6.0)
    assert r.baseline_cpu_per_gib(CHACHA) == pytest.approx(4.5)
    assert r.baseline_cpu_per_gib(AES) == pytest.approx(3.0)
    assert r.baseline_cpu_per_gib(documents.TCP) == pytest.approx(3.0)


def test_every_throughput_row_with_a_rate_has_cpu_per_gib() -> None:
    t = table(report.document_tables(results()), "Document transfer")
    cpu = t.columns.index("CPU s per GiB")
    rows = {row[0]: row for row in t.rows}
    standard = next(label for label in rows if label.startswith("Hotline `standard`"))
    assert rows[standard][cpu] == "6.00"
    assert rows["Hotline `cnsa2` documents (SHA-384, AES-256-GCM at rest): the same"][cpu] == "7.00"
    assert rows["scp (SFTP mode), chacha20-poly1305"][cpu] == "4.50"
    assert rows["scp (SFTP mode), aes256-gcm"][cpu] == "3.00"
    assert rows["scp (SFTP mode), aes256-gcm"][2] == f"{GIB / 2.0 / 1e6:,.1f}"
    assert rows["TLS 1.3 over asyncio (TLS_AES_256_GCM_SHA384)"][cpu] == "3.50"
    assert rows["TCP over asyncio"][cpu] == "3.00"
    assert all(len(row) == len(t.columns) for row in t.rows)


def test_hotline_against_each_scp_row() -> None:
    t = table(report.document_tables(results()), "Hotline's documents against OpenSSH scp")
    assert [row[0] for row in t.rows] == ["scp, chacha20-poly1305", "scp, aes256-gcm"]
    chacha, aes = t.rows
    # Hotline 4 s against 3 s and 2 s; 6 CPU s per GiB against 4.5 and 3
    assert chacha[-2:] == ["0.75x", "1.33x"]
    assert aes[-2:] == ["0.50x", "2.00x"]
    assert "OpenSSH_9.2p1" in t.note
    assert "neither fsyncs the copy nor hashes it" in t.note


def test_no_scp_table_without_scp_runs() -> None:
    tables = report.document_tables(results(with_scp=False))
    assert not [t for t in tables if "scp" in t.title]
    rows = [row[0] for row in table(tables, "Document transfer").rows]
    assert not [label for label in rows if "scp" in label]


def test_the_cpu_table_lists_scp() -> None:
    t = table(report.document_tables(results()), "Where the CPU goes")
    rows = dict((row[0], row[1]) for row in t.rows)
    assert rows["Hotline `standard`, both daemons"] == "6.00"
    assert rows["Hotline `cnsa2`, both daemons"] == "7.00"
    assert rows["scp (SFTP mode), chacha20-poly1305, every process"] == "4.50"
    assert rows["scp (SFTP mode), aes256-gcm, every process"] == "3.00"


def test_the_goals_set_each_profile_against_its_scp() -> None:
    """``standard`` (4 s) against scp chacha20-poly1305 (3 s), ``cnsa2`` (median 4.5 s) against scp
    aes256-gcm (2 s), as ratios of the same run."""
    t = table(report.document_tables(results()), "Document goals")
    rows = {row[0]: row for row in t.rows}
    standard = rows["Hotline `standard` documents over scp with chacha20-poly1305"]
    cnsa2 = rows["Hotline `cnsa2` documents over scp with aes256-gcm"]
    assert standard[1].startswith("0.75x") and standard[3] == "not met"
    assert cnsa2[1].startswith("0.44x") and cnsa2[3] == "not met"


def test_the_floor_table_prices_each_profiles_passes() -> None:
    r = results()
    r = documents.Results(**{**r.__dict__, "floor": {"BLAKE3": 0.25, "ChaCha20-Poly1305": 0.5,
                                                     "SHA-384": 2.5, "AES-256-GCM": 0.25}})  # fmt: skip
    t = table(report.document_tables(r), "The floor")
    rows = {row[0]: row for row in t.rows}
    assert rows["Hotline `standard`"][2:] == ["2.00", "6.00", "4.00"]
    assert rows["Hotline `cnsa2`"][2:] == ["5.75", "7.00", "1.25"]
    assert rows["scp, chacha20-poly1305"][2] == "1.00" and rows["scp, aes256-gcm"][2] == "0.50"
