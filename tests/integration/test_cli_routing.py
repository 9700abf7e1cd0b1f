"""How commands reach the station with no daemon running, and how they word what comes back.

The offline entry point (``reach.run_offline``) is replaced by a recorder that answers with canned
results in the shapes of docs/control.md, so these tests pin the CLI's side of the contract: which op
and arguments each command sends, where the passphrase comes from, what is printed and which exit
code results. ``test_cli_station.py`` runs the same commands against the real station.
"""

from __future__ import annotations

import base64
import json
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from hotline.cli import options, reach
from hotline.cli.main import cli
from hotline.proto.identity_errors import KeyFileCorrupt, WrongPassphrase
from hotline.station.errors import StationError

LINE = {
    "peer": "jerusalem",
    "station": "jerusalem",
    "fingerprint": "XXCX 75I5 26UX 22XZ FQFG ZT26 YO3T TAEQ",
    "endpoints": ["127.0.0.1:47002"],
    "verified": False,
    "has_key": False,
    "key_created_at": None,
    "state": "unverified",
    "added_at": 1_700_000_000.0,
}
MESSAGE = {
    "id": "abcdefghijklmnop",
    "peer": "jerusalem",
    "direction": "out",
    "seq": None,
    "precedence": "flash",
    "text": "hello",
    "created_at": 1_700_000_000.0,
    "state": "queued",
    "delivered_at": None,
    "acked_at": None,
    "inbox": 7,
}
GROUPS = [f"{n:05d}" for n in range(11111, 11111 * 13, 11111)]
SAFETY = {
    "peer": "jerusalem",
    "digits": " ".join(GROUPS),
    "groups": GROUPS,
    "words": [f"word{n}" for n in range(24)],
    "verified": False,
}


@dataclass
class Offline:
    """Stands in for the station opened in-process: records calls, answers from ``results``."""

    results: dict[str, Any] = field(default_factory=dict)
    calls: list[tuple[Path, str, str, dict[str, Any]]] = field(default_factory=list)

    def __call__(self, home: Path, passphrase: str, op: str, args: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((home, passphrase, op, args))
        answer = self.results[op]
        if isinstance(answer, BaseException):
            raise answer
        return dict(answer)


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> Offline:
    fake = Offline()
    monkeypatch.setattr(reach, "run_offline", fake)
    return fake


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "station"
    path.mkdir()
    return path


def run(home: Path, *args: str, env: dict[str, str | None] | None = None, input: str | None = None) -> Result:
    environment: dict[str, str | None] = {
        "HOTLINE_HOME": None,
        "HOTLINE_PASSPHRASE": "correct horse",
        "COLUMNS": "120",
        **(env or {}),
    }
    return CliRunner().invoke(
        cli, ["--home", str(home), *args], env=environment, input=input, catch_exceptions=False
    )


def test_send_runs_offline_with_the_passphrase_from_the_environment(home: Path, offline: Offline) -> None:
    offline.results["send"] = MESSAGE
    result = run(home, "send", "jerusalem", "--precedence", "FLASH", "hello", "there")
    assert result.exit_code == 0, result.output
    assert offline.calls == [
        (home, "correct horse", "send", {"peer": "jerusalem", "text": "hello there", "precedence": "flash"})
    ]
    assert result.stdout.split()[0] == "abcdefghijklmnop"


def test_send_reads_stdin_for_dash_or_no_text(home: Path, offline: Offline) -> None:
    offline.results["send"] = MESSAGE
    assert run(home, "send", "jerusalem", "-", input="line one\nline two\n").exit_code == 0
    assert run(home, "send", "jerusalem", input="only line\n").exit_code == 0
    texts = [call[3]["text"] for call in offline.calls]
    assert texts == ["line one\nline two", "only line"]
    assert offline.calls[0][3]["precedence"] == "routine"


def test_the_passphrase_file_wins_and_only_its_first_line_counts(
    home: Path, tmp_path: Path, offline: Offline
) -> None:
    offline.results["line.list"] = {"lines": []}
    secret = tmp_path / "pass"
    secret.write_text("from file\nsecond line\n", encoding="utf-8")
    result = run(home, "--passphrase-file", str(secret), "line", "list")
    assert result.exit_code == 0, result.output
    # --passphrase-file is a group option; it goes before the command
    result = CliRunner().invoke(
        cli,
        ["--home", str(home), "--passphrase-file", str(secret), "line", "list"],
        env={"HOTLINE_PASSPHRASE": "from env"},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert [call[1] for call in offline.calls] == ["from file", "from file"]


def test_without_file_or_environment_the_passphrase_is_asked_for(
    home: Path, offline: Offline, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(options, "_has_terminal", lambda: True)
    offline.results["line.list"] = {"lines": []}
    result = run(home, "line", "list", env={"HOTLINE_PASSPHRASE": None}, input="typed\n")
    assert result.exit_code == 0, result.output
    assert "Station passphrase" in result.stderr
    assert "typed" not in result.output  # hidden input is not echoed
    assert offline.calls[0][1] == "typed"


def test_without_a_terminal_a_missing_passphrase_is_one_line(
    home: Path, offline: Offline, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(options, "_has_terminal", lambda: False)
    result = run(home, "line", "list", env={"HOTLINE_PASSPHRASE": None})
    assert result.exit_code == 1
    assert result.stderr == (
        "hotline: no passphrase: give --passphrase-file, set HOTLINE_PASSPHRASE, or run in a terminal\n"
    )
    assert offline.calls == []


def test_an_empty_passphrase_is_refused(home: Path, tmp_path: Path, offline: Offline) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n", encoding="utf-8")
    by_env = run(home, "line", "list", env={"HOTLINE_PASSPHRASE": ""})
    by_file = run(home, "--passphrase-file", str(empty), "line", "list")
    assert by_env.stderr == "hotline: the passphrase from $HOTLINE_PASSPHRASE is empty\n"
    assert by_file.stderr == f"hotline: the passphrase from the passphrase file {empty} is empty\n"
    assert offline.calls == []


def test_init_asks_twice_and_passes_everything_to_create_station(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(options, "_has_terminal", lambda: True)
    created: list[tuple[Any, ...]] = []

    def create(home: Path, name: str, listen: str, passphrase: str, **kw: Any) -> dict[str, Any]:
        created.append((home, name, listen, passphrase, kw))
        return {"name": name, "fingerprint": "AAAA BBBB", "listen": listen, "endpoints": [listen]}

    monkeypatch.setattr(reach, "create_station", create)
    home = tmp_path / "new"
    result = run(
        home,
        "init", "moscow", "--listen", "0.0.0.0:4433", "--endpoint", "[2001:db8::1]:4433", "--kdf", "light",
        env={"HOTLINE_PASSPHRASE": None},
        input="first\nsecond\nright\nright\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "do not match" in result.stderr  # the first pair differed, so it asked again
    assert created == [
        (home, "moscow", "0.0.0.0:4433", "right", {"endpoints": ["[2001:db8::1]:4433"], "kdf": "light"})
    ]
    assert "AAAA BBBB" in result.stdout


@pytest.mark.parametrize("spelling", [["--json", "line", "list"], ["line", "list", "--json"]])
def test_json_is_accepted_on_the_group_and_on_the_command(
    home: Path, offline: Offline, spelling: list[str]
) -> None:
    offline.results["line.list"] = {"lines": [LINE]}
    result = run(home, *spelling)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"lines": [LINE]}
    assert result.stdout.count("\n") == 1  # one object on one line


def test_line_list_shows_each_line(home: Path, offline: Offline) -> None:
    offline.results["line.list"] = {
        "lines": [LINE, {**LINE, "peer": "ottawa", "state": "up", "verified": True}]
    }
    result = run(home, "line", "list")
    assert result.exit_code == 0, result.output
    rows = [row for row in result.stdout.splitlines() if row.startswith(("jerusalem", "ottawa"))]
    assert len(rows) == 2
    assert "unverified" in rows[0] and "no" in rows[0].split()
    assert "up" in rows[1].split() and "yes" in rows[1].split()


def test_line_add_sends_the_cards_text_and_the_endpoints(
    home: Path, tmp_path: Path, offline: Offline
) -> None:
    card = tmp_path / "jerusalem.card"
    card.write_text("-----BEGIN HOTLINE CARD-----\nabc\n-----END HOTLINE CARD-----\n", encoding="utf-8")
    offline.results["line.add"] = LINE
    result = run(home, "line", "add", "jerusalem", str(card), "--endpoint", "192.0.2.7:4433")
    assert result.exit_code == 0, result.output
    assert offline.calls[0][2:] == (
        "line.add",
        {"peer": "jerusalem", "card": card.read_text(encoding="utf-8"), "endpoints": ["192.0.2.7:4433"]},
    )
    assert "hotline line verify jerusalem" in result.stdout


def test_line_grant_writes_the_sealed_bytes_readable_only_by_the_owner(
    home: Path, tmp_path: Path, offline: Offline
) -> None:
    sealed = bytes(range(256)) * 3
    offline.results["line.grant"] = {
        "peer": "jerusalem",
        "sealed": base64.b64encode(sealed).decode(),
        "created_at": 1,
    }
    out = tmp_path / "key.sealed"
    out.write_bytes(b"an older, longer file that must not survive" * 100)
    out.chmod(0o644)
    result = run(home, "line", "grant", "jerusalem", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == sealed
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_a_failed_grant_leaves_no_file_behind(home: Path, tmp_path: Path, offline: Offline) -> None:
    offline.results["line.grant"] = StationError(
        "no-such-line", "no line to 'jerusalem' (see `hotline line list`)"
    )
    out = tmp_path / "key.sealed"
    result = run(home, "line", "grant", "jerusalem", "--out", str(out))
    assert result.exit_code == 1
    assert result.stderr == "hotline: no line to 'jerusalem' (see `hotline line list`)\n"
    assert not out.exists()


def test_line_accept_sends_the_file_as_base64(home: Path, tmp_path: Path, offline: Offline) -> None:
    blob = b"\x00\x01sealed\xff"
    path = tmp_path / "from-moscow"
    path.write_bytes(blob)
    offline.results["line.accept"] = {**LINE, "has_key": True, "state": "down"}
    result = run(home, "line", "accept", "jerusalem", str(path))
    assert result.exit_code == 0, result.output
    assert offline.calls[0][2:] == (
        "line.accept",
        {"peer": "jerusalem", "sealed": base64.b64encode(blob).decode()},
    )


def test_verify_shows_two_rows_of_six_groups_and_the_words(home: Path, offline: Offline) -> None:
    offline.results["line.verify"] = SAFETY
    result = run(home, "line", "verify", "jerusalem")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert " ".join(GROUPS[:6]) in lines[1] and " ".join(GROUPS[6:]) in lines[2]
    assert all(f"word{n}" in result.stdout for n in range(24))
    assert "hotline line verify jerusalem --confirm" in result.stdout
    assert offline.calls[0][3] == {"peer": "jerusalem", "confirm": False}

    offline.results["line.verify"] = {**SAFETY, "verified": True}
    confirmed = run(home, "line", "verify", "jerusalem", "--confirm")
    assert offline.calls[1][3] == {"peer": "jerusalem", "confirm": True}
    assert "verified" in confirmed.stdout.splitlines()[-1]
    assert "--confirm" not in confirmed.stdout


def test_card_prints_writes_and_draws(home: Path, tmp_path: Path, offline: Offline) -> None:
    armored = "-----BEGIN HOTLINE CARD-----\nxyz\n-----END HOTLINE CARD-----"
    offline.results["card"] = {
        "name": "moscow",
        "fingerprint": "4CMV SEGX",
        "armored": armored,
        "endpoints": [],
    }
    printed = run(home, "card")
    assert printed.stdout == armored + "\n"
    out = tmp_path / "moscow.card"
    written = run(home, "card", "--out", str(out))
    assert out.read_text(encoding="utf-8") == armored + "\n"
    assert str(out) in written.stdout and "4CMV SEGX" in written.stdout
    qr = run(home, "card", "--qr")
    assert qr.exit_code == 0
    assert "▀" in qr.stdout or "█" in qr.stdout
    assert qr.stdout.splitlines()[-1] == "fingerprint 4CMV SEGX"


@pytest.mark.parametrize(
    ("args", "op_args"),
    [
        (["inbox"], {"unacked": False, "follow": False}),
        (
            ["inbox", "--peer", "jerusalem", "--unacked"],
            {"unacked": True, "follow": False, "peer": "jerusalem"},
        ),
    ],
)
def test_inbox_offline(home: Path, offline: Offline, args: list[str], op_args: dict[str, Any]) -> None:
    received = {**MESSAGE, "direction": "in", "state": "received", "text": "we read you"}
    offline.results["inbox"] = {"messages": [received]}
    result = run(home, *args)
    assert result.exit_code == 0, result.output
    assert offline.calls[0][2:] == ("inbox", op_args)
    assert "we read you" in result.stdout and "abcdefghijklmnop" in result.stdout


@pytest.mark.parametrize(
    "args",
    [["test", "jerusalem"], ["send", "--wait", "jerusalem", "hi"], ["inbox", "--follow"]],
)
def test_what_needs_the_daemon_says_how_to_start_it_without_asking_for_a_passphrase(
    home: Path, offline: Offline, args: list[str]
) -> None:
    result = run(home, *args, env={"HOTLINE_PASSPHRASE": None})
    assert result.exit_code == 1
    assert result.stderr == f"hotline: the station is not running: start it with `hotline --home {home} up`\n"
    assert offline.calls == []


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (
            StationError("no-such-line", "no line to 'x' (see `hotline line list`)"),
            "no line to 'x' (see `hotline line list`)",
        ),
        (StationError("not-running", "a line test needs the station running"), "the station is not running"),
        (
            WrongPassphrase("the passphrase does not open this key file"),
            "wrong passphrase for the station at",
        ),
        (
            KeyFileCorrupt("key file is truncated"),
            "the station's key file cannot be opened: key file is truncated",
        ),
        (PermissionError(13, "Permission denied", "/x/store.sqlite"), "/x/store.sqlite: permission denied"),
        (StationError("bad-card", "bad\x1b[2Jcard\nsecond line"), "bad\\x1b[2Jcard second line"),
        (RuntimeError("boom"), "internal error (RuntimeError: boom); set HOTLINE_DEBUG=1 for the traceback"),
    ],
)
def test_failures_are_one_line_and_exit_1(
    home: Path, offline: Offline, raised: Exception, expected: str
) -> None:
    offline.results["line.list"] = raised
    result = run(home, "line", "list", env={"HOTLINE_DEBUG": None})
    assert result.exit_code == 1
    assert result.stderr.startswith(f"hotline: {expected}")
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.output


def test_debug_shows_the_traceback_of_a_bug(home: Path, offline: Offline) -> None:
    offline.results["line.list"] = RuntimeError("boom")
    with pytest.raises(RuntimeError, match="boom"):
        run(home, "line", "list", env={"HOTLINE_DEBUG": "1"})


def test_text_from_the_other_station_cannot_drive_the_terminal(home: Path, offline: Offline) -> None:
    hostile = {**MESSAGE, "direction": "in", "text": "\x1b]0;owned\x07\x1b[2J[bold]not markup[/bold]"}
    offline.results["inbox"] = {"messages": [hostile]}
    result = run(home, "inbox", env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "\\x1b]0;owned\\x07\\x1b[2J[bold]not markup[/bold]" in result.stdout
