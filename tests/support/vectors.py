"""One loader for the test vectors in ``tests/vectors/`` (see the README there for provenance)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

VECTORS = Path(__file__).resolve().parent.parent / "vectors"


def vector_path(*parts: str) -> Path:
    """Path of a vector file under ``tests/vectors``."""
    return VECTORS.joinpath(*parts)


def load_json(*parts: str) -> Any:
    """Load a JSON vector file (gzip-compressed when it ends in ``.gz``)."""
    path = vector_path(*parts)
    if path.suffix == ".gz":
        with gzip.open(path, "rt", encoding="utf-8") as f:
            return json.load(f)
    return json.loads(path.read_text(encoding="utf-8"))


def load_lines(*parts: str) -> list[str]:
    """Load a text vector file, one case per non-empty line (gzip when it ends in ``.gz``)."""
    path = vector_path(*parts)
    if path.suffix == ".gz":
        with gzip.open(path, "rt", encoding="utf-8") as f:
            text = f.read()
    else:
        text = path.read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip()]
