"""The protocol benchmarks run Hotline on a line of each profile, and the report holds the goals of
both profiles against TLS 1.3. Runs are a handful of handshakes and payloads: nothing here is timed."""

from __future__ import annotations

import pytest
from bench import bulk, handshake, report, runner
from bench.line import HOTLINE_CNSA2, PROFILES, make_line
from bench.stats import HOTLINE, TCP, TLS, Latencies, Transfer
from bench.tls import make_contexts

from hotline.proto.events import DataReceived
from hotline.proto.states import SessionState
from hotline.proto.suites import CNSA2, STANDARD, Suite

LABELS = [TCP, TLS, HOTLINE, HOTLINE_CNSA2]


def test_both_profiles_are_measured_standard_first() -> None:
    assert PROFILES == {HOTLINE: STANDARD, HOTLINE_CNSA2: CNSA2}


@pytest.mark.parametrize("suite", [STANDARD, CNSA2], ids=lambda s: s.profile)
def test_an_in_memory_line_runs_its_profile_at_both_ends(suite: Suite) -> None:
    line = make_line(suite)
    assert line.suite is suite
    client, server = handshake.establish_in_memory(line)
    assert client.state is server.state is SessionState.ESTABLISHED
    assert client.suite == server.suite == suite
    assert client.protocol_name == server.protocol_name == suite.protocol_name
    client.send_data(b"payload", 0.0)
    server.receive_data(client.data_to_send(), 0.0)
    events = []
    while (event := server.next_event()) is not None:
        events.append(event)
    assert [e.data for e in events if isinstance(e, DataReceived)] == [b"payload"]


def test_the_cases_cover_tcp_tls_and_each_profile() -> None:
    tls = make_contexts()
    assert list(handshake.loopback_cases(tls)) == LABELS
    assert list(handshake.in_memory_cases(tls)) == [TLS, HOTLINE, HOTLINE_CNSA2]
    assert list(bulk.cases(tls)) == LABELS


def test_in_memory_handshakes_of_each_profile_complete() -> None:
    for label, case in handshake.in_memory_cases(make_contexts()).items():
        assert len(case(2, 1).seconds) == 2, label


async def test_loopback_handshakes_and_bulk_of_each_profile_complete() -> None:
    tls = make_contexts()
    for label, loopback in handshake.loopback_cases(tls).items():
        assert len((await loopback(2, 0)).seconds) == 2, label
    for label, transfer in bulk.cases(tls).items():
        assert await transfer(1024, 8) > 0, label


@pytest.mark.parametrize("suite", [STANDARD, CNSA2], ids=lambda s: s.profile)
def test_wire_bytes_of_a_full_record_add_framing_and_a_tag(suite: Suite) -> None:
    # both record AEADs have a 16-byte tag and the same framing: a 64 KiB payload costs the same
    wire = bulk.hotline_wire_bytes(64 * 1024, burst=4, suite=suite)
    assert 64 * 1024 < wire < 64 * 1024 + 128
    assert wire == bulk.hotline_wire_bytes(64 * 1024, burst=4)


def _latencies(per_second: float) -> Latencies:
    return Latencies((1 / per_second,) * 20)


def _results(cnsa2_bulk_mb: float, standard_handshakes: float) -> runner.Results:
    """A run by hand: TLS 1,000 handshakes/s (loopback) and 800 MB/s at 64 KiB."""
    settings = runner.Settings(handshakes=20, warmup=0, repeats=1)
    results = runner.Results(settings, "TLSv1.3 TLS_AES_256_GCM_SHA384", "_UnixSelectorEventLoop")
    results.loopback = {
        TCP: _latencies(10_000),
        TLS: _latencies(1_000),
        HOTLINE: _latencies(standard_handshakes),
        HOTLINE_CNSA2: _latencies(1_200),
    }
    results.in_memory = {TLS: _latencies(2_000), HOTLINE: _latencies(3_000), HOTLINE_CNSA2: _latencies(2_400)}
    payload = 64 * 1024

    def transfer(mb: float) -> Transfer:
        count = 1000
        return Transfer(payload, count, payload * count / (mb * 1e6))

    results.bulk = [
        runner.BulkRow(
            payload,
            {HOTLINE: 65_601, HOTLINE_CNSA2: 65_601},
            65_624,
            {
                TCP: transfer(2_400),
                TLS: transfer(800),
                HOTLINE: transfer(600),
                HOTLINE_CNSA2: transfer(cnsa2_bulk_mb),
            },
        )
    ]
    results.aead_us = {"ChaCha20-Poly1305": 37.0, "AES-256-GCM": 10.0}
    return results


def _table(tables: list[report.Table], starts: str) -> report.Table:
    return next(t for t in tables if t.title.startswith(starts))


def _goals(results: runner.Results) -> dict[str, list[str]]:
    return {row[0]: row[1:] for row in _table(report.tables(results), "Protocol goals").rows}


def test_the_goals_pass_when_standard_handshakes_and_cnsa2_bulk_reach_them() -> None:
    goals = _goals(_results(cnsa2_bulk_mb=840, standard_handshakes=1_500))
    loopback = goals["`standard` handshakes/s on loopback over TLS 1.3 mutual certificates"]
    assert loopback == ["1.50x (1,500 vs 1,000)", ">= 1.4x", "pass"]
    assert goals["`standard` handshakes/s in memory over TLS 1.3 mutual certificates"][2] == "pass"
    assert goals["`cnsa2` 64 KiB bulk MB/s over TLS 1.3"] == ["1.05x (840.0 vs 800.0)", ">= 1x", "pass"]
    # cnsa2's handshake is reported, with no goal; standard's bulk likewise
    assert goals["`cnsa2` handshakes/s on loopback over TLS 1.3 mutual certificates"] == [
        "1.20x (1,200 vs 1,000)",
        "(reported)",
        "-",
    ]
    assert goals["`cnsa2` handshakes/s in memory over TLS 1.3 mutual certificates"][0].startswith("1.20x")
    assert goals["`standard` 64 KiB bulk MB/s over TLS 1.3"][1:] == ["(reported)", "-"]


def test_the_goals_fail_below_their_ratios() -> None:
    goals = _goals(_results(cnsa2_bulk_mb=760, standard_handshakes=1_300))
    assert goals["`standard` handshakes/s on loopback over TLS 1.3 mutual certificates"][2] == "FAIL"
    assert goals["`cnsa2` 64 KiB bulk MB/s over TLS 1.3"][0].startswith("0.95x")
    assert goals["`cnsa2` 64 KiB bulk MB/s over TLS 1.3"][2] == "FAIL"


def test_every_protocol_table_has_a_cnsa2_row_or_column() -> None:
    tables = report.tables(_results(cnsa2_bulk_mb=840, standard_handshakes=1_500))
    for starts in ("Handshakes on loopback", "Handshake CPU cost"):
        labels = [row[0] for row in _table(tables, starts).rows]
        assert any("`cnsa2`" in label for label in labels) and any("`standard`" in label for label in labels)
    ratios = _table(tables, "Handshake ratios")
    assert ratios.columns == ["", "standard / TLS 1.3", "cnsa2 / TLS 1.3"]
    assert ratios.rows == [["On loopback", "1.50x", "1.20x"], ["In memory", "1.50x", "1.20x"]]
    mb = _table(tables, "Bulk throughput")
    row = dict(zip(mb.columns, mb.rows[0], strict=True))
    assert (
        row["Hotline cnsa2"] == "840.0" and row["cnsa2 / TLS"] == "1.05x" and row["standard / TLS"] == "0.75x"
    )
    wire = _table(tables, "Bulk payloads per second")
    assert dict(zip(wire.columns, wire.rows[0], strict=True))["cnsa2 wire B"] == "65,601"


def test_the_gap_table_charges_each_profile_its_own_cipher() -> None:
    gap = _table(report.tables(_results(cnsa2_bulk_mb=800, standard_handshakes=1_500)), "Where the bulk gap")
    rows = {row[0]: dict(zip(gap.columns, row, strict=True)) for row in gap.rows}
    aead = rows["AEAD alone (seal + open)"]
    # cnsa2 seals with AES-256-GCM like the TLS baseline: no AEAD difference left
    assert aead["Hotline cnsa2"] == aead["TLS 1.3"] and aead["cnsa2 - TLS"] in ("+0.0", "-0.0")
    assert float(aead["standard - TLS"]) == pytest.approx(27.0, abs=0.1)
    assert rows["whole transfer"]["cnsa2 - TLS"] in ("+0.0", "-0.0")


def test_the_markdown_report_leads_with_the_protocol_goals() -> None:
    text = report.markdown(_results(cnsa2_bulk_mb=840, standard_handshakes=1_500))
    assert text.index("### Protocol goals") < text.index("### Handshakes on loopback")
    assert "`cnsa2` line" in text
