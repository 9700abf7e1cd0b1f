"""``inbox``, ``log`` and ``files`` at 60, 80 and 160 columns, and with ``--wide``.

The answers in station_answers.json are what two real stations returned (``--json``) after a FLASH
message, its acknowledgement, a reply in two paragraphs, a line test and a document with a long name.
Each view is printed on a console of a given width, as the CLI prints in a terminal or a pipe.
"""

from __future__ import annotations

import io
import json
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from rich.text import Text

from hotline.cli import render, transcript

ANSWERS: dict[str, Any] = json.loads((Path(__file__).parent / "station_answers.json").read_text("utf-8"))
WIDTHS = (60, 80, 160)
LONG = ANSWERS["inbox_jerusalem"]["messages"][0]["text"]
NAME = ANSWERS["files_moscow"]["documents"][0]["name"]


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Times print in local time; the expected ones are UTC's."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def printed(width: int, draw: Any, *, wide: bool = False) -> list[str]:
    """What ``draw(console)`` prints on a ``width``-column console that is not a terminal."""
    out = Console(file=io.StringIO(), width=render.WIDE if wide else width, highlight=False)
    draw(out)
    assert isinstance(out.file, io.StringIO)
    return out.file.getvalue().splitlines()


def cells(line: str) -> int:
    return Text(line).cell_len


def views(width: int, wide: bool = False) -> dict[str, list[str]]:
    return {
        "log": printed(
            width,
            lambda out: transcript.log_view(out, ANSWERS["log_moscow"]["entries"], wide=wide),
            wide=wide,
        ),
        "inbox": printed(
            width,
            lambda out: transcript.messages_view(out, ANSWERS["inbox_jerusalem"]["messages"], wide=wide),
            wide=wide,
        ),
        "files": printed(
            width,
            lambda out: out.print(
                render.document_table(ANSWERS["files_moscow"]["documents"], out.width, wide=wide)
            ),
            wide=wide,
        ),
    }


@pytest.mark.parametrize("width", WIDTHS)
def test_no_line_is_wider_than_the_terminal(width: int) -> None:
    for name, lines in views(width).items():
        too_wide = [line for line in lines if cells(line) > width]
        assert not too_wide, f"{name} at {width} columns: {too_wide}"


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("view", ["log", "inbox"])
def test_a_long_message_is_wrapped_in_lines_that_use_the_width(width: int, view: str) -> None:
    lines = views(width)[view]
    first_words = LONG.split()[0]
    start = next(i for i, line in enumerate(lines) if line.strip().startswith(first_words))
    body = []
    for line in lines[start:]:
        if not line.strip():
            break
        body.append(line.strip())
    assert " ".join(body) == LONG  # every word, in order, nothing cut
    # a word per line would take ~35 lines; text fitted to the width takes what its length needs
    assert len(body) <= math.ceil(len(LONG) / (width - 4 - 12)) + 1, body
    assert all(len(line.split()) > 1 for line in body), body


@pytest.mark.parametrize("width", WIDTHS)
def test_every_document_stays_on_one_line_with_its_whole_id(width: int) -> None:
    [header, row] = views(width)["files"]
    document = ANSWERS["files_moscow"]["documents"][0]
    assert header.split()[:2] == ["id", "peer"]
    assert row.startswith(f"{document['id']}  {document['peer']}")
    assert "complete" in row
    if width < 120:
        assert NAME not in row and "…" in row  # cut, and visibly so
        assert NAME[:10] in row
    else:
        assert NAME in row


def test_wide_shows_every_text_whole() -> None:
    shown = views(80, wide=True)
    for view in ("log", "inbox"):
        assert any(line.strip() == LONG for line in shown[view]), shown[view]
    # a reply in two paragraphs keeps its line break, each paragraph whole on its line
    assert "    Second paragraph here." in shown["log"]
    assert any(line.strip().endswith("we will test it every hour.") for line in shown["log"])
    # every column, the name whole
    assert shown["files"][0].split() == ["id", "peer", "dir", "name", "size", "state", "queued"]
    assert NAME in shown["files"][1] and "…" not in shown["files"][1]
    assert shown["files"][1].rstrip().endswith("2026-12-02 17:03:49")


def test_the_log_shows_each_message_once_with_its_marks() -> None:
    lines = views(160)["log"]
    out = "\n".join(lines)
    for entry in ANSWERS["log_moscow"]["entries"]:
        message = entry.get("message") or {}
        if message.get("kind") in ("text", "doc"):
            assert out.count(message["id"]) == 1, message["id"]
        elif message:
            # acknowledgements and line tests travel as messages: they show as marks and test lines
            assert message["id"] not in out
    assert "receipt" not in out and "acknowledged [" not in out
    flash = next(line for line in lines if "doppqwfb4a4tlczf" in line)
    assert "→ FLASH to jerusalem" in flash and "✓✓ delivered 17:03:48, acknowledged 17:03:48" in flash
    reply = next(line for line in lines if "jc57xply6mx7unkf" in line)
    assert "← IMMEDIATE from jerusalem" in reply and "● unread" in reply
    assert any("· line test ok 3.9 ms: chain heads match in both stores" in line for line in lines)
    assert lines[0] == "── 2026-12-02 Wednesday ──"


def _entry(at: float, **fields: Any) -> dict[str, Any]:
    return {"at": at, **fields}


def test_alarms_stand_in_place_and_marks_of_older_messages_are_notes() -> None:
    entries = ANSWERS["log_moscow"]["entries"]
    first_at = entries[0]["at"]
    gap = _entry(first_at + 1, kind="alert", event="gap", detail="entries 3 to 5 never came")
    up = _entry(first_at + 2, kind="alert", event="line-up", detail="")
    failed = _entry(
        first_at + 3, kind="test", event="test", ok=False, detail="no answer in 10 s", rtt_ms=None
    )
    older = _entry(first_at + 4, kind="ack", id="aaaaaaaaaaaaaaaa", direction="out")
    next_day = {**entries[2], "at": first_at + 86_400}
    next_day["message"] = {**next_day["message"], "id": "bbbbbbbbbbbbbbbb", "created_at": first_at + 86_400}
    lines = printed(
        80, lambda out: transcript.log_view(out, [entries[0], gap, up, failed, older, entries[2], next_day])
    )
    out = "\n".join(lines)
    assert (
        out.index("doppqwfb4a4tlczf")
        < out.index("⚠ GAP: entries 3 to 5 never came")
        < out.index("lvl45qbtnbcthgv7")
    )
    assert "· line up" in out and "⚠ LINE TEST FAILED: no answer in 10 s" in out
    assert "they acknowledged [aaaaaaaaaaaaaaaa], an earlier message" in out
    assert "── 2026-12-03 Thursday ──" in lines
    assert lines.index("── 2026-12-03 Thursday ──") < next(
        i for i, line in enumerate(lines) if "bbbbbbbbbbbbbbbb" in line
    )


def test_a_header_too_long_for_its_marks_puts_them_on_the_next_line() -> None:
    message = ANSWERS["log_moscow"]["entries"][0]["message"]
    narrow = transcript.message_block(message, 60, full_date=False).plain.split("\n")
    assert narrow[0].endswith("[doppqwfb4a4tlczf]")
    assert narrow[1] == "    ✓✓ delivered 17:03:48, acknowledged 17:03:48"
    wide = transcript.message_block(message, 160, full_date=False).plain.split("\n")
    assert wide[0].endswith("[doppqwfb4a4tlczf]  ✓✓ delivered 17:03:48, acknowledged 17:03:48")


def test_control_characters_from_the_far_end_do_not_reach_the_terminal() -> None:
    message = {**ANSWERS["inbox_jerusalem"]["messages"][1], "text": "a\x1b[2Jb", "peer": "x\x07y"}
    plain = transcript.message_block(message, 80).plain
    assert "\x1b" not in plain and "\x07" not in plain and "\\x1b[2Jb" in plain


@pytest.mark.parametrize(
    ("count", "shown"), [(0, "0 B"), (1023, "1023 B"), (5000, "4.9 KiB"), (3 << 30, "3.0 GiB")]
)
def test_sizes_read_for_people(count: int, shown: str) -> None:
    assert render.size(count) == shown


def status_with_trouble() -> dict[str, Any]:
    """The real status, plus a second line in every kind of trouble a line cell can hold."""
    status = json.loads(json.dumps(ANSWERS["status_moscow"]))
    line = status["lines"][0]
    since = line["since"]
    status["lines"].append(
        {
            **line,
            "peer": "washington-embassy",
            "queued": 3,
            "in_flight": 2,
            "held_by_peer": True,
            "quota_paused": "rate",
            "last_test": {"at": since - 7000, "ok": False, "detail": "no answer in 10 s"},
            "alerts": [
                {
                    "at": since,
                    "peer": "washington-embassy",
                    "kind": "line-down",
                    "detail": "the session with washington-embassy ended: no answer to 3 keepalives in a row",
                }
            ],
        }
    )
    return status


@pytest.mark.parametrize("width", WIDTHS)
def test_status_keeps_one_row_per_line(width: int) -> None:
    lines = printed(width, lambda out: render.status_view(out, status_with_trouble()))
    assert all(cells(line) <= width for line in lines), lines
    header = next(i for i, line in enumerate(lines) if line.startswith("peer"))
    assert lines[header + 1].startswith("jerusalem")
    assert lines[header + 2].startswith("washington-emb") and "FAILED" in lines[header + 2]
    out = "\n".join(lines)
    assert "`hotline quota washington-embassy`" in out.replace("\n    ", " ")
    assert "`hotline log washington-embassy`" in out.replace("\n    ", " ")
    if width >= 80:
        assert "washington-embassy  up" in lines[header + 2] and "3 (+2 in flight)" in lines[header + 2]
    if width >= 160:
        assert "endpoint" in lines[header] and "session" in lines[header]


def test_status_wide_keeps_every_column() -> None:
    lines = printed(80, lambda out: render.status_view(out, status_with_trouble(), wide=True), wide=True)
    header = next(line for line in lines if line.startswith("peer"))
    assert header.split()[:4] == ["peer", "state", "since", "endpoint"] and "session" in header
    assert any("no answer to 3 keepalives in a row" in line and "ALERT line-down" in line for line in lines)


def test_a_pipe_is_80_columns_unless_columns_says(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdout", io.StringIO())  # not a terminal, whatever stdin and stderr are
    monkeypatch.delenv("COLUMNS", raising=False)
    assert render.console().width == 80
    monkeypatch.setenv("COLUMNS", "132")
    assert render.console().width == 132
    assert render.console(wide=True).width == render.WIDE


def test_a_terminal_is_asked_for_its_width(monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stdout", Terminal())
    monkeypatch.delenv("COLUMNS", raising=False)
    assert render.width_of_stdout() is None  # rich then asks the terminal


LOGGED_CALLS = [
    # logged calls as docs/control.md "logged call" words them: the longest end reason and SAS verdict
    {
        "id": "bd1889137c981334fb4b924336868c49",
        "peer": "washington-embassy",
        "direction": "out",
        "started_at": 1796231045.0,
        "duration": 754.0,
        "end_reason": "remote-hangup",
        "sas_confirmed": True,
        "path": "tcp",
    },
    {
        "id": "0c5e9d7a1f3b4c2d8e6f7a9b0c1d2e3f",
        "peer": "jerusalem",
        "direction": "in",
        "started_at": 1796231145.0,
        "duration": None,
        "end_reason": "sas-mismatch",
        "sas_confirmed": False,
        "path": "udp",
    },
]


@pytest.mark.parametrize("width", WIDTHS)
def test_the_call_log_keeps_one_row_per_call(width: int) -> None:
    lines = printed(width, lambda out: out.print(render.call_table(LOGGED_CALLS, out.width)))
    assert all(cells(line) <= width for line in lines), lines
    assert len(lines) == 3, lines
    if width >= 80:
        assert lines[1].replace("  out  ", "  ").startswith("bd188913  washington-embassy  12-02 17:04  12m")
        assert "remote-hangup" in lines[1] and "confirmed" in lines[1] and "MISMATCH" in lines[2]
    if width >= 160:
        assert lines[0].split() == ["id", "peer", "dir", "started", "duration", "ended", "SAS", "path"]
    wide = printed(
        width, lambda out: out.print(render.call_table(LOGGED_CALLS, out.width, wide=True)), wide=True
    )
    assert "2026-12-02 17:04:05" in wide[1] and wide[1].rstrip().endswith("tcp")


def carrier(running: bool = True, **extra: Any) -> dict[str, Any]:
    """A line's ``carrier`` as docs/control.md words it: the default setting, busy with a FLASH and a
    document."""
    shown: dict[str, Any] = {
        "mode": "steady",
        "cell": 1024,
        "interval_ms": 20,
        "wire_bytes_per_cell": 1095,
        "bytes_per_day": 4_730_400_000,
        "running": running,
        "cells_sent": None,
        "load": None,
        "load_over_s": None,
        "load_since_start": None,
        "waiting": None,
        "backlog_cells": None,
        "backlog_s": None,
    }
    if running:
        lanes = {lane: {"frames": 0, "bytes": 0} for lane in ("control", "voice", "messages")}
        shown.update(
            cells_sent=180_000,
            load=0.1234,
            load_over_s=60.2,
            load_since_start=0.02,
            waiting={
                **lanes,
                "flash": {"frames": 3, "bytes": 312},
                "documents": {"frames": 1, "bytes": 40_004},
            },
            backlog_cells=40,
            backlog_s=0.8,
        )
    return {**shown, **extra}


def status_with_carriers() -> dict[str, Any]:
    status = status_with_trouble()
    status["lines"][0]["carrier"] = carrier()
    status["lines"][1]["carrier"] = carrier(running=False)
    return status


@pytest.mark.parametrize("width", WIDTHS)
def test_status_shows_each_lines_carrier_within_the_width(width: int) -> None:
    lines = printed(width, lambda out: render.status_view(out, status_with_carriers()))
    assert all(cells(line) <= width for line in lines), lines
    out = "\n".join(lines)
    start = out.index("carrier jerusalem")
    block = " ".join(part.strip() for part in out[start:].split("\n")[:4])
    assert "carrier jerusalem steady 1024 B/20 ms · 4.7 GB/day" in block
    assert "12 % full over 1m · waiting: 3 flash, 39.1 KiB documents · backlog 40 cells (0.8 s)" in block
    other = " ".join(part.strip() for part in out[out.index("carrier washington-embassy") :].split("\n")[:2])
    assert "carrier washington-embassy steady 1024 B/20 ms · 4.7 GB/day · not running" in other
    if width >= 80:
        # a block: the setting on one line, how full it is and what waits indented under it
        head = lines.index(next(line for line in lines if line.startswith("carrier jerusalem")))
        assert lines[head].rstrip().endswith("4.7 GB/day")
        assert lines[head + 1].startswith("    12 % full")
    if width >= 160:
        assert lines[head + 1].rstrip().endswith("backlog 40 cells (0.8 s)")


def test_status_of_an_idle_carrier_says_nothing_waits() -> None:
    status = status_with_trouble()
    idle = carrier(load=0.0043, waiting={lane: {"frames": 0, "bytes": 0} for lane in ("control", "flash")})
    status["lines"] = [{**status["lines"][0], "carrier": idle}]
    lines = printed(80, lambda out: render.status_view(out, status))
    assert "    0.4 % full over 1m · waiting: nothing" in lines
    # a line without a carrier shows none
    status["lines"] = [{**status["lines"][0], "carrier": None}]
    assert not any("carrier" in line for line in printed(80, lambda out: render.status_view(out, status)))


def test_status_wide_keeps_each_carrier_line_whole() -> None:
    lines = printed(80, lambda out: render.status_view(out, status_with_carriers(), wide=True), wide=True)
    assert any(
        line.rstrip().endswith("waiting: 3 flash, 39.1 KiB documents · backlog 40 cells (0.8 s)")
        for line in lines
    )
