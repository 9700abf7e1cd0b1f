"""The station's refusals as the console words them: one line, what happened, then what to do next.

The station's own message says what happened (and often what to do, in terms of the ``hotline``
command). The console adds the next step in its own terms (a key on this screen, a lamp to watch)
for the codes of docs/control.md ("Error codes") where the operator has one. Everything shown is one
line: the status line and the dialogs have one line for it.
"""

from __future__ import annotations

from hotline.client import ControlError

__all__ = ["NEXT_STEP", "one_line"]

#: What the operator of the console can do next, by error code.
NEXT_STEP = {
    "not-running": "the console reconnects by itself; if it stays lost, start the station (`hotline up`)",
    "connection-lost": "the console reconnects by itself; if it stays lost, start the station (`hotline up`)",
    "bad-response": "the console reconnects by itself; if this repeats, see the station's log",
    "timeout": "watch the line's lamp: the message stays queued and goes when the line is up",
    "not-verified": "compare the safety number with the other office (v), then confirm it",
    "line-unverified": "compare the safety number with the other office (v), then confirm it",
    "no-key": "the line has no key yet: pair it again from the command line (`hotline pair`)",
    "no-such-line": "pick a line on the board; the line may have been removed",
    "no-such-message": "it may be acknowledged already: see the transcript",
    "no-such-call": "there is no such call; the call may have ended",
    "no-call": "there is no call on this line to act on",
    "line-down": "wait until the line's lamp is green (t tests it), then try again",
    "busy": "a call is already on: hang up first (h), or wait",
    "no-audio-device": "give a WAV file to play and a new path to record in the call dialog",
    "bad-audio": "choose a PCM WAV file to play and a new path to record",
    "store-full": "free disk space on the station's disk, then try again",
    "store-error": "see the station's log; free disk space if the disk is full, then try again",
    "internal": "see the station's log for the details, then try again",
    "bad-request": "check what you typed and try again",
    "ambiguous": "select the line the message came on, then try again",
}


def one_line(doing: str, exc: BaseException) -> str:
    """``doing`` (e.g. ``not sent to bravo``), what the station said, and the next step, on one line.

    The next step is left out when the station's message already ends with the same words.
    """
    if isinstance(exc, ControlError):
        said, step = exc.message, NEXT_STEP.get(exc.code)
        if exc.code == "not-verified" and "verified" not in said:
            step = NEXT_STEP["line-down"]  # older stations said this of a line test on a keyless line
    else:  # the socket itself, e.g. permission denied
        said, step = str(exc) or type(exc).__name__, "check that the station runs as this user"
    said = " ".join(said.split()).rstrip(".")
    text = f"{doing}: {said}" if doing else said
    if step and step not in said:
        text = f"{text}; {step}"
    return text
