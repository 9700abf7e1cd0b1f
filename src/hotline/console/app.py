"""The operator console: a Textual app over one station's control socket.

The connection to the daemon and the reactions to its events are
:class:`hotline.console.watch.StationWatch`'s; this class lays the screen out, draws it, and carries
out the operator's keys.

Everything on screen is derived by :mod:`hotline.console.model`; this module moves data and wires keys.
It imports only ``hotline.client`` from the project: the console is a view, never the station.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.css.query import NoMatches
from textual.widgets import Footer, TextArea

from hotline.client import ControlError
from hotline.console.bars import AlarmBanner, StatusLine, TopBar, TranscriptTitle
from hotline.console.board import LineBoard
from hotline.console.call import CallScreen
from hotline.console.carrier import summary
from hotline.console.compose import ComposeBox, ConfirmFlash
from hotline.console.errors import one_line
from hotline.console.flash import FlashScreen
from hotline.console.model import Lamp, next_precedence
from hotline.console.transcript import Transcript
from hotline.console.verify import VerifyScreen
from hotline.console.watch import StationWatch

__all__ = ["HotlineConsole"]


class HotlineConsole(StationWatch):
    """The console for the station whose control socket is ``socket``.

    Attributes useful to tests: :attr:`view` (the model), :attr:`connection` (``connecting``,
    ``connected``, ``lost``, ``reconnected``), :attr:`selected` (the line on screen).
    """

    CSS_PATH = "console.tcss"
    TITLE = "Hotline console"
    # Textual declares this without ClassVar, so annotating it here would clash with the base class.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]  # noqa: RUF012
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "send", "Send", priority=True),
        Binding("ctrl+e", "precedence", "Precedence", priority=True),
        Binding("n", "write", "Write"),
        Binding("escape", "board", "Board", show=False),
        Binding("a", "ack", "Ack"),
        Binding("v", "verify", "Verify"),
        Binding("c", "call", "Call"),
        Binding("t", "test", "Test"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, socket: Path, *, poll_every: float = 1.0) -> None:
        """A console for the daemon listening on ``socket`` (``<home>/control.sock``)."""
        super().__init__(socket, poll_every=poll_every)
        self._flash_rung: set[str] = set()

    # -- layout

    def compose(self) -> ComposeResult:
        """Top bar, alarm banner, board, transcript and compose, status line, footer."""
        yield TopBar(id="topbar")
        yield AlarmBanner(id="alarms")
        with Vertical(id="main"):
            yield LineBoard(id="board")
            with Vertical(id="right"):
                yield TranscriptTitle(id="transcript-title")
                yield Transcript(id="transcript")
                yield ComposeBox(id="compose")
        yield StatusLine(id="status")
        yield Footer()

    def on_mount(self) -> None:
        """Start watching the station."""
        self._draw_topbar()
        self.query_one(ComposeBox).address(None)
        self.run_worker(self._supervise(), name="station", group="station", exclusive=True)
        self.set_interval(1.0, self._draw_topbar)

    # -- drawing

    def _draw(self) -> None:
        now = time.time()
        board = self.query_one(LineBoard)
        board.show(self.view.rows(), now)
        if self.selected is None and board.selected is not None:
            self.selected = board.selected
            self._poke.set()
        self._draw_selection()
        self._draw_alarms()
        self._draw_topbar()
        self._sync_flash()

    def _draw_transcript(self) -> None:
        line_view = self.line_view
        if line_view is not None and line_view.peer == self.selected and line_view.loaded:
            self.query_one(Transcript).show(line_view.items())

    def _draw_selection(self) -> None:
        peer = self.selected
        carrier = None if peer is None else summary(self.view.lines.get(peer, {}).get("carrier"))
        self.query_one(TranscriptTitle).show(peer, None if peer is None else self.view.lamp(peer), carrier)
        self.query_one(ComposeBox).address(peer, None if peer is None else self._blocked(peer))

    def _blocked(self, peer: str) -> str | None:
        lamp = self.view.lamp(peer)
        if lamp is Lamp.KEY_CHANGED:
            return "KEY CHANGED: blocked until re-verified (v)"
        if lamp is Lamp.UNVERIFIED:
            return "unverified: compare the safety number (v)"
        return None

    def _draw_alarms(self) -> None:
        self.query_one(AlarmBanner).show(self.view, lost=self.connection == "lost", lost_at=self._lost_at)

    def _draw_topbar(self) -> None:
        # it also runs on a timer, which can tick while the app is shutting down and its widgets
        # are already gone
        with contextlib.suppress(NoMatches):
            self.query_one(TopBar).show(self.view, self.connection)

    def _say(self, text: str, style: str = "") -> None:
        self.query_one(StatusLine).say(text, style)

    # -- FLASH

    def _sync_flash(self) -> None:
        pending = self.view.pending_flash()
        showing = next((s for s in self.screen_stack if isinstance(s, FlashScreen)), None)
        if pending is None:
            if showing is not None and self.screen is showing:
                self.pop_screen()
            return
        if showing is None:
            self.push_screen(FlashScreen(pending, self.acknowledge))
        elif showing.message.get("id") != pending.get("id"):
            showing.show(pending)
        mid = str(pending.get("id"))
        if mid not in self._flash_rung:
            self._flash_rung.add(mid)
            self.bell()

    async def acknowledge(self, message_id: str) -> str | None:
        """Acknowledge a received message; returns the error text, or None when the station acked it."""
        # with its line: two peers may choose the same id (docs/control.md, "Ids")
        peer = self.view.unacked.get(message_id, {}).get("peer")
        try:
            await self.request("ack", id=message_id, **({"peer": peer} if isinstance(peer, str) else {}))
        except ControlError as exc:
            return one_line("not acknowledged", exc)
        self.view.acked(message_id)
        self._say(f"acknowledged [{message_id}]", "green")
        self._sync_flash()
        self._poke.set()
        return None

    # -- actions

    def on_line_board_selected(self, event: LineBoard.Selected) -> None:
        """Show the line the operator moved to."""
        if event.peer != self.selected:
            self.selected = event.peer
            self.line_view = None
            self.query_one(Transcript).show([], empty="loading…")
            self._draw_selection()
            self._poke.set()

    def action_write(self) -> None:
        """Go to the compose box."""
        self.query_one("#compose-text", TextArea).focus()

    def action_board(self) -> None:
        """Back to the board."""
        self.query_one(LineBoard).focus()

    def action_precedence(self) -> None:
        """Cycle the precedence of the next message."""
        compose = self.query_one(ComposeBox)
        compose.precedence = next_precedence(compose.precedence)

    def action_send(self) -> None:
        """Send what is in the compose box to the selected line (FLASH asks first)."""
        compose = self.query_one(ComposeBox)
        peer, text, precedence = self.selected, compose.text.strip(), compose.precedence
        if peer is None:
            self._say("no line selected", "yellow")
            return
        if not text:
            self._say("nothing to send: write the message first (n)", "yellow")
            return
        blocked = self._blocked(peer)
        if blocked:
            self._say(f"not sent to {peer}: {blocked}", "bold red")
            return
        if precedence == "flash":

            def answered(yes: bool | None) -> None:
                if yes:
                    self.run_worker(self._send(peer, text, precedence), group="send")
                else:
                    self._say("FLASH not sent", "yellow")

            self.push_screen(ConfirmFlash(peer, text), answered)
            return
        self.run_worker(self._send(peer, text, precedence), group="send")

    async def _send(self, peer: str, text: str, precedence: str) -> None:
        try:
            message = await self.request("send", peer=peer, text=text, precedence=precedence)
        except ControlError as exc:
            self._say(one_line(f"not sent to {peer}", exc), "bold red")
            return
        self.query_one(ComposeBox).clear()
        if self.line_view is not None:
            self.line_view.add_sent(message)
            self._draw_transcript()
        self._say(f"{precedence.upper()} to {peer} {message.get('state')} [{message.get('id')}]", "green")
        self._poke.set()

    def action_ack(self) -> None:
        """Acknowledge the most urgent unread message on the selected line."""
        peer = self.selected
        unread = self.view.unread(peer) if peer else []
        if not unread:
            self._say("nothing to acknowledge on this line", "dim")
            return
        self.run_worker(self._ack(str(unread[0].get("id"))), group="ack")

    async def _ack(self, message_id: str) -> None:
        error = await self.acknowledge(message_id)
        if error is not None:
            self._say(error, "bold red")

    def action_test(self) -> None:
        """Run a line test on the selected line (both stores compare their chain heads)."""
        if self.selected is not None:
            self._say(f"testing the line to {self.selected}…")
            self.run_worker(self._test(self.selected), group="test")

    async def _test(self, peer: str) -> None:
        try:
            result = await self.request("test", peer=peer, timeout=10)
        except ControlError as exc:
            self._say(one_line(f"line test to {peer}", exc), "bold red")
            return
        rtt = result.get("rtt_ms")
        timing = f" in {rtt:.1f} ms" if isinstance(rtt, int | float) else ""
        ok = bool(result.get("ok"))
        self._say(
            f"line test to {peer} {'ok' if ok else 'FAILED'}{timing}: {result.get('detail')}",
            "green" if ok else "bold red",
        )
        self._poke.set()

    def action_verify(self) -> None:
        """Show the selected line's safety number, to confirm it with the other office."""
        if self.selected is not None:
            self.run_worker(self._verify(self.selected), group="verify")

    async def _verify(self, peer: str) -> None:
        try:
            number = await self.request("line.verify", peer=peer, confirm=False)
        except ControlError as exc:
            self._say(one_line(f"safety number of {peer}", exc), "bold red")
            return
        key_changed = self.view.lamp(peer) is Lamp.KEY_CHANGED

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_worker(self._confirm(peer), group="verify")

        self.push_screen(VerifyScreen(number, key_changed=key_changed), answered)

    async def _confirm(self, peer: str) -> None:
        try:
            result = await self.request("line.verify", peer=peer, confirm=True)
        except ControlError as exc:
            self._say(one_line(f"{peer} not verified", exc), "bold red")
            return
        self.view.confirm_key(peer, time.time())
        self._say(f"the line to {peer} is verified" if result.get("verified") else "not verified", "green")
        self._poke.set()

    def action_call(self) -> None:
        """Open the call dialog for the selected line (answering if it rings)."""
        peer = self.selected
        if peer is None:
            return
        call = (self.view.lines.get(peer) or {}).get("call")
        ringing = isinstance(call, dict) and call.get("direction") == "in" and call.get("state") == "ringing"
        self.push_screen(CallScreen(self.socket, peer, ringing=ringing))
