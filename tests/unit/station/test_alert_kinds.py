"""Every alert a station can raise is listed, with what it means and what to do, in docs/control.md.

The kinds live in one enum (:class:`hotline.station.alertkinds.AlertKind`); every place that raises an
alert names one of its members, never a string of its own, so the enum is all a station can raise.
"""

from __future__ import annotations

import ast
from pathlib import Path

from hotline.station.alertkinds import AlertKind
from tests.support.markdown import table_rows

ROOT = Path(__file__).resolve().parents[3]
STATION = ROOT / "src" / "hotline" / "station"


def _documented() -> dict[str, list[str]]:
    text = (ROOT / "docs" / "control.md").read_text(encoding="utf-8")
    rows = table_rows(text[text.index("\n## Alerts\n") :])
    assert rows[0] == ["kind", "what happened", "what to do"]
    return {row[0].strip("`"): row[1:] for row in rows[2:]}


def test_control_md_lists_every_alert_kind_and_no_other() -> None:
    documented = _documented()
    assert sorted(documented) == sorted(kind.value for kind in AlertKind)
    for kind, (meaning, action) in documented.items():
        assert meaning and action, kind


def _alert_calls() -> list[tuple[str, int, ast.expr]]:
    """``(file, line, first argument)`` of every ``….alert(…)`` call in the station."""
    found = []
    for path in sorted(STATION.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            if node.func.attr == "alert" and node.args:
                found.append((str(path.relative_to(ROOT)), node.lineno, node.args[0]))
    return found


def test_every_alert_the_station_raises_names_a_kind_of_the_enum() -> None:
    calls = _alert_calls()
    assert len(calls) >= 25  # the scan sees the station's alerts
    spelled = [(f, n) for f, n, arg in calls if isinstance(arg, ast.Constant)]
    assert spelled == [], "an alert kind spelled as a string: add it to AlertKind and docs/control.md"
    for path in STATION.rglob("*.py"):
        if path.name == "alertkinds.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "AlertKind"
            ):
                assert node.attr in AlertKind.__members__, (path, node.attr)
