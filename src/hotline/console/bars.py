"""The bars around the board: the top bar, the alarm banner, the transcript's title and the status
line.

Each is a :class:`~textual.widgets.Static` that draws one thing the app hands it (the
:class:`~hotline.console.model.StationView`, the state of our connection to the daemon, the selected
line); none of them asks the station anything or keeps state of its own, so the app redraws them
whenever it likes. Every string that came from a station goes through
:func:`~hotline.console.text.safe`.
"""

from __future__ import annotations

import time

from rich.text import Text
from textual.widgets import Static

from hotline.console.model import Lamp, StationView, clock
from hotline.console.text import safe

__all__ = ["AlarmBanner", "StatusLine", "TopBar", "TranscriptTitle"]

#: How each state of the connection to the daemon shows in the top bar.
_CONNECTION = {
    "connecting": (" CONNECTING ", "bold black on yellow"),
    "connected": (" CONNECTED ", "bold black on green"),
    "reconnected": (" RECONNECTED ", "bold black on green"),
    "lost": (" LOST — reconnecting ", "bold white on red"),
}
#: Alarms shown at once; the board shows every line's lamp anyway.
_ALARMS_SHOWN = 4


class TopBar(Static):
    """The station's name, our connection to its daemon, the unread count and the time."""

    def show(self, view: StationView, connection: str) -> None:
        """Draw ``view``'s station and ``connection`` (``connecting``, ``connected``, …)."""
        name = safe(view.station.get("name") or "station", "bold")
        unread = len(view.unacked)
        self.update(
            Text.assemble(
                ("HOTLINE ", "bold"),
                name,
                "  ",
                _CONNECTION[connection],
                (f"  {unread} unread" if unread else "", "bold cyan"),
                ("   " + time.strftime("%H:%M:%S"), "dim"),
            )
        )


class AlarmBanner(Static):
    """The alarms that need an operator, in red above everything; hidden when there are none."""

    def on_mount(self) -> None:
        """Start hidden, until there is something to say."""
        self.display = False

    def show(self, view: StationView, *, lost: bool, lost_at: float | None) -> None:
        """Draw ``view``'s alarms, after "station lost" when we have ``lost`` the daemon (at ``lost_at``)."""
        lines: list[Text] = []
        if lost:
            lines.append(
                Text.assemble(
                    (" STATION LOST ", "bold white on red"),
                    f" no answer from the daemon since {clock(lost_at)}: reconnecting…",
                )
            )
        for alarm in view.alarms():
            lines.append(
                Text.assemble(
                    (f" {alarm.label} ", "bold white on red"),
                    " ",
                    safe(alarm.peer, "bold"),
                    (f" {clock(alarm.at)} " if alarm.at else " ", "dim"),
                    safe(alarm.detail),
                )
            )
        self.display = bool(lines)
        self.update(Text("\n").join(lines[:_ALARMS_SHOWN]) if lines else Text(""))


class TranscriptTitle(Static):
    """Whose transcript is on screen, with its line's lamp."""

    def show(self, peer: str | None, lamp: Lamp | None, carrier: str | None = None) -> None:
        """Draw the title of ``peer``'s transcript (``lamp`` is its line's, ``carrier`` its carrier
        in words), or "no lines"."""
        if peer is None or lamp is None:
            self.update(Text("no lines", style="dim"))
            return
        self.update(
            Text.assemble(
                ("transcript ", "bold"),
                safe(peer, "bold cyan"),
                "  ",
                (f" {lamp.value.upper()} ", lamp.style),
                ("  " + carrier if carrier else "", "dim"),
            )
        )


class StatusLine(Static):
    """The last thing the console has to say, with the time it said it."""

    def say(self, text: str, style: str = "") -> None:
        """Show ``text`` (station text is made safe here) in ``style``."""
        self.update(Text.assemble((clock(time.time()), "dim"), " ", safe(text, style)))
