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

    def expect_test_reply(self, test_id: bytes) -> asyncio.Future[TestResult]: ...
    def forget_test(self, test_id: bytes) -> None: ...
    def alert(
        self, kind: AlertKind, detail: str, *, active: bool = True, logged: str | None = None
    ) -> None: ...


async def run_test(line: LineUnderTest, timeout: float) -> TestResult:
    """Send a line test through both stores and compare chain heads; raise an alert if it fails."""
    station = line.station
    test_id = new_message_id()
    future = line.expect_test_reply(test_id)
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
        line.forget_test(test_id)
        result = TestResult(time.time(), False, f"could not queue the test: {exc.reason}")
    else:
        line.delivery.wake()
        try:
            async with asyncio.timeout(timeout):
                result = await future
        except TimeoutError:
            line.forget_test(test_id)
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
