"""The console's line transcript (hotline.console.lineview) ends in the same marks whatever the order
in which the station's answers and events reach it.

The follow stream and the request connection are two sockets: a receipt may overtake the ``send``
result it concerns, an acknowledgement may come before the receipt is drawn, and a ``log`` read may
run while both arrive. Hypothesis shuffles our sends, their receipts and acknowledgements and a
reload of the log around them; the marks at the end depend only on what was heard.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.console.lineview import LineTranscript


def _sent(mid: str) -> dict[str, Any]:
    return {"id": mid, "peer": "bravo", "direction": "out", "kind": "text", "precedence": "routine",
            "text": mid, "created_at": 1.0, "stored_at": 1.0, "state": "sent"}  # fmt: skip


@st.composite
def _histories(draw: st.DrawFn) -> tuple[list[tuple[str, str]], dict[str, str]]:
    ids = [f"m{i}" for i in range(draw(st.integers(1, 6)))]
    steps: list[tuple[str, str]] = []
    fate: dict[str, str] = {}
    for mid in ids:
        fate[mid] = draw(st.sampled_from(["sent", "delivered", "acked"]))
        steps.append(("send", mid))
        if fate[mid] in ("delivered", "acked"):
            steps.append(("delivered", mid))
        if fate[mid] == "acked":
            steps.append(("acked", mid))
    order = draw(st.permutations(steps))
    reload_at = draw(st.none() | st.integers(0, len(order)))
    shuffled = list(order)
    if reload_at is not None:
        shuffled.insert(reload_at, ("reload", ""))
    return shuffled, fate


@settings(max_examples=300, deadline=None)
@given(_histories())
def test_marks_depend_only_on_what_was_heard(history: tuple[list[tuple[str, str]], dict[str, str]]) -> None:
    steps, fate = history
    view = LineTranscript("bravo")
    view.begin_load()
    view.load([], [])
    loading: list[dict[str, Any]] | None = None
    for step, mid in steps:
        if step == "send":
            view.add_sent(_sent(mid))
        elif step == "delivered":
            view.apply({"delivered": {"peer": "bravo", "ids": [mid], "at": 2.0}})
        elif step == "acked":
            view.apply({"acked": {"peer": "bravo", "id": mid, "direction": "out", "at": 3.0}})
        else:  # a log read starts: the station answers with what was sent so far, unmarked
            loading = [
                {"at": 1.0, "kind": "message", "message": dict(i.message)} for i in view.items() if i.message
            ]
            loading = [{**e, "message": {**e["message"], "state": "sent"}} for e in loading]
            view.begin_load()
    if loading is not None:
        view.load(loading, [])
    shown = {str(i.message["id"]): str(i.message["state"]) for i in view.items() if i.message}
    assert shown == fate
