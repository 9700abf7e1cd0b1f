"""The selected line's transcript kept current by follower events (docs/control.md, "Follower events"),
from hand-written ``log``/``files`` results and events. No Textual, no sockets, no clock."""

from __future__ import annotations

from typing import Any

import pytest

from hotline.console.lineview import HEARD_LIMIT, LineTranscript, document_mark, size_text


def message(mid: str, direction: str = "out", state: str = "sent", **extra: Any) -> dict[str, Any]:
    return {
        "id": mid,
        "peer": "bravo",
        "direction": direction,
        "kind": "text",
        "precedence": "routine",
        "text": f"text of {mid}",
        "created_at": 1.0,
        "stored_at": 1.0,
        "state": state,
        "delivered_at": None,
        "acked_at": None,
        **extra,
    }


def document(did: str, direction: str = "out", stored: int = 0, state: str = "receiving") -> dict[str, Any]:
    return {
        "id": did,
        "peer": "bravo",
        "direction": direction,
        "name": "plans.pdf",
        "size": 4_000_000,
        "sha256": "00" * 32,
        "stored": stored,
        "state": state,
        "detail": None,
        "created_at": 5.0,
        "completed_at": None,
    }


def loaded(*entries: dict[str, Any], documents: tuple[dict[str, Any], ...] = ()) -> LineTranscript:
    view = LineTranscript("bravo")
    view.begin_load()
    view.load(
        [{"at": float(i), "kind": "message", "message": m} for i, m in enumerate(entries)], list(documents)
    )
    return view


def states(view: LineTranscript) -> dict[str, str]:
    return {
        str(i.message["id"]): str(i.message["state"])
        for i in view.items()
        if i.kind == "message" and i.message
    }


def test_a_receipt_then_an_acknowledgement_mark_our_message() -> None:
    view = loaded(message("m1"), message("m2", state="queued"))
    assert view.apply({"delivered": {"peer": "bravo", "ids": ["m1", "m2", "k9"], "at": 7.0}})
    assert states(view) == {"m1": "delivered", "m2": "delivered"}
    assert view.apply({"acked": {"peer": "bravo", "id": "m1", "direction": "out", "at": 9.0}})
    assert states(view) == {"m1": "acked", "m2": "delivered"}
    [first] = [i.message for i in view.items() if i.message and i.message["id"] == "m1"]
    assert first["delivered_at"] == 7.0 and first["acked_at"] == 9.0
    # the same receipt again changes nothing; another line's is not ours
    assert not view.apply({"delivered": {"peer": "bravo", "ids": ["m1"], "at": 7.5}})
    assert not view.apply({"acked": {"peer": "charlie", "id": "m2", "direction": "out", "at": 9.0}})


def test_acked_direction_decides_which_message_it_is() -> None:
    # the peer chose the id of its message; ours may carry the same id (docs/control.md, "Ids")
    view = loaded(message("same"), message("same", direction="in", state="received"))
    view.apply({"acked": {"peer": "bravo", "id": "same", "direction": "in", "at": 3.0}})
    items = {(i.message["direction"], i.message["state"]) for i in view.items() if i.message}
    assert items == {("out", "sent"), ("in", "acked")}


def test_a_receipt_that_overtakes_the_send_result_still_marks_it() -> None:
    view = loaded()
    view.apply({"delivered": {"peer": "bravo", "ids": ["m1"], "at": 2.0}})
    view.add_sent(message("m1", state="sent"))
    assert states(view) == {"m1": "delivered"}


def test_events_heard_while_the_log_is_read_are_applied_to_it() -> None:
    view = LineTranscript("bravo")
    view.begin_load()
    assert not view.loaded
    view.apply({"message": message("in1", direction="in", state="received", stored_at=4.0)})
    view.apply({"delivered": {"peer": "bravo", "ids": ["m1"], "at": 2.0}})
    view.load([{"at": 1.0, "kind": "message", "message": message("m1")}], [])
    assert view.loaded
    assert states(view) == {"m1": "delivered", "in1": "received"}


def test_a_message_that_arrives_is_added_once() -> None:
    view = loaded(message("m1"))
    incoming = message("in1", direction="in", state="received", stored_at=4.0)
    assert view.apply({"message": incoming})
    assert not view.apply({"message": incoming})
    assert [i.message["id"] for i in view.items() if i.message] == ["m1", "in1"]


def test_an_alert_stands_in_place() -> None:
    view = loaded(message("m1"), message("m2"))  # at 0.0 and 1.0
    view.apply({"alert": {"at": 0.5, "peer": "bravo", "kind": "chain-mismatch", "detail": "entry 4"}})
    view.apply({"alert": {"at": 0.5, "peer": "charlie", "kind": "line-down", "detail": "other line"}})
    shown = [(i.kind, i.label) for i in view.items()]
    assert shown == [("message", ""), ("alarm", "CHAIN MISMATCH"), ("message", "")]


def test_a_document_goes_queued_then_held_bytes_then_verified() -> None:
    doc_entry = {**message("d1", state="queued"), "kind": "doc"}
    view = loaded(doc_entry, documents=(document("d1"),))
    [item] = [i for i in view.items() if i.kind == "document"]
    assert item.document is not None and item.message is not None
    assert document_mark(item.document, item.message)[0] == "○ queued"
    assert view.apply({"document": document("d1", stored=1_000_000)})
    [item] = [i for i in view.items() if i.kind == "document"]
    assert item.document is not None
    assert document_mark(item.document, item.message)[0] == "◔ far end holds 1.0 MB of 4.0 MB (25 %)"
    view.apply({"document": document("d1", stored=4_000_000, state="complete")})
    [item] = [i for i in view.items() if i.kind == "document"]
    assert item.document is not None
    assert document_mark(item.document, item.message)[0] == "✓✓ verified at the far end"
    # the DOC entry is not shown a second time as a message
    assert [i.kind for i in view.items()] == ["document"]


def test_a_document_sent_by_another_client_shows_up_from_its_events() -> None:
    view = loaded(message("m1"))
    assert view.apply({"document": document("d2", stored=2_000_000)})
    assert [i.kind for i in view.items()] == ["message", "document"]


@pytest.mark.parametrize(
    ("doc", "mark"),
    [
        (document("d", "in", 0), "◔ received 0 B of 4.0 MB (0 %)"),
        (document("d", "in", 4_000_000, "complete"), "✓ complete, verified"),
        ({**document("d"), "state": "failed", "detail": "hash differs"}, "✗ failed: hash differs"),
        (
            {**document("d", "in"), "state": "held"},
            "held: accept or refuse it (`hotline file accept|refuse`)",
        ),
        (
            {**document("d", stored=10), "state": "paused", "detail": "disk full"},
            "‖ paused at 10 B of 4.0 MB (0 %): disk full",
        ),
    ],
)
def test_document_marks(doc: dict[str, Any], mark: str) -> None:
    assert document_mark(doc, None)[0] == mark


def test_sizes_read_as_people_write_them() -> None:
    assert [size_text(n) for n in (0, 999, 1500, 6_300_000, 2e9)] == [
        "0 B",
        "999 B",
        "1.5 kB",
        "6.3 MB",
        "2.0 GB",
    ]


def test_receipts_heard_for_messages_never_shown_are_bounded() -> None:
    view = loaded()
    for i in range(HEARD_LIMIT + 50):
        view.apply({"delivered": {"peer": "bravo", "ids": [f"x{i}"], "at": 1.0}})
    view.add_sent(message("x0"))  # forgotten: too old
    view.add_sent(message(f"x{HEARD_LIMIT + 49}"))
    assert states(view) == {"x0": "sent", f"x{HEARD_LIMIT + 49}": "delivered"}


def test_a_document_without_progress_yet_shows_as_its_entry_until_the_station_says_more() -> None:
    doc_entry = {**message("d3", direction="in", state="received"), "kind": "doc", "text": "document x.pdf"}
    view = loaded(message("m1"))
    view.apply({"message": doc_entry})
    assert [(i.kind, i.message and i.message["text"]) for i in view.items()] == [
        ("message", "text of m1"),
        ("message", "document x.pdf"),
    ]
    view.apply({"document": document("d3", direction="in", stored=100)})
    assert [i.kind for i in view.items()] == ["message", "document"]
