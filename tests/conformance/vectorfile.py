"""What every conformance vector file shares: where the files live, the fixed inputs, the encoding.

Each area is a module ``tests/conformance/vec_<area>.py`` with a ``FILE`` (its name under
``docs/vectors/``) and a ``build()`` returning the file's content as a JSON-ready dict. Every random
input is :func:`fixed` (SHAKE-256 of a label), so a file is a function of the code alone:
``generate.py`` writes them, ``test_regenerate.py`` builds them again and compares byte for byte, and
each area's ``test_<area>.py`` reads only its file and holds our code to it.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import pkgutil
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
#: Where the published vectors live.
DOCS_VECTORS = ROOT / "docs" / "vectors"

_PREFIX = "hotline conformance/"


def fixed(label: str, size: int) -> bytes:
    """The fixed input named ``label``: SHAKE-256 of ``"hotline conformance/" || label`` (ASCII)."""
    return hashlib.shake_256((_PREFIX + label).encode("ascii")).digest(size)


def fixed_note(label: str) -> str:
    """How a file states where a fixed input came from."""
    return f'SHAKE-256("{_PREFIX}{label}")'


def render(content: dict[str, Any]) -> str:
    """The file's text: JSON, two-space indent, keys in the order given, a final newline.

    Byte strings must already be lower-case hex strings; nothing here guesses an encoding.
    """
    return json.dumps(content, indent=2, ensure_ascii=False) + "\n"


def load(name: str) -> Any:
    """Read a published vector file."""
    return json.loads((DOCS_VECTORS / name).read_text(encoding="utf-8"))


def areas() -> list[ModuleType]:
    """Every ``vec_*`` module of this package, in name order."""
    here = Path(__file__).resolve().parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("vec_"))
    return [importlib.import_module(f"tests.conformance.{name}") for name in names]
