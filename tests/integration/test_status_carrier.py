"""``status`` and ``hotline status`` show a line's carrier, from two real station daemons on loopback
whose line runs as a carrier (``[lines.X] carrier = "steady"``, the default 1024 bytes every 20 ms).

What is checked is what an operator reads: the setting and what it costs a day, that the session runs
it, how full it is while idle and while a document crosses, and what waits in it; then the same in
``hotline status`` on an 80-column pipe, and on the console's line board.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hotline.console import HotlineConsole
from hotline.station.config import LineSettings
from tests.support.stations import HOTLINE, PASSPHRASE, Cluster, StationProc, pair, paired_and_up, wait_for

MiB = 1 << 20
#: The default carrier on the wire, per direction: (1024 + 19 + 52) bytes, 50 times a second.
DEFAULT_PER_DAY = 1095 * 50 * 86_400


@pytest.fixture
def carrier_line() -> Iterator[tuple[StationProc, StationProc]]:
    """alpha and bravo, paired, their line a steady carrier at both ends, up."""
    with paired_and_up(LineSettings(carrier="steady")) as stations:
        yield stations


def carrier_of(station: StationProc, peer: StationProc) -> dict[str, Any]:
    shown = station.line(peer)["carrier"]
    assert isinstance(shown, dict), shown
    return shown


def hotline_status(station: StationProc, columns: int = 80) -> str:
    """``hotline status`` as a pipe sees it (stdout not a terminal)."""
    env = {**os.environ, "HOTLINE_HOME": str(station.home), "HOTLINE_PASSPHRASE": PASSPHRASE}
    env["COLUMNS"] = str(columns)
    done = subprocess.run(
        [*HOTLINE, "status"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def test_status_shows_the_carrier_running_its_cost_and_how_full_it_is(
    carrier_line: tuple[StationProc, StationProc], tmp_path: Path
) -> None:
    a, b = carrier_line
    idle = carrier_of(a, b)
    assert idle["running"] is True
    assert (idle["mode"], idle["cell"], idle["interval_ms"]) == ("steady", 1024, 20)
    assert idle["bytes_per_day"] == DEFAULT_PER_DAY  # about 4.7 GB
    assert idle["cells_sent"] > 0
    # idle, the cells carry little: keepalives, a receipt or two
    assert 0 <= idle["load"] < 0.2, idle
    assert set(idle["waiting"]) == {"control", "flash", "voice", "messages", "documents"}

    # a second status two seconds later measures the load between the two snapshots
    time.sleep(2.5)
    again = carrier_of(a, b)
    assert again["load_over_s"] == pytest.approx(2.5, abs=1.5) and again["load"] < 0.2

    # a document fills the cells it is given: its bytes wait, and the recent load rises (768 KiB:
    # some 15 s of cells, and less than a lane holds)
    source = tmp_path / "minutes.bin"
    source.write_bytes(os.urandom(768 * 1024))
    a.request("send.file", peer=b.name, path=str(source))
    seen: list[dict[str, Any]] = []

    def busy() -> bool:
        shown = carrier_of(a, b)
        seen.append(shown)
        assert shown["running"], shown  # the session carries on throughout
        return shown["load"] > 0.5 and shown["load_over_s"] < 30

    wait_for(busy, 40, "the carrier full of the document", interval=0.5)
    waited = [s for s in seen if s["backlog_s"] > 0]
    assert waited, seen[-3:]
    # what waits is counted by lane, and the backlog is what those bytes need
    lanes = waited[-1]["waiting"]
    assert sum(lane["bytes"] for lane in lanes.values()) > 0
    assert waited[-1]["backlog_cells"] == -(-sum(lane["bytes"] for lane in lanes.values()) // 1018)
    busy_now = seen[-1]
    # the session's average lags behind the recent measure
    assert busy_now["load_since_start"] < busy_now["load"] <= 1018 / 1024
    # the other end runs the same carrier and says so
    assert carrier_of(b, a)["running"] is True

    # hotline status in a pipe: 80 columns, the carrier block under the table
    out = hotline_status(a)
    assert all(len(line) <= 80 for line in out.splitlines()), out
    assert "carrier bravo steady 1024 B/20 ms · 4.7 GB/day" in out, out
    assert " % full over " in out and "waiting: " in out, out


def test_a_line_without_a_carrier_shows_none(tmp_path: Path) -> None:
    with Cluster() as cluster:
        a, b = cluster.add("alpha"), cluster.add("bravo")
        pair(a, b)
        cluster.start_all(a, b)
        a.wait_line(b)
        assert a.line(b)["carrier"] is None
        assert "carrier" not in hotline_status(a)


@pytest.mark.asyncio
async def test_the_console_board_shows_the_carrier(carrier_line: tuple[StationProc, StationProc]) -> None:
    a, _b = carrier_line
    app = HotlineConsole(a.control, poll_every=0.3)
    async with app.run_test(size=(100, 30)) as pilot:
        deadline = time.monotonic() + 15
        while app.view.rows() == [] or app.view.rows()[0].carrier is None:
            assert time.monotonic() < deadline, "no carrier on the board"
            await pilot.pause(0.2)
        [row] = app.view.rows()
        assert row.carrier is not None and row.carrier[0].endswith("%")
        await pilot.pause(0.5)
        title = str(app.query_one("#transcript-title").render())
        assert "carrier 1024 B/20 ms · 4.7 GB/day" in title, title
