"""Station errors as the console shows them: one line, what happened, then what to do next."""

from __future__ import annotations

import pytest

from hotline.client import ControlError, NotRunning
from hotline.console.errors import NEXT_STEP, one_line

#: Codes of docs/control.md ("Error codes") that an operator at the console can meet.
CONSOLE_CODES = (
    "bad-request", "no-such-line", "no-such-message", "not-verified", "no-key", "store-full",
    "store-error", "not-running", "timeout", "internal", "ambiguous", "line-down", "line-unverified",
    "busy", "no-call", "no-such-call", "bad-audio", "no-audio-device", "connection-lost", "bad-response",
)  # fmt: skip


@pytest.mark.parametrize("code", [c for c in CONSOLE_CODES if c != "not-verified"])
def test_every_code_gets_a_next_step_on_one_line(code: str) -> None:
    shown = one_line("not sent to bravo", ControlError(code, "the station's words.\nsecond line"))
    assert "\n" not in shown
    assert shown == f"not sent to bravo: the station's words. second line; {NEXT_STEP[code]}"


def test_not_verified_is_told_to_verify_but_a_test_of_a_line_that_is_down_to_wait() -> None:
    down = ControlError("not-verified", "the line 'bravo' is down: it cannot be tested")
    assert one_line("line test to bravo", down).endswith(NEXT_STEP["line-down"])
    unverified = ControlError("not-verified", "the line 'bravo' is not verified: verify it first")
    assert one_line("", unverified).endswith("(v), then confirm it")


def test_the_next_step_is_not_repeated_and_unknown_codes_keep_the_station_words() -> None:
    step = NEXT_STEP["busy"]
    assert one_line("", ControlError("busy", f"taken; {step}")) == f"taken; {step}"
    assert one_line("call", ControlError("new-code", "something new.")) == "call: something new"


def test_socket_errors_and_a_stopped_station() -> None:
    assert one_line("lost the station", NotRunning("there is no control socket at /x/control.sock")) == (
        "lost the station: there is no control socket at /x/control.sock; " + NEXT_STEP["not-running"]
    )
    shown = one_line("lost the station", PermissionError(13, "Permission denied"))
    assert shown.startswith("lost the station: [Errno 13] Permission denied; check")
