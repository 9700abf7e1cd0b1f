"""The document wing stands alone: it imports no line, service, calls or request code, not even
inside a function or under ``TYPE_CHECKING`` (every import statement counts, wherever it is)."""

from __future__ import annotations

import ast
from pathlib import Path

import hotline.station.documents

#: What the wing may use of the rest of the station: its store worker, message ids, errors, the
#: sender that keeps a message for a full carrier lane (hotline.station.lanes) and the alert kinds.
ALLOWED = {
    "hotline.station.worker",
    "hotline.station.ids",
    "hotline.station.errors",
    "hotline.station.lanes",
    "hotline.station.alertkinds",
}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.update({node.module} | {f"{node.module}.{alias.name}" for alias in node.names})
        elif isinstance(node, ast.ImportFrom):
            names.add("." * node.level + (node.module or ""))  # relative: reported as is
    return names


def test_the_document_wing_imports_only_its_own_package_and_the_shared_base() -> None:
    root = Path(hotline.station.documents.__file__).parent
    files = sorted(root.glob("*.py"))
    assert len(files) >= 6
    bad = {
        f"{path.name}: {name}"
        for path in files
        for name in _imports(path)
        if name.startswith(".") or (name.startswith("hotline.station.") and not _allowed(name))
    }
    assert not bad


def _allowed(name: str) -> bool:
    return any(name == ok or name.startswith(ok + ".") for ok in ALLOWED | {"hotline.station.documents"})
