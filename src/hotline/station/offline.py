"""Requests with no daemon running: open the station in this process, run one request, close it.

The request runs through the same op table and dispatcher as over the control socket
(:mod:`hotline.station.requests.dispatch`), so it means the same thing either way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from hotline.station.requests.dispatch import Requests
from hotline.station.service import Station


async def _run(
    home: Path,
    passphrase: str,
    op: str,
    args: dict[str, object],
    on_event: Callable[[dict[str, object]], None] | None,
) -> dict[str, object]:
    station = await Station.open(home, passphrase)
    try:

        async def emit(event: dict[str, object]) -> None:
            if on_event is not None:
                on_event(event)

        return await Requests(station).handle(op, args, emit)
    finally:
        await station.close()


def run_request(
    home: Path,
    passphrase: str,
    op: str,
    args: dict[str, object],
    on_event: Callable[[dict[str, object]], None] | None = None,
) -> dict[str, object]:
    """Run one control request against the station at ``home`` without a daemon.

    Args:
        on_event: called with each event a streaming request emits (e.g. the code of ``pair.listen``);
            events are dropped without it.

    Raises:
        StationError: as the request would over the control socket, plus ``busy`` when a daemon holds
            the station but its socket did not answer.
    """
    return asyncio.run(_run(home, passphrase, op, args, on_event))


__all__ = ["run_request"]
