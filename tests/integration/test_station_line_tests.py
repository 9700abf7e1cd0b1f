"""Scheduled line tests: they cross both stores on their own, and a missed one raises an alert that
``status``, the log and an ``inbox --follow`` stream all show."""

from __future__ import annotations

import json
import signal
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.stations import Cluster, pair


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    with Cluster() as c:
        yield c


def _follow(path: str, events: list[dict[str, Any]], stop: threading.Event) -> None:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(0.5)
        sock.connect(path)
        sock.sendall(json.dumps({"op": "inbox", "args": {"follow": True}}).encode() + b"\n")
        buffer = b""
        while not stop.is_set():
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                return
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                events.append(json.loads(line))


def test_scheduled_tests_pass_and_a_missed_one_raises_an_alert_everywhere(cluster: Cluster) -> None:
    # heartbeats slower than the tests, so the missed test is what speaks first
    a = cluster.add("alpha", heartbeat=30.0, line_test_interval=0.5, line_test_timeout=1.0)
    b = cluster.add("bravo", heartbeat=30.0)
    pair(a, b)
    cluster.start_all(a, b)
    a.wait_line(b)

    def tests_logged() -> list[dict[str, Any]]:
        return [e for e in a.log(b) if e["kind"] == "test"]

    a.wait_until(lambda _: len(tests_logged()) >= 2, 10, "two scheduled tests")
    assert all(t["ok"] for t in tests_logged()), tests_logged()
    assert a.line(b)["last_test"]["ok"] is True
    # the tests crossed bravo's store too: its transcript holds them, answered
    assert [e for e in b.log(a) if e["kind"] == "message" and e["message"]["kind"] == "test"]

    events: list[dict[str, Any]] = []
    stop = threading.Event()
    follower = threading.Thread(target=_follow, args=(str(a.control), events, stop), daemon=True)
    follower.start()
    try:
        time.sleep(0.3)
        b.signal(signal.SIGSTOP)
        status = a.wait_until(
            lambda s: any(al["kind"] == "test-missed" for al in s["lines"][0]["alerts"]),
            10,
            "a test-missed alert",
        )
        assert status["lines"][0]["last_test"]["ok"] is False
        assert any(e["kind"] == "alert" and e["event"] == "test-missed" for e in a.log(b))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not any(
            e.get("event", {}).get("alert", {}).get("kind") == "test-missed" for e in events
        ):
            time.sleep(0.05)
        alerts = [e["event"]["alert"] for e in events if "alert" in e.get("event", {})]
        assert any(al["kind"] == "test-missed" and al["peer"] == "bravo" for al in alerts), events
    finally:
        b.signal(signal.SIGCONT)
        stop.set()
        follower.join(timeout=5)

    # once bravo answers again, a passing test clears the alert
    a.wait_until(
        lambda s: (
            s["lines"][0]["last_test"]["ok"]
            and not any(al["kind"] == "test-missed" for al in s["lines"][0]["alerts"])
        ),
        15,
        "a passing test after the freeze",
    )


def test_a_line_test_on_a_line_that_is_down_reports_it_unanswered(cluster: Cluster) -> None:
    a, b = cluster.add("alpha"), cluster.add("bravo")
    pair(a, b)
    cluster.start_all(a)  # bravo never comes up: alpha's line is verified and keyed, but down
    result = a.request("test", peer="bravo", timeout=1.0)
    assert result["ok"] is False, result
