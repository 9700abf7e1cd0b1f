"""Watching one station: the console's connection to the daemon and its reactions to what happens.

Theory of operation. One worker, :meth:`StationWatch._supervise`, owns the connection to the daemon:
it connects twice (one connection for requests, one for the ``inbox`` follow stream, which holds its
connection forever, docs/control.md) and runs two loops under a TaskGroup:

* the status loop asks for ``status`` every second (and at once when poked, e.g. after a follow
  event): lamps, round-trip times, queues and the station's per-line unread counts, which no event
  carries. When the operator selects a line (or we reconnect) it reads that line's ``log`` and
  ``files`` once, for its transcript (:class:`~hotline.console.lineview.LineTranscript`);
* the follow loop takes the station's pushed events (docs/control.md, "Follower events") and keeps
  everything else current without a poll: a message that arrives, our messages' receipts and
  acknowledgements, a document's progress, alerts. A FLASH takes the screen and rings the bell, an
  IMMEDIATE and an alert are announced, and a ringing call opens the call dialog by itself.

When either connection breaks, both are closed, the console says it lost the station, and the worker
reconnects every half second; nothing in the daemon waits for us (it answers requests; its follow
queues are dropped with the connection), so a console never blocks a daemon and several may watch one.

:class:`StationWatch` is the console app without its screen: :class:`hotline.console.app.HotlineConsole`
lays the screen out and draws what this class keeps (the drawing hooks at the end).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from textual.app import App

from hotline.client import ControlClient, ControlError
from hotline.console.call import CallScreen
from hotline.console.errors import one_line
from hotline.console.lineview import LineTranscript
from hotline.console.model import StationView, clock

__all__ = ["RECONNECT_EVERY", "TRANSCRIPT_LIMIT", "StationWatch"]

#: Seconds between reconnection attempts while the daemon is away.
RECONNECT_EVERY = 0.5
#: How many log entries the transcript asks for.
TRANSCRIPT_LIMIT = 300
#: Errors that mean the connection itself is gone (anything else is one request's failure).
_CONNECTION_CODES = frozenset({"connection-lost", "not-running", "bad-response"})


class StationWatch(App[None]):
    """The connection to the station whose control socket is ``socket``, and what it told us.

    Attributes useful to tests: :attr:`view` (the model), :attr:`connection` (``connecting``,
    ``connected``, ``lost``, ``reconnected``), :attr:`selected` (the line on screen),
    :attr:`line_view` (its transcript).
    """

    def __init__(self, socket: Path, *, poll_every: float = 1.0) -> None:
        """Watch the daemon listening on ``socket``; ``status`` every ``poll_every`` seconds."""
        super().__init__()
        self.socket = socket
        self.poll_every = poll_every
        #: What the station told us, and what we derived.
        self.view = StationView()
        #: The state of our connection to the daemon.
        self.connection = "connecting"
        #: The line whose transcript is on screen.
        self.selected: str | None = None
        #: The selected line's transcript (None until it is read).
        self.line_view: LineTranscript | None = None
        self._client: ControlClient | None = None
        self._poke = asyncio.Event()
        self._lost_at: float | None = None
        #: The incoming calls whose dialog we opened (by call id): each opens once.
        self._rung: set[str] = set()

    # -- the connection

    async def _supervise(self) -> None:
        while True:
            try:
                client = await ControlClient.connect(self.socket)
            except (ControlError, OSError) as exc:
                self._lost(exc)
                await asyncio.sleep(RECONNECT_EVERY)
                continue
            try:
                follower = await ControlClient.connect(self.socket)
            except (ControlError, OSError) as exc:
                await client.close()
                self._lost(exc)
                await asyncio.sleep(RECONNECT_EVERY)
                continue
            self._client = client
            self._connected()
            reason: BaseException | None = None
            try:
                async with asyncio.TaskGroup() as group:
                    group.create_task(self._status_loop(client))
                    group.create_task(self._follow_loop(follower))
            except* (ControlError, OSError) as failed:
                reason = failed.exceptions[0]
            finally:
                self._client = None
                await client.close()
                await follower.close()
            self._lost(reason)
            await asyncio.sleep(RECONNECT_EVERY)

    def _connected(self) -> None:
        self.connection = "reconnected" if self._lost_at is not None else "connected"
        self.line_view = None  # read the transcript again: events may have passed while we were away
        if self._lost_at is not None:
            self._say(f"reconnected to the station at {clock(time.time())}", "green")
            self.notify("Reconnected to the station.", title="station")
        self._lost_at = None
        self._draw_topbar()
        self._draw_alarms()

    def _lost(self, reason: BaseException | None) -> None:
        first = self.connection != "lost"
        if self.connection in ("connected", "reconnected"):
            self._lost_at = time.time()
            self.connection = "lost"
            self.notify("Lost the station; reconnecting.", title="station", severity="error")
            self.bell()
        elif self.connection == "connecting" and self._lost_at is None:
            self._lost_at = time.time()
            self.connection = "lost"
        if first:
            if reason is None:
                self._say(
                    "lost the station: the connection closed; the console reconnects by itself", "bold red"
                )
            else:
                self._say(one_line("lost the station", reason), "bold red")
            self._draw_topbar()
            self._draw_alarms()

    async def _status_loop(self, client: ControlClient) -> None:
        while True:
            self._poke.clear()
            self.view.apply_status(await client.request("status"))
            for line in self.view.lines.values():
                call = line.get("call")
                if isinstance(call, dict) and call.get("id") not in self._rung:
                    self._on_call(call)  # it rang before we followed (we started, or came back)
            peer = self.selected
            stale = self.line_view is None or self.line_view.peer != peer
            if peer is not None and peer in self.view.lines and stale:
                await self._load_transcript(client, peer)
            self._draw()
            try:
                async with asyncio.timeout(self.poll_every):
                    await self._poke.wait()
            except TimeoutError:
                pass

    async def _load_transcript(self, client: ControlClient, peer: str) -> None:
        line_view = LineTranscript(peer)
        line_view.begin_load()  # events from now on are kept for it
        self.line_view = line_view
        try:
            log = await client.request("log", peer=peer, limit=TRANSCRIPT_LIMIT)
            files = await client.request("files", peer=peer)
        except ControlError as exc:
            if exc.code in _CONNECTION_CODES:
                raise
            self._say(one_line(f"the transcript of {peer}", exc), "yellow")
            self.line_view = None  # tried again with the next status
            return
        if self.line_view is line_view:
            line_view.load(log.get("entries") or [], files.get("documents") or [])
            self._draw_transcript()

    async def _follow_loop(self, client: ControlClient) -> None:
        # ``unacked`` limits the replay at the start to what still needs an operator: our unread list
        # starts again from it (acknowledgements while we were away are in no event)
        self.view.apply_unacked([])
        async for event in client.stream("inbox", follow=True, unacked=True):
            self._on_event(event)
        raise ControlError("connection-lost", "the station ended the follow stream")

    def _on_event(self, event: dict[str, Any]) -> None:
        message = event.get("message")
        alert = event.get("alert")
        call = event.get("call")
        acked = event.get("acked")
        if self.line_view is not None and self.line_view.apply(event):
            self._draw_transcript()
        if isinstance(acked, dict):
            if acked.get("direction") == "in":
                self.view.acked(str(acked.get("id")))
                self._sync_flash()
        elif isinstance(message, dict):
            if self.view.apply_message(message):
                precedence = message.get("precedence")
                if precedence == "immediate":
                    self.notify(
                        f"IMMEDIATE from {message.get('peer')}",
                        title="message",
                        severity="warning",
                        timeout=10,
                    )
                    self._say(f"IMMEDIATE message from {message.get('peer')}", "bold red")
                    self.bell()
            self._sync_flash()
        elif isinstance(alert, dict):
            kind = str(alert.get("kind"))
            if kind != "line-up":
                self.notify(
                    f"{kind} on {alert.get('peer')}: {alert.get('detail')}", severity="error", timeout=10
                )
        elif isinstance(call, dict):
            self._on_call(call)
        if not ("delivered" in event or "document" in event):
            self._poke.set()  # unread counts, lamps and calls: the next status has them

    def _on_call(self, call: dict[str, Any]) -> None:
        """A call rang here (open the call dialog, answering it) or ended (tell a dialog still ringing)."""
        peer = str(call.get("peer"))
        showing = next((s for s in self.screen_stack if isinstance(s, CallScreen)), None)
        if call.get("state") == "ended":
            if showing is not None and showing.peer == peer:
                showing.far_end(call)
            return
        if call.get("direction") != "in" or call.get("state") != "ringing" or call.get("id") in self._rung:
            return
        self._rung.add(str(call.get("id")))
        self._say(f"☎ {peer} is calling: r answers, h declines", "bold cyan")
        self.bell()
        if showing is None:
            self.push_screen(CallScreen(self.socket, peer, ringing=True))
        else:  # a dialog is open already (another line's call): it stays, the ring is announced
            self.notify(f"call from {peer}: close this dialog, select the line, press c", title="☎ ringing")

    async def request(self, op: str, **args: Any) -> dict[str, Any]:
        """Run one request on the console's connection.

        Raises:
            ControlError: the station refused, or there is no connection (``not-running``).
        """
        client = self._client
        if client is None:
            raise ControlError("not-running", "not connected to the station (reconnecting)")
        return await client.request(op, **args)

    # -- drawing: the screen's (hotline.console.app)

    def _draw(self) -> None:
        raise NotImplementedError

    def _draw_transcript(self) -> None:
        raise NotImplementedError

    def _draw_topbar(self) -> None:
        raise NotImplementedError

    def _draw_alarms(self) -> None:
        raise NotImplementedError

    def _say(self, text: str, style: str = "") -> None:
        raise NotImplementedError

    def _sync_flash(self) -> None:
        raise NotImplementedError
