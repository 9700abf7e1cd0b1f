"""The console's pure model: lamps, board order, unread counts, the FLASH that holds the screen, alarms
and the transcript, from hand-written ``status``/``inbox``/``log`` results (docs/control.md shapes).

No Textual, no sockets, no clock: times are plain numbers.
"""

from __future__ import annotations

from typing import Any

import pytest

from hotline.console.model import (
    Lamp,
    StationView,
    ago,
    lamp_of,
    message_mark,
    next_precedence,
    sparkline,
    transcript,
)


def line(peer: str, state: str = "up", **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "peer": peer,
        "state": state,
        "since": 1000.0,
        "rtt_ms": 2.0 if state == "up" else None,
        "queued": 0,
        "in_flight": 0,
        "last_test": None,
        "alerts": [],
        "call": None,
    }
    return {**base, **extra}


def alert(kind: str, at: float = 1000.0, peer: str = "bravo") -> dict[str, Any]:
    return {"at": at, "peer": peer, "kind": kind, "detail": f"{kind} detail"}


def received(mid: str, peer: str = "bravo", precedence: str = "routine", at: float = 1.0) -> dict[str, Any]:
    return {
        "id": mid,
        "peer": peer,
        "direction": "in",
        "kind": "text",
        "precedence": precedence,
        "text": "hello",
        "created_at": at,
        "state": "received",
    }


@pytest.mark.parametrize(
    ("status", "lamp"),
    [
        (line("b"), Lamp.UP),
        (line("b", "down"), Lamp.DOWN),
        (line("b", "connecting"), Lamp.CONNECTING),
        (line("b", "unverified"), Lamp.UNVERIFIED),
        (line("b", "no-key"), Lamp.NO_KEY),
        (line("b", "stopped"), Lamp.STOPPED),
        (line("b", last_test={"at": 5.0, "ok": False, "detail": "x"}), Lamp.DEGRADED),
        (line("b", alerts=[alert("test-missed")]), Lamp.DEGRADED),
        (line("b", alerts=[alert("chain-mismatch")]), Lamp.DEGRADED),
        (line("b", rtt_ms=5000.0), Lamp.DEGRADED),
        (line("b", alerts=[alert("line-up")]), Lamp.UP),
        (line("b", alerts=[alert("key-changed")]), Lamp.KEY_CHANGED),
        (line("b", "down", alerts=[alert("key-changed")]), Lamp.KEY_CHANGED),
        (line("b", "martian"), Lamp.DOWN),
    ],
)
def test_lamp_of_each_state(status: dict[str, Any], lamp: Lamp) -> None:
    assert lamp_of(status) is lamp


def test_a_key_change_stops_blocking_once_reverified_after_it() -> None:
    status = line("b", alerts=[alert("key-changed", at=100.0)])
    assert lamp_of(status, key_confirmed_at=50.0) is Lamp.KEY_CHANGED
    assert lamp_of(status, key_confirmed_at=150.0) is Lamp.UP


def test_board_puts_alarms_first_then_unread_flash_then_names() -> None:
    view = StationView()
    view.apply_status(
        {
            "station": {"name": "alpha"},
            "lines": [
                line("able"),
                line("baker", "down"),
                line("charlie", alerts=[alert("key-changed", peer="charlie")]),
                line("dog"),
                line("easy", last_test={"at": 1.0, "ok": False, "detail": "chain heads differ"}),
            ],
        }
    )
    view.apply_unacked([received("m1", "dog", "flash"), received("m2", "able")])
    rows = view.rows()
    assert [r.peer for r in rows] == ["charlie", "baker", "easy", "dog", "able"]
    dog = next(r for r in rows if r.peer == "dog")
    assert (dog.unread, dog.unread_flash) == (1, 1)
    assert rows[2].last_test == (False, 1.0, "chain heads differ")


def test_queued_counts_what_is_in_flight_too() -> None:
    view = StationView()
    view.apply_status({"lines": [line("b", queued=2, in_flight=3)]})
    assert view.rows()[0].queued == 5


def test_rtt_history_feeds_the_sparkline_and_forgets_removed_lines() -> None:
    view = StationView()
    for rtt in (1.0, 2.0, 3.0, None, 8.0):
        view.apply_status({"lines": [line("b", rtt_ms=rtt)]})
    assert list(view.rtt["b"]) == [1.0, 2.0, 3.0, None, 8.0]
    assert view.rows()[0].spark == "   ▁▂▃ █"
    view.apply_status({"lines": []})
    assert view.rtt == {}


@pytest.mark.parametrize(
    ("values", "shown"),
    [
        ([], "    "),
        ([None, None], "    "),
        ([5.0, 5.0], "  ▁▁"),
        ([0.0, 7.0], "  ▁█"),
        ([1, 2, 3, 4, 5, 6], "▁▃▆█"),
    ],
)
def test_sparkline(values: list[float | None], shown: str) -> None:
    assert sparkline(values, width=4) == shown


def test_unread_follows_the_inbox_and_any_consoles_ack() -> None:
    view = StationView()
    new = view.apply_unacked([received("a"), received("b", precedence="immediate")])
    assert [m["id"] for m in new] == ["a", "b"]
    assert [m["id"] for m in view.unread("bravo")] == ["b", "a"]  # most urgent first
    # another console acknowledged "a": the next poll no longer lists it
    assert view.apply_unacked([received("b", precedence="immediate")]) == []
    assert [m["id"] for m in view.unread("bravo")] == ["b"]
    # the follow stream tells of a new one before the poll does
    assert view.apply_message(received("c"))
    assert not view.apply_message(received("c"))
    assert not view.apply_message({**received("d"), "direction": "out"})
    view.acked("c")
    assert [m["id"] for m in view.unread("bravo")] == ["b"]


def test_the_oldest_unacknowledged_flash_holds_the_screen() -> None:
    view = StationView()
    assert view.pending_flash() is None
    view.apply_unacked(
        [
            received("late", precedence="flash", at=9.0),
            received("r"),
            received("early", precedence="flash", at=3.0),
        ]
    )
    assert (view.pending_flash() or {})["id"] == "early"
    view.acked("early")
    assert (view.pending_flash() or {})["id"] == "late"
    view.acked("late")
    assert view.pending_flash() is None


def test_alarms_name_down_lines_missed_tests_and_key_changes_but_not_cleared_ones() -> None:
    view = StationView()
    view.apply_status(
        {
            "lines": [
                line("able", "down", since=50.0),
                line("baker", "down", alerts=[alert("line-down", at=60.0, peer="baker")]),
                line("charlie", alerts=[alert("test-missed", at=70.0, peer="charlie"), alert("line-up")]),
                line("dog", alerts=[alert("key-changed", at=80.0, peer="dog")]),
                line("easy"),
            ]
        }
    )
    alarms = [(a.peer, a.label) for a in view.alarms()]
    assert alarms == [
        ("able", "LINE DOWN"),
        ("baker", "LINE DOWN"),
        ("charlie", "LINE TEST MISSED"),
        ("dog", "KEY CHANGED"),
    ]
    assert view.alarms()[0].at == 50.0
    view.confirm_key("dog", 90.0)
    assert view.lamp("dog") is Lamp.UP
    assert ("dog", "KEY CHANGED") not in [(a.peer, a.label) for a in view.alarms()]


@pytest.mark.parametrize(
    ("kind", "label"),
    [
        ("profile-mismatch", "PROFILE MISMATCH"),
        ("call-bad-keys", "CALL KEYS BAD"),
        ("document-failed", "DOCUMENT FAILED"),
        ("document-refused", "DOCUMENT REFUSED"),
        ("quota", "LINE PAUSED (QUOTA)"),
        ("peer-paused", "PEER PAUSED THE LINE"),
    ],
)
def test_alarms_show_what_stops_a_line_or_its_documents(kind: str, label: str) -> None:
    view = StationView()
    view.apply_status({"lines": [line("bravo", alerts=[alert(kind)]), line("easy")]})
    assert [(a.peer, a.label) for a in view.alarms()] == [("bravo", label)]


def test_transcript_keeps_texts_and_alarms_in_place_and_drops_acks_and_tests() -> None:
    out = {"id": "o1", "direction": "out", "kind": "text", "precedence": "flash", "state": "delivered"}
    ack = {"id": "k1", "direction": "in", "kind": "ack", "state": "received"}
    entries = [
        {"at": 3.0, "kind": "alert", "event": "chain-mismatch", "detail": "entry 4 differs"},
        {"at": 1.0, "kind": "message", "message": out},
        {"at": 2.0, "kind": "receipt", "id": "o1"},
        {"at": 4.0, "kind": "message", "message": ack},
        {"at": 5.0, "kind": "test", "event": "test", "ok": True, "rtt_ms": 3.25, "detail": "match"},
        {"at": 6.0, "kind": "alert", "event": "line-up", "detail": "session up"},
        {"at": 7.0, "kind": "test", "event": "test", "ok": False, "detail": "heads differ"},
    ]
    items = transcript(entries)
    assert [(i.kind, i.label) for i in items] == [
        ("message", ""),
        ("alarm", "CHAIN MISMATCH"),
        ("event", "line test ok 3.2 ms"),
        ("event", "line up"),
        ("alarm", "LINE TEST FAILED"),
    ]
    assert items[0].message == out


@pytest.mark.parametrize(
    ("direction", "state", "mark"),
    [
        ("out", "queued", "○ queued"),
        ("out", "sent", "◔ sent"),
        ("out", "delivered", "✓ delivered"),
        ("out", "acked", "✓✓ acknowledged"),
        ("in", "received", "● unread"),
        ("in", "acked", "✓ acknowledged"),
    ],
)
def test_message_marks(direction: str, state: str, mark: str) -> None:
    assert message_mark({"direction": direction, "state": state})[0] == mark


def test_precedence_cycle_and_ages() -> None:
    assert [next_precedence(p) for p in ("routine", "priority", "immediate", "flash", "bogus")] == [
        "priority",
        "immediate",
        "flash",
        "routine",
        "routine",
    ]
    assert [ago(t, 100_000.0) for t in (99_958.0, 99_700.0, 88_600.0, 0.0, None)] == [
        "42s",
        "5m",
        "3h10m",
        "1d3h",
        "—",
    ]


def test_board_counts_unread_as_the_station_does() -> None:
    view = StationView()
    view.apply_status({"lines": [line("bravo", unread=5, unread_flash=2), line("charlie")]})
    view.apply_message(received("m1", "charlie"))
    rows = {row.peer: row for row in view.rows()}
    # the station's count stands, whatever the console holds of the messages themselves
    assert (rows["bravo"].unread, rows["bravo"].unread_flash) == (5, 2)
    assert (rows["charlie"].unread, rows["charlie"].unread_flash) == (1, 0)
    assert [row.peer for row in view.rows()] == ["bravo", "charlie"]


def test_unread_documents_can_be_acknowledged_like_messages() -> None:
    view = StationView()
    assert view.apply_message({**received("d1"), "kind": "doc"})
    assert not view.apply_message({**received("k1"), "kind": "ack"})
    assert [m["id"] for m in view.unread("bravo")] == ["d1"]
