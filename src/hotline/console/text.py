"""Station text made safe to show: every string that came from a station goes through :func:`safe`;
and byte counts as the console words them (:func:`size_text`).

The other station wrote the message texts, names and details we show; an escape sequence or markup in
them must reach the operator as characters, never as terminal control or styling. This is the console's
copy of ``hotline.cli.errors.printable``: the console does not import the CLI.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text

__all__ = ["printable", "safe", "size_text"]


def printable(value: str) -> str:
    """``value`` with control characters shown as ``\\xNN`` (newlines and tabs kept)."""
    return "".join(ch if ch in "\n\t" or ch.isprintable() else _escape(ch) for ch in value)


def safe(value: Any, style: str = "") -> Text:
    """``value`` as literal rich text (no markup), control characters escaped; ``—`` for None."""
    if value is None:
        return Text("—", style="dim")
    return Text(printable(str(value)), style=style)


def size_text(size: object) -> str:
    """A byte count for people: ``512 B``, ``3.4 kB``, ``6.3 MB``."""
    n = float(size) if isinstance(size, int | float) else 0.0
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} B"


def _escape(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
