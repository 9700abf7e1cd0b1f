"""A line hands what it does not handle itself to the routes its context names, and knows nothing else.

The line is wired to a recorder context instead of the station: no call or document desk exists, which
is the point (``hotline.station.lines`` imports neither; the import contracts say so too).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import pytest

from hotline.net.tcp import ChannelClosed
from hotline.proto import linemsg
from hotline.proto.errors import ErrorCode
from hotline.proto.linemsg import CallSignal, DocProgress, HoldReason, LineMessage, Withhold
from hotline.station.events import EventBus
from hotline.station.lines.line import Line
from hotline.station.ports import LinkSession, Route
from hotline.store.rows import LineRow


class _Channel:
    """Delivers ``messages`` encoded, then says it is closed."""

    def __init__(self, messages: list[LineMessage]) -> None:
        self._data = [linemsg.encode(m) for m in messages]
        self.is_closed = False

        self.closed: list[tuple[ErrorCode, str]] = []

    async def receive(self) -> bytes:
        if not self._data:
            raise ChannelClosed(ErrorCode.NO_ERROR, "done")
        return self._data.pop(0)

    def close_nowait(self, code: ErrorCode, reason: str) -> None:
        self.closed.append((code, reason))


class _Context:
    """Just what a line's reader asks of its context; every route records what it was handed."""

    def __init__(self, answer: bool = True) -> None:
        self.handled: list[tuple[str, LineMessage]] = []
        self.answer = answer
        self.events = EventBus(worker=None, spawn=self._drop)  # type: ignore[arg-type]
        self.routes = {
            DocProgress: Route(self._handler("document"), "document data"),
            Withhold: Route(self._handler("withhold"), None),
        }
        self.default_route = Route(self._handler("call"), "a call message")

    @staticmethod
    def _drop(coro: Coroutine[Any, Any, None]) -> None:
        coro.close()  # what would be recorded does not matter here

    def _handler(self, name: str) -> Any:
        async def handle(line: Line, session: LinkSession, message: LineMessage) -> bool:
            self.handled.append((name, message))
            return self.answer

        return handle


ROW = LineRow(1, "bravo", b"", b"", b"s" * 32, (), True, 0, b"", 0.0, b"o" * 32, b"i" * 32)
CALL = CallSignal(b"c" * 16, 1)
DOC = DocProgress(b"d" * 16, 0, 0)
HOLD = Withhold(0, HoldReason.RESUME, 0)


def _read(context: _Context, messages: list[LineMessage], *, hello: bool) -> Line:
    async def scenario() -> Line:
        line = Line(context, ROW, (0, ROW.chain_in0), (0, ROW.chain_out0))  # type: ignore[arg-type]
        channel = _Channel(messages)
        session = LinkSession(channel, True, "x:1", 0.0, 0.0)  # type: ignore[arg-type]
        if hello:
            session.hello.set()
        line.current = session
        await line._reader(session)
        line.closed = channel.closed  # type: ignore[attr-defined]
        return line

    return asyncio.run(scenario())


def test_messages_go_to_their_routes_in_order() -> None:
    context = _Context()
    _read(context, [CALL, DOC, HOLD, CALL], hello=True)
    assert context.handled == [("call", CALL), ("document", DOC), ("withhold", HOLD), ("call", CALL)]


@pytest.mark.parametrize(("message", "called"), [(DOC, "document data"), (CALL, "a call message")])
def test_before_the_hello_a_routed_message_ends_the_session(message: LineMessage, called: str) -> None:
    context = _Context()
    line = _read(context, [HOLD, message, CALL], hello=False)
    # a withhold may come before the hello; the other message is refused and nothing after it is read
    assert context.handled == [("withhold", HOLD)]
    assert [(a["kind"], a["detail"]) for a in line.alerts] == [
        ("protocol", f"bravo sent {called} before its hello")
    ]
    assert line.closed == [  # type: ignore[attr-defined]
        (ErrorCode.PROTOCOL_VIOLATION, f"{type(message).__name__} before Hello (§10)")
    ]


def test_a_handler_that_refuses_ends_the_session() -> None:
    context = _Context(answer=False)
    line = _read(context, [CALL, DOC], hello=True)
    assert context.handled == [("call", CALL)]
    assert line.closed == [(ErrorCode.PROTOCOL_VIOLATION, "CallSignal not allowed here")]  # type: ignore[attr-defined]
