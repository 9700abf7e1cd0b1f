"""Entry point of the ``hotline`` command.

Only this package turns exceptions into wording and exit codes: 0 for success, 1 for a failure the
user can act on (the message says what to do), 2 for a usage error (click's own).
"""

from __future__ import annotations

import click

from hotline import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hotline")
def cli() -> None:
    """Hotline: a secure direct line between two stations."""


@cli.command()
@click.option(
    "--port", type=click.IntRange(0, 65535), default=0, show_default=True, help="Loopback port (0 picks one)."
)
def demo(port: int) -> None:
    """Two stations on this machine: identities, cards, safety number and a secure session."""
    from hotline.cli.demo import run_demo

    run_demo(port=port)


def main() -> None:
    """Run the command line."""
    cli()
