"""The code a peer hears when it breaks a line rule (docs/protocol.md §6, its table): every line
message a station cannot take ends the session with ``PROTOCOL_VIOLATION`` and a reason, never with
the ``LOCAL_CLOSE`` of a close of its own.

A real :class:`~hotline.station.lines.line.Line` with its real delivery machine reads from a fake
channel that records how it was closed; no store is touched (each violation is found before one is).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import pytest

from hotline.net.tcp import ChannelClosed
from hotline.proto import linemsg
from hotline.proto.errors import ErrorCode
from hotline.proto.linemsg import DocProgress, Entry, Hello, HoldReason, Kind, Receipt, Withhold
from hotline.station.events import EventBus
from hotline.station.lines.line import Line
from hotline.station.ports import LinkSession, Route
from hotline.store.rows import LineRow

ROW = LineRow(1, "bravo", b"", b"", b"s" * 32, (), True, 0, b"", 0.0, b"o" * 32, b"i" * 32)
GOOD_HELLO = Hello(0, ROW.chain_out0, 0)


class _Channel:
    """Delivers ``payloads``, then ends; records what the line sends and how it closes the session."""

    carrier = None

    def __init__(self, payloads: list[bytes]) -> None:
        self._data = list(payloads)
        self.sent: list[bytes] = []
        self.closed: list[tuple[ErrorCode, str]] = []

    @property
    def is_closed(self) -> bool:
        return bool(self.closed)

    async def receive(self) -> bytes:
        if self.closed or not self._data:
            raise ChannelClosed(ErrorCode.NO_ERROR, "done")
        return self._data.pop(0)

    def carrier_status(self) -> None:
        return None

    def send_nowait(self, data: bytes, lane: object = None) -> None:
        self.sent.append(data)

    def flush(self) -> None:
        pass

    def close_nowait(self, code: ErrorCode = ErrorCode.LOCAL_CLOSE, reason: str = "closed") -> None:
        if not self.closed:
            self.closed.append((code, reason))


class _Quotas:
    """Takes every entry; drops no leftover; refuses every ``Withhold`` as the real desk refuses a
    bad one (alert, then the session ends with its reason)."""

    def admit(self, line: Line, entry: Entry) -> bool:
        return True

    def leftover(self, line: Line, entry: Entry) -> bool:
        return False

    def holding(self, line: Line, session: LinkSession) -> bool:
        return False


class _Context:
    """What a line asks of its station here."""

    has_followers = False

    def __init__(self) -> None:
        self.events = EventBus(worker=None, spawn=self._drop)  # type: ignore[arg-type]
        self.quotas = _Quotas()
        self.routes = {
            DocProgress: Route(self._accept, "document data"),
            Withhold: Route(self._refuse, None),
        }
        self.default_route = Route(self._accept, "a call message")

    @staticmethod
    def _drop(coro: Coroutine[Any, Any, None]) -> None:
        coro.close()

    @staticmethod
    async def _accept(line: Line, session: LinkSession, message: linemsg.LineMessage) -> bool:
        return True

    @staticmethod
    async def _refuse(line: Line, session: LinkSession, message: linemsg.LineMessage) -> bool:
        line.alert("protocol", "a withhold that does not fit")
        line.violated(session, "Withhold after entry 9 does not fit what we sent (§10.3)")
        return False


def _run(payloads: list[bytes]) -> tuple[_Channel, Line]:
    async def scenario() -> tuple[_Channel, Line]:
        line = Line(_Context(), ROW, (0, ROW.chain_in0), (0, ROW.chain_out0))  # type: ignore[arg-type]
        channel = _Channel(payloads)
        session = LinkSession(channel, True, "x:1", 0.0, 0.0)  # type: ignore[arg-type]
        line.current = session
        line.delivery.follow_session()  # our Hello goes out
        await line._reader(session)
        return channel, line

    return asyncio.run(scenario())


def _entry(seq: int, chain: bytes = b"c" * 32) -> bytes:
    return linemsg.encode(Entry(seq, bytes(10), Kind.TEXT, 3, 1, b"", b"hi", chain))


GOOD = linemsg.encode(GOOD_HELLO)

VIOLATIONS = {
    # §10: a Data body that is no line message, or one strictly decoded that breaks a field's range
    "malformed": ([b"\x92\x63\x00"], "protocol", "malformed line message"),
    "out of range": ([linemsg.encode(Receipt(-1, bytes(32)))], "protocol", "malformed line message"),
    # §10: document data before the peer's Hello
    "before hello": ([linemsg.encode(DocProgress(bytes(16), 0, 0))], "protocol", "before Hello"),
    # §10.2 rule 3: a Hello that claims more than we sent (our store rolled back), or another head
    "rolled back": ([linemsg.encode(Hello(5, bytes(32), 0))], "chain-mismatch", "Hello names entry 5"),
    "hello head": ([linemsg.encode(Hello(0, bytes(32), 0))], "chain-mismatch", "Hello's head"),
    # §10.1: a gap, an entry that does not extend the chain (tampering)
    "gap": ([GOOD, _entry(3)], "gap", "entry 3 where 1 was due"),
    "tampered": ([GOOD, _entry(1)], "chain-mismatch", "does not extend the chain"),
    # §10.2 rule 2: a receipt for what we never sent
    "receipt": ([GOOD, linemsg.encode(Receipt(1, bytes(32)))], "chain-mismatch", "Receipt for entry 1"),
    # §10.3: a Withhold that does not fit
    "withhold": ([GOOD, linemsg.encode(Withhold(9, HoldReason.RATE, 5))], "protocol", "Withhold after"),
}


@pytest.mark.parametrize("case", list(VIOLATIONS))
def test_a_line_rule_broken_ends_the_session_with_protocol_violation(case: str) -> None:
    payloads, alert, reason = VIOLATIONS[case]
    channel, line = _run(payloads)
    assert len(channel.closed) == 1, channel.closed
    code, said = channel.closed[0]
    assert code is ErrorCode.PROTOCOL_VIOLATION and reason in said, said
    assert "bravo" not in said  # the reason speaks of the message, not of our name for the peer
    assert alert in [a["kind"] for a in line.alerts]


def test_an_honest_peer_hears_no_violation() -> None:
    channel, line = _run([GOOD, linemsg.encode(DocProgress(bytes(16), 0, 0))])
    assert channel.closed == [] and line.alerts == []
    assert linemsg.decode(channel.sent[0]) == Hello(0, ROW.chain_in0, 0)
