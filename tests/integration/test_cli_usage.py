"""``hotline`` refusing bad input before it reaches any station: usage errors and local-file errors.

Usage errors are click's: exit 2 with a usage hint. Failures the operator can act on are one
``hotline: …`` line on stderr and exit 1. None of these may touch a station, so the offline path is
replaced by a function that fails the test if it is called.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from hotline.cli import reach
from hotline.cli.main import cli


def run(*args: str, env: dict[str, str | None] | None = None, input: str | None = None) -> Result:
    environment: dict[str, str | None] = {"HOTLINE_HOME": None, "HOTLINE_PASSPHRASE": None, **(env or {})}
    # catch_exceptions=False: an exception escaping the CLI is a bug the test should show, not hide.
    return CliRunner().invoke(cli, list(args), env=environment, input=input, catch_exceptions=False)


def assert_one_line_failure(result: Result, expected: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.stderr == f"hotline: {expected}\n"
    assert result.stdout == ""


@pytest.fixture(autouse=True)
def no_station(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the station must not be reached")

    monkeypatch.setattr(reach, "run_offline", refuse)
    monkeypatch.setattr(reach, "create_station", refuse)
    monkeypatch.setattr(reach, "run_daemon", refuse)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "station"
    path.mkdir()
    return path


def test_an_unknown_precedence_is_a_usage_error(home: Path) -> None:
    result = run("--home", str(home), "send", "jerusalem", "--precedence", "urgent", "hi")
    assert result.exit_code == 2
    assert "Invalid value for '--precedence'" in result.stderr
    assert "flash" in result.stderr  # the choices are listed


@pytest.mark.parametrize(
    ("args", "missing"),
    [
        (["send"], "PEER"),
        (["init", "moscow"], "--listen"),
        (["init"], "NAME"),
        (["line", "add", "jerusalem"], "CARD_FILE"),
        (["line", "grant", "jerusalem"], "--out"),
        (["line", "accept", "jerusalem"], "FILE"),
        (["line", "verify"], "PEER"),
        (["ack"], "ID"),
        (["log"], "PEER"),
        (["test"], "PEER"),
    ],
)
def test_missing_arguments_are_usage_errors(home: Path, args: list[str], missing: str) -> None:
    result = run("--home", str(home), *args)
    assert result.exit_code == 2
    assert f"Missing argument '{missing}'" in result.stderr or f"Missing option '{missing}'" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["init", "moscow", "--listen", "4433"],
        ["init", "moscow", "--listen", "[::1:4433"],
        ["init", "moscow", "--listen", "::1:4433"],
        ["init", "moscow", "--listen", "127.0.0.1:65536"],
        ["init", "moscow", "--listen", "127.0.0.1:4433", "--endpoint", "192.0.2.1:0"],
        ["init", "moscow", "--listen", "127.0.0.1:4433", "--kdf", "none"],
        ["line", "add", "jerusalem", "card.txt", "--endpoint", "host:port"],
        ["log", "jerusalem", "--limit", "0"],
        ["test", "jerusalem", "--timeout", "0"],
    ],
)
def test_malformed_values_are_usage_errors(home: Path, args: list[str]) -> None:
    result = run("--home", str(home), *args)
    assert result.exit_code == 2, result.output
    assert "Invalid value" in result.stderr


def test_timeout_without_wait_is_a_usage_error(home: Path) -> None:
    result = run("--home", str(home), "send", "jerusalem", "--timeout", "5", "hi")
    assert result.exit_code == 2
    assert "--timeout only applies with --wait" in result.stderr


def test_a_card_file_that_does_not_exist_is_one_line(home: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nope.card"
    result = run("--home", str(home), "line", "add", "jerusalem", str(missing))
    assert_one_line_failure(result, f"cannot read the card file {missing}: no such file or directory")


def test_a_card_file_that_is_not_text_is_one_line(home: Path, tmp_path: Path) -> None:
    binary = tmp_path / "photo.jpg"
    binary.write_bytes(b"\xff\xd8\xff\xe0")
    result = run("--home", str(home), "line", "add", "jerusalem", str(binary))
    assert_one_line_failure(result, f"the card file {binary} is not text")


def test_a_sealed_key_file_that_is_a_directory_is_one_line(home: Path, tmp_path: Path) -> None:
    result = run("--home", str(home), "line", "accept", "jerusalem", str(tmp_path))
    assert_one_line_failure(result, f"cannot read the sealed line key file {tmp_path}: is a directory")


def test_grant_into_a_missing_directory_fails_before_asking_the_station(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "no" / "such" / "dir" / "key"
    result = run("--home", str(home), "line", "grant", "jerusalem", "--out", str(out))
    assert_one_line_failure(result, f"cannot write {out}: no such file or directory")


@pytest.mark.parametrize(
    "args",
    [
        ["status"],
        ["card"],
        ["up"],
        ["line", "list"],
        ["line", "verify", "jerusalem"],
        ["send", "jerusalem", "hello"],
        ["send", "--wait", "jerusalem", "hello"],
        ["inbox"],
        ["inbox", "--follow"],
        ["ack", "aaaaaaaaaaaaaaaa"],
        ["log", "jerusalem"],
        ["test", "jerusalem"],
        ["call", "jerusalem"],
        ["answer"],
        ["hangup"],
        ["sas", "match"],
        ["calls"],
    ],
)
def test_a_missing_station_directory_says_how_to_create_one(tmp_path: Path, args: list[str]) -> None:
    nowhere = tmp_path / "nowhere"
    result = run("--home", str(nowhere), *args)
    assert_one_line_failure(result, f"no station at {nowhere}: create one with `hotline init`")


def test_home_comes_from_the_environment_when_not_given(tmp_path: Path) -> None:
    nowhere = tmp_path / "from-env"
    result = run("status", env={"HOTLINE_HOME": str(nowhere)})
    assert_one_line_failure(result, f"no station at {nowhere}: create one with `hotline init`")


def test_an_empty_message_is_refused(home: Path) -> None:
    result = run("--home", str(home), "send", "jerusalem", "-", input="\n")
    assert_one_line_failure(result, "nothing to send: the message is empty")


def test_help_lists_every_command() -> None:
    result = run("--help")
    assert result.exit_code == 0
    commands = ("init", "up", "card", "status", "line", "send", "inbox", "ack", "log", "test", "demo")
    for command in (*commands, "call", "answer", "hangup", "sas", "calls", "recording"):
        assert f"  {command} " in result.stdout
    line_help = run("line", "--help")
    for command in ("add", "grant", "accept", "verify", "list", "remove"):
        assert f"  {command} " in line_help.stdout


def test_call_options_are_checked_before_the_station_is_asked(home: Path, tmp_path: Path) -> None:
    missing = tmp_path / "missing.wav"
    result = run("--home", str(home), "call", "jerusalem", "--play", str(missing))
    assert result.exit_code == 2 and "does not exist" in result.stderr
    existing = tmp_path / "heard.wav"
    existing.write_bytes(b"keep me")
    result = run("--home", str(home), "answer", "--record", str(existing))
    assert_one_line_failure(
        result, f"{existing} exists: choose a new file name for --record (Hotline never overwrites)"
    )
    assert existing.read_bytes() == b"keep me"
    result = run("--home", str(home), "call", "jerusalem", "--sas-confirm", "--sas-mismatch")
    assert result.exit_code == 2 and "exclude each other" in result.stderr
    result = run("--home", str(home), "call", "jerusalem", "--seconds", "0")
    assert result.exit_code == 2
    result = run("--home", str(home), "sas", "maybe")
    assert result.exit_code == 2
