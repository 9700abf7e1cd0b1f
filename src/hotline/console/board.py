"""The line board: one row per line with its lamp, its profile when it is not ``standard`` (beside its
name, so the board stays within 80 columns), since when, RTT and its history, the last line test,
queued and unread counts and its carrier (how full, FLASH frames and the backlog waiting), sorted by
:meth:`hotline.console.model.StationView.rows` (alarms first).

The board keeps the operator's selection by line name across refreshes: lines move when their state
changes, and the cursor must follow the line the operator chose rather than stay on a row number.
"""

from __future__ import annotations

from rich.text import Text
from textual.message import Message
from textual.widgets import DataTable

from hotline.console.model import LineRow, ago
from hotline.console.text import safe

__all__ = ["LineBoard"]

_LABELS = ("state", "line", "since", "rtt", "history", "test", "queue", "new", "carrier")
_COLUMNS = ("lamp", "peer", "since", "rtt", "spark", "test", "queued", "unread", "carrier")


class LineBoard(DataTable[Text]):
    """A table of lines; posts :class:`LineBoard.Selected` when the operator moves to another line."""

    class Selected(Message):
        """The operator moved the cursor to another line."""

        def __init__(self, peer: str) -> None:
            super().__init__()
            #: The line now selected.
            self.peer = peer

    def __init__(self, *, id: str | None = None) -> None:
        """An empty board; fill it with :meth:`show`."""
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self.selected: str | None = None

    def on_mount(self) -> None:
        """Lay out the columns; the short headers keep the board within 80 columns."""
        for label, key in zip(_LABELS, _COLUMNS, strict=True):
            self.add_column(label, key=key)

    def show(self, rows: list[LineRow], now: float) -> None:
        """Show ``rows``, keeping the cursor on the selected line.

        When the order of the lines is unchanged the cells are updated in place, so a refresh every
        second neither moves the cursor nor flickers.
        """
        peers = [r.peer for r in rows]
        if peers == [key.value for key in self.rows]:
            for row in rows:
                for column, cell in zip(_COLUMNS, _cells(row, now), strict=True):
                    self.update_cell(row.peer, column, cell)
        else:
            self.clear()
            for row in rows:
                self.add_row(*_cells(row, now), key=row.peer)
        if not rows:
            return
        if self.selected not in peers:
            self.selected = peers[0]
            self.post_message(self.Selected(peers[0]))
        if self.cursor_row != peers.index(self.selected):
            self.move_cursor(row=peers.index(self.selected), animate=False)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """Follow the operator's cursor (and not our own refills)."""
        event.stop()
        peer = event.row_key.value
        # a refill posts highlights for rows the cursor only passed through; by the time we see them
        # the cursor may be elsewhere, and only where it is now is the operator's choice
        if peer is None or peer == self.selected or event.cursor_row != self.cursor_row:
            return
        if (
            self.is_valid_row_index(self.cursor_row)
            and self.coordinate_to_cell_key(self.cursor_coordinate).row_key != event.row_key
        ):
            return
        self.selected = peer
        self.post_message(self.Selected(peer))


def _cells(row: LineRow, now: float) -> list[Text]:
    lamp = Text("● " + row.lamp.value.upper(), style=row.lamp.style)
    peer = safe(row.peer, "bold")
    if row.profile != "standard":
        peer.append_text(safe(f" {row.profile}", "cyan"))
    if row.call is not None:
        state, direction = row.call
        peer.append(" ☎", style="bold cyan blink" if (state, direction) == ("ringing", "in") else "cyan")
    if row.rtt_ms is None:
        rtt = Text("—", style="dim")
    else:
        rtt = Text(f"{row.rtt_ms:.1f}ms" if row.rtt_ms < 10 else f"{row.rtt_ms:.0f}ms")
    if row.last_test is None:
        test = Text("never", style="dim")
    else:
        ok, at, _detail = row.last_test
        test = Text.assemble(("ok " if ok else "FAIL ", "green" if ok else "bold red"), (ago(at, now), "dim"))
    queued = Text(str(row.queued), style="yellow" if row.queued else "dim")
    if row.unread_flash:
        unread = Text(f"{row.unread}!", style="bold white on red")
    else:
        unread = Text(str(row.unread), style="bold cyan" if row.unread else "dim")
    carrier = Text("off", style="dim") if row.carrier is None else Text(row.carrier[0], style=row.carrier[1])
    return [
        lamp,
        peer,
        Text(ago(row.since, now)),
        rtt,
        Text(row.spark, style="cyan"),
        test,
        queued,
        unread,
        carrier,
    ]
