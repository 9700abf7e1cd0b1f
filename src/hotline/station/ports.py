"""The narrow interfaces the station's wings ask of each other, and the session value they share.

The wings (``lines``, ``calls``, ``documents``) never import each other or the composition root
(:mod:`hotline.station.service`). A line does not know that documents or calls exist: it is handed a
:class:`LineContext` whose router sends every message type it does not handle itself to a
:class:`Route`, whose :class:`SessionListener` objects learn when a session starts and ends, and
whose :class:`EntryKind` hooks see the entries of their kind as they are stored. ``service.py`` wires
the real desks in; tests may wire fakes.

The interfaces are generic in the line type ``L`` a wing is handed, so the concrete desks, written
against the concrete line, fit them without casts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from hotline.net.tcp import SecureChannel
from hotline.proto.cards import StationCard
from hotline.proto.linemsg import Entry, LineMessage, Withhold
from hotline.proto.session import SessionConfig
from hotline.station.alertkinds import AlertKind
from hotline.station.config import StationConfig
from hotline.station.events import EventBus
from hotline.station.worker import StoreWorker
from hotline.store.db import Store
from hotline.store.rows import LineRow, MessageRow

L = TypeVar("L")
L_contra = TypeVar("L_contra", contravariant=True)


@dataclass(eq=False, slots=True)
class LinkSession:
    """One authenticated session carrying a line. Event loop only."""

    channel: SecureChannel
    initiated: bool
    endpoint: str
    started: float
    started_wall: float
    hello: asyncio.Event = field(default_factory=asyncio.Event)
    #: The highest sequence number sent on this session.
    cursor: int = 0
    #: We are closing it: what it still delivers is ignored.
    closing: bool = False


class DeliveryPosition(Protocol):
    """How far a line's two transcripts stand (read of :class:`hotline.proto.transcript.Transcript`)."""

    @property
    def in_seq(self) -> int:
        """The peer's entries accepted (stored, or being stored)."""
        ...

    @property
    def committed_in(self) -> tuple[int, bytes]:
        """``(seq, head)`` of the peer's entries on our disk."""
        ...

    @property
    def out_seq(self) -> int:
        """Our entries numbered."""
        ...

    @property
    def peer_seq(self) -> int:
        """The highest of our sequence numbers the peer has receipted since we started."""
        ...

    @property
    def receipted_at(self) -> float | None:
        """When ``peer_seq`` was last receipted."""
        ...


class LineDelivery(Protocol):
    """What a wing may ask of a line's delivery (:class:`hotline.station.lines.delivery.Delivery`)."""

    @property
    def machine(self) -> DeliveryPosition:
        """The transcripts' positions."""
        ...

    def wake(self) -> None:
        """Something was queued unnumbered: send it if the line is up."""
        ...

    def rewind(self, session: LinkSession, held_seq: int) -> None:
        """The peer withholds our entries after ``held_seq`` on ``session``: resend from there later."""
        ...


class Link(Protocol):
    """What a wing may ask of one line."""

    @property
    def peer(self) -> str:
        """The line's name on this station."""
        ...

    @property
    def row(self) -> LineRow:
        """The line's stored row (id, card, keys, verification)."""
        ...

    @property
    def card(self) -> StationCard:
        """The peer's card."""
        ...

    @property
    def current(self) -> LinkSession | None:
        """The session carrying the line now, up or still saying hello, if any."""
        ...

    @property
    def up(self) -> bool:
        """A session is up (both hellos exchanged)."""
        ...

    def send_now(self, message: LineMessage) -> bool:
        """Put ``message`` on the current session if the line is up; whether it went."""
        ...

    @property
    def delivery(self) -> LineDelivery:
        """The line's reliable delivery (§10)."""
        ...

    def alert(self, kind: AlertKind, detail: str, *, active: bool = True, logged: str | None = None) -> None:
        """Raise an alert on the line (see :class:`hotline.station.events.AlertBoard`)."""
        ...


#: Answers one message of its type on a line's session. False: the peer broke the protocol (the handler
#: raised the alert), and the session ends with ``PROTOCOL_VIOLATION`` (docs/protocol.md §6).
MessageHandler = Callable[[L, LinkSession, LineMessage], Awaitable[bool]]


@dataclass(frozen=True)
class Route(Generic[L]):
    """Where a line sends the messages of a type it does not handle itself."""

    handle: MessageHandler[L]
    #: What the message is called in the alert when it comes before the peer's hello (then the
    #: session ends); None: it may come before the hello.
    before_hello: str | None


class SessionListener(Protocol[L_contra]):
    """A wing that works over a line's sessions."""

    def session_tasks(self, line: L_contra, session: LinkSession) -> list[Coroutine[Any, Any, None]]:
        """The work to run beside the line's own while ``session`` lasts (cancelled when it ends)."""
        ...

    def session_ended(self, line: L_contra, session: LinkSession) -> None:
        """``session`` is over (called before the line looks for a new one)."""
        ...


class EntryKind(Protocol[L_contra]):
    """What a wing does with the inbound entries of its kind (``DOC`` entries: the documents desk)."""

    def entry_hook(self, line: L_contra) -> Callable[[Store, Entry, float], str | None]:
        """On the event loop, before the store job: what runs in the store's thread, in each entry's
        transaction (a problem to alert about, or None). It holds values only, never ``line``."""
        ...

    def doc_entry_committed(self, line: L_contra, row: MessageRow) -> None:
        """On the event loop, once the entry is on disk."""
        ...


class QuotaGate(Protocol[L_contra]):
    """The per-line quotas (F5, docs/protocol.md §10.3) as a line's delivery consults them."""

    async def load(self, line: L_contra) -> None:
        """Read what the line uses of its quotas (once, before its supervisor starts)."""
        ...

    def admit(self, line: L_contra, entry: Entry) -> bool:
        """May ``entry`` be taken now (else the peer keeps it and sends it later)?"""
        ...

    def leftover(self, line: L_contra, entry: Entry) -> bool:
        """``entry`` was sent before the peer heard that we withhold: drop it quietly?"""
        ...

    def on_withhold(self, line: L_contra, session: LinkSession, message: Withhold) -> bool:
        """The peer withholds our entries (or stops); False: a violation, the session ends (§6)."""
        ...

    def holding(self, line: L_contra, session: LinkSession) -> bool:
        """The peer withholds our entries now."""
        ...

    async def hold_sender(self, line: L_contra, session: LinkSession) -> bool:
        """Wait while the peer withholds our entries; whether it did."""
        ...


class RekeyCounter(Protocol[L_contra]):
    """Counts sessions ended because the peer rekeyed too fast (issue 13, F12)."""

    def rekey_flood(self, line: L_contra) -> None:
        """A session of ``line`` ended with ``RATE_LIMITED``."""
        ...


class LineContext(Protocol[L]):
    """What one line is handed by the station that holds it."""

    @property
    def config(self) -> StationConfig: ...
    @property
    def session_config(self) -> SessionConfig: ...
    #: Our static public key (the tie-break compares it with the peer's).
    @property
    def static_public(self) -> bytes: ...
    #: Serving the network (the daemon), not opened for one request.
    @property
    def running(self) -> bool: ...
    #: The daemon is shutting down: sessions ending now are not alerts.
    @property
    def stopping(self) -> bool: ...
    @property
    def worker(self) -> StoreWorker: ...
    @property
    def events(self) -> EventBus: ...
    @property
    def quotas(self) -> QuotaGate[L]: ...
    @property
    def documents(self) -> EntryKind[L]: ...
    @property
    def handshakes(self) -> RekeyCounter[L]: ...
    @property
    def has_followers(self) -> bool: ...
    #: Message types the line hands on, and where anything else goes.
    @property
    def routes(self) -> Mapping[type[LineMessage], Route[L]]: ...
    @property
    def default_route(self) -> Route[L]: ...
    @property
    def session_listeners(self) -> Sequence[SessionListener[L]]: ...

    def publish(self, event: dict[str, object]) -> None:
        """Tell every follower."""
        ...

    def describe(self, row: MessageRow, line: L) -> dict[str, object]:
        """A message as docs/control.md shows it."""
        ...

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run ``coro`` as a child of the station."""
        ...


__all__ = [
    "DeliveryPosition",
    "EntryKind",
    "LineContext",
    "LineDelivery",
    "Link",
    "LinkSession",
    "MessageHandler",
    "QuotaGate",
    "RekeyCounter",
    "Route",
    "SessionListener",
]
