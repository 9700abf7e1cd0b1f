"""An in-memory initiator/responder pair for driving two Sessions (after aioquic's
``client_and_server`` and h11's ``ConnectionPair``)."""

from __future__ import annotations

from dataclasses import dataclass

from hotline.crypto.random import random_bytes
from hotline.crypto.x25519 import X25519PrivateKey
from hotline.proto.events import SessionEvent
from hotline.proto.handshake import PeerTable as Peers
from hotline.proto.replay import TimestampGuard
from hotline.proto.session import Session, SessionConfig

WALL_NS = 1_700_000_000 * 10**9


@dataclass
class Station:
    """Just enough of a station to make sessions."""

    static: X25519PrivateKey
    peers: Peers
    guard: TimestampGuard

    @property
    def public(self) -> bytes:
        return self.static.public_key().raw


def make_stations() -> tuple[Station, Station, bytes]:
    """Two stations that share a line key, each knowing the other."""
    a = Station(X25519PrivateKey.generate(), Peers(), TimestampGuard())
    b = Station(X25519PrivateKey.generate(), Peers(), TimestampGuard())
    key = random_bytes(32)
    a.peers.keys[b.public] = key
    b.peers.keys[a.public] = key
    return a, b, key


class SessionPair:
    """Initiator ``i`` and responder ``r`` wired back to back in memory."""

    def __init__(
        self,
        now: float = 0.0,
        *,
        initiator_config: dict[str, object] | None = None,
        responder_config: dict[str, object] | None = None,
        **config: object,
    ) -> None:
        """``config`` goes to both ends' :class:`SessionConfig`, then ``initiator_config`` and
        ``responder_config`` to one end each (a line whose ends are set differently)."""
        self.now = now
        self.a, self.b, self.line_key = make_stations()
        self.ca = SessionConfig(static=self.a.static, **(config | (initiator_config or {})))  # type: ignore[arg-type]
        self.cb = SessionConfig(static=self.b.static, **(config | (responder_config or {})))  # type: ignore[arg-type]
        self.i = Session.initiator(
            self.ca, peer_static=self.b.public, line_key=self.line_key, now=now, wall_time_ns=WALL_NS
        )
        self.r = Session.responder(self.cb, peers=self.b.peers, guard=self.b.guard, now=now)
        self.events: dict[str, list[SessionEvent]] = {"i": [], "r": []}

    def other(self, s: Session) -> Session:
        return self.r if s is self.i else self.i

    def drain(self) -> None:
        for name, s in (("i", self.i), ("r", self.r)):
            while (ev := s.next_event()) is not None:
                self.events[name].append(ev)

    def transfer(self, sender: Session) -> int:
        """Move what ``sender`` has to send into the other side; return the byte count."""
        data = sender.data_to_send()
        if data:
            self.other(sender).receive_data(data, self.now)
        self.drain()
        return len(data)

    def roundtrip_until_idle(self, max_rounds: int = 50) -> int:
        """Exchange until neither side has anything to send; assert it settles."""
        for rounds in range(max_rounds):
            moved = self.transfer(self.i) + self.transfer(self.r)
            if not moved:
                return rounds
        raise AssertionError("sessions did not settle")

    def advance(self, seconds: float) -> None:
        """Move time forward, firing timers due on either side."""
        target = self.now + seconds
        while True:
            timers = [t for t in (self.i.get_timer(), self.r.get_timer()) if t is not None and t <= target]
            if not timers:
                break
            self.now = max(self.now, min(timers))
            self.i.handle_timer(self.now)
            self.r.handle_timer(self.now)
            self.roundtrip_until_idle()
        self.now = target

    def take(self, name: str) -> list[SessionEvent]:
        evs, self.events[name] = self.events[name], []
        return evs
