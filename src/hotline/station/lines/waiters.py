"""Who waits for the peer's receipt of which of our entries on a line
(:mod:`hotline.station.lines.delivery`): an operator's request that waits until its message is
delivered."""

from __future__ import annotations

import asyncio
import contextlib


class ReceiptWaiters:
    """Futures set to the receipt's time when the entry they wait for is receipted. Belongs to the
    line's event loop."""

    __slots__ = ("_waiting",)

    def __init__(self) -> None:
        self._waiting: dict[bytes, list[asyncio.Future[float]]] = {}

    def add(self, message_id: bytes) -> asyncio.Future[float]:
        """A future set to the receipt's time when ``message_id`` (outbound) is receipted."""
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(message_id, []).append(future)
        return future

    def remove(self, message_id: bytes, future: asyncio.Future[float]) -> None:
        """Drop a waiter that is no longer needed."""
        waiting = self._waiting.get(message_id)
        if waiting is not None:
            with contextlib.suppress(ValueError):
                waiting.remove(future)
            if not waiting:
                del self._waiting[message_id]

    def delivered(self, message_id: bytes, at: float) -> None:
        """``message_id`` was receipted at ``at``: wake whoever waits for it."""
        for waiter in self._waiting.pop(message_id, []):
            if not waiter.done():
                waiter.set_result(at)


__all__ = ["ReceiptWaiters"]
