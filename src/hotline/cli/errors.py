"""Exit codes and wording: the only place where exceptions become what the operator reads.

Every failure is one line on stderr, ``hotline: <what went wrong>[: <what to do>]``, and exit code 1;
click's usage errors keep their own form and exit code 2. Nothing here prints a traceback, except for a
bug (an exception we did not expect) when ``HOTLINE_DEBUG`` is set, so a bug report can carry one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import click

from hotline.client.errors import ControlError
from hotline.proto.identity_errors import IdentityError, KeyFileCorrupt, WrongPassphrase

__all__ = ["DEBUG_ENV", "NEXT_STEP", "Failure", "describe", "next_step", "not_running", "printable"]

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


def wrong_passphrase(home: Path) -> Failure:
    """The failure for a passphrase that does not open the station's key file."""
    return Failure(
        f"wrong passphrase for the station at {home}; "
        "give the one it was created with (or last changed to with `hotline passphrase`)"
    )


def describe(exc: Exception, home: Path, command: str | None = None) -> Failure | None:
    """Turn an exception from a request, the station or a local file into a :class:`Failure`.

    Args:
        exc: what was raised.
        home: the station directory, named in messages that tell the operator what to run.
        command: the command that failed (``send``, ``line``), for the help it points to.

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
        return wrong_passphrase(home)
    if code is not None and message is not None:
        return Failure(next_step(code, message, home, command))
    if isinstance(exc, WrongPassphrase):
        return wrong_passphrase(home)
    if isinstance(exc, KeyFileCorrupt):
        return Failure(f"the station's key file cannot be opened: {exc.reason}")
    if isinstance(exc, IdentityError):
        return Failure(exc.reason)
    if isinstance(exc, OSError):
        return Failure(_os_error(exc))
    return None


#: A next step: its words, or a function of the station's message and the line it names.
Step = str | Callable[[str, str], str]


_VERIFY = "compare the safety number with `hotline line verify {peer}`, then confirm it with --confirm"


def _unverified_or_down(message: str, peer: str) -> str:
    # older stations also answered `not-verified` to a line test on a verified line without a key
    if "not verified" in message or "unverified" in message:
        return _VERIFY.format(peer=peer)
    return f"`hotline status` shows when the line to {peer} is up again"


def _busy(message: str, peer: str) -> str:
    # `busy` is a call already on the line, or the station held by another process
    if "call" in message:
        return f"hang up the call in progress first (`hotline hangup {peer}`)"
    return "wait until the other process is done (or stop it), then try again"


#: What the operator does next, for each error code the station and the control client answer
#: (docs/control.md "Error codes"). ``{peer}`` is the line the station's message names (else ``PEER``),
#: ``{home}`` the station directory, ``{command}`` the command that failed. ``not-running`` and
#: ``wrong-passphrase`` have their own sentence (:func:`describe`).
NEXT_STEP: dict[str, Step] = {
    "bad-request": "see `hotline {command}--help` for the values it takes",
    "no-such-line": "see `hotline line list`",
    "line-exists": "see `hotline line list`",
    "no-such-message": "`hotline inbox` and `hotline log {peer}` show the message ids",
    "not-verified": _unverified_or_down,
    "no-key": "carry a line key: `hotline line grant {peer}` here, `hotline line accept` at the far end",
    "bad-card": "ask {peer}'s operator for the card again (`hotline card --out FILE` at their station)",
    "bad-line-key": "ask {peer}'s operator for a new one (`hotline line grant` at their station)",
    "store-full": "free disk space where {home} is, then try again; nothing stored was lost",
    "store-error": "check the disk where {home} is and the daemon's log, then try again",
    "not-running": "start the station with `hotline --home {home} up`",
    "timeout": "`hotline status` shows whether the line to {peer} is up",
    "pairing-failed": "start the pairing again at both stations (`hotline pair {peer}`)",
    "internal": "this is a bug: try again, and report it with the daemon's log",
    "ambiguous": "name the line with --peer",
    "entries-waiting": "wait until `hotline log {peer}` shows every entry delivered, then change the profile",
    "line-down": "wait until `hotline status` shows the line to {peer} up (`hotline test {peer}` checks it)",
    "line-unverified": _VERIFY,
    "busy": _busy,
    "no-call": "`hotline status` shows the calls in progress",
    "no-such-call": "`hotline calls` lists the call ids",
    "no-recording": "set `record_calls` in station.toml to record the calls that come next",
    "bad-audio": "give --play a PCM WAV file and --record a new file name",
    "no-audio-device": "give WAV files with --play and --record instead",
    "bad-file": "check the path and its permissions, then try again",
    "no-such-document": "`hotline files` lists the documents",
    "not-complete": "wait until `hotline files` shows it complete",
    "not-held": "`hotline files` shows which documents are held",
    "corrupt": "ask {peer}'s operator to send it again (`hotline send-file`)",
    "no-station": "create one with `hotline --home {home} init NAME`",
    "station-exists": "choose another --home, or keep using the station that is there",
    "wrong-passphrase": "give the one it was created with (or last changed to with `hotline passphrase`)",
    "bad-keyfile": "restore the key file from a backup, or check its permissions",
    "bad-config": "fix {home}/station.toml, then try again",
    "weak-passphrase": "choose a stronger one and run the command again",
    "connection-lost": "the daemon may have stopped: see `hotline --home {home} status` and its log",
    "bad-response": "the daemon is of another Hotline version: restart it with `hotline --home {home} up`",
}

#: A message names what to do when it names a command, a setting or an option (`hotline …`, --peer).
_SAYS_WHAT_TO_DO = re.compile(r"`|(^|\s)--[a-z]")
#: How station messages name a line: ``the line 'x'``, ``from 'x'``, ``the line to x``, ``the call with x``.
_LINE_NAMED = re.compile(
    r"(?:line(?: to)?|from|for|with) '([A-Za-z0-9_.-]{1,64})'"
    r"|(?:line to|call from|call with) ([A-Za-z0-9_.-]{1,64})"
)


def next_step(code: str, message: str, home: Path, command: str | None = None) -> str:
    """The station's ``message`` for ``code``, and what to do next when the message does not say.

    An unknown code (a newer station) keeps the station's words alone.
    """
    step = NEXT_STEP.get(code)
    if step is None or _SAYS_WHAT_TO_DO.search(message):
        return message
    named = _LINE_NAMED.search(message)
    peer = (named.group(1) or named.group(2)) if named else "PEER"
    words = step(message, peer) if callable(step) else step
    words = words.format(peer=peer, home=home, command=f"{command} " if command else "")
    return f"{message}; {words}"


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
