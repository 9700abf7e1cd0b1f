"""What the document wing asks of the rest of the station, as narrow typing Protocols.

The wing never imports the line, the calls, the request handlers or the station itself: the
station hands it the few things below when it builds the :class:`~hotline.station.documents.desk.
DocumentDesk`, and the line passes itself (a :class:`DocLine`) to every call. The desk is generic
in the line's type so that what it passes on to the quota desk is the line it was given.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, Protocol, TypeVar

from hotline.proto.carrier import Lane
from hotline.proto.carriermode import CarrierSetting
from hotline.station.alertkinds import AlertKind
from hotline.station.lanes import LaneChannel
from hotline.station.worker import StoreWorker
from hotline.store.db import Store
from hotline.store.rows import DocRow


class DocChannel(LaneChannel, Protocol):
    """The secure channel of a session, as documents use it."""

    @property
    def carrier(self) -> CarrierSetting | None:
        """The session's carrier (docs/protocol.md §14), or None without one."""
        ...

    async def send(self, data: bytes, lane: Lane = ..., /) -> None:
        """Send one payload, waiting for room in ``lane`` (carrier mode) and for the socket."""
        ...

    async def drain(self) -> None:
        """Wait while the socket's write buffer is full."""
        ...

    def send_parts_nowait(self, parts: list[bytes | bytearray | memoryview], lane: Lane = ..., /) -> None:
        """Queue the payload ``b"".join(parts)`` without copying the parts (borrowed until
        :meth:`own_queued` or the next loop turn)."""
        ...

    def own_queued(self) -> None:
        """Copy what is still queued of borrowed parts, so that their owner may change them."""
        ...


class DocSession(Protocol):
    """One session carrying a line: its channel, and the event set once both ends said hello."""

    @property
    def channel(self) -> DocChannel: ...

    @property
    def hello(self) -> asyncio.Event: ...


class LineIdentity(Protocol):
    """A line's stored row, as far as documents care: its id."""

    @property
    def id(self) -> int: ...


class DocDelivery(Protocol):
    """What documents ask of a line's delivery."""

    def wake(self) -> None:
        """Something was queued: send it if the line is up."""
        ...


class DocLine(Protocol):
    """A line, as documents use it: who it reaches, its current session, its alerts."""

    @property
    def row(self) -> LineIdentity: ...

    @property
    def peer(self) -> str: ...

    @property
    def current(self) -> DocSession | None:
        """The session carrying the line now, or None."""
        ...

    @property
    def delivery(self) -> DocDelivery:
        """The line's delivery (a queued DOC entry is sent through it)."""
        ...

    def alert(self, kind: AlertKind, detail: str, *, active: bool = ..., logged: str | None = ...) -> None:
        """Raise an alert on the line (``logged`` replaces ``detail`` in the log)."""
        ...


LineT = TypeVar("LineT", bound=DocLine)
LineT_contra = TypeVar("LineT_contra", bound=DocLine, contravariant=True)


class DocQuotas(Protocol[LineT_contra]):
    """The line quotas and the disk reserve (docs/protocol.md §13.1), as documents consult them."""

    def document_judge(self, line: LineT_contra) -> Callable[[Store, DocRow], None]:
        """On the event loop: what judges ``line``'s inbound documents in the store's thread (in the
        DOC entry's transaction: too big, refused; big, held), bound to values only."""
        ...

    def announced(self, line: LineT_contra, doc: DocRow) -> None:
        """The DOC entry is stored: tell the operator of a held document, the peer of a refused one."""
        ...

    def data_problem(self, line: LineT_contra, size: int) -> str | None:
        """Why ``size`` more document bytes from ``line``'s peer may not be written now, or None."""
        ...


def standard_profile(line: DocLine) -> str:
    """Every line's profile until the station says otherwise: ``standard``."""
    return "standard"


class SpawnTask(Protocol):
    """Runs a coroutine as a child of the station's task group (dropped when the station stops)."""

    def __call__(self, coro: Coroutine[Any, Any, None], /) -> None: ...


class Publish(Protocol):
    """Tells every follower of the station's events about one event."""

    def __call__(self, event: dict[str, object], /) -> None: ...


class LineForgetter(Protocol):
    """What removing a line asks of the documents: forget the line's documents."""

    def forget_line(self, line_id: int) -> None: ...


class StationWithDocuments(Protocol):
    """What removing a line's documents asks of the station: its store worker and its documents."""

    @property
    def worker(self) -> StoreWorker: ...

    @property
    def documents(self) -> LineForgetter: ...


class HomePaths(Protocol):
    """The files of a station directory, as documents use them: the directory itself."""

    @property
    def home(self) -> Path: ...


class StationWithHome(Protocol):
    """A station, as far as finding its documents' directory goes."""

    @property
    def paths(self) -> HomePaths: ...


__all__ = [
    "DocChannel",
    "DocLine",
    "DocQuotas",
    "DocSession",
    "HomePaths",
    "LineForgetter",
    "LineIdentity",
    "LineT",
    "Publish",
    "SpawnTask",
    "StationWithDocuments",
    "StationWithHome",
    "standard_profile",
]
