"""Line tests: an entry through both stores whose reply compares the chain heads (docs/protocol.md §10.4).

A test is a FLASH ``TEST`` entry carrying how far our inbound transcript goes; the peer stores it,
compares that with its outbound transcript, and queues a ``TEST_REPLY`` carrying the same about its
inbound one, which we compare in turn when it is stored. So a passing test proves both stores hold the
same transcript both ways, through the same path every message takes. A test that fails or gets no
answer raises an alert; one that passes clears such alerts. The line runs one on schedule while it is
verified, keyed and the daemon serves.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Protocol

from hotline.proto import linemsg
from hotline.proto.linemsg import Kind, Precedence, TestProbe
from hotline.station.alertkinds import AlertKind
from hotline.station.ids import new_message_id
from hotline.station.ports import LineContext, LineDelivery
from hotline.store.errors import StoreError
from hotline.store.rows import LineRow

#: The alerts a passing test answers.
TEST_ALERTS = (AlertKind.TEST_MISSED, AlertKind.TEST_FAILED)


@dataclass
class TestResult:
    """The outcome of one line test."""

    at: float
    ok: bool
    detail: str
    rtt_ms: float | None = None

    def as_dict(self) -> dict[str, object]:
        return {"at": self.at, "ok": self.ok, "detail": self.detail, "rtt_ms": self.rtt_ms}


class PendingTests:
    """The line tests of one line waiting for their reply, by test id."""

    __slots__ = ("_waiting",)

    def __init__(self) -> None:
        self._waiting: dict[bytes, tuple[float, asyncio.Future[TestResult]]] = {}

    def expect(self, test_id: bytes) -> asyncio.Future[TestResult]:
        """A future set when the reply to the line test ``test_id`` is stored."""
        future: asyncio.Future[TestResult] = asyncio.get_running_loop().create_future()
        self._waiting[test_id] = (time.monotonic(), future)
        return future

    def forget(self, test_id: bytes) -> None:
        """Stop waiting for the reply to ``test_id``."""
        self._waiting.pop(test_id, None)

    def answered(self, test_id: bytes, problem: object | None) -> None:
        """The reply to ``test_id`` is stored; ``problem`` is what its comparison found, if anything.
        A reply to a test nobody waits for (timed out, or not ours) changes nothing."""
        pending = self._waiting.pop(test_id, None)
        if pending is None:
            return
        started, future = pending
        ok = problem is None
        detail = "chain heads match in both stores" if ok else str(problem)
        if not future.done():
            future.set_result(TestResult(time.time(), ok, detail, (time.monotonic() - started) * 1000))


class LineUnderTest(Protocol):
    """What a line test needs of its line."""

    @property
    def station(self) -> LineContext[Any]: ...
    @property
    def peer(self) -> str: ...
    @property
    def row(self) -> LineRow: ...
    @property
    def ready(self) -> bool: ...
    #: How far our transcripts stand, and where a queued test is sent from.
    @property
    def delivery(self) -> LineDelivery: ...

    last_test: TestResult | None
    alerts: list[dict[str, object]]

    #: The tests waiting for their reply.
    tests: PendingTests

    def alert(
        self, kind: AlertKind, detail: str, *, active: bool = True, logged: str | None = None
    ) -> None: ...


async def run_test(line: LineUnderTest, timeout: float) -> TestResult:
    """Send a line test through both stores and compare chain heads; raise an alert if it fails."""
    station = line.station
    test_id = new_message_id()
    future = line.tests.expect(test_id)
    probe = linemsg.encode(TestProbe(*line.delivery.machine.committed_in))
    now = time.time()
    line_id = line.row.id
    try:
        await station.worker.call(
            lambda store: store.messages.queue(
                line_id,
                id=test_id,
                kind=Kind.TEST,
                precedence=Precedence.FLASH,
                created_ms=int(now * 1000),
                ref=b"",
                body=probe,
                now=now,
            )
        )
    except StoreError as exc:
        line.tests.forget(test_id)
        result = TestResult(time.time(), False, f"could not queue the test: {exc.reason}")
    else:
        line.delivery.wake()
        try:
            async with asyncio.timeout(timeout):
                result = await future
        except TimeoutError:
            line.tests.forget(test_id)
            result = TestResult(time.time(), False, f"no answer from {line.peer} within {timeout:g} s")
    line.last_test = result
    station.events.record(line_id, "test", result.as_dict())
    if not result.ok:
        kind = AlertKind.TEST_MISSED if "no answer" in result.detail else AlertKind.TEST_FAILED
        line.alert(kind, result.detail)
    else:
        line.alerts = [a for a in line.alerts if a["kind"] not in TEST_ALERTS]
    return result


async def test_schedule(line: LineUnderTest) -> None:
    """Test the line every ``line_test_interval`` while it may carry traffic and the daemon serves."""
    config = line.station.config
    while True:
        await asyncio.sleep(config.line_test_interval)
        if line.ready and line.station.running:
            await run_test(line, config.line_test_timeout)


__all__ = ["TEST_ALERTS", "LineUnderTest", "TestResult", "run_test", "test_schedule"]
