"""The ``hotline`` command against a scripted daemon: answers a real station rarely gives on demand.

The fake control socket (tests/unit/client/fake_daemon.py) runs in a background thread because each
command runs its own ``asyncio.run``. It scripts failed tests, timeouts, alerts and a daemon that hangs
up; ``test_cli_station.py`` covers the ordinary paths against real daemons.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from hotline.cli import options, reach
from hotline.cli.main import cli
from tests.unit.client.fake_daemon import Conn, FakeDaemon, answer, in_thread, stream

NOW = 1_700_000_000.0
LINE_STATUS = {
    "peer": "jerusalem",
    "fingerprint": "XXCX 75I5",
    "endpoints": ["127.0.0.1:47002"],
    "verified": True,
    "has_key": True,
    "key_created_at": NOW,
    "state": "down",
    "added_at": NOW,
    "since": NOW - 300,
    "endpoint": None,
    "rtt_ms": None,
    "session_age": None,
    "queued": 3,
    "in_flight": 1,
    "last_test": {"at": NOW - 60, "ok": False, "detail": "no answer in 10 s"},
    "alerts": [{"at": NOW - 300, "peer": "jerusalem", "kind": "line-down", "detail": "connection reset"}],
}
STATUS = {
    "station": {
        "name": "moscow",
        "fingerprint": "VRTJ NLBB",
        "listen": "127.0.0.1:47001",
        "endpoints": ["127.0.0.1:47001"],
        "running": True,
        "pid": 4242,
        "started_at": NOW - 3600,
    },
    "lines": [
        LINE_STATUS,
        {
            **LINE_STATUS,
            "peer": "ottawa",
            "state": "up",
            "endpoint": "192.0.2.9:4433",
            "rtt_ms": 41.26,
            "session_age": 125,
            "queued": 0,
            "in_flight": 0,
            "last_test": {"at": NOW - 30, "ok": True, "detail": "chain heads match"},
            "alerts": [],
        },
    ],
}
MESSAGE = {
    "id": "abcdefghijklmnop",
    "peer": "jerusalem",
    "direction": "out",
    "precedence": "routine",
    "text": "hi",
    "created_at": NOW,
    "state": "queued",
    "delivered_at": None,
    "acked_at": None,
    "inbox": 3,
}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "st"
    path.mkdir()
    return path


@pytest.fixture
def daemon(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDaemon]:
    # A daemon needs no passphrase, and nothing should fall back to running offline while it answers.
    def refuse(*args: Any) -> Any:
        raise AssertionError("the daemon answers; nothing should run offline")

    monkeypatch.setattr(reach, "run_offline", refuse)
    monkeypatch.setattr(options, "_has_terminal", lambda: False)
    with in_thread(FakeDaemon(home / "control.sock")) as fake:
        yield fake


def run(home: Path, *args: str) -> Result:
    env: dict[str, str | None] = {"HOTLINE_HOME": None, "HOTLINE_PASSPHRASE": None, "COLUMNS": "140"}
    return CliRunner().invoke(cli, ["--home", str(home), *args], env=env, catch_exceptions=False)


def test_status_shows_lines_states_tests_and_alerts(home: Path, daemon: FakeDaemon) -> None:
    daemon.handlers["status"] = answer(STATUS)
    result = run(home, "status")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "moscow" in out and "running (pid 4242" in out
    jerusalem = next(line for line in out.splitlines() if line.startswith("jerusalem"))
    ottawa = next(line for line in out.splitlines() if line.startswith("ottawa"))
    assert "down" in jerusalem.split() and "FAILED" in jerusalem and "3 (+1 in flight)" in jerusalem
    assert "up" in ottawa.split() and "41.3" in ottawa and "192.0.2.9:4433" in ottawa and "2m" in ottawa
    alerts = out[out.index("alerts") :]
    assert "line-down" in alerts and "connection reset" in alerts
    assert daemon.requests == [("status", {})]


def test_json_spellings_print_the_same_object(home: Path, daemon: FakeDaemon) -> None:
    daemon.handlers["status"] = answer(STATUS)
    before = run(home, "--json", "status")
    after = run(home, "status", "--json")
    assert before.stdout == after.stdout
    assert json.loads(before.stdout) == STATUS


def test_send_wait_prints_the_id_then_the_delivery(home: Path, daemon: FakeDaemon) -> None:
    delivered = {**MESSAGE, "state": "delivered", "delivered_at": NOW + 2}
    daemon.handlers["send"] = stream({"message": MESSAGE}, result=delivered)
    result = run(home, "send", "--wait", "--timeout", "7", "jerusalem", "hi")
    assert result.exit_code == 0, result.output
    first, second = result.stdout.splitlines()
    assert first.startswith("abcdefghijklmnop")
    assert second.startswith("delivered at ")
    # one request: the station listens for the receipt before it queues the message
    assert len(daemon.requests) == 1
    op, args = daemon.requests[0]
    assert op == "send" and args["wait"] == 7.0 and args["peer"] == "jerusalem"


def test_send_wait_timeout_says_the_message_stays_queued(home: Path, daemon: FakeDaemon) -> None:
    async def times_out(args: dict[str, Any], conn: Conn) -> None:
        await conn.event({"message": MESSAGE})
        await conn.error("timeout", "no receipt")

    daemon.handlers["send"] = times_out
    result = run(home, "send", "--wait", "--timeout", "1", "jerusalem", "hi")
    assert result.exit_code == 1
    assert result.stderr == (
        "hotline: message abcdefghijklmnop was not delivered within 1 s; "
        "it stays queued and goes out when the line is up\n"
    )


def test_a_failed_line_test_exits_1(home: Path, daemon: FakeDaemon) -> None:
    failed = {"peer": "jerusalem", "ok": False, "rtt_ms": None, "detail": "no answer in 3 s"}
    daemon.handlers["test"] = answer(failed)
    human = run(home, "test", "jerusalem", "--timeout", "3")
    assert human.exit_code == 1
    assert human.stderr == (
        "hotline: test of the line to jerusalem failed: no answer in 3 s; "
        "see `hotline status` and `hotline log jerusalem`\n"
    )
    scripted = run(home, "--json", "test", "jerusalem")
    assert scripted.exit_code == 1
    assert json.loads(scripted.stdout) == failed
    assert daemon.requests[0] == ("test", {"peer": "jerusalem", "timeout": 3.0})


def test_a_daemon_hanging_up_is_one_line(home: Path, daemon: FakeDaemon) -> None:
    async def hang_up(args: dict[str, Any], conn: Conn) -> None:
        conn.writer.close()

    daemon.handlers["line.list"] = hang_up
    result = run(home, "line", "list")
    assert result.exit_code == 1
    assert result.stderr == (
        "hotline: the station closed the control connection; "
        f"the daemon may have stopped: see `hotline --home {home} status` and its log\n"
    )


def test_a_not_running_error_from_the_daemon_says_how_to_start_it(home: Path, daemon: FakeDaemon) -> None:
    async def not_running(args: dict[str, Any], conn: Conn) -> None:
        await conn.error("not-running", "a line test needs the station running")

    daemon.handlers["test"] = not_running
    result = run(home, "test", "jerusalem")
    assert result.stderr == f"hotline: the station is not running: start it with `hotline --home {home} up`\n"


def test_follow_prints_the_backlog_then_messages_and_alerts(home: Path, daemon: FakeDaemon) -> None:
    old = {**MESSAGE, "direction": "in", "state": "received", "text": "old news", "inbox": 3}
    new = {**old, "id": "qrstuvwxyzabcdef", "text": "fresh", "precedence": "flash", "inbox": 4}
    alert = {"at": NOW, "peer": "jerusalem", "kind": "line-down", "detail": "reset by peer"}

    async def inbox(args: dict[str, Any], conn: Conn) -> None:
        if not args["follow"]:
            await conn.result({"messages": [old]})
            return
        # a repeat of the backlog (as if `since` counted inclusively), then news, then the daemon stops
        for event in ({"message": old}, {"message": new}, {"alert": alert}):
            await conn.event(event)
        conn.writer.close()

    daemon.handlers["inbox"] = inbox
    result = run(home, "inbox", "--follow", "--peer", "jerusalem")
    assert [args for _, args in daemon.requests] == [
        {"unacked": False, "follow": False, "peer": "jerusalem"},
        {"unacked": False, "follow": True, "peer": "jerusalem", "since": 3},
    ]
    out = result.stdout
    assert out.count("old news") == 1
    assert "← FLASH from jerusalem [qrstuvwxyzabcdef]  ● unread\n    fresh" in out
    assert "ALERT line-down jerusalem: reset by peer" in out
    assert result.exit_code == 1
    assert result.stderr == (
        "hotline: the station closed the control connection; "
        f"the daemon may have stopped: see `hotline --home {home} status` and its log\n"
    )


def test_follow_json_prints_one_event_per_line(home: Path, daemon: FakeDaemon) -> None:
    alert = {"at": NOW, "peer": "jerusalem", "kind": "line-up", "detail": ""}

    async def inbox(args: dict[str, Any], conn: Conn) -> None:
        if not args["follow"]:
            await conn.result({"messages": []})
            return
        await conn.event({"alert": alert})
        conn.writer.close()

    daemon.handlers["inbox"] = inbox
    result = run(home, "inbox", "--follow", "--json")
    assert [json.loads(line) for line in result.stdout.splitlines()] == [{"alert": alert}]
    assert "since" not in daemon.requests[1][1]  # nothing shown yet, so the daemon sends all it has
