"""``hotline pair``: pairing with another station by a spoken code, in one step (docs/protocol.md §11).

One operator runs ``hotline pair PEER --listen HOST:PORT`` and reads the code it prints to the other
over a channel they trust; the other runs ``hotline pair PEER --connect HOST:PORT --code CODE``. Both
stations then hold a keyed line: the cards and the line key of ``line add`` and ``grant``/``accept`` in
one exchange. The line is *not* verified: whoever heard the code (a tapped phone) and controls the
network can pair with both stations in between, so the operators still compare the safety number and
run ``hotline line verify PEER --confirm`` (F2); the command prints both.

Like every command it goes through the daemon when one runs and opens the station itself otherwise.
It cannot use :func:`hotline.cli.reach.call`, because the listening side must show the code (an event)
long before the result; so it streams over the control socket, and offline it hands an event callback
to :func:`hotline.station.offline.run_request` (imported lazily, as ``reach`` does, to keep ``--help``
fast).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.text import Text

from hotline.cli import render
from hotline.cli.errors import Failure
from hotline.cli.options import ENDPOINT, HOST_PORT, PROFILE, Settings, json_option, settings
from hotline.client import ControlClient, NotRunning

__all__ = ["pair"]

#: Seconds a listener waits for the other station by default.
DEFAULT_TIMEOUT = 600.0
#: How much longer than the station's own deadline we wait for its answer.
GRACE = 5.0

_WILDCARDS = ("0.0.0.0", "[::]", "::")

ShowEvent = Callable[[dict[str, Any]], None]


@click.command()
@click.argument("peer")
@click.option(
    "--listen",
    type=HOST_PORT,
    help="Show a code and wait for PEER to connect here (e.g. 0.0.0.0:7444; port 0 picks one).",
)
@click.option("--connect", type=ENDPOINT, help="Connect to PEER, which is listening at HOST:PORT.")
@click.option("--code", help="The code PEER's operator read to you (with --connect; asked for if missing).")
@click.option(
    "--endpoint",
    "endpoints",
    multiple=True,
    type=ENDPOINT,
    help="Where to dial PEER later (repeatable, tried in order); defaults to the endpoints on its card.",
)
@click.option(
    "--profile",
    type=PROFILE,
    default="standard",
    show_default=True,
    help="The line's profile: standard or cnsa2 (aligned with CNSA 2.0). Both operators give the same one.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True, max=86_400),
    default=DEFAULT_TIMEOUT,
    show_default=True,
    help="Seconds to wait for the other station.",
)
@json_option
def pair(
    peer: str,
    listen: str | None,
    connect: str | None,
    code: str | None,
    endpoints: tuple[str, ...],
    profile: str,
    timeout: float,
) -> None:
    """Pair with PEER by a code read aloud: cards and line key in one step; then verify.

    One side runs `hotline pair PEER --listen HOST:PORT` and reads the code it shows to the other
    operator over a channel you trust (phone, in person); the other side runs `hotline pair PEER
    --connect HOST:PORT --code CODE`. A code works once: a wrong one fails on both sides and changes
    nothing. The new line is not verified: compare the safety number both sides print, then run
    `hotline line verify PEER --confirm` on each side.
    """
    if (listen is None) == (connect is None):
        raise click.UsageError("give exactly one of --listen (show a code) and --connect (type one)")
    if listen is not None and code is not None:
        raise click.UsageError("--code goes with --connect: the listening side makes the code")
    opts = settings()
    args: dict[str, Any] = {"peer": peer, "endpoints": list(endpoints), "timeout": timeout}
    if profile != "standard":
        args["profile"] = profile  # a station from before profiles then still understands the request
    if listen is not None:
        op = "pair.listen"
        args["listen"] = listen
    else:
        op = "pair.connect"
        args["connect"] = connect
        args["code"] = code if code is not None else _ask_code(peer)
    show = _shower(opts, peer)
    result = _run(opts, op, args, show, timeout)
    # the line is keyed but not verified (F2): the code only proves that whoever answered heard it
    verify = f"hotline line verify {peer} --confirm"
    if opts.json:
        render.emit_json({**result, "next": verify})
        return
    out = render.console()
    out.print(
        Text.assemble(
            "line to ",
            render.text(peer, "bold"),
            # a line that is not standard says so (the default goes without saying)
            *(
                ()
                if result.get("profile", "standard") == "standard"
                else (" (", render.profile_text(result), ")")
            ),
            " added with its line key; it is ",
            Text("not verified yet", style="bold yellow"),
            " and carries nothing until it is",
        )
    )
    render.safety_number(out, result)
    # through the console, so the advice wraps at the terminal's width (80 columns in a pipe)
    out.print(
        f"next: compare this safety number with {peer}'s operator over a channel you trust (voice, in "
        f"person); the code proves nothing about who answered, since anyone who heard it could have "
        f"paired in between. If every group matches, run:",
        markup=False,
    )
    out.print(render.text(f"    {verify}", "bold"))
    out.print(
        f"if it does not match, remove the line (`hotline line remove {peer}`) and pair again", markup=False
    )


def _ask_code(peer: str) -> str:
    if not sys.stdin.isatty():
        raise click.UsageError("--connect needs --code (the code PEER's operator read to you)")
    try:
        text: str = click.prompt(f"Code from {peer}'s operator", err=True)
    except click.Abort:
        raise Failure(
            f"no code given: nothing was changed; run it again with the code {peer}'s operator reads"
        ) from None
    return text


def _run(opts: Settings, op: str, args: dict[str, Any], show: ShowEvent, timeout: float) -> dict[str, Any]:
    """Run the request through the daemon if it runs, else in this process; events go to ``show``."""
    home = opts.station_home()
    try:
        return asyncio.run(_online(opts.socket, op, args, show, timeout))
    except NotRunning:
        pass
    except KeyboardInterrupt:
        if op == "pair.listen":
            raise Failure(
                "interrupted; the running station keeps the code valid until its timeout, or until "
                f"`hotline pair {args['peer']}` runs again"
            ) from None
        raise
    passphrase = opts.passphrase()
    # the station is imported lazily to keep --help fast
    from hotline.station.offline import run_request

    return run_request(home, passphrase, op, args, on_event=show)


async def _online(
    socket: Path, op: str, args: dict[str, Any], show: ShowEvent, timeout: float
) -> dict[str, Any]:
    async with await ControlClient.connect(socket) as client:
        try:
            async with asyncio.timeout(timeout + GRACE), client.stream(op, **args) as events:
                async for event in events:
                    show(event)
        except TimeoutError:
            raise Failure(f"the station did not finish pairing within {timeout:g} s") from None
        if events.result is None:
            raise Failure("the station ended the pairing without a result")
        return events.result


def _shower(opts: Settings, peer: str) -> ShowEvent:
    def show(event: dict[str, Any]) -> None:
        if opts.json:
            render.emit_json(event)
            return
        if "code" in event:
            _show_code(event, peer)
        elif "connected" in event:
            render.console().print(
                Text.assemble("connection from ", render.text(event.get("connected")), ": checking the code…")
            )

    return show


def _show_code(event: dict[str, Any], peer: str) -> None:
    out = render.console()
    code = event.get("code")
    listen = str(event.get("listen", ""))
    host, _, port = listen.rpartition(":")
    dial = f"THIS-HOST:{port}" if host in _WILDCARDS else listen
    station = event.get("station") or "THIS-STATION"
    out.print(Text.assemble("pairing code for ", render.text(peer, "bold"), ":"))
    out.print()
    out.print(render.text(f"    {code}", "bold yellow"))
    out.print()
    out.print(
        Text.assemble(
            "read it to ",
            render.text(peer, "bold"),
            "'s operator over a channel you trust (phone, in person); they run:",
        )
    )
    out.print(render.text(f"    hotline pair {station} --connect {dial} --code {code}"))
    out.print(Text.assemble("waiting on ", render.text(listen), "; the code works once"))
