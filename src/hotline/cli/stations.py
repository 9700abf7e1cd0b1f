"""Commands about the station itself: ``init``, ``up``, ``card``, ``status`` and ``passphrase``."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import click
from rich.text import Text

from hotline.cli import reach, render
from hotline.cli.errors import Failure, printable
from hotline.cli.options import ENDPOINT, HOST_PORT, Settings, json_option, settings, wide_option

__all__ = ["card", "init", "passphrase", "status", "up"]


@click.command()
@click.argument("name")
@click.option("--listen", required=True, type=HOST_PORT, help="Address the station accepts lines on.")
@click.option(
    "--endpoint",
    "endpoints",
    multiple=True,
    type=ENDPOINT,
    help="Where other stations dial this one, as printed on its card (repeatable).",
)
@click.option(
    "--kdf",
    type=click.Choice(["standard", "light"]),
    default="standard",
    show_default=True,
    help="Argon2id cost of the key file; `light` is for tests and very small machines (a warning says so).",
)
@json_option
def init(name: str, listen: str, endpoints: tuple[str, ...], kdf: str) -> None:
    """Create a station NAME in the home directory, its keys sealed under a passphrase."""
    opts = settings()
    passphrase = opts.passphrase(confirm=True)
    station = reach.create_station(opts.home, name, listen, passphrase, endpoints=list(endpoints), kdf=kdf)
    if kdf == "light":
        click.echo(f"hotline: warning: {render.LIGHT_KDF_WARNING}", err=True)
    if opts.json:
        render.emit_json(station)
        return
    out = render.console()
    out.print(Text.assemble("station ", render.text(station.get("name"), "bold"), f" created in {opts.home}"))
    out.print(Text.assemble("fingerprint ", render.text(station.get("fingerprint"), "bold cyan")))
    if kdf == "light":
        out.print(Text(render.LIGHT_KDF_SHORT, "yellow"))
    out.print("next: give your card to the other station's operator: `hotline card --out FILE`")


@click.command()
def up() -> None:
    """Run the station: hold its lines open and serve the control socket until Ctrl-C."""
    opts = settings()
    home = opts.station_home()
    if reach.is_running(opts):
        raise Failure(f"the station at {home} is already running")
    passphrase = opts.passphrase()
    # The daemon stops itself on SIGINT; if the interrupt lands outside its loop, stopping is still
    # what the operator asked for, so it is not a failure.
    with contextlib.suppress(KeyboardInterrupt):
        reach.run_daemon(home, passphrase)


@click.command()
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the card to FILE.")
@click.option("--qr", is_flag=True, help="Show the fingerprint as a QR code, for a phone to compare.")
@json_option
def card(out: Path | None, qr: bool) -> None:
    """Print this station's signed card, which the other station adds with `hotline line add`."""
    opts = settings()
    result = reach.call(opts, "card")
    armored = str(result.get("armored", ""))
    if out is not None:
        try:
            out.write_text(armored if armored.endswith("\n") else armored + "\n", encoding="utf-8")
        except OSError as exc:
            raise Failure(f"cannot write {out}: {(exc.strerror or str(exc)).lower()}") from exc
    if opts.json:
        render.emit_json(result)
        return
    if qr:
        click.echo(render.qr_code(str(result.get("fingerprint", ""))), nl=False)
    if out is not None:
        click.echo(f"card of {printable(str(result.get('name')))} written to {out}")
    if qr or out is not None:
        click.echo(f"fingerprint {printable(str(result.get('fingerprint')))}")
    else:
        click.echo(armored, nl=not armored.endswith("\n"))


@click.command()
@wide_option
@json_option
def status(wide: bool) -> None:
    """Show the station and the state of each line: up or down, delay, tests, queued messages, its
    carrier (rate, cost a day, how full, what waits), alerts."""
    opts = settings()
    result = reach.call(opts, "status")
    if opts.json:
        render.emit_json(result)
    else:
        render.status_view(render.console(wide=wide), result, wide=wide)


@click.command()
@click.option(
    "--new-passphrase-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read the new passphrase from the first line of FILE [else ask twice on the terminal].",
)
@json_option
def passphrase(new_passphrase_file: Path | None) -> None:
    """Seal the station's keys under a new passphrase (the current one comes as for every command)."""
    opts = settings()
    home = opts.station_home()
    current = opts.passphrase()
    if new_passphrase_file is not None:
        new = Settings(home=home, passphrase_file=new_passphrase_file).passphrase()
    elif not sys.stdin.isatty():
        raise Failure("no new passphrase: give --new-passphrase-file or run in a terminal")
    else:
        try:
            new = click.prompt("New passphrase", hide_input=True, confirmation_prompt=True, err=True)
        except click.Abort:
            raise Failure("no new passphrase: give --new-passphrase-file or run in a terminal") from None
    result = reach.change_passphrase(home, current, new)
    if opts.json:
        render.emit_json(result)
        return
    render.console().print(
        Text.assemble(
            "the keys of ", render.text(result.get("name"), "bold"), " are sealed under the new passphrase"
        )
    )
    click.echo(
        "if systemd gives it to the daemon as a credential, encrypt the new one again "
        "(docs/deploy/hotline.service); a running daemon goes on as it is"
    )
