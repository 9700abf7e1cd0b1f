"""Events the :class:`~hotline.proto.session.Session` reports, after each transition.

Don't subclass these; dispatch with ``match`` and ``assert_never`` (h11 ``_events.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from hotline.proto.errors import ErrorCode


@dataclass(frozen=True, slots=True)
class HandshakeCompleted:
    """The first handshake finished: the peer is authenticated and records may flow."""

    #: The peer's X25519 static public key (32 bytes): who we are talking to.
    peer_static: bytes
    #: The Noise protocol name used.
    protocol_name: str
    #: The final handshake hash, a unique name for this session (channel binding).
    handshake_hash: bytes
    #: Whether we initiated.
    initiator: bool


@dataclass(frozen=True, slots=True)
class RekeyCompleted:
    """An in-band rekey finished; both directions now use keys from a fresh handshake."""

    #: Number of handshakes completed on this session so far (1 is the first).
    epoch: int
    #: Handshake hash of the new keys.
    handshake_hash: bytes


@dataclass(frozen=True, slots=True)
class DataReceived:
    """An application payload arrived, in order, exactly once."""

    #: The payload bytes: for a large payload a view of the bytes it arrived in (no copy), which
    #: keeps them alive; they never change.
    data: bytes | memoryview


@dataclass(frozen=True, slots=True)
class RoundTripMeasured:
    """A keepalive ping was answered."""

    #: Seconds between sending the ping and reading the pong.
    rtt: float


@dataclass(frozen=True, slots=True)
class SessionTerminated:
    """The session is over; the adapter should flush :meth:`data_to_send` and close the socket."""

    #: Why.
    code: ErrorCode
    #: A human-readable reason.
    reason: str
    #: True when the peer closed (it sent ``Close``), False when we ended it.
    by_peer: bool


@dataclass(frozen=True, slots=True)
class ProfileMismatch:
    """A peer's initiation was made under another line profile than our line to it has: refused
    unanswered, no session (docs/protocol.md §3.8).

    Not a :data:`SessionEvent`: the session that meets it is dropped before it has any, as every
    refusal before authentication is. It goes to ``SessionConfig.on_profile_mismatch`` (and
    :attr:`Session.mismatch <hotline.proto.session.Session.mismatch>`) so the station can raise an
    alert naming both profiles. The initiation's timestamp has passed the replay guard, so this is not
    a recording from before a profile change.
    """

    #: The initiator's X25519 static public key (32 bytes): which line.
    peer_static: bytes
    #: The profile the peer's initiation was made under (``standard``, ``cnsa2``).
    peer_profile: str
    #: The profile of our line to that peer.
    our_profile: str


SessionEvent = HandshakeCompleted | RekeyCompleted | DataReceived | RoundTripMeasured | SessionTerminated
