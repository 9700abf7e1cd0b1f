"""Hotline's handshake: Noise ``IKpsk2+hfs`` with X25519, ML-KEM-768, ChaChaPoly and BLAKE2s,
plus an initiation MAC and an anti-replay timestamp (docs/protocol.md §3).

The line profile is a parameter (``suite``, default :data:`~hotline.proto.suites.STANDARD`, whose
protocol name is :data:`~hotline.proto.constants.PROTOCOL_NAME`), so another profile of
:mod:`hotline.proto.suites` runs the same steps with its own KEM, cipher and hash; the message
lengths change with the KEM (:func:`init_len`, :func:`response_len`) and the initiation MAC with the
profile's MAC hash (keyed BLAKE2s for ``standard``, truncated HMAC-SHA-384 for ``cnsa2``).

    <- s
    ...
    -> e, es, e1, s, ss          payload: timestamp        then mac1
    <- e, ee, ekem1, se, psk     payload: empty

This file holds the only asymmetry between the roles: who creates and who consumes each message.
It reads top to bottom like the spec (wireguard-go ``device/noise-protocol.go``): one method per
message per role, one comment per step.

Before authentication nothing here raises anything but :class:`HandshakeFailed`, which the session
turns into a silent drop (its subclass :class:`ProfileMismatchError`, an initiator whose line has the
other profile, is also reported to the station). ``mac1`` is checked before any asymmetric
operation, so a first message sent by someone who does not know our card costs us one MAC.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from hotline.crypto.hashing import DigestName, blake2s, constant_time_equal, digest, hmac_digest
from hotline.crypto.mlkem import Kem
from hotline.crypto.x25519 import X25519PrivateKey, X25519PublicKey
from hotline.proto.constants import MAC1_LABEL, MAC_LEN, TIMESTAMP_LEN
from hotline.proto.noise import CipherState, HandshakeState, KemKeyPair, NoiseError
from hotline.proto.ratelimit import HandshakeLimits
from hotline.proto.replay import TimestampGuard
from hotline.proto.suites import STANDARD, ProfileName, Suite

_TAG = 16


def noise_init_len(kem: Kem) -> int:
    """Noise message 1: e, e1 (encrypted), s (encrypted), payload (encrypted timestamp)."""
    return 32 + (kem.public_key_len + _TAG) + (32 + _TAG) + (TIMESTAMP_LEN + _TAG)


def init_len(kem: Kem) -> int:
    """A first-handshake record body: Noise message 1 then mac1."""
    return noise_init_len(kem) + MAC_LEN


def response_len(kem: Kem) -> int:
    """Noise message 2: e, ekem1 (encrypted), payload (empty, encrypted)."""
    return 32 + (kem.ciphertext_len + _TAG) + _TAG


_STANDARD_KEM = STANDARD.kem()
#: Noise message 1 of the default protocol (``standard``: ML-KEM-768).
NOISE_INIT_LEN = noise_init_len(_STANDARD_KEM)
#: A first-handshake record body of the default protocol.
INIT_LEN = init_len(_STANDARD_KEM)
#: Noise message 2 of the default protocol.
RESPONSE_LEN = response_len(_STANDARD_KEM)


class HandshakeFailed(Exception):
    """The handshake cannot go on. Deliberately opaque (see module docstring)."""


class ProfileMismatchError(HandshakeFailed):
    """The initiation opened under one line profile, and the line to its sender has the other.

    Still a silent drop to the initiator (nothing is answered), but the responder's station learns
    who it was and which profiles disagree, to raise an alert naming both (docs/protocol.md §3.8).
    """

    def __init__(self, peer_static: bytes, peer_profile: ProfileName, our_profile: ProfileName) -> None:
        super().__init__(f"the peer's initiation is {peer_profile}, our line to it is {our_profile}")
        #: The initiator's static public key (32 bytes).
        self.peer_static = peer_static
        #: The profile the initiation was made under.
        self.peer_profile: ProfileName = peer_profile
        #: The profile of our line to that peer.
        self.our_profile: ProfileName = our_profile


class PeerDirectory(Protocol):
    """What a responder needs to know about the initiator it has just decrypted."""

    def line_key(self, peer_static: bytes) -> bytes | None:
        """The 32-byte line key (Noise PSK) shared with this peer, or None if it is not our peer."""
        ...

    def replayed(self, peer_static: bytes) -> None:
        """An initiation from this peer (whose key opened it) carried a timestamp already seen: a
        recording played back. It is dropped without a reply; this is for the record."""
        ...


class PeerTable:
    """A :class:`PeerDirectory` held in a dict: peer static key -> line key. Not thread-safe."""

    __slots__ = ("keys", "replays")

    def __init__(self, keys: dict[bytes, bytes] | None = None) -> None:
        #: Peer static public key (32 bytes) -> line key (32 bytes).
        self.keys: dict[bytes, bytes] = dict(keys or {})
        #: Peer static public key -> replayed initiations dropped.
        self.replays: dict[bytes, int] = {}

    def line_key(self, peer_static: bytes) -> bytes | None:
        """The line key shared with ``peer_static``, or None."""
        return self.keys.get(peer_static)

    def replayed(self, peer_static: bytes) -> None:
        """Count a replayed initiation from ``peer_static``."""
        self.replays[peer_static] = self.replays.get(peer_static, 0) + 1


class InitiationTimestamps:
    """The initiator's half of the anti-replay rule (docs/protocol.md §3.3). Not thread-safe; the
    zero value has sent nothing yet.

    A responder accepts an initiation only if its timestamp is greater than any it accepted from us,
    so we never send one that is not greater than the last one we sent, whatever the wall clock does
    (WireGuard's rule for TAI64N): after the clock steps back, timestamps go on from the last one
    sent, one nanosecond at a time, until the clock passes it again. A station keeps one of these for
    all its dials and restores :attr:`last_ns` after a restart.
    """

    __slots__ = ("last_ns",)

    def __init__(self, last_ns: int = 0) -> None:
        #: The greatest timestamp handed out (ns since the Unix epoch).
        self.last_ns = last_ns

    def next(self, wall_ns: int) -> int:
        """The timestamp for a new initiation, given the wall clock now (ns): ``max(wall, last + 1)``."""
        stamp = max(wall_ns, self.last_ns + 1)
        self.last_ns = stamp
        return stamp

    def observe(self, sent_ns: int) -> None:
        """Never hand out ``sent_ns`` or anything below it (a timestamp sent before a restart)."""
        self.last_ns = max(self.last_ns, sent_ns)


@dataclass(frozen=True, slots=True)
class HandshakeResult:
    """The outcome of a completed handshake."""

    #: Our sending CipherState.
    send: CipherState
    #: Our receiving CipherState.
    receive: CipherState
    #: Final ``h``: binds everything said in the handshake.
    handshake_hash: bytes
    #: The peer's static public key.
    peer_static: bytes


def mac1_key(responder_static: bytes, mac_hash: DigestName = "BLAKE2s") -> bytes:
    """The initiation MAC key: H(label || responder's static public key), its first 32 bytes.

    ``mac_hash`` is the line profile's (:attr:`Suite.mac_hash`); BLAKE2s, the default, is ``standard``.
    """
    if mac_hash == "BLAKE2s":
        return blake2s(MAC1_LABEL + responder_static)
    return digest(mac_hash, MAC1_LABEL + responder_static)[:32]


def mac1(key: bytes, message: bytes, mac_hash: DigestName = "BLAKE2s") -> bytes:
    """The 16-byte initiation MAC over Noise message 1: keyed BLAKE2s for ``BLAKE2s`` (the default,
    ``standard``), else HMAC with ``mac_hash`` truncated to 16 bytes."""
    if mac_hash == "BLAKE2s":
        return blake2s(message, key=key, digest_size=MAC_LEN)
    return hmac_digest(mac_hash, key, message)[:MAC_LEN]


def initiation_fits(body: bytes | memoryview, mac_key: bytes, suite: Suite, kem: Kem | None = None) -> bool:
    """Whether ``body`` is a first handshake record of ``suite`` sent to us: its length is the
    suite's and its mac1 checks under ``mac_key`` (``mac1_key(our static, suite.mac_hash)``).

    How a responder finds the profile of an initiation before it knows who sent it (docs/protocol.md
    §3.8): one length compare, then one MAC, no asymmetric work.
    """
    noise_len = noise_init_len(kem if kem is not None else suite.kem())
    if len(body) != noise_len + MAC_LEN:
        return False
    view = memoryview(body)
    return constant_time_equal(
        mac1(mac_key, bytes(view[:noise_len]), suite.mac_hash), bytes(view[noise_len:])
    )


class InitiatorHandshake:
    """The initiator's side: :meth:`create_initiation`, then :meth:`consume_response`."""

    def __init__(
        self,
        *,
        static: X25519PrivateKey,
        responder_static: bytes,
        line_key: bytes,
        prologue: bytes,
        timestamp_ns: int,
        ephemeral: X25519PrivateKey | None = None,
        kem: Kem | None = None,
        kem_ephemeral: KemKeyPair | None = None,
        suite: Suite = STANDARD,
    ) -> None:
        kem = kem if kem is not None else suite.kem()
        self._suite = suite
        self._responder_static = responder_static
        self._timestamp_ns = timestamp_ns
        self._response_len = response_len(kem)
        self._state = HandshakeState(
            suite.noise,
            initiator=True,
            prologue=prologue,
            s=static,
            e=ephemeral,
            rs=X25519PublicKey.from_bytes(responder_static),
            psks=[line_key],
            kem=kem,
            e1=kem_ephemeral,
        )

    def create_initiation(self) -> bytes:
        """Message 1 with its MAC: ``e, es, e1, s, ss`` + timestamp, then mac1."""
        # encrypt the timestamp as the payload: replay protection
        payload = self._timestamp_ns.to_bytes(TIMESTAMP_LEN, "big")
        message = self._state.write_message(payload)
        # append mac1 keyed by the responder's public key: cheap rejection of strangers
        mac_hash = self._suite.mac_hash
        return message + mac1(mac1_key(self._responder_static, mac_hash), message, mac_hash)

    def consume_response(self, body: bytes) -> HandshakeResult:
        """Consume message 2 (``e, ee, ekem1, se, psk``). Raises :class:`HandshakeFailed`."""
        if len(body) != self._response_len:
            raise HandshakeFailed("response has the wrong length")
        try:
            payload = self._state.read_message(body)
        except NoiseError as exc:
            raise HandshakeFailed("response does not authenticate") from exc
        if payload:
            raise HandshakeFailed("response payload must be empty")
        send, receive = self._state.split()
        return HandshakeResult(send, receive, self._state.handshake_hash, self._responder_static)


class ResponderHandshake:
    """The responder's side: :meth:`consume_initiation` (a constructor), then :meth:`create_response`."""

    def __init__(self, state: HandshakeState, peer_static: bytes, timestamp_ns: int) -> None:
        self._state = state
        #: The initiator's static public key, authenticated by ``ss``.
        self.peer_static = peer_static
        #: The initiation's anti-replay timestamp: admitted by the guard, confirmed by the caller
        #: once the session is confirmed (docs/protocol.md §3.3).
        self.timestamp_ns = timestamp_ns

    @classmethod
    def consume_initiation(
        cls,
        body: bytes,
        *,
        static: X25519PrivateKey,
        mac_key: bytes,
        peers: PeerDirectory,
        guard: TimestampGuard,
        prologue: bytes,
        ephemeral: X25519PrivateKey | None = None,
        new_ephemeral: Callable[[], X25519PrivateKey] = X25519PrivateKey.generate,
        kem: Kem | None = None,
        limits: HandshakeLimits | None = None,
        source: str | None = None,
        now: float = 0.0,
        suite: Suite = STANDARD,
        line_suite: Callable[[bytes], Suite | None] | None = None,
    ) -> ResponderHandshake:
        """Consume a first handshake record body. Raises :class:`HandshakeFailed`.

        Our ephemeral is ``ephemeral`` if given (golden tests), else drawn from ``new_ephemeral`` only
        when the response is written, so a rejected initiation costs no key generation either.

        The timestamp is only *admitted* here (``guard.admit``): the caller confirms it once the
        session is confirmed (issue 13, F8). With ``limits``, the initiation must also fit the
        per-address limit of ``source`` before any DH, and the per-peer limit before the response
        (issue 13, F12; ``now`` is monotonic seconds). ``suite`` is the line profile: its protocol
        name, its KEM (unless ``kem`` is given) and its MAC hash (``mac_key`` must be
        ``mac1_key(static, suite.mac_hash)``). With ``line_suite`` (the suite of our line to a peer,
        by its static key; None for no line), an initiator whose line has another profile is refused
        with :class:`ProfileMismatchError` once its timestamp is admitted, before any response work.
        """
        kem = kem if kem is not None else suite.kem()
        noise_len = noise_init_len(kem)
        if len(body) != noise_len + MAC_LEN:
            raise HandshakeFailed("initiation has the wrong length")
        message, tag = body[:noise_len], body[noise_len:]
        # check mac1 before any asymmetric work
        if not constant_time_equal(mac1(mac_key, message, suite.mac_hash), tag):
            raise HandshakeFailed("bad mac1")
        if limits is not None and not limits.allow_source(source, now):
            raise HandshakeFailed("too many initiations from this address")
        state = HandshakeState(
            suite.noise,
            initiator=False,
            prologue=prologue,
            s=static,
            e=ephemeral,
            kem=kem,
            new_ephemeral=new_ephemeral,
        )
        # e, es, e1, s, ss: decrypt the initiator's identity and authenticate it
        try:
            payload = state.read_message(message)
        except NoiseError as exc:
            raise HandshakeFailed("initiation does not authenticate") from exc
        assert state.rs is not None  # the pattern's "s" token set it
        peer_static = state.rs.raw
        # look up the line: an unknown initiator gets nothing
        line_key = peers.line_key(peer_static)
        if line_key is None:
            raise HandshakeFailed("initiator is not a known peer")
        # protect against replay: the timestamp must be newer than any confirmed from this peer (F8)
        if len(payload) != TIMESTAMP_LEN:
            raise HandshakeFailed("initiation payload has the wrong length")
        timestamp_ns = int.from_bytes(payload, "big")
        if not guard.admit(peer_static, timestamp_ns):
            peers.replayed(peer_static)
            raise HandshakeFailed("replayed initiation")
        # the profile is the line's, fixed at both ends: an initiation under another one is refused
        # (checked after the replay guard, so a recording from before a profile change is no alert)
        if line_suite is not None:
            ours = line_suite(peer_static)
            if ours is None:
                raise HandshakeFailed("initiator is not a known peer")
            if ours != suite:
                raise ProfileMismatchError(peer_static, suite.profile, ours.profile)
        # the peer's budget of answered handshakes: checked before the response's DH and KEM work
        if limits is not None and not limits.allow_peer(peer_static, now):
            raise HandshakeFailed("too many initiations from this peer")
        state.push_psk(line_key)
        return cls(state, peer_static, timestamp_ns)

    def create_response(self) -> tuple[bytes, HandshakeResult]:
        """Message 2 (``e, ee, ekem1, se, psk``) and the session keys."""
        try:
            message = self._state.write_message(b"")
        except NoiseError as exc:
            raise HandshakeFailed("cannot build the response") from exc
        send, receive = self._state.split()
        return message, HandshakeResult(send, receive, self._state.handshake_hash, self.peer_static)
