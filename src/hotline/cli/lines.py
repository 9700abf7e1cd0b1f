"""``hotline line …``: pairing with another station and managing the lines.

Pairing takes four steps, one command each: exchange cards (``line add`` on both sides), compare the
safety number by voice (``line verify``, then ``--confirm``), and carry the sealed line key from one side
to the other (``line grant`` here, ``line accept`` there).
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

import click
from rich.text import Text

from hotline.cli import reach, render
from hotline.cli.errors import Failure
from hotline.cli.files import PrivateFile, read_bytes, read_text
from hotline.cli.options import ENDPOINT, PROFILE, json_option, settings

__all__ = ["line"]


@click.group()
def line() -> None:
    """Add, pair, verify and remove lines to other stations."""


@line.command()
@click.argument("peer")
@click.argument("card_file", metavar="CARD_FILE")
@click.option(
    "--endpoint",
    "endpoints",
    multiple=True,
    type=ENDPOINT,
    help="Where to dial PEER (repeatable, tried in order); defaults to the endpoints on its card.",
)
@click.option(
    "--profile",
    type=PROFILE,
    default=None,
    help="The line's profile, the same at both ends: standard (the default for a new line) or cnsa2 "
    "(aligned with CNSA 2.0). Given for a line that exists with another one, it changes the "
    "profile: a key change (new line key, verify again).",
)
@json_option
def add(peer: str, card_file: str, endpoints: tuple[str, ...], profile: str | None) -> None:
    """Add a line to PEER from the card in CARD_FILE (`-` reads it from stdin)."""
    card = read_text(card_file, "card file")
    opts = settings()
    args: dict[str, object] = {"peer": peer, "card": card, "endpoints": list(endpoints)}
    if profile is not None:
        args["profile"] = profile
    result = reach.call(opts, "line.add", **args)
    if opts.json:
        render.emit_json(result)
        return
    out = render.console()
    shown = (
        render.text(peer, "bold"),
        render.profile_text(result),
        render.text(result.get("fingerprint"), "cyan"),
    )
    out.print(Text.assemble("line to ", shown[0], " (", shown[1], ") added, fingerprint ", shown[2]))
    click.echo(f"next: compare the safety number with {peer}'s operator: `hotline line verify {peer}`")


@line.command()
@click.argument("peer")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write the sealed line key to (mode 0600).",
)
@json_option
def grant(peer: str, out: Path) -> None:
    """Make a new line key for PEER and seal it into a file for PEER's operator."""
    opts = settings()
    target = PrivateFile(out)
    try:
        result = reach.call(opts, "line.grant", peer=peer)
        sealed = base64.b64decode(str(result.get("sealed", "")), validate=True)
    except binascii.Error:
        target.discard()
        raise Failure("the station returned a sealed line key that is not base64") from None
    except BaseException:
        target.discard()
        raise
    target.write(sealed)
    if opts.json:
        render.emit_json({**result, "out": str(out)})
        return
    click.echo(f"line key for {peer} sealed into {out} ({len(sealed)} bytes, readable only by you)")
    click.echo(f"next: carry it to {peer}'s operator, who runs `hotline line accept <this station> FILE`")


@line.command()
@click.argument("peer")
@click.argument("file", metavar="FILE")
@json_option
def accept(peer: str, file: str) -> None:
    """Take the line key PEER sealed for this station from FILE."""
    sealed = base64.b64encode(read_bytes(file, "sealed line key file")).decode("ascii")
    opts = settings()
    result = reach.call(opts, "line.accept", peer=peer, sealed=sealed)
    if opts.json:
        render.emit_json(result)
        return
    render.console().print(
        Text.assemble(
            "line to ", render.text(peer, "bold"), " has its key; state ", render.text(result.get("state"))
        )
    )


@line.command()
@click.argument("peer")
@click.option("--confirm", is_flag=True, help="Mark the line verified: the numbers matched.")
@json_option
def verify(peer: str, confirm: bool) -> None:
    """Show the safety number of the line to PEER, to compare with its operator by voice."""
    opts = settings()
    result = reach.call(opts, "line.verify", peer=peer, confirm=confirm)
    if opts.json:
        render.emit_json(result)
        return
    out = render.console()
    render.safety_number(out, result)
    if confirm:
        out.print(
            Text.assemble("line to ", render.text(peer, "bold"), " ", Text("verified", style="bold green"))
        )
    elif result.get("verified"):
        out.print(Text("this line is verified", style="green"))
    else:
        click.echo(
            f"compare this with {peer}'s operator over a channel you trust (voice, in person); if every "
            f"group matches, run `hotline line verify {peer} --confirm`"
        )


@line.command()
@click.argument("peer")
@click.argument("profile", type=PROFILE)
@json_option
def profile(peer: str, profile: str) -> None:
    """Change the profile of the line to PEER: a key change, made at both ends.

    The line drops its session and its key and is no longer verified: once PEER's end has the same
    profile, grant and accept a new line key (or pair again) and compare the safety number again.
    """
    opts = settings()
    result = reach.call(opts, "line.profile", peer=peer, profile=profile)
    if opts.json:
        render.emit_json(result)
        return
    if not result.get("changed"):
        click.echo(f"the line to {peer} already has the profile {profile}: nothing changed")
        return
    name, now = render.text(peer, "bold"), render.profile_text(result)
    gone = "; its line key and verification are gone"
    render.console().print(Text.assemble("line to ", name, " now has the profile ", now, gone))
    click.echo(
        f"next: {peer}'s operator runs `hotline line profile <this station> {profile}`; then `hotline line "
        f"grant {peer}` here and `line accept` there (or pair again), and `hotline line verify {peer}`"
    )


@line.command("clear-alerts")
@click.argument("peer")
@click.option("--kind", "kinds", multiple=True, help="Only alerts of this kind (e.g. line-down); repeatable.")
@json_option
def clear_alerts(peer: str, kinds: tuple[str, ...]) -> None:
    """Stop showing the line's standing alerts (the log keeps them): the operator has dealt with them."""
    opts = settings()
    result = reach.call(opts, "alerts.clear", peer=peer, kinds=list(kinds))
    if opts.json:
        render.emit_json(result)
    else:
        click.echo(f"cleared {result.get('cleared', 0)} alert(s) on the line to {peer}")


@line.command("list")
@json_option
def list_lines() -> None:
    """List the lines of this station."""
    opts = settings()
    result = reach.call(opts, "line.list")
    if opts.json:
        render.emit_json(result)
        return
    lines = list(result.get("lines") or [])
    if not lines:
        click.echo("no lines yet: add one with `hotline line add PEER CARD_FILE`")
        return
    render.console().print(render.line_table(lines))


@line.command()
@click.argument("peer")
@json_option
def remove(peer: str) -> None:
    """Remove the line to PEER and its key."""
    opts = settings()
    result = reach.call(opts, "line.remove", peer=peer)
    if opts.json:
        render.emit_json(result)
        return
    render.console().print(Text.assemble("line to ", render.text(peer, "bold"), " removed"))
