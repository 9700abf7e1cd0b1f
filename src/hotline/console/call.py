"""The call dialog: ring, answer, hang up; the SAS words large with a matches / does not match choice;
the call timer, loss and jitter.

``call.place`` and ``call.answer`` are live requests that stream the call's events until it ends, and
leaving the stream hangs up (docs/control.md, "Calls"). The dialog therefore holds the stream on a
connection of its own, in a worker: closing the dialog cancels the worker, which closes the connection,
which puts the receiver down. ``call.hangup`` and ``call.sas`` go over short connections of their own,
because the stream holds its connection until the call ends.

Without a sound card the station refuses with ``no-audio-device``; the dialog offers WAV paths for
play and record, and shows the station's own words when it refuses.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Static

from hotline.client import ControlClient, ControlError
from hotline.console.errors import one_line
from hotline.console.text import safe

__all__ = ["CallScreen", "call_figures"]


def call_figures(call: dict[str, Any], elapsed: float | None) -> Text:
    """The live figures of a call: timer, path, bitrate, loss and jitter."""
    seconds = int(elapsed if elapsed is not None else float(call.get("duration") or 0))
    bitrate = call.get("bitrate")
    kbit = f"{bitrate / 1000:g} kbit/s" if isinstance(bitrate, int | float) else "—"
    return Text.assemble(
        "time ",
        (f"{seconds // 60:02d}:{seconds % 60:02d}", "bold"),
        "   path ",
        safe(call.get("path")),
        "   ",
        kbit,
        "   loss ",
        (f"{call.get('loss', '—')} %", "bold"),
        "   jitter ",
        (f"{call.get('jitter_ms', '—')} ms", "bold"),
    )


class CallScreen(ModalScreen[None]):
    """A call on one line. Closing the dialog hangs up."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "ring", "Ring / answer"),
        Binding("h", "hangup", "Hang up"),
        Binding("m", "sas(True)", "SAS matches"),
        Binding("x", "sas(False)", "SAS does NOT match"),
        Binding("escape", "close", "Close (hangs up)"),
    ]

    def __init__(
        self, socket: Path, peer: str, *, ringing: bool = False, play: str = "", record: str = ""
    ) -> None:
        """A dialog for a call with ``peer``; ``ringing`` when the peer is calling us (we answer)."""
        super().__init__()
        self.socket = socket
        self.peer = peer
        self.ringing = ringing
        self._play = play
        self._record = record
        #: The call as the station last described it (from ``stats`` and ``ended`` events).
        self.call: dict[str, Any] = {}
        #: The call's state as the dialog shows it: idle, calling, ringing, active, ended, refused.
        self.state = "ringing" if ringing else "idle"
        #: The SAS words, once answered.
        self.sas: list[str] = []
        self._answered_at: float | None = None

    def compose(self) -> ComposeResult:
        """Title, state, audio files, SAS, figures, buttons."""
        with Vertical(id="call-box"):
            yield Static(id="call-title")
            yield Static(id="call-state")
            with Horizontal(classes="call-file"):
                yield Static("play WAV  ", classes="call-label")
                yield Input(
                    self._play,
                    placeholder="/absolute/path/to/send.wav (empty: sound card)",
                    id="call-play",
                    compact=True,
                )
            with Horizontal(classes="call-file"):
                yield Static("record WAV", classes="call-label")
                yield Input(
                    self._record,
                    placeholder="/absolute/path/to/new.wav (empty: sound card)",
                    id="call-record",
                    compact=True,
                )
            yield Static(id="call-sas")
            yield Static(id="call-figures")
            yield Static(id="call-error")
            with Horizontal(id="call-buttons"):
                yield Button("Answer (r)" if self.ringing else "Ring (r)", variant="success", id="call-ring")
                yield Button("Hang up (h)", variant="error", id="call-hangup")
                yield Button("Matches (m)", variant="primary", id="call-match")
                yield Button("No match (x)", variant="warning", id="call-mismatch")
        yield Footer()

    def on_mount(self) -> None:
        """Draw, and tick the timer twice a second."""
        self.set_interval(0.5, self._draw)
        # a dialog opened by a ringing call is pushed from the follow stream: under load its
        # widgets can still be mounting here, so the first draw waits for the first refresh
        self.call_after_refresh(self._first_draw)

    def _first_draw(self) -> None:
        self._draw()
        with contextlib.suppress(NoMatches):  # closed before it was drawn
            self.query_one("#call-ring", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """The buttons do what the keys do."""
        match event.button.id:
            case "call-ring":
                self.action_ring()
            case "call-hangup":
                self.action_hangup()
            case "call-match":
                self.action_sas(True)
            case "call-mismatch":
                self.action_sas(False)

    # -- actions

    def action_ring(self) -> None:
        """Place the call, or answer it when it rings here."""
        if self.state in ("calling", "active"):
            return
        args: dict[str, Any] = {"peer": self.peer}
        for name in ("play", "record"):
            value = self.query_one(f"#call-{name}", Input).value.strip()
            if value:
                args[name] = value
        op = "call.answer" if self.ringing else "call.place"
        self.state = "calling" if op == "call.place" else "answering"
        self._error("")
        self.run_worker(self._run_call(op, args), group="call", exclusive=True)

    def action_hangup(self) -> None:
        """Hang up (or decline a ringing call)."""
        self.run_worker(self._short("call.hangup", peer=self.peer), group="call-request")

    def action_sas(self, matches: bool) -> None:
        """Give the operators' verdict on the four words; a mismatch ends the call and raises an alert."""
        if not self.sas:
            self._error("no SAS yet: the words appear once the call is answered")
            return
        self.run_worker(self._short("call.sas", matches=matches, peer=self.peer), group="call-request")

    def action_close(self) -> None:
        """Close the dialog; a live call hangs up as its stream closes."""
        self.workers.cancel_group(self, "call")
        self.dismiss(None)

    # -- the call stream

    async def _run_call(self, op: str, args: dict[str, Any]) -> None:
        try:
            client = await ControlClient.connect(self.socket)
        except (ControlError, OSError) as exc:
            self._refused(exc)
            return
        try:
            async with client, client.stream(op, **args) as stream:
                async for event in stream:
                    self._on_event(event)
                if stream.result is not None:
                    self.call = stream.result
                    self.state = "ended"
        except ControlError as exc:
            self._refused(exc)
        self._draw()

    def _on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "calling":
            self.state = "calling"
        elif kind == "ringing":
            self.state = "ringing" if self.ringing else "ringing there"
        elif kind == "answered":
            self.state = "active"
            self.sas = [str(w) for w in event.get("sas") or []]
            self._answered_at = time.monotonic()
        elif kind == "stats" and isinstance(event.get("call"), dict):
            self.call = event["call"]
        elif kind == "sas-verdict":
            self.call = {**self.call, "sas_confirmed": bool(event.get("matches"))}
        elif kind == "path":
            self.call = {**self.call, "path": event.get("path")}
        elif kind == "ended":
            self.state = "ended"
            if isinstance(event.get("call"), dict):
                self.call = event["call"]
            self.call.setdefault("end_reason", event.get("reason"))
        self._draw()

    async def _short(self, op: str, **args: Any) -> None:
        try:
            async with await ControlClient.connect(self.socket) as client:
                result = await client.request(op, **args)
        except (ControlError, OSError) as exc:
            self._refused(exc, keep_state=True)
            return
        if op == "call.sas":
            self.call = {**self.call, **result}
        self._draw()

    def far_end(self, call: dict[str, Any]) -> None:
        """The station says the call ended; shown unless our own call stream tells us itself."""
        if self.state in ("ringing", "idle"):
            self.call = call
            self.state = "ended"
            self._draw()

    def _refused(self, exc: BaseException, *, keep_state: bool = False) -> None:
        if not keep_state:
            self.state = "refused"
        self._error(one_line("", exc))

    # -- drawing

    def _error(self, text: str) -> None:
        try:
            shown = self.query_one("#call-error", Static)
        except NoMatches:
            return  # the dialog is gone or not drawn yet
        shown.update(safe(text, "bold yellow") if text else Text(""))

    def _draw(self) -> None:
        try:
            title = self.query_one("#call-title", Static)
        except NoMatches:
            return  # not attached, or not composed yet: the next tick draws
        title.update(Text.assemble(("☎ call with ", "bold"), safe(self.peer, "bold cyan")))
        reason = self.call.get("end_reason")
        state = Text.assemble(
            ("state ", "dim"),
            (self.state.upper(), "bold green" if self.state == "active" else "bold yellow"),
            (f"  ({reason})" if self.state == "ended" and reason else "", "dim"),
        )
        self.query_one("#call-state", Static).update(state)
        sas = self.query_one("#call-sas", Static)
        if self.sas:
            confirmed = self.call.get("sas_confirmed")
            if confirmed is True:
                verdict = ("  ✓ confirmed", "bold green")
            elif confirmed is False:
                verdict = ("  ✗ MISMATCH", "bold white on red")
            else:
                verdict = ("  read them to each other: m if they match, x if not", "dim")
            sas.update(
                Text.assemble(("  ".join(w.upper() for w in self.sas), "bold black on yellow"), verdict)
            )
        else:
            sas.update(Text("the four SAS words appear here once the call is answered", style="dim"))
        elapsed = (
            time.monotonic() - self._answered_at if self._answered_at and self.state == "active" else None
        )
        self.query_one("#call-figures", Static).update(call_figures(self.call, elapsed))
        self.query_one("#call-ring", Button).disabled = self.state in ("calling", "answering", "active")
