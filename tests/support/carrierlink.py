"""Two sessions in carrier mode wired back to back, with every record's time and length kept.

:class:`CarrierLink` drives a :class:`~tests.support.pair.SessionPair` on exact simulated time: it
fires each side's timer at the moment :meth:`Session.get_timer` names, and moves every record a
side writes to the other side at that same moment (a network with no delay), noting for each
side ``(time, record length, record type)``. What an observer of the wire sees is that list.
"""

from __future__ import annotations

from dataclasses import replace

from hotline.proto.carriermode import CarrierSetting
from hotline.proto.events import SessionEvent
from hotline.proto.records import RecordReader, RecordType
from hotline.proto.session import Session
from tests.support.pair import WALL_NS, SessionPair

HANDSHAKE_TYPES = (RecordType.HANDSHAKE_INIT, RecordType.HANDSHAKE_RESPONSE)


class CarrierLink:
    """An initiator ``i`` and a responder ``r``, both in carrier mode unless told otherwise."""

    def __init__(
        self,
        setting: CarrierSetting | None = None,
        *,
        i_carrier: bool = True,
        r_carrier: bool = True,
        r_setting: CarrierSetting | None = None,
        **config: object,
    ) -> None:
        setting = setting or CarrierSetting()
        self.pair = SessionPair(**config)
        # each end's own setting (a mismatch test leaves one of them without): new sessions
        pair = self.pair
        pair.ca = replace(pair.ca, carrier=setting if i_carrier else None)
        pair.cb = replace(pair.cb, carrier=(r_setting or setting) if r_carrier else None)
        pair.i = Session.initiator(
            pair.ca, peer_static=pair.b.public, line_key=pair.line_key, now=pair.now, wall_time_ns=WALL_NS
        )
        pair.r = Session.responder(pair.cb, peers=pair.b.peers, guard=pair.b.guard, now=pair.now)
        self.setting = setting
        #: What each side wrote: (time, record length, record type), in order.
        self.wire: dict[str, list[tuple[float, int, int]]] = {"i": [], "r": []}
        #: Whether each side's records reach the other (False: the network drops them).
        self.deliver = {"i": True, "r": True}

    @property
    def i(self) -> Session:
        return self.pair.i

    @property
    def r(self) -> Session:
        return self.pair.r

    @property
    def now(self) -> float:
        return self.pair.now

    def take(self, name: str) -> list[SessionEvent]:
        return self.pair.take(name)

    def move(self) -> None:
        """Move what each side has written to the other, until neither has more."""
        pair = self.pair
        while True:
            moved = False
            for name, sender in (("i", pair.i), ("r", pair.r)):
                data = sender.data_to_send()
                if not data:
                    continue
                moved = True
                self.wire[name].extend((pair.now, size, kind) for size, kind in _records(data))
                if self.deliver[name]:
                    pair.other(sender).receive_data(data, pair.now)
            pair.drain()
            if not moved:
                return

    def handshake(self) -> None:
        """Run the handshake at the current time (both carriers start now)."""
        self.move()

    def run_until(self, until: float) -> None:
        """Fire every timer due up to ``until``, each at its exact time, moving records at once."""
        pair = self.pair
        while True:
            timers = [t for t in (pair.i.get_timer(), pair.r.get_timer()) if t is not None and t <= until]
            if not timers:
                break
            pair.now = max(pair.now, min(timers))
            pair.i.handle_timer(pair.now)
            pair.r.handle_timer(pair.now)
            self.move()
        pair.now = until

    def after_handshake(self, name: str) -> list[tuple[float, int, int]]:
        """What ``name`` wrote after its handshake record."""
        return [entry for entry in self.wire[name] if entry[2] not in HANDSHAKE_TYPES]


def _records(data: bytes | bytearray) -> list[tuple[int, int]]:
    reader = RecordReader()
    reader.feed(data)
    out = []
    while (record := reader.next_record()) is not None:
        out.append((3 + len(record[1]), record[0]))
    assert reader.buffered == 0
    return out
