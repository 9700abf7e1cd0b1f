"""Documents between two real station daemons on loopback: throughput, memory, FLASH latency meanwhile.

Two stations (alpha and bravo) are created, paired offline and run as daemons (the real CLI, ``hotline
up``), as in :mod:`bench.voice`. One random file of :attr:`Settings.size` bytes is written once to a
temporary directory (so it is in the page cache) and every transfer sends that file.

- **Throughput**: ``send.file`` on alpha with ``wait: false`` (it answers once the file is hashed and
  the document queued), then bravo's ``files`` is polled every :data:`POLL` seconds until the document
  is ``complete`` (every byte stored and its SHA-256 matched). The whole time includes the hashing; the
  transfer alone runs from alpha's answer until complete. Best of :attr:`Settings.runs`.
- **Baselines**: the same file's bytes over loopback into a file on the receiving side, written with
  plain writes and fsynced at the end, by a sender and a receiver process (as two daemons): raw TCP
  over asyncio streams, and stdlib TLS 1.3 over asyncio with self-signed certificates made at bench
  time (mutual authentication). Timed in the sender from just before the connect until the receiver's
  one-byte answer, sent after its fsync. Then OpenSSH's scp with each cipher of :data:`bench.scp.CIPHERS`
  through a private sshd (:mod:`bench.scp`; no fsync, no hash). They take turns with Hotline's runs.
- **CPU** per GiB of every process involved: Hotline's daemons by ``/proc/PID/stat`` around each
  transfer, the baselines' by the growth of ``RUSAGE_CHILDREN`` (:mod:`bench.scp` says why).
- **Memory**: VmRSS of each daemon idle with the line up, before any transfer, and VmHWM (peak RSS)
  during each transfer: the peak is reset through ``/proc/PID/clear_refs`` just before it.
- **FLASH latency**: ``send`` with ``precedence: flash`` and ``wait`` from alpha to bravo, timed from
  the request until its answer (the far end's receipt is back): :attr:`Settings.flashes` messages, one
  every :data:`FLASH_EVERY` seconds, with the line idle and again while another transfer of the file
  runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from time import perf_counter
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.x509.oid import NameOID
from rich.console import Console
from tests.support.stations import FAST, PASSPHRASE, StationProc, pair

from bench import scp as scp_bench
from bench.station import HOST, TEXT, BenchError, free_port
from hotline.crypto.hashing import HasherName, hasher
from hotline.proto.document import CHUNK as CHUNK_BYTES
from hotline.station.home import create_station
from hotline.station.quotarules import QuotaDefaults

#: Seconds between two polls of the receiver's ``files``.
POLL = 0.05
#: Seconds between two FLASH messages.
FLASH_EVERY = 0.25

#: Goals: Hotline's throughput over TLS's at least; peak RSS per daemon less than; FLASH p95 less than.
THROUGHPUT_GOAL = 1.2
MEMORY_GOAL_MB = 100.0
FLASH_GOAL_MS = 50.0

#: The baselines' sender and receiver, one process each: ``ROLE MODE ...`` (see :func:`_baseline`).
BASELINE = r"""
import asyncio, os, ssl, sys, time

BLOCK = 1 << 20


def context(side, certs):
    if side == "server":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(certs, "server.pem"))
        ctx.load_verify_locations(os.path.join(certs, "client.crt"))
        ctx.num_tickets = 0
    else:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_cert_chain(os.path.join(certs, "client.pem"))
        ctx.load_verify_locations(os.path.join(certs, "server.crt"))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


class Sink(asyncio.Protocol):
    def __init__(self, fd, size, done):
        self.fd, self.size, self.done, self.got = fd, size, done, 0

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view):]
        self.got += len(data)
        if self.got >= self.size and not self.done.done():
            os.fsync(self.fd)
            cipher = self.transport.get_extra_info("cipher")
            self.transport.write(b"k")
            self.done.set_result(cipher)

    def connection_lost(self, exc):
        if not self.done.done():
            self.done.set_exception(ConnectionError(f"closed after {self.got} bytes"))


async def receive(mode, out, size, certs):
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    ctx = context("server", certs) if mode == "tls" else None
    server = await loop.create_server(lambda: Sink(fd, size, done), "127.0.0.1", 0, ssl=ctx)
    print(server.sockets[0].getsockname()[1], flush=True)
    cipher = await done
    await asyncio.sleep(0.1)
    os.close(fd)
    server.close()
    print(cipher[0] if cipher else "", flush=True)


async def send(mode, path, port, certs):
    ctx = context("client", certs) if mode == "tls" else None
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=ctx, server_hostname="localhost" if ctx else None
    )
    with open(path, "rb", buffering=0) as f:
        while block := f.read(BLOCK):
            writer.write(block)
            await writer.drain()
    await reader.readexactly(1)
    print(time.perf_counter() - started, flush=True)
    writer.close()


role, mode = sys.argv[1], sys.argv[2]
if role == "receive":
    asyncio.run(receive(mode, sys.argv[3], int(sys.argv[4]), sys.argv[5]))
else:
    asyncio.run(send(mode, sys.argv[3], int(sys.argv[4]), sys.argv[5]))
"""

TCP = "tcp"
TLS = "tls"


@dataclass(frozen=True)
class Settings:
    """How big the file is and how often it goes."""

    size: int = 2**30
    #: Runs of each transfer (Hotline standard and cnsa2, TCP, TLS, scp, taking turns); each row
    #: shows its median run.
    runs: int = 3
    #: FLASH messages with the line idle, and again during a transfer.
    flashes: int = 20


QUICK = Settings(size=64 * 2**20, runs=1, flashes=5)


@dataclass(frozen=True)
class Flash:
    """One FLASH ``send`` with ``wait``: seconds from its start (since the transfer's), and its latency."""

    at: float
    seconds: float
    #: The transfer was still running (not yet complete at the receiver) when this one was answered.
    during: bool


@dataclass(frozen=True)
class HotlineRun:
    """One document transfer from alpha to bravo."""

    #: ``send.file`` request until bravo's ``files`` showed it complete, and until ``send.file`` answered.
    total: float
    queued: float
    #: The same end by bravo's ``completed_at`` (its own clock, no polling granularity).
    total_stored: float
    #: utime + stime of alpha's and bravo's daemons over the whole run.
    cpu: tuple[float, float]
    #: VmHWM of alpha's and bravo's daemons over the run (KiB), and whether it was reset just before.
    hwm_kib: tuple[int, int]
    hwm_reset: bool
    flashes: list[Flash] = field(default_factory=list)

    @property
    def transfer(self) -> float:
        return self.total - self.queued


@dataclass(frozen=True)
class Results:
    """What the document case measured."""

    settings: Settings
    hotline: list[HotlineRun]
    #: The transfer the FLASH messages ran during (not counted in the throughput).
    busy: HotlineRun
    #: Seconds per baseline run, by mode (:data:`TCP`, :data:`TLS`, each cipher of ``scp_bench.CIPHERS``).
    baselines: dict[str, list[float]]
    #: CPU seconds (user + system, both processes) of each baseline run, by mode.
    baseline_cpu: dict[str, list[float]]
    #: CPU seconds per GiB of the cryptographic passes alone, by name (:func:`crypto_floor`).
    floor: dict[str, float]
    tls_cipher: str
    #: VmRSS of alpha's and bravo's daemons idle with the line up (KiB).
    idle_rss_kib: tuple[int, int]
    idle_flashes: list[float]
    #: The 1-minute load average when the transfers began and when they ended (other work on the machine).
    load: tuple[float, float] = (0.0, 0.0)
    #: What ``ssh -V`` said (the scp baselines' OpenSSH and OpenSSL).
    openssh: str = ""
    #: The same transfers over a ``cnsa2`` line between two other daemons; empty when not measured.
    cnsa2: list[HotlineRun] = field(default_factory=list)
    measured_at: str = field(default_factory=lambda: time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))

    @property
    def best(self) -> HotlineRun:
        """The median run of the ``standard`` transfers (the name is older than the medians)."""
        return median_run(self.hotline)

    @property
    def cnsa2_run(self) -> HotlineRun | None:
        """The median run of the ``cnsa2`` transfers, if they were measured."""
        return median_run(self.cnsa2) if self.cnsa2 else None

    def mb_per_s(self, seconds: float) -> float:
        return self.settings.size / seconds / 1e6

    def baseline(self, mode: str) -> float:
        """The median run of a baseline, in seconds."""
        return statistics.median_low(self.baselines[mode])

    def baseline_cpu_per_gib(self, mode: str) -> float:
        """CPU seconds per GiB of the median run of a baseline (both processes)."""
        runs = self.baselines[mode]
        at = runs.index(self.baseline(mode))
        return scp_bench.cpu_per_gib(self.baseline_cpu[mode][at], self.settings.size)

    @property
    def hotline_cpu_per_gib(self) -> float:
        """CPU seconds per GiB of both daemons over Hotline's median transfer."""
        return scp_bench.cpu_per_gib(sum(self.best.cpu), self.settings.size)

    @property
    def cnsa2_cpu_per_gib(self) -> float:
        """CPU seconds per GiB of both ``cnsa2`` daemons over their median transfer (nan: none)."""
        run = self.cnsa2_run
        return float("nan") if run is None else scp_bench.cpu_per_gib(sum(run.cpu), self.settings.size)

    @property
    def peak_kib(self) -> tuple[int, int]:
        """The highest VmHWM of each daemon over every transfer."""
        runs = [*self.hotline, self.busy]
        return max(run.hwm_kib[0] for run in runs), max(run.hwm_kib[1] for run in runs)

    @property
    def busy_flashes(self) -> list[float]:
        return [flash.seconds for flash in self.busy.flashes if flash.during]


def median_run(runs: list[HotlineRun]) -> HotlineRun:
    """The run of median total time (the lower middle one of an even count)."""
    ordered = sorted(runs, key=lambda run: run.total)
    return ordered[(len(ordered) - 1) // 2]


def percentile_ms(seconds: list[float], p: int) -> float:
    """The ``p``-th percentile in milliseconds (inclusive method, as elsewhere in the benchmarks)."""
    if len(seconds) < 2:
        return 1e3 * seconds[0] if seconds else float("nan")
    return 1e3 * statistics.quantiles(seconds, n=100, method="inclusive")[p - 1]


# -- the pieces


#: The passes over every byte of a document that Hotline cannot leave out, by profile: the sender
#: hashes it and seals it into records, the receiver opens the records, seals the chunks at rest and
#: hashes them.
HOTLINE_PASSES = {"BLAKE3": 2, "ChaCha20-Poly1305": 3}
CNSA2_PASSES = {"SHA-384": 2, "AES-256-GCM": 3}
#: What the TLS baseline does to every byte: seal at one end, open at the other.
TLS_PASSES = {"AES-256-GCM": 2}
#: The same for the two scp baselines, by cipher.
SCP_CIPHER_PASSES = {
    "chacha20-poly1305@openssh.com": {"ChaCha20-Poly1305": 2},
    "aes256-gcm@openssh.com": {"AES-256-GCM": 2},
}


def crypto_floor(sample: int = 256 * 2**20) -> dict[str, float]:
    """CPU seconds per GiB of one pass of each primitive over 64 KiB pieces (``sample`` bytes timed,
    best of 3), in this process: the document hashes (BLAKE3, SHA-256, SHA-384, one thread each) and
    ChaCha20-Poly1305 and AES-256-GCM seals (pyca)."""
    piece = os.urandom(CHUNK_BYTES)
    pieces = sample // CHUNK_BYTES
    nonce = bytes(12)
    chacha, aes = ChaCha20Poly1305(os.urandom(32)), AESGCM(os.urandom(32))

    def hashing(name: HasherName) -> Callable[[], None]:
        def run() -> None:
            digest = hasher(name)
            for _ in range(pieces):
                digest.update(piece)

        return run

    def seal(aead: ChaCha20Poly1305 | AESGCM) -> Callable[[], None]:
        def run() -> None:
            for _ in range(pieces):
                aead.encrypt(nonce, piece, None)

        return run

    passes = {
        "BLAKE3": hashing("BLAKE3"),
        "SHA-256": hashing("SHA256"),
        "SHA-384": hashing("SHA384"),
        "ChaCha20-Poly1305": seal(chacha),
        "AES-256-GCM": seal(aes),
    }
    floor = {}
    for name, run in passes.items():
        best = float("inf")
        for _ in range(3):
            start = time.process_time()
            run()
            best = min(best, time.process_time() - start)
        floor[name] = best * 2**30 / (pieces * CHUNK_BYTES)
    return floor


def _random_file(path: Path, size: int) -> None:
    """``size`` random bytes at ``path``, fsynced (and left in the page cache)."""
    import numpy as np

    rng = np.random.default_rng()
    block = 16 * 2**20
    with path.open("wb") as f:
        left = size
        while left:
            n = min(block, left)
            f.write(rng.bytes(n))
            left -= n
        f.flush()
        os.fsync(f.fileno())


def _self_signed(name: str, certs: Path) -> None:
    """A self-signed ECDSA P-256 certificate for ``name``: ``NAME.crt`` and ``NAME.pem`` (with the key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"hotline bench {name}")])
    now = datetime.datetime.now(datetime.UTC)
    names: list[x509.GeneralName] = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    (certs / f"{name}.crt").write_bytes(pem)
    (certs / f"{name}.pem").write_bytes(
        pem
        + key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )


def _baseline(mode: str, path: Path, size: int, out: Path, certs: Path) -> tuple[float, str, float]:
    """One baseline transfer of ``path`` into ``out``: seconds (in the sender), the TLS cipher, and
    the CPU seconds (user + system) of its two processes."""
    cpu = scp_bench.children_cpu()
    receiver = subprocess.Popen(
        [sys.executable, "-c", BASELINE, "receive", mode, str(out), str(size), str(certs)],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert receiver.stdout is not None
        port = receiver.stdout.readline().strip()
        if not port:
            raise BenchError(f"the {mode} baseline's receiver did not start")
        sender = subprocess.run(
            [sys.executable, "-c", BASELINE, "send", mode, str(path), port, str(certs)],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if sender.returncode != 0:
            raise BenchError(f"the {mode} baseline's sender failed: {sender.stderr[-2000:]}")
        cipher = receiver.stdout.readline().strip()
        receiver.wait(60)
        return float(sender.stdout.split()[-1]), cipher, scp_bench.children_cpu() - cpu
    finally:
        if receiver.poll() is None:
            receiver.kill()
            receiver.wait()
        if receiver.stdout is not None:
            receiver.stdout.close()
        out.unlink(missing_ok=True)


def _start_pair(
    root: Path, names: tuple[str, str], profile: str = "standard"
) -> tuple[StationProc, StationProc]:
    """Two stations made, paired with a line of ``profile``, started and with the line up."""
    a, b = _station(root, names[0]), _station(root, names[1])
    pair(a, b, profile=profile)
    for station in (a, b):
        station.start(wait=False)
    for station in (a, b):
        station.wait_ready()
    a.wait_line(b)
    b.wait_line(a)
    return a, b


def _station(root: Path, name: str) -> StationProc:
    port = free_port()
    home = root / name
    create_station(home, name, f"{HOST}:{port}", PASSPHRASE, kdf="light")
    station = StationProc(home, name, port)
    # the benchmarks move documents beyond a government line's default quotas (10 GiB, unattended)
    big = QuotaDefaults(stored_bytes=2**50, document_bytes=2**40, approve_documents_above=2**40)
    station.configure(**FAST, quotas=big)
    return station


def _proc_status(pid: int | None, key: str) -> int:
    """A ``kB`` field of /proc/PID/status (VmRSS, VmHWM), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    raise BenchError(f"no {key} in /proc/{pid}/status")


def _reset_peak(pid: int | None) -> bool:
    """Reset the process's VmHWM to its VmRSS (``clear_refs`` 5); False where the kernel refuses."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _flash(a: StationProc, b: StationProc) -> float:
    """One FLASH message with ``wait``: seconds from the request until the far end's receipt is back."""
    started = perf_counter()
    done = a.request("send", peer=b.name, text=TEXT, precedence="flash", wait=30.0)
    seconds = perf_counter() - started
    if done.get("delivered_at") is None:
        raise BenchError(f"FLASH message {done.get('id')} is {done.get('state')} after wait")
    return seconds


def _flashes(a: StationProc, b: StationProc, count: int, origin: float) -> list[tuple[float, float]]:
    """``count`` FLASH messages, one every :data:`FLASH_EVERY` s: (start since ``origin``, seconds)."""
    out: list[tuple[float, float]] = []
    first = perf_counter()
    for i in range(count):
        delay = first + i * FLASH_EVERY - perf_counter()
        if delay > 0:
            time.sleep(delay)
        at = perf_counter() - origin
        out.append((at, _flash(a, b)))
    return out


def _incoming(b: StationProc, peer: str) -> dict[str, dict[str, Any]]:
    return {doc["id"]: doc for doc in b.request("files", peer=peer)["documents"] if doc["direction"] == "in"}


def _transfer(a: StationProc, b: StationProc, path: Path, flashes: int = 0) -> HotlineRun:
    """Send ``path`` from alpha to bravo and poll bravo until it is complete; FLASH messages meanwhile."""
    before = set(_incoming(b, a.name))
    reset = all([_reset_peak(a.pid), _reset_peak(b.pid)])
    cpu0 = scp_bench.process_cpu(a.pid), scp_bench.process_cpu(b.pid)
    wall = time.time()
    started = perf_counter()
    args = {"peer": b.name, "path": str(path), "precedence": "routine", "wait": False}
    sent = a.request("send.file", io_timeout=600.0, **args)
    queued = perf_counter() - started
    digest = sent["document"]["digest"]
    finished: list[float] = []
    stored: list[float] = []
    failure: list[str] = []

    def watch() -> None:
        deadline = perf_counter() + 600.0
        while perf_counter() < deadline:
            for ident, doc in _incoming(b, a.name).items():
                if ident in before or doc["digest"] != digest:
                    continue
                if doc["state"] == "complete":
                    finished.append(perf_counter() - started)
                    stored.append(float(doc["completed_at"] or 0.0) - wall)
                    return
                if doc["state"] == "failed":
                    failure.append(f"bravo failed the document: {doc.get('detail')}")
                    return
            time.sleep(POLL)
        failure.append("the document was not complete at bravo within 600 s")

    watcher = threading.Thread(target=watch, name="documents-watch", daemon=True)
    watcher.start()
    sent_flashes = _flashes(a, b, flashes, started) if flashes else []
    watcher.join()
    if failure:
        raise BenchError(failure[0])
    cpu1 = scp_bench.process_cpu(a.pid), scp_bench.process_cpu(b.pid)
    total = finished[0]
    return HotlineRun(
        total=total,
        queued=queued,
        total_stored=stored[0],
        cpu=(cpu1[0] - cpu0[0], cpu1[1] - cpu0[1]),
        hwm_kib=(_proc_status(a.pid, "VmHWM"), _proc_status(b.pid, "VmHWM")),
        hwm_reset=reset,
        flashes=[Flash(at, seconds, at + seconds <= total) for at, seconds in sent_flashes],
    )


def _measure(settings: Settings, console: Console) -> Results:
    root = Path(tempfile.mkdtemp(prefix="hotline-docs-"))
    started: list[StationProc] = []
    try:
        size = settings.size
        source = root / "random.bin"
        console.log(f"documents: writing {size / 2**20:,.0f} MiB of random bytes")
        _random_file(source, size)
        certs = root / "certs"
        certs.mkdir()
        _self_signed("server", certs)
        _self_signed("client", certs)
        keys = scp_bench.Keys.make(root / "ssh")

        a, b = _start_pair(root, ("alpha", "bravo"))
        started += [a, b]
        c, d = _start_pair(root, ("charlie", "delta"), "cnsa2")
        started += [c, d]

        console.log(f"documents: {settings.flashes} FLASH messages on the idle line (after 5 warm-up)")
        _flashes(a, b, 5, perf_counter())
        idle_flashes = [seconds for _, seconds in _flashes(a, b, settings.flashes, perf_counter())]
        time.sleep(1.0)
        idle_rss = (_proc_status(a.pid, "VmRSS"), _proc_status(b.pid, "VmRSS"))

        load = os.getloadavg()[0]
        runs: list[HotlineRun] = []
        modes = (TCP, TLS, *scp_bench.CIPHERS)
        baselines: dict[str, list[float]] = {mode: [] for mode in modes}
        baseline_cpu: dict[str, list[float]] = {mode: [] for mode in modes}
        cipher = ""
        cnsa2_runs: list[HotlineRun] = []
        for n in range(settings.runs):
            for label, pair_, out in (("standard", (a, b), runs), ("cnsa2", (c, d), cnsa2_runs)):
                run = _transfer(*pair_, source)
                out.append(run)
                console.log(
                    f"documents: run {n + 1}/{settings.runs}: Hotline {label} {run.total:.2f} s "
                    f"({size / run.total / 1e6:,.0f} MB/s, {scp_bench.cpu_per_gib(sum(run.cpu), size):.2f} "
                    f"CPU s per GiB; hashing and queueing {run.queued:.2f} s)"
                )
            for mode in modes:
                if mode in scp_bench.CIPHERS:
                    seconds, cpu = scp_bench.copy(source, mode, keys, root)
                else:
                    seconds, got, cpu = _baseline(mode, source, size, root / f"{mode}.out", certs)
                    cipher = got if mode == TLS else cipher
                baselines[mode].append(seconds)
                baseline_cpu[mode].append(cpu)
                console.log(
                    f"documents: run {n + 1}/{settings.runs}: {mode} {size / seconds / 1e6:,.0f} MB/s, "
                    f"{scp_bench.cpu_per_gib(cpu, size):.2f} CPU s per GiB"
                )

        console.log(
            f"documents: another transfer with {settings.flashes} FLASH messages, one every {FLASH_EVERY:g} s"
        )
        busy = _transfer(a, b, source, settings.flashes)
        console.log("documents: the cryptographic passes alone")
        floor = crypto_floor()
        during = sum(flash.during for flash in busy.flashes)
        console.log(f"documents: {during} of {len(busy.flashes)} FLASH messages answered during the transfer")
        return Results(
            settings,
            hotline=runs,
            busy=busy,
            baselines=baselines,
            baseline_cpu=baseline_cpu,
            floor=floor,
            tls_cipher=cipher,
            idle_rss_kib=idle_rss,
            idle_flashes=idle_flashes,
            load=(load, os.getloadavg()[0]),
            openssh=scp_bench.openssh_version(),
            cnsa2=cnsa2_runs,
        )
    finally:
        for station in started:
            with contextlib.suppress(AssertionError):
                station.stop()
        shutil.rmtree(root, ignore_errors=True)


async def run(settings: Settings, console: Console) -> Results:
    """Create, pair and start two stations, measure, clean up (blocking work, in a thread)."""
    return await asyncio.to_thread(_measure, settings, console)


__all__ = [
    "CNSA2_PASSES",
    "FLASH_EVERY",
    "FLASH_GOAL_MS",
    "HOTLINE_PASSES",
    "MEMORY_GOAL_MB",
    "QUICK",
    "SCP_CIPHER_PASSES",
    "TCP",
    "THROUGHPUT_GOAL",
    "TLS",
    "TLS_PASSES",
    "Flash",
    "HotlineRun",
    "Results",
    "Settings",
    "crypto_floor",
    "median_run",
    "percentile_ms",
    "run",
]
