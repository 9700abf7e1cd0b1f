"""Bad input at the doors a new operator meets first, through the real ``hotline`` process.

Each case must end in one ``hotline: …`` line on stderr naming the problem, exit code 1, and no
traceback; and a refused command must leave the station as it was.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

PASSPHRASE = "bad input tests only"
HOTLINE = [sys.executable, "-m", "hotline"]


def run(
    home: Path, *args: str, passphrase: str = PASSPHRASE, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOTLINE_PASSPHRASE": passphrase, "COLUMNS": "160"}
    env.pop("HOTLINE_HOME", None)
    return subprocess.run(
        [*HOTLINE, "--home", str(home), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )


def one_line_failure(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    # `up` may log (structured, timestamped) before it fails; the failure itself is one line
    lines = [line for line in result.stderr.strip().splitlines() if not line[:4].isdigit()]
    assert len(lines) == 1 and lines[0].startswith("hotline: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert "Traceback" not in result.stdout + result.stderr


@pytest.fixture
def station(tmp_path: Path) -> Path:
    home = tmp_path / "moscow"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = run(home, "init", "moscow", "--listen", f"127.0.0.1:{port}", "--kdf", "light")
    assert result.returncode == 0, result.stderr
    return home


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ('name = "moscow"\nlisten = "127.0.0.1:1"\nheartbaet = 5\n', "heartbaet"),
        ('name = "moscow"\nlisten = "nowhere"\n', "nowhere"),
        ('name = "moscow"\nlisten = "127.0.0.1:1"\nheartbeat = -1\n', "heartbeat"),
        ('name = "moscow"\nlisten = "127.0.0.1:1"\nheartbeat = "often"\n', "heartbeat"),
        ("this is [not toml", "station.toml"),
        ('name = "kyiv"\nlisten = "127.0.0.1:1"\n', "kyiv"),
    ],
)
def test_a_bad_config_file_is_named_and_nothing_starts(station: Path, config: str, fragment: str) -> None:
    (station / "station.toml").write_text(config)
    for command in (("line", "list"), ("up",)):
        result = run(station, *command)
        one_line_failure(result, "station.toml", fragment)
    assert not (station / "control.sock").exists()


def test_a_listening_port_in_use_is_a_clear_error(station: Path) -> None:
    config = (station / "station.toml").read_text()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        listen = next(line for line in config.splitlines() if line.startswith("listen"))
        (station / "station.toml").write_text(config.replace(listen, f'listen = "127.0.0.1:{port}"'))
        one_line_failure(run(station, "up"), f"127.0.0.1:{port}")


def test_a_missing_station_a_wrong_passphrase_and_an_unknown_peer(station: Path, tmp_path: Path) -> None:
    one_line_failure(run(tmp_path / "nowhere", "status"), "no station", "hotline init")
    one_line_failure(run(station, "status", passphrase="not the passphrase"), "passphrase")
    one_line_failure(run(station, "send", "atlantis", "hello"), "atlantis")
    one_line_failure(run(station, "line", "verify", "atlantis"), "atlantis")


def test_an_unreadable_or_forged_card_is_refused(station: Path, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.card"
    garbage.write_bytes(os.urandom(600))
    one_line_failure(run(station, "line", "add", "jerusalem", str(garbage)))
    card = run(station, "card").stdout
    assert "BEGIN HOTLINE STATION CARD" in card
    body = card.splitlines()
    body[2] = body[2][:10] + ("A" if body[2][10] != "A" else "B") + body[2][11:]  # one character changed
    forged = tmp_path / "forged.card"
    forged.write_text("\n".join(body) + "\n")
    one_line_failure(run(station, "line", "add", "jerusalem", str(forged)), "card")
    missing = tmp_path / "missing.card"
    result = run(station, "line", "add", "jerusalem", str(missing))
    assert result.returncode in (1, 2) and "Traceback" not in result.stderr
    assert "no lines" in run(station, "line", "list").stdout
