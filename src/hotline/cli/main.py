"""Entry point of the ``hotline`` command.

Only this package turns exceptions into wording and exit codes: 0 for success, 1 for a failure the
user can act on (the message says what to do), 2 for a usage error (click's own). The root group
catches what a command raises and hands it to :func:`hotline.cli.errors.describe`, so commands raise
freely and no command prints a traceback.
"""

from __future__ import annotations

import importlib.metadata
import os
from pathlib import Path
from typing import Any

import click

from hotline import __version__
from hotline.cli import calls, console, documents, lines, messages, pairing, quota, stations
from hotline.cli.errors import DEBUG_ENV, Failure, describe
from hotline.cli.options import DEFAULT_HOME, Settings, settings

#: The distribution whose version ``--version`` prints.
DISTRIBUTION = "hotline"


def version() -> str:
    """The installed package's version (its metadata), else the source tree's own number."""
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return __version__


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    click.echo(f"hotline {version()}")
    ctx.exit()


class _Hotline(click.Group):
    """The root group: maps exceptions escaping any command to one-line failures."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            failure = describe(exc, settings(ctx).home, ctx.invoked_subcommand)
            if failure is None:
                if os.environ.get(DEBUG_ENV):
                    raise
                failure = Failure(
                    f"internal error ({type(exc).__name__}: {exc}); set {DEBUG_ENV}=1 for the traceback"
                )
            raise failure from exc


@click.group(cls=_Hotline, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Print the version and exit.",
)
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="HOTLINE_HOME",
    help=f"Station directory [env HOTLINE_HOME; default {DEFAULT_HOME}].",
)
@click.option(
    "--passphrase-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help=(
        "Read the passphrase from the first line of FILE [else the systemd credential hotline.passphrase, "
        "else env HOTLINE_PASSPHRASE, else ask]."
    ),
)
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON instead of text.")
@click.pass_context
def cli(ctx: click.Context, home: Path | None, passphrase_file: Path | None, as_json: bool) -> None:
    """Hotline: a secure direct line between two stations."""
    ctx.obj = Settings(
        home=(home or Path(DEFAULT_HOME)).expanduser(), passphrase_file=passphrase_file, json=as_json
    )


@cli.command()
@click.option(
    "--port", type=click.IntRange(0, 65535), default=0, show_default=True, help="Loopback port (0 picks one)."
)
def demo(port: int) -> None:
    """Three stations on this machine as separate daemons: pair, verify, talk, test, status."""
    from hotline.cli.demo import run_demo

    run_demo(port=port)


for _command in (
    stations.init,
    stations.up,
    stations.card,
    stations.status,
    stations.passphrase,
    lines.line,
    pairing.pair,
    messages.send,
    messages.inbox,
    messages.ack,
    messages.log,
    messages.test,
    calls.call,
    calls.answer,
    calls.hangup,
    calls.sas,
    calls.calls,
    calls.recording,
    documents.send_file,
    documents.files,
    documents.file,
    quota.quota,
    console.console_command,
):
    cli.add_command(_command)


def main() -> None:
    """Run the command line."""
    cli()
