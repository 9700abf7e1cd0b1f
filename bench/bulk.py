"""One-way bulk transfer over loopback: Hotline against plain TCP and TLS 1.3, same bytes, same chunks.

Every case sends ``count`` payloads of ``payload`` random bytes from one end of a fresh connection
to the other, in one process and one event loop, and is timed from just before the first send until
the receiver has counted the last byte. Connection set-up (and its handshake) is outside the window.

The sender is the same shape everywhere: one write per payload, and a wait only while the transport
has paused writing (its buffer is over the high-water mark). Hotline does that in
``SecureChannel.send``; the baselines do it in :class:`_Source` with ``transport.write`` and the
``pause_writing``/``resume_writing`` callbacks.

The receivers take the fastest path each API has. The baselines are byte streams, so :class:`_Sink`
is a bare ``asyncio.Protocol`` whose ``data_received`` only counts: asyncio reads up to 256 KiB per
call (for TLS, decrypted by its SSL transport). We tried ``asyncio.BufferedProtocol`` reading into a
reused buffer as well: no faster for TCP, and much slower for TLS (up to 2x at 64 B), so it is not
used. Hotline is message-oriented, so its receiver awaits ``SecureChannel.receive()`` once per
payload and counts. Hotline runs once per line profile (:data:`bench.line.PROFILES`): records
in ChaCha20-Poly1305 for ``standard``, AES-256-GCM (the TLS baseline's cipher) for ``cnsa2``.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from time import perf_counter

from bench.handshake import HOST, establish_in_memory
from bench.line import PROFILES, dial, make_line
from bench.stats import TCP, TLS
from bench.tls import SERVER_NAME, TlsContexts
from hotline.net.tcp import listen
from hotline.proto.suites import STANDARD, Suite

CLOSE_TIMEOUT = 5.0

#: One case: send ``count`` payloads of ``payload`` bytes, return the seconds it took.
Case = Callable[[int, int], Awaitable[float]]


class _Sink(asyncio.Protocol):
    """Counts received bytes; ``done`` gets the time the last expected byte arrived."""

    def __init__(self, total: int) -> None:
        loop = asyncio.get_running_loop()
        self._total = total
        self.received = 0
        self.made: asyncio.Future[None] = loop.create_future()
        self.done: asyncio.Future[float] = loop.create_future()
        self.lost: asyncio.Future[None] = loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.made.set_result(None)

    def data_received(self, data: bytes) -> None:
        self.received += len(data)
        if self.received >= self._total and not self.done.done():
            self.done.set_result(perf_counter())

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_exception(ConnectionError(f"lost after {self.received} bytes: {exc}"))
        if not self.lost.done():
            self.lost.set_result(None)


class _Source(asyncio.Protocol):
    """Writes payloads, waiting only while the transport has paused writing."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self._resumed: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def pause_writing(self) -> None:
        self._resumed = self._loop.create_future()

    def resume_writing(self) -> None:
        if self._resumed is not None and not self._resumed.done():
            self._resumed.set_result(None)
        self._resumed = None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._resumed is not None and not self._resumed.done():
            self._resumed.set_exception(ConnectionError(str(exc)))

    async def send(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)
        if self._resumed is not None:
            await self._resumed


async def _baseline(payload: int, count: int, tls: TlsContexts | None) -> float:
    loop = asyncio.get_running_loop()
    chunk = secrets.token_bytes(payload)
    sink = _Sink(payload * count)
    server = await loop.create_server(lambda: sink, HOST, 0, ssl=tls.server if tls else None)
    port = server.sockets[0].getsockname()[1]
    async with server:
        if tls is None:
            transport, source = await loop.create_connection(_Source, HOST, port)
        else:
            transport, source = await loop.create_connection(
                _Source, HOST, port, ssl=tls.client, server_hostname=SERVER_NAME
            )
        await sink.made  # the server's side of the handshake is done too
        start = perf_counter()
        for _ in range(count):
            await source.send(chunk)
        end = await sink.done
        transport.close()
        async with asyncio.timeout(CLOSE_TIMEOUT):
            await sink.lost
    return end - start


async def _hotline(payload: int, count: int, suite: Suite = STANDARD) -> float:
    line = make_line(suite)
    chunk = secrets.token_bytes(payload)
    total = payload * count
    async with listen(HOST, 0, config=line.server, peers=line.peers, guard=line.guard) as listener:
        client, server = await dial(line, listener)

        async def consume() -> float:
            received = 0
            while received < total:
                received += len(await server.receive())
            return perf_counter()

        async with asyncio.TaskGroup() as tasks:
            done = tasks.create_task(consume())
            start = perf_counter()
            for _ in range(count):
                await client.send(chunk)
        end = done.result()
        await client.close()
        async with asyncio.timeout(CLOSE_TIMEOUT):
            await server.wait_closed()
    return end - start


def cases(tls: TlsContexts) -> dict[str, Case]:
    """The bulk cases by report label, baselines first, then Hotline in each profile."""
    return {
        TCP: lambda payload, count: _baseline(payload, count, None),
        TLS: lambda payload, count: _baseline(payload, count, tls),
        **{label: _profile(suite) for label, suite in PROFILES.items()},
    }


def _profile(suite: Suite) -> Case:
    return lambda payload, count: _hotline(payload, count, suite)


def hotline_wire_bytes(payload: int, burst: int = 64, suite: Suite = STANDARD) -> int:
    """Bytes Hotline puts on the stream per payload of this size in a burst of ``burst`` payloads
    (message framing, record header, padding and tag; messages share records), on a ``suite`` line."""
    client, _ = establish_in_memory(make_line(suite))
    for _ in range(burst):
        client.send_data(bytes(payload), 0.0)
    return round(len(client.data_to_send()) / burst)


def tls_wire_bytes(payload: int) -> int:
    """Bytes TLS 1.3 puts on the stream for one write of this size: 16 KiB records, 22 bytes each
    (5-byte header, 1-byte content type, 16-byte AEAD tag), no padding."""
    records = -(-payload // 16384)
    return payload + 22 * records
