"""OpenSSH ``scp`` as a baseline of the documents benchmark: a private sshd on loopback, CPU per GiB.

The benchmark (:mod:`bench.documents`) copies its file with ``scp`` once per cipher in
:data:`CIPHERS` (chacha20-poly1305, OpenSSH's default, and aes256-gcm) into a temporary directory,
taking turns with Hotline's runs and the raw TCP and TLS baselines. scp runs in its SFTP mode (the
default since OpenSSH 9.0, asked for with ``-s``); it neither fsyncs the copy nor hashes it.

**The server.** Each copy starts its own ``sshd`` (``/usr/sbin/sshd -D -e -f CONFIG``) as a child of
the benchmark, listening on a free loopback port, with a host key, a client key and an authorized
key made once per benchmark in a temporary directory (:class:`Keys`), and a config of its own
(:func:`sshd_config`, ``internal-sftp`` as the SFTP server): no system service is used or needed. It
is stopped (SIGTERM) once the copy is done and its per-connection processes have exited.

**CPU.** The CPU of every process involved counts: scp, the ssh client scp runs, the sshd listener
and its per-connection children (the pre-authentication child, the session). They are all
descendants of the benchmark's process and each is reaped by its own parent, so once the sshd
listener has been reaped the kernel has added all of their user and system time to the benchmark's
``RUSAGE_CHILDREN``: the copy's CPU is that total's growth around it (:func:`children_cpu`). That
only holds if the listener reaps its session child before it is stopped, so the benchmark waits
until ``/proc/PID/task/PID/children`` of the listener is empty first (:func:`child_pids`); reading
``/proc/PID/stat`` of short-lived session processes instead could miss the time they spend after the
last read. The same growth of ``RUSAGE_CHILDREN`` measures the raw TCP and TLS baselines' two
processes; Hotline's daemons, which outlive the runs, are measured by ``/proc/PID/stat`` (utime +
stime, :func:`stat_cpu_seconds`) before and after each transfer.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter

from bench.station import HOST, BenchError, free_port

SSHD = "/usr/sbin/sshd"
#: The ciphers scp is measured with: OpenSSH's default first, then the fastest on AES-NI machines.
CIPHERS = ("chacha20-poly1305@openssh.com", "aes256-gcm@openssh.com")
#: Where Debian's sshd wants its privilege separation directory (a system service makes it at boot).
PRIVSEP_DIR = Path("/run/sshd")
#: Seconds allowed for sshd to listen, for a copy, and for sshd's session processes to end.
START_TIMEOUT = 10.0
COPY_TIMEOUT = 600.0
SETTLE_TIMEOUT = 10.0


def cipher_label(cipher: str) -> str:
    """``aes256-gcm@openssh.com`` -> ``aes256-gcm``: the name without OpenSSH's vendor suffix."""
    return cipher.split("@", 1)[0]


def sshd_config(port: int, host_key: Path, authorized_keys: Path, pid_file: str = "none") -> str:
    """The text of a config for a private sshd on ``HOST:port`` letting root in by key alone."""
    if not 0 < port < 65536:
        raise ValueError(f"port {port} is not a TCP port")
    for path in (host_key, authorized_keys):
        if not path.is_absolute() or any(c.isspace() for c in str(path)):
            raise ValueError(f"{path} must be an absolute path without spaces (sshd_config splits on them)")
    lines = [
        f"ListenAddress {HOST}:{port}",
        f"HostKey {host_key}",
        f"AuthorizedKeysFile {authorized_keys}",
        f"PidFile {pid_file}",
        "PermitRootLogin prohibit-password",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        # the keys live in a temporary directory whose owner and modes sshd need not vouch for
        "StrictModes no",
        "UseDNS no",
        "PrintMotd no",
        "X11Forwarding no",
        "Subsystem sftp internal-sftp",
        "LogLevel INFO",
    ]
    return "\n".join(lines) + "\n"


def stat_cpu_seconds(stat: str, ticks_per_second: int) -> float:
    """utime + stime of a process, in seconds, from the text of its ``/proc/PID/stat``.

    The command name (field 2) is in parentheses and may hold spaces or parentheses itself, so the
    fields are counted from the last ``)``: utime and stime are fields 14 and 15."""
    end = stat.rfind(")")
    if end < 0:
        raise ValueError("not a /proc/PID/stat line: no ')' after the command name")
    fields = stat[end + 1 :].split()
    if len(fields) < 13:
        raise ValueError(f"a /proc/PID/stat line with {len(fields) + 2} fields, not at least 15")
    return (int(fields[11]) + int(fields[12])) / ticks_per_second


def process_cpu(pid: int | None) -> float:
    """utime + stime so far of a live process (all its threads), in seconds."""
    return stat_cpu_seconds(Path(f"/proc/{pid}/stat").read_text(), os.sysconf("SC_CLK_TCK"))


def children_cpu() -> float:
    """User + system seconds of every reaped descendant of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cpu_per_gib(cpu_seconds: float, size: int) -> float:
    """CPU seconds per GiB (2^30 bytes) for ``cpu_seconds`` spent moving ``size`` bytes."""
    if size <= 0:
        raise ValueError(f"nothing moved ({size} bytes)")
    return cpu_seconds * 2**30 / size


def parse_children(text: str) -> list[int]:
    """The pids in a ``/proc/PID/task/TID/children`` file (space-separated)."""
    return [int(pid) for pid in text.split()]


def child_pids(pid: int) -> list[int]:
    """The live children of ``pid`` (of every thread of it)."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            out += parse_children((task / "children").read_text())
        except FileNotFoundError:
            continue
    return out


def openssh_version() -> str:
    """What ``ssh -V`` says, e.g. ``OpenSSH_9.2p1 Debian-2+deb12u3, OpenSSL 3.0.15 3 Sep 2024``."""
    done = subprocess.run(["ssh", "-V"], capture_output=True, text=True, timeout=10, check=False)
    return (done.stderr or done.stdout).strip()


@dataclass(frozen=True)
class Keys:
    """The private sshd's host key and the client's key, with the files that trust them."""

    root: Path

    @property
    def host_key(self) -> Path:
        return self.root / "host_ed25519"

    @property
    def client_key(self) -> Path:
        return self.root / "client_ed25519"

    @property
    def authorized_keys(self) -> Path:
        return self.root / "authorized_keys"

    def known_hosts(self, port: int) -> Path:
        """A known_hosts file naming the host key for ``[HOST]:port``."""
        path = self.root / f"known_hosts.{port}"
        key = self.host_key.with_suffix(".pub").read_text().split()
        path.write_text(f"[{HOST}]:{port} {key[0]} {key[1]}\n")
        return path

    @classmethod
    def make(cls, root: Path) -> Keys:
        """Fresh Ed25519 keys under ``root`` (made if need be)."""
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        keys = cls(root)
        for path in (keys.host_key, keys.client_key):
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "hotline bench", "-f", str(path)],
                check=True,
                capture_output=True,
                timeout=30,
            )
        keys.authorized_keys.write_text(keys.client_key.with_suffix(".pub").read_text())
        return keys


def scp_command(
    source: Path, target: Path, port: int, cipher: str, keys: Keys, known_hosts: Path
) -> list[str]:
    """The scp command line copying ``source`` to ``root@HOST:target`` in SFTP mode with ``cipher``."""
    return [
        "scp",
        "-s",
        "-q",
        "-F",
        "none",
        "-P",
        str(port),
        "-i",
        str(keys.client_key),
        "-o",
        f"Ciphers={cipher}",
        "-o",
        f"UserKnownHostsFile={known_hosts}",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        "IdentitiesOnly=yes",
        str(source),
        f"root@{HOST}:{target}",
    ]


def _wait_listening(sshd: subprocess.Popen[bytes], log: Path) -> None:
    deadline = perf_counter() + START_TIMEOUT
    while perf_counter() < deadline:
        if "Server listening" in log.read_text(errors="replace"):
            return
        if sshd.poll() is not None:
            break
        time.sleep(0.02)
    raise BenchError(f"sshd did not start listening: {log.read_text(errors='replace')[-2000:]}")


def _settle(pid: int) -> None:
    """Wait until ``pid`` has no children left (it has reaped its session processes)."""
    deadline = perf_counter() + SETTLE_TIMEOUT
    while child_pids(pid):
        if perf_counter() > deadline:
            raise BenchError(f"sshd's session processes {child_pids(pid)} did not end")
        time.sleep(0.01)


def copy(source: Path, cipher: str, keys: Keys, work: Path) -> tuple[float, float]:
    """One scp copy of ``source`` through a private sshd started for it: wall seconds of scp (connect,
    key exchange and authentication included) and CPU seconds of every process involved."""
    if os.geteuid() != 0:
        raise BenchError("the scp baseline runs its own sshd and logs in as root: run the benchmark as root")
    PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
    port = free_port()
    config = work / f"sshd_config.{port}"
    config.write_text(sshd_config(port, keys.host_key, keys.authorized_keys))
    log = work / f"sshd.{port}.log"
    target = Path(tempfile.mkdtemp(prefix="scp-", dir=work)) / source.name
    cpu = children_cpu()
    with log.open("wb") as log_file:
        sshd = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(config)], stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file
        )
    try:
        _wait_listening(sshd, log)
        started = perf_counter()
        done = subprocess.run(
            scp_command(source, target, port, cipher, keys, keys.known_hosts(port)),
            capture_output=True,
            text=True,
            timeout=COPY_TIMEOUT,
            check=False,
        )
        seconds = perf_counter() - started
        if done.returncode != 0:
            raise BenchError(f"scp with {cipher} failed: {done.stderr[-2000:]}")
        if target.stat().st_size != source.stat().st_size:
            raise BenchError(
                f"scp with {cipher} copied {target.stat().st_size} of {source.stat().st_size} bytes"
            )
        _settle(sshd.pid)
        sshd.send_signal(signal.SIGTERM)
        sshd.wait(SETTLE_TIMEOUT)
        return seconds, children_cpu() - cpu
    finally:
        if sshd.poll() is None:
            sshd.kill()
            sshd.wait()
        target.unlink(missing_ok=True)
        target.parent.rmdir()


__all__ = [
    "CIPHERS",
    "Keys",
    "child_pids",
    "children_cpu",
    "cipher_label",
    "copy",
    "cpu_per_gib",
    "openssh_version",
    "parse_children",
    "process_cpu",
    "scp_command",
    "sshd_config",
    "stat_cpu_seconds",
]
