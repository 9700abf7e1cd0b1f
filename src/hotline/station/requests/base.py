"""What every request handler shares: the argument base, the event callback, the station it asks, checks.

A handler is a plain async function ``handler(station, args, emit) -> dict``: ``station`` is the
:class:`StationHost` (what requests may ask of a station; :class:`hotline.station.service.Station` is
one), ``args`` its strict :class:`Args` struct, ``emit`` the callback for events of a streaming
request. It returns a JSON-ready dict or raises :class:`~hotline.station.errors.StationError`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

import msgspec

from hotline.proto.cards import StationCard
from hotline.proto.identity import Identity
from hotline.station import outfile
from hotline.station.calls.desk import CallDesk
from hotline.station.config import StationConfig
from hotline.station.documents import DocumentDesk
from hotline.station.errors import StationError
from hotline.station.events import EventBus
from hotline.station.handshakes import HandshakeDefence
from hotline.station.home import StationPaths
from hotline.station.lines.line import Line
from hotline.station.lines.registry import LineRegistry
from hotline.station.pairing import PairingClaims, PairingHost
from hotline.station.quotas import QuotaDesk
from hotline.station.worker import StoreWorker
from hotline.store.rows import LineRow, MessageRow

#: Hands one event of a streaming request to its client.
Emit = Callable[[dict[str, object]], Awaitable[None]]


class Args(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A request's arguments: unknown or mistyped ones are refused (``bad-request``) before anything runs."""


class NoArgs(Args):
    """A request that takes no arguments."""


class PeerArgs(Args):
    """A request about one line."""

    peer: str


class StationHost(PairingHost, Protocol):
    """What request handlers ask of a station."""

    @property
    def paths(self) -> StationPaths: ...
    @property
    def config(self) -> StationConfig: ...
    @property
    def identity(self) -> Identity: ...
    @property
    def worker(self) -> StoreWorker: ...
    @property
    def running(self) -> bool: ...
    @property
    def started_at(self) -> float: ...
    @property
    def listen_port(self) -> int | None: ...
    @property
    def registry(self) -> LineRegistry: ...
    @property
    def lines(self) -> dict[str, Line]: ...
    @property
    def events(self) -> EventBus: ...
    @property
    def handshakes(self) -> HandshakeDefence: ...
    @property
    def quotas(self) -> QuotaDesk: ...
    @property
    def calls(self) -> CallDesk[Line]: ...
    @property
    def documents(self) -> DocumentDesk[Line]: ...
    @property
    def pairings(self) -> PairingClaims: ...

    def line(self, peer: str) -> Line: ...
    def card(self) -> StationCard: ...
    async def add_line(self, row: LineRow) -> Line: ...
    def drop_line(self, peer: str) -> None: ...
    def describe(self, row: MessageRow, line: Line | None = None) -> dict[str, object]: ...


def need_running(station: StationHost, what: str) -> None:
    """Refuse what only a serving daemon can do (``what`` names it for the operator).

    Raises:
        StationError: ``not-running``.
    """
    if not station.running:
        raise StationError("not-running", f"{what} needs the station running: start it with `hotline up`")


def check_peer_name(peer: str) -> None:
    """Refuse a line name operators could not type back.

    Raises:
        StationError: ``bad-request``.
    """
    if not peer or len(peer) > 64 or not all(c.isalnum() or c in "-_." for c in peer):
        raise StationError(
            "bad-request", f"{peer!r} is not a line name: use 1 to 64 letters, digits, '-', '_', '.'"
        )


def absolute_path(value: str, name: str, does: str) -> Path:
    """``value`` as a path the daemon ``does`` (reads, writes, opens): it must be absolute.

    Raises:
        StationError: ``bad-request`` naming the argument ``name``.
    """
    path = Path(value)
    if not path.is_absolute():
        raise StationError("bad-request", f"`{name}` must be an absolute path (the daemon {does} it)")
    return path


def new_output_file(value: str, name: str = "out") -> Path:
    """The path of a file the station will write for an operator: absolute, and nothing there yet.

    The file itself is made by :func:`hotline.station.outfile.create` (new, 0600, never through a
    symbolic link, never over another file); this checks early, before slow work.

    Raises:
        StationError: ``bad-request``.
    """
    path = absolute_path(value, name, "writes")
    outfile.check_new(path)
    return path


__all__ = [
    "Args",
    "Emit",
    "NoArgs",
    "PeerArgs",
    "StationHost",
    "absolute_path",
    "check_peer_name",
    "need_running",
    "new_output_file",
]
