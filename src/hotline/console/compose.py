"""Compose: a precedence selector (ROUTINE by default) and a multi-line text box.

The selector cycles with a key or a click instead of a drop-down, so it costs one row of an 80 by 24
screen. Sending is the app's action (it owns the control connection); FLASH goes through
:class:`ConfirmFlash` first, because a FLASH takes over the other office's screen.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static, TextArea

from hotline.console.model import PRECEDENCE_STYLE, next_precedence
from hotline.console.text import safe

__all__ = ["ComposeBox", "ConfirmFlash", "PrecedenceSelector"]


class PrecedenceSelector(Static):
    """The precedence of the next message; a click cycles it like the key does."""

    precedence: reactive[str] = reactive("routine")

    def render(self) -> Text:
        """The label in the precedence's colours."""
        style = PRECEDENCE_STYLE.get(self.precedence) or "reverse"
        return Text.assemble(
            "precedence ", (f" {self.precedence.upper()} ", style), ("  ctrl+e cycles", "dim")
        )

    def on_click(self, _event: events.Click) -> None:
        """Cycle on a click."""
        self.precedence = next_precedence(self.precedence)


class ComposeBox(Vertical):
    """The compose area: selector above the text."""

    def compose(self) -> ComposeResult:
        """The selector and the text box."""
        with Horizontal(id="compose-head"):
            yield PrecedenceSelector(id="precedence")
            yield Label("", id="compose-to")
        yield TextArea(id="compose-text", soft_wrap=True, tab_behavior="focus", compact=True)

    @property
    def precedence(self) -> str:
        """The selected precedence."""
        return self.query_one(PrecedenceSelector).precedence

    @precedence.setter
    def precedence(self, value: str) -> None:
        self.query_one(PrecedenceSelector).precedence = value

    @property
    def text(self) -> str:
        """The text typed so far."""
        return self.query_one(TextArea).text

    def clear(self) -> None:
        """Empty the box and go back to ROUTINE, so the next FLASH is a fresh decision."""
        self.query_one(TextArea).clear()
        self.precedence = "routine"

    def address(self, peer: str | None, blocked: str | None = None) -> None:
        """Say where the next message goes, or why it cannot."""
        label = self.query_one("#compose-to", Label)
        if peer is None:
            label.update(Text("no line", style="dim"))
        elif blocked:
            label.update(Text.assemble(" to ", safe(peer, "bold"), "  ", (blocked, "bold red")))
        else:
            label.update(Text.assemble(" to ", safe(peer, "bold"), ("   ctrl+s sends", "dim")))


class ConfirmFlash(ModalScreen[bool]):
    """Asks before a FLASH goes out; answers True to send."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Send FLASH"),
        Binding("n,escape", "answer(False)", "Cancel"),
    ]

    def __init__(self, peer: str, text: str) -> None:
        """A question about sending ``text`` to ``peer`` at FLASH."""
        super().__init__()
        self.peer = peer
        self.text = text

    def compose(self) -> ComposeResult:
        """The question, what would go, and two buttons."""
        with Vertical(id="confirm-box"):
            yield Static(
                Text.assemble(("Send this as FLASH to ", "bold"), safe(self.peer, "bold"), ("?", "bold")),
                id="confirm-title",
            )
            yield Static(
                Text("A FLASH takes over the other office's screen until they acknowledge it.", style="dim")
            )
            yield Static(safe(self.text[:400]), id="confirm-text")
            with Horizontal(id="confirm-buttons"):
                yield Button("Send FLASH (y)", variant="error", id="yes")
                yield Button("Cancel (n)", id="no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """The buttons do what the keys do."""
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        """Close with the answer."""
        self.dismiss(yes)
