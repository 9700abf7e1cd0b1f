"""What the calls wing asks of the rest of the station, and nothing more.

Calls never import the line, the station or the request handlers: the desk is given a station that
has these few things (publish and record events, the store worker, the config, a place to run
tasks), and each call is given the line it is on and the session that carries it, through the
protocols below. The station's composition root hands its own objects in; tests hand in stand-ins.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, Protocol, TypeVar

from hotline.net.udp import Address
from hotline.proto.carrier import CarrierStatus, Lane
from hotline.proto.carriermode import CarrierSetting
from hotline.station.alertkinds import AlertKind
from hotline.station.config import StationConfig
from hotline.station.worker import StoreWorker


class CallChannel(Protocol):
    """The session's secure channel, as a call uses it: signals and session media go through it."""

    @property
    def handshake_hash(self) -> bytes:
        """The session's handshake hash: each call's keys are bound to it."""
        ...

    @property
    def protocol_name(self) -> str:
        """The session's Noise protocol name: its line profile, whose KEM, hash and AEAD a call uses."""
        ...

    @property
    def is_closed(self) -> bool:
        """Whether the session has ended."""
        ...

    @property
    def peer_ip_port(self) -> Address | None:
        """Where the far end is, or None once the socket is gone."""
        ...

    @property
    def carrier(self) -> CarrierSetting | None:
        """The session's carrier setting, or None when it runs without one."""
        ...

    def carrier_status(self) -> CarrierStatus | None:
        """What waits in the carrier's lanes (None without a carrier)."""
        ...

    def send_nowait(self, data: bytes, lane: Lane = ...) -> None:
        """Queue one payload without waiting (in carrier mode, in ``lane``; raises ``LaneFull``
        when it has no room)."""

    def flush(self) -> None:
        """Put what is queued on the wire now."""


class CallSession(Protocol):
    """One session of a line: the one a call starts on is the one it lives and dies with."""

    @property
    def channel(self) -> CallChannel: ...

    @property
    def initiated(self) -> bool:
        """We dialled it (so our first media packets go to the address we dialled)."""
        ...


class CallLineRow(Protocol):
    """The line's stored row, as far as calls read it."""

    @property
    def id(self) -> int: ...

    @property
    def verified(self) -> bool:
        """Calls need a verified line."""
        ...


class CallLine(Protocol):
    """A line, as a call sees it: its peer, its row, its current session, its alerts."""

    @property
    def peer(self) -> str: ...

    @property
    def row(self) -> CallLineRow: ...

    @property
    def current(self) -> CallSession | None:
        """The session carrying the line now, if any."""
        ...

    @property
    def up(self) -> bool:
        """A session is up and has said hello."""
        ...

    def alert(self, kind: AlertKind, detail: str, *, active: bool = True, logged: str | None = None) -> None:
        """Raise an alert on the line (logged, stored and shown to operators)."""


class StationName(Protocol):
    """The station's identity, as calls use it: only its name (for trace files)."""

    @property
    def name(self) -> str: ...


class CallServices(Protocol):
    """What one live call asks of the station: its config (read each time: it can change), the
    store worker and the event feed of ``inbox --follow``."""

    @property
    def config(self) -> StationConfig: ...

    @property
    def worker(self) -> StoreWorker: ...

    def publish(self, event: dict[str, object]) -> None:
        """Tell every follower about ``event``."""


#: The station's own type of line: the desk hands back to ``record`` the line it was given.
LineT_contra = TypeVar("LineT_contra", bound=CallLine, contravariant=True)


class CallStation(CallServices, Protocol[LineT_contra]):
    """What the call desk asks of the station, over what each call asks."""

    @property
    def identity(self) -> StationName: ...

    def record(self, line: LineT_contra | None, kind: str, detail: dict[str, object]) -> None:
        """Store an event of ``line`` in the background."""

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run ``coro`` as a child of the station's task group."""


__all__ = [
    "CallChannel",
    "CallLine",
    "CallLineRow",
    "CallServices",
    "CallSession",
    "CallStation",
    "LineT_contra",
    "StationName",
]
