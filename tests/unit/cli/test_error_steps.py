"""Every error code the station and the control client can answer gets one line with a next step.

The codes are gathered from the source (every ``StationError``, ``ControlError`` and pairing refusal
raised with a literal code) and from docs/control.md's list, so a new code the CLI has no words for
fails here rather than reaching an operator as a bare sentence.
"""

from __future__ import annotations

import ast
import io
import re
from pathlib import Path

import pytest

from hotline.cli.errors import NEXT_STEP, describe, next_step
from hotline.cli.main import cli
from hotline.client.errors import ControlError
from hotline.station.errors import StationError

ROOT = Path(__file__).resolve().parents[3]
HOME = Path("/srv/hotline")
#: Calls that carry an error code as their first argument.
_RAISERS = {"StationError", "ControlError", "_Refusal"}


def _literal_codes(node: ast.expr) -> set[str]:
    # `StationError("store-full" if full else "store-error", …)` names two codes
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return _literal_codes(node.body) | _literal_codes(node.orelse)
    return set()


def codes_in_source() -> set[str]:
    found: set[str] = set()
    for package in ("station", "client"):
        for path in (ROOT / "src" / "hotline" / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text("utf-8"))):
                if isinstance(node, ast.Call) and node.args:
                    name = getattr(node.func, "id", getattr(node.func, "attr", ""))
                    if name in _RAISERS:
                        found |= _literal_codes(node.args[0])
    return found


def codes_in_docs() -> set[str]:
    text = (ROOT / "docs" / "control.md").read_text("utf-8")
    section = text.split("## Error codes", 1)[1].split("\n## ", 1)[0]
    # the list also names the commands that open or create a station (`up`, `init`): not codes
    return set(re.findall(r"`([a-z]+(?:-[a-z]+)*)`", section)) - set(cli.commands)


ALL_CODES = sorted(codes_in_source() | codes_in_docs())
#: Codes with a sentence of their own instead of the station's words and a step.
SPECIAL = ("not-running", "wrong-passphrase")


def test_the_codes_were_found() -> None:
    # the scan itself must work: these are raised in many places, so a broken scan misses them
    assert {"no-such-line", "bad-request", "store-full", "connection-lost", "pairing-failed"} <= set(
        ALL_CODES
    )
    assert len(ALL_CODES) >= 35


@pytest.mark.parametrize("code", ALL_CODES)
def test_every_code_has_a_next_step(code: str) -> None:
    assert code in NEXT_STEP, f"the CLI has no next step for the error code {code!r} (hotline.cli.errors)"


@pytest.mark.parametrize("code", [code for code in ALL_CODES if code not in SPECIAL])
@pytest.mark.parametrize("kind", [StationError, ControlError])
def test_every_code_reads_as_one_line_saying_what_to_do(code: str, kind: type[Exception]) -> None:
    said = "something went wrong on the line 'jerusalem'"
    failure = describe(kind(code, said), HOME, "send")
    assert failure is not None
    shown = io.StringIO()
    failure.show(shown)
    line = shown.getvalue()
    assert line.startswith("hotline: ") and line.count("\n") == 1, line
    assert len(line) < 240, line
    assert line.startswith(f"hotline: {said}; "), line
    step = line.rstrip("\n").split("; ", 1)[1]
    assert len(step.split()) >= 3, line
    assert "{" not in step and "}" not in step, line  # every placeholder filled in
    # the step points somewhere: a command, an option, or a thing to do
    assert (
        "`hotline" in step
        or "--" in step
        or re.search(r"\b(wait|check|free|give|choose|ask|fix|try|set|restore)\b", step)
    ), line


@pytest.mark.parametrize(
    ("code", "message", "step"),
    [
        (
            "not-verified",
            "the line 'jerusalem' is not verified: verify it first",
            "`hotline line verify jerusalem`",
        ),
        (
            "not-verified",
            "the line 'jerusalem' is down: it cannot be tested",
            "`hotline status` shows when the line to jerusalem",
        ),
        ("bad-line-key", "the line key from 'moscow' does not open: bad tag", "ask moscow's operator"),
        ("no-call", "the call from jerusalem stopped ringing", "`hotline status`"),
        (
            "busy",
            "a call is already on the line to jerusalem: one call per line",
            "`hotline hangup jerusalem`",
        ),
        ("busy", "the passphrase of /srv/hotline is being changed by another process", "wait until"),
        ("bad-request", "unknown request 'frobnicate'", "`hotline send --help`"),
        ("store-full", "the disk is full", f"free disk space where {HOME} is"),
        ("no-such-message", "no received message aaaaaaaaaaaaaaaa", "`hotline log PEER`"),
    ],
)
def test_the_step_fits_what_the_station_said(code: str, message: str, step: str) -> None:
    assert step in next_step(code, message, HOME, "send")


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("no-such-line", "no line to 'ottawa' (see `hotline line list`)"),
        ("ambiguous", "'abc' is a message id on the lines to a, b: name the line with --peer"),
        ("line-exists", "there is already a line 'x': to pair again, `hotline line remove x` first"),
        (
            "no-audio-device",
            "this machine has no sound card. Without a sound card, give WAV files: --play IN.wav",
        ),
    ],
)
def test_a_message_that_says_what_to_do_is_left_as_it_is(code: str, message: str) -> None:
    assert next_step(code, message, HOME) == message


def test_an_unknown_code_keeps_the_stations_words() -> None:
    assert next_step("from-a-newer-station", "something new", HOME) == "something new"


def test_the_special_sentences_say_what_to_do() -> None:
    not_running = describe(ControlError("not-running", "a line test needs the station running"), HOME)
    assert not_running is not None and f"`hotline --home {HOME} up`" in not_running.message
    wrong = describe(StationError("wrong-passphrase", "key.file: wrong passphrase"), HOME)
    assert wrong is not None and str(HOME) in wrong.message and "`hotline passphrase`" in wrong.message
