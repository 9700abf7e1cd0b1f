"""F11: processes that hold a station's keys leave no core dump; ``--kdf light`` says what it is.

Real processes: the daemon (``hotline up``) and an offline ``hotline status`` are started with core
dumps allowed (the soft limit raised to the hard one) and must turn them off themselves. The daemon
tells from its own ``prctl(PR_GET_DUMPABLE)`` in ``status`` (``core_dumps``), and ``/proc/PID/limits``
shows its limit from outside; ``/proc/PID/status`` stays readable for monitoring.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
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
    wait_for,
)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    with Cluster(prefix="hl-protect-") as c:
        yield c


def allow_core_dumps() -> None:
    """In the child before exec: core dumps as large as the hard limit allows (the test needs > 0)."""
    _, hard = resource.getrlimit(resource.RLIMIT_CORE)
    resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))


def env() -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k != "HOTLINE_HOME"}
    return {**base, "HOTLINE_PASSPHRASE": PASSPHRASE, "COLUMNS": "160"}


def core_limit(pid: int) -> str:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max core file size"):
            return " ".join(line.split()[4:6])
    raise AssertionError("no core limit in /proc/PID/limits")


def test_f11_the_daemon_turns_core_dumps_off_and_is_not_dumpable(cluster: Cluster) -> None:
    """F11: started with core dumps allowed (where the hard limit allows any), the daemon holding the
    keys turns them off: its limit is 0 and it is not dumpable (which a core_pattern pipe obeys)."""
    station = cluster.add("moscow")
    proc = subprocess.Popen(
        [*HOTLINE, "--home", str(station.home), "up"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env(),
        preexec_fn=allow_core_dumps,
        start_new_session=True,
    )
    try:
        info = wait_for(lambda: _station(station, proc), 20, "the daemon answers")
        assert info["core_dumps"] is False and info["running"]
        assert core_limit(proc.pid) == "0 0"
        # what monitoring reads is still readable
        assert "VmRSS" in Path(f"/proc/{proc.pid}/status").read_text()
        assert Path(f"/proc/{proc.pid}/stat").read_text().startswith(f"{proc.pid} ")
    finally:
        proc.terminate()
        proc.wait(20)


def _station(station: StationProc, proc: subprocess.Popen[bytes]) -> dict[str, object] | None:
    assert proc.poll() is None, proc.stderr.read() if proc.stderr else b""
    try:
        info = control_request(station.control, "station", {}, timeout=5)
    except (NotRunning, ConnectionLost):  # not up yet
        return None
    return info if info.get("pid") == proc.pid else None


def test_f11_an_offline_command_turns_core_dumps_off(cluster: Cluster) -> None:
    """F11: ``hotline status`` with no daemon unlocks the station in its own process: no core dump."""
    station = cluster.add("moscow")
    done = subprocess.run(
        [*HOTLINE, "--home", str(station.home), "--json", "status"],
        capture_output=True,
        text=True,
        env=env(),
        preexec_fn=allow_core_dumps,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)["station"]
    assert info["running"] is False and info["core_dumps"] is False


def test_f11_a_light_key_file_is_announced_at_init_and_in_status(tmp_path: Path) -> None:
    """F11: ``--kdf light`` warns at ``init`` and ``status`` keeps saying it; standard says nothing."""
    light, standard = tmp_path / "light", tmp_path / "standard"
    made = subprocess.run(
        [*HOTLINE, "--home", str(light), "init", "moscow", "--listen", "127.0.0.1:7001", "--kdf", "light"],
        capture_output=True,
        text=True,
        env=env(),
        check=False,
    )
    assert made.returncode == 0, made.stderr
    assert made.stderr.startswith("hotline: warning: the key file uses the light key derivation")
    assert "for tests and" in made.stderr and "without --kdf light" in made.stderr
    assert "light key derivation, for tests and very small machines only" in made.stdout
    shown = subprocess.run(
        [*HOTLINE, "--home", str(light), "status"], capture_output=True, text=True, env=env(), check=False
    )
    assert "light key derivation, for tests and very small machines only" in shown.stdout
    made = subprocess.run(
        [*HOTLINE, "--home", str(standard), "--json", "init", "moscow", "--listen", "127.0.0.1:7001"],
        capture_output=True,
        text=True,
        env=env(),
        check=False,
    )
    assert made.returncode == 0 and made.stderr == "" and json.loads(made.stdout)["kdf"] == "standard"
    shown = subprocess.run(
        [*HOTLINE, "--home", str(standard), "--json", "status"],
        capture_output=True,
        text=True,
        env=env(),
        check=False,
    )
    assert json.loads(shown.stdout)["station"]["kdf"] == "standard"


def test_f11_the_passphrase_command_changes_it_under_the_same_policy(tmp_path: Path) -> None:
    """F11: ``hotline passphrase`` (a real process) refuses a weak new passphrase and takes a good one;
    the old one then no longer opens the station."""
    home = tmp_path / "moscow"
    made = subprocess.run(
        [*HOTLINE, "--home", str(home), "init", "moscow", "--listen", "127.0.0.1:7001", "--kdf", "light"],
        capture_output=True, text=True, env=env(), check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    new_file = tmp_path / "new"
    good = "orbit velvet cactus plume harbor"

    def change(new: str) -> subprocess.CompletedProcess[str]:
        new_file.write_text(new + "\n")
        command = [*HOTLINE, "--home", str(home), "passphrase", "--new-passphrase-file", str(new_file)]
        return subprocess.run(command, capture_output=True, text=True, env=env(), check=False)

    weak = change("moscow2025")
    assert weak.returncode == 1 and weak.stderr.startswith("hotline: the passphrase is too easy to guess")
    changed = change(good)
    assert changed.returncode == 0, changed.stderr
    assert "sealed under the new passphrase" in changed.stdout
    status = [*HOTLINE, "--home", str(home), "status"]
    old = subprocess.run(status, capture_output=True, text=True, env=env(), check=False)
    assert old.returncode == 1 and "passphrase" in old.stderr
    fresh_env = {**env(), "HOTLINE_PASSPHRASE": good}
    fresh = subprocess.run(status, capture_output=True, text=True, env=fresh_env, check=False)
    assert fresh.returncode == 0, fresh.stderr
