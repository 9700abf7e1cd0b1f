"""Rekeying inside an established session, and the defences around it (docs/protocol.md §5.4).

This module decides when a rekey starts, checks the peer's rekey messages (the role rule, the
per-session timestamp guard, the per-peer rate limit), runs the handshakes and switches the keys
of the session's :class:`~hotline.proto.transport.Transport`. It knows nothing of session states:
the :class:`~hotline.proto.session.Session` calls it only while established, and gives it the
three things it needs of the session as callables (queue a message, seal what is queued, report
an event).

The one place where roles differ after the handshake, written down where it is made: only the
side that dialled starts rekeys, the other asks for one with ``RekeyRequest``. That keeps two
rekeys from crossing on the wire.

In carrier mode (docs/protocol.md §14.4) rekeys start on the timer only: no volume trigger and no
``RekeyRequest`` (at one cell every 20 ms the record limit is hours away, after many timed rekeys),
and the responder's ``RekeyResponse`` ends its cell, the sending key switching right after it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from hotline.proto.carrier import Lane
from hotline.proto.carriermode import CarrierMode
from hotline.proto.constants import PROLOGUE
from hotline.proto.errors import ErrorCode, RemoteProtocolError
from hotline.proto.events import RekeyCompleted, SessionEvent
from hotline.proto.handshake import HandshakeFailed, HandshakeResult, InitiatorHandshake, ResponderHandshake
from hotline.proto.messages import Message, RekeyInit, RekeyRequest, RekeyResponse
from hotline.proto.opening import InitiatorSide, LocalKeys
from hotline.proto.ratelimit import KeyedBuckets
from hotline.proto.replay import TimestampGuard
from hotline.proto.transport import Transport


class _OnePeer:
    """A :class:`PeerDirectory` that knows only the peer of an established session (for rekeys)."""

    def __init__(self, peer_static: bytes, line_key: bytes) -> None:
        self._peer = peer_static
        self._key = line_key

    def line_key(self, peer_static: bytes) -> bytes | None:
        return self._key if peer_static == self._peer else None

    def replayed(self, peer_static: bytes) -> None:
        pass  # a replayed rekey ends the session, which says why


class Rekeying:
    """The rekeys of one session: the one in flight, the guard and the budget. Not thread-safe.

    ``initiator`` is the side that dialled (it starts rekeys); None on the side that accepted.
    ``send`` queues a message on the session's stream (and counts as sending for keepalives),
    ``seal`` seals everything queued under the current key, ``report`` queues a session event;
    ``carrier`` is the session's carrier in carrier mode (None otherwise).
    """

    __slots__ = (
        "_carrier",
        "_handshake_timeout",
        "_initiator",
        "_keys",
        "_limits",
        "_rekey_after_time",
        "_report",
        "_seal",
        "_send",
        "_transport",
        "guard",
        "pending",
        "requested",
        "started",
    )

    def __init__(
        self,
        transport: Transport,
        keys: LocalKeys,
        initiator: InitiatorSide | None,
        *,
        send: Callable[[Message, float], None],
        seal: Callable[[], None],
        report: Callable[[SessionEvent], None],
        limits: KeyedBuckets,
        rekey_after_time: float,
        handshake_timeout: float,
        carrier: CarrierMode | None = None,
    ) -> None:
        self._transport = transport
        self._carrier = carrier
        self._initiator = initiator
        self._send = send
        self._seal = seal
        self._report = report
        self._keys = keys
        self._limits = limits
        self._rekey_after_time = rekey_after_time
        self._handshake_timeout = handshake_timeout
        #: The initiator's rekey in flight, and when it started.
        self.pending: InitiatorHandshake | None = None
        self.started = 0.0
        #: Rekey initiations are checked per session: they travel inside the encrypted stream and
        #: bind the previous handshake hash, so they cannot be replayed from elsewhere (issue 13,
        #: B4). The session seeds it with its own initiation's timestamp once that is confirmed, so
        #: even the first rekey must be newer than the handshake that opened the session.
        self.guard = TimestampGuard()
        #: The responder asked for a rekey in this epoch.
        self.requested = False

    def use_carrier(self, carrier: CarrierMode | None) -> None:
        """Set the session's carrier: a responder learns it with the initiator's key, before any
        record of the session is sealed."""
        self._carrier = carrier

    def use_keys(self, keys: LocalKeys) -> None:
        """Make rekeys with ``keys``: a responder learns the line's profile from the initiation,
        and every rekey of the session runs under that profile."""
        self._keys = keys

    def _prologue(self) -> bytes:
        # bind the new handshake to the one it replaces (the profile is bound by the protocol name)
        assert self._transport.handshake_hash is not None
        return PROLOGUE + b" rekey " + self._transport.handshake_hash

    # -- deadlines ---------------------------------------------------------------------------------

    def deadline(self) -> float | None:
        """When a rekey must start (initiator) or its answer must have come, or None."""
        if self.pending is not None:
            return self.started + self._handshake_timeout
        if self._initiator is not None:
            assert self._transport.send is not None
            return self._transport.send.created_at + self._rekey_after_time
        return None

    def timed_out(self, now: float) -> bool:
        """Whether the rekey in flight went unanswered for the handshake timeout."""
        return self.pending is not None and now >= self.started + self._handshake_timeout

    def due(self, now: float) -> bool:
        """Whether the initiator's sending key is old enough to be replaced now."""
        if self._initiator is None or self.pending is not None:
            return False
        assert self._transport.send is not None
        return now >= self._transport.send.created_at + self._rekey_after_time

    # -- our side ----------------------------------------------------------------------------------

    def start(self, now: float) -> None:
        """Start a rekey (initiator only): send ``RekeyInit``."""
        assert self._initiator is not None
        hs = self._initiator.new_initiation(self._prologue(), now)
        self.pending = hs
        self.started = now
        self._send(RekeyInit(hs.create_initiation()), now)

    def volume_reached(self, now: float) -> None:
        """Call when a key has carried its volume: the initiator rekeys, the responder asks it
        to, once per epoch; nothing when that is already under way, or in carrier mode."""
        if self._carrier is not None:
            return  # §14.4: on the timer only
        if self._initiator is not None:
            if self.pending is None:
                self.start(now)
        elif not self.requested and self._transport.next_recv is None:
            self.requested = True
            self._send(RekeyRequest(), now)

    def finish(self, handshake: bytes, now: float) -> None:
        """Read the responder's ``RekeyResponse`` and switch to the new keys.

        Raises:
            RemoteProtocolError: no rekey was in flight, or the response does not check out.
        """
        if self.pending is None:
            raise RemoteProtocolError("rekey response without a rekey")
        try:
            result = self.pending.consume_response(handshake)
        except HandshakeFailed as exc:
            raise RemoteProtocolError(f"rekey failed: {exc}", ErrorCode.HANDSHAKE_FAILED) from exc
        self.pending = None
        # the responder switched right after its response, and the stream is ordered: switch both
        self._transport.install(result, now, flip=True)
        self._report(RekeyCompleted(self._transport.epoch, result.handshake_hash))

    # -- the peer's side ---------------------------------------------------------------------------

    def requested_by_peer(self, peer_static: bytes, now: float) -> None:
        """Act on the responder's ``RekeyRequest``: start a rekey unless one is under way.

        Raises:
            RemoteProtocolError: we did not dial, or the peer is over its rekey budget.
        """
        if self._initiator is None:
            raise RemoteProtocolError("only the responder may ask for a rekey")
        if self._carrier is not None:
            raise RemoteProtocolError("a rekey request in carrier mode, where rekeys go by the timer only")
        if self.pending is None:
            self._take_budget(peer_static, now)
            self.start(now)

    def answer(self, handshake: bytes, now: float, *, peer_static: bytes, line_key: bytes) -> None:
        """Check the initiator's ``RekeyInit``, answer it and switch our sending side.

        Raises:
            RemoteProtocolError: we dialled, the last rekey is not finished, the peer is over its
                rekey budget, or the initiation does not check out.
        """
        if self._initiator is not None:
            raise RemoteProtocolError("only the initiator starts rekeys")
        if self._transport.next_recv is not None or (
            self._carrier is not None and self._carrier.switch_pending
        ):
            raise RemoteProtocolError("a new rekey before the last one finished")
        self._take_budget(peer_static, now)
        keys = self._keys
        try:
            hs = ResponderHandshake.consume_initiation(
                handshake,
                static=keys.static,
                mac_key=keys.mac_key,
                peers=_OnePeer(peer_static, line_key),
                guard=self.guard,
                prologue=self._prologue(),
                new_ephemeral=keys.new_ephemeral,
                kem=keys.kem,
                suite=keys.suite,
            )
            response, result = hs.create_response()
        except HandshakeFailed as exc:
            raise RemoteProtocolError(f"rekey failed: {exc}", ErrorCode.HANDSHAKE_FAILED) from exc
        self.guard.confirm(peer_static, hs.timestamp_ns)  # inside the session: proven
        self.requested = False
        # answer under the old keys, then switch our sending side; our receiving side switches
        # when the initiator's first record under the new phase arrives
        if self._carrier is not None:
            # the response ends its cell, and the switch comes right after that cell is sealed
            self._carrier.offer(
                Lane.CONTROL, RekeyResponse(response), now, then=partial(self._switch, result)
            )
            return
        self._send(RekeyResponse(response), now)
        self._seal()
        self._switch(result, now)

    def _switch(self, result: HandshakeResult, now: float) -> None:
        self._transport.switch_sending(result, now)
        self._report(RekeyCompleted(self._transport.epoch, result.handshake_hash))

    def _take_budget(self, peer_static: bytes, now: float) -> None:
        # issue 13, F12: a peer that makes us rekey faster than this is flooding us
        limits = self._limits
        if not limits.take(peer_static, now):
            raise RemoteProtocolError(
                f"the peer asked for rekeys faster than {limits.rate:g} per second",
                ErrorCode.RATE_LIMITED,
            )
