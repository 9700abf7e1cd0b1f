"""The figures a reliability test reports: one line on stdout, and a JSON file when asked for.

Each fault suite (crash, load) ends by calling :func:`report` with what it did and what it found:
rounds, faults injected, what it checked, losses and duplicates found, and whatever else it measured.
The line starts with ``figures`` so it can be picked out of ``pytest -s`` output; docs/reliability.md
quotes these lines. When ``HOTLINE_RELIABILITY_OUT`` names a directory, the same figures are written
there as ``<name>.json``, one file per test, so a soak run leaves a record behind.

Tests call :func:`report` before they assert, so a failing run still reports what it found.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

#: The environment variable naming the directory for the JSON figures.
OUT_ENV = "HOTLINE_RELIABILITY_OUT"


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in value.items()) + "}"
    return str(value)


def summary(name: str, figures: dict[str, Any]) -> str:
    """The one-line summary: ``figures <name>: key=value ...`` (lists are left to the JSON)."""
    shown = [f"{key}={_show(value)}" for key, value in figures.items() if not isinstance(value, list)]
    return f"figures {name}: " + " ".join(shown)


def report(name: str, figures: dict[str, Any]) -> None:
    """Print the figures of test ``name`` on one line; also write them as JSON if ``OUT_ENV`` is set."""
    print(summary(name, figures))
    out = os.environ.get(OUT_ENV)
    if not out:
        return
    directory = Path(out)
    directory.mkdir(parents=True, exist_ok=True)
    record = {"test": name, "finished_at": time.time(), **figures}
    (directory / f"{name}.json").write_text(json.dumps(record, indent=1, sort_keys=False) + "\n")


__all__ = ["OUT_ENV", "report", "summary"]
