"""Exit codes and wording: the only place where exceptions become what the operator reads.

Every failure is one line on stderr, ``hotline: <what went wrong>[: <what to do>]``, and exit code 1;
click's usage errors keep their own form and exit code 2. Nothing here prints a traceback, except for a
bug (an exception we did not expect) when ``HOTLINE_DEBUG`` is set, so a bug report can carry one.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any

import click

from hotline.client.errors import ControlError
from hotline.proto.identity_errors import IdentityError, KeyFileCorrupt, WrongPassphrase

__all__ = ["DEBUG_ENV", "Failure", "describe", "not_running", "printable"]

#: Set to anything to get a traceback for unexpected exceptions instead of the one-line report.
DEBUG_ENV = "HOTLINE_DEBUG"


class Failure(click.ClickException):
    """A failure the operator can act on: printed as one ``hotline: …`` line, exit code 1."""

    exit_code = 1

    def show(self, file: IO[Any] | None = None) -> None:
        """Print the one line on stderr."""
        one_line = " ".join(printable(self.message).split("\n"))
        click.echo(f"hotline: {one_line}", err=True, file=file)


def not_running(home: Path) -> Failure:
    """The failure for a request that needs the daemon when it is not running."""
    return Failure(f"the station is not running: start it with `hotline --home {home} up`")


def describe(exc: Exception, home: Path) -> Failure | None:
    """Turn an exception from a request, the station or a local file into a :class:`Failure`.

    Args:
        exc: what was raised.
        home: the station directory, named in messages that tell the operator what to run.

    Returns:
        The failure to raise, or ``None`` for an exception we do not expect (a bug).
    """
    if isinstance(exc, Failure):
        return exc
    code, message = _coded(exc)
    if code == "not-running":
        return not_running(home)
    if code == "wrong-passphrase":
        # the station names the key file; the operator thinks of the station
        return Failure(f"wrong passphrase for the station at {home}")
    if message is not None:
        return Failure(message)
    if isinstance(exc, WrongPassphrase):
        return Failure(f"wrong passphrase for the station at {home}")
    if isinstance(exc, KeyFileCorrupt):
        return Failure(f"the station's key file cannot be opened: {exc.reason}")
    if isinstance(exc, IdentityError):
        return Failure(exc.reason)
    if isinstance(exc, OSError):
        return Failure(_os_error(exc))
    return None


def _coded(exc: Exception) -> tuple[str | None, str | None]:
    """The ``(code, message)`` of a control or station error, else ``(None, None)``."""
    if isinstance(exc, ControlError):
        return exc.code, exc.message
    # The station is imported lazily to keep --help fast; if exc is a StationError, the module that
    # defines it is loaded already, so this import costs nothing, and if the station package is not
    # importable exc cannot be one.
    try:
        from hotline.station.errors import StationError
    except ImportError:
        return None, None
    if isinstance(exc, StationError):
        return exc.code, exc.message
    return None, None


def _os_error(exc: OSError) -> str:
    why = (exc.strerror or str(exc)).lower()
    if exc.filename is not None:
        return f"{exc.filename}: {why}"
    return why


def printable(text: str) -> str:
    """``text`` with control characters shown as ``\\xNN``, so nothing can drive the terminal.

    Messages, names and details can come from the other station; an escape sequence in them must not
    reach the operator's terminal as one.
    """
    return "".join(ch if ch in "\n\t" or ch.isprintable() else _escape(ch) for ch in text)


def _escape(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
