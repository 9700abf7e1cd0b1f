#!/usr/bin/env python3
"""How long a new user takes from a fresh clone to two paired stations exchanging a message.

Runs the README's commands as written, in a scratch directory: clone the repository, set up the
virtualenv from the lock (``make venv``), then two stations on this machine: ``init``, ``card``,
``line add``, ``line grant`` / ``line accept``, ``line verify`` (and ``--confirm``), ``up``, ``send
--wait`` and ``inbox``. Each step is timed and a table printed, with the total with and without the
virtualenv. Only the machine's time is measured: reading, typing and carrying the card and the key
file to the other office come on top.

    python3 scripts/new-user-walkthrough.py                 # clone this repository, make venv
    python3 scripts/new-user-walkthrough.py --venv .venv    # reuse a virtualenv (no venv step)
    python3 scripts/new-user-walkthrough.py --repo URL      # clone from elsewhere

The passphrase comes from ``HOTLINE_PASSPHRASE``, as the README suggests, so nothing waits for a
prompt; the key derivation is the default one a real station uses.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

#: The scratch stations' passphrase (random words, as ``init`` wants; the stations are thrown away).
PASSPHRASE = "velvet quarry lantern oboe thistle migrate"
MESSAGE = "walkthrough: the line works"
#: Seconds a step may take before the walkthrough gives up on it.
STEP_TIMEOUT = 900.0


class StepFailed(Exception):
    """A step's command failed; the message holds its output."""


class Walkthrough:
    """Runs and times the steps; every process it starts is stopped at the end."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.times: list[tuple[str, float]] = []
        self.hotline: list[str] = []
        self.env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HOTLINE_HOME")}
        self.env["HOTLINE_PASSPHRASE"] = PASSPHRASE
        self.daemons: list[subprocess.Popen[bytes]] = []

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        print(f"... {name}", file=sys.stderr, flush=True)
        yield
        self.times.append((name, time.monotonic() - started))

    def run(self, args: list[str], cwd: Path | None = None) -> str:
        done = subprocess.run(
            args,
            cwd=cwd or self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=STEP_TIMEOUT,
            check=False,
        )
        if done.returncode != 0:
            raise StepFailed(f"{' '.join(args)} exited with {done.returncode}:\n{done.stdout}{done.stderr}")
        return done.stdout

    def station(self, name: str, *args: str) -> str:
        return self.run([*self.hotline, "--home", str(self.root / name), *args])

    def start(self, name: str) -> None:
        log = (self.root / f"{name}.log").open("ab")
        self.daemons.append(
            subprocess.Popen(
                [*self.hotline, "--home", str(self.root / name), "up"],
                cwd=self.root,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        )

    def wait_line_up(self, name: str, peer: str) -> None:
        deadline = time.monotonic() + STEP_TIMEOUT
        while time.monotonic() < deadline:
            for daemon in self.daemons:
                if daemon.poll() is not None:
                    log = (self.root / f"{name}.log").read_text(errors="replace")
                    raise StepFailed(f"a daemon exited with {daemon.returncode}:\n{log}")
            if (self.root / name / "control.sock").exists():
                with contextlib.suppress(StepFailed, ValueError):
                    status = json.loads(self.station(name, "--json", "status"))
                    states = {line.get("peer"): line.get("state") for line in status["lines"]}
                    if states.get(peer) == "up":
                        return
            time.sleep(0.05)
        raise StepFailed(f"the line {name} to {peer} did not come up")

    def stop(self) -> None:
        for daemon in self.daemons:
            if daemon.poll() is None:
                daemon.send_signal(signal.SIGTERM)
        for daemon in self.daemons:
            try:
                daemon.wait(15)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _repository() -> str:
    here = Path(__file__).resolve().parent
    found = subprocess.run(
        ["git", "rev-parse", "--show-toplevel"], cwd=here, capture_output=True, text=True, check=False
    )
    return found.stdout.strip() or str(here.parent)


def walk(w: Walkthrough, repo: str, venv: Path | None) -> None:
    clone = w.root / "hotline"
    with w.step("git clone"):
        w.run(["git", "clone", "--quiet", repo, str(clone)])
    if venv is None:
        with w.step("make venv (virtualenv from the lock)"):
            w.run(["make", "venv"], cwd=clone)
        w.hotline = [str(clone / ".venv" / "bin" / "hotline")]
    else:
        # the clone's sources with an existing virtualenv's packages
        w.env["PYTHONPATH"] = str(clone / "src")
        w.hotline = [str(venv / "bin" / "python"), "-m", "hotline"]

    ports = {"moscow": _free_port(), "jerusalem": _free_port()}
    with w.step("init, both stations"):
        for name, port in ports.items():
            w.station(name, "init", name, "--listen", f"127.0.0.1:{port}")
    with w.step("card, both stations"):
        for name in ports:
            w.station(name, "card", "--out", str(w.root / f"{name}.card"))
    with w.step("line add, both stations"):
        w.station("moscow", "line", "add", "jerusalem", str(w.root / "jerusalem.card"),
                  "--endpoint", f"127.0.0.1:{ports['jerusalem']}")  # fmt: skip
        w.station("jerusalem", "line", "add", "moscow", str(w.root / "moscow.card"),
                  "--endpoint", f"127.0.0.1:{ports['moscow']}")  # fmt: skip
    with w.step("line grant + line accept"):
        w.station("moscow", "line", "grant", "jerusalem", "--out", str(w.root / "key.bin"))
        w.station("jerusalem", "line", "accept", "moscow", str(w.root / "key.bin"))
    with w.step("line verify + --confirm, both"):
        numbers = [
            json.loads(w.station("moscow", "--json", "line", "verify", "jerusalem"))["digits"],
            json.loads(w.station("jerusalem", "--json", "line", "verify", "moscow"))["digits"],
        ]
        if numbers[0] != numbers[1]:
            raise StepFailed(f"the safety numbers differ: {numbers}")
        w.station("moscow", "line", "verify", "jerusalem", "--confirm")
        w.station("jerusalem", "line", "verify", "moscow", "--confirm")
    with w.step("up, both, until the line is up"):
        w.start("moscow")
        w.start("jerusalem")
        w.wait_line_up("moscow", "jerusalem")
        w.wait_line_up("jerusalem", "moscow")
    with w.step("send --precedence flash --wait"):
        w.station("moscow", "send", "jerusalem", "--precedence", "flash", "--wait", MESSAGE)
    with w.step("inbox"):
        # --json: the table wraps its text column to fit 80 columns, so the text is checked in JSON
        if MESSAGE not in w.station("jerusalem", "--json", "inbox"):
            raise StepFailed("the message is not in jerusalem's inbox")


def table(times: list[tuple[str, float]]) -> str:
    width = max(len(name) for name, _ in times)
    rows = [f"{'step':<{width}}  {'seconds':>8}", f"{'-' * width}  {'-' * 8}"]
    rows += [f"{name:<{width}}  {seconds:8.2f}" for name, seconds in times]
    total = sum(seconds for _, seconds in times)
    venv = sum(seconds for name, seconds in times if name.startswith("make venv"))
    rows.append(f"{'-' * width}  {'-' * 8}")
    if venv:
        rows.append(f"{'total':<{width}}  {total:8.2f}")
        rows.append(f"{'total without the virtualenv':<{width}}  {total - venv:8.2f}")
    else:
        rows.append(f"{'total (virtualenv reused)':<{width}}  {total:8.2f}")
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--repo", default=_repository(), help="what to clone (default: this repository)")
    parser.add_argument("--venv", type=Path, help="reuse this virtualenv instead of `make venv`")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = parser.parse_args()
    if args.venv is not None and not (args.venv / "bin" / "python").exists():
        parser.error(f"{args.venv} is not a virtualenv (no bin/python)")
    root = Path(tempfile.mkdtemp(prefix="hotline-walkthrough-"))
    w = Walkthrough(root)
    try:
        walk(w, args.repo, args.venv.resolve() if args.venv else None)
    except (StepFailed, subprocess.TimeoutExpired) as exc:
        print(f"walkthrough failed: {exc}", file=sys.stderr)
        return 1
    finally:
        w.stop()
        if args.keep:
            print(f"kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    print(table(w.times))
    return 0


if __name__ == "__main__":
    sys.exit(main())
