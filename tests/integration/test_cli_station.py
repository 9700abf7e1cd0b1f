"""The ``hotline`` command against real stations in tmp_path: pairing offline, then two daemons talking.

Commands run in-process through click's runner (offline requests open the station in this process);
``hotline up`` and ``inbox --follow`` run as real processes, because they live until a signal ends them.
Keys use the ``light`` key derivation so that a test does not spend seconds in Argon2id.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest
from click.testing import CliRunner, Result

from hotline.cli.main import cli
from tests.support.stations import HOTLINE

PASSPHRASE = "correct horse battery staple"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def hotline(
    home: Path, *args: str, passphrase: str = PASSPHRASE, input: str | None = None, columns: int = 160
) -> Result:
    env: dict[str, str | None] = {
        "HOTLINE_PASSPHRASE": passphrase,
        "HOTLINE_HOME": None,
        "COLUMNS": str(columns),
    }
    return CliRunner().invoke(cli, ["--home", str(home), *args], env=env, input=input, catch_exceptions=False)


def ok(home: Path, *args: str, input: str | None = None) -> Result:
    result = hotline(home, *args, input=input)
    assert result.exit_code == 0, f"hotline {' '.join(args)}: {result.output}"
    return result


def as_json(home: Path, *args: str, input: str | None = None) -> Any:
    return json.loads(ok(home, *args, "--json", input=input).stdout)


def assert_one_line_failure(result: Result, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("hotline: ") and result.stderr.count("\n") == 1, result.stderr
    for fragment in fragments:
        assert fragment in result.stderr
    assert "Traceback" not in result.output


@dataclass
class Stations:
    moscow: Path
    jerusalem: Path
    ports: dict[str, int]


def create(tmp_path: Path) -> Stations:
    """Two new stations with each other's card added (``init``, ``card --out``, ``line add``)."""
    ports = {"moscow": free_port(), "jerusalem": free_port()}
    homes = {name: tmp_path / name for name in ports}
    for name, home in homes.items():
        station = as_json(home, "init", name, "--listen", f"127.0.0.1:{ports[name]}", "--kdf", "light")
        assert station["name"] == name
        card = as_json(home, "card", "--out", str(tmp_path / f"{name}.card"))
        assert card["fingerprint"] == station["fingerprint"]
    ok(homes["moscow"], "line", "add", "jerusalem", str(tmp_path / "jerusalem.card"))
    ok(homes["jerusalem"], "line", "add", "moscow", str(tmp_path / "moscow.card"))
    return Stations(homes["moscow"], homes["jerusalem"], ports)


def pair(stations: Stations, tmp_path: Path) -> None:
    """Verify the line on both sides and carry a line key from moscow to jerusalem."""
    ok(stations.moscow, "line", "verify", "jerusalem", "--confirm")
    ok(stations.jerusalem, "line", "verify", "moscow", "--confirm")
    ok(stations.moscow, "line", "grant", "jerusalem", "--out", str(tmp_path / "key"))
    ok(stations.jerusalem, "line", "accept", "moscow", str(tmp_path / "key"))


def test_pairing_and_queueing_with_no_daemon(tmp_path: Path) -> None:
    stations = create(tmp_path)
    moscow, jerusalem = stations.moscow, stations.jerusalem

    # Both sides show the same safety number, and nothing is verified until an operator confirms it.
    here = as_json(moscow, "line", "verify", "jerusalem")
    there = as_json(jerusalem, "line", "verify", "moscow")
    assert here["digits"] == there["digits"] and here["words"] == there["words"]
    assert not here["verified"]
    shown = ok(moscow, "line", "verify", "jerusalem").stdout
    assert " ".join(here["groups"][:6]) in shown and " ".join(here["groups"][6:]) in shown
    assert "--confirm" in shown
    assert_one_line_failure(hotline(moscow, "send", "jerusalem", "too early"), "not verified")

    pair(stations, tmp_path)
    assert (tmp_path / "key").stat().st_mode & 0o777 == 0o600
    [line] = as_json(moscow, "line", "list")["lines"]
    assert (line["peer"], line["verified"], line["has_key"]) == ("jerusalem", True, True)
    [line] = as_json(jerusalem, "line", "list")["lines"]
    assert (line["peer"], line["verified"], line["has_key"]) == ("moscow", True, True)
    assert "jerusalem" in ok(moscow, "line", "list").stdout

    # send with the daemon stopped queues the message
    sent = ok(moscow, "send", "jerusalem", "--precedence", "flash", "do", "you", "read")
    ident = sent.stdout.split()[0]
    message = as_json(moscow, "send", "jerusalem", "-", input="second\n")
    assert message["state"] == "queued" and message["text"] == "second"
    [status_line] = as_json(moscow, "status")["lines"]
    assert status_line["queued"] == 2
    log = as_json(moscow, "log", "jerusalem")["entries"]
    assert ident in {entry["message"]["id"] for entry in log if entry["kind"] == "message"}
    assert "no messages" in ok(jerusalem, "inbox").stdout  # nothing moved: no daemon ran

    ok(moscow, "line", "remove", "jerusalem")
    assert as_json(moscow, "line", "list") == {"lines": []}


def test_failures_with_no_daemon_are_one_line(tmp_path: Path) -> None:
    stations = create(tmp_path)
    moscow = stations.moscow

    wrong = hotline(moscow, "line", "list", passphrase="not the passphrase")
    assert_one_line_failure(wrong, f"wrong passphrase for the station at {moscow}")

    unknown = hotline(moscow, "line", "verify", "ottawa")
    assert unknown.stderr == "hotline: no line to 'ottawa' (see `hotline line list`)\n"
    assert unknown.exit_code == 1

    garbage = tmp_path / "garbage.card"
    garbage.write_text("this is not a card\n", encoding="utf-8")
    assert_one_line_failure(hotline(moscow, "line", "add", "ottawa", str(garbage)), "'ottawa'", "not valid")
    assert_one_line_failure(
        hotline(moscow, "line", "add", "again", str(tmp_path / "moscow.card")), "own card"
    )
    again = hotline(moscow, "init", "moscow", "--listen", "127.0.0.1:1", "--kdf", "light")
    assert_one_line_failure(again, "already holds a station")
    assert_one_line_failure(hotline(moscow, "ack", "aaaaaaaaaaaaaaaa"))
    assert_one_line_failure(hotline(moscow, "test", "jerusalem"), "the station is not running", "up`")


# --- with daemons ---------------------------------------------------------------------------------


def _pump(stream: IO[str], lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line)


class Process:
    """A ``hotline`` process whose stdout is read line by line in the background."""

    def __init__(self, home: Path, *args: str) -> None:
        env = {**os.environ, "HOTLINE_PASSPHRASE": PASSPHRASE, "COLUMNS": "160"}
        env.pop("HOTLINE_HOME", None)
        self.proc = subprocess.Popen(
            [*HOTLINE, "--home", str(home), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        assert self.proc.stdout is not None
        threading.Thread(target=_pump, args=(self.proc.stdout, self.lines), daemon=True).start()

    def read_until(self, fragment: str, timeout: float = 20) -> list[str]:
        seen: list[str] = []
        deadline = time.monotonic() + timeout
        while not any(fragment in line for line in seen):
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"never printed {fragment!r}; printed {seen}"
            try:
                seen.append(self.lines.get(timeout=remaining))
            except queue.Empty:
                continue
        return seen

    def stop(self, signum: int = signal.SIGTERM) -> tuple[int, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        try:
            _, stderr = self.proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, stderr = self.proc.communicate()
        return self.proc.returncode, stderr


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Stations]:
    stations = create(tmp_path)
    pair(stations, tmp_path)
    daemons = [Process(home, "up") for home in (stations.moscow, stations.jerusalem)]
    try:
        for home in (stations.moscow, stations.jerusalem):
            deadline = time.monotonic() + 20
            while not (home / "control.sock").exists():
                assert all(d.proc.poll() is None for d in daemons), [d.stop() for d in daemons]
                assert time.monotonic() < deadline, "the daemon did not open its control socket"
                time.sleep(0.05)
        yield stations
    finally:
        outcomes = [daemon.stop() for daemon in daemons]
    for code, stderr in outcomes:
        assert code == 0, stderr
        assert "Traceback" not in stderr


@pytest.mark.slow
def test_two_running_stations_deliver_acknowledge_and_test(running: Stations) -> None:
    moscow, jerusalem = running.moscow, running.jerusalem
    assert as_json(moscow, "status")["station"]["running"] is True
    assert_one_line_failure(hotline(moscow, "up"), "already running")

    delivered = as_json(
        moscow, "send", "jerusalem", "--wait", "--timeout", "20", "-p", "flash", "do you read"
    )
    assert delivered["state"] in ("delivered", "acked") and delivered["delivered_at"] is not None
    [received] = as_json(jerusalem, "inbox", "--unacked")["messages"]
    assert (received["id"], received["text"], received["state"]) == (
        delivered["id"],
        "do you read",
        "received",
    )

    ok(jerusalem, "ack", received["id"])
    assert as_json(jerusalem, "inbox", "--unacked")["messages"] == []
    # an 80-column terminal: each message is a block whose header carries its marks
    for args in (("inbox",), ("log", "moscow")):
        narrow = hotline(jerusalem, *args, columns=80)
        assert narrow.exit_code == 0, narrow.output
        lines = narrow.stdout.splitlines()
        assert all(len(line) <= 80 for line in lines), lines
        [header] = [line for line in lines if received["id"] in line]
        assert "← FLASH from moscow" in header and "✓ acknowledged" in header, lines
        assert "    do you read" in lines

    tested = as_json(moscow, "test", "jerusalem", "--timeout", "10")
    assert tested["ok"] is True
    assert "test ok" in ok(moscow, "test", "jerusalem").stdout
    # the log reads as a transcript: the message once, the line tests in place, no bare receipts
    entries = as_json(moscow, "log", "jerusalem")["entries"]
    carriers = [
        e["message"]["id"] for e in entries if e["kind"] == "message" and e["message"]["kind"] != "text"
    ]
    assert carriers  # the acknowledgement and the tests, sent as messages of their own kinds
    transcript = hotline(moscow, "log", "jerusalem", columns=80).stdout
    assert transcript.count(delivered["id"]) == 1 and "→ FLASH to jerusalem" in transcript
    assert transcript.count("· line test ok") == 2
    assert "receipt" not in transcript and not any(ident in transcript for ident in carriers)
    assert all(len(line) <= 80 for line in transcript.splitlines())
    status = ok(moscow, "status").stdout
    assert "running" in status and "jerusalem" in status and " up " in status

    follow = Process(jerusalem, "inbox", "--follow")
    try:
        follow.read_until(received["id"])  # the backlog comes first
        later = as_json(moscow, "send", "jerusalem", "--wait", "--timeout", "20", "after the backlog")
        printed = follow.read_until("after the backlog")
        assert any(later["id"] in line for line in printed)
    finally:
        code, stderr = follow.stop(signal.SIGINT)
    assert code == 0, stderr  # Ctrl-C is how a follow ends
    assert stderr == ""
