"""A line's carrier on the console: the board's cell, the sentence by the transcript's title, and the
board itself drawn by Textual at 80 columns, from hand-written ``status`` answers (docs/control.md)."""

from __future__ import annotations

from typing import Any

import pytest
from textual.app import App, ComposeResult

from hotline.console.board import LineBoard
from hotline.console.carrier import brief, summary
from hotline.console.model import StationView


def carrier(running: bool = True, **waiting: tuple[int, int]) -> dict[str, Any]:
    lanes = {
        lane: {"frames": 0, "bytes": 0} for lane in ("control", "flash", "voice", "messages", "documents")
    }
    for lane, (frames, count) in waiting.items():
        lanes[lane] = {"frames": frames, "bytes": count}
    backlog = -(-sum(count for _, count in waiting.values()) // 1018)
    return {
        "mode": "steady",
        "cell": 1024,
        "interval_ms": 20,
        "wire_bytes_per_cell": 1095,
        "bytes_per_day": 4_730_400_000,
        "running": running,
        "load": 0.1234 if running else None,
        "load_over_s": 60.0 if running else None,
        "waiting": lanes if running else None,
        "backlog_cells": backlog if running else None,
        "backlog_s": backlog * 0.02 if running else None,
    }


def test_the_board_cell_says_how_full_and_what_waits() -> None:
    assert brief(None) is None
    assert brief(carrier(running=False)) == ("down", "yellow")
    assert brief(carrier()) == ("12%", "")
    assert brief(carrier(documents=(1, 40_004))) == ("12% 0.8s", "yellow")
    assert brief(carrier(flash=(3, 312), documents=(1, 40_004))) == ("12% 3F 0.8s", "bold red")
    assert brief({**carrier(), "load": 0.004}) == ("0.4%", "")


def test_the_title_says_the_setting_cost_load_and_lanes() -> None:
    assert summary(None) is None
    assert summary(carrier(running=False)) == "carrier 1024 B/20 ms · 4.7 GB/day · not running"
    assert summary(carrier(flash=(3, 312), documents=(1, 40_004))) == (
        "carrier 1024 B/20 ms · 4.7 GB/day · 12 % full · waiting: 3 flash, 40.0 kB documents"
    )
    assert summary(carrier()).endswith("12 % full · waiting: nothing")  # type: ignore[union-attr]


def status(**carriers: dict[str, Any] | None) -> dict[str, Any]:
    lines = [
        {"peer": peer, "state": "up", "since": 1000.0, "rtt_ms": 2.0, "alerts": [], "carrier": shown}
        for peer, shown in carriers.items()
    ]
    return {"station": {"name": "alpha"}, "lines": lines}


class BoardApp(App[None]):
    def compose(self) -> ComposeResult:
        yield LineBoard(id="board")


@pytest.mark.asyncio
async def test_the_board_shows_each_lines_carrier_within_80_columns() -> None:
    view = StationView()
    view.apply_status(
        status(
            bravo=carrier(flash=(3, 312), documents=(1, 40_004)),
            charlie=None,
            delta=carrier(running=False),
        )
    )
    rows = {row.peer: row for row in view.rows()}
    assert rows["bravo"].carrier == ("12% 3F 0.8s", "bold red") and rows["charlie"].carrier is None
    app = BoardApp()
    async with app.run_test(size=(80, 12)) as pilot:
        board = app.query_one(LineBoard)
        board.show(view.rows(), 1060.0)
        await pilot.pause()
        cells = {
            str(row_key.value): str(board.get_cell(row_key, "carrier"))
            for row_key in board.rows
            if row_key.value is not None
        }
        assert cells == {"bravo": "12% 3F 0.8s", "charlie": "off", "delta": "down"}
        # every column, the carrier last, fits the 80 columns
        assert board.virtual_size.width <= 80, board.virtual_size
        assert [str(column.label) for column in board.columns.values()][-1] == "carrier"


def test_a_carrier_mismatch_is_an_alarm_naming_the_end_to_change() -> None:
    view = StationView()
    answer = status(bravo=None)
    detail = 'bravo runs carrier "off", we run "steady" 1024 B/20 ms: set [lines.alpha] carrier at bravo'
    answer["lines"][0].update(
        state="connecting", alerts=[{"at": 1050.0, "peer": "bravo", "kind": "carrier", "detail": detail}]
    )
    view.apply_status(answer)
    [alarm] = view.alarms()
    assert (alarm.peer, alarm.label, alarm.detail) == ("bravo", "CARRIER MISMATCH", detail)
