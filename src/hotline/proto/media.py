"""Voice media packets: sealed datagrams and anti-replay (docs/protocol.md §12.3).

A call's two media keys come from its own key exchange (:mod:`hotline.proto.callkeys`), so media can
only be made or read by the two stations that ran it, and a finished call's keys cannot be derived
again from anything the session keeps.

Each packet, on UDP or inside the session when UDP does not pass, is exactly :data:`PACKET_LEN`
bytes so its size says nothing about the speech in it::

    0x56 | u32be receiver index | u64be counter | AEAD(u16be length || payload || zeros)

The AEAD is the line profile's (``CallKeys.aead``): ChaCha20-Poly1305 for ``standard``, AES-256-GCM
for ``cnsa2``, both with a 16-byte tag, so a packet has the same length under both. The first 13
bytes are the associated data; the nonce is the counter, encoded as the profile's Noise cipher
encodes it (little-endian for ChaChaPoly, big-endian for AESGCM). The receiver
keeps a sliding window of :data:`REPLAY_WINDOW` counters and takes each counter at most once, after
the tag checks, so a forged packet cannot move the window.
"""

from __future__ import annotations

import struct

from hotline.crypto.aead import CHACHAPOLY, TAG_LEN, Aead
from hotline.crypto.errors import CryptoError

#: The first byte of every media packet.
PACKET_TYPE = 0x56
#: Room for a payload in every packet; shorter payloads are padded to it.
PAYLOAD_ROOM = 400
_HEADER = struct.Struct(">BIQ")
HEADER_LEN = _HEADER.size
#: Every media packet is exactly this long.
PACKET_LEN = HEADER_LEN + 2 + PAYLOAD_ROOM + TAG_LEN
#: How far behind the newest counter a packet may still arrive (about 20 s of 20 ms frames).
REPLAY_WINDOW = 1024
_LENGTH = struct.Struct(">H")
_MAX_COUNTER = 2**64 - 1


def packet_index(packet: bytes | memoryview) -> int | None:
    """The receiver index of something that looks like a media packet, else None (no crypto done)."""
    if len(packet) != PACKET_LEN or packet[0] != PACKET_TYPE:
        return None
    index: int = _HEADER.unpack_from(packet)[1]
    return index


def packet_counter(packet: bytes | memoryview) -> int | None:
    """The counter of something that looks like a media packet, else None (no crypto done)."""
    if len(packet) != PACKET_LEN or packet[0] != PACKET_TYPE:
        return None
    counter: int = _HEADER.unpack_from(packet)[2]
    return counter


class MediaSealer:
    """Seals one direction of a call's media; counts from 0 and never reuses a counter."""

    __slots__ = ("_cipher", "_counter", "_index", "_nonce")

    def __init__(self, key: bytes, receiver_index: int, aead: Aead = CHACHAPOLY) -> None:
        self._cipher = aead.key(key)
        self._nonce = aead.nonce
        self._index = receiver_index
        self._counter = 0

    @property
    def sent(self) -> int:
        """Packets sealed so far."""
        return self._counter

    def seal(self, payload: bytes) -> bytes:
        """One packet of exactly :data:`PACKET_LEN` bytes carrying ``payload``."""
        if len(payload) > PAYLOAD_ROOM:
            raise ValueError(f"a media payload is at most {PAYLOAD_ROOM} bytes")
        if self._counter >= _MAX_COUNTER:
            raise CryptoError("media counter exhausted")
        header = _HEADER.pack(PACKET_TYPE, self._index, self._counter)
        body = _LENGTH.pack(len(payload)) + payload + bytes(PAYLOAD_ROOM - len(payload))
        sealed = self._cipher.seal(self._nonce(self._counter), header, body)
        self._counter += 1
        return header + sealed


class ReplayWindow:
    """Which of the last :data:`REPLAY_WINDOW` counters have been taken (a sliding bitmap)."""

    __slots__ = ("_bits", "_top")

    def __init__(self) -> None:
        self._top = -1
        self._bits = 0

    def fresh(self, counter: int) -> bool:
        """Whether ``counter`` is new and inside the window (does not take it)."""
        if counter > self._top:
            return True
        behind = self._top - counter
        return behind < REPLAY_WINDOW and not (self._bits >> behind) & 1

    def take(self, counter: int) -> None:
        """Mark ``counter`` seen (call only after :meth:`fresh` said yes and the tag checked)."""
        if counter > self._top:
            shift = counter - self._top
            self._bits = (
                ((self._bits << shift) | 1) & ((1 << REPLAY_WINDOW) - 1) if shift < REPLAY_WINDOW else 1
            )
            self._top = counter
        else:
            self._bits |= 1 << (self._top - counter)


class MediaOpener:
    """Opens one direction of a call's media: authentic, fresh packets only."""

    __slots__ = ("_cipher", "_index", "_nonce", "_window", "forged", "replayed")

    def __init__(self, key: bytes, receiver_index: int, aead: Aead = CHACHAPOLY) -> None:
        self._cipher = aead.key(key)
        self._nonce = aead.nonce
        self._index = receiver_index
        self._window = ReplayWindow()
        #: Packets whose tag did not check (or that were not packets of this call).
        self.forged = 0
        #: Authentic packets seen before, or too old for the window.
        self.replayed = 0

    def authentic(self, packet: bytes | memoryview) -> bool:
        """Whether ``packet`` is one of this call's, sealed by the far end: the tag alone, the window
        untouched (for a copy of a packet already taken by another path)."""
        if len(packet) != PACKET_LEN:
            return False
        kind, index, counter = _HEADER.unpack_from(packet)
        if kind != PACKET_TYPE or index != self._index:
            return False
        view = memoryview(packet)
        try:
            self._cipher.open(self._nonce(counter), bytes(view[:HEADER_LEN]), view[HEADER_LEN:])
        except CryptoError:
            return False
        return True

    def open(self, packet: bytes | memoryview) -> tuple[int, bytes] | None:
        """``(counter, payload)`` of an authentic, fresh packet; None for anything else."""
        if len(packet) != PACKET_LEN:
            self.forged += 1
            return None
        kind, index, counter = _HEADER.unpack_from(packet)
        if kind != PACKET_TYPE or index != self._index:
            self.forged += 1
            return None
        if not self._window.fresh(counter):
            self.replayed += 1
            return None
        view = memoryview(packet)
        try:
            body = self._cipher.open(self._nonce(counter), bytes(view[:HEADER_LEN]), view[HEADER_LEN:])
        except CryptoError:
            self.forged += 1
            return None
        (length,) = _LENGTH.unpack_from(body)
        if length > PAYLOAD_ROOM:
            # authentic but malformed: the peer's bug, not an attack; still never replayable
            self._window.take(counter)
            self.forged += 1
            return None
        self._window.take(counter)
        return counter, body[2 : 2 + length]


__all__ = [
    "HEADER_LEN",
    "PACKET_LEN",
    "PACKET_TYPE",
    "PAYLOAD_ROOM",
    "REPLAY_WINDOW",
    "MediaOpener",
    "MediaSealer",
    "ReplayWindow",
    "packet_counter",
    "packet_index",
]
