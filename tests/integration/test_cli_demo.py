"""The ``hotline`` command as a user runs it: a real process."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.support.stations import HOTLINE


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "100"}
    return subprocess.run(
        [*HOTLINE, *args], capture_output=True, text=True, timeout=timeout, env=env, check=False
    )


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    out = run("demo")
    assert out.returncode == 0, (out.stdout + out.stderr)[-4000:]  # the end says which step failed
    text = out.stdout
    # three stations, each a process driven by the CLI
    for station in ("moscow", "jerusalem", "washington"):
        assert f"hotline --home {station} up &" in text
    assert "a wrong passphrase is refused (exit 1)" in text
    assert "the same at both stations" in text and "DIFFERENT" not in text
    # the FLASH message and the reply were delivered, read and acknowledged
    assert text.count("delivered at") >= 3
    assert "acknowledged" in text and "from moscow" in text and "from jerusalem" in text
    assert "This is Moscow. Please confirm you are receiving this line." in text
    assert "test ok" in text
    assert "moscow still holds only its own line (jerusalem)" in text
    # washington pairs by code; the line is not verified until the operators compare the number (F2)
    assert "hotline --home jerusalem pair washington --listen 127.0.0.1:" in text
    assert "not verified yet" in text and "hotline line verify jerusalem --confirm" in text
    assert text.count("the same at both stations") == 2
    assert "jerusalem answered 0 bytes" in text
    assert "Traceback" not in out.stdout + out.stderr


def test_version_and_usage_errors() -> None:
    version = run("--version")
    assert version.returncode == 0 and "hotline" in version.stdout
    bad = run("no-such-command")
    assert bad.returncode == 2
    assert "No such command" in bad.stderr and "Traceback" not in bad.stderr
    bad_port = run("demo", "--port", "99999")
    assert bad_port.returncode == 2 and "Traceback" not in bad_port.stderr
