"""Carrier lines between real station daemons (docs/protocol.md §14): what crosses, what a mismatch
says, and what an observer on the wire sees.

Each test runs two ``hotline up`` processes (tests/support/stations.py) whose ``[lines.X]`` tables
turn the carrier on. The wire test captures the loopback traffic between them with tcpdump (as the
traffic benchmark does: it needs root or CAP_NET_RAW, and is skipped without) while the line idles
and while it carries a burst of messages and a document, and checks the same shape in both: whole
cells only, at the schedule's count. Counts are checked against the capture's own timestamps with a
slack that grows with every stall the capture shows (a loaded machine sends its late cells in a
burst), so no assertion depends on how fast the machine is.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bench.traffic_capture import Capture, Packet, TrafficError

from hotline.crypto.hashing import digest as hash_of
from hotline.proto.constants import AEAD_TAG_LEN, RECORD_HEADER_LEN
from hotline.station.config import LineSettings
from tests.support.stations import Cluster, StationProc, free_port, pair, wait_for

STEADY = LineSettings(carrier="steady")
#: Bytes on the wire of one default cell: its record header, the 1024-byte plaintext and the tag.
CELL_RECORD = RECORD_HEADER_LEN + 1024 + AEAD_TAG_LEN
INTERVAL = 0.020


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    with Cluster() as c:
        yield c


def carrier_pair(
    cluster: Cluster, at_alpha: LineSettings, at_bravo: LineSettings, **settings: Any
) -> tuple[StationProc, StationProc]:
    """alpha and bravo paired, each with its own ``[lines.X]`` table, daemons started."""
    a, b = cluster.add("alpha", **settings), cluster.add("bravo", **settings)
    pair(a, b)
    a.configure(lines={"bravo": at_alpha})
    b.configure(lines={"alpha": at_bravo})
    cluster.start_all(a, b)
    return a, b


def alerts(station: StationProc, peer: StationProc, kind: str) -> list[dict[str, Any]]:
    return [x for x in station.line(peer)["alerts"] if x["kind"] == kind]


def logged_alerts(station: StationProc, peer: StationProc, kind: str) -> list[dict[str, Any]]:
    return [e for e in station.log(peer) if e["kind"] == "alert" and e["event"] == kind]


def random_file(path: Path, size: int) -> str:
    data = os.urandom(size)
    path.write_bytes(data)
    return hash_of("BLAKE3", data).hex()


def texts(station: StationProc, peer: StationProc) -> set[str]:
    return {m["text"] for m in station.inbox(peer)}


def document_state(station: StationProc, message_id: str) -> dict[str, Any] | None:
    found = [d for d in station.request("files")["documents"] if d["id"] == message_id]
    return found[0] if found else None


def test_messages_flash_a_line_test_and_a_document_cross_a_carrier_line(
    cluster: Cluster, tmp_path: Path
) -> None:
    a, b = carrier_pair(cluster, STEADY, STEADY)
    a.wait_line(b)
    b.wait_line(a)
    source = tmp_path / "brief.pdf"
    sha = random_file(source, 200_000)
    sent_doc = a.request("send.file", peer=b.name, path=str(source), precedence="routine")
    expected_at_b, expected_at_a = set(), set()
    for precedence in ("routine", "priority", "immediate", "flash"):
        for n in range(3):
            a.send(b, f"{precedence} {n} from alpha", precedence)
            b.send(a, f"{precedence} {n} from bravo", precedence)
            expected_at_b.add(f"{precedence} {n} from alpha")
            expected_at_a.add(f"{precedence} {n} from bravo")
    # a FLASH while the document's bytes fill the cells
    flash = a.send(b, "FLASH while the document crosses", "flash")
    expected_at_b.add(flash["text"])
    tested = a.request("test", peer=b.name, timeout=30)
    assert tested["ok"], tested
    wait_for(lambda: expected_at_b <= texts(b, a), 60, "every message at bravo")
    wait_for(lambda: expected_at_a <= texts(a, b), 60, "every message at alpha")

    def doc_complete() -> dict[str, Any] | None:
        doc = document_state(b, sent_doc["id"])
        return doc if doc is not None and doc["state"] == "complete" else None

    got = wait_for(doc_complete, 60, "the document complete at bravo")
    assert got["digest"] == sha
    wait_for(
        lambda: (document_state(a, sent_doc["id"]) or {}).get("state") == "complete", 30, "complete at alpha"
    )
    # the FLASH did not wait for the document: it was stored before the document completed
    flash_in = next(m for m in b.inbox(a) if m["text"] == flash["text"])
    assert flash_in["stored_at"] <= got["completed_at"], (flash_in, got)
    # one session the whole time, and no alert of any kind
    for station, peer in ((a, b), (b, a)):
        line = station.line(peer)
        assert line["state"] == "up" and line["alerts"] == [], line
        assert not logged_alerts(station, peer, "line-down")


MISMATCHES = {
    "steady-against-off": (
        STEADY,
        LineSettings(),
        ('bravo evidently does not (carrier = "off")', 'Change bravo: set carrier = "steady"'),
        (
            "alpha runs it as a carrier and this station does not",
            'Change this station: set carrier = "steady"',
        ),
    ),
    "cell-1024-against-2048": (
        STEADY,
        LineSettings(carrier="steady", carrier_cell=2048),
        ("this station's carrier cells are 1024 bytes", "set carrier_cell = 2048 under [lines.bravo]"),
        (
            "this station's carrier cells are 2048 bytes",
            "set carrier_cell = 2048 under [lines.bravo] in alpha's",
        ),
    ),
    "interval-20-against-50": (
        STEADY,
        LineSettings(carrier="steady", carrier_interval_ms=50),
        (
            "bravo's cells come about every 50 ms",
            "set carrier_interval_ms = 20 under [lines.alpha] in bravo's",
        ),
        ("alpha's cells come about every 20 ms", "set carrier_interval_ms = 20 under [lines.alpha] in this"),
    ),
}


@pytest.mark.parametrize("case", list(MISMATCHES))
def test_a_carrier_mismatch_raises_one_alert_at_both_ends(cluster: Cluster, case: str) -> None:
    at_alpha, at_bravo, alpha_says, bravo_says = MISMATCHES[case]
    a, b = carrier_pair(cluster, at_alpha, at_bravo)
    for station, peer, says in ((a, b, alpha_says), (b, a, bravo_says)):
        station.wait_until(
            lambda _, s=station, p=peer: alerts(s, p, "carrier"), 30, f"the carrier alert at {station.name}"
        )
        (alert,) = alerts(station, peer, "carrier")
        for words in says:
            assert words in alert["detail"], (station.name, alert["detail"])
    if case.startswith("interval"):
        # the line works, at two rates: messages cross
        a.send(b, "across two rates", "flash")
        wait_for(lambda: "across two rates" in texts(b, a), 20, "a message across two rates")
    else:
        # no session comes up; the dialers go on with their backoff, and redials say nothing new
        time.sleep(3)
        for station, peer in ((a, b), (b, a)):
            assert station.line(peer)["state"] != "up"
    for station, peer in ((a, b), (b, a)):
        assert len(logged_alerts(station, peer, "carrier")) == 1, logged_alerts(station, peer, "carrier")


def test_the_alert_clears_once_the_ends_agree(cluster: Cluster) -> None:
    a, b = carrier_pair(cluster, STEADY, LineSettings())
    b.wait_until(lambda _: alerts(b, a, "carrier"), 30, "the carrier alert at bravo")
    # bravo's operator does what the alert says, and reloads
    b.configure(lines={"alpha": STEADY})
    b.request("quota.reload")
    a.wait_line(b, timeout=30)
    b.wait_line(a, timeout=30)
    for station, peer in ((a, b), (b, a)):
        station.wait_until(lambda _, s=station, p=peer: not alerts(s, p, "carrier"), 10, "the alert gone")


class _Gate:
    """Two forwarding proxies, one in front of each station, that hold their first connections until
    both have one: the two stations' first dials then meet as a tie (both dial at once)."""

    def __init__(self, routes: dict[int, int]) -> None:
        self.routes = routes  # the proxy's port -> the station's port
        self.held: list[asyncio.Event] = []
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        threading.Thread(target=self._run, args=(ready,), daemon=True).start()
        ready.wait(10)

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        for port, target in self.routes.items():
            serve = asyncio.start_server(lambda r, w, t=target: self._forward(r, w, t), "127.0.0.1", port)
            self.loop.run_until_complete(serve)
        ready.set()
        self.loop.run_forever()

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, target: int) -> None:
        if len(self.held) < 2:
            met = asyncio.Event()
            self.held.append(met)
            if len(self.held) == 2:
                for event in self.held:
                    event.set()
            await met.wait()
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", target)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)


def test_both_ends_dialling_at_once_keep_one_carrier_session(cluster: Cluster) -> None:
    a, b = cluster.add("alpha", heartbeat=10.0), cluster.add("bravo", heartbeat=10.0)
    via_a, via_b = free_port(), free_port()
    pair(a, b, a_endpoints=[f"127.0.0.1:{via_b}"], b_endpoints=[f"127.0.0.1:{via_a}"])
    a.configure(lines={"bravo": STEADY})
    b.configure(lines={"alpha": STEADY})
    gate = _Gate({via_a: a.port, via_b: b.port})
    try:
        cluster.start_all(a, b)
        a.wait_line(b, timeout=30)
        b.wait_line(a, timeout=30)
        assert len(gate.held) == 2, "the two first dials did not meet at the gate"
        time.sleep(4)  # past the tie window (3 s), when a late loser would have shown
        for station, peer in ((a, b), (b, a)):
            line = station.line(peer)
            assert line["state"] == "up" and line["alerts"] == [], line
            assert not logged_alerts(station, peer, "line-down")
        a.send(b, "after the tie", "flash")
        wait_for(lambda: "after the tie" in texts(b, a), 20, "a message after the tie")
    finally:
        gate.close()


# -- what reaches the wire -----------------------------------------------------------------------


def capture(a: StationProc, b: StationProc, path: Path, seconds: float, during: Any = None) -> list[Packet]:
    """Every packet between ``a`` and ``b`` for ``seconds`` (``during()`` runs as it starts)."""
    cap = Capture(path, (a.port, b.port))
    try:
        cap.start()
    except TrafficError as exc:
        pytest.skip(str(exc))
    try:
        if during is not None:
            during()
        time.sleep(seconds)
    finally:
        cap.stop()
    assert not cap.dropped, f"the kernel dropped {cap.dropped} packets before tcpdump read them"
    return cap.packets()


def test_the_wire_shape_does_not_depend_on_the_workload(cluster: Cluster, tmp_path: Path) -> None:
    a, b = carrier_pair(cluster, STEADY, STEADY)
    a.wait_line(b)
    b.wait_line(a)
    source = tmp_path / "busy.bin"
    random_file(source, 150_000)

    sent: dict[str, Any] = {}

    def workload() -> None:
        sent.update(a.request("send.file", peer=b.name, path=str(source)))
        for n in range(40):
            a.send(b, f"burst {n} " + "x" * 400, "routine")
        b.send(a, "FLASH back", "flash")

    lead, seconds = 1.0, 3.0
    idle = capture(a, b, tmp_path / "idle.pcap", lead + seconds)
    busy = capture(a, b, tmp_path / "busy.pcap", lead + seconds, during=workload)
    # the busy window really carried the workload: all of it crosses (the document's last bytes
    # may come after the window: it takes only what the messages leave of each cell)
    wait_for(lambda: "FLASH back" in texts(a, b), 30, "the FLASH back")
    wait_for(lambda: {f"burst {n} " + "x" * 400 for n in range(40)} <= texts(b, a), 30, "the burst")
    wait_for(lambda: (document_state(b, sent["id"]) or {}).get("state") == "complete", 30, "the document")
    rates = {}
    for name, packets in (("idle", idle), ("busy", busy)):
        for sender in (a, b):
            sent_by = [p for p in packets if _sent_by(p, sender, a, b)]
            cells, span, stalls, payloads = _shape(sent_by, packets[0].time + lead, packets[-1].time)
            # every segment is whole cells, but a segment as long as the path allows, which cuts a
            # burst of late cells where it must; the stream stays aligned at each burst's end
            aligned = 0
            for size in payloads:
                aligned = (aligned + size) % CELL_RECORD
                assert size % CELL_RECORD == 0 or size >= 32 * CELL_RECORD, (name, sender.name, size)
            assert aligned == 0 or payloads[-1] >= 32 * CELL_RECORD, (name, sender.name)
            expected = span / INTERVAL
            slack = 5 + 0.1 * expected + stalls / INTERVAL
            assert abs(cells - expected) <= slack, (name, sender.name, cells, expected, stalls)
            rates[name, sender.name] = (cells, expected)
    print("cells per window (counted, scheduled):", rates)


def _sent_by(packet: Packet, sender: StationProc, a: StationProc, b: StationProc) -> bool:
    """Whether ``packet`` went from ``sender`` to the other station: a station sends from its
    listening port (on a session it accepted) or to the other's (on one it dialled)."""
    other = b if sender is a else a
    return packet.src_port == sender.port or (packet.dst_port == other.port and packet.src_port != other.port)


def _shape(sent: list[Packet], start: float, end: float) -> tuple[int, float, float, list[int]]:
    """Of the data segments in ``sent``: the cells of those from ``start`` on, the seconds from
    ``start`` to ``end``, the seconds of stalls over the whole capture (gaps past two intervals),
    and the payload sizes from ``start`` on."""
    data = [p for p in sent if p.payload]
    assert data, "no data in the capture"
    stalls = sum(max(0.0, q.time - p.time - 2 * INTERVAL) for p, q in itertools.pairwise(data))
    window = [p for p in data if p.time >= start]
    return sum(p.payload for p in window) // CELL_RECORD, end - start, stalls, [p.payload for p in window]
