"""Messages between real station daemons over loopback: delivery, precedence, receipts, at rest, full disk.

Each test runs ``hotline up`` processes (tests/support/stations.py) and checks what an operator would
see through the control socket: ``status``, ``inbox``, ``log``, ``wait`` and ``test``.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.support.stations import Cluster, RequestFailed, StationProc, pair, two_up, wait_for

T = TypeVar("T")

PRECEDENCES = ("flash", "immediate", "priority", "routine")


def test_round_trip_every_precedence_with_receipts_acks_and_line_test(cluster: Cluster) -> None:
    """Both lines up; each precedence arrives both ways; an ack travels back; the line test passes."""
    a, b = two_up(cluster)
    for station, peer in ((a, b), (b, a)):
        line = station.line(peer)
        assert line["state"] == "up" and line["verified"] and line["has_key"]
        assert line["endpoint"] is not None and line["session_age"] is not None

    sent: dict[str, dict[str, object]] = {}
    for sender, receiver in ((a, b), (b, a)):
        for precedence in PRECEDENCES:
            text = f"{sender.name} to {receiver.name}: {precedence} ✓"
            message = sender.send(receiver, text, precedence)
            assert message["state"] in ("queued", "sent", "delivered")
            assert message["precedence"] == precedence and message["direction"] == "out"
            done = sender.request("wait", id=message["id"], timeout=10)
            assert done["id"] == message["id"]
            assert done["state"] == "delivered", done
            assert done["delivered_at"] is not None and done["seq"] is not None
            sent[message["id"]] = {"text": text, "precedence": precedence, "from": sender.name}

    for receiver, sender in ((b, a), (a, b)):
        inbox = receiver.inbox(sender)
        got = {m["id"]: m for m in inbox}
        expected = {i: s for i, s in sent.items() if s["from"] == sender.name}
        assert set(got) == set(expected)
        for message_id, what in expected.items():
            message = got[message_id]
            assert message["text"] == what["text"]
            assert message["precedence"] == what["precedence"]
            assert message["direction"] == "in" and message["peer"] == sender.name
            assert message["state"] == "received"

    # bravo acknowledges alpha's flash; alpha sees its message acknowledged
    flash = next(m for m in b.inbox(a) if m["precedence"] == "flash")
    acked = b.request("ack", id=flash["id"])
    assert acked["state"] == "acked" and acked["acked_at"] is not None

    def alpha_sees_ack() -> dict[str, object] | None:
        mine = next(m for m in a.sent(b) if m["id"] == flash["id"])
        return mine if mine["state"] == "acked" else None

    mine = wait_for(alpha_sees_ack, 10, "alpha's flash acknowledged")
    assert mine["acked_at"] is not None
    assert any(e["kind"] == "ack" and e["id"] == flash["id"] for e in a.log(b))
    assert [m["id"] for m in b.request("inbox", peer="alpha", unacked=True)["messages"]] == [
        m["id"] for m in b.inbox(a) if m["id"] != flash["id"]
    ]

    for station, peer in ((a, b), (b, a)):
        result = station.request("test", peer=peer.name, timeout=10)
        assert result["ok"] is True, result
        assert "chain heads match" in result["detail"]
        assert result["rtt_ms"] is not None and result["rtt_ms"] >= 0
        assert station.line(peer)["last_test"]["ok"] is True


def test_flash_overtakes_what_waits(cluster: Cluster) -> None:
    """With the line down, 20 routine messages then one flash queue; the flash arrives first."""
    a, b = two_up(cluster)
    assert b.stop() == 0
    a.wait_until(lambda s: s["lines"][0]["state"] != "up", 10, "alpha sees the line go down")

    routine = [a.send(b, f"routine #{i:02d}")["id"] for i in range(20)]
    flash = a.send(b, "FLASH: overtake everything", "flash")["id"]
    line = a.line(b)
    assert line["queued"] == 21 and line["in_flight"] == 0, line

    b.start()
    a.request("wait", id=routine[-1], timeout=15)
    inbox = b.inbox(a)
    assert [m["id"] for m in inbox] == [flash, *routine]
    assert inbox[0]["precedence"] == "flash" and inbox[0]["text"] == "FLASH: overtake everything"
    assert [m["text"] for m in inbox[1:]] == [f"routine #{i:02d}" for i in range(20)]
    # the flash also got the first sequence number: the order is the transcript's, not the inbox's
    assert [m["seq"] for m in inbox] == sorted(m["seq"] for m in inbox)


def _files(home: Path) -> list[Path]:
    return sorted(p for p in home.rglob("*") if p.is_file())


def test_nothing_readable_at_rest(cluster: Cluster) -> None:
    """After a marked text went both ways, no file in either station directory holds it in the clear.

    The receiver is SIGKILLed so its SQLite write-ahead log (``store.sqlite-wal``) is left behind and
    searched too; the sender stops normally. The daemons' stderr (``daemon.log``, which the harness
    keeps in the station directory) is searched as well: logs must not carry message texts either.
    """
    a, b = two_up(cluster)
    marker = "MARKER-" + secrets.token_hex(12)
    ids = []
    for i, precedence in enumerate(PRECEDENCES):
        ids.append(a.send(b, f"{marker} out {i}", precedence)["id"])
        back = b.send(a, f"{marker} back {i}", precedence)["id"]
        b.request("wait", id=back, timeout=10)
    for message_id in ids:
        a.request("wait", id=message_id, timeout=10)
    received = b.inbox(a)
    assert sum(marker in m["text"] for m in received) == len(PRECEDENCES)  # it is there, readable
    b.request("ack", id=received[0]["id"])
    a.request("test", peer="bravo", timeout=10)

    b.kill()
    assert a.stop() == 0
    assert (b.home / "store.sqlite-wal").exists(), "expected the killed daemon's WAL to be left behind"

    needle = marker.encode()
    for station in (a, b):
        files = _files(station.home)
        assert any(p.name == "store.sqlite" for p in files)
        for path in files:
            data = path.read_bytes()
            assert needle not in data, f"{path} holds a message text in the clear"
            assert marker[:16].encode("utf-16-le") not in data, f"{path} holds a message text (UTF-16)"


def _fill(
    sender: StationProc, receiver: StationProc, size: int, limit: int
) -> tuple[list[dict[str, Any]], RequestFailed]:
    """Send ``size``-byte texts until the sender refuses one; returns what it accepted and the refusal."""
    accepted: list[dict[str, Any]] = []
    for i in range(limit):
        text = f"fill #{i:05d} " + secrets.token_hex(size // 2)
        try:
            accepted.append(sender.send(receiver, text))
        except RequestFailed as exc:
            return accepted, exc
    raise AssertionError(f"the sender took {limit} messages without filling its store")


def test_full_store_refuses_sends_and_loses_nothing(cluster: Cluster) -> None:
    """A sender whose store is capped answers ``store-full``; everything it accepted survives a restart
    and is delivered once the receiver is back."""
    a = cluster.add("alpha", store_max_pages=120)
    b = cluster.add("bravo")
    pair(a, b)
    cluster.start_all(a, b)
    a.wait_line(b)
    b.stop()  # everything stays queued at the sender, which is where the store fills

    accepted, refusal = _fill(a, b, 1000, 5000)
    # the exact code is checked last, so a wrong code does not hide whether anything was lost
    assert refusal.code in ("store-full", "store-error"), refusal
    assert 100 <= len(accepted) <= 2000, f"{len(accepted)} accepted: choose another store_max_pages"
    # still refusing, still answering other requests
    with pytest.raises(RequestFailed) as again:
        a.send(b, "one more " + secrets.token_hex(500))
    assert a.line(b)["queued"] == len(accepted)

    assert a.stop() == 0
    a.start()
    texts = [m["text"] for m in accepted]
    assert [m["text"] for m in a.sent(b)] == texts

    b.start()
    a.wait_line(b)
    wait_for(lambda: len(b.inbox(a)) >= len(texts), 30, "every accepted message delivered")
    assert [m["text"] for m in b.inbox(a)] == texts
    a.request("wait", id=accepted[-1]["id"], timeout=15)
    states = {m["state"] for m in a.sent(b)}
    assert states == {"delivered"}, states

    for failure in (refusal, again.value):
        assert failure.code == "store-full", failure
        assert "full" in failure.message, failure.message  # says what is wrong, in words


def _answered(read: Callable[[], T]) -> T | None:
    try:
        return read()
    except RequestFailed:
        return None


def test_full_store_at_the_receiver_holds_messages_at_the_sender(cluster: Cluster) -> None:
    """A receiver whose store fills stops receipting: the messages wait at the sender, none is lost or
    doubled, and they arrive in order once the receiver has room again. Meanwhile the full station
    still answers ``status`` and ``inbox``, and raises no false "gap" or "chain-mismatch" alarm."""
    a = cluster.add("alpha")
    b = cluster.add("bravo", store_max_pages=120)
    pair(a, b)
    cluster.start_all(a, b)
    a.wait_line(b)

    texts = [f"to a full store #{i:04d} " + secrets.token_hex(500) for i in range(600)]
    ids = [a.send(b, text)["id"] for text in texts]

    def full_alert() -> bool:
        alerts = _answered(lambda: b.line(a)["alerts"])  # reads may fail while full: checked below
        return alerts is not None and any(al["kind"] == "store-error" for al in alerts)

    wait_for(full_alert, 30, "bravo's store-error alert")
    read_failures: list[str] = []
    for _ in range(20):
        for read in (b.status, lambda: b.inbox(a)):
            try:
                read()
            except RequestFailed as exc:
                read_failures.append(str(exc))
        time.sleep(0.05)
    line = wait_for(lambda: _answered(lambda: b.line(a)), 10, "bravo's status")
    false_alarms = [al for al in line["alerts"] if al["kind"] in ("gap", "chain-mismatch")]

    # what is durable: bravo holds a prefix, alpha counts exactly that prefix as delivered
    assert a.stop() == 0 and b.stop() == 0
    stored = b.inbox(a)
    assert 0 < len(stored) < len(texts)
    assert [m["id"] for m in stored] == ids[: len(stored)]
    states = [m["state"] for m in a.sent(b)]
    assert states[: len(stored)] == ["delivered"] * len(stored)
    assert "delivered" not in states[len(stored) :]

    b.configure(store_max_pages=0)
    cluster.start_all(a, b)
    a.request("wait", id=ids[-1], timeout=30)
    inbox = b.inbox(a)
    assert [m["text"] for m in inbox] == texts
    assert [m["id"] for m in inbox] == ids
    assert {m["state"] for m in a.sent(b)} == {"delivered"}

    assert not read_failures, f"{len(read_failures)} of 40 reads failed while full: {read_failures[0]}"
    assert not false_alarms, f"a full store raised protocol alarms: {false_alarms[:2]}"
