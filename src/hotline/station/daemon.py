"""``hotline up``: run the station in the foreground until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import sys
from pathlib import Path

from hotline.station.home import LIGHT_KDF_WARNING, kdf_profile
from hotline.station.logs import setup_logging
from hotline.station.service import Station

log = logging.getLogger("hotline.station")


async def _main(home: Path, passphrase: str) -> None:
    station = await Station.open(home, passphrase)
    if kdf_profile(home) == "light":
        log.warning(LIGHT_KDF_WARNING, extra={"station": station.identity.name})
    # what is loaded now lives as long as the daemon: keep the collector from walking it again and
    # again, and let it run less often (its pauses land on some message's round trip)
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
    loop = asyncio.get_running_loop()
    try:
        with contextlib.suppress(asyncio.CancelledError):
            async with asyncio.TaskGroup() as tg:
                serving = tg.create_task(station.serve())

                def stop() -> None:
                    station.stopping = True
                    serving.cancel()

                for signum in (signal.SIGINT, signal.SIGTERM):
                    loop.add_signal_handler(signum, stop)
    except* Exception as group:
        raise group.exceptions[0] from None  # e.g. the address cannot be bound: the caller says so
    finally:
        log.info("station stopping", extra={"station": station.identity.name, "pid": os.getpid()})
        await station.close()


def run_daemon(home: Path, passphrase: str) -> None:
    """Run the station at ``home`` until SIGINT or SIGTERM.

    Raises:
        StationError: the station cannot start (no station, wrong passphrase, busy, bad store).
        OSError: the listening address cannot be bound.
    """
    setup_logging(logging.DEBUG if os.environ.get("HOTLINE_DEBUG") else logging.INFO)
    # The store thread and the event loop hand work to each other all the time; with the default
    # 5 ms GIL switch interval a hand-off can wait that long behind the other thread's Python code.
    sys.setswitchinterval(0.0005)
    asyncio.run(_main(home, passphrase))


__all__ = ["run_daemon"]
