"""The control-socket client: one JSON line out, one (or, for streams, several) JSON lines back.

Framing is docs/control.md "Framing": a request is ``{"op": …, "args": {…}}`` on one ``\\n``-terminated
line; each answer line is ``{"ok": true, "result": …}``, ``{"ok": true, "event": …}`` (streams only) or
``{"ok": false, "error": {"code", "message"}}``. The daemon answers requests on one connection in order,
so this client keeps exactly one request in flight per connection and serialises callers with a lock.

Rules we keep:

* A request whose answer was not read in full (cancelled, or the line broke) poisons the connection: the
  next request would read the stale answer as its own. We close the connection instead, and every later
  call raises ``ControlError("connection-lost")``.
* A stream holds the connection until its final ``result`` line arrives. ``inbox`` with ``follow`` never
  sends one, and the only way to end it is to close the connection (docs/control.md), so closing an
  unfinished stream closes its client too. The console should give a follow stream its own client.

This module knows the wire shape of answers and nothing of what results mean.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from types import TracebackType
from typing import Any, Self

import msgspec

from hotline.client.errors import ControlError, NotRunning

__all__ = ["MAX_LINE", "ControlClient", "ControlStream"]

#: The longest answer line we read. Inbox and log results can be large; 16 MiB keeps a runaway
#: daemon from growing our buffer without bound.
MAX_LINE = 16 * 1024 * 1024


class _Request(msgspec.Struct):
    op: str
    args: dict[str, Any]


class _ErrorBody(msgspec.Struct):
    code: str
    message: str


class _Reply(msgspec.Struct):
    ok: bool
    result: dict[str, Any] | None = None
    event: dict[str, Any] | None = None
    error: _ErrorBody | None = None


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(_Reply)


class ControlClient:
    """A connection to a station's control socket.

    Safe to share between tasks of one event loop: requests queue on a lock and are answered in order.
    Create it with :meth:`connect`; close it with :meth:`close` or by using it as an async context manager.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Wrap an open stream pair; most callers want :meth:`connect` instead."""
        self._reader = reader
        self._writer = writer
        self._lock = asyncio.Lock()
        self._closed = False

    @classmethod
    async def connect(cls, path: str | os.PathLike[str]) -> Self:
        """Open the control socket at ``path``.

        Args:
            path: the socket file, normally ``<station home>/control.sock``.

        Returns:
            A connected client.

        Raises:
            NotRunning: the socket file is missing or nothing accepts connections on it (a daemon that
                died leaves its socket file behind, which then refuses).
            OSError: anything else, e.g. permission denied or a path too long for a Unix socket.
        """
        where = os.fspath(path)
        # Checked first because a missing file is the normal "daemon stopped" case, and connecting to a
        # path longer than sun_path would fail with a less helpful error before it looked for the file.
        if not os.path.exists(where):
            raise NotRunning(f"there is no control socket at {where}")
        try:
            reader, writer = await asyncio.open_unix_connection(where, limit=MAX_LINE)
        except FileNotFoundError as exc:
            raise NotRunning(f"there is no control socket at {where}") from exc
        except ConnectionRefusedError as exc:
            raise NotRunning(f"nothing answers on the control socket at {where}") from exc
        return cls(reader, writer)

    @property
    def closed(self) -> bool:
        """Whether the connection is closed (by :meth:`close`, the daemon, or a broken request)."""
        return self._closed

    async def request(self, op: str, **args: Any) -> dict[str, Any]:
        """Send one request and return its ``result``.

        Args:
            op: the operation, e.g. ``"send"`` (docs/control.md, "Requests").
            **args: its arguments; they must encode as JSON.

        Returns:
            The ``result`` object of the answer.

        Raises:
            ControlError: the daemon answered with an error (its code and message), or the connection
                broke (``connection-lost``) or answered something that is not a result (``bad-response``).
        """
        async with self._lock:
            try:
                await self._send(op, args)
                reply = await self._read()
            except BaseException:
                self._abort()
                raise
            if reply.error is not None:
                raise ControlError(reply.error.code, reply.error.message)
            if reply.result is None:
                self._abort()
                raise ControlError("bad-response", f"the station streamed events for {op!r}, not a result")
            return reply.result

    def stream(self, op: str, **args: Any) -> ControlStream:
        """Start a streaming request (``wait``, or ``inbox`` with ``follow``) and iterate its events.

        Nothing is sent until iteration starts. See :class:`ControlStream`.
        """
        return ControlStream(self, op, args)

    async def close(self) -> None:
        """Close the connection; idempotent. An unfinished stream on it ends with ``connection-lost``."""
        self._abort()
        with contextlib.suppress(ConnectionError):
            await self._writer.wait_closed()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # --- used by ControlStream -------------------------------------------------------------------------

    async def _send(self, op: str, args: dict[str, Any]) -> None:
        if self._closed:
            raise ControlError("connection-lost", "the control connection is closed")
        try:
            self._writer.write(_encoder.encode(_Request(op, args)) + b"\n")
            await self._writer.drain()
        except ConnectionError as exc:
            raise ControlError("connection-lost", "the station closed the control connection") from exc

    async def _read(self) -> _Reply:
        try:
            line = await self._reader.readline()
        except ValueError as exc:
            # StreamReader.readline reports a line over the limit as ValueError.
            raise ControlError(
                "bad-response", f"the station sent a line longer than {MAX_LINE} bytes"
            ) from exc
        except ConnectionError as exc:
            raise ControlError("connection-lost", "the station closed the control connection") from exc
        if not line.endswith(b"\n"):
            # EOF, possibly after part of a line: either way no answer will come.
            raise ControlError("connection-lost", "the station closed the control connection")
        try:
            reply = _decoder.decode(line)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise ControlError("bad-response", f"the station sent a malformed answer ({exc})") from exc
        if reply.ok != (reply.error is None) or (
            reply.ok and (reply.result is None) == (reply.event is None)
        ):
            raise ControlError("bad-response", "the station sent an answer with the wrong fields")
        return reply

    def _abort(self) -> None:
        if not self._closed:
            self._closed = True
            self._writer.close()


class ControlStream:
    """The events of one streaming request, as an async iterator of ``event`` objects.

    The request is sent on the first ``__anext__``. Iteration ends when the final ``result`` line arrives;
    that result is then in :attr:`result`. An ``error`` line (e.g. ``timeout``, ``not-running``) raises
    :class:`ControlError` and ends the stream, leaving the connection usable.

    The stream holds its client from the first ``__anext__`` until it ends; other requests on the client
    wait for it. Close an abandoned stream with :meth:`aclose` (or ``async with``): an unfinished stream
    can only be ended by closing the connection, so that closes the client as well.
    """

    def __init__(self, client: ControlClient, op: str, args: dict[str, Any]) -> None:
        """Prepare the stream; use :meth:`ControlClient.stream` rather than calling this."""
        self._client = client
        self._op = op
        self._args = args
        self._started = False
        self._holding = False
        self._finished = False
        #: The final ``result`` object, once iteration has ended normally; ``None`` before that.
        self.result: dict[str, Any] | None = None

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> dict[str, Any]:
        if self._finished:
            raise StopAsyncIteration
        try:
            if not self._started:
                self._started = True
                await self._client._lock.acquire()
                self._holding = True
                await self._client._send(self._op, self._args)
            reply = await self._client._read()
        except BaseException:
            self._finish(abort=True)
            raise
        if reply.error is not None:
            self._finish(abort=False)
            raise ControlError(reply.error.code, reply.error.message)
        if reply.event is not None:
            return reply.event
        self.result = reply.result
        self._finish(abort=False)
        raise StopAsyncIteration

    async def aclose(self) -> None:
        """End the stream. If its result has not arrived, this closes the client's connection."""
        if not self._finished:
            self._finish(abort=self._started)
            if self._started:
                await self._client.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def _finish(self, *, abort: bool) -> None:
        if self._finished:
            return
        self._finished = True
        if abort:
            self._client._abort()
        if self._holding:
            self._holding = False
            self._client._lock.release()
