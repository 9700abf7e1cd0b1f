"""The sans-IO core must not reach for I/O, clocks or randomness (style.md §1).

Checked on the source: every import statement in ``hotline.proto`` (the stdlib itself imports
``time`` here and there, so ``sys.modules`` would not tell us what *we* use).
"""

from __future__ import annotations

import ast
from pathlib import Path

import hotline.proto

FORBIDDEN = {"asyncio", "socket", "sqlite3", "time", "random", "secrets", "os", "selectors", "threading"}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_proto_imports_no_io_clock_or_randomness() -> None:
    root = Path(hotline.proto.__file__).parent
    files = sorted(root.rglob("*.py"))
    assert len(files) > 5
    bad = {
        f"{path.name}: {name}"
        for path in files
        for name in _imports(path)
        if name.split(".")[0] in FORBIDDEN or name.startswith(("hotline.net", "hotline.cli"))
    }
    assert not bad
