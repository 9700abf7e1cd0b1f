"""Commands for the telephone: ``call``, ``answer``, ``hangup``, ``sas``, ``calls`` and ``recording``.

A call needs the daemon (it carries the media); ``call`` and ``answer`` stay in the foreground for
the whole call and print what happens, and Ctrl-C hangs up. Without ``--play``/``--record`` the
daemon uses the sound card.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.text import Text

from hotline.cli import reach, render
from hotline.cli.errors import Failure, printable
from hotline.cli.options import Settings, json_option, settings, wide_option
from hotline.client import ControlClient

__all__ = ["answer", "call", "calls", "hangup", "recording", "sas"]


def _media_options(command: Any) -> Any:
    options = [
        click.option(
            "--play",
            type=click.Path(exists=True, dir_okay=False, resolve_path=True, path_type=Path),
            help="Send this WAV file instead of the microphone (any rate, mono or stereo).",
        ),
        click.option(
            "--record",
            type=click.Path(dir_okay=False, resolve_path=True, path_type=Path),
            help="Write what you hear to this new WAV file instead of the speaker.",
        ),
        click.option(
            "--seconds",
            type=click.FloatRange(min=0, min_open=True, max=86_400),
            help="Hang up after this many seconds of conversation.",
        ),
        click.option("--sas-confirm", is_flag=True, help="Say the SAS words matched as soon as they show."),
        click.option(
            "--sas-mismatch",
            is_flag=True,
            help="Say the SAS words did not match: ends the call with an alert.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _media_args(
    play: Path | None, record: Path | None, seconds: float | None, sas_confirm: bool, sas_mismatch: bool
) -> dict[str, Any]:
    if sas_confirm and sas_mismatch:
        raise click.UsageError("--sas-confirm and --sas-mismatch exclude each other")
    if record is not None and record.exists():
        raise Failure(f"{record} exists: choose a new file name for --record (Hotline never overwrites)")
    args: dict[str, Any] = {}
    if play is not None:
        args["play"] = str(play)
    if record is not None:
        args["record"] = str(record)
    if seconds is not None:
        args["seconds"] = seconds
    if sas_confirm or sas_mismatch:
        args["sas"] = "confirm" if sas_confirm else "mismatch"
    return args


@click.command()
@click.argument("peer")
@_media_options
@json_option
def call(
    peer: str,
    play: Path | None,
    record: Path | None,
    seconds: float | None,
    sas_confirm: bool,
    sas_mismatch: bool,
) -> None:
    """Ring PEER and talk until either side hangs up (Ctrl-C hangs up).

    Read the four SAS words aloud with the far end: the same words on both sides mean nobody is in the
    middle. If they differ, hang up with `hotline sas mismatch PEER`.
    """
    args = {"peer": peer, **_media_args(play, record, seconds, sas_confirm, sas_mismatch)}
    _run_live(settings(), "call.place", args)


@click.command()
@click.argument("peer", required=False)
@_media_options
@click.option(
    "--wait",
    type=click.FloatRange(min=0, max=86_400),
    default=0.0,
    show_default=True,
    help="Seconds to wait for a call to ring.",
)
@json_option
def answer(
    peer: str | None,
    play: Path | None,
    record: Path | None,
    seconds: float | None,
    sas_confirm: bool,
    sas_mismatch: bool,
    wait: float,
) -> None:
    """Pick up the call ringing (from PEER) and talk until either side hangs up (Ctrl-C hangs up)."""
    args: dict[str, Any] = {**_media_args(play, record, seconds, sas_confirm, sas_mismatch), "wait": wait}
    if peer is not None:
        args["peer"] = peer
    _run_live(settings(), "call.answer", args)


def _run_live(opts: Settings, op: str, args: dict[str, Any]) -> None:
    async def talk(client: ControlClient) -> dict[str, Any]:
        async with client.stream(op, **args) as events:
            async for event in events:
                _show(opts, event)
        return events.result or {}

    try:
        result = reach.online(opts, talk)
    except KeyboardInterrupt:
        # leaving the stream is what hangs up: the station ends a call whose operator left
        click.echo("hung up", err=True)
        return
    if opts.json:
        render.emit_json(result)
        return
    click.echo(printable(_summary(result)))


def _show(opts: Settings, event: dict[str, Any]) -> None:
    if opts.json:
        render.emit_json(event)
        return
    out = render.console()
    kind = event.get("event")
    peer = event.get("peer")
    if kind == "calling":
        out.print(render.text(f"calling {peer} (call {event.get('id')})"))
    elif kind == "ringing":
        out.print(render.text(f"ringing at {peer}"))
    elif kind == "answered":
        words = " ".join(str(w).upper() for w in event.get("sas") or [])
        line = Text("connected. SAS: ", style="bold")
        line.append(words, style="bold reverse")
        line.append("  (read the words aloud; if the far end's differ: `hotline sas mismatch`)")
        out.print(line)
    elif kind == "path":
        out.print(
            render.text("no media over UDP: the call now goes inside the line's session (TCP)", "yellow")
        )
    elif kind == "sas-verdict":
        verdict = "match: confirmed" if event.get("matches") else "DO NOT MATCH: hanging up"
        out.print(render.text(f"SAS words {verdict}", "green" if event.get("matches") else "bold red"))
    elif kind == "stats" and out.is_terminal:
        call_info = event.get("call") or {}
        out.print(render.text(_figures(call_info), "dim"))


def _figures(call_info: dict[str, Any]) -> str:
    return (
        f"{render.duration(call_info.get('duration'))} · {call_info.get('path')} · "
        f"{(call_info.get('bitrate') or 0) / 1000:g} kbit/s · loss {call_info.get('loss')} % · "
        f"jitter {call_info.get('jitter_ms')} ms · buffer {call_info.get('delay_ms')} ms"
    )


def _summary(call_info: dict[str, Any]) -> str:
    reason = call_info.get("end_reason", "ended")
    if call_info.get("path") is None and not call_info.get("duration"):
        return f"call with {call_info.get('peer')} ended: {reason}"
    return f"call with {call_info.get('peer')} ended ({reason}): {_figures(call_info)}"


@click.command()
@click.argument("peer", required=False)
@json_option
def hangup(peer: str | None) -> None:
    """End the call (on the line to PEER), or refuse a ringing one."""
    opts = settings()
    result = reach.call(opts, "call.hangup", **({"peer": peer} if peer else {}))
    if opts.json:
        render.emit_json(result)
    else:
        click.echo(printable(_summary(result)))


@click.command()
@click.argument("verdict", type=click.Choice(["match", "mismatch"]))
@click.argument("peer", required=False)
@json_option
def sas(verdict: str, peer: str | None) -> None:
    """Say whether the SAS words of the call in progress matched what the far end read.

    A mismatch ends the call and raises an alert on the line: someone may be in the middle.
    """
    opts = settings()
    args: dict[str, Any] = {"matches": verdict == "match"}
    if peer:
        args["peer"] = peer
    result = reach.call(opts, "call.sas", **args)
    if opts.json:
        render.emit_json(result)
    elif verdict == "match":
        click.echo("SAS confirmed: logged with the call")
    else:
        click.echo("SAS mismatch: the call is ended and the line carries an alert")


@click.command()
@click.argument("peer", required=False)
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@wide_option
@json_option
def calls(peer: str | None, limit: int, wide: bool) -> None:
    """The call log (of the line to PEER): who, when, how long, whether the SAS was confirmed."""
    opts = settings()
    args: dict[str, Any] = {"limit": limit}
    if peer:
        args["peer"] = peer
    result = reach.call(opts, "calls", **args)
    if opts.json:
        render.emit_json(result)
        return
    rows = list(result.get("calls") or [])
    if not rows:
        click.echo("no calls")
        return
    out = render.console(wide=wide)
    out.print(render.call_table(rows, out.width, wide=wide))


@click.command()
@click.argument("ident", metavar="ID")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, resolve_path=True, path_type=Path),
    help="A new WAV file: left channel this station, right channel the far end.",
)
@json_option
def recording(ident: str, out: Path) -> None:
    """Write out the recorded audio of call ID (lines with `record_calls` in their config)."""
    opts = settings()
    if out.exists():
        raise Failure(f"{out} exists: choose a new file name (Hotline never overwrites)")
    result = reach.call(opts, "call.export", id=ident, out=str(out))
    if opts.json:
        render.emit_json(result)
    else:
        click.echo(f"wrote {result.get('seconds')} s of call {ident} to {out}")
