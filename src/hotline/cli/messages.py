"""Commands about traffic on the lines: ``send``, ``inbox``, ``ack``, ``log`` and ``test``.

``send`` queues even with the daemon stopped (docs/control.md "Offline operation"); waiting for
delivery, following the inbox and testing a line need the daemon, and say so before asking for a
passphrase.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import Any

import click
from click.core import ParameterSource
from rich.text import Text

from hotline.cli import reach, render, transcript
from hotline.cli.errors import Failure, printable
from hotline.cli.options import Settings, json_option, settings, wide_option
from hotline.client import ControlClient, ControlError

__all__ = ["ack", "inbox", "log", "send", "test"]

#: Precedences, highest first (docs/control.md ``send``).
PRECEDENCES = ("flash", "immediate", "priority", "routine")
#: How much longer than the station's own deadline we wait for its answer before giving up on it.
GRACE = 5.0


def _read_message(words: tuple[str, ...]) -> str:
    if not words or words == ("-",):
        text = sys.stdin.read()
        # `echo text | hotline send` adds one newline the sender did not mean to send
        text = text.removesuffix("\n")
    else:
        text = " ".join(words)
    if not text.strip():
        raise Failure("nothing to send: the message is empty")
    return text


@click.command()
@click.argument("peer")
@click.argument("text", nargs=-1, metavar="[TEXT | -]")
@click.option(
    "--precedence",
    "-p",
    type=click.Choice(PRECEDENCES, case_sensitive=False),
    default="routine",
    show_default=True,
    help="How urgent: flash goes first and alerts loudest.",
)
@click.option("--wait", is_flag=True, help="Wait until PEER's station has the message (needs `hotline up`).")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=60.0,
    show_default=True,
    help="Seconds --wait waits.",
)
@json_option
def send(peer: str, text: tuple[str, ...], precedence: str, wait: bool, timeout: float) -> None:
    """Send a message to PEER: TEXT, or stdin when TEXT is `-` or missing.

    Prints the message id. Without the daemon the message is queued and goes out when the station is up.
    """
    ctx = click.get_current_context()
    if not wait and ctx.get_parameter_source("timeout") is not ParameterSource.DEFAULT:
        raise click.UsageError("--timeout only applies with --wait")
    body = _read_message(text)
    opts = settings()
    args = {"peer": peer, "text": body, "precedence": precedence.lower()}
    if not wait:
        message = reach.call(opts, "send", **args)
        if opts.json:
            render.emit_json(message)
        else:
            _announce(message)
        return

    async def send_and_wait(client: ControlClient) -> dict[str, Any]:
        # one request: the station listens for the receipt before it queues the message
        queued: dict[str, Any] = {}

        def not_yet() -> Failure:
            which = f"message {queued['id']}" if "id" in queued else "the message"
            return Failure(
                f"{which} was not delivered within {timeout:g} s; "
                "it stays queued and goes out when the line is up"
            )

        try:
            async with (
                asyncio.timeout(timeout + GRACE),
                client.stream("send", **args, wait=timeout) as events,
            ):
                async for event in events:
                    message = event.get("message")
                    if isinstance(message, dict) and not queued:
                        queued.update(message)
                        if not opts.json:
                            _announce(message)
        except TimeoutError:
            raise not_yet() from None
        except ControlError as exc:
            if exc.code == "timeout":
                raise not_yet() from None
            raise
        return events.result or queued

    delivered = reach.online(opts, send_and_wait)
    if opts.json:
        render.emit_json(delivered)
        return
    state = "acknowledged" if delivered.get("state") == "acked" else "delivered"
    at = delivered.get("acked_at") if state == "acknowledged" else delivered.get("delivered_at")
    click.echo(f"{state} at {render.when(at)}")


def _announce(message: dict[str, Any]) -> None:
    # the id first and alone in its column, so `hotline send … | cut -d' ' -f1` gets it
    summary = (
        f"{message.get('id')}  {message.get('precedence')} to {message.get('peer')}: {message.get('state')}"
    )
    click.echo(printable(summary))


@click.command()
@click.option("--peer", help="Only messages from PEER.")
@click.option("--unacked", is_flag=True, help="Only messages not yet acknowledged.")
@click.option(
    "--follow", "-f", is_flag=True, help="Keep printing messages and alerts as they come, until Ctrl-C."
)
@wide_option
@json_option
def inbox(peer: str | None, unacked: bool, follow: bool, wide: bool) -> None:
    """Show received messages, oldest first; acknowledge them with `hotline ack ID`."""
    opts = settings()
    args: dict[str, Any] = {"unacked": unacked, "follow": False}
    if peer is not None:
        args["peer"] = peer
    if follow:
        # Ctrl-C is how a follow ends, so it is a success
        with contextlib.suppress(KeyboardInterrupt):
            reach.online(opts, lambda client: _follow(client, opts, args, wide))
        return
    result = reach.call(opts, "inbox", **args)
    messages = list(result.get("messages") or [])
    if opts.json:
        render.emit_json(result)
    elif not messages:
        click.echo("no messages")
    else:
        transcript.messages_view(render.console(), messages, wide=wide)


async def _follow(client: ControlClient, opts: Settings, args: dict[str, Any], wide: bool) -> None:
    # The backlog first, then a follow stream from just after it. `since` makes the daemon skip what
    # we have shown; the id set also drops a repeat if it counts `since` inclusively.
    backlog = await client.request("inbox", **args)
    messages = list(backlog.get("messages") or [])
    seen: set[str] = set()
    for message in messages:
        seen.add(str(message.get("id")))
        _show_event(opts, {"message": message}, wide)
    rowids = [m["inbox"] for m in messages if isinstance(m.get("inbox"), int)]
    follow_args = {**args, "follow": True}
    if rowids:
        follow_args["since"] = max(rowids)
    async with client.stream("inbox", **follow_args) as events:
        async for event in events:
            message = event.get("message")
            if isinstance(message, dict):
                if str(message.get("id")) in seen:
                    continue
                seen.add(str(message.get("id")))
            _show_event(opts, event, wide)


def _show_event(opts: Settings, event: dict[str, Any], wide: bool) -> None:
    if opts.json:
        render.emit_json(event)
        return
    out = render.console()
    if isinstance(event.get("message"), dict):
        out.print(transcript.message_block(event["message"], out.width, wide=wide), soft_wrap=wide)
    elif isinstance(event.get("alert"), dict):
        out.print(render.hanging(render.alert_line(event["alert"]), out.width, wide=wide), soft_wrap=wide)


@click.command()
@click.argument("ident", metavar="ID")
@click.option("--peer", default=None, help="The line the message came on (when two lines hold the id).")
@json_option
def ack(ident: str, peer: str | None) -> None:
    """Acknowledge the received message ID: its sender sees that it was read."""
    opts = settings()
    message = reach.call(opts, "ack", id=ident, **({"peer": peer} if peer is not None else {}))
    if opts.json:
        render.emit_json(message)
        return
    render.console().print(
        Text.assemble(
            "acknowledged ", render.text(ident, "dim"), " from ", render.text(message.get("peer"), "bold")
        )
    )


@click.command()
@click.argument("peer")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="Newest N entries.")
@wide_option
@json_option
def log(peer: str, limit: int, wide: bool) -> None:
    """Show the transcript of the line to PEER: each message with its receipt and acknowledgement,
    line tests and alerts where they happened (`--json` has every entry as the station logged it)."""
    opts = settings()
    result = reach.call(opts, "log", peer=peer, limit=limit)
    if opts.json:
        render.emit_json(result)
        return
    entries = list(result.get("entries") or [])
    if not entries:
        click.echo(f"nothing logged on the line to {peer} yet")
        return
    transcript.log_view(render.console(), entries, wide=wide)


@click.command()
@click.argument("peer")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    help="Seconds to wait for the answer.",
)
@json_option
def test(peer: str, timeout: float) -> None:
    """Test the line to PEER end to end now (needs `hotline up`); exit 1 if it fails."""
    opts = settings()

    async def run(client: ControlClient) -> dict[str, Any]:
        try:
            async with asyncio.timeout(timeout + GRACE):
                return await client.request("test", peer=peer, timeout=timeout)
        except TimeoutError:
            raise Failure(
                f"the station did not answer the test within {timeout + GRACE:g} s; "
                f"`hotline status` shows whether the line to {peer} is up"
            ) from None

    result = reach.online(opts, run)
    if opts.json:
        render.emit_json(result)
        if not result.get("ok"):
            raise click.exceptions.Exit(1)
        return
    if not result.get("ok"):
        raise Failure(
            f"test of the line to {peer} failed: {result.get('detail') or 'no detail'}; "
            f"see `hotline status` and `hotline log {peer}`"
        )
    rtt = result.get("rtt_ms")
    rtt_text = f", round trip {rtt:.1f} ms" if isinstance(rtt, int | float) else ""
    click.echo(f"line to {peer}: test ok{rtt_text}")
