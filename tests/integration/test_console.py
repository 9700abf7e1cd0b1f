"""The operator console against real station daemons on loopback, driven with Textual's pilot.

Each test pairs ``alpha`` and ``bravo`` (tests/support/stations.py), starts both daemons as separate
processes, and runs the real :class:`hotline.console.HotlineConsole` on alpha's control socket. The
console never sees the station's internals: what it shows came over the control socket, and what we
check on the station side we ask over the control socket too.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.css.query import NoMatches
from textual.pilot import Pilot
from textual.widgets import Button, Input, Static

from hotline.console import HotlineConsole
from hotline.console.call import CallScreen
from hotline.console.errors import NEXT_STEP
from hotline.console.flash import FlashScreen
from hotline.console.model import Lamp
from hotline.voice.quality import speech_sample
from tests.support.stations import CliProcess, StationProc, paired_and_up

Predicate = Callable[[], object]


@pytest.fixture
def stations() -> Iterator[tuple[StationProc, StationProc]]:
    """alpha and bravo, paired and up (set up outside the test's event loop: pairing runs offline
    requests, which start an event loop of their own)."""
    with paired_and_up() as stations:
        yield stations


async def until(pilot: Pilot[Any], predicate: Predicate, what: str, timeout: float = 15.0) -> None:
    """Let the console run until ``predicate()`` holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached in {timeout} s")
        await pilot.pause(0.2)


def text_of(app: HotlineConsole, selector: str, *, top: bool = False) -> str:
    """The text of a Static on the main screen, or on the screen on top with ``top``."""
    root = app.screen if top else app
    return str(root.query_one(selector, Static).content)


def drawn(app: HotlineConsole, selector: str) -> str:
    """The text of a Static on the screen on top, or "" while that screen is still mounting."""
    try:
        return text_of(app, selector, top=True)
    except NoMatches:
        return ""


def sent_state(app: HotlineConsole, peer: str, text: str) -> str | None:
    """The state the console's transcript shows for our message ``text`` (None until it shows)."""
    body = text_of(app, "#transcript-body")
    if text not in body:
        return None
    header = body[: body.index(text)].rsplit("→ sent", 1)[-1]
    for state in ("acknowledged", "delivered", "sent", "queued"):
        if state in header:
            return state
    return "?"


async def with_console(
    station: StationProc,
    body: Callable[[HotlineConsole, Pilot[Any]], Awaitable[None]],
    size: tuple[int, int],
    poll_every: float = 0.3,
) -> None:
    app = HotlineConsole(station.control, poll_every=poll_every)
    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: app.connection == "connected" and app.selected is not None, "connected")
        await body(app, pilot)


@pytest.mark.asyncio
async def test_send_from_compose_goes_queued_delivered_acknowledged(
    stations: tuple[StationProc, StationProc],
) -> None:
    a, b = stations

    async def body(app: HotlineConsole, pilot: Pilot[Any]) -> None:
        assert app.selected == "bravo"
        await pilot.press("n")
        await pilot.press(*"status report")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: sent_state(app, "bravo", "status report") is not None, "message shown")
        await until(pilot, lambda: sent_state(app, "bravo", "status report") == "delivered", "delivered")
        [received] = [m for m in b.inbox(a) if m["text"] == "status report"]
        assert received["precedence"] == "routine"
        b.request("ack", id=received["id"])
        await until(pilot, lambda: sent_state(app, "bravo", "status report") == "acknowledged", "acked")

    await with_console(a, body, (100, 30))


@pytest.mark.asyncio
async def test_incoming_flash_takes_over_until_acknowledged(
    stations: tuple[StationProc, StationProc],
) -> None:
    a, b = stations

    async def body(app: HotlineConsole, pilot: Pilot[Any]) -> None:
        sent = b.request("send", peer="alpha", text="missiles sighted", precedence="flash")
        await until(pilot, lambda: isinstance(app.screen, FlashScreen), "FLASH screen")
        assert "missiles sighted" in text_of(app, "#flash-text", top=True)
        await pilot.press("a")
        await until(pilot, lambda: not isinstance(app.screen, FlashScreen), "FLASH screen gone")
        [message] = [m for m in a.inbox(b) if m["id"] == sent["id"]]
        assert message["state"] == "acked"
        # and bravo hears of it
        await until(pilot, lambda: _acked_out(b, a, sent["id"]), "the ack reached bravo")

    await with_console(a, body, (100, 30))


def _acked_out(station: StationProc, peer: StationProc, message_id: str) -> bool:
    return any(m["id"] == message_id and m["state"] == "acked" for m in station.sent(peer))


@pytest.mark.asyncio
async def test_killed_peer_turns_the_lamp_down_and_raises_the_alarm(
    stations: tuple[StationProc, StationProc],
) -> None:
    a, b = stations

    async def body(app: HotlineConsole, pilot: Pilot[Any]) -> None:
        assert app.view.lamp("bravo") is Lamp.UP
        assert not app.query_one("#alarms", Static).display
        b.kill()
        await until(pilot, lambda: app.view.lamp("bravo") is Lamp.DOWN, "lamp down", timeout=20)
        await until(pilot, lambda: app.query_one("#alarms", Static).display, "alarm banner")
        assert "LINE DOWN" in text_of(app, "#alarms")

    await with_console(a, body, (100, 30))


@pytest.mark.asyncio
async def test_console_survives_a_daemon_restart(stations: tuple[StationProc, StationProc]) -> None:
    a, _b = stations

    async def body(app: HotlineConsole, pilot: Pilot[Any]) -> None:
        a.stop()
        await until(pilot, lambda: app.connection == "lost", "lost")
        assert "lost the station" in text_of(app, "#status")
        assert "STATION LOST" in text_of(app, "#alarms")
        a.start()
        await until(pilot, lambda: app.connection == "reconnected", "reconnected")
        assert "reconnected" in text_of(app, "#status")
        await until(pilot, lambda: app.view.lamp("bravo") is Lamp.UP, "line up again")
        assert "STATION LOST" not in text_of(app, "#alarms")

    await with_console(a, body, (100, 30))


@pytest.mark.asyncio
async def test_fits_an_80_by_24_terminal(stations: tuple[StationProc, StationProc]) -> None:
    a, b = stations
    b.send(a, "routine traffic")

    async def body(app: HotlineConsole, pilot: Pilot[Any]) -> None:
        await until(pilot, lambda: "routine traffic" in text_of(app, "#transcript-body"), "transcript")
        for selector in ("#topbar", "#board", "#transcript", "#compose", "#status"):
            region = app.query_one(selector).region
            assert region.width > 0 and region.height > 0, selector
            assert region.right <= 80 and region.bottom <= 24, selector
        assert app.query_one("#compose-text").region.height >= 1
        board = app.query_one("#board").region
        assert board.height >= 2  # header and the one line
        await pilot.press("v")
        await until(pilot, lambda: type(app.screen).__name__ == "VerifyScreen", "verify screen")
        digits = app.screen.query_one("#verify-digits").region
        assert digits.bottom <= 24 and digits.height >= 2
        await pilot.press("escape")

    await with_console(a, body, (80, 24))


#: No status poll during the test: what changes on screen came as a pushed event.
NO_POLL = 3600.0


@pytest.mark.asyncio
async def test_receipt_and_acknowledgement_are_marked_from_pushed_events_without_a_poll(
    stations: tuple[StationProc, StationProc],
) -> None:
    a, b = stations

    async def body(app: HotlineConsole, pilot: Pilot[Any]) -> None:
        await until(pilot, lambda: app.line_view is not None and app.line_view.loaded, "transcript read")
        transcript = app.line_view
        await pilot.press("n", *"grid square 4", "ctrl+s")
        await until(pilot, lambda: sent_state(app, "bravo", "grid square 4") == "delivered", "delivered")
        [received] = [m for m in b.inbox(a) if m["text"] == "grid square 4"]
        b.request("ack", id=received["id"])
        await until(pilot, lambda: sent_state(app, "bravo", "grid square 4") == "acknowledged", "acked")
        assert app.line_view is transcript  # marked in place: the log was not read again

    await with_console(a, body, (100, 30), poll_every=NO_POLL)


@pytest.mark.asyncio
async def test_unread_counts_come_from_the_station_and_an_ack_elsewhere_clears_them(
    stations: tuple[StationProc, StationProc],
) -> None:
    a, b = stations

    def unread() -> tuple[int, int]:
        [row] = [r for r in app_rows() if r.peer == "bravo"]
        return row.unread, row.unread_flash

    async def body(app: HotlineConsole, pilot: Pilot[Any]) -> None:
        nonlocal app_rows
        app_rows = app.view.rows
        first = b.send(a, "first of two", precedence="immediate")
        b.send(a, "second of two")
        await until(pilot, lambda: unread() == (2, 0), "two unread")
        assert app.view.lines["bravo"]["unread"] == 2  # the station's count
        a.request("ack", id=first["id"])  # another operator, another client
        await until(pilot, lambda: unread() == (1, 0), "one unread")
        assert [m["text"] for m in app.view.unread("bravo")] == ["second of two"]
        await pilot.press("a")  # the most urgent left: the second
        await until(pilot, lambda: unread() == (0, 0), "none unread")
        assert all(m["state"] == "acked" for m in a.inbox(b))

    app_rows: Callable[[], list[Any]] = list
    await with_console(a, body, (100, 30), poll_every=NO_POLL)


@pytest.mark.asyncio
async def test_a_document_shows_its_progress_then_verified(
    stations: tuple[StationProc, StationProc], tmp_path: Path
) -> None:
    a, _b = stations
    path = tmp_path / "survey.bin"
    path.write_bytes(os.urandom(3 * 2**20))

    async def body(app: HotlineConsole, pilot: Pilot[Any]) -> None:
        await until(pilot, lambda: app.line_view is not None and app.line_view.loaded, "transcript read")
        a.request("send.file", peer="bravo", path=str(path), precedence="routine", wait=False)
        await until(pilot, lambda: "survey.bin" in text_of(app, "#transcript-body"), "document shown")
        await until(pilot, lambda: "verified at the far end" in text_of(app, "#transcript-body"), "verified")
        assert "3.1 MB" in text_of(app, "#transcript-body")

    await with_console(a, body, (100, 30), poll_every=NO_POLL)


@pytest.mark.asyncio
async def test_an_incoming_call_opens_the_call_dialog_which_answers_with_the_sas(
    stations: tuple[StationProc, StationProc], tmp_path: Path
) -> None:
    a, b = stations

    async def body(app: HotlineConsole, pilot: Pilot[Any]) -> None:
        caller = CliProcess(b, "call", "alpha", "--play", str(speech_sample()), "--seconds", "30")
        try:
            await until(pilot, lambda: isinstance(app.screen, CallScreen), "call dialog")
            dialog = app.screen
            assert isinstance(dialog, CallScreen)
            assert dialog.peer == "bravo" and dialog.state == "ringing"
            # the dialog fills its widgets once mounted, a moment after it is pushed
            await until(pilot, lambda: "RINGING" in drawn(app, "#call-state"), "ringing shown")
            assert "Answer (r)" in str(dialog.query_one("#call-ring", Button).label)
            dialog.query_one("#call-play", Input).value = str(speech_sample())
            dialog.query_one("#call-record", Input).value = str(tmp_path / "heard.wav")
            await pilot.press("r")
            await until(pilot, lambda: dialog.state == "active" and bool(dialog.sas), "answered")
            answered = caller.next_event("answered")
            assert dialog.sas == answered["sas"] and len(dialog.sas) == 4
            assert " ".join(w.upper() for w in dialog.sas) in " ".join(
                text_of(app, "#call-sas", top=True).split()
            )
            await pilot.press("h")
            await until(pilot, lambda: dialog.state == "ended", "hung up")
            assert caller.result()["end_reason"] == "remote-hangup"
        finally:
            caller.kill()

    await with_console(a, body, (100, 30))


@pytest.mark.asyncio
async def test_a_station_error_is_one_line_that_says_what_to_do(
    stations: tuple[StationProc, StationProc], tmp_path: Path
) -> None:
    a, b = stations

    async def body(app: HotlineConsole, pilot: Pilot[Any]) -> None:
        b.kill()
        await until(pilot, lambda: app.view.lamp("bravo") is Lamp.DOWN, "lamp down", timeout=20)
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, CallScreen), "call dialog")
        app.screen.query_one("#call-play", Input).value = str(speech_sample())
        app.screen.query_one("#call-record", Input).value = str(tmp_path / "never.wav")
        await pilot.press("r")
        await until(pilot, lambda: text_of(app, "#call-error", top=True).strip(), "refused")
        shown = text_of(app, "#call-error", top=True)
        assert "\n" not in shown.strip()
        assert shown == f"the line to bravo is down: a call needs the line up; {NEXT_STEP['line-down']}"

    await with_console(a, body, (160, 30))
