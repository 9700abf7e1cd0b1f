"""CPace, the balanced PAKE of the CFRG, with the cipher suite CPACE-X25519-SHA512.

Implemented from draft-irtf-cfrg-cpace-21 (sections cited as "CPace §n"), RFC 7748 (X25519) and
RFC 9380 (the Elligator 2 map). An engineer who holds those documents can build the same bytes; the
draft's own test vectors (its Appendix B.1) are checked by the unit tests.

One party is a :class:`CPace`: it draws a scalar ``y``, sends ``Y = X25519(y, g)`` where the generator
``g`` is hashed from the password (PRS), a channel identifier (CI) and a session id (sid), and from
the peer's ``Y`` computes ``K = X25519(y, Y_peer)`` and the 64-byte intermediate session key ISK.
Only the initiator-responder setting is offered (CPace §6.3 ``transcript_ir``): the caller fixes who
is the initiator ``A`` and who the responder ``B``. A wrong password does not fail here: both sides
get keys, and the keys differ; detecting that is the caller's key confirmation.

X25519 is pyca/cryptography's (through :mod:`hotline.crypto.x25519`), SHA-512 is hashlib's. What is
written here is only the string encodings of CPace's Appendix A and the map from a hash to a point
of Curve25519 (RFC 7748 ``decodeUCoordinate``, then RFC 9380 §6.7.1 ``map_to_curve_elligator2``),
a few lines of integer arithmetic. No maintained Python library offers that map with CPace's
decoding: libsodium maps to Edwards points with the cofactor cleared, and Monocypher's Elligator
ignores the top two bits of its input where CPace ignores one.

What this does not promise: Python integers are not constant time, so the time the map takes
depends on the generator, which depends on the password. That is acceptable here because the
password is a pairing code: drawn fresh, good for one connection, and worth one online guess. An
attacker who could time the map on the station's own machine would learn about a code that is
already used up by the time the measurement ends. The scalar multiplications are pyca's (constant
time); the scalar is used once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from enum import Enum

from hotline.crypto.errors import CryptoError
from hotline.crypto.random import random_bytes
from hotline.crypto.x25519 import X25519PrivateKey, X25519PublicKey

#: Length of a CPace message ``Y`` (an X25519 u-coordinate) and of a scalar.
MESSAGE_LEN = 32
#: Length of the intermediate session key ISK (SHA-512).
ISK_LEN = 64
#: G_X25519.DSI (CPace §8.2).
DSI = b"CPace255"
#: SHA-512's input block size, H.s_in_bytes (CPace §6.2).
_S_IN_BYTES = 128

# Curve25519 (RFC 7748 §4.1) and the Elligator 2 constants of RFC 9380 §8.5 (J = A, K = 1, Z = 2).
_P = 2**255 - 19
_J = 486662
_Z = 2


def prepend_len(data: bytes) -> bytes:
    """``data`` with its length prepended in LEB128 (CPace §6.3, Appendix A.1.1)."""
    length, prefix = len(data), bytearray()
    while True:
        byte, length = length & 0x7F, length >> 7
        prefix.append(byte | (0x80 if length else 0))
        if not length:
            return bytes(prefix) + data


def lv_cat(*parts: bytes) -> bytes:
    """The length-value concatenation of ``parts`` (CPace Appendix A.1.3)."""
    return b"".join(prepend_len(part) for part in parts)


def o_cat(first: bytes, second: bytes) -> bytes:
    """``"oc"`` and the two strings, the lexicographically larger first (CPace Appendix A.3.2)."""
    # Python compares bytes exactly as the draft's lexiographically_larger (a proper prefix is smaller)
    return b"oc" + (first + second if first > second else second + first)


def transcript_ir(ya: bytes, ada: bytes, yb: bytes, adb: bytes) -> bytes:
    """The initiator-responder transcript ``lv_cat(Ya, ADa) || lv_cat(Yb, ADb)`` (Appendix A.3.4)."""
    return lv_cat(ya, ada) + lv_cat(yb, adb)


def transcript_oc(ya: bytes, ada: bytes, yb: bytes, adb: bytes) -> bytes:
    """The symmetric-setting transcript (Appendix A.3.6); here only to check the draft's vectors."""
    return o_cat(lv_cat(ya, ada), lv_cat(yb, adb))


def generator_string(prs: bytes, ci: bytes, sid: bytes) -> bytes:
    """``lv_cat(DSI, PRS, zero_bytes(len_zpad), CI, sid)`` for SHA-512 (CPace §8.1, Appendix A.2)."""
    # the padding makes DSI and PRS fill SHA-512's first block, whatever the length of a short PRS
    zpad = max(0, _S_IN_BYTES - 1 - len(prepend_len(prs)) - len(prepend_len(DSI)))
    return lv_cat(DSI, prs, bytes(zpad), ci, sid)


def _is_square(x: int) -> bool:
    # RFC 9380 §4: Euler's criterion; zero counts as a square
    return pow(x, (_P - 1) // 2, _P) in (0, 1)


def map_to_curve_elligator2(u: int) -> int:
    """The u-coordinate RFC 9380 §6.7.1 maps field element ``u`` to, on Curve25519 (v is dropped)."""
    tv = (1 + _Z * u * u) % _P
    x1 = -_J * pow(tv, -1, _P) % _P if tv else 0  # inv0(0) = 0; 1 + 2u^2 is never 0 mod p anyway
    if x1 == 0:
        x1 = -_J % _P
    gx1 = (x1 * x1 * x1 + _J * x1 * x1 + x1) % _P
    return x1 if _is_square(gx1) else (-x1 - _J) % _P


def calculate_generator(prs: bytes, ci: bytes, sid: bytes) -> bytes:
    """The generator ``g`` (a 32-byte u-coordinate) for PRS, CI and sid (CPace §8.2)."""
    digest = hashlib.sha512(generator_string(prs, ci, sid)).digest()[:32]
    # RFC 7748 §5 decodeUCoordinate: little-endian, bit 255 cleared; the map works modulo p
    u = int.from_bytes(digest, "little") & ((1 << 255) - 1)
    return map_to_curve_elligator2(u % _P).to_bytes(32, "little")


def scalar_mult_vfy(scalar: bytes, point: bytes) -> bytes:
    """G_X25519.scalar_mult_vfy: ``X25519(scalar, point)`` (CPace §8.2).

    Raises:
        CryptoError: the result is the neutral element (all zero), which CPace aborts on; that is
            every low-order point of the curve and of its twist, or ``point`` is not 32 bytes.
    """
    if len(scalar) != MESSAGE_LEN:
        raise CryptoError("a CPace scalar is 32 bytes")
    if len(point) != MESSAGE_LEN:
        raise CryptoError("a CPace message is 32 bytes")
    # pyca clamps the scalar (RFC 7748 decodeScalar25519), clears bit 255 of the point and refuses
    # the all-zero output with CryptoError (through our wrapper)
    return X25519PrivateKey.from_bytes(scalar).exchange(X25519PublicKey.from_bytes(point))


def intermediate_session_key(sid: bytes, k: bytes, transcript: bytes) -> bytes:
    """``ISK = SHA-512(lv_cat(DSI || "_ISK", sid, K) || transcript)`` (CPace §7.2)."""
    return hashlib.sha512(lv_cat(DSI + b"_ISK", sid, k) + transcript).digest()


class Role(Enum):
    """Which party of the initiator-responder setting this is."""

    #: Party A: its message and associated data come first in the transcript.
    INITIATOR = "initiator"
    #: Party B.
    RESPONDER = "responder"


class CPace:
    """One party of one CPace run (initiator-responder). Single use: one :meth:`finish`.

    Not safe for concurrent use.
    """

    __slots__ = ("_ad_ours", "_ad_theirs", "_done", "_role", "_scalar", "_sid", "message")

    def __init__(
        self,
        role: Role,
        prs: bytes,
        *,
        ci: bytes,
        sid: bytes,
        ad_ours: bytes,
        ad_theirs: bytes,
        entropy: Callable[[int], bytes] = random_bytes,
    ) -> None:
        """Draw the scalar and compute our message.

        Args:
            role: initiator (A) or responder (B).
            prs: the password-related string.
            ci: the channel identifier; never sent.
            sid: the session id (may be empty).
            ad_ours: our associated data (ADa for the initiator, ADb for the responder).
            ad_theirs: the peer's associated data, as the caller received or knows it.
            entropy: where the 32 scalar bytes come from (the OS CSPRNG unless a test injects one).

        Raises:
            CryptoError: the entropy function returned other than 32 bytes, or the generator is a
                low-order point (probability about 2^-250).
        """
        self._role = role
        self._sid = bytes(sid)
        self._ad_ours, self._ad_theirs = bytes(ad_ours), bytes(ad_theirs)
        # G_X25519.sample_scalar: 32 uniform bytes (CPace §8.2); X25519 clamps them
        self._scalar = bytes(entropy(MESSAGE_LEN))
        generator = calculate_generator(bytes(prs), bytes(ci), self._sid)
        #: Our message ``Y`` to send (:data:`MESSAGE_LEN` bytes).
        self.message = scalar_mult_vfy(self._scalar, generator)
        self._done = False

    def finish(self, peer_message: bytes) -> bytes:
        """Returns ISK (:data:`ISK_LEN` bytes) from the peer's message.

        Raises:
            CryptoError: the message is not 32 bytes or gives the neutral element (CPace's abort),
                is our own message sent back, or this run already finished.
        """
        if self._done:
            raise CryptoError("a CPace run finishes once")
        self._done = True
        peer_message = bytes(peer_message)
        if peer_message == self.message:
            # not one of CPace's aborts (the keys would differ anyway), but never an honest peer's
            raise CryptoError("our own CPace message came back")
        k = scalar_mult_vfy(self._scalar, peer_message)
        if self._role is Role.INITIATOR:
            transcript = transcript_ir(self.message, self._ad_ours, peer_message, self._ad_theirs)
        else:
            transcript = transcript_ir(peer_message, self._ad_theirs, self.message, self._ad_ours)
        return intermediate_session_key(self._sid, k, transcript)


__all__ = [
    "DSI",
    "ISK_LEN",
    "MESSAGE_LEN",
    "CPace",
    "Role",
    "calculate_generator",
    "generator_string",
    "intermediate_session_key",
    "lv_cat",
    "map_to_curve_elligator2",
    "o_cat",
    "prepend_len",
    "scalar_mult_vfy",
    "transcript_ir",
    "transcript_oc",
]
