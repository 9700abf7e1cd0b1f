"""``hotline quota``: every line's quotas and what it uses of them, and ``quota reload`` (F5).

A line that passed a quota pauses (its peer keeps the entries); the operator raises the quota in
``station.toml`` (``[quotas]`` for every line, ``[lines.<peer>]`` for one) and runs ``quota reload``.
"""

from __future__ import annotations

from typing import Any

import click

from hotline.cli import reach, render
from hotline.cli.errors import printable
from hotline.cli.options import json_option, settings

__all__ = ["quota"]


@click.group(invoke_without_command=True)
@click.pass_context
def quota(ctx: click.Context) -> None:
    """Each line's quotas and what it uses (quota show, quota reload)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(show)


@quota.command()
@click.argument("peer", required=False)
@json_option
def show(peer: str | None) -> None:
    """Each line's quotas (or PEER's), what it uses of them and whether it is paused."""
    opts = settings()
    result = reach.call(opts, "quotas", **({"peer": peer} if peer else {}))
    _print(result, opts.json)


@quota.command()
@json_option
def reload() -> None:
    """Read the quotas in station.toml again; paused lines that now fit resume at once."""
    opts = settings()
    _print(reach.call(opts, "quota.reload"), opts.json)


def _print(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        render.emit_json(result)
        return
    for line in result.get("lines") or []:
        paused = line.get("paused")
        state = f"PAUSED ({paused})" if paused else "taking entries"
        click.echo(
            printable(
                f"{line.get('peer')}: {state}; {line.get('entries_last_hour'):,} of"
                f" {line.get('entries_per_hour'):,} entries this hour, {line.get('stored'):,} of"
                f" {line.get('stored_bytes'):,} bytes stored; documents up to {line.get('document_bytes'):,}"
                f" bytes, held for approval above {line.get('approve_documents_above'):,}"
            )
        )
