"""Each role's part in the handshakes of a session (docs/protocol.md §3, §5.4).

The asymmetry of a session lives here (h11's Rule 2): :class:`InitiatorSide` holds what the side
that dialled needs to build initiations (the first one and every rekey's), and
:class:`ResponderSide` what the side that accepted needs to check the first one and answer it. The
message-level crypto is :mod:`hotline.proto.handshake`; the states are the
:class:`~hotline.proto.session.Session`'s. Nothing here reads a clock or draws randomness on its
own: ``now`` and the ephemeral factory come in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hotline.crypto.mlkem import Kem
from hotline.crypto.x25519 import X25519PrivateKey
from hotline.proto.constants import PROLOGUE
from hotline.proto.events import ProfileMismatch
from hotline.proto.handshake import (
    HandshakeFailed,
    HandshakeResult,
    InitiatorHandshake,
    PeerDirectory,
    ProfileMismatchError,
    ResponderHandshake,
    init_len,
    initiation_fits,
)
from hotline.proto.ratelimit import HandshakeLimits
from hotline.proto.records import RecordType
from hotline.proto.replay import TimestampGuard
from hotline.proto.suites import STANDARD, SUITES, Suite


@dataclass(frozen=True, slots=True)
class LocalKeys:
    """What every handshake of ours is made with, in either role."""

    #: Our X25519 static key.
    static: X25519PrivateKey
    #: The key of the MAC on initiations sent to us (docs/protocol.md §3.4).
    mac_key: bytes
    #: Draws a fresh X25519 ephemeral for each handshake.
    new_ephemeral: Callable[[], X25519PrivateKey]
    #: The KEM behind the ``hfs`` tokens (the suite's).
    kem: Kem
    #: The line profile these keys make handshakes under; ``mac_key`` is keyed with its MAC hash.
    suite: Suite = STANDARD


class InitiatorSide:
    """What the dialling side needs to start handshakes with one peer. Not thread-safe.

    Its clock is the wall time given at start, extrapolated with ``now`` for rekeys.
    """

    __slots__ = (
        "_first",
        "_keys",
        "_started_at",
        "last_timestamp",
        "line_key",
        "peer_static",
        "wall_base_ns",
    )

    def __init__(
        self, keys: LocalKeys, *, peer_static: bytes, line_key: bytes, wall_time_ns: int, started_at: float
    ) -> None:
        self._keys = keys
        self._started_at = started_at
        self.peer_static = peer_static
        self.line_key = line_key
        #: The first initiation's timestamp (ns since the Unix epoch) and the last one used.
        self.wall_base_ns = wall_time_ns
        self.last_timestamp = -1
        self._first: InitiatorHandshake | None = None

    def initiate(self, now: float) -> bytes:
        """The session's first initiation, kept until its response comes."""
        self._first = self.new_initiation(PROLOGUE, now)
        return self._first.create_initiation()

    def consume_response(self, record_type: int, body: bytes | memoryview) -> HandshakeResult:
        """Read the response to the first initiation; returns the session's first keys.

        Raises:
            HandshakeFailed: anything wrong with the record; the initiation is forgotten either way.
        """
        first, self._first = self._first, None
        assert first is not None
        if record_type != RecordType.HANDSHAKE_RESPONSE:
            raise HandshakeFailed("expected a response")
        return first.consume_response(bytes(body))

    def new_initiation(self, prologue: bytes, now: float) -> InitiatorHandshake:
        """A fresh handshake to the peer under ``prologue``, dated from ``now``."""
        keys = self._keys
        return InitiatorHandshake(
            static=keys.static,
            responder_static=self.peer_static,
            line_key=self.line_key,
            prologue=prologue,
            timestamp_ns=self._next_timestamp(now),
            ephemeral=keys.new_ephemeral(),
            kem=keys.kem,
            suite=keys.suite,
        )

    def _next_timestamp(self, now: float) -> int:
        # strictly increasing even when several handshakes share one ``now``
        stamp = max(self.wall_base_ns + int((now - self._started_at) * 1e9), self.last_timestamp + 1)
        self.last_timestamp = stamp
        return stamp


class ResponderSide:
    """What the accepting side needs to check a first initiation and answer it. Not thread-safe.

    The peer directory, timestamp guard and limits are the station's, shared by all its sessions.
    The initiation's profile is not known before it is read: each of ``suites`` whose initiation has
    its length is tried by its mac1 (docs/protocol.md §3.8), and ``keys_for`` makes our keys for the
    one that checks (only then, so a line's path computes nothing of another profile's). With
    ``line_suite``, an initiator whose line has another profile is refused with
    :class:`~hotline.proto.handshake.ProfileMismatchError`, kept in :attr:`mismatch` and told to
    ``on_mismatch``.
    """

    __slots__ = (
        "_keys_for",
        "_limits",
        "_line_suite",
        "_on_mismatch",
        "_source",
        "_suites",
        "guard",
        "initiation_ts",
        "keys",
        "mismatch",
        "peers",
    )

    def __init__(
        self,
        keys_for: Callable[[Suite], LocalKeys],
        *,
        peers: PeerDirectory,
        guard: TimestampGuard,
        limits: HandshakeLimits | None,
        source: str | None,
        line_suite: Callable[[bytes], Suite | None] | None = None,
        suites: tuple[Suite, ...] = tuple(SUITES.values()),
        on_mismatch: Callable[[ProfileMismatch], None] | None = None,
    ) -> None:
        self._keys_for = keys_for
        self._on_mismatch = on_mismatch
        #: The refusal of an initiation whose profile was not its line's (§3.8), if there was one.
        self.mismatch: ProfileMismatch | None = None
        self._limits = limits
        self._source = source
        self._line_suite = line_suite
        self._suites = suites
        self.peers = peers
        self.guard = guard
        #: The timestamp of the initiation we answered, confirmed once the line key is proven.
        self.initiation_ts = 0
        #: Our keys under the profile of the initiation we answered (None before).
        self.keys: LocalKeys | None = None

    def _keys_of(self, body: bytes) -> LocalKeys:
        # a length compare, then one MAC per profile of that length: no asymmetric work yet
        for suite in self._suites:
            if len(body) != init_len(suite.kem()):
                continue
            keys = self._keys_for(suite)
            if initiation_fits(body, keys.mac_key, suite, keys.kem):
                return keys
        raise HandshakeFailed("no profile's initiation of that length with a mac1 that checks")

    def answer(self, record_type: int, body: bytes | memoryview, now: float) -> tuple[bytes, HandshakeResult]:
        """Check a first initiation and build the response; returns it with the new keys.

        Raises:
            HandshakeFailed: anything wrong with the record (to be dropped silently, §3.6);
                :class:`~hotline.proto.handshake.ProfileMismatchError` when its profile is not the
                line's (also dropped silently, and reported).
        """
        if record_type != RecordType.HANDSHAKE_INIT:
            raise HandshakeFailed("expected an initiation")
        data = bytes(body)
        keys = self._keys_of(data)
        try:
            hs = self._consume(data, keys, now)
        except ProfileMismatchError as exc:
            self.mismatch = ProfileMismatch(exc.peer_static, exc.peer_profile, exc.our_profile)
            if self._on_mismatch is not None:
                self._on_mismatch(self.mismatch)
            raise
        response, result = hs.create_response()
        self.initiation_ts = hs.timestamp_ns
        self.keys = keys
        return response, result

    def _consume(self, data: bytes, keys: LocalKeys, now: float) -> ResponderHandshake:
        return ResponderHandshake.consume_initiation(
            data,
            static=keys.static,
            mac_key=keys.mac_key,
            peers=self.peers,
            guard=self.guard,
            prologue=PROLOGUE,
            new_ephemeral=keys.new_ephemeral,
            kem=keys.kem,
            limits=self._limits,
            source=self._source,
            now=now,
            suite=keys.suite,
            line_suite=self._line_suite,
        )

    def confirm(self, peer_static: bytes) -> TimestampGuard:
        """Raise the station's guard once the initiator proved the line key (issue 13, F8); returns
        the session's own guard for rekeys, seeded with that initiation's timestamp."""
        self.guard.confirm(peer_static, self.initiation_ts)
        return TimestampGuard({peer_static: self.initiation_ts})
