"""The impairment proxy (tests/support/impair.py) on real loopback sockets.

An echo server listens on one port number for both TCP and UDP, as a station does, and runs in threads
of its own; the tests talk to it through an :class:`ImpairProxy` with blocking sockets. Timing checks
only assert lower bounds (the machine is noisy); every wait has a generous deadline.
"""

from __future__ import annotations

import contextlib
import itertools
import random
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from tests.support.impair import REORDER_HOLD_MAX, Impairment, ImpairProxy

HOST = "127.0.0.1"
#: Deadline for anything that should happen promptly; only reached when a test is failing.
PATIENCE = 10.0


class _EchoHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        sock: socket.socket = self.request
        with contextlib.suppress(OSError):
            while data := sock.recv(65536):
                sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)


class _EchoTcpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class Echo:
    """A TCP and UDP echo server on one port number. UDP payloads are recorded in :attr:`received`."""

    def __init__(self) -> None:
        for _ in range(50):
            self.tcp = _EchoTcpServer((HOST, 0), _EchoHandler)
            self.port: int = self.tcp.server_address[1]
            self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                self.udp.bind((HOST, self.port))
                break
            except OSError:
                self.udp.close()
                self.tcp.server_close()
        else:
            raise OSError("no port free for both TCP and UDP")
        self.udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.udp.settimeout(0.05)
        #: Whether UDP datagrams are sent back; the loss test only counts them.
        self.echo_udp = True
        self.received: list[bytes] = []
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self.tcp.serve_forever, args=(0.05,), daemon=True),
            threading.Thread(target=self._udp_loop, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _udp_loop(self) -> None:
        while not self._stop.is_set():
            try:
                data, addr = self.udp.recvfrom(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            self.received.append(data)
            if self.echo_udp:
                self.udp.sendto(data, addr)

    def close(self) -> None:
        self._stop.set()
        self.tcp.shutdown()
        self.tcp.server_close()
        for thread in self._threads:
            thread.join(PATIENCE)
        self.udp.close()


@pytest.fixture
def echo() -> Iterator[Echo]:
    server = Echo()
    try:
        yield server
    finally:
        server.close()


def _open_proxy(echo: Echo, seed: int | None = None) -> ImpairProxy:
    proxy = ImpairProxy((HOST, echo.port), seed=seed).start()
    # pytest shows this for a failing test, so the run can be replayed with the same seed.
    print(f"impair proxy on {proxy.address}, seed={proxy.seed}")
    return proxy


@pytest.fixture
def proxy(echo: Echo) -> Iterator[ImpairProxy]:
    p = _open_proxy(echo)
    try:
        yield p
    finally:
        p.stop()
    assert p.errors == []


def wait_for(condition: Callable[[], bool], what: str, timeout: float = PATIENCE) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def tcp_connect(proxy: ImpairProxy) -> socket.socket:
    sock = socket.create_connection((HOST, proxy.port), timeout=PATIENCE)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def recv_exactly(sock: socket.socket, n: int) -> bytes:
    out = bytearray()
    while len(out) < n:
        chunk = sock.recv(min(65536, n - len(out)))
        assert chunk, f"EOF after {len(out)} of {n} bytes"
        out += chunk
    return bytes(out)


def recv_nothing(sock: socket.socket, wait: float = 0.3) -> bool:
    """True if nothing at all arrives on ``sock`` within ``wait`` seconds."""
    sock.settimeout(wait)
    try:
        sock.recv(65536)
    except TimeoutError:
        return True
    finally:
        sock.settimeout(PATIENCE)
    return False


def udp_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.bind((HOST, 0))
    sock.settimeout(PATIENCE)
    return sock


def udp_collect(sock: socket.socket, quiet: float = 0.4) -> list[bytes]:
    """Everything that arrives on ``sock`` until it has been quiet for ``quiet`` seconds."""
    got: list[bytes] = []
    sock.settimeout(quiet)
    with contextlib.suppress(TimeoutError):
        while True:
            got.append(sock.recv(65536))
    sock.settimeout(PATIENCE)
    return got


def send_numbered(sock: socket.socket, proxy: ImpairProxy, n: int, size: int = 16) -> None:
    """Send datagrams 0..n-1 (4-byte big-endian number, padded to ``size``), paced so no socket overflows."""
    for i in range(n):
        sock.sendto(i.to_bytes(4, "big").ljust(size, b"."), (HOST, proxy.port))
        if i % 100 == 99:
            time.sleep(0.01)


def numbers(datagrams: list[bytes]) -> list[int]:
    return [int.from_bytes(d[:4], "big") for d in datagrams]


def inversions(seq: list[int]) -> int:
    return sum(1 for a, b in itertools.pairwise(seq) if b < a)


def echo_through(sock: socket.socket, payload: bytes) -> bytes:
    """Send ``payload`` from a thread while reading the echo, so neither side's buffers can deadlock."""
    sender = threading.Thread(target=sock.sendall, args=(payload,), daemon=True)
    sender.start()
    got = recv_exactly(sock, len(payload))
    sender.join(PATIENCE)
    return got


# --- TCP -------------------------------------------------------------------------------------------------


def test_tcp_one_mebibyte_passes_intact_and_in_order(proxy: ImpairProxy) -> None:
    """1 MiB through the proxy and back through the echo server comes back byte for byte, then EOF."""
    payload = random.Random(1).randbytes(1 << 20)
    with tcp_connect(proxy) as sock:
        assert echo_through(sock, payload) == payload
        sock.shutdown(socket.SHUT_WR)
        assert sock.recv(1) == b""  # the echo server's EOF came through the proxy
    stats = proxy.stats
    assert stats.tcp_connections == 1
    assert stats.tcp_bytes_forward == stats.tcp_bytes_back == len(payload)
    wait_for(lambda: proxy.open_connections == 0, "the proxy to close the finished pair")


def test_tcp_and_udp_share_the_port_number(echo: Echo, proxy: ImpairProxy) -> None:
    """One port number reaches the target over both protocols."""
    assert proxy.address == f"{HOST}:{proxy.port}"
    with tcp_connect(proxy) as sock:
        assert echo_through(sock, b"tcp") == b"tcp"
    with udp_socket() as usock:
        usock.sendto(b"udp", (HOST, proxy.port))
        assert usock.recv(100) == b"udp"
    assert echo.received == [b"udp"]


def test_delay_is_observed(proxy: ImpairProxy) -> None:
    """A one-way delay of 0.1 s adds at least 0.1 s to a TCP round trip, and 0.2 s when set both ways."""
    with tcp_connect(proxy) as sock:
        assert echo_through(sock, b"warm") == b"warm"
        proxy.set(delay=0.1, direction="forward")
        start = time.monotonic()
        assert echo_through(sock, b"ping") == b"ping"
        assert time.monotonic() - start >= 0.1
    proxy.set(delay=0.1)
    with udp_socket() as usock:
        start = time.monotonic()
        usock.sendto(b"ping", (HOST, proxy.port))
        assert usock.recv(100) == b"ping"
        assert time.monotonic() - start >= 0.2


def test_tcp_jitter_keeps_byte_order(proxy: ImpairProxy) -> None:
    """Jitter delays TCP chunks by different amounts but never lets one overtake another."""
    proxy.set(jitter=0.03)
    with tcp_connect(proxy) as sock:
        sent = bytearray()
        for i in range(100):
            piece = i.to_bytes(4, "big")
            sock.sendall(piece)
            sent += piece
            time.sleep(0.001)  # separate reads in the proxy, so chunks get separate jitter
        assert recv_exactly(sock, len(sent)) == sent


def test_rate_cap_slows_tcp(proxy: ImpairProxy) -> None:
    """300 kB under a 200 kB/s cap takes about 1.5 s; we assert at least 1.3 s."""
    payload = random.Random(2).randbytes(300_000)
    proxy.set(rate=200_000, direction="forward")
    with tcp_connect(proxy) as sock:
        start = time.monotonic()
        assert echo_through(sock, payload) == payload
        assert time.monotonic() - start >= 1.3


def test_tcp_corruption_flips_bits(proxy: ImpairProxy) -> None:
    """Every forwarded chunk gets one flipped bit; the length and everything else stay."""
    payload = bytes(4096)
    proxy.set(corrupt=1.0, direction="forward")
    with tcp_connect(proxy) as sock:
        got = echo_through(sock, payload)
    flipped = sum(bin(a ^ b).count("1") for a, b in zip(payload, got, strict=True))
    # Two flips can land on the same bit and cancel, so fewer flips than chunks is possible.
    assert 1 <= flipped <= proxy.stats.corrupted


def test_source_stops_being_read_while_data_is_held(proxy: ImpairProxy) -> None:
    """Flow control: during a partition the proxy reads a bounded amount and the sender blocks."""
    with tcp_connect(proxy) as sock:
        assert echo_through(sock, b"x") == b"x"
        proxy.partition()
        sock.settimeout(1.0)
        with pytest.raises(TimeoutError):
            sock.sendall(bytes(64 << 20))
        # The kernel buffers hold a few MiB; the proxy itself reads only its queue's worth.
        assert proxy.stats.tcp_bytes_forward < 1 + (2 << 20)


# --- UDP -------------------------------------------------------------------------------------------------


def test_udp_loss_ratio_and_seed_replay(echo: Echo, proxy: ImpairProxy) -> None:
    """Loss 0.3 over 2000 datagrams drops 30% within 6 sigma; a second proxy with the same seed drops
    exactly the same datagrams."""
    n, p = 2000, 0.3
    echo.echo_udp = False

    def run(px: ImpairProxy) -> set[int]:
        echo.received.clear()
        px.set(loss=p, direction="forward")
        with udp_socket() as usock:
            send_numbered(usock, px, n)
            wait_for(lambda: px.stats.udp_datagrams_forward == n, "the proxy to read every datagram")
            expected = n - px.stats.dropped
            wait_for(lambda: len(echo.received) == expected, "the survivors to reach the target")
        return set(range(n)) - set(numbers(echo.received))

    dropped = run(proxy)
    sigma = (n * p * (1 - p)) ** 0.5
    assert abs(len(dropped) - n * p) < 6 * sigma, f"{len(dropped)} of {n} dropped"
    with _open_proxy(echo, seed=proxy.seed) as again:
        assert run(again) == dropped
    assert again.errors == []


def test_udp_duplicate(proxy: ImpairProxy) -> None:
    """duplicate=1 sends every datagram twice, and the counter says so."""
    proxy.set(duplicate=1.0, direction="forward")
    with udp_socket() as usock:
        send_numbered(usock, proxy, 50)
        got = numbers(udp_collect(usock))
    assert sorted(got) == sorted(list(range(50)) * 2)
    assert proxy.stats.duplicated == 50


def test_udp_reorder(echo: Echo, proxy: ImpairProxy) -> None:
    """reorder=1 swaps every pair; reorder=0.3 reorders some and loses none."""
    proxy.set(reorder=1.0, direction="forward")
    with udp_socket() as usock:
        send_numbered(usock, proxy, 50)
        got = numbers(udp_collect(usock))
    assert got == [i ^ 1 for i in range(50)]
    assert numbers(echo.received) == got
    assert proxy.stats.reordered == 25

    proxy.set(reorder=0.3)
    with udp_socket() as usock:
        send_numbered(usock, proxy, 200)
        # the last datagram may be held back until REORDER_HOLD_MAX: wait well past it (a busy loop)
        got = numbers(udp_collect(usock, quiet=REORDER_HOLD_MAX + 1.0))
    assert sorted(got) == list(range(200))
    assert inversions(got) > 0
    assert proxy.stats.reordered > 25


def test_udp_jitter_reorders_naturally(proxy: ImpairProxy) -> None:
    """Jitter larger than the gap between datagrams lets later ones overtake, losing none."""
    proxy.set(jitter=0.05, direction="forward")
    with udp_socket() as usock:
        for i in range(100):
            usock.sendto(i.to_bytes(4, "big"), (HOST, proxy.port))
            time.sleep(0.001)
        got = numbers(udp_collect(usock))
    assert sorted(got) == list(range(100))
    assert inversions(got) > 0


def test_udp_corruption_flips_one_bit(proxy: ImpairProxy) -> None:
    """corrupt=1 flips exactly one bit in every datagram."""
    proxy.set(corrupt=1.0, direction="forward")
    payload = bytes(range(64))
    with udp_socket() as usock:
        for _ in range(100):
            usock.sendto(payload, (HOST, proxy.port))
        got = udp_collect(usock)
    assert len(got) == 100
    for data in got:
        assert len(data) == len(payload)
        assert sum(bin(a ^ b).count("1") for a, b in zip(payload, data, strict=True)) == 1
    assert proxy.stats.corrupted == 100


def test_one_way_blackhole(echo: Echo, proxy: ImpairProxy) -> None:
    """A blackhole on the way back lets datagrams reach the target but no reply return."""
    proxy.set(blackhole=True, direction="back")
    with udp_socket() as usock:
        usock.sendto(b"hello", (HOST, proxy.port))
        wait_for(lambda: echo.received == [b"hello"], "the datagram to reach the target")
        assert udp_collect(usock) == []
    proxy.set(Impairment(), direction="back")
    with udp_socket() as usock:
        usock.sendto(b"again", (HOST, proxy.port))
        assert usock.recv(100) == b"again"


# --- link faults -----------------------------------------------------------------------------------------


def test_partition_and_heal(proxy: ImpairProxy) -> None:
    """A partition stops TCP (old and new connections) and UDP; heal restores the same connection,
    and the TCP bytes sent during the cut arrive, as TCP retransmission would deliver them."""
    with tcp_connect(proxy) as sock, udp_socket() as usock:
        assert echo_through(sock, b"before") == b"before"
        usock.sendto(b"before", (HOST, proxy.port))
        assert usock.recv(100) == b"before"

        proxy.partition()
        sock.sendall(b"during")
        usock.sendto(b"during", (HOST, proxy.port))
        with tcp_connect(proxy) as late:
            late.sendall(b"late")
            assert recv_nothing(sock)
            assert recv_nothing(usock, 0.05)
            assert recv_nothing(late, 0.05)
            assert proxy.stats.dropped == 1

            proxy.heal()
            assert recv_exactly(sock, 6) == b"during"
            assert echo_through(sock, b"after") == b"after"
            assert recv_exactly(late, 4) == b"late"  # its upstream connection was made at the heal
        usock.sendto(b"after", (HOST, proxy.port))
        assert usock.recv(100) == b"after"
    assert proxy.stats.tcp_connections == 2


def test_partition_that_loses_tcp_data(proxy: ImpairProxy) -> None:
    """With lose_tcp_data the bytes sent during the cut are gone; the connection carries on."""
    with tcp_connect(proxy) as sock:
        assert echo_through(sock, b"before") == b"before"
        proxy.partition(lose_tcp_data=True)
        sock.sendall(b"lost")
        wait_for(lambda: proxy.stats.tcp_bytes_discarded == 4, "the proxy to discard the bytes")
        proxy.heal()
        assert echo_through(sock, b"after") == b"after"


def test_reset_connections(proxy: ImpairProxy) -> None:
    """reset_connections aborts open pairs (the client sees a reset or EOF); new ones still work."""
    with tcp_connect(proxy) as sock:
        assert echo_through(sock, b"hi") == b"hi"
        proxy.reset_connections()
        with contextlib.suppress(ConnectionResetError):
            assert sock.recv(100) == b""
    assert proxy.open_connections == 0
    with tcp_connect(proxy) as sock:
        assert echo_through(sock, b"again") == b"again"


def test_refuse(proxy: ImpairProxy) -> None:
    """While refusing, a new connection is cut at once; an open one is untouched; refuse(False) undoes it."""
    with tcp_connect(proxy) as open_before:
        # A round trip first: the kernel completes a handshake before the proxy has accepted it.
        assert echo_through(open_before, b"open") == b"open"
        proxy.refuse()
        with tcp_connect(proxy) as sock, contextlib.suppress(ConnectionResetError):
            assert sock.recv(100) == b""
        assert echo_through(open_before, b"still") == b"still"
    assert proxy.stats.tcp_refused == 1
    proxy.refuse(False)
    with tcp_connect(proxy) as sock:
        assert echo_through(sock, b"open") == b"open"


def test_upstream_connect_failure_closes_the_client() -> None:
    """When nothing listens at the target, the client's connection is closed rather than left hanging."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        dead_port = probe.getsockname()[1]
    with ImpairProxy((HOST, dead_port), udp=False).start() as proxy:
        with tcp_connect(proxy) as sock, contextlib.suppress(ConnectionResetError):
            assert sock.recv(100) == b""
        wait_for(lambda: proxy.open_connections == 0, "the pair to go")
        assert proxy.errors == []


def test_set_validates() -> None:
    """Bad values and directions are refused before they reach the loop; stop() is idempotent."""
    proxy = ImpairProxy((HOST, 9), seed=7)
    assert proxy.seed == 7
    with pytest.raises(ValueError):
        proxy.set(loss=1.5)
    with pytest.raises(ValueError):
        proxy.set(delay=0.1, direction="sideways")
    with pytest.raises(TypeError):
        proxy.set(latency=0.1)
    proxy.set(Impairment(delay=0.2), loss=0.1, direction="back")
    assert proxy.impairment("back") == Impairment(delay=0.2, loss=0.1)
    assert proxy.impairment("forward") == Impairment()
    proxy.stop()
    proxy.stop()
