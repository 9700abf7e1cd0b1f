"""Real station daemons on loopback, for the station's integration tests.

A :class:`Cluster` owns a scratch directory with any number of stations in it; :meth:`Cluster.add`
creates one (light key derivation, fast test timers in ``station.toml``) and :func:`pair` joins two
of them the way operators do it, offline, before either daemon starts. Each :class:`StationProc`
starts its daemon as a separate process (:func:`daemon_command` is the one place that says how),
talks to it over ``control.sock`` with a tiny blocking client, and falls back to running the request
in this process (``hotline.station.offline``) when its daemon is stopped, as the CLI does.

Rules the harness keeps, so tests stay honest and leave nothing behind:

* every process a test started is SIGKILLed when the cluster closes, pass or fail (the fixture in each
  test module wraps the cluster in ``with``);
* a daemon's stderr goes to ``daemon.log`` in its station directory (appended across restarts) and
  the tail of every log is printed when the cluster closes, which pytest shows for failed tests only;
* the scratch directory lives directly under the system temp directory, because a Unix socket
  path must stay under ~107 bytes and pytest's ``tmp_path`` can be longer than that; it is removed
  at the end unless ``HOTLINE_TEST_KEEP`` is set.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import msgspec

from hotline.station.config import LineSettings, load_config, save_config
from hotline.station.errors import StationError
from hotline.station.home import create_station
from hotline.station.offline import run_request

PASSPHRASE = "integration tests only: not a real passphrase"

#: Settings every test station gets unless the test asks otherwise: faults resolve in about a second.
FAST = {
    "heartbeat": 1.0,
    "redial_min": 0.05,
    "redial_max": 0.5,
    "line_test_interval": 3600.0,
    "line_test_timeout": 10.0,
}

#: Start daemons through the real CLI (``hotline --home DIR up``). Set to False to run
#: ``hotline.station.daemon.run_daemon`` directly, e.g. while the CLI is broken.
DAEMON_VIA_CLI = True


#: The command line of the ``hotline`` CLI in this interpreter (its arguments follow).
HOTLINE = (sys.executable, "-c", "from hotline.cli.main import main; main()")


def daemon_command(home: Path) -> list[str]:
    """The command line that runs the station daemon for ``home`` in the foreground.

    The passphrase and home also travel in the environment (``HOTLINE_PASSPHRASE``, ``HOTLINE_HOME``).
    """
    if DAEMON_VIA_CLI:
        return [*HOTLINE, "--home", str(home), "up"]
    return [
        sys.executable,
        "-c",
        "from pathlib import Path; from hotline.station.daemon import run_daemon; import os; "
        "run_daemon(Path(os.environ['HOTLINE_HOME']), os.environ['HOTLINE_PASSPHRASE'])",
    ]


#: Listening ports for daemons come from below the kernel's ephemeral range (32768 and up on
#: Linux), which every outgoing connection draws its source port from: a port found free there can be
#: taken by some test's client before the daemon binds it. Each test worker has its own block, so
#: two workers never hand out the same port, and a worker goes round its block in order.
_PORT_BLOCK = 1500
_PORT_BASE = 20000
_next_port = itertools.count()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago and that no other test worker hands out."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    block = int(worker[2:]) % 8 if worker[2:].isdigit() else 0
    for _ in range(_PORT_BLOCK):
        port = _PORT_BASE + block * _PORT_BLOCK + next(_next_port) % _PORT_BLOCK
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in this worker's block {block}")


class RequestFailed(Exception):
    """A station answered a request with an error (``code`` is docs/control.md's error code)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class ConnectionLost(RequestFailed):
    """The control connection broke after the request was written: it may or may not have run."""


class NotRunning(RequestFailed):
    """Nothing accepts connections on the control socket: the request was not delivered at all."""


def control_request(path: Path, op: str, args: dict[str, Any], *, timeout: float = 30.0) -> dict[str, Any]:
    """One request over a fresh connection to the control socket; returns its ``result``.

    Stream events (``wait``) are skipped; the final result line is returned.

    Raises:
        NotRunning: nothing answers on ``path``.
        ConnectionLost: the connection ended before the answer.
        RequestFailed: the station answered with an error.
    """
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        try:
            s.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            raise NotRunning("not-running", f"{path}: {exc}") from None
        try:
            s.sendall(json.dumps({"op": op, "args": args}).encode() + b"\n")
            with s.makefile("rb") as answers:
                while True:
                    line = answers.readline()
                    if not line:
                        raise ConnectionLost("connection-lost", f"{op}: the daemon closed the connection")
                    reply = json.loads(line)
                    if not reply["ok"]:
                        raise RequestFailed(reply["error"]["code"], reply["error"]["message"])
                    if "result" in reply:
                        return dict(reply["result"])
        except OSError as exc:  # reset, broken pipe, or the timeout
            raise ConnectionLost("connection-lost", f"{op}: {exc!r}") from None


class StationProc:
    """One station directory and, while started, its daemon process."""

    def __init__(self, home: Path, name: str, port: int) -> None:
        self.home = home
        self.name = name
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = home / "daemon.log"
        self.starts = 0

    def __repr__(self) -> str:
        return f"<StationProc {self.name} :{self.port} pid={self.pid}>"

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def control(self) -> Path:
        return self.home / "control.sock"

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # -- settings

    def configure(self, **settings: Any) -> None:
        """Change ``station.toml`` (takes effect at the next start)."""
        path = self.home / "station.toml"
        save_config(path, msgspec.structs.replace(load_config(path), **settings))

    # -- the daemon

    def start(
        self, *, wait: bool = True, timeout: float = 20.0, env: Mapping[str, str] | None = None
    ) -> None:
        """Start the daemon; with ``wait``, return once its control socket answers. ``env``: more
        environment for this start only (:func:`sitecustomize`, say)."""
        assert not self.running, f"{self.name} is already running"
        environment = {
            **os.environ,
            **(env or {}),
            "HOTLINE_HOME": str(self.home),
            "HOTLINE_PASSPHRASE": PASSPHRASE,
            "PYTHONUNBUFFERED": "1",
        }
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"---- start #{self.starts} at {time.time():.3f}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                daemon_command(self.home),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=environment,
                start_new_session=True,
            )
        if wait:
            self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 20.0) -> None:
        """Wait until the daemon we started answers on its control socket."""
        deadline = time.monotonic() + timeout
        while True:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"{self.name}'s daemon exited with {self.proc.returncode}:\n{self.log_tail()}"
                )
            try:
                info = control_request(self.control, "station", {}, timeout=5)
            except (NotRunning, ConnectionLost):
                info = None
            if info is not None and info.get("pid") == self.proc.pid:
                return
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.name}'s daemon did not come up in {timeout} s:\n{self.log_tail()}"
                )
            time.sleep(0.02)

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM the daemon and wait for it; returns its exit status."""
        proc = self.proc
        assert proc is not None, f"{self.name} was never started"
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise AssertionError(
                    f"{self.name} did not stop within {timeout} s of SIGTERM:\n{self.log_tail()}"
                ) from None
        return int(proc.returncode)

    def kill(self) -> None:
        """SIGKILL the daemon and reap it."""
        proc = self.proc
        assert proc is not None
        if proc.poll() is None:
            proc.kill()
        proc.wait()

    def signal(self, signum: int) -> None:
        """Send ``signum`` (e.g. SIGSTOP/SIGCONT) to the running daemon."""
        assert self.proc is not None and self.proc.poll() is None
        os.kill(self.proc.pid, signum)

    # -- requests

    def request(self, op: str, *, io_timeout: float | None = None, **args: Any) -> dict[str, Any]:
        """Run ``op`` through the daemon if it runs, else offline in this process; returns the result.

        Every keyword but ``io_timeout`` is an argument of ``op``, ``timeout`` included (``wait`` and
        ``test`` take one). ``io_timeout`` bounds the control socket's reads; by default it is 30 s
        more than the op's own ``timeout``, so the op's answer arrives before the socket gives up.

        Raises:
            RequestFailed: the station refused (``code`` as docs/control.md lists them).
        """
        if self.running:
            wait = float(args.get("timeout") or 0)
            return control_request(self.control, op, args, timeout=io_timeout or max(30.0, wait + 30))
        try:
            return run_request(self.home, PASSPHRASE, op, args)
        except StationError as exc:
            raise RequestFailed(exc.code, exc.message) from None

    def online(self, op: str, *, timeout: float = 30.0, **args: Any) -> dict[str, Any]:
        """Run ``op`` through the control socket only (no offline fallback).

        Raises:
            NotRunning: no daemon answers (the request was not delivered).
            ConnectionLost: the daemon went away before answering (it may have run).
            RequestFailed: the station refused.
        """
        return control_request(self.control, op, args, timeout=timeout)

    def status(self) -> dict[str, Any]:
        return self.request("status")

    def line(self, peer: str | StationProc) -> dict[str, Any]:
        """Our line to ``peer`` as ``status`` shows it."""
        name = peer if isinstance(peer, str) else peer.name
        for line in self.status()["lines"]:
            if line["peer"] == name:
                return dict(line)
        raise AssertionError(f"{self.name} has no line to {name}")

    def wait_until(
        self,
        predicate: Callable[[dict[str, Any]], object],
        timeout: float = 15.0,
        what: str = "condition",
        interval: float = 0.05,
    ) -> dict[str, Any]:
        """Poll ``status`` until ``predicate(status)`` holds; returns that status.

        Raises:
            AssertionError: it did not hold within ``timeout`` seconds (with the last status).
        """
        deadline = time.monotonic() + timeout
        while True:
            status = self.status()
            if predicate(status):
                return status
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.name}: {what} not reached in {timeout} s; last status:\n"
                    f"{json.dumps(status, indent=1)}"
                )
            time.sleep(interval)

    def wait_line(self, peer: str | StationProc, state: str = "up", timeout: float = 15.0) -> dict[str, Any]:
        """Wait until our line to ``peer`` is in ``state``; returns that line's status."""
        name = peer if isinstance(peer, str) else peer.name

        def reached(status: dict[str, Any]) -> bool:
            return any(ln["peer"] == name and ln["state"] == state for ln in status["lines"])

        status = self.wait_until(reached, timeout, f"line to {name} {state}")
        return next(ln for ln in status["lines"] if ln["peer"] == name)

    def send(self, peer: str | StationProc, text: str, precedence: str = "routine") -> dict[str, Any]:
        name = peer if isinstance(peer, str) else peer.name
        return self.request("send", peer=name, text=text, precedence=precedence)

    def inbox(self, peer: str | StationProc | None = None) -> list[dict[str, Any]]:
        """Every received text message (the request pages by 1000; this follows ``since``)."""
        name = peer if peer is None or isinstance(peer, str) else peer.name
        out: list[dict[str, Any]] = []
        since = 0
        while True:
            args: dict[str, Any] = {"since": since}
            if name is not None:
                args["peer"] = name
            page = self.request("inbox", **args)["messages"]
            if not page:
                return out
            out.extend(page)
            since = int(page[-1]["inbox"])

    def log(self, peer: str | StationProc, limit: int = 10_000) -> list[dict[str, Any]]:
        name = peer if isinstance(peer, str) else peer.name
        return list(self.request("log", peer=name, limit=limit)["entries"])

    def sent(self, peer: str | StationProc) -> list[dict[str, Any]]:
        """Our outbound text messages on the line to ``peer``, in queue order (from ``log``)."""
        messages = [
            e["message"]
            for e in self.log(peer)
            if e["kind"] == "message"
            and e["message"]["direction"] == "out"
            and e["message"]["kind"] == "text"
        ]
        return sorted(messages, key=lambda m: int(m["inbox"]))

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no daemon log)"
        return "\n".join(text.splitlines()[-lines:])


class Cluster:
    """Stations in one scratch directory; closing it kills every daemon and prints their logs."""

    def __init__(self, prefix: str = "hl-") -> None:
        self.root = Path(tempfile.mkdtemp(prefix=prefix))
        self.stations: list[StationProc] = []

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add(self, name: str, *, dirname: str | None = None, **settings: Any) -> StationProc:
        """Create a station ``name`` listening on a fresh loopback port, with :data:`FAST` settings.

        ``dirname`` names its directory when two stations share a name (an impostor).
        """
        port = free_port()
        home = self.root / (dirname or name)
        create_station(home, name, f"127.0.0.1:{port}", PASSPHRASE, kdf="light")
        station = StationProc(home, name, port)
        station.configure(**{**FAST, **settings})
        self.stations.append(station)
        return station

    def start_all(self, *stations: StationProc) -> None:
        """Start several daemons at once, then wait for each."""
        chosen = stations or tuple(self.stations)
        for station in chosen:
            station.start(wait=False)
        for station in chosen:
            station.wait_ready()

    def close(self) -> None:
        for station in self.stations:
            proc = station.proc
            if proc is not None and proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGCONT)  # a stopped process must not stay stopped
                proc.kill()
            if proc is not None:
                proc.wait()
        for station in self.stations:
            print(f"==== {station.name} daemon.log (tail) ====")
            print(station.log_tail())
        if os.environ.get("HOTLINE_TEST_KEEP"):
            print(f"kept the station directories in {self.root}")
        else:
            shutil.rmtree(self.root, ignore_errors=True)


def two_up(
    cluster: Cluster, line: LineSettings | None = None, *, profile: str | None = None, **settings: Any
) -> tuple[StationProc, StationProc]:
    """alpha and bravo in ``cluster``, paired, dialling each other directly, their daemons up with the
    line up at both ends. ``line`` gives both ends the same ``[lines.NAME]`` settings (a carrier,
    say); ``profile`` is the line's profile (``standard`` when None); ``settings`` go to both
    ``station.toml`` files."""
    a, b = cluster.add("alpha", **settings), cluster.add("bravo", **settings)
    pair(a, b, profile=profile)
    if line is not None:
        a.configure(lines={b.name: line})
        b.configure(lines={a.name: line})
    cluster.start_all(a, b)
    a.wait_line(b)
    b.wait_line(a)
    return a, b


@contextlib.contextmanager
def paired_and_up(
    line: LineSettings | None = None, *, profile: str | None = None, **settings: Any
) -> Iterator[tuple[StationProc, StationProc]]:
    """:func:`two_up` in a cluster of their own, stopped after."""
    with Cluster() as cluster:
        yield two_up(cluster, line, profile=profile, **settings)


def pair(
    a: StationProc,
    b: StationProc,
    *,
    a_endpoints: list[str] | None = None,
    b_endpoints: list[str] | None = None,
    profile: str | None = None,
) -> None:
    """Make a verified, keyed line between ``a`` and ``b`` (offline: neither daemon may be running).

    Cards cross with ``card`` + ``line.add``, ``a`` grants the line key and ``b`` accepts it, and
    both confirm the safety number. ``a_endpoints`` overrides where ``a`` dials ``b``, and
    ``b_endpoints`` where ``b`` dials ``a``; ``profile`` is the line's (``standard`` when None).
    """
    card_a, card_b = a.request("card"), b.request("card")
    given = {} if profile is None else {"profile": profile}
    a.request("line.add", peer=b.name, card=card_b["armored"], endpoints=a_endpoints or [b.endpoint], **given)
    b.request("line.add", peer=a.name, card=card_a["armored"], endpoints=b_endpoints or [a.endpoint], **given)
    sealed = a.request("line.grant", peer=b.name)["sealed"]
    b.request("line.accept", peer=a.name, sealed=sealed)
    number_a = a.request("line.verify", peer=b.name, confirm=True)
    number_b = b.request("line.verify", peer=a.name, confirm=True)
    assert number_a["digits"] == number_b["digits"], "the two sides see different safety numbers"
    assert number_a["verified"] and number_b["verified"]


class CliProcess:
    """A ``hotline … --json`` command running in the background (``call``, ``answer``), read line by line."""

    def __init__(self, station: StationProc, *args: str) -> None:
        env = {**os.environ, "HOTLINE_PASSPHRASE": PASSPHRASE, "HOTLINE_HOME": str(station.home)}
        self.args = args
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hotline", "--json", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with contextlib.suppress(ValueError):
                self.events.put(json.loads(line))

    def next_event(self, kind: str, timeout: float = 20.0) -> dict[str, Any]:
        """The next event whose ``event`` is ``kind`` (the final result has no ``event``: use "")."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"`hotline {' '.join(self.args)}` never said {kind!r}; it said {self.seen}"
                )
            try:
                event = self.events.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                if self.proc.poll() is not None and self.events.empty():
                    stderr = self.proc.stderr.read() if self.proc.stderr else ""
                    command, code = " ".join(self.args), self.proc.returncode
                    why = f"`hotline {command}` exited {code} before {kind!r}: {stderr}"
                    raise AssertionError(why) from None
                continue
            self.seen.append(event)
            if event.get("event", "") == kind:
                return event

    def result(self, timeout: float = 60.0) -> dict[str, Any]:
        """Wait for the command to end; its last JSON line (the call as it ended)."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(f"`hotline {' '.join(self.args)}` still running after {timeout} s") from None
        stderr = self.proc.stderr.read() if self.proc.stderr else ""
        assert self.proc.returncode == 0, f"`hotline {' '.join(self.args)}` failed: {stderr}"
        last: dict[str, Any] | None = None
        while not self.events.empty():
            last = self.events.get()
            self.seen.append(last)
        if last is None or "event" in last:
            time.sleep(0.2)  # the reader thread may be a line behind the exit
            while not self.events.empty():
                last = self.events.get()
                self.seen.append(last)
        assert last is not None and "event" not in last, f"no final result; saw {self.seen}"
        return last

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def request_once(
    station: StationProc, op: str, *, patience: float = 30.0, **args: Any
) -> dict[str, Any] | None:
    """``op`` through the control socket, sent once: retried only while no daemon answers (then it
    cannot have run), for up to ``patience`` seconds. Its result, or None when the connection broke
    before the answer (it may or may not have run): what a crash test must count as uncertain."""
    deadline = time.monotonic() + patience
    while True:
        try:
            return station.online(op, **args)
        except NotRunning:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)
        except ConnectionLost:
            return None


def sitecustomize(directory: Path, code: str) -> dict[str, str]:
    """Write ``code`` as ``sitecustomize.py`` in ``directory``; the environment that makes a daemon
    load it before anything else (:meth:`StationProc.start`): a station that misbehaves on purpose."""
    directory.mkdir()
    (directory / "sitecustomize.py").write_text(code)
    return {"PYTHONPATH": os.pathsep.join([str(directory), os.environ.get("PYTHONPATH", "")])}


def wait_for(predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll ``predicate()`` until it returns something truthy; return it, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached in {timeout} s")
        time.sleep(interval)


__all__ = [
    "FAST",
    "HOTLINE",
    "PASSPHRASE",
    "CliProcess",
    "Cluster",
    "ConnectionLost",
    "NotRunning",
    "RequestFailed",
    "StationProc",
    "control_request",
    "daemon_command",
    "free_port",
    "pair",
    "paired_and_up",
    "sitecustomize",
    "two_up",
    "wait_for",
]
