"""The op table is the one list of requests: the CLI's offline list and docs/control.md follow it.

Three lists of ops used to disagree (the control socket's "live" test, the CLI's offline ops and the
documentation); now the table in :mod:`hotline.station.requests.dispatch` says it once, and these
tests fail when one of the others drifts from it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hotline.cli.reach import OFFLINE_OPS
from hotline.station.requests.dispatch import OPS, Requests

CONTROL_MD = Path(__file__).resolve().parents[3] / "docs" / "control.md"


def _section(title: str) -> str:
    text = CONTROL_MD.read_text(encoding="utf-8")
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def test_docs_table_lists_every_op_and_no_other() -> None:
    documented = re.findall(r"^\| `([a-z.]+)` \|", _section("Requests"), flags=re.MULTILINE)
    assert len(documented) == len(set(documented)), "an op is documented twice"
    assert set(documented) == set(OPS)


def test_cli_offline_ops_are_the_tables() -> None:
    assert {op for op, row in OPS.items() if row.offline} == OFFLINE_OPS


def test_docs_offline_list_is_the_tables() -> None:
    section = _section("Offline operation")
    listed = section[section.index("these ops work with the daemon stopped:") : section.index("A lock file")]
    assert set(re.findall(r"`([a-z.]+)`", listed)) == {op for op, row in OPS.items() if row.offline}


@pytest.mark.parametrize(
    ("op", "args", "live"),
    [
        ("inbox", {}, False),
        ("inbox", {"follow": True}, True),
        ("inbox", {"follow": False}, False),
        ("send", {"peer": "a", "text": "x"}, False),
        ("send", {"peer": "a", "text": "x", "wait": None}, True),
        ("send.file", {"wait": False}, False),
        ("send.file", {"wait": True}, True),
        ("pair.listen", {}, True),
        ("pair.connect", {}, True),
        ("call.place", {}, True),
        ("call.answer", {}, True),
        ("call.hangup", {}, False),
        ("status", {}, False),
        ("no.such.op", {"follow": True}, False),
    ],
)
def test_live_requests(op: str, args: dict[str, object], live: bool) -> None:
    """What the control socket runs alone and watches: as it did before the table."""
    assert Requests(station=None, ops=OPS).is_live(op, args) is live  # type: ignore[arg-type]


def test_only_send_is_bounded() -> None:
    assert {op for op, row in OPS.items() if row.bounded} == {"send"}
