"""A station is closed to strangers: unauthenticated bytes get no answer, unverified stations get no line."""

from __future__ import annotations

import contextlib
import os
import selectors
import socket
import stat
import time
from collections.abc import Iterator

import pytest

from tests.support.stations import Cluster, StationProc, pair

HALF_OPEN = 200


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    with Cluster() as c:
        yield c


def _exchange(a: StationProc, b: StationProc, note: str) -> None:
    for sender, receiver in ((a, b), (b, a)):
        message = sender.send(receiver, f"{note}: {sender.name} to {receiver.name}")
        assert sender.request("wait", id=message["id"], timeout=10)["state"] == "delivered"


def _answers(sockets: list[socket.socket], wait: float) -> list[bytes]:
    """Whatever any of ``sockets`` received within ``wait`` seconds (an EOF or reset is not an answer)."""
    got: list[bytes] = []
    with selectors.DefaultSelector() as selector:
        for s in sockets:
            s.setblocking(False)
            selector.register(s, selectors.EVENT_READ)
        deadline = time.monotonic() + wait
        while (left := deadline - time.monotonic()) > 0:
            for key, _ in selector.select(left):
                ready = key.fileobj
                assert isinstance(ready, socket.socket)
                try:
                    data = ready.recv(65536)
                except (BlockingIOError, ConnectionError):
                    data = b""
                if data:
                    got.append(data)
                selector.unregister(ready)
    return got


def test_strangers_get_no_byte_back_and_the_line_still_works(cluster: Cluster) -> None:
    a, b = cluster.add("alpha"), cluster.add("bravo")
    pair(a, b)
    cluster.start_all(a, b)
    a.wait_line(b)
    b.wait_line(a)
    target = ("127.0.0.1", a.port)

    # a port scan: connect and close at once
    for _ in range(50):
        socket.create_connection(target, timeout=5).close()

    strangers: list[socket.socket] = []
    try:
        # garbage of assorted sizes, including the size of a handshake's first message and more
        for size in (1, 2, 32, 100, 1500, 4096, 70_000):
            s = socket.create_connection(target, timeout=5)
            strangers.append(s)
            with contextlib.suppress(ConnectionError):
                s.sendall(os.urandom(size))
        # half-open connections that never say anything
        for _ in range(HALF_OPEN):
            strangers.append(socket.create_connection(target, timeout=5))

        # meanwhile the real line carries traffic, and even a fresh handshake gets through
        _exchange(a, b, "with strangers at the door")
        assert b.stop() == 0
        b.start()
        a.wait_line(b)
        b.wait_line(a)
        _exchange(a, b, "after a fresh handshake")

        answers = _answers(strangers, 1.0)
        assert not answers, f"{len(answers)} strangers got an answer, e.g. {answers[0][:32]!r}"
    finally:
        for s in strangers:
            s.close()

    assert a.running, a.log_tail()
    assert a.line(b)["state"] == "up"


def test_an_unverified_station_cannot_bring_the_line_up(cluster: Cluster) -> None:
    """charlie has a verified, keyed line to alpha on its side; alpha added charlie and even holds its
    line key, but never confirmed the safety number: charlie's calls are refused and alerted."""
    a, c = cluster.add("alpha"), cluster.add("charlie")
    c.request("line.add", peer="alpha", card=a.request("card")["armored"], endpoints=[a.endpoint])
    a.request("line.add", peer="charlie", card=c.request("card")["armored"], endpoints=[c.endpoint])
    sealed = c.request("line.grant", peer="alpha")["sealed"]
    a.request("line.accept", peer="charlie", sealed=sealed)
    c.request("line.verify", peer="alpha", confirm=True)
    assert a.request("line.list")["lines"][0]["verified"] is False

    cluster.start_all(a, c)
    status = a.wait_until(
        lambda s: any(al["kind"] == "refused" for al in s["lines"][0]["alerts"]), 10, "a refused alert"
    )
    line = status["lines"][0]
    assert line["state"] == "unverified" and line["endpoint"] is None
    refused = next(al for al in line["alerts"] if al["kind"] == "refused")
    assert "not verified" in refused["detail"]
    assert any(e["kind"] == "alert" and e["event"] == "refused" for e in a.log(c))

    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:  # charlie keeps dialling; it never gets a session
        assert c.line(a)["state"] != "up"
        assert a.line(c)["state"] == "unverified"
        time.sleep(0.1)
    assert c.running and a.running


def test_control_socket_is_owner_only(cluster: Cluster) -> None:
    a = cluster.add("alpha")
    a.start()
    assert stat.S_ISSOCK(os.stat(a.control).st_mode)
    assert stat.S_IMODE(os.stat(a.control).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(a.home).st_mode) == 0o700
    # the directory keeps everyone else out; the files written with an explicit mode are owner-only too
    # (store.sqlite and its -wal/-shm follow the umask: the 0700 directory is what protects them)
    for name in ("identity.key", "station.toml"):
        assert stat.S_IMODE(os.stat(a.home / name).st_mode) & 0o077 == 0, name
