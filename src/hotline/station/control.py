"""The control socket: JSON lines over a Unix socket only the station's owner can open (docs/control.md)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os

import msgspec

from hotline.station.errors import StationError
from hotline.station.requests import Requests
from hotline.station.service import Station

log = logging.getLogger("hotline.control")

#: The longest request line accepted.
MAX_REQUEST = 1024 * 1024

_ENCODER = msgspec.json.Encoder()


class _Request(msgspec.Struct, forbid_unknown_fields=True):
    op: str
    args: dict[str, object] = {}


_DECODER = msgspec.json.Decoder(_Request)


async def serve_control(station: Station) -> None:
    """Serve the control socket until cancelled."""
    path = station.paths.control
    with contextlib.suppress(FileNotFoundError):
        path.unlink()  # a stale socket from a killed daemon; the store lock proved nobody else runs
    requests = Requests(station)
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
    async def send(message: dict[str, object]) -> None:
        writer.write(_ENCODER.encode(message) + b"\n")
        await writer.drain()

    async def emit(event: dict[str, object]) -> None:
        await send({"ok": True, "event": event})

    try:
        while True:
            try:
                line = await reader.readline()
            except ValueError:
                await send(_error("bad-request", f"a request is at most {MAX_REQUEST} bytes"))
                return
            if not line:
                return
            try:
                request = _DECODER.decode(line)
            except msgspec.DecodeError as exc:
                await send(_error("bad-request", f"not a request: {exc}"))
                continue
            try:
                result = await _handle_until_gone(requests, request, emit, reader)
            except StationError as exc:
                await send(_error(exc.code, exc.message))
                continue
            except Exception as exc:  # a bug: say so, keep serving
                log.exception("request failed", extra={"op": request.op})
                await send(_error("internal", f"internal error: {exc.__class__.__name__}: {exc}"))
                continue
            if result is None:
                return
            await send({"ok": True, "result": result})
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def _handle_until_gone(
    requests: Requests, request: _Request, emit: object, reader: asyncio.StreamReader
) -> dict[str, object] | None:
    """Run the request; stop it if the client goes away (for ``follow``, the only way it ends)."""
    work = asyncio.ensure_future(requests.handle(request.op, request.args, emit))  # type: ignore[arg-type]
    # follow streams and pairings wait on others: when the client goes, they must end too
    if not (request.args.get("follow") or request.op.startswith("pair.")):
        return await work
    gone = asyncio.ensure_future(reader.read(1))
    try:
        done, _ = await asyncio.wait({work, gone}, return_when=asyncio.FIRST_COMPLETED)
        if work in done:
            return work.result()
        return None
    finally:
        for task in (work, gone):
            task.cancel()
        await asyncio.gather(work, gone, return_exceptions=True)


def _error(code: str, message: str) -> dict[str, object]:
    return {"ok": False, "error": {"code": code, "message": message}}


__all__ = ["serve_control"]
