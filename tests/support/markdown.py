"""Reading the Markdown tables of docs/ that tests hold the code to."""

from __future__ import annotations


def table_rows(text: str) -> list[list[str]]:
    """The cells of every row of the first Markdown table in ``text``."""
    rows: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
        elif rows:
            break
    return rows
