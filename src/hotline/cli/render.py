"""How results look: rich text for people, one JSON object per result for scripts.

Renderers take the result dicts of docs/control.md as they come and read fields with ``.get``: a view
should still show what it can when a field is missing, and the JSON form is there for anyone who needs
the exact data. Every string that came from a station (names, message text, details) goes through
:func:`text`, which escapes control characters and rich markup, because the other station wrote some of
them.
"""

from __future__ import annotations

import io
import os
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import click
import msgspec
from rich.console import Console
from rich.table import Table
from rich.text import Text

from hotline.cli.errors import printable

__all__ = [
    "PRECEDENCE_STYLE",
    "ago",
    "alert_line",
    "carrier_block",
    "console",
    "document_table",
    "emit_json",
    "line_table",
    "qr_code",
    "safety_number",
    "size",
    "status_view",
    "text",
    "when",
]

Result = Mapping[str, Any]

_STATE_STYLE = {
    "up": "bold green",
    "connecting": "yellow",
    "down": "bold red",
    "no-key": "yellow",
    "unverified": "magenta",
    "stopped": "dim",
}
PRECEDENCE_STYLE = {
    "flash": "bold white on red",
    "immediate": "bold red",
    "priority": "yellow",
    "routine": "",
}
_NONE = "—"


#: How wide ``--wide`` lays out a table: nothing real is wider, and rich sizes columns to their content.
WIDE = 10_000


#: The width assumed when stdout is not a terminal and ``$COLUMNS`` does not say.
PIPE_WIDTH = 80


def width_of_stdout() -> int | None:
    """``$COLUMNS`` when set; else 80 when stdout is not a terminal (a pipe, a file); else None: ask it.

    rich alone would take the width of whichever of stdin, stdout and stderr is a terminal, so
    ``hotline log PEER | less`` would be laid out for the terminal behind the pipe.
    """
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    isatty = getattr(sys.stdout, "isatty", None)
    if isatty is None or not isatty():
        return PIPE_WIDTH
    return None


def console(*, wide: bool = False) -> Console:
    """A console on the current stdout (made per call, so test runners that swap stdout see the output).

    Its width is ``$COLUMNS``, else the terminal's, else 80 when stdout is not a terminal (see
    :func:`width_of_stdout`). ``wide`` (the ``--wide`` option) lifts the limit, so that tables show
    every cell whole; the lines are then as long as their content.
    """
    return Console(highlight=False, width=WIDE if wide else width_of_stdout())


def emit_json(value: Any) -> None:
    """Print ``value`` as one line of JSON."""
    click.echo(msgspec.json.encode(value).decode())


def text(value: Any, style: str = "") -> Text:
    """``value`` as literal text (no markup), control characters escaped."""
    if value is None:
        return Text(_NONE, style="dim")
    return Text(printable(str(value)), style=style)


def when(at: Any) -> str:
    """A Unix time as local ``YYYY-MM-DD HH:MM:SS``."""
    if not isinstance(at, int | float):
        return _NONE
    return datetime.fromtimestamp(at).strftime("%Y-%m-%d %H:%M:%S")


def duration(seconds: Any) -> str:
    """A length of time, coarsely: ``42s``, ``5m``, ``3h 10m``, ``2d 4h``."""
    if not isinstance(seconds, int | float):
        return _NONE
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"


def ago(at: Any, now: float | None = None) -> str:
    """How long ago a Unix time was, e.g. ``5m ago``."""
    if not isinstance(at, int | float):
        return _NONE
    return f"{duration((time.time() if now is None else now) - at)} ago"


def _table(*columns: str, wrap: tuple[str, ...] = ()) -> Table:
    # No box and no outer padding: rows start at the left margin, so they read (and grep) as lines.
    # Only the ``wrap`` columns (free text) may wrap on a narrow terminal; ids and times stay whole.
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in columns:
        table.add_column(column, no_wrap=column not in wrap)
    return table


def profile_text(line: Result) -> Text:
    """A line's profile (``standard`` for a station that does not say: it predates profiles)."""
    profile = str(line.get("profile") or "standard")
    return text(profile, "bold cyan" if profile != "standard" else "")


def _state(line: Result) -> Text:
    state = line.get("state")
    return text(state, _STATE_STYLE.get(str(state), ""))


#: How far the continuation of a long entry is indented under its first line.
INDENT = "    "


def wrap(body: Text, width: int) -> list[Text]:
    """``body`` wrapped at word boundaries to ``width`` cells (a word longer than a line is split)."""
    width = max(width, 20)
    lines = list(body.wrap(Console(width=width, highlight=False, color_system=None), width))
    for line in lines:
        line.rstrip()
    return lines


def hanging(line: Text, width: int, *, wide: bool = False) -> Text:
    """A one-line entry; when it is longer than ``width``, its next lines are indented under it."""
    if wide or line.cell_len <= width:
        return line
    first, *rest = wrap(line, width - len(INDENT))
    return Text("\n").join([first, *(Text(INDENT) + more for more in rest)])


def fit_table(
    columns: Sequence[str],
    rows: Sequence[Mapping[str, Text]],
    width: int,
    *,
    optional: Sequence[str] = (),
    flexible: str | None = None,
    wide: bool = False,
) -> Table:
    """A table whose rows stay one line each on a ``width``-column terminal.

    While the rows do not fit, the ``optional`` columns give way, least needed first; what is left of
    the width goes to the ``flexible`` column (free text such as a name), which is cut with an
    ellipsis, but not below :data:`FLEXIBLE_MIN` cells while an optional column can still give way.
    With ``wide`` every column is kept and nothing is cut.
    """
    shown = list(columns)

    def natural(name: str) -> int:
        return max([len(name), *(row[name].cell_len for row in rows)])

    def spare(names: list[str]) -> int:
        return width - sum(natural(n) for n in names if n != flexible) - 2 * (len(names) - 1)

    for name in optional:
        want = min(FLEXIBLE_MIN, natural(flexible)) if flexible in shown else 0
        if wide or spare(shown) >= want:
            break
        shown.remove(name)
    table = Table(box=None, pad_edge=False, header_style="bold")
    for name in shown:
        limit = max(spare(shown), 8) if name == flexible and not wide else None
        table.add_column(name, no_wrap=True, overflow="ellipsis", max_width=limit)
    for row in rows:
        table.add_row(*(row[name] for name in shown))
    return table


def line_table(lines: Iterable[Result]) -> Table:
    """The ``line.list`` view: one row per line (``--json`` has every field, e.g. when it was added)."""
    table = _table(
        "peer", "state", "profile", "verified", "key", "endpoints", "fingerprint", wrap=("fingerprint",)
    )
    for line in lines:
        key_at = line.get("key_created_at")
        key = when(key_at)[:10] if line.get("has_key") and key_at is not None else "none"
        table.add_row(
            text(line.get("peer"), "bold"),
            _state(line),
            profile_text(line),
            Text("yes", style="green") if line.get("verified") else Text("no", style="magenta"),
            text(key),
            text(", ".join(map(str, line.get("endpoints") or [])) or None),
            text(line.get("fingerprint")),
        )
    return table


#: What ``init --kdf light`` warns (the station's own wording is in hotline.station.home).
LIGHT_KDF_WARNING = (
    "the key file uses the light key derivation (8 MiB, 1 pass): each guess at the passphrase costs an "
    "attacker with a copy of the disk about 24 times less than the standard one. It is for tests and "
    "very small machines; for a real station, create it again without --kdf light"
)
#: The line ``init`` and ``status`` show for such a station.
LIGHT_KDF_SHORT = "key file: light key derivation, for tests and very small machines only"


def status_view(out: Console, result: Result, *, wide: bool = False) -> None:
    """The ``status`` view: the station, a table of its lines, notes, calls and carriers (a block per
    line that runs one: :func:`carrier_block`), then the alerts still standing.

    The table keeps one line per line on a narrow terminal: the endpoint, the session's age, the time
    in the current state, then the round trip give way first (``--wide`` shows them all).
    """
    station = result.get("station") or {}
    running = station.get("running")
    state = (
        Text(f"running (pid {station.get('pid')}, up {ago(station.get('started_at'))[:-4]})", style="green")
        if running
        else Text("not running", style="yellow")
    )
    header = Text.assemble(
        "station ", text(station.get("name"), "bold"), "  ", state, "\n",
        "fingerprint ", text(station.get("fingerprint")), "\n",
        "listening on ", text(station.get("listen")),
        "  endpoints ", text(", ".join(map(str, station.get("endpoints") or [])) or None),
    )  # fmt: skip
    out.print(header)
    if station.get("kdf") == "light":
        out.print(Text(LIGHT_KDF_SHORT, "yellow"))
    if station.get("core_dumps"):
        out.print(Text("this process could leave a core dump holding the station's keys", "yellow"))
    lines = list(result.get("lines") or [])
    if not lines:
        out.print("no lines yet: add one with `hotline line add PEER CARD_FILE`")
        return
    rows: list[dict[str, Text]] = []
    notes: list[Text] = []
    alerts: list[Result] = []
    for line in lines:
        peer = str(line.get("peer"))
        test = line.get("last_test")
        if test:
            verdict = Text("ok", "green") if test.get("ok") else Text("FAILED", "bold red")
            last_test = Text.assemble(verdict, " ", ago(test.get("at")))
        else:
            last_test = text(None)
        rtt = line.get("rtt_ms")
        queued = f"{line.get('queued', 0)}"
        if line.get("in_flight"):
            queued += f" (+{line['in_flight']} in flight)"
        rows.append(
            {
                "peer": text(peer, "bold"),
                "state": _state(line),
                "since": text(ago(line.get("since"))),
                "endpoint": text(line.get("endpoint")),
                "rtt ms": text(f"{rtt:.1f}" if isinstance(rtt, int | float) else None),
                "last test": last_test,
                "session": text(duration(line.get("session_age"))),
                "queued": text(queued),
                "profile": profile_text(line),
            }
        )
        # what does not fit a cell is said under the table, one line per fact
        if line.get("quota_paused"):
            paused = f"paused: its peer passed the {line['quota_paused']} quota (`hotline quota {peer}`)"
            notes.append(Text.assemble(text(peer, "bold"), ": ", text(paused, "yellow")))
        if line.get("held_by_peer"):
            held = f"the peer paused the line; our messages wait for it (`hotline log {peer}`)"
            notes.append(Text.assemble(text(peer, "bold"), ": ", text(held, "yellow")))
        alerts.extend(line.get("alerts") or [])
    columns = ("peer", "state", "since", "endpoint", "rtt ms", "last test", "session", "queued", "profile")
    optional = ("endpoint", "session", "since", "rtt ms", "profile")
    out.print(fit_table(columns, rows, out.width, optional=optional, wide=wide))
    for note in notes:
        out.print(hanging(note, out.width, wide=wide), soft_wrap=wide)
    for line in lines:
        call = line.get("call")
        if isinstance(call, dict):
            out.print(hanging(call_line(call), out.width, wide=wide), soft_wrap=wide)
    for line in lines:
        carrier = line.get("carrier")
        if isinstance(carrier, Mapping):
            for part in carrier_block(str(line.get("peer")), carrier):
                out.print(hanging(part, out.width, wide=wide), soft_wrap=wide)
    if alerts:
        out.print(Text("alerts", style="bold red"))
        for alert in sorted(alerts, key=lambda a: a.get("at") or 0):
            out.print(
                hanging(Text("  ").append_text(alert_line(alert)), out.width, wide=wide), soft_wrap=wide
            )


def call_line(call: Result) -> Text:
    """A call in progress, for ``status``: who, how long, and how the media fares."""
    sas = " ".join(map(str, call.get("sas") or [])) or None
    confirmed = {True: "confirmed", False: "MISMATCH", None: "not confirmed"}[call.get("sas_confirmed")]
    return Text.assemble(
        Text("call ", style="bold cyan"),
        text(call.get("direction")), " ", text(call.get("peer"), "bold"), " ", text(call.get("state")),
        " ", text(duration(call.get("duration"))),
        " · path ", text(call.get("path")),
        f" · {(call.get('bitrate') or 0) / 1000:g} kbit/s · loss {call.get('loss')} % · ",
        f"jitter {call.get('jitter_ms')} ms · SAS ", text(sas), f" ({confirmed})",
    )  # fmt: skip


#: How each carrier lane's waiting frames are counted in ``status``: documents by bytes, the rest by frames.
_LANES = ("control", "flash", "voice", "messages", "documents")


def carrier_block(peer: str, carrier: Result) -> list[Text]:
    """A line's carrier for ``status``: its setting and cost, then how full it is and what waits.

    Two lines, a block like a message's (the second indented); each wraps under itself on a narrow
    terminal. E.g. ``carrier bravo steady 1024 B/20 ms · 4.7 GB/day`` then
    ``    12 % full over 1m · waiting: 3 flash, 40.0 KiB documents · backlog 41 cells (0.8 s)``.
    """
    interval = carrier.get("interval_ms")
    every = f"{interval:g} ms" if isinstance(interval, int | float) else _NONE
    head = Text.assemble(
        Text("carrier ", style="bold cyan"), text(peer, "bold"), " ", text(carrier.get("mode")),
        f" {carrier.get('cell')} B/{every} · {per_day(carrier.get('bytes_per_day'))}",
    )  # fmt: skip
    if not carrier.get("running"):
        head.append(" · ")
        head.append("not running: no session", "yellow")
        return [head]
    body = Text(INDENT)
    load = carrier.get("load")
    if isinstance(load, int | float):
        percent = 100 * load
        shown = f"{percent:.1f}" if 0 < percent < 1 else f"{percent:.0f}"
        body.append(f"{shown} % full over {duration(carrier.get('load_over_s'))}")
    body.append(" · waiting: ")
    waiting = carrier.get("waiting")
    if not isinstance(waiting, Mapping):
        waiting = {}
    parts = []
    for lane in _LANES:
        entry = waiting.get(lane)
        if not isinstance(entry, Mapping) or not entry.get("bytes"):
            continue
        if lane == "documents":
            parts.append(f"{size(entry.get('bytes'))} documents")
        else:
            parts.append(f"{entry.get('frames')} {lane}")
    if not parts:
        body.append("nothing", "dim")
        return [head, body]
    body.append(", ".join(parts), "yellow")
    seconds = carrier.get("backlog_s")
    if isinstance(seconds, int | float):
        body.append(f" · backlog {carrier.get('backlog_cells')} cells ({seconds:.1f} s)")
    return [head, body]


def per_day(count: Any) -> str:
    """Bytes a day for people, in powers of ten as links are sold: ``4.7 GB/day``, ``912 MB/day``."""
    if not isinstance(count, int | float):
        return _NONE
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= scale:
            return (
                f"{count / scale:.1f} {unit}/day"
                if count < 100 * scale
                else f"{count / scale:.0f} {unit}/day"
            )
    return f"{count:.0f} B/day"


def size(count: Any) -> str:
    """A byte count for people: ``512 B``, ``4.9 KiB``, ``12.0 MiB``, ``1.5 GiB``."""
    if not isinstance(count, int | float):
        return _NONE
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


#: Fewest cells a flexible column (a document's name) keeps while other columns can give way.
FLEXIBLE_MIN = 20


def document_table(documents: Iterable[Result], width: int, *, wide: bool = False) -> Table:
    """Documents both ways: one row each, with how far it got, fitted to ``width`` columns.

    Every row stays one line: a long name is cut with an ellipsis (``--wide`` shows it whole), and on a
    narrow terminal the queue time, then the direction, give way first. The id is never cut:
    ``hotline file get ID`` needs it whole.
    """
    rows: list[dict[str, Text]] = []
    for doc in documents:
        total = doc.get("size") or 0
        stored = doc.get("stored") or 0
        state = str(doc.get("state"))
        style = {"complete": "green", "failed": "bold red", "paused": "yellow"}.get(state, "")
        shown = (
            state if state in ("complete", "held") or not total else f"{state} {100 * stored / total:.0f} %"
        )
        rows.append(
            {
                "id": text(doc.get("id")),
                "peer": text(doc.get("peer"), "bold"),
                "dir": text(doc.get("direction")),
                "name": text(doc.get("name")),
                "size": text(size(total)),
                "state": text(shown, style),
                "queued": text(when(doc.get("created_at"))),
            }
        )
    columns = ("id", "peer", "dir", "name", "size", "state", "queued")
    return fit_table(columns, rows, width, optional=("queued", "dir"), flexible="name", wide=wide)


def _short_when(at: Any) -> str:
    # the month, day and minute: the call log has no room for a year and seconds on 80 columns
    if not isinstance(at, int | float):
        return _NONE
    return datetime.fromtimestamp(at).strftime("%m-%d %H:%M")


def call_table(calls: Iterable[Result], width: int, *, wide: bool = False) -> Table:
    """The call log: one row per call, fitted to ``width``.

    The start shows without year and seconds, and the path, then the direction, give way on a narrow
    terminal; ``--wide`` shows them all.
    """
    rows: list[dict[str, Text]] = []
    for call in calls:
        confirmed = call.get("sas_confirmed")
        if confirmed is None:
            sas = text(None)
        else:
            sas = Text("confirmed", "green") if confirmed else Text("MISMATCH", "bold red")
        reason = call.get("end_reason")
        rows.append(
            {
                "id": text(str(call.get("id"))[:8]),
                "peer": text(call.get("peer"), "bold"),
                "dir": text(call.get("direction")),
                "started": text(
                    when(call.get("started_at")) if wide else _short_when(call.get("started_at"))
                ),
                "duration": text(
                    duration(call.get("duration")) if call.get("duration") is not None else None
                ),
                "ended": text(
                    reason, "red" if reason in ("sas-mismatch", "failed", "media-lost", "interrupted") else ""
                ),
                "SAS": sas,
                "path": text(call.get("path")),
            }
        )
    columns = ("id", "peer", "dir", "started", "duration", "ended", "SAS", "path")
    return fit_table(columns, rows, width, optional=("path", "dir"), wide=wide)


def alert_line(alert: Result) -> Text:
    """One alert on one line: time, peer, kind and detail."""
    return Text.assemble(
        when(alert.get("at")), " ",
        Text("ALERT ", style="bold red"),
        text(alert.get("kind"), "red"), " ",
        text(alert.get("peer"), "bold"), ": ",
        text(alert.get("detail") or ""),
    )  # fmt: skip


def safety_number(out: Console, result: Result) -> None:
    """The safety number: the 12 digit groups in two rows of six, then the 24 words in rows of eight."""
    groups = [str(g) for g in result.get("groups") or str(result.get("digits", "")).split()]
    words = [str(w) for w in result.get("words") or []]
    # a line of another profile than standard has other numbers: say whose they are
    profile = result.get("profile")
    kind = f"{profile} line" if profile not in (None, "standard") else "line"
    out.print(Text.assemble(f"safety number of the {kind} to ", text(result.get("peer"), "bold")))
    for row in range(0, len(groups), 6):
        out.print(text("    " + " ".join(groups[row : row + 6]), "bold cyan"))
    for row in range(0, len(words), 8):
        label = "  words " if row == 0 else "        "
        out.print(Text(label).append_text(text(" ".join(words[row : row + 8]), "cyan")))


def qr_code(data: str) -> str:
    """``data`` as a QR code drawn with terminal characters (two modules per character cell)."""
    import segno  # only ``card --qr`` needs it

    buffer = io.StringIO()
    segno.make(data, error="m").terminal(out=buffer, compact=True)
    return buffer.getvalue()
