"""The cell clock (hotline.net.pacer): timed writes on a duplicate of a socket, in order, whole."""

from __future__ import annotations

import socket
import time

from hotline.net.pacer import SLACK, Pacer, lead


def _read(sock: socket.socket, count: int, timeout: float = 10.0) -> bytes:
    sock.settimeout(timeout)
    out = bytearray()
    while len(out) < count:
        chunk = sock.recv(count - len(out))
        if not chunk:
            break
        out += chunk
    return bytes(out)


def test_writes_leave_in_order_and_not_before_their_time() -> None:
    a, b = socket.socketpair()
    with a, b:
        paced = Pacer().attach(a.fileno())
        start = time.monotonic()
        # queued out of time order: the queue keeps the order it was given
        paced.write(b"one", start + 0.05)
        paced.write(b"two", start)
        paced.write(b"three", start + 0.1)
        got = _read(b, 11)
        assert got == b"onetwothree"
        assert time.monotonic() - start >= 0.1 - SLACK  # the last was not sent before its time
        paced.close()


def test_a_write_the_socket_cannot_take_whole_waits_and_leaves_whole() -> None:
    a, b = socket.socketpair()
    with a, b:
        a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        paced = Pacer().attach(a.fileno())
        data = bytes(range(256)) * 4096  # 1 MiB: far more than the socket buffers hold
        paced.write(data, 0.0)
        time.sleep(0.05)
        assert 0 < paced.backlog <= len(data)  # nobody reads yet: most of it waits in the queue
        assert _read(b, len(data)) == data
        deadline = time.monotonic() + 5
        while paced.backlog and time.monotonic() < deadline:
            time.sleep(0.01)
        assert paced.backlog == 0


def test_close_sends_what_is_queued_then_lets_the_connection_end() -> None:
    a, b = socket.socketpair()
    with b:
        paced = Pacer().attach(a.fileno())
        a.close()  # the caller's own socket goes first, as the driver's transport does
        paced.write(b"last cell", time.monotonic() + 0.02)
        paced.close()
        assert _read(b, 100) == b"last cell"  # then end of stream: the duplicate was closed


def test_abort_drops_what_is_queued() -> None:
    a, b = socket.socketpair()
    with b:
        paced = Pacer().attach(a.fileno())
        a.close()
        paced.write(b"never", time.monotonic() + 0.2)
        paced.abort()
        assert paced.backlog == 0
        assert _read(b, 100) == b""
        paced.write(b"after", 0.0)  # ignored once closing
        assert paced.backlog == 0


def test_a_reset_connection_ends_the_writes() -> None:
    a, b = socket.socketpair()
    with a:
        paced = Pacer().attach(a.fileno())
        b.close()
        paced.write(b"x" * 100, 0.0)
        deadline = time.monotonic() + 5
        while paced.error is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert isinstance(paced.error, OSError)
        assert paced.backlog == 0
        paced.close()


def test_the_lead_is_half_an_interval_at_most_10_ms() -> None:
    assert lead(0.020) == 0.010
    assert lead(0.010) == 0.005
    assert lead(1.0) == 0.010


def test_a_carriers_socket_plans_its_next_wake_up_and_still_waits_for_each_write() -> None:
    a, b = socket.socketpair()
    with a, b:
        interval = 0.02
        paced = Pacer().attach(a.fileno(), interval)
        start = time.monotonic()
        paced.write(b"cell0", start)
        assert _read(b, 5) == b"cell0"
        # handed over after the planned wake-up was set: it leaves at its own time, not before
        paced.write(b"cell1", start + interval)
        assert _read(b, 5) == b"cell1"
        assert time.monotonic() - start >= interval - SLACK
        # the planned wake-ups found nothing and are gone: a write off the grid still leaves on time
        time.sleep(3 * interval)
        at = time.monotonic() + 0.035
        paced.write(b"late", at)
        assert _read(b, 4) == b"late"
        assert time.monotonic() >= at - SLACK
        paced.close()
