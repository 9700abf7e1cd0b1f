"""A hub under steady traffic: one hub daemon, many peer stations, messages both ways, /proc samples.

The hub is a real daemon (:class:`~tests.support.stations.StationProc`). The peers are served the
way the hub benchmark serves them (bench/hub.py): :class:`~hotline.station.service.Station` objects
side by side in one event loop of one separate process, each with its own store, port and control
socket, because two hundred daemon processes would measure the machine rather than the hub. The
lines are paired offline through the same request dispatcher as the CLI's offline mode.

:func:`drive` is the load: every peer sends to the hub on a schedule of its own (one message every
``period`` seconds, the gap drawn uniformly, the start staggered so the total rate is steady), the hub
sends a share back to peers picked at random, and the hub's and the peers' resident memory and CPU
time are read from ``/proc`` every ``sample_every`` seconds. Everything runs in one asyncio loop in
the test's process, over one pipelined control connection per station (bench/station.py's
:class:`~bench.station.Control`). :func:`check` then compares every inbox with what was sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import hub as bench_hub
from bench.station import PASSPHRASE as PEER_PASSPHRASE
from bench.station import Control, new_station, station_env

#: How the peers' process is started: bench/hub.py's ``serve_peers`` with the peers' homes as arguments.
PEERS = "import sys; from bench.hub import serve_peers; serve_peers(sys.argv[1:])"
ROOT = Path(__file__).resolve().parent.parent.parent


def rss_kib(pid: int) -> int:
    """Resident set size (``VmRSS``) of process ``pid`` in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for process {pid}")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of process ``pid`` so far (all its threads)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    # after the command, the state is field 3, so utime (14) and stime (15) are at 11 and 12
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- stations


def make_peers(root: Path, count: int) -> list[Path]:
    """Create ``count`` peer stations under ``root`` (ports below the ephemeral range); their homes."""
    return [new_station(root, f"peer{i:03d}") for i in range(count)]


def pair_hub(hub: Path, hub_passphrase: str, peers: list[Path]) -> None:
    """A verified, keyed line between the hub and every peer (all stopped); the hub makes the keys."""
    asyncio.run(bench_hub.pair_hub(hub, peers, hub_passphrase))


class PeerProcess:
    """The peers' process: every peer station served in one event loop until killed."""

    def __init__(self, homes: list[Path], log: Path) -> None:
        self.log = log
        with log.open("ab") as errors:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", PEERS, *map(str, homes)],
                env=station_env(),
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=errors,
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Wait until the process says every peer listens."""
        said: list[bytes] = []
        stdout = self.proc.stdout
        assert stdout is not None
        reader = threading.Thread(target=lambda: said.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        if not said or said[0].strip() != b"ready":
            tail = self.log.read_text("utf-8", "replace")[-3000:]
            raise AssertionError(f"the peers' process said {said} within {timeout:g} s:\n{tail}")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


# -- the load


@dataclass(frozen=True)
class Plan:
    """How much traffic, for how long."""

    seconds: float
    #: Seconds between two messages of one line (drawn uniformly between the two).
    period: tuple[float, float] = (5.0, 10.0)
    #: The hub sends back this share of what it receives (spread over random peers).
    reply_share: float = 0.25
    sample_every: float = 10.0
    seed: int = 1


@dataclass(frozen=True)
class Sample:
    """One reading of the processes, ``at`` seconds after the load started."""

    at: float
    hub_rss_kib: int
    hub_cpu: float
    peers_rss_kib: int
    peers_cpu: float
    #: Messages sent so far (both ways).
    sent: int


@dataclass
class Traffic:
    """What :func:`drive` sent and saw."""

    #: (sender, receiver) -> [(message id, text)] in the order sent.
    sent: dict[tuple[str, str], list[tuple[str, str]]] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)
    #: Requests the stations refused or did not answer (the load has no faults: should be none).
    errors: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.sent.values())

    def record(self, sender: str, receiver: str, message_id: str, text: str) -> None:
        self.sent.setdefault((sender, receiver), []).append((message_id, text))


async def _send_steadily(
    control: Control, sender: str, pick: Any, traffic: Traffic, gap: Any, stop_at: float
) -> None:
    """Send from ``sender`` to ``pick()`` every ``gap()`` seconds until ``stop_at`` (loop time)."""
    loop = asyncio.get_running_loop()
    due = loop.time() + gap()
    n = 0
    while due < stop_at:
        await asyncio.sleep(max(0.0, due - loop.time()))
        receiver = pick()
        text = f"{sender} to {receiver} #{n:06d} " + "load " * 20
        try:
            result = await control.request("send", peer=receiver, text=text, precedence="routine")
        except Exception as exc:  # any failure is a finding: count it and carry on
            traffic.errors.append(f"{sender} -> {receiver} #{n}: {exc!r}")
        else:
            traffic.record(sender, receiver, result["id"], text)
        n += 1
        due += gap()


async def _sample(hub_pid: int, peers_pid: int, traffic: Traffic, every: float, seconds: float) -> None:
    """Read /proc at the start and every ``every`` seconds until ``seconds`` have passed."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    for n in range(int(seconds / every + 1e-9) + 1):
        await asyncio.sleep(max(0.0, started + n * every - loop.time()))
        traffic.samples.append(
            Sample(
                round(loop.time() - started, 2),
                rss_kib(hub_pid),
                cpu_seconds(hub_pid),
                rss_kib(peers_pid),
                cpu_seconds(peers_pid),
                traffic.total,
            )
        )


async def _drive(hub: Path, hub_pid: int, peers: list[Path], peers_pid: int, plan: Plan) -> Traffic:
    rng = random.Random(plan.seed)
    traffic = Traffic()
    names = [p.name for p in peers]
    controls = [await Control.open(home) for home in peers]
    hub_control = await Control.open(hub)
    loop = asyncio.get_running_loop()
    stop_at = loop.time() + plan.seconds
    low, high = plan.period
    # the hub's share, as one sender with the same total rate
    hub_mean = (low + high) / 2 / len(peers) / plan.reply_share
    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(_sample(hub_pid, peers_pid, traffic, plan.sample_every, plan.seconds))
            for name, control in zip(names, controls, strict=True):
                first = rng.uniform(0, high)
                gaps = random.Random(rng.random())
                gap_of = _gaps(first, low, high, gaps)
                tg.create_task(_send_steadily(control, name, lambda: hub.name, traffic, gap_of, stop_at))
            tg.create_task(
                _send_steadily(
                    hub_control,
                    hub.name,
                    lambda: rng.choice(names),
                    traffic,
                    lambda: rng.uniform(0.5 * hub_mean, 1.5 * hub_mean),
                    stop_at,
                )
            )
    finally:
        for control in [*controls, hub_control]:
            await control.close()
    return traffic


def _gaps(first: float, low: float, high: float, rng: random.Random) -> Any:
    """A gap function: ``first`` once (the stagger), then uniform gaps between ``low`` and ``high``."""
    pending = [first]

    def gap() -> float:
        return pending.pop() if pending else rng.uniform(low, high)

    return gap


def drive(hub: Path, hub_pid: int, peers: list[Path], peers_pid: int, plan: Plan) -> Traffic:
    """Run the load of ``plan`` against the running hub and peers; what was sent and sampled."""
    return asyncio.run(_drive(hub, hub_pid, peers, peers_pid, plan))


# -- after the load


async def _drained(control: Control) -> bool:
    lines = (await control.request("status"))["lines"]
    return all(line["queued"] == 0 and line["in_flight"] == 0 for line in lines)


async def _inbox(control: Control) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    since = 0
    while True:
        page = (await control.request("inbox", since=since))["messages"]
        if not page:
            return out
        out.extend(page)
        since = int(page[-1]["inbox"])


async def _collect(homes: list[Path], timeout: float) -> dict[str, list[dict[str, Any]]]:
    controls = {home.name: await Control.open(home) for home in homes}
    try:
        deadline = time.monotonic() + timeout
        waiting = set(controls)
        while waiting:
            waiting = {name for name in waiting if not await _drained(controls[name])}
            if waiting and time.monotonic() > deadline:
                raise AssertionError(
                    f"{len(waiting)} stations still hold queued messages, e.g. {min(waiting)}"
                )
            if waiting:
                await asyncio.sleep(0.5)
        return {name: await _inbox(control) for name, control in controls.items()}
    finally:
        for control in controls.values():
            await control.close()


def collect(homes: list[Path], timeout: float = 120.0) -> dict[str, list[dict[str, Any]]]:
    """Wait until no station has anything queued or in flight; then every station's whole inbox."""
    return asyncio.run(_collect(homes, timeout))


@dataclass(frozen=True)
class Findings:
    """What :func:`check` found, direction by direction."""

    checked: int
    lost: list[str]
    doubled: list[str]
    misplaced: list[str]
    out_of_order: list[str]


def check(traffic: Traffic, inboxes: dict[str, list[dict[str, Any]]]) -> Findings:
    """Every sent message in its receiver's inbox exactly once, from the right peer, in send order."""
    lost: list[str] = []
    doubled: list[str] = []
    misplaced: list[str] = []
    out_of_order: list[str] = []
    checked = 0
    for (sender, receiver), sent in traffic.sent.items():
        got = [m for m in inboxes[receiver] if m["peer"] == sender and m["kind"] == "text"]
        got_ids = [m["id"] for m in got]
        counts = Counter(got_ids)
        doubled += [f"{sender}->{receiver} {i}" for i, n in counts.items() if n > 1]
        texts = {m["id"]: m["text"] for m in got}
        for message_id, text in sent:
            checked += 1
            if message_id not in texts:
                lost.append(f"{sender}->{receiver} {message_id}")
            elif texts[message_id] != text:
                misplaced.append(f"{sender}->{receiver} {message_id}: text differs")
        sent_ids = [i for i, _ in sent]
        if [i for i in got_ids if i in set(sent_ids)] != sent_ids:
            out_of_order.append(f"{sender}->{receiver}")
        misplaced += [f"{sender}->{receiver} {i}: never sent" for i in set(got_ids) - set(sent_ids)]
    return Findings(checked, lost, doubled, misplaced, out_of_order)


# -- flatness


def cpu_percents(samples: list[Sample], which: str = "hub") -> list[float]:
    """CPU use between consecutive samples, as a percentage of one core."""
    out = []
    for a, b in itertools.pairwise(samples):
        used = (b.hub_cpu - a.hub_cpu) if which == "hub" else (b.peers_cpu - a.peers_cpu)
        out.append(100 * used / max(b.at - a.at, 1e-9))
    return out


def thirds(values: list[float]) -> tuple[float, float, float]:
    """The means of the first, middle and last third of ``values``."""
    n = len(values)
    cuts = [0, n // 3, 2 * n // 3, n]
    means = []
    for lo, hi in itertools.pairwise(cuts):
        part = values[lo:hi] or values
        means.append(sum(part) / len(part))
    return means[0], means[1], means[2]


def rss_growth_kib(samples: list[Sample]) -> int:
    """How far the hub's RSS rose over the last two thirds: the highest reading after the one-third mark
    minus the reading at that mark."""
    mark = len(samples) // 3
    return max(s.hub_rss_kib for s in samples[mark:]) - samples[mark].hub_rss_kib


def slope_per_minute(samples: list[Sample], values: list[float]) -> float:
    """Least-squares slope of ``values`` (one per interval, at the interval's end) per minute."""
    xs = [s.at for s in samples[1 : len(values) + 1]]
    if len(xs) < 2:
        return 0.0
    mx, my = sum(xs) / len(xs), sum(values) / len(values)
    var = sum((x - mx) ** 2 for x in xs)
    return 60 * sum((x - mx) * (y - my) for x, y in zip(xs, values, strict=True)) / var if var else 0.0


@contextlib.contextmanager
def peers_running(homes: list[Path], log: Path) -> Any:
    """The peers' process, killed on the way out (pass or fail); prints its log tail on the way out."""
    peers = PeerProcess(homes, log)
    try:
        peers.wait_ready()
        yield peers
    finally:
        peers.kill()
        print("==== peers' process log (tail) ====")
        print(log.read_text("utf-8", "replace")[-2000:])


__all__ = [
    "PEER_PASSPHRASE",
    "Findings",
    "PeerProcess",
    "Plan",
    "Sample",
    "Traffic",
    "check",
    "collect",
    "cpu_percents",
    "cpu_seconds",
    "drive",
    "make_peers",
    "pair_hub",
    "peers_running",
    "rss_growth_kib",
    "rss_kib",
    "slope_per_minute",
    "thirds",
]
