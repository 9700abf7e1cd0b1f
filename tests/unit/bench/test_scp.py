"""The scp baseline's pure pieces: /proc parsing, the sshd config, CPU per GiB, the scp command line."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from bench import scp
from bench.station import HOST
from hypothesis import given
from hypothesis import strategies as st

#: A real /proc/PID/stat line's shape: utime 1234 and stime 566 ticks (fields 14 and 15).
STAT = (
    "4242 ({name}) S 1 4242 4242 0 -1 4194560 1500 0 0 0 1234 566 0 0 20 0 3 0 98765 "
    "123456789 4321 18446744073709551615 1 1 0 0 0 0 0 4096 17475 0 0 0 17 1 0 0 0 0 0"
)


def test_stat_cpu_seconds_adds_utime_and_stime() -> None:
    assert scp.stat_cpu_seconds(STAT.format(name="sshd"), 100) == pytest.approx(18.0)


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=16))
def test_stat_cpu_seconds_survives_any_command_name(name: str) -> None:
    # a command may hold spaces and parentheses: only the last ')' ends it
    assert scp.stat_cpu_seconds(STAT.format(name=name), 100) == pytest.approx(18.0)


@pytest.mark.parametrize("bad", ["", "4242 sshd S 1 2", "4242 (sshd) S 1 4242"])
def test_stat_cpu_seconds_rejects_what_is_not_a_stat_line(bad: str) -> None:
    with pytest.raises(ValueError, match="/proc/PID/stat"):
        scp.stat_cpu_seconds(bad, 100)


def test_process_cpu_reads_this_process() -> None:
    import os
    import time

    before = scp.process_cpu(os.getpid())
    deadline = time.process_time() + 0.05
    while time.process_time() < deadline:
        pass
    assert scp.process_cpu(os.getpid()) > before


def test_cpu_per_gib_scales_to_a_gib() -> None:
    assert scp.cpu_per_gib(3.0, 2**30) == pytest.approx(3.0)
    assert scp.cpu_per_gib(1.5, 2**29) == pytest.approx(3.0)
    assert scp.cpu_per_gib(0.375, 64 * 2**20) == pytest.approx(6.0)
    with pytest.raises(ValueError, match="nothing moved"):
        scp.cpu_per_gib(1.0, 0)


@given(st.lists(st.integers(min_value=1, max_value=2**22), max_size=8))
def test_parse_children_reads_back_the_pids(pids: list[int]) -> None:
    text = "".join(f"{pid} " for pid in pids)
    assert scp.parse_children(text) == pids


def test_child_pids_sees_a_child_until_it_is_reaped() -> None:
    import os

    child = subprocess.Popen(["sleep", "5"])
    try:
        assert child.pid in scp.child_pids(os.getpid())
    finally:
        child.kill()
        child.wait()
    assert child.pid not in scp.child_pids(os.getpid())


def test_children_cpu_grows_once_a_busy_child_is_reaped() -> None:
    import sys

    before = scp.children_cpu()
    subprocess.run([sys.executable, "-c", "sum(range(3_000_000))"], check=True)
    assert scp.children_cpu() > before


def test_cipher_label_drops_the_vendor_suffix() -> None:
    assert [scp.cipher_label(c) for c in scp.CIPHERS] == ["chacha20-poly1305", "aes256-gcm"]
    assert scp.cipher_label("aes128-ctr") == "aes128-ctr"


def test_sshd_config_listens_on_loopback_and_lets_root_in_by_key_only(tmp_path: Path) -> None:
    text = scp.sshd_config(2222, tmp_path / "host", tmp_path / "authorized")
    options = dict(line.split(" ", 1) for line in text.splitlines())
    assert options["ListenAddress"] == f"{HOST}:2222"
    assert options["HostKey"] == str(tmp_path / "host")
    assert options["AuthorizedKeysFile"] == str(tmp_path / "authorized")
    assert options["PermitRootLogin"] == "prohibit-password"
    assert options["PasswordAuthentication"] == "no"
    assert options["KbdInteractiveAuthentication"] == "no"
    assert options["Subsystem"] == "sftp internal-sftp"
    assert options["PidFile"] == "none"


@pytest.mark.parametrize("port", [0, -1, 65536])
def test_sshd_config_rejects_a_port_out_of_range(port: int, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a TCP port"):
        scp.sshd_config(port, tmp_path / "host", tmp_path / "authorized")


@pytest.mark.parametrize("key", [Path("host"), Path("/tmp/a b/host")])
def test_sshd_config_rejects_paths_sshd_would_misread(key: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="absolute path without spaces"):
        scp.sshd_config(2222, key, tmp_path / "authorized")


def test_sshd_accepts_the_config_with_fresh_keys(tmp_path: Path) -> None:
    keys = scp.Keys.make(tmp_path / "keys")
    config = tmp_path / "sshd_config"
    config.write_text(scp.sshd_config(2222, keys.host_key, keys.authorized_keys))
    scp.PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
    # -t: check the config and keys, then exit
    checked = subprocess.run([scp.SSHD, "-t", "-f", str(config)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr
    assert keys.authorized_keys.read_text() == keys.client_key.with_suffix(".pub").read_text()
    trusted = keys.known_hosts(2222).read_text().split()
    assert trusted[0] == f"[{HOST}]:2222"
    assert trusted[1:] == keys.host_key.with_suffix(".pub").read_text().split()[:2]


def test_scp_command_pins_the_cipher_the_host_key_and_sftp_mode(tmp_path: Path) -> None:
    keys = scp.Keys(tmp_path)
    command = scp.scp_command(
        Path("/data/random.bin"),
        Path("/data/out/random.bin"),
        2222,
        "aes256-gcm@openssh.com",
        keys,
        tmp_path / "kh",
    )
    assert command[0] == "scp"
    assert "-s" in command and "-O" not in command
    assert command[command.index("-P") + 1] == "2222"
    assert command[command.index("-i") + 1] == str(keys.client_key)
    options = [command[i + 1] for i, word in enumerate(command) if word == "-o"]
    assert "Ciphers=aes256-gcm@openssh.com" in options
    assert f"UserKnownHostsFile={tmp_path / 'kh'}" in options
    assert "StrictHostKeyChecking=yes" in options
    assert "BatchMode=yes" in options
    assert command[-2:] == ["/data/random.bin", f"root@{HOST}:/data/out/random.bin"]


def test_openssh_version_names_openssh() -> None:
    assert scp.openssh_version().startswith("OpenSSH_")
