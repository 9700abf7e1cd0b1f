"""Commands for the fax: ``send-file``, ``files`` and ``file get``.

``send-file`` hashes the file, queues it like a message and, with the daemon running, shows a
progress bar (bytes the far end holds, rate, time left) until the far end has verified the whole
document; Ctrl-C only stops watching: the transfer goes on, and resumes after any cut or restart.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import click
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from hotline.cli import reach, render
from hotline.cli.errors import Failure, printable
from hotline.cli.messages import PRECEDENCES
from hotline.cli.options import json_option, settings, wide_option
from hotline.client import ControlClient

__all__ = ["file", "files", "send_file"]

#: How people write each document hash a view names (docs/control.md).
_HASH_LABELS = {"SHA256": "SHA-256", "SHA384": "SHA-384", "BLAKE3": "BLAKE3"}


def _hash_label(document: dict[str, Any]) -> str:
    """The hash a document was verified with, as people write it (SHA-256 for an older view)."""
    name = str(document.get("hash") or "SHA256")
    return _HASH_LABELS.get(name, name)


@click.command("send-file")
@click.argument("peer")
@click.argument(
    "path", type=click.Path(exists=True, dir_okay=False, readable=True, resolve_path=True, path_type=Path)
)
@click.option(
    "--precedence",
    "-p",
    type=click.Choice(PRECEDENCES, case_sensitive=False),
    default="routine",
    show_default=True,
    help="How urgent the document's announcement is.",
)
@click.option("--no-wait", is_flag=True, help="Queue it and return; `hotline files` shows how it goes.")
@json_option
def send_file(peer: str, path: Path, precedence: str, no_wait: bool) -> None:
    """Send the document at PATH to PEER: hashed, sealed, resumable, verified at the far end.

    The far end gets the file's name as a label only; it chooses where to write it.
    """
    opts = settings()
    args = {"peer": peer, "path": str(path), "precedence": precedence.lower()}
    if no_wait or not reach.is_running(opts):
        result = reach.call(opts, "send.file", **args)
        if opts.json:
            render.emit_json(result)
        else:
            click.echo(printable(f"{result.get('id')}  {path.name} queued for {peer}"))
        return

    async def send(client: ControlClient) -> dict[str, Any]:
        size = path.stat().st_size
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=render.console(), disable=opts.json, transient=False) as bar:
            hashing = bar.add_task("hashing", total=size)
            sending = bar.add_task(f"to {peer}", total=size, visible=False)
            async with client.stream("send.file", **args, wait=True) as events:
                async for event in events:
                    if opts.json:
                        render.emit_json(event)
                        continue
                    if isinstance(event.get("hashing"), dict):
                        bar.update(hashing, completed=event["hashing"].get("done", 0))
                    elif isinstance(event.get("message"), dict):
                        bar.update(hashing, completed=size)
                        bar.update(sending, visible=True)
                    elif isinstance(event.get("document"), dict):
                        bar.update(sending, completed=event["document"].get("stored", 0), visible=True)
            return events.result or {}

    with contextlib.suppress(KeyboardInterrupt):
        result = reach.online(opts, send)
        if opts.json:
            render.emit_json(result)
            return
        document = result.get("document") or {}
        if document.get("state") == "complete":
            click.echo(
                printable(
                    f"{result.get('id')}  {document.get('name')}: {peer} holds it, "
                    f"{_hash_label(document)} verified"
                )
            )
        else:
            raise Failure(
                f"{document.get('name')} to {peer} failed: {document.get('detail')}; "
                f"`hotline files {peer}` shows it, `hotline send-file {peer} PATH` sends it again"
            )
        return
    click.echo("stopped watching; the transfer goes on (`hotline files`)", err=True)


@click.command()
@click.argument("peer", required=False)
@wide_option
@json_option
def files(peer: str | None, wide: bool) -> None:
    """Documents sent and received (on the line to PEER), with how far each got."""
    opts = settings()
    result = reach.call(opts, "files", **({"peer": peer} if peer else {}))
    if opts.json:
        render.emit_json(result)
        return
    documents = list(result.get("documents") or [])
    if not documents:
        click.echo("no documents")
        return
    out = render.console(wide=wide)
    out.print(render.document_table(documents, out.width, wide=wide))


_PEER_HELP = "The line the document came on (when two lines hold the id)."


@click.group()
def file() -> None:
    """A received document."""


@file.command("get")
@click.argument("ident", metavar="ID")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, resolve_path=True, path_type=Path),
    help="A new file to write the document to (never overwritten).",
)
@click.option("--peer", default=None, help=_PEER_HELP)
@json_option
def file_get(ident: str, out: Path, peer: str | None) -> None:
    """Write out the received document ID, checking its hash on the way."""
    opts = settings()
    if out.exists():
        raise Failure(f"{out} exists: choose a new file name (Hotline never overwrites)")
    extra = {"peer": peer} if peer is not None else {}
    result = reach.call(opts, "file.get", id=ident, out=str(out), **extra)
    if opts.json:
        render.emit_json(result)
    else:
        click.echo(
            printable(
                f"wrote {result.get('name')} ({result.get('size'):,} bytes, "
                f"{_hash_label(result)} verified) to {out}"
            )
        )


@file.command("accept")
@click.argument("ident", metavar="ID")
@click.option("--peer", default=None, help=_PEER_HELP)
@json_option
def file_accept(ident: str, peer: str | None) -> None:
    """Let the held document ID come in (one above the line's approval size)."""
    _decide("file.accept", ident, peer, "accepted: its bytes come now")


@file.command("refuse")
@click.argument("ident", metavar="ID")
@click.option("--peer", default=None, help=_PEER_HELP)
@json_option
def file_refuse(ident: str, peer: str | None) -> None:
    """Refuse the held document ID: the sender hears it failed, no byte is stored."""
    _decide("file.refuse", ident, peer, "refused: the sender is told")


def _decide(op: str, ident: str, peer: str | None, said: str) -> None:
    opts = settings()
    result = reach.call(opts, op, id=ident, **({"peer": peer} if peer is not None else {}))
    if opts.json:
        render.emit_json(result)
        return
    document = result.get("document") or {}
    click.echo(printable(f"{ident}  {document.get('name')} ({document.get('size', 0):,} bytes) {said}"))
