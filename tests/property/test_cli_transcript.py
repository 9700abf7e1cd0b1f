"""The CLI's transcript (``hotline log``) over any log the station could give, at any width.

Whatever the entries (messages of every kind, receipts and acknowledgements for messages in view or
long gone, tests, alerts, text with newlines, long words and wide characters), the transcript shows
each text message and document exactly once, never an acknowledgement or a test as a message, and no
line wider than the terminal.
"""

from __future__ import annotations

import io
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.text import Text

from hotline.cli import transcript

IDS = [f"{c * 16}" for c in "abcdefgh"]
DAY = 86_400.0
T0 = 1_796_000_000.0

words = st.text(
    alphabet=st.sampled_from([*"abcdefghij klmnop\n", "漢", "字", "é", "—"]), min_size=0, max_size=300
)
times = st.floats(min_value=T0, max_value=T0 + 3 * DAY, allow_nan=False)


@st.composite
def message_entries(draw: st.DrawFn) -> dict[str, Any]:
    at = draw(times)
    direction = draw(st.sampled_from(["in", "out"]))
    states = ["received", "acked"] if direction == "in" else ["queued", "sent", "delivered", "acked"]
    message = {
        "id": draw(st.sampled_from(IDS)),
        "peer": draw(st.sampled_from(["jerusalem", "washington-embassy-annex-b"])),
        "direction": direction,
        "kind": draw(st.sampled_from(["text", "doc", "ack", "test", "test-reply"])),
        "precedence": draw(st.sampled_from(["flash", "immediate", "priority", "routine"])),
        "text": draw(words),
        "created_at": at,
        "state": draw(st.sampled_from(states)),
        "delivered_at": draw(st.none() | times),
        "acked_at": draw(st.none() | times),
    }
    return {"at": at, "kind": "message", "message": message}


@st.composite
def other_entries(draw: st.DrawFn) -> dict[str, Any]:
    at = draw(times)
    kind = draw(st.sampled_from(["receipt", "ack", "test", "alert", "something-new"]))
    if kind in ("receipt", "ack"):
        return {
            "at": at,
            "kind": kind,
            "id": draw(st.sampled_from(IDS)),
            "direction": draw(st.sampled_from(["in", "out"])),
        }
    if kind == "test":
        return {
            "at": at,
            "kind": kind,
            "event": "test",
            "ok": draw(st.booleans()),
            "detail": draw(words),
            "rtt_ms": None,
        }
    if kind == "alert":
        event = draw(st.sampled_from(["gap", "line-up", "line-down", "chain-mismatch", "quota"]))
        return {"at": at, "kind": kind, "event": event, "detail": draw(words)}
    return {"at": at, "kind": kind, "extra": draw(words)}


@settings(max_examples=150, deadline=None)
@given(
    entries=st.lists(st.one_of(message_entries(), other_entries()), max_size=12),
    width=st.integers(min_value=40, max_value=200),
)
def test_each_message_once_and_no_line_wider_than_the_terminal(
    entries: list[dict[str, Any]], width: int
) -> None:
    out = Console(file=io.StringIO(), width=width, highlight=False)
    transcript.log_view(out, entries)
    assert isinstance(out.file, io.StringIO)
    lines = out.file.getvalue().splitlines()
    assert all(Text(line).cell_len <= width for line in lines), lines

    items = transcript.fold_log(entries)
    shown = [item.message["id"] for item in items if item.kind == "message"]
    expected = [
        e["message"]["id"]
        for e in entries
        if e["kind"] == "message" and e["message"]["kind"] in ("text", "doc")
    ]
    assert shown == expected
    for item in items:
        if item.kind == "message":
            assert item.message["kind"] in ("text", "doc")
