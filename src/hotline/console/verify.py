"""Verification: both forms of a line's safety number (digit groups and words) and a confirm action.

The operators read the number to each other over a channel they trust (the phone, in person); only when
it matches does the operator confirm. The screen shows what ``line.verify`` returned and answers True
when the operator confirms; the app makes the request.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Static

from hotline.console.text import safe

__all__ = ["VerifyScreen"]


class VerifyScreen(ModalScreen[bool]):
    """The safety number of one line; dismissed with True when the operator confirms it matches."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "They match: confirm"),
        Binding("escape,n", "answer(False)", "Close"),
    ]

    def __init__(self, number: dict[str, Any], *, key_changed: bool = False) -> None:
        """Show ``number`` (a ``line.verify`` result); ``key_changed`` adds the warning."""
        super().__init__()
        self.number = number
        self.key_changed = key_changed

    def compose(self) -> ComposeResult:
        """Title, warning, digits, words, buttons."""
        number = self.number
        groups = [str(g) for g in number.get("groups") or str(number.get("digits", "")).split()]
        words = [str(w) for w in number.get("words") or []]
        verified = bool(number.get("verified"))
        with Vertical(id="verify-box"):
            yield Static(
                Text.assemble(("Safety number of the line to ", "bold"), safe(number.get("peer"), "bold")),
                id="verify-title",
            )
            if self.key_changed:
                yield Static(
                    Text(
                        "KEY CHANGED: a card for this line with other keys was refused. The line is blocked "
                        "in this console until you compare the number again with the other office.",
                        style="bold white on magenta",
                    ),
                    id="verify-warning",
                )
            digits = Text("\n").join(
                Text(" ".join(groups[row : row + 6]), style="bold cyan") for row in range(0, len(groups), 6)
            )
            yield Static(digits, id="verify-digits")
            words_text = Text("\n").join(
                Text(" ".join(words[row : row + 6]), style="cyan") for row in range(0, len(words), 6)
            )
            yield Static(words_text, id="verify-words")
            yield Static(
                Text(
                    "verified: yes" if verified else "verified: NO — read the number to each other first",
                    style="green" if verified else "bold magenta",
                ),
                id="verify-state",
            )
            with Horizontal(id="verify-buttons"):
                yield Button("They match: confirm (y)", variant="success", id="yes")
                yield Button("Close (esc)", id="no")
        yield Footer()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """The buttons do what the keys do."""
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        """Close with the operator's answer."""
        self.dismiss(yes)
