"""The control socket: JSON lines over a Unix socket only the station's owner can open (docs/control.md).

It knows no station: it reads requests, asks the :class:`~hotline.station.requests.dispatch.Requests`
it is given to run them (and whether each is live) and writes the answers back in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import msgspec

from hotline.station.errors import StationError
from hotline.station.requests.dispatch import Requests

log = logging.getLogger("hotline.control")

#: The longest request line accepted.
MAX_REQUEST = 1024 * 1024

_ENCODER = msgspec.json.Encoder()


class _Request(msgspec.Struct, forbid_unknown_fields=True):
    op: str
    args: dict[str, object] = {}


_DECODER = msgspec.json.Decoder(_Request)


async def serve_control(path: Path, requests: Requests) -> None:
    """Serve the control socket at ``path`` until cancelled, answering through ``requests``."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()  # a stale socket from a killed daemon; the store lock proved nobody else runs
    old = os.umask(0o177)
    try:
        server = await asyncio.start_unix_server(
            lambda r, w: _client(requests, r, w), path=str(path), limit=MAX_REQUEST
        )
    finally:
        os.umask(old)
    path.chmod(0o600)
    try:
        async with server:
            await server.serve_forever()
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


async def _client(requests: Requests, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Serve one connection. Requests are answered in order; ordinary ones run concurrently (a client
    may pipeline many ``send`` requests, and the store commits them together), live ones alone."""
    answers: asyncio.Queue[asyncio.Future[list[dict[str, object]]] | None] = asyncio.Queue()

    async def write_answers() -> None:
        while (answer := await answers.get()) is not None:
            for message in await answer:
                writer.write(_ENCODER.encode(message) + b"\n")
            if answers.empty():
                await writer.drain()
            answers.task_done()
        answers.task_done()

    async def answer(request: _Request) -> list[dict[str, object]]:
        events: list[dict[str, object]] = []

        async def collect(event: dict[str, object]) -> None:
            events.append({"ok": True, "event": event})

        return [*events, await _outcome(requests.handle(request.op, request.args, collect), request)]

    def ready(message: dict[str, object]) -> asyncio.Future[list[dict[str, object]]]:
        future: asyncio.Future[list[dict[str, object]]] = asyncio.get_running_loop().create_future()
        future.set_result([message])
        return future

    async def send_now(message: dict[str, object]) -> None:
        writer.write(_ENCODER.encode(message) + b"\n")
        await writer.drain()

    try:
        # every answer is a child of this connection's group: the writer waits for each in turn,
        # and a connection that breaks takes its unanswered work down with it
        async with asyncio.TaskGroup() as tg:
            tg.create_task(write_answers())
            try:
                await _read_requests(requests, reader, tg, answers, answer, ready, send_now)
            finally:
                answers.put_nowait(None)
    except* (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def _read_requests(
    requests: Requests,
    reader: asyncio.StreamReader,
    tg: asyncio.TaskGroup,
    answers: asyncio.Queue[asyncio.Future[list[dict[str, object]]] | None],
    answer: Callable[[_Request], Coroutine[Any, Any, list[dict[str, object]]]],
    ready: Callable[[dict[str, object]], asyncio.Future[list[dict[str, object]]]],
    send_now: Callable[[dict[str, object]], Awaitable[None]],
) -> None:
    """Read requests until the client stops: ordinary ones queue their answer (running meanwhile),
    a live one waits for everything asked before, then runs alone and streams."""
    while True:
        try:
            line = await reader.readline()
        except ValueError:
            await answers.put(ready(_error("bad-request", f"a request is at most {MAX_REQUEST} bytes")))
            return
        if not line:
            return
        try:
            request = _DECODER.decode(line)
        except msgspec.DecodeError as exc:
            await answers.put(ready(_error("bad-request", f"not a request: {exc}")))
            continue
        if not requests.is_live(request.op, request.args):
            await answers.put(tg.create_task(answer(request)))
            continue
        await answers.join()  # everything asked before is answered first

        async def emit(event: dict[str, object]) -> None:
            await send_now({"ok": True, "event": event})

        work: Awaitable[dict[str, object] | None]
        if requests.is_bounded(request.op):
            # its wait is bounded by its own timeout: no need to watch for the client leaving
            work = requests.handle(request.op, request.args, emit)
        else:
            work = _handle_until_gone(requests, request, emit, reader)
        outcome = await _outcome(work, request)
        if outcome.get("result", True) is None:
            return  # the client went away
        await send_now(outcome)


async def _outcome(work: Awaitable[dict[str, object] | None], request: _Request) -> dict[str, object]:
    try:
        result = await work
    except StationError as exc:
        return _error(exc.code, exc.message)
    except Exception as exc:  # a bug: say so, keep serving
        log.exception("request failed", extra={"op": request.op})
        return _error("internal", f"internal error: {exc.__class__.__name__}: {exc}")
    return {"ok": True, "result": result}


async def _handle_until_gone(
    requests: Requests, request: _Request, emit: object, reader: asyncio.StreamReader
) -> dict[str, object] | None:
    """Run the request; stop it if the client goes away (for ``follow``, the only way it ends)."""
    try:
        async with asyncio.TaskGroup() as tg:
            work = tg.create_task(requests.handle(request.op, request.args, emit))  # type: ignore[arg-type]
            gone = tg.create_task(_gone(reader))
            done, _ = await asyncio.wait({work, gone}, return_when=asyncio.FIRST_COMPLETED)
            work.cancel()  # a no-op once it is done
            gone.cancel()
    except* Exception as group:
        raise group.exceptions[0] from None  # the request's own error, answered by the caller
    return work.result() if work in done else None


async def _gone(reader: asyncio.StreamReader) -> None:
    """Return when the client sends more or goes away (a reset is going away too)."""
    with contextlib.suppress(Exception):
        await reader.read(1)


def _error(code: str, message: str) -> dict[str, object]:
    return {"ok": False, "error": {"code": code, "message": message}}


__all__ = ["serve_control"]
