"""The FLASH takeover: an unacknowledged FLASH message fills the screen until an operator acknowledges it.

The screen cannot be dismissed by the operator except by acknowledging; the app decides which FLASH it
shows (:meth:`hotline.console.model.StationView.pending_flash`) and closes it when none is left, which
also happens when another console watching the same station acknowledged it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Static

from hotline.console.model import clock
from hotline.console.text import safe

__all__ = ["FlashScreen"]

#: Acknowledge one message; returns an error text for the operator, or None when it was acknowledged.
Acknowledge = Callable[[str], Awaitable[str | None]]


class FlashScreen(ModalScreen[None]):
    """A FLASH message, full screen, with the one way out: acknowledge."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "acknowledge", "Acknowledge FLASH", priority=True),
        Binding("enter", "acknowledge", "Acknowledge", show=False, priority=True),
    ]

    def __init__(self, message: dict[str, Any], acknowledge: Acknowledge) -> None:
        """Show ``message``; ``acknowledge`` does the request."""
        super().__init__()
        self.message = message
        self._acknowledge = acknowledge

    def compose(self) -> ComposeResult:
        """Banner, sender, text, the button; the footer names the key."""
        with Vertical(id="flash-box"):
            yield Static(Text("⚡ FLASH ⚡", justify="center"), id="flash-title")
            yield Static(id="flash-from")
            yield Static(id="flash-text")
            yield Static(id="flash-error")
            yield Button("Acknowledge (a)", variant="error", id="flash-ack")
        yield Footer()

    def on_mount(self) -> None:
        """Fill in the message."""
        self.show(self.message)

    def show(self, message: dict[str, Any]) -> None:
        """Show ``message`` (another FLASH replaces the one acknowledged elsewhere)."""
        self.message = message
        self.query_one("#flash-from", Static).update(
            Text.assemble(
                ("from ", "bold"),
                safe(message.get("peer"), "bold"),
                ("  at ", "bold"),
                clock(message.get("created_at")),
                "  ",
                safe(f"[{message.get('id')}]", "dim"),
                justify="center",
            )
        )
        self.query_one("#flash-text", Static).update(safe(message.get("text") or "", "bold"))
        self.query_one("#flash-error", Static).update("")

    def on_button_pressed(self, _event: Button.Pressed) -> None:
        """The button acknowledges, like the key."""
        self.action_acknowledge()

    def action_acknowledge(self) -> None:
        """Acknowledge the message shown; the app closes the screen once the station agrees."""
        self.run_worker(self._ack(str(self.message.get("id"))), group="flash-ack", exclusive=True)

    async def _ack(self, message_id: str) -> None:
        error = await self._acknowledge(message_id)
        if error is not None and self.is_attached:
            self.query_one("#flash-error", Static).update(Text(error, style="bold yellow"))
