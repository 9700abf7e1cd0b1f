"""Sessions of each line profile on real loopback sockets (hotline.net.tcp, unchanged by profiles),
and two ends whose profiles disagree (docs/protocol.md §3.8)."""

from __future__ import annotations

import asyncio

import pytest

from hotline.net.tcp import ChannelClosed, connect, listen
from hotline.proto.errors import ErrorCode
from hotline.proto.events import ProfileMismatch
from hotline.proto.session import SessionConfig
from hotline.proto.suites import CNSA2, STANDARD, Suite
from tests.support.pair import make_stations


def _line(suite: Suite):  # type: ignore[no-untyped-def]
    return lambda _key: suite


@pytest.mark.parametrize("suite", [STANDARD, CNSA2], ids=lambda s: s.profile)
async def test_a_line_s_profile_over_tcp(suite: Suite) -> None:
    """Both ends decide per line: messages both ways, across rekeys, under the line's profile."""
    a, b, key = make_stations()
    ca = SessionConfig(static=a.static, suite_for=_line(suite), rekey_after_records=40)
    cb = SessionConfig(static=b.static, suite_for=_line(suite), rekey_after_records=40)
    async with listen("127.0.0.1", 0, config=cb, peers=b.peers, guard=b.guard) as listener:
        client = await connect("127.0.0.1", listener.port, config=ca, peer_static=b.public, line_key=key)
        server = await listener.accept()
        assert client.protocol_name == server.protocol_name == suite.protocol_name
        for i in range(300):
            await client.send(i.to_bytes(4, "big") * 50)
            await server.send(i.to_bytes(4, "big"))
            await asyncio.sleep(0)
        for i in range(300):
            assert await server.receive() == i.to_bytes(4, "big") * 50
            assert await client.receive() == i.to_bytes(4, "big")
        assert client.rekeys >= 2 and client.epoch == server.epoch
        await client.close()
        assert (await server.wait_closed()).code is ErrorCode.LOCAL_CLOSE


async def test_ends_of_different_profiles_get_no_session_and_the_responder_hears_why() -> None:
    a, b, key = make_stations()
    seen: list[ProfileMismatch] = []
    ca = SessionConfig(static=a.static, suite_for=_line(CNSA2), handshake_timeout=0.5)
    cb = SessionConfig(
        static=b.static, suite_for=_line(STANDARD), on_profile_mismatch=seen.append, handshake_timeout=0.5
    )
    async with listen("127.0.0.1", 0, config=cb, peers=b.peers, guard=b.guard) as listener:
        with pytest.raises(ChannelClosed) as failed:
            await connect("127.0.0.1", listener.port, config=ca, peer_static=b.public, line_key=key)
        # the dialler heard nothing: it gave up at its handshake timeout
        assert failed.value.code in (ErrorCode.HANDSHAKE_TIMEOUT, ErrorCode.CONNECTION_LOST)
        assert seen == [ProfileMismatch(a.public, "cnsa2", "standard")]
        assert listener.pending == 0
