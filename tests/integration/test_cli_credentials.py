"""F6: `hotline up` under systemd takes its passphrase from the credential ``hotline.passphrase``.

systemd decrypts ``LoadCredentialEncrypted=`` into a private in-memory directory and names it in
``$CREDENTIALS_DIRECTORY``; here a real ``hotline up`` process gets such a directory by hand. Order:
``--passphrase-file``, then the credential, then ``$HOTLINE_PASSPHRASE``.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.stations import (
    HOTLINE,
    PASSPHRASE,
    Cluster,
    ConnectionLost,
    NotRunning,
    StationProc,
    control_request,
)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    with Cluster(prefix="hl-creds-") as c:
        yield c


def credentials(root: Path, passphrase: str) -> Path:
    directory = root / "credentials"
    directory.mkdir(mode=0o700)
    (directory / "other.secret").write_text("not ours\n")  # a service may be given other credentials
    (directory / "hotline.passphrase").write_text(passphrase + "\n")
    return directory


def up(station: StationProc, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("HOTLINE_PASSPHRASE", "HOTLINE_HOME")}
    return subprocess.Popen(
        [*HOTLINE, "--home", str(station.home), *args, "up"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**base, **env},
        start_new_session=True,
    )


def running(station: StationProc, proc: subprocess.Popen[str], timeout: float = 20.0) -> bool:
    """True once the daemon answers as ``proc``; False if it exited first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            if control_request(station.control, "station", {}, timeout=5).get("pid") == proc.pid:
                return True
        except (NotRunning, ConnectionLost):  # not answering yet
            pass
        time.sleep(0.05)
    raise AssertionError(f"{station.name}: neither up nor exited in {timeout} s")


def stop(proc: subprocess.Popen[str]) -> str:
    if proc.poll() is None:
        proc.terminate()
    _, err = proc.communicate(timeout=20)
    return err


def test_f6_up_unlocks_with_the_systemd_credential(cluster: Cluster) -> None:
    """F6: no passphrase file and no environment variable: the credential alone unlocks the station."""
    station = cluster.add("moscow")
    proc = up(station, {"CREDENTIALS_DIRECTORY": str(credentials(cluster.root, PASSPHRASE))})
    try:
        assert running(station, proc), proc.stderr.read() if proc.stderr else ""
    finally:
        stop(proc)


def test_f6_the_credential_comes_before_the_environment_and_after_the_file(cluster: Cluster) -> None:
    """F6: a wrong $HOTLINE_PASSPHRASE is ignored when the credential is there; --passphrase-file wins."""
    station = cluster.add("moscow")
    creds = credentials(cluster.root, PASSPHRASE)
    proc = up(station, {"CREDENTIALS_DIRECTORY": str(creds), "HOTLINE_PASSPHRASE": "not this one"})
    try:
        assert running(station, proc)
    finally:
        stop(proc)
    wrong = cluster.root / "wrong-passphrase"
    wrong.write_text("not this one either\n")
    proc = up(station, {"CREDENTIALS_DIRECTORY": str(creds)}, "--passphrase-file", str(wrong))
    assert not running(station, proc)
    assert proc.returncode == 1 and "passphrase" in stop(proc)


def test_f6_a_wrong_credential_fails_with_a_clear_message(cluster: Cluster) -> None:
    """F6: the credential is really read: a wrong one does not unlock, and says so in one line."""
    station = cluster.add("moscow")
    proc = up(station, {"CREDENTIALS_DIRECTORY": str(credentials(cluster.root, "a wrong passphrase"))})
    assert not running(station, proc)
    err = stop(proc)
    assert proc.returncode == 1 and err.startswith("hotline: ") and "passphrase" in err
