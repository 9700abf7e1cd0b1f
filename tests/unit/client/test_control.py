"""The control client against a scripted daemon: framing, errors, streams and a missing daemon.

Each test runs one exchange over a real Unix socket in tmp_path (docs/control.md "Framing").
"""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from typing import Any

import pytest

from hotline.client import MAX_LINE, ControlClient, ControlError, NotRunning
from tests.unit.client.fake_daemon import Conn, FakeDaemon, answer, stream


async def _raw_server(path: Path, reply: bytes, received: list[bytes]) -> asyncio.Server:
    """A server that records the first request line and answers it with ``reply`` bytes verbatim."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.append(await reader.readline())
        writer.write(reply)
        await writer.drain()
        writer.close()

    return await asyncio.start_unix_server(serve, path=str(path))


async def test_request_sends_one_json_line_and_returns_the_result(tmp_path: Path) -> None:
    received: list[bytes] = []
    server = await _raw_server(tmp_path / "c.sock", b'{"ok": true, "result": {"name": "moscow"}}\n', received)
    async with server, await ControlClient.connect(tmp_path / "c.sock") as client:
        result = await client.request("send", peer="jerusalem", text="é\n", precedence="flash")
    assert result == {"name": "moscow"}
    [line] = received
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert json.loads(line) == {
        "op": "send",
        "args": {"peer": "jerusalem", "text": "é\n", "precedence": "flash"},
    }


async def test_requests_on_one_connection_are_answered_in_order(tmp_path: Path) -> None:
    async def echo(args: dict[str, Any], conn: Conn) -> None:
        await asyncio.sleep(0.01 * args["n"] % 3)  # answer some later than others would be sent
        await conn.result({"n": args["n"]})

    async with (
        FakeDaemon(tmp_path / "c.sock", {"echo": echo}) as daemon,
        await ControlClient.connect(daemon.path) as client,
    ):
        # Tasks share the client; the lock must pair each answer with its own request.
        results = await asyncio.gather(*(client.request("echo", n=n) for n in range(8)))
    assert [r["n"] for r in results] == list(range(8))
    assert daemon.connections == 1


async def test_error_answer_raises_control_error_and_the_connection_stays_usable(tmp_path: Path) -> None:
    async def no_line(args: dict[str, Any], conn: Conn) -> None:
        await conn.error("no-such-line", f"no line to {args['peer']!r} (see `hotline line list`)")

    handlers = {"line.remove": no_line, "card": answer({"name": "moscow"})}
    async with (
        FakeDaemon(tmp_path / "c.sock", handlers) as daemon,
        await ControlClient.connect(daemon.path) as client,
    ):
        with pytest.raises(ControlError) as caught:
            await client.request("line.remove", peer="x")
        assert await client.request("card") == {"name": "moscow"}
    assert caught.value.code == "no-such-line"
    assert caught.value.message == "no line to 'x' (see `hotline line list`)"
    assert not isinstance(caught.value, NotRunning)


async def test_connect_without_a_socket_file_is_not_running(tmp_path: Path) -> None:
    with pytest.raises(NotRunning) as caught:
        await ControlClient.connect(tmp_path / "control.sock")
    assert caught.value.code == "not-running"
    assert isinstance(caught.value, ControlError)


async def test_connect_to_a_stale_socket_file_is_not_running(tmp_path: Path) -> None:
    # What a killed daemon leaves behind: the socket file exists but nobody listens on it.
    path = tmp_path / "control.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(str(path))
    assert path.exists()
    with pytest.raises(NotRunning):
        await ControlClient.connect(path)


async def test_stream_yields_only_events_and_keeps_the_result(tmp_path: Path) -> None:
    delivered = {"id": "aaaaaaaaaaaaaaaa", "state": "delivered"}
    handlers = {"wait": stream({"message": delivered}, result=delivered), "card": answer({"name": "m"})}
    async with (
        FakeDaemon(tmp_path / "c.sock", handlers) as daemon,
        await ControlClient.connect(daemon.path) as client,
    ):
        events = client.stream("wait", id="aaaaaaaaaaaaaaaa", timeout=5)
        assert daemon.requests == []  # nothing is sent before iteration starts
        seen = [event async for event in events]
        # the stream ended on its result, leaving the connection ready for the next request
        assert await client.request("card") == {"name": "m"}
    assert seen == [{"message": delivered}]
    assert events.result == delivered
    assert daemon.requests[0] == ("wait", {"id": "aaaaaaaaaaaaaaaa", "timeout": 5})


async def test_stream_error_raises_and_leaves_the_connection_usable(tmp_path: Path) -> None:
    async def times_out(args: dict[str, Any], conn: Conn) -> None:
        await conn.error("timeout", "no receipt within 1 s (it stays queued)")

    handlers = {"wait": times_out, "card": answer({"name": "m"})}
    async with (
        FakeDaemon(tmp_path / "c.sock", handlers) as daemon,
        await ControlClient.connect(daemon.path) as client,
    ):
        with pytest.raises(ControlError) as caught:
            async for _ in client.stream("wait", id="x", timeout=1):
                pass
        assert await client.request("card") == {"name": "m"}
    assert caught.value.code == "timeout"


async def test_closing_an_unfinished_follow_stream_closes_the_connection(tmp_path: Path) -> None:
    alert = {"alert": {"at": 1.0, "peer": "j", "kind": "line-down", "detail": ""}}
    async with FakeDaemon(tmp_path / "c.sock", {"inbox": stream(alert)}) as daemon:
        client = await ControlClient.connect(daemon.path)
        async with client.stream("inbox", follow=True) as events:
            first = await anext(events)
        assert first == alert
        # docs/control.md: a follow stream ends only when the client closes the connection
        assert client.closed
        with pytest.raises(ControlError) as caught:
            await client.request("card")
        assert caught.value.code == "connection-lost"
        await client.close()


async def test_daemon_closing_mid_request_is_connection_lost(tmp_path: Path) -> None:
    async def hang_up(args: dict[str, Any], conn: Conn) -> None:
        await conn.raw(b'{"ok": true, "res')  # part of an answer, then the socket closes
        conn.writer.close()

    async with (
        FakeDaemon(tmp_path / "c.sock", {"status": hang_up}) as daemon,
        await ControlClient.connect(daemon.path) as client,
    ):
        with pytest.raises(ControlError) as caught:
            await client.request("status")
        assert client.closed
    assert caught.value.code == "connection-lost"


@pytest.mark.parametrize(
    "reply",
    [
        b"not json\n",
        b'{"ok": true}\n',  # neither result nor event
        b'{"ok": true, "result": {}, "event": {}}\n',  # both
        b'{"ok": false}\n',  # an error without its body
        b'{"ok": true, "result": [1, 2]}\n',  # a result that is not an object
        b'{"ok": false, "error": {"code": "x"}}\n',  # an error without a message
    ],
)
async def test_malformed_answers_are_bad_response(tmp_path: Path, reply: bytes) -> None:
    server = await _raw_server(tmp_path / "c.sock", reply, [])
    async with server, await ControlClient.connect(tmp_path / "c.sock") as client:
        with pytest.raises(ControlError) as caught:
            await client.request("status")
        assert client.closed
    assert caught.value.code == "bad-response"


async def test_an_event_answering_a_plain_request_is_bad_response(tmp_path: Path) -> None:
    async with (
        FakeDaemon(tmp_path / "c.sock", {"status": stream({"message": {}}, result={})}) as daemon,
        await ControlClient.connect(daemon.path) as client,
    ):
        with pytest.raises(ControlError) as caught:
            await client.request("status")
    assert caught.value.code == "bad-response"


async def test_answers_far_beyond_asyncios_default_line_limit_are_read(tmp_path: Path) -> None:
    # asyncio's default limit is 64 KiB; an inbox or log result easily exceeds it.
    big = "x" * (4 * 1024 * 1024)
    async with (
        FakeDaemon(tmp_path / "c.sock", {"log": answer({"text": big})}) as daemon,
        await ControlClient.connect(daemon.path) as client,
    ):
        assert (await client.request("log"))["text"] == big


async def test_an_answer_over_the_line_limit_is_bad_response(tmp_path: Path) -> None:
    reply = b'{"ok": true, "result": {"t": "' + b"x" * MAX_LINE + b'"}}\n'
    server = await _raw_server(tmp_path / "c.sock", reply, [])
    async with server, await ControlClient.connect(tmp_path / "c.sock") as client:
        with pytest.raises(ControlError) as caught:
            await client.request("log")
    assert caught.value.code == "bad-response"


async def test_a_cancelled_request_closes_the_connection(tmp_path: Path) -> None:
    """A request cut short leaves its answer in flight; it must never be read as the next one's."""

    async def slow(args: dict[str, Any], conn: Conn) -> None:
        await asyncio.sleep(0.2)
        await conn.result({"op": "slow"})

    handlers = {"slow": slow, "card": answer({"op": "card"})}
    async with (
        FakeDaemon(tmp_path / "c.sock", handlers) as daemon,
        await ControlClient.connect(daemon.path) as client,
    ):
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):
                await client.request("slow")
        assert client.closed
        with pytest.raises(ControlError) as caught:
            await client.request("card")
    assert caught.value.code == "connection-lost"


async def test_close_is_idempotent_and_the_daemon_sees_the_end(tmp_path: Path) -> None:
    seen_eof = asyncio.Event()

    async def watch(args: dict[str, Any], conn: Conn) -> None:
        await conn.result({})
        await conn.until_closed()
        seen_eof.set()

    async with FakeDaemon(tmp_path / "c.sock", {"watch": watch}) as daemon:
        client = await ControlClient.connect(daemon.path)
        await client.request("watch")
        await client.close()
        await client.close()
        async with asyncio.timeout(5):
            await seen_eof.wait()
