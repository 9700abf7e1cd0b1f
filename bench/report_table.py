"""A benchmark table of strings, its two renderings (rich on the terminal, Markdown for
``docs/benchmarks.md``) and the few ways every table words a figure.

Each table is built once as plain strings and rendered twice, so the terminal and the docs can never
disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console
from rich.table import Table as RichTable


@dataclass(frozen=True)
class Table:
    """A titled table of strings; the first column is a label, the rest are numbers."""

    title: str
    columns: list[str]
    rows: list[list[str]]
    #: How it was measured, in a sentence or two, shown under the table.
    note: str = ""


def print_table(console: Console, table: Table) -> None:
    """Print one table to the terminal: the first column left, the figures right."""
    rich = RichTable(title=table.title, caption=table.note or None)
    for i, column in enumerate(table.columns):
        rich.add_column(column, justify="left" if i == 0 else "right")
    for row in table.rows:
        rich.add_row(*row)
    console.print(rich)


def markdown_table(table: Table) -> list[str]:
    """One table as the lines of a Markdown section (a heading, the table, its note)."""
    align = ["---"] + ["---:"] * (len(table.columns) - 1)
    lines = [f"### {table.title}", "", "| " + " | ".join(table.columns) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in table.rows]
    lines.append("")
    if table.note:
        lines += [table.note, ""]
    return lines


def times(ours: float, theirs: float) -> str:
    """``ours`` over ``theirs``, as ``1.23x``."""
    return f"{ours / theirs:.2f}x"


def verdict(ok: bool) -> str:
    """A goal's result: pass or FAIL."""
    return "pass" if ok else "FAIL"


def met(ok: bool) -> str:
    """A goal's result in words: met or not met."""
    return "met" if ok else "not met"


__all__ = ["Table", "markdown_table", "met", "print_table", "times", "verdict"]
