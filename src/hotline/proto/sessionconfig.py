"""What sessions are made from: :class:`SessionConfig`, shared by every session of a station, and the
keys and profile each role starts with (docs/protocol.md §3.8).

A responder reads an initiation before it knows the line's profile, so it starts from keys made for
no profile and the longest initiation of any; an initiator knows its line's profile from the start.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from hotline.crypto.mlkem import Kem
from hotline.crypto.x25519 import X25519PrivateKey
from hotline.proto.carriermode import CarrierSetting
from hotline.proto.constants import (
    HANDSHAKE_TIMEOUT,
    KEEPALIVE_INTERVAL,
    KEEPALIVE_MISSES,
    REJECT_AFTER_TIME,
    REKEY_AFTER_BYTES,
    REKEY_AFTER_RECORDS,
    REKEY_AFTER_TIME,
    REKEY_BURST,
    REKEY_RATE,
)
from hotline.proto.events import ProfileMismatch
from hotline.proto.handshake import PeerDirectory, init_len, mac1_key, response_len
from hotline.proto.opening import LocalKeys, ResponderSide
from hotline.proto.ratelimit import HandshakeLimits, KeyedBuckets
from hotline.proto.replay import TimestampGuard
from hotline.proto.suites import STANDARD, SUITES, Suite


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """What a session needs besides its role; shared by every session of a station."""

    #: Our X25519 static key (the station identity's Noise ``s``).
    static: X25519PrivateKey
    rekey_after_time: float = REKEY_AFTER_TIME
    reject_after_time: float = REJECT_AFTER_TIME
    rekey_after_records: int = REKEY_AFTER_RECORDS
    rekey_after_bytes: int = REKEY_AFTER_BYTES
    keepalive_interval: float = KEEPALIVE_INTERVAL
    keepalive_misses: int = KEEPALIVE_MISSES
    handshake_timeout: float = HANDSHAKE_TIMEOUT
    #: Rekeys a peer may make us do (answer ``RekeyInit``, act on ``RekeyRequest``), one bucket
    #: per peer static key shared by every session made with this config, so a new session does
    #: not bring a new burst; past it the session ends with ``RATE_LIMITED`` (§5.4; issue 13, F12).
    rekey_limits: KeyedBuckets = field(default_factory=lambda: KeyedBuckets(REKEY_RATE, REKEY_BURST))
    #: The KEM behind the ``hfs`` tokens of handshakes under the profile whose KEM it is (a
    #: deterministic one in golden tests); None for each suite's own, drawing from the OS.
    kem: Kem | None = None
    #: The line profile of every session made with this config, unless ``suite_for`` is given.
    suite: Suite = STANDARD
    #: The line profile chosen per peer, by its static key (None: no line to that key). When given
    #: it decides for every session made with this config: an initiator runs the profile of the line
    #: it dials (``suite`` if the key has no line); a responder takes the profile of the initiation
    #: whose mac1 checks, then refuses an initiator whose line has the other one (§3.8). The answer
    #: must not depend on anything but the key.
    suite_for: Callable[[bytes], Suite | None] | None = None
    #: Told of each initiation refused because its profile is not its line's (§3.8), so the
    #: station can raise an alert naming both. Called from :meth:`Session.receive_data`.
    on_profile_mismatch: Callable[[ProfileMismatch], None] | None = None
    #: Draws a fresh X25519 ephemeral for each handshake.
    new_ephemeral: Callable[[], X25519PrivateKey] = X25519PrivateKey.generate
    #: Where an adapter that dials takes each first initiation's timestamp (ns; docs/protocol.md
    #: §3.3), ``None`` for the bare wall clock. A station passes one that never repeats or goes
    #: back (:class:`~hotline.proto.handshake.InitiationTimestamps`). The session never calls it:
    #: the timestamp comes in as :meth:`Session.initiator`'s ``wall_time_ns``.
    initiation_clock: Callable[[], int] | None = None
    #: Carrier mode (docs/protocol.md §14): cells of this size at this interval, both ways, from
    #: the end of the handshake; ``None`` (the default) for the records of §5. Both ends must agree.
    carrier: CarrierSetting | None = None
    #: Carrier mode chosen per peer, by its static key: when given it decides for every session made
    #: with this config (``carrier`` is then not used). An initiator asks it before its first record;
    #: a responder once the initiation is opened, so a station can run some lines as carriers and
    #: others not. The answer must not depend on anything but the key.
    carrier_for: Callable[[bytes], CarrierSetting | None] | None = None


def local_keys(config: SessionConfig, suite: Suite) -> LocalKeys:
    kem = config.kem if config.kem is not None and config.kem.name == suite.kem_name else suite.kem()
    mac_key = mac1_key(config.static.public_key().raw, suite.mac_hash)
    return LocalKeys(config.static, mac_key, config.new_ephemeral, kem, suite)


def readable_suites(config: SessionConfig) -> tuple[Suite, ...]:
    # the profiles a responder reads initiations under: every one when the line decides, else one
    return tuple(SUITES.values()) if config.suite_for is not None else (config.suite,)


def undecided_keys(config: SessionConfig) -> LocalKeys:
    # a responder's keys until the initiation says its profile: nothing is made with them (the
    # answer installs that profile's), and nothing of any profile is computed for them
    return LocalKeys(config.static, b"", config.new_ephemeral, config.suite.kem(), config.suite)


def responder_side(
    config: SessionConfig,
    peers: PeerDirectory,
    guard: TimestampGuard,
    limits: HandshakeLimits | None,
    source: str | None,
) -> ResponderSide:
    return ResponderSide(
        partial(local_keys, config),
        peers=peers,
        guard=guard,
        limits=limits,
        source=source,
        line_suite=config.suite_for,
        suites=readable_suites(config),
        on_mismatch=config.on_profile_mismatch,
    )


#: The largest first-handshake record of any profile: what a responder reads before it knows which.
MAX_INIT_LEN = max(init_len(s.kem()) for s in SUITES.values())


def first_record_max(keys: LocalKeys, initiator: bool) -> int:
    # the longest record a session reads before the handshake is done (a length field counts the type)
    return (response_len(keys.kem) if initiator else MAX_INIT_LEN) + 1


def dialled_suite(config: SessionConfig, peer_static: bytes) -> Suite:
    # the initiator runs its line's profile; the config's when the key has no line
    found = None if config.suite_for is None else config.suite_for(peer_static)
    return config.suite if found is None else found


__all__ = [
    "MAX_INIT_LEN",
    "SessionConfig",
    "dialled_suite",
    "first_record_max",
    "local_keys",
    "readable_suites",
    "responder_side",
    "undecided_keys",
]
