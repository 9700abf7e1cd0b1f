"""What every command shares: the station home, the passphrase, ``--json``, and ``HOST:PORT`` values.

The group callback builds one :class:`Settings` and stores it as the context object; commands find it
with :func:`settings`. The passphrase is asked for only when a command really needs it (``init``, ``up``,
or a request run offline), because a running daemon needs none: its control socket is protected by file
permissions (docs/control.md).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from hotline.cli.errors import Failure

__all__ = [
    "ENDPOINT",
    "HOST_PORT",
    "PROFILE",
    "PROFILE_NAMES",
    "Settings",
    "json_option",
    "settings",
    "wide_option",
]

#: Where a station lives when neither ``--home`` nor ``HOTLINE_HOME`` says.
DEFAULT_HOME = "~/.hotline"
#: The environment variable read for the passphrase when no ``--passphrase-file`` or credential is given.
PASSPHRASE_ENV = "HOTLINE_PASSPHRASE"
#: The systemd credential holding the passphrase (``LoadCredentialEncrypted=hotline.passphrase:…``):
#: systemd decrypts it into ``$CREDENTIALS_DIRECTORY``, a private in-memory directory of the service.
CREDENTIAL = "hotline.passphrase"

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Settings:
    """The group-level options of one invocation. Not shared between invocations."""

    #: The station directory (expanded, not necessarily existing).
    home: Path
    #: ``--passphrase-file``, if given.
    passphrase_file: Path | None = None
    #: Print results as JSON instead of rich text (``--json`` on the group or on the command).
    json: bool = False

    @property
    def socket(self) -> Path:
        """The daemon's control socket (docs/control.md)."""
        return self.home / "control.sock"

    def station_home(self) -> Path:
        """The home directory, after checking that a station can be there.

        Raises:
            Failure: the directory does not exist.
        """
        if not self.home.is_dir():
            raise Failure(f"no station at {self.home}: create one with `hotline init`")
        return self.home

    def passphrase(self, *, confirm: bool = False) -> str:
        """The passphrase, from the first of: ``--passphrase-file`` (its first line), the systemd
        credential ``hotline.passphrase`` in ``$CREDENTIALS_DIRECTORY`` (its first line),
        ``$HOTLINE_PASSPHRASE``, a prompt on the terminal.

        Args:
            confirm: ask twice when prompting (for ``init``, where a typo would lock the station).

        Raises:
            Failure: the file cannot be read, the passphrase is empty, or there is no terminal to ask on.
        """
        # from here this process holds a secret: no core dump of it, no ptrace by its peers (imported
        # here, as hotline.cli.reach does, so that --help does not load the station)
        from hotline.station.protect import protect_process

        protect_process()
        credential = _credential()
        if self.passphrase_file is not None:
            passphrase = _first_line(self.passphrase_file, "the passphrase file")
            source = f"the passphrase file {self.passphrase_file}"
        elif credential is not None:
            passphrase = _first_line(credential, "the systemd credential")
            source = f"the systemd credential {credential}"
        elif (from_env := os.environ.get(PASSPHRASE_ENV)) is not None:
            passphrase = from_env
            source = f"${PASSPHRASE_ENV}"
        else:
            if not _has_terminal():
                raise Failure(_NO_PASSPHRASE)
            try:
                passphrase = click.prompt(
                    "Station passphrase", hide_input=True, confirmation_prompt=confirm, err=True
                )
            except click.Abort:
                raise Failure(_NO_PASSPHRASE) from None
            source = "the prompt"
        if not passphrase:
            raise Failure(f"the passphrase from {source} is empty")
        return passphrase


_NO_PASSPHRASE = f"no passphrase: give --passphrase-file, set {PASSPHRASE_ENV}, or run in a terminal"


def _credential() -> Path | None:
    """The passphrase credential systemd passed to this service, if any.

    Only a file named :data:`CREDENTIAL` counts: a service may be given other credentials.
    """
    directory = os.environ.get("CREDENTIALS_DIRECTORY")
    if not directory:
        return None
    path = Path(directory) / CREDENTIAL
    return path if path.is_file() else None


def _first_line(path: Path, what: str) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise Failure(f"cannot read {what} {path}: {_why(exc)}") from exc
    lines = text.splitlines()
    return lines[0] if lines else ""


def _has_terminal() -> bool:
    # The hidden prompt reads /dev/tty (getpass); without one it would fall back to stdin with a
    # warning and echo, which is worse than saying where else a passphrase can come from.
    try:
        os.close(os.open("/dev/tty", os.O_RDWR))
    except OSError:
        return False
    return True


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc)


def settings(ctx: click.Context | None = None) -> Settings:
    """The :class:`Settings` of the running invocation."""
    ctx = ctx or click.get_current_context()
    found = ctx.find_object(Settings)
    if found is None:  # a command invoked without the group, which only tests would do
        found = Settings(home=Path(DEFAULT_HOME).expanduser())
        ctx.obj = found
    return found


def _set_json(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        settings(ctx).json = True


def json_option(command: F) -> F:
    """Add ``--json`` to a command; it has the same effect as ``hotline --json <command>``."""
    return click.option(
        "--json",
        is_flag=True,
        expose_value=False,
        callback=_set_json,
        help="Print the result as one JSON object instead of text.",
    )(command)


def wide_option(command: F) -> F:
    """Add ``--wide``: every text whole instead of fitted to the terminal (or 80 columns in a pipe)."""
    return click.option(
        "--wide",
        "-w",
        is_flag=True,
        help="Show every text whole, not fitted to the terminal's width (80 columns in a pipe, or $COLUMNS).",
    )(command)


class HostPort(click.ParamType[str]):
    """A ``HOST:PORT`` value (``[v6]:PORT`` for IPv6), returned as the text given."""

    name = "HOST:PORT"

    def __init__(self, *, allow_zero: bool) -> None:
        self.allow_zero = allow_zero

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value).strip()
        host, sep, port = text.rpartition(":")
        if host.startswith("[") and host.endswith("]"):
            bare = host[1:-1]
            host_ok = ":" in bare
        else:
            host_ok = ":" not in host
        lowest = 0 if self.allow_zero else 1
        if not sep or not host or not host_ok or not port.isdigit() or not lowest <= int(port) <= 65535:
            self.fail(f"{value!r} is not HOST:PORT (e.g. 192.0.2.10:4433 or [2001:db8::1]:4433)", param, ctx)
        return text


#: ``--listen``: port 0 is allowed (the station picks one).
HOST_PORT = HostPort(allow_zero=True)
#: ``--endpoint``: where others dial us, so a real port.
ENDPOINT = HostPort(allow_zero=False)
#: A line profile (docs/protocol.md §3.8), as ``hotline.proto.suites.SUITES`` names them; spelled out
#: here so that ``--help`` loads no cryptography (a test keeps the two lists the same).
PROFILE_NAMES = ("standard", "cnsa2")
PROFILE = click.Choice(PROFILE_NAMES)
