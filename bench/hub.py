"""A hub: one station daemon with many lines, each to its own peer station, all up and idle.

The hub runs as a real daemon process (``run_daemon``). Running a hundred more daemon processes would
measure the machine rather than the hub, so the peers are :class:`~hotline.station.service.Station`
objects served side by side in one event loop of one separate process (each with its own store,
port and store thread). Lines are created and paired offline through the same request dispatcher as
the CLI's offline mode, one store opening per station for all its requests.

We read the hub's resident memory (``VmRSS``) with no lines, and again with every line up after an
idle window, and its CPU time (``utime + stime`` from ``/proc/PID/stat``) over that window.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter
from typing import Any

from rich.console import Console

from bench.station import (
    PASSPHRASE,
    BenchError,
    Control,
    Daemon,
    Process,
    new_station,
    station_env,
    wait_lines_up,
)
from hotline.station.requests.dispatch import Requests
from hotline.station.service import Station

#: How the peers' process is started: :func:`serve_peers` with the peers' homes as arguments.
PEERS = "import sys; from bench.hub import serve_peers; serve_peers(sys.argv[1:])"


@dataclass(frozen=True)
class Settings:
    """How big the hub is and how long it idles."""

    lines: int = 100
    idle_seconds: float = 30.0
    #: Seconds to let a daemon settle before reading its memory.
    settle_seconds: float = 3.0


QUICK = Settings(lines=10, idle_seconds=3.0, settle_seconds=1.0)


@dataclass(frozen=True)
class Results:
    """What the hub case measured."""

    settings: Settings
    #: Hub RSS in KiB, with no lines, and with every line up at the end of the idle window.
    rss_empty_kib: int
    rss_lines_kib: int
    #: Hub CPU seconds over the idle window, and the window's length.
    cpu_seconds: float
    window_seconds: float
    #: The peers' process over the same window: CPU seconds and RSS in KiB (context, not a goal).
    peers_cpu_seconds: float
    peers_rss_kib: int
    #: Seconds from starting the peers' process until the hub had every line up.
    up_seconds: float

    @property
    def per_line_kib(self) -> float:
        return (self.rss_lines_kib - self.rss_empty_kib) / self.settings.lines

    @property
    def cpu_percent(self) -> float:
        """Hub CPU over the idle window, as a percentage of one core."""
        return 100 * self.cpu_seconds / self.window_seconds

    @property
    def peers_cpu_percent(self) -> float:
        return 100 * self.peers_cpu_seconds / self.window_seconds


# -- pairing, offline


async def offline_requests(
    home: Path, ops: list[tuple[str, dict[str, object]]], passphrase: str = PASSPHRASE
) -> list[dict[str, Any]]:
    """Run requests against a stopped station, opening it once (the CLI opens it once per request)."""
    station = await Station.open(home, passphrase)
    try:

        async def ignore(event: dict[str, object]) -> None:
            pass

        requests = Requests(station)
        return [await requests.handle(op, args, ignore) for op, args in ops]
    finally:
        await station.close()


async def pair_hub(hub: Path, peers: list[Path], hub_passphrase: str = PASSPHRASE) -> None:
    """A verified, keyed line between the hub and every peer (all stopped; the peers' passphrase is
    :data:`PASSPHRASE`); the hub makes every line key."""
    (hub_card,) = await offline_requests(hub, [("card", {})], hub_passphrase)
    cards = [(await offline_requests(peer, [("card", {})]))[0] for peer in peers]
    ops: list[tuple[str, dict[str, object]]] = []
    for peer, card in zip(peers, cards, strict=True):
        ops += [
            ("line.add", {"peer": peer.name, "card": card["armored"]}),
            ("line.grant", {"peer": peer.name}),
            ("line.verify", {"peer": peer.name, "confirm": True}),
        ]
    results = await offline_requests(hub, ops, hub_passphrase)
    grants = results[1::3]
    for peer, grant in zip(peers, grants, strict=True):
        await offline_requests(
            peer,
            [
                ("line.add", {"peer": hub.name, "card": hub_card["armored"]}),
                ("line.accept", {"peer": hub.name, "sealed": grant["sealed"]}),
                ("line.verify", {"peer": hub.name, "confirm": True}),
            ],
        )


# -- the peers' process


def serve_peers(homes: list[str]) -> None:
    """Serve every station in ``homes`` in one event loop until SIGTERM; print ``ready`` once all listen."""
    asyncio.run(_serve_peers([Path(home) for home in homes]))


async def _serve_peers(homes: list[Path]) -> None:
    stations = [await Station.open(home, PASSPHRASE) for home in homes]
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    ready = [asyncio.Event() for _ in stations]
    tasks = [
        asyncio.create_task(station.serve(ready=event))
        for station, event in zip(stations, ready, strict=True)
    ]
    try:
        all_ready = asyncio.ensure_future(asyncio.gather(*(event.wait() for event in ready)))
        await asyncio.wait([all_ready, *tasks], return_when=asyncio.FIRST_COMPLETED)
        for station, task in zip(stations, tasks, strict=True):
            if task.done():  # serve() ends only by failing
                print(f"{station.paths.home.name} stopped: {task.exception()!r}", flush=True)
                return
        print("ready", flush=True)
        await asyncio.wait([asyncio.ensure_future(stop.wait()), *tasks], return_when=asyncio.FIRST_COMPLETED)
    finally:
        for station in stations:
            station.stopping = True
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for station in stations:
            await station.close()


class Peers(Process):
    """The peers' process."""

    def __init__(self, homes: list[Path], log: Path) -> None:
        super().__init__([sys.executable, "-c", PEERS, *map(str, homes)], station_env(), log)

    async def ready(self, timeout: float = 60.0) -> None:
        assert self.process.stdout is not None
        stdout = self.process.stdout
        try:
            async with asyncio.timeout(timeout):
                line = await asyncio.to_thread(stdout.readline)
        except TimeoutError:
            tail = self.log.read_text("utf-8", "replace")[-2000:]
            raise BenchError(f"the peers' process was not ready within {timeout:g} s:\n{tail}") from None
        if line.strip() != b"ready":
            tail = self.log.read_text("utf-8", "replace")[-2000:]
            raise BenchError(f"the peers' process said {line!r}:\n{tail}")


# -- the case


async def _idle_rss(daemon: Daemon, settle: float) -> int:
    await asyncio.sleep(settle)
    daemon.check()
    return daemon.rss_kib()


async def run(settings: Settings, console: Console) -> Results:
    """Create the hub and its peers, measure the hub empty, then with every line up; clean up."""
    root = Path(tempfile.mkdtemp(prefix="hotline-hub-"))
    processes: list[Process] = []
    controls: list[Control] = []
    try:
        n = settings.lines
        console.log(f"hub: creating the hub and {n} peer stations, each on its own port")
        hub = new_station(root, "hub")
        peers = [new_station(root, f"peer{i:03d}") for i in range(n)]

        console.log("hub: memory of the hub daemon with no lines")
        empty = Daemon(hub)
        processes.append(empty)
        controls.append(await empty.control())
        rss_empty = await _idle_rss(empty, settings.settle_seconds)
        await controls.pop().close()
        empty.stop()
        processes.remove(empty)

        console.log(f"hub: pairing {n} lines offline")
        await pair_hub(hub, peers)

        console.log(f"hub: hub daemon with {n} lines, peers served in one separate process")
        daemon = Daemon(hub)
        processes.append(daemon)
        control = await daemon.control()
        controls.append(control)
        started = perf_counter()
        others = Peers(peers, root / "peers.log")
        processes.append(others)
        await others.ready()
        await wait_lines_up(control, n, 120.0)
        up = perf_counter() - started

        console.log(f"hub: {n} lines up in {up:.1f} s; idle for {settings.idle_seconds:g} s")
        await asyncio.sleep(settings.settle_seconds)
        cpu0, peers_cpu0, t0 = daemon.cpu_seconds(), others.cpu_seconds(), perf_counter()
        await asyncio.sleep(settings.idle_seconds)
        cpu1, peers_cpu1, t1 = daemon.cpu_seconds(), others.cpu_seconds(), perf_counter()
        rss_lines, peers_rss = daemon.rss_kib(), others.rss_kib()
        status = await control.request("status")
        up_now = sum(1 for line in status["lines"] if line["state"] == "up")
        if up_now != n:
            raise BenchError(f"only {up_now} of {n} lines were still up after the idle window")
        return Results(
            settings,
            rss_empty_kib=rss_empty,
            rss_lines_kib=rss_lines,
            cpu_seconds=cpu1 - cpu0,
            window_seconds=t1 - t0,
            peers_cpu_seconds=peers_cpu1 - peers_cpu0,
            peers_rss_kib=peers_rss,
            up_seconds=up,
        )
    finally:
        for c in controls:
            await c.close()
        for process in reversed(processes):
            process.stop()
        shutil.rmtree(root, ignore_errors=True)


__all__ = ["QUICK", "Results", "Settings", "offline_requests", "pair_hub", "run", "serve_peers"]
