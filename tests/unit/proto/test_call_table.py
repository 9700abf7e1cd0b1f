"""The call machine's transition table is written twice, in ``Call``'s docstring and on its page in
docs/state-machines/call.md: the two must be the same table, row for row (what the rows say is
checked against the code by tests/property/test_call_model.py)."""

from __future__ import annotations

from pathlib import Path

from hotline.proto.call import Call, CallState
from tests.support.markdown import table_rows

PAGE = Path(__file__).resolve().parents[3] / "docs" / "state-machines" / "call.md"


def test_the_docstring_and_the_page_hold_the_same_table() -> None:
    assert Call.__doc__ is not None
    ours = table_rows(Call.__doc__)
    page = table_rows(PAGE.read_text(encoding="utf-8").split("## Transitions", 1)[1])
    assert ours[0] == ["end", "from", "on", "to", "notes"]
    assert len(ours) > 20
    assert ours == page


def test_every_state_of_the_machine_is_in_the_table() -> None:
    assert Call.__doc__ is not None
    named = {cell.split(" ")[0] for row in table_rows(Call.__doc__)[2:] for cell in (row[1], row[3])}
    assert {state.name for state in CallState} <= named
