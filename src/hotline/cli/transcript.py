"""Messages as blocks (``inbox``, ``inbox --follow``) and a line's log as a transcript (``log``).

A message is a block: one header line (time, direction, precedence, peer, id, and what became of it),
then its text indented below, wrapped to the terminal. Mail readers and chat transcripts lay messages
out this way because a table's text column shrinks to a word per line on an 80-column terminal.

The station's ``log`` (docs/control.md "entry") lists a receipt and an acknowledgement as entries of
their own, and an acknowledgement or a line test also travels as a message of its own kind. The
transcript folds them: each text message or document appears once, carrying its receipt and
acknowledgement marks with their times; tests and alerts stand in place, where they happened. A
receipt or acknowledgement whose message lies beyond ``--limit`` is shown as a short note, so nothing
the station logged is dropped silently.

``wide`` (the commands' ``--wide``) fits nothing to the terminal: each line of a message's text is
printed whole on one line, for wide terminals and for ``grep``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.text import Text

from hotline.cli.render import INDENT, PRECEDENCE_STYLE, hanging, text, when, wrap

__all__ = ["LogItem", "fold_log", "log_view", "message_block", "messages_view"]

Result = Mapping[str, Any]

#: Alert kinds that are good news or plain record, not something to act on (docs/control.md "alert").
_CALM_ALERTS = frozenset({"line-up", "quota-resumed"})
#: Message kinds that are conversation; acknowledgements and tests are folded into marks and test lines.
_SHOWN_KINDS = frozenset({"text", "doc"})


def _clock(at: Any) -> str:
    if not isinstance(at, int | float):
        return "—"
    return datetime.fromtimestamp(at).strftime("%H:%M:%S")


def _day(at: Any) -> str | None:
    if not isinstance(at, int | float):
        return None
    return datetime.fromtimestamp(at).strftime("%Y-%m-%d %A")


def _stamp(at: Any, day: str | None) -> str:
    # a mark's time on the message's own day reads as a clock time; another day gets its date
    if _day(at) == day:
        return _clock(at)
    return when(at)


def _at(label: str, at: Any, day: str | None) -> str:
    return label if at is None else f"{label} {_stamp(at, day)}"


def _marks(message: Result, day: str | None) -> Text:
    """What became of a message: queued, sent, delivered, acknowledged (and when), or unread."""
    state = str(message.get("state"))
    delivered, acked = message.get("delivered_at"), message.get("acked_at")
    if message.get("direction") == "out":
        if state == "acked":
            if delivered is None:
                return Text(_at("✓✓ acknowledged", acked, day), "bold green")
            return Text(
                f"{_at('✓✓ delivered', delivered, day)}, {_at('acknowledged', acked, day)}", "bold green"
            )
        if state == "delivered":
            return Text(_at("✓ delivered", delivered, day), "green")
        return Text({"queued": "○ queued", "sent": "◔ sent, no receipt yet"}.get(state, state), "yellow")
    if state == "acked":
        return Text(_at("✓ acknowledged", acked, day), "green")
    return Text("● unread", "bold cyan")


def message_block(message: Result, width: int, *, wide: bool = False, full_date: bool = True) -> Text:
    """One message as a header line, with what became of it, and its text indented below.

    Args:
        message: a ``message`` of docs/control.md.
        width: the terminal's width; the text is wrapped to it (unless ``wide``).
        wide: print every line of the text whole.
        full_date: the header's time with its date (``--follow``), or the clock alone (under a day
            heading).
    """
    at = message.get("created_at")
    outgoing = message.get("direction") == "out"
    precedence = str(message.get("precedence") or "routine")
    header = Text.assemble(
        text(when(at) if full_date else _clock(at), "dim"), " ",
        "→ " if outgoing else "← ",
        text(precedence.upper(), PRECEDENCE_STYLE.get(precedence) or "dim"), " ",
        "to " if outgoing else "from ", text(message.get("peer"), "bold"), " ",
        text(f"[{message.get('id')}]", "dim"),
    )  # fmt: skip
    if message.get("kind") not in (None, "text", "doc"):
        header.append(f" ({message.get('kind')})", "dim")
    mark = _marks(message, _day(at))
    if wide or header.cell_len + 2 + mark.cell_len <= width:
        header.append("  ").append_text(mark)
    else:
        header.append("\n" + INDENT).append_text(mark)
    body = text(message.get("text") or "")
    lines = body.split("\n") if wide else wrap(body, width - len(INDENT))
    return Text("\n").join([header, *(Text(INDENT) + line for line in lines)])


@dataclass(frozen=True, slots=True)
class LogItem:
    """One entry of the transcript, in the station's order."""

    #: ``message`` (with the receipt and acknowledgement folded on), ``alarm`` or ``note``.
    kind: str
    #: When (Unix time), if known.
    at: float | None
    #: The message, for kind ``message``; its ``delivered_at``/``acked_at`` filled from folded entries.
    message: dict[str, Any] = field(default_factory=dict)
    #: What the line says, for alarms and notes.
    label: str = ""


def _key(direction: Any, ident: Any) -> tuple[str, str]:
    # each station picks the ids of its own messages, so an id names a message only with its direction
    return (str(direction), str(ident))


def _label(head: str, detail: str) -> str:
    return f"{head}: {detail}" if detail else head


def fold_log(entries: Iterable[Result]) -> list[LogItem]:
    """A ``log`` result's entries as the transcript reads: each message once, marks folded onto it.

    A receipt is for one of ours (``out``); an acknowledgement names its direction: ``out``, they
    acknowledged ours, ``in``, we acknowledged theirs.
    """
    listed = list(entries)
    messages: dict[tuple[str, str], dict[str, Any]] = {}
    # acknowledgements and tests travel as messages too; their receipts are no news to the operator
    carriers: set[tuple[str, str]] = set()
    for entry in listed:
        message = entry.get("message")
        if entry.get("kind") == "message" and isinstance(message, Mapping):
            key = _key(message.get("direction"), message.get("id"))
            if message.get("kind", "text") in _SHOWN_KINDS:
                messages[key] = dict(message)
            else:
                carriers.add(key)
    items: list[LogItem] = []
    for entry in listed:
        kind = entry.get("kind")
        at = entry.get("at") if isinstance(entry.get("at"), int | float) else None
        if kind == "message":
            message = entry.get("message")
            if isinstance(message, Mapping) and message.get("kind", "text") in _SHOWN_KINDS:
                items.append(
                    LogItem("message", at, messages[_key(message.get("direction"), message.get("id"))])
                )
        elif kind in ("receipt", "ack"):
            key = _key("out" if kind == "receipt" else entry.get("direction"), entry.get("id"))
            if key not in carriers:
                note = _fold_mark(entry, messages.get(key), at)
                if note is not None:
                    items.append(note)
        elif kind == "test":
            rtt = entry.get("rtt_ms")
            timing = f" {rtt:.1f} ms" if isinstance(rtt, int | float) else ""
            detail = str(entry.get("detail") or "")
            if entry.get("ok"):
                items.append(LogItem("note", at, label=_label(f"line test ok{timing}", detail)))
            else:
                items.append(LogItem("alarm", at, label=_label(f"LINE TEST FAILED{timing}", detail)))
        elif kind == "alert":
            event = str(entry.get("event") or "alert")
            detail = str(entry.get("detail") or "")
            if event in _CALM_ALERTS:
                items.append(LogItem("note", at, label=_label(event.replace("-", " "), detail)))
            else:
                items.append(LogItem("alarm", at, label=_label(event.replace("-", " ").upper(), detail)))
        else:
            rest = " ".join(f"{k}={v}" for k, v in entry.items() if k not in ("at", "kind"))
            items.append(LogItem("note", at, label=f"{kind} {rest}".strip()))
    return items


def _fold_mark(entry: Result, message: dict[str, Any] | None, at: float | None) -> LogItem | None:
    """Put a receipt or acknowledgement on its message; a note when the message is not in view."""
    receipt = entry.get("kind") == "receipt"
    if message is not None:
        stamp = "delivered_at" if receipt else "acked_at"
        if message.get(stamp) is None:
            message[stamp] = at
        if not receipt:
            message["state"] = "acked"
        elif message.get("state") in ("queued", "sent"):
            message["state"] = "delivered"
        return None
    ident = f"[{entry.get('id')}]"
    if receipt:
        return LogItem("note", at, label=f"receipt for {ident}, an earlier message")
    who = "they acknowledged" if entry.get("direction") == "out" else "we acknowledged"
    return LogItem("note", at, label=f"{who} {ident}, an earlier message")


def _day_heading(day: str) -> Text:
    return Text(f"── {day} ──", "bold")


def log_view(out: Console, entries: Iterable[Result], *, wide: bool = False) -> None:
    """Print a line's log as a transcript: day headings, messages as blocks, tests and alerts in place."""
    day: str | None = None
    previous_was_block = False
    first = True
    for item in fold_log(entries):
        at = item.message.get("created_at") if item.kind == "message" else item.at
        this_day = _day(at)
        is_block = item.kind == "message"
        if this_day is not None and this_day != day:
            if not first:
                out.print()
            out.print(_day_heading(this_day))
            day = this_day
        elif not first and (is_block or previous_was_block):
            out.print()
        if is_block:
            rendered = message_block(item.message, out.width, wide=wide, full_date=False)
        elif item.kind == "alarm":
            alarm = Text.assemble(text(_clock(at), "dim"), " ", ("⚠ ", "bold red"), text(item.label, "red"))
            rendered = hanging(alarm, out.width, wide=wide)
        else:
            note = Text.assemble(text(_clock(at), "dim"), " · ", text(item.label, "dim"))
            rendered = hanging(note, out.width, wide=wide)
        out.print(rendered, soft_wrap=wide)
        first = False
        previous_was_block = is_block


def messages_view(out: Console, messages: Iterable[Result], *, wide: bool = False) -> None:
    """Print messages (``inbox``) as blocks under day headings, a blank line between them."""
    day: str | None = None
    first = True
    for message in messages:
        this_day = _day(message.get("created_at"))
        if not first:
            out.print()
        if this_day is not None and this_day != day:
            out.print(_day_heading(this_day))
            day = this_day
        out.print(message_block(message, out.width, wide=wide, full_date=False), soft_wrap=wide)
        first = False
