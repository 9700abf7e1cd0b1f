"""Two sessions on real loopback sockets (hotline.net.tcp)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct

import pytest

from hotline.net.tcp import ChannelClosed, connect, listen
from hotline.proto.errors import ErrorCode
from hotline.proto.ratelimit import KeyedBuckets
from hotline.proto.session import SessionConfig
from tests.support.pair import make_stations


def _configs(**kw: object) -> tuple:
    a, b, key = make_stations()
    ca = SessionConfig(static=a.static, **kw)  # type: ignore[arg-type]
    cb = SessionConfig(static=b.static, **kw)  # type: ignore[arg-type]
    return a, b, key, ca, cb


async def test_ten_thousand_records_across_rekeys() -> None:
    """10,000 records each way with a rekey every 300 records: nothing lost, doubled or reordered.

    That is dozens of rekeys a second, far above the rekey rate limit (docs/protocol.md §5.4) that
    honest stations never reach; the limit is raised here so that the test exercises the switch.
    """
    a, b, key, ca, cb = _configs(rekey_after_records=300, rekey_limits=KeyedBuckets(1000.0, 1000))
    n = 10_000
    async with listen("127.0.0.1", 0, config=cb, peers=b.peers, guard=b.guard) as listener:
        client = await connect("127.0.0.1", listener.port, config=ca, peer_static=b.public, line_key=key)
        server = await listener.accept()
        assert server.peer_static == a.public
        assert client.protocol_name == "Noise_IKpsk2+hfs_25519+MLKEM768_ChaChaPoly_BLAKE2s"
        assert client.handshake_hash == server.handshake_hash

        async def pump(sender, tag: bytes) -> None:
            for i in range(n):
                await sender.send(tag + i.to_bytes(4, "big") + bytes(i % 700))
                # let the adapter flush: one payload per record, so this is 10,000 records
                await asyncio.sleep(0)

        async def collect(receiver, tag: bytes) -> list[int]:
            got = []
            for _ in range(n):
                data = await receiver.receive()
                assert data[:1] == tag
                i = int.from_bytes(data[1:5], "big")
                assert data[5:] == bytes(i % 700)
                got.append(i)
            return got

        results = await asyncio.gather(
            pump(client, b"c"), pump(server, b"s"), collect(server, b"c"), collect(client, b"s")
        )
        assert results[2] == list(range(n))
        assert results[3] == list(range(n))
        assert client.rekeys >= 3 and server.rekeys >= 3
        assert server.records[1] >= n and client.records[1] >= n
        assert client.epoch == server.epoch
        await client.close()
        closed = await server.wait_closed()
        assert closed.code is ErrorCode.LOCAL_CLOSE


async def test_stranger_gets_no_answer() -> None:
    """Garbage, a port scan and a peer without the line key: no byte comes back, no channel opens."""
    _, b, _, ca, cb = _configs(handshake_timeout=0.5)
    async with listen("127.0.0.1", 0, config=cb, peers=b.peers, guard=b.guard) as listener:
        # garbage
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 10)
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed at the deadline, nothing said
        writer.close()
        # a connect-and-close scan
        sock = socket.create_connection(("127.0.0.1", listener.port))
        sock.close()
        # a dialler with the wrong line key
        with pytest.raises(ChannelClosed) as info:
            await connect("127.0.0.1", listener.port, config=ca, peer_static=b.public, line_key=bytes(32))
        assert info.value.code is ErrorCode.HANDSHAKE_FAILED  # psk2: the response does not verify
        await asyncio.sleep(0.1)
        assert listener._accepted.empty()
        assert listener.dropped >= 2


async def test_half_open_connections_are_bounded_and_the_line_still_works() -> None:
    """A flood of silent connections never holds more than ``max_pending`` sessions, and a real
    peer still gets through during it."""
    a, b, key, ca, cb = _configs(handshake_timeout=5.0)
    async with listen("127.0.0.1", 0, config=cb, peers=b.peers, guard=b.guard, max_pending=16) as listener:
        conns = []
        for _ in range(60):
            reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
            writer.write(bytes(100))
            conns.append((reader, writer))
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.2)
        assert listener.pending <= 16

        async def shed(reader: asyncio.StreamReader) -> bool:
            try:
                return await asyncio.wait_for(reader.read(1), 0.05) == b""
            except ConnectionResetError:
                return True
            except TimeoutError:
                return False

        states = [await shed(reader) for reader, _ in conns]
        assert states == [True] * 44 + [False] * 16  # the oldest were shed, the newest kept
        writers = [writer for _, writer in conns]
        client = await connect("127.0.0.1", listener.port, config=ca, peer_static=b.public, line_key=key)
        server = await listener.accept()
        assert server.peer_static == a.public
        await client.send(b"through the flood")
        assert await server.receive() == b"through the flood"
        await client.close()
        for writer in writers:
            writer.close()


async def test_a_slow_reader_holds_bounded_memory_and_pushes_back() -> None:
    """When the application stops reading, the channel stops reading the socket: buffered payloads
    stay under the high-water mark and the sender's ``send`` blocks instead of growing memory."""
    from hotline.net.driver import RECEIVE_HIGH_WATER

    _, b, key, ca, cb = _configs()
    async with listen("127.0.0.1", 0, config=cb, peers=b.peers, guard=b.guard) as listener:
        client = await connect("127.0.0.1", listener.port, config=ca, peer_static=b.public, line_key=key)
        server = await listener.accept()
        chunk = bytes(60_000)
        sent = 0

        async def flood() -> None:
            nonlocal sent
            while True:
                await client.send(chunk)
                sent += len(chunk)

        task = asyncio.ensure_future(flood())
        await asyncio.sleep(1.0)
        held = server._p.received_bytes
        assert 0 < held <= RECEIVE_HIGH_WATER + 2**20
        assert sent < 200 * 2**20  # the sender was held back, not buffering without end
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        total = 0
        while total < held:
            total += len(await server.receive())
        await client.close()


async def test_every_task_waiting_for_the_socket_goes_on_once_the_peer_reads() -> None:
    """Several tasks write on one channel (a line's entries, a document's chunks) and may all wait
    for a full socket at once: every one of them goes on when the peer reads, and one that is
    cancelled while waiting leaves the others waiting."""
    _, b, key, ca, cb = _configs()
    async with listen("127.0.0.1", 0, config=cb, peers=b.peers, guard=b.guard) as listener:
        client = await connect("127.0.0.1", listener.port, config=ca, peer_static=b.public, line_key=key)
        server = await listener.accept()
        chunk = bytes(60_000)
        # the peer does not read yet: fill its buffers and the sockets until our writes wait, and
        # keep them waiting (the peer's channel stops reading the socket once it holds enough)
        while not (client._p._write_paused and server._p._read_paused):
            client.send_nowait(chunk)
            await asyncio.sleep(0.001)
        for _ in range(40):
            client.send_nowait(chunk)
        await asyncio.sleep(0.2)
        assert client._p._write_paused
        first = asyncio.ensure_future(client.drain())
        await asyncio.sleep(0)
        cancelled = asyncio.ensure_future(client.drain())
        await asyncio.sleep(0)
        second = asyncio.ensure_future(client.drain())
        await asyncio.sleep(0)
        cancelled.cancel()
        await asyncio.sleep(0.1)
        assert not first.done() and not second.done()

        async def read_all() -> None:
            while True:
                await server.receive()

        reading = asyncio.ensure_future(read_all())
        # without the fix the first waiter was forgotten when the second came: it waited forever
        done, _ = await asyncio.wait({first, second}, timeout=10)
        assert done == {first, second}
        assert cancelled.cancelled()
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError, ChannelClosed):
            await reading
        await client.close()


async def test_a_ping_flood_from_a_peer_that_never_reads_holds_bounded_memory() -> None:
    """An authenticated peer that sends keepalive pings as fast as it can and never reads our
    answers: we stop reading it while our answers cannot be written, so our buffer stays small."""
    import socket
    import time

    from hotline.proto.messages import Ping
    from hotline.proto.session import Session

    _, b, key, ca, cb = _configs()
    async with listen("127.0.0.1", 0, config=cb, peers=b.peers, guard=b.guard) as listener:
        loop = asyncio.get_running_loop()
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await loop.sock_connect(sock, ("127.0.0.1", listener.port))
        peer = Session.initiator(
            ca, peer_static=b.public, line_key=key, now=loop.time(), wall_time_ns=time.time_ns()
        )
        await loop.sock_sendall(sock, peer.data_to_send())
        while peer.state.value != "established":
            peer.receive_data(await loop.sock_recv(sock, 65536), loop.time())
        await loop.sock_sendall(sock, peer.data_to_send())
        server = await listener.accept()
        transport = server._p.transport
        assert transport is not None
        ping = 0
        for _ in range(8):
            for _ in range(10):
                for _ in range(5900):  # about one full record of pings
                    ping += 1
                    peer._send_message(Ping(ping), loop.time())
                try:
                    await asyncio.wait_for(loop.sock_sendall(sock, peer.data_to_send()), 0.5)
                except TimeoutError:
                    break  # we stopped reading it: its own socket is full
            await asyncio.sleep(0.02)
        assert transport.get_write_buffer_size() < 2 * 2**20  # without the fix: 4 MiB and growing
        assert not transport.is_reading()
        sock.close()
        await server.wait_closed()


async def test_a_sender_stops_at_the_first_write_that_finds_the_connection_reset(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The peer resets the connection while we have a burst of payloads to send and have not read the
    reset yet: the write that meets it closes the transport, and the next ``send_nowait`` must raise
    rather than hand asyncio writes it drops with a ``socket.send() raised exception.`` each."""
    _, b, key, ca, cb = _configs()
    async with listen("127.0.0.1", 0, config=cb, peers=b.peers, guard=b.guard) as listener:
        client = await connect("127.0.0.1", listener.port, config=ca, peer_static=b.public, line_key=key)
        server = await listener.accept()
        await client.send(b"unread by the server")
        await asyncio.sleep(0.1)
        far = server._p.transport
        assert far is not None
        # a peer killed with unread data answers with a reset: SO_LINGER 0 makes the close one
        far.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        far.abort()
        await asyncio.sleep(0)  # the server's socket closes; our reader has not run yet
        sent = 0
        with caplog.at_level(logging.WARNING, logger="asyncio"), pytest.raises(ChannelClosed):
            for _ in range(64):  # a document sender's burst, which does not yield while the socket takes it
                client.send_nowait(bytes(60_000))
                sent += 1
                await client.drain()
        assert sent < 5, sent  # asyncio starts warning at the fifth write after the loss
        assert not [r for r in caplog.records if r.name == "asyncio"], caplog.text
        closed = await client.wait_closed()
        assert closed.code is ErrorCode.CONNECTION_LOST
