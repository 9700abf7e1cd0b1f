"""Handshake cost: sequential handshakes on loopback, and the CPU cost alone in memory.

On loopback a handshake is timed from just before the dial until *both* ends hold an authenticated
connection: for Hotline ``connect()`` has returned and ``Listener.accept()`` has handed out the
server's channel (after the client's key confirmation); for TLS the client's ``create_connection``
has returned and the server's protocol got ``connection_made``, which asyncio calls only once the
server's handshake is done (after the client's Certificate, CertificateVerify and Finished). A bare
TCP connect is timed the same way as the floor under both. Connections are closed outside the timed
window, one at a time.

Hotline runs once per line profile (:data:`bench.line.PROFILES`): ``standard`` and ``cnsa2`` differ
in the KEM (ML-KEM-768 or ML-KEM-1024), the handshake's cipher and hash and the initiation MAC.

In memory, the same two protocols run without sockets or an event loop: two Hotline ``Session``
objects passing records back and forth (initiation, response, key confirmation), and two
``ssl.SSLObject`` over ``MemoryBIO`` pairs for TLS.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Awaitable, Callable
from time import perf_counter

from bench.line import PROFILES, Line, dial, make_line
from bench.stats import TCP, TLS, Latencies
from bench.tls import SERVER_NAME, TlsContexts
from hotline.net.tcp import listen
from hotline.proto.ratelimit import HandshakeLimits
from hotline.proto.session import Session
from hotline.proto.states import SessionState
from hotline.proto.suites import STANDARD, Suite

HOST = "127.0.0.1"
#: Timeout for closing a connection after a timed handshake (seconds).
CLOSE_TIMEOUT = 5.0


class _Endpoint(asyncio.Protocol):
    """One end of a baseline connection: records when it was made and when it was lost."""

    def __init__(self) -> None:
        loop = asyncio.get_running_loop()
        self.made: asyncio.Future[None] = loop.create_future()
        self.lost: asyncio.Future[None] = loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.made.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)


async def baseline_loopback(n: int, warmup: int, tls: TlsContexts | None) -> Latencies:
    """``n`` sequential TCP connects (``tls`` None) or TLS 1.3 handshakes over asyncio."""
    loop = asyncio.get_running_loop()
    accepted: asyncio.Queue[_Endpoint] = asyncio.Queue()

    def serve() -> _Endpoint:
        endpoint = _Endpoint()
        accepted.put_nowait(endpoint)
        return endpoint

    server = await loop.create_server(serve, HOST, 0, ssl=tls.server if tls else None)
    port = server.sockets[0].getsockname()[1]
    samples: list[float] = []
    async with server:
        for i in range(warmup + n):
            start = perf_counter()
            if tls is None:
                transport, client = await loop.create_connection(_Endpoint, HOST, port)
            else:
                transport, client = await loop.create_connection(
                    _Endpoint, HOST, port, ssl=tls.client, server_hostname=SERVER_NAME
                )
            peer = await accepted.get()
            await peer.made
            elapsed = perf_counter() - start
            if i >= warmup:
                samples.append(elapsed)
            transport.close()
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await asyncio.gather(client.lost, peer.lost)
    return Latencies(tuple(samples))


async def hotline_loopback(n: int, warmup: int, suite: Suite = STANDARD) -> Latencies:
    """``n`` sequential Hotline handshakes of a ``suite`` line over asyncio TCP."""
    line = make_line(suite)
    samples: list[float] = []
    # back-to-back handshakes of one peer from one address are what the rate limits stop
    # (docs/protocol.md §3.7); this measures the handshake, so they are lifted
    unlimited = HandshakeLimits(peer_rate=1e9, peer_burst=10**9, source_rate=1e9, source_burst=10**9)
    async with listen(
        HOST, 0, config=line.server, peers=line.peers, guard=line.guard, limits=unlimited
    ) as listener:
        for i in range(warmup + n):
            start = perf_counter()
            client, server = await dial(line, listener)
            elapsed = perf_counter() - start
            if i >= warmup:
                samples.append(elapsed)
            await client.close()
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await server.wait_closed()
    return Latencies(tuple(samples))


def establish_in_memory(line: Line) -> tuple[Session, Session]:
    """A Hotline handshake between two in-memory Sessions; returns (client, server), both established."""
    client = Session.initiator(
        line.client,
        peer_static=line.server_static,
        line_key=line.line_key,
        now=0.0,
        wall_time_ns=time.time_ns(),
    )
    server = Session.responder(line.server, peers=line.peers, guard=line.guard, now=0.0)
    server.receive_data(client.data_to_send(), 0.0)  # initiation
    client.receive_data(server.data_to_send(), 0.0)  # response
    server.receive_data(client.data_to_send(), 0.0)  # key confirmation
    return client, server


def hotline_in_memory(n: int, warmup: int, suite: Suite = STANDARD) -> Latencies:
    """``n`` Hotline handshakes of a ``suite`` line without sockets: pure protocol and crypto cost."""
    line = make_line(suite)
    samples: list[float] = []
    for i in range(warmup + n):
        start = perf_counter()
        client, server = establish_in_memory(line)
        elapsed = perf_counter() - start
        if client.state is not SessionState.ESTABLISHED or server.state is not SessionState.ESTABLISHED:
            raise RuntimeError("in-memory Hotline handshake did not complete")
        if i >= warmup:
            samples.append(elapsed)
    return Latencies(tuple(samples))


def _advance(end: ssl.SSLObject) -> bool:
    try:
        end.do_handshake()
    except ssl.SSLWantReadError:
        return False
    return True


def _tls_handshake_in_memory(tls: TlsContexts) -> ssl.SSLObject:
    to_server, to_client = ssl.MemoryBIO(), ssl.MemoryBIO()
    client_out, server_out = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = tls.client.wrap_bio(to_client, client_out, server_hostname=SERVER_NAME)
    server = tls.server.wrap_bio(to_server, server_out, server_side=True)
    client_done = server_done = False
    for _ in range(8):
        client_done = client_done or _advance(client)
        to_server.write(client_out.read())
        server_done = server_done or _advance(server)
        to_client.write(server_out.read())
        if client_done and server_done:
            return client
    raise RuntimeError("in-memory TLS handshake did not complete")


def tls_in_memory(n: int, warmup: int, tls: TlsContexts) -> Latencies:
    """``n`` TLS 1.3 mutual-certificate handshakes over memory BIOs: pure protocol and crypto cost."""
    samples: list[float] = []
    for i in range(warmup + n):
        start = perf_counter()
        _tls_handshake_in_memory(tls)
        elapsed = perf_counter() - start
        if i >= warmup:
            samples.append(elapsed)
    return Latencies(tuple(samples))


def tls_parameters(tls: TlsContexts) -> str:
    """The protocol version and cipher suite the two TLS contexts negotiate."""
    client = _tls_handshake_in_memory(tls)
    cipher = client.cipher()
    return f"{client.version()} {cipher[0] if cipher else '?'}"


def loopback_cases(tls: TlsContexts) -> dict[str, Callable[[int, int], Awaitable[Latencies]]]:
    """The loopback handshake cases by report label, baselines first, then each profile."""
    return {
        TCP: lambda n, w: baseline_loopback(n, w, None),
        TLS: lambda n, w: baseline_loopback(n, w, tls),
        **{label: _loopback(suite) for label, suite in PROFILES.items()},
    }


def _loopback(suite: Suite) -> Callable[[int, int], Awaitable[Latencies]]:
    return lambda n, w: hotline_loopback(n, w, suite)


def _in_memory(suite: Suite) -> Callable[[int, int], Latencies]:
    return lambda n, w: hotline_in_memory(n, w, suite)


def in_memory_cases(tls: TlsContexts) -> dict[str, Callable[[int, int], Latencies]]:
    """The in-memory handshake cases by report label, baseline first, then each profile."""
    return {
        TLS: lambda n, w: tls_in_memory(n, w, tls),
        **{label: _in_memory(suite) for label, suite in PROFILES.items()},
    }
