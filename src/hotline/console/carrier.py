"""A line's carrier as the console shows it: a short cell on the line board, a sentence by the title.

Both read the ``carrier`` of a ``line status`` (docs/control.md) as it comes, with ``.get``: None when
the line runs no carrier. Pure functions, no Textual (tests/unit/console/test_carrier.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hotline.console.text import size_text

__all__ = ["LANES", "brief", "summary"]

#: The carrier's lanes, highest precedence first (docs/protocol.md §14.2).
LANES = ("control", "flash", "voice", "messages", "documents")


def _waiting(carrier: Mapping[str, Any]) -> dict[str, tuple[int, int]]:
    """Lanes with something waiting: (frames, bytes)."""
    waiting = carrier.get("waiting")
    out: dict[str, tuple[int, int]] = {}
    if not isinstance(waiting, Mapping):
        return out
    for lane in LANES:
        entry = waiting.get(lane)
        if isinstance(entry, Mapping) and isinstance(entry.get("bytes"), int) and entry["bytes"] > 0:
            frames = entry.get("frames")
            out[lane] = (frames if isinstance(frames, int) else 0, entry["bytes"])
    return out


def _percent(load: Any) -> str | None:
    if not isinstance(load, int | float):
        return None
    percent = 100 * load
    return f"{percent:.1f}" if 0 < percent < 1 else f"{percent:.0f}"


def brief(carrier: Any) -> tuple[str, str] | None:
    """The board's cell and its style: ``12%``, then ``3F`` when FLASH frames wait and the backlog in
    seconds when anything waits (``12% 3F 0.8s``); ``down`` when no session runs it; None without one.
    """
    if not isinstance(carrier, Mapping):
        return None
    if not carrier.get("running"):
        return ("down", "yellow")
    parts = [f"{_percent(carrier.get('load')) or '?'}%"]
    waiting = _waiting(carrier)
    if "flash" in waiting:
        parts.append(f"{waiting['flash'][0]}F")
    backlog = carrier.get("backlog_s")
    if waiting and isinstance(backlog, int | float):
        parts.append(f"{backlog:.1f}s")
    style = "bold red" if "flash" in waiting else "yellow" if waiting else ""
    return (" ".join(parts), style)


def summary(carrier: Any) -> str | None:
    """The selected line's carrier in words, e.g. ``carrier 1024 B/20 ms · 4.7 GB/day · 12 % full ·
    waiting: 3 flash, 40.0 kB documents``; None without one."""
    if not isinstance(carrier, Mapping):
        return None
    interval = carrier.get("interval_ms")
    every = f"{interval:g} ms" if isinstance(interval, int | float) else "?"
    per_day = carrier.get("bytes_per_day")
    cost = f"{size_text(per_day)}/day" if isinstance(per_day, int | float) else "?"
    words = [f"carrier {carrier.get('cell')} B/{every}", cost]
    if not carrier.get("running"):
        return " · ".join([*words, "not running"])
    percent = _percent(carrier.get("load"))
    if percent is not None:
        words.append(f"{percent} % full")
    waiting = _waiting(carrier)
    shown = [
        f"{size_text(count)} documents" if lane == "documents" else f"{frames} {lane}"
        for lane, (frames, count) in waiting.items()
    ]
    words.append("waiting: " + (", ".join(shown) if shown else "nothing"))
    return " · ".join(words)
