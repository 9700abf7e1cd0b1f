"""How a command reaches the station: the daemon's control socket if it runs, else the station in-process.

docs/control.md "Offline operation": with no daemon, the CLI opens the station itself (after the
passphrase) and runs the same request through the same dispatcher. Requests that need the network
(``test``, ``wait``, ``inbox`` with ``follow``) cannot run that way; :func:`online` refuses them with
the "not running" failure before asking for a passphrase.

This is the only module of ``hotline.cli`` that imports ``hotline.station``, and it does so inside
functions: the station pulls in the store, SQLite and the network stack, which ``hotline --help`` does
not need.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from hotline.cli.errors import not_running
from hotline.cli.options import Settings
from hotline.client import ControlClient, NotRunning

__all__ = [
    "OFFLINE_OPS",
    "call",
    "change_passphrase",
    "create_station",
    "is_running",
    "online",
    "run_daemon",
    "run_offline",
]

#: Requests the station can answer with the daemon stopped (docs/control.md "Offline operation").
OFFLINE_OPS = frozenset(
    {
        "station",
        "card",
        "status",
        "line.add",
        "line.grant",
        "line.accept",
        "line.verify",
        "line.profile",
        "line.list",
        "line.remove",
        "send",
        "calls",
        "call.export",
        "files",
        "file.get",
        "send.file",
        "inbox",
        "log",
        "ack",
        # `hotline pair` asks these itself, offline too (hotline.cli.pairing)
        "pair.listen",
        "pair.connect",
    }
)

T = TypeVar("T")


def call(settings: Settings, op: str, **args: Any) -> dict[str, Any]:
    """Run one request, through the daemon if it runs, else offline in this process.

    Raises:
        Failure: no station directory, or the op needs the daemon and it is not running.
        ControlError, StationError, KeyFileError: from the request (``hotline.cli.errors`` words them).
    """
    home = settings.station_home()
    try:
        return asyncio.run(_request(settings.socket, op, args))
    except NotRunning:
        pass
    if op not in OFFLINE_OPS or args.get("follow"):
        raise not_running(home)
    return run_offline(home, settings.passphrase(), op, args)


async def _request(socket: Path, op: str, args: dict[str, Any]) -> dict[str, Any]:
    async with await ControlClient.connect(socket) as client:
        return await client.request(op, **args)


def online(settings: Settings, session: Callable[[ControlClient], Coroutine[Any, Any, T]]) -> T:
    """Run ``session`` with a client connected to the running daemon, and return what it returns.

    Raises:
        Failure: no station directory, or the daemon is not running.
    """
    home = settings.station_home()

    async def run() -> T:
        async with await ControlClient.connect(settings.socket) as client:
            return await session(client)

    try:
        return asyncio.run(run())
    except NotRunning:
        raise not_running(home) from None


def is_running(settings: Settings) -> bool:
    """Whether a daemon answers on the station's control socket."""

    async def probe() -> None:
        client = await ControlClient.connect(settings.socket)
        await client.close()

    try:
        asyncio.run(probe())
    except NotRunning:
        return False
    return True


def run_offline(home: Path, passphrase: str, op: str, args: dict[str, Any]) -> dict[str, Any]:
    """Run one request in this process with the station opened under ``passphrase``."""
    # the station is imported lazily to keep --help fast
    from hotline.station.offline import run_request

    return run_request(home, passphrase, op, args)


def create_station(
    home: Path, name: str, listen: str, passphrase: str, *, endpoints: list[str], kdf: str
) -> dict[str, Any]:
    """Create a station in ``home``; returns the ``station`` result (name, fingerprint, listen, endpoints)."""
    # the station is imported lazily to keep --help fast
    from hotline.station.home import create_station as create

    return create(home, name, listen, passphrase, endpoints=endpoints, kdf=kdf)


def change_passphrase(home: Path, passphrase: str, new_passphrase: str) -> dict[str, Any]:
    """Seal the station's key file under ``new_passphrase``; returns ``{name, kdf}``."""
    # the station is imported lazily to keep --help fast
    from hotline.station.home import change_passphrase as change

    return change(home, passphrase, new_passphrase)


def run_daemon(home: Path, passphrase: str) -> None:
    """Run the station daemon in this process until SIGINT or SIGTERM."""
    # the station is imported lazily to keep --help fast
    from hotline.station.daemon import run_daemon as run

    run(home, passphrase)
