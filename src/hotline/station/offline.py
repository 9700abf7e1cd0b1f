"""Requests with no daemon running: open the station in this process, run one request, close it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from hotline.station.requests import Requests
from hotline.station.service import Station


async def _run(home: Path, passphrase: str, op: str, args: dict[str, object]) -> dict[str, object]:
    station = await Station.open(home, passphrase)
    try:

        async def ignore(event: dict[str, object]) -> None:
            pass

        return await Requests(station).handle(op, args, ignore)
    finally:
        await station.close()


def run_request(home: Path, passphrase: str, op: str, args: dict[str, object]) -> dict[str, object]:
    """Run one control request against the station at ``home`` without a daemon.

    Raises:
        StationError: as the request would over the control socket, plus ``busy`` when a daemon holds
            the station but its socket did not answer.
    """
    return asyncio.run(_run(home, passphrase, op, args))


__all__ = ["run_request"]
