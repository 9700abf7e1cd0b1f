"""``hotline console``: open the operator console on the station named by the root group's ``--home``.

The console needs the daemon (it is a view over the control socket), so we look for one first and fail
with the CLI's own one-line message when none answers; once open, the console rides out a daemon
restart by itself.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from hotline.cli.errors import not_running
from hotline.cli.options import settings
from hotline.client import ControlClient, NotRunning

__all__ = ["console_command"]


async def _probe(socket: Path) -> None:
    async with await ControlClient.connect(socket) as client:
        await client.request("station")


@click.command("console")
def console_command() -> None:
    """The operator console: line board, transcripts, FLASH alarms, verification and calls."""
    from hotline.console.app import HotlineConsole  # Textual loads only for this command

    options = settings()
    home = options.station_home()
    try:
        asyncio.run(_probe(options.socket))
    except NotRunning:
        raise not_running(home) from None
    HotlineConsole(options.socket).run()
