"""The ``hotline`` command as a user runs it: a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HOTLINE = [sys.executable, "-c", "from hotline.cli.main import main; main()"]


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "100"}
    return subprocess.run(
        [*HOTLINE, *args], capture_output=True, text=True, timeout=timeout, env=env, check=False
    )


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    out = run("demo")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "Noise_IKpsk2+hfs_25519+MLKEM768_ChaChaPoly_BLAKE2s" in text
    assert "they match" in text
    assert "jerusalem received: FLASH: this is moscow" in text
    assert "moscow received:    jerusalem here" in text
    assert "authenticated its caller as moscow" in text
    assert "the stranger got no answer" in text
    assert "Traceback" not in out.stderr


def test_version_and_usage_errors() -> None:
    version = run("--version")
    assert version.returncode == 0 and "hotline" in version.stdout
    bad = run("no-such-command")
    assert bad.returncode == 2
    assert "No such command" in bad.stderr and "Traceback" not in bad.stderr
    bad_port = run("demo", "--port", "99999")
    assert bad_port.returncode == 2 and "Traceback" not in bad_port.stderr
