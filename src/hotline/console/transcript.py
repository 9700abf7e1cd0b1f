"""A line's transcript: its messages in order, with precedence, time and receipt marks, and alarms in
place where they happened (a gap or chain mismatch stands between the messages it concerns).

The content comes from the station's ``log`` and ``files``, kept current by its events
(:class:`hotline.console.lineview.LineTranscript`); this widget only draws it and keeps the view at
the bottom unless the operator scrolled up to read.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from hotline.console.lineview import document_mark, size_text
from hotline.console.model import PRECEDENCE_STYLE, TranscriptItem, clock, message_mark
from hotline.console.text import safe

__all__ = ["Transcript", "render_document", "render_item"]


class Transcript(VerticalScroll):
    """The transcript of the selected line."""

    def compose(self) -> ComposeResult:
        """One static body; a transcript of a few hundred entries redraws fast enough whole."""
        yield Static(Text("no line selected", style="dim"), id="transcript-body")

    def show(self, items: list[TranscriptItem], *, empty: str = "nothing on this line yet") -> None:
        """Draw ``items``; stay at the bottom if we were there."""
        at_end = self.scroll_y >= self.max_scroll_y - 1
        body = self.query_one("#transcript-body", Static)
        if not items:
            body.update(Text(empty, style="dim"))
        else:
            body.update(Text("\n").join(render_item(item) for item in items))
        if at_end:
            self.call_after_refresh(self.scroll_end, animate=False)


def render_item(item: TranscriptItem) -> Text:
    """One transcript entry as rich text: a header line, then the message text indented."""
    if item.kind == "alarm":
        return Text.assemble(
            (clock(item.at), "dim"),
            " ",
            (f" ⚠ {item.label} ", "bold white on red"),
            " ",
            safe(item.detail, "red"),
        )
    if item.kind == "document" and item.document is not None:
        return render_document(item.document, item.message)
    if item.kind == "event" or item.message is None:
        return Text.assemble(
            (clock(item.at), "dim"), " ", (f"· {item.label} ", "dim italic"), safe(item.detail, "dim")
        )
    message = item.message
    precedence = str(message.get("precedence") or "routine")
    outgoing = message.get("direction") == "out"
    mark, mark_style = message_mark(message)
    header = Text.assemble(
        (clock(message.get("created_at")), "dim"),
        " ",
        ("→ sent " if outgoing else "← from ", "bold" if not outgoing else ""),
        safe(message.get("peer") if not outgoing else "", "bold"),
        " " if not outgoing else "",
        (f" {precedence.upper()} ", PRECEDENCE_STYLE.get(precedence) or "reverse"),
        " ",
        (mark, mark_style),
        "  ",
        safe(f"[{message.get('id')}]", "dim"),
    )
    body = safe(message.get("text") or "")
    lines = body.split("\n")
    out = Text("\n").join([header, *[Text("   ") + line for line in lines]])
    if precedence == "immediate" and not outgoing:
        out.stylize("on #3a0000")
    elif precedence == "flash":
        out.stylize("on #550000")
    return out


def render_document(document: dict[str, Any], entry: dict[str, Any] | None) -> Text:
    """A document in the transcript: who sent it, its name and size, and where it stands."""
    outgoing = document.get("direction") == "out"
    mark, mark_style = document_mark(document, entry)
    header = Text.assemble(
        (clock(document.get("created_at")), "dim"),
        " ",
        ("→ document " if outgoing else "← document from ", "bold" if not outgoing else ""),
        safe("" if outgoing else f"{document.get('peer')} ", "bold"),
        (mark, mark_style),
        "  ",
        safe(f"[{document.get('id')}]", "dim"),
    )
    name = Text.assemble(
        ("   📄 ", ""), safe(document.get("name"), "bold"), f"  {size_text(document.get('size'))}"
    )
    return Text("\n").join([header, name])
