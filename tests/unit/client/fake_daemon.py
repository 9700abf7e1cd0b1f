"""A scripted stand-in for the daemon's control socket (docs/control.md "Framing").

Each op gets a handler ``async (args, conn) -> None`` that answers through ``conn``: a result, events,
an error or raw bytes, so a test can script both well-behaved and broken daemons. Every request is
recorded in ``requests`` as ``(op, args)``. Run it in the test's own loop (``async with FakeDaemon(…)``)
for client tests, or in a background thread (:func:`in_thread`) for CLI tests, whose commands call
``asyncio.run`` themselves.

Python 3.11's ``Server.wait_closed`` does not wait for connection handlers, so this server tracks its
handler tasks and finishes them on :meth:`FakeDaemon.stop`; the conftest fails tests that leak tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, Self

__all__ = ["Conn", "FakeDaemon", "Handler", "answer", "in_thread", "stream"]


class Conn:
    """One client connection, as a handler sees it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def raw(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def send(self, obj: dict[str, Any]) -> None:
        await self.raw(json.dumps(obj).encode() + b"\n")

    async def result(self, value: dict[str, Any]) -> None:
        await self.send({"ok": True, "result": value})

    async def event(self, value: dict[str, Any]) -> None:
        await self.send({"ok": True, "event": value})

    async def error(self, code: str, message: str) -> None:
        await self.send({"ok": False, "error": {"code": code, "message": message}})

    async def until_closed(self) -> None:
        """Wait until the client closes the connection (how a follow stream ends)."""
        while await self.reader.read(4096):
            pass


Handler = Callable[[dict[str, Any], Conn], Awaitable[None]]


def answer(value: dict[str, Any]) -> Handler:
    """A handler answering every request with the result ``value``."""

    async def handler(args: dict[str, Any], conn: Conn) -> None:
        await conn.result(value)

    return handler


def stream(*events: dict[str, Any], result: dict[str, Any] | None = None) -> Handler:
    """A handler streaming ``events``, then ``result`` (or, without one, waiting for the client to go)."""

    async def handler(args: dict[str, Any], conn: Conn) -> None:
        for event in events:
            await conn.event(event)
        if result is not None:
            await conn.result(result)
        else:
            await conn.until_closed()

    return handler


class FakeDaemon:
    """A control socket at ``path`` answering with ``handlers``; unknown ops get ``bad-request``."""

    def __init__(self, path: Path, handlers: dict[str, Handler] | None = None) -> None:
        self.path = path
        self.handlers: dict[str, Handler] = dict(handlers or {})
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_unix_server(self._serve, path=str(self.path))

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()
        for writer in list(self._writers):
            writer.close()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        for task in self._tasks:
            task.cancel()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        self.connections += 1
        conn = Conn(reader, writer)
        try:
            while line := await reader.readline():
                request = json.loads(line)
                op, args = request["op"], request.get("args", {})
                self.requests.append((op, args))
                handler = self.handlers.get(op)
                if handler is None:
                    await conn.error("bad-request", f"unknown request {op!r}")
                else:
                    await handler(args, conn)
        except ConnectionError:
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
            self._tasks.discard(task)


@contextlib.contextmanager
def in_thread(daemon: FakeDaemon) -> Iterator[FakeDaemon]:
    """Run ``daemon`` on its own loop in a background thread for the duration of the block."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(daemon.start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, name="fake-daemon", daemon=True)
    thread.start()
    assert ready.wait(10), "the fake daemon did not start"
    try:
        yield daemon
    finally:
        asyncio.run_coroutine_threadsafe(daemon.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
