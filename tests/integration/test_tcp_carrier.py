"""Two sessions in carrier mode on real loopback sockets (hotline.net.tcp, docs/protocol.md §14)."""

from __future__ import annotations

import asyncio
import socket

from hotline.net import driver
from hotline.net.tcp import connect, listen
from hotline.proto.carrier import Lane, LaneFull
from hotline.proto.carriermode import CarrierSetting
from hotline.proto.errors import ErrorCode
from hotline.proto.session import SessionConfig
from tests.support.pair import make_stations

SETTING = CarrierSetting(cell_size=16384, interval=0.01)


def _configs(setting: CarrierSetting = SETTING, **kw: object) -> tuple:
    a, b, key = make_stations()
    ca = SessionConfig(static=a.static, carrier=setting, **kw)  # type: ignore[arg-type]
    cb = SessionConfig(static=b.static, carrier=setting, **kw)  # type: ignore[arg-type]
    return a, b, key, ca, cb


async def test_lanes_deliver_everything_in_order_through_full_lanes() -> None:
    """More than a lane holds, in three lanes at once: ``send`` waits for room, nothing is lost or
    reordered within a lane,."""
    _, b, key, ca, cb = _configs()
    async with listen("127.0.0.1", 0, config=cb, peers=b.peers, guard=b.guard) as listener:
        client = await connect("127.0.0.1", listener.port, config=ca, peer_static=b.public, line_key=key)
        server = await listener.accept()
        assert client.carrier == SETTING and server.carrier == SETTING
        # the cells go through the cell clock's thread, on both ends
        assert client._p._paced is not None and server._p._paced is not None
        payload = {Lane.DOCUMENTS: 60_000, Lane.MESSAGES: 3_000, Lane.FLASH: 200}
        counts = {Lane.DOCUMENTS: 80, Lane.MESSAGES: 40, Lane.FLASH: 5}  # ~5 MB: past 2 MiB per lane

        async def pump(lane: Lane) -> None:
            for i in range(counts[lane]):
                await client.send(bytes([lane]) + i.to_bytes(4, "big") + bytes(payload[lane]), lane)

        async def collect() -> dict[Lane, list[int]]:
            got: dict[Lane, list[int]] = {lane: [] for lane in counts}
            for _ in range(sum(counts.values())):
                data = await server.receive()
                got[Lane(data[0])].append(int.from_bytes(data[1:5], "big"))
            return got

        *_, got = await asyncio.gather(*(pump(lane) for lane in counts), collect())
        assert got == {lane: list(range(n)) for lane, n in counts.items()}
        status = client.carrier_status()
        assert status is not None and status.cells > 0
        assert all(w.bytes == 0 for w in status.waiting.values())
        sent, received = client.records
        assert server.records[1] == sent and received > 0
        await client.close()
        await server.wait_closed()


async def test_send_nowait_refuses_what_a_full_lane_cannot_take() -> None:
    _, b, key, ca, cb = _configs(CarrierSetting(cell_size=256, interval=1.0))
    async with listen("127.0.0.1", 0, config=cb, peers=b.peers, guard=b.guard) as listener:
        client = await connect("127.0.0.1", listener.port, config=ca, peer_static=b.public, line_key=key)
        server = await listener.accept()
        room = client.room(Lane.DOCUMENTS)
        assert room is not None and room > 0
        client.send_nowait(bytes(min(room, 65_000)), Lane.DOCUMENTS)
        refused = 0
        for _ in range(100):
            try:
                client.send_nowait(bytes(65_000), Lane.DOCUMENTS)
            except LaneFull:
                refused += 1
                break
        assert refused == 1
        assert client.room(Lane.DOCUMENTS) is not None
        await client.close()
        await server.wait_closed()


async def test_a_peer_that_stops_reading_ends_the_carrier_instead_of_filling_memory() -> None:
    """The carrier never waits; a peer that reads nothing would make its cells pile up in our
    socket buffer. Past the bound the session ends, and memory stays bounded."""
    _, b, key, ca, cb = _configs(CarrierSetting(cell_size=16384, interval=0.01), keepalive_interval=60.0)
    old = driver.CARRIER_WRITE_LIMIT
    driver.CARRIER_WRITE_LIMIT = 2**20
    try:
        async with listen("127.0.0.1", 0, config=cb, peers=b.peers, guard=b.guard) as listener:
            client = await connect("127.0.0.1", listener.port, config=ca, peer_static=b.public, line_key=key)
            server = await listener.accept()
            # the server's process stops reading: the kernel's buffers fill (the client's kept
            # small), then the client's own buffer grows with every cell
            client._p.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
            server._p.transport.pause_reading()
            closed = await asyncio.wait_for(client.wait_closed(), 60)
            assert closed.code is ErrorCode.IDLE_TIMEOUT
            assert "stopped reading" in closed.reason
    finally:
        driver.CARRIER_WRITE_LIMIT = old
