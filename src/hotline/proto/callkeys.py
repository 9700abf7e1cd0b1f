"""A call's own key exchange: committed, hybrid, fresh for every call (docs/protocol.md §12.2).

Findings F3 and F9 of the security review: the four-word SAS used to be a function of values that a
man in the middle who held both sessions could choose after seeing the other end's (the callee's
receiver index came in the answer, so the caller's side could be ground in about 2**32 hashes), and
the call keys came from the session's first handshake hash, so whoever later read a station's memory
could derive every earlier call of that session.

Now every call runs its own X25519 + ML-KEM-768 exchange inside the session, ZRTP-style (the
commitment of RFC 6189 §4.4.1.1), in three messages that all cross while the call rings::

    caller -> callee  CallOffer:   commitment = SHA-256("hotline call commit v2" || call id || a),
                                   the caller's fresh ML-KEM-768 public key K
    callee -> caller  CallRinging: the callee's receiver index, its fresh X25519 public key b,
                                   the ML-KEM ciphertext c (encapsulated to K)
    caller -> callee  CallReveal:  a, the caller's fresh X25519 public key; the callee checks it
                                   against the commitment

Every value the SAS depends on is fixed before the other end's hidden value is seen: the caller is
bound to ``a`` before it sees ``b`` and ``c``, and the callee sends ``b`` and ``c`` before it sees
``a``. A man in the middle therefore picks its values blind on both legs and gets one guess per
call: with 32 SAS bits, a match by chance once in 2**32 calls. Then::

    transcript = SHA-256("hotline call v2" || handshake hash || call id || u32be(caller index)
                         || u32be(callee index) || commitment || K || b || c || a)
    secret     = HKDF-SHA256(ikm = X25519(a, b) || ML-KEM shared secret, salt = transcript,
                             info = "hotline call v2", 68 bytes)
    caller -> callee key = secret[0:32], callee -> caller key = secret[32:64],
    SAS = the words of secret[64:68]

The handshake hash binds the call to the session it was set up in (channel binding). The private
halves (``a``'s and ``b``'s keys, the ML-KEM seed, the shared secrets) are dropped as soon as the
keys are derived, and the keys when the call ends: nothing left in the session lets anyone derive a
finished call's keys (per-call forward secrecy).

The exchange follows the line's profile (:class:`~hotline.proto.suites.Suite`): ``standard`` is the
above, ``cnsa2`` the same steps with ML-KEM-1024, SHA-384 for the commitment (truncated to 32 bytes)
and the transcript, HKDF-SHA384, and labels of their own (``"hotline call commit v2/SHA384"``,
``"hotline call v2/SHA384"``), so that a ``cnsa2`` call makes no ML-KEM-768, SHA-256 or BLAKE2 use.

Randomness comes in as arguments (X25519 private bytes, the ML-KEM seed); ML-KEM encapsulation goes
through an injected :class:`~hotline.crypto.mlkem.Kem`, as in the handshake.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from hotline.crypto.aead import CHACHAPOLY, Aead
from hotline.crypto.errors import CryptoError
from hotline.crypto.hashing import constant_time_equal, digest, hkdf
from hotline.crypto.mlkem import SEED_LEN, Kem, MLKEM768PrivateKey, MLKEM1024PrivateKey
from hotline.crypto.x25519 import KEY_LEN, X25519PrivateKey, X25519PublicKey
from hotline.proto.suites import STANDARD, Suite
from hotline.proto.wordlist import WORDS

#: Words in the short authentication string.
SAS_WORDS = 4
#: Bytes of a commitment (SHA-256, or the profile's hash truncated), under every profile.
COMMITMENT_LEN = 32
#: Bytes of an X25519 secret each end draws for a call.
DH_SECRET_LEN = KEY_LEN
#: Bytes of the ML-KEM seed the caller draws for a call (both parameter sets).
KEM_SEED_LEN = SEED_LEN
_COMMIT_LABEL = b"hotline call commit v2"
_LABEL = b"hotline call v2"
#: The caller's ML-KEM private key by the profile's KEM name, made from the seed it drew.
_KEM_KEYS: dict[str, type[MLKEM768PrivateKey] | type[MLKEM1024PrivateKey]] = {
    "MLKEM768": MLKEM768PrivateKey,
    "MLKEM1024": MLKEM1024PrivateKey,
}


def _labels(suite: Suite) -> tuple[bytes, bytes]:
    # standard keeps its labels (its wire is unchanged); another profile's name its hash
    if suite.call_hash == "SHA256":
        return _COMMIT_LABEL, _LABEL
    tail = b"/" + suite.call_hash.encode()
    return _COMMIT_LABEL + tail, _LABEL + tail


class CallKeyError(ValueError):
    """The far end's part of the exchange does not check: the call cannot have keys."""


@dataclass(frozen=True, slots=True)
class CallKeys:
    """The two media keys of a call and its short authentication string."""

    caller_to_callee: bytes
    callee_to_caller: bytes
    sas: tuple[str, ...]
    #: The AEAD of the call's media: the line profile's (:mod:`hotline.proto.media`).
    aead: Aead = CHACHAPOLY

    def sending(self, *, caller: bool) -> bytes:
        """The key this end seals with."""
        return self.caller_to_callee if caller else self.callee_to_caller

    def receiving(self, *, caller: bool) -> bytes:
        """The key this end opens with."""
        return self.callee_to_caller if caller else self.caller_to_callee


def commitment(call_id: bytes, dh_public: bytes, suite: Suite = STANDARD) -> bytes:
    """What the caller sends in its offer instead of its X25519 public key (32 bytes)."""
    label = _labels(suite)[0]
    return digest(suite.call_hash, label + call_id + dh_public)[:COMMITMENT_LEN]


@dataclass(frozen=True, slots=True)
class Transcript:
    """Every public value of one call's exchange, in the order they were fixed."""

    #: The handshake hash of the session the call is set up in (channel binding).
    binding: bytes
    call_id: bytes
    caller_index: int
    callee_index: int
    commitment: bytes
    kem_public: bytes
    callee_dh: bytes
    kem_ciphertext: bytes
    caller_dh: bytes
    #: The line's profile: whose hash this is.
    suite: Suite = STANDARD

    def digest(self) -> bytes:
        """The profile's call hash (SHA-256 for ``standard``) of the whole, each field length-fixed
        or length-prefixed."""
        parts = (
            self.binding,
            self.call_id,
            struct.pack(">II", self.caller_index, self.callee_index),
            self.commitment,
            self.kem_public,
            self.callee_dh,
            self.kem_ciphertext,
            self.caller_dh,
        )
        label = _labels(self.suite)[1]
        return digest(self.suite.call_hash, label + b"".join(struct.pack(">H", len(p)) + p for p in parts))


def derive(transcript: Transcript, dh_secret: bytes, kem_secret: bytes) -> CallKeys:
    """The call's keys and SAS from the two shared secrets and the public transcript (HKDF with the
    transcript's profile's call hash)."""
    suite = transcript.suite
    secret = hkdf(
        suite.call_hash, dh_secret + kem_secret, salt=transcript.digest(), info=_labels(suite)[1], length=68
    )
    sas = tuple(WORDS[b] for b in secret[64 : 64 + SAS_WORDS])
    return CallKeys(secret[0:32], secret[32:64], sas, suite.aead)


class CallerExchange:
    """The caller's half: commit, then take the callee's share and reveal."""

    def __init__(self, call_id: bytes, *, dh_secret: bytes, kem_seed: bytes, suite: Suite = STANDARD) -> None:
        if len(dh_secret) != DH_SECRET_LEN or len(kem_seed) != KEM_SEED_LEN:
            raise ValueError("a caller draws a 32-byte X25519 secret and a 64-byte ML-KEM seed")
        self._suite = suite
        self._dh: X25519PrivateKey | None = X25519PrivateKey.from_bytes(dh_secret)
        self._kem: MLKEM768PrivateKey | MLKEM1024PrivateKey | None = _KEM_KEYS[suite.kem_name].from_seed(
            kem_seed
        )
        #: Our X25519 public key, sent only in the reveal.
        self.dh_public = self._dh.public_key().raw
        #: What the offer carries.
        self.commitment = commitment(call_id, self.dh_public, suite)
        self.kem_public = self._kem.public_key().raw

    def finish(
        self,
        binding: bytes,
        call_id: bytes,
        caller_index: int,
        callee_index: int,
        callee_dh: bytes,
        ciphertext: bytes,
    ) -> CallKeys:
        """The keys, from the callee's share; our private keys are dropped whatever happens.

        Raises:
            CallKeyError: the share is not a usable key or ciphertext.
        """
        dh, kem = self._dh, self._kem
        self._dh = self._kem = None
        if dh is None or kem is None:
            raise CallKeyError("the caller's exchange is already finished")
        try:
            dh_secret = dh.exchange(X25519PublicKey.from_bytes(callee_dh))
            kem_secret = kem.decapsulate(ciphertext)
        except CryptoError as exc:
            raise CallKeyError(f"the callee's key share does not check: {exc}") from None
        transcript = Transcript(
            binding,
            call_id,
            caller_index,
            callee_index,
            self.commitment,
            self.kem_public,
            callee_dh,
            ciphertext,
            self.dh_public,
            self._suite,
        )
        return derive(transcript, dh_secret, kem_secret)

    def forget(self) -> None:
        """Drop the private keys (the call ended before the exchange did)."""
        self._dh = self._kem = None


class CalleeExchange:
    """The callee's half: answer the commitment with a share, then check the reveal."""

    def __init__(
        self,
        call_id: bytes,
        commitment: bytes,
        kem_public: bytes,
        *,
        dh_secret: bytes,
        kem: Kem,
        suite: Suite = STANDARD,
    ) -> None:
        """Raises :class:`CallKeyError` when the offer's ML-KEM key does not check (an offer of
        another profile's KEM does not), :class:`ValueError` when ``kem`` is not ``suite``'s."""
        if len(dh_secret) != DH_SECRET_LEN:
            raise ValueError("a callee draws a 32-byte X25519 secret")
        if kem.name != suite.kem_name:
            raise ValueError(f"a {suite.profile} call encapsulates with {suite.kem_name}, not {kem.name}")
        self._suite = suite
        self._call_id = call_id
        self._commitment = commitment
        self._kem_public = kem_public
        self._dh: X25519PrivateKey | None = X25519PrivateKey.from_bytes(dh_secret)
        #: Our X25519 public key, sent in the ringing.
        self.dh_public = self._dh.public_key().raw
        try:
            self._kem_secret: bytes | None
            self._kem_secret, self.ciphertext = kem.encapsulate(kem_public)
        except CryptoError as exc:
            raise CallKeyError(f"the caller's ML-KEM key does not check: {exc}") from None

    def finish(self, binding: bytes, caller_index: int, callee_index: int, caller_dh: bytes) -> CallKeys:
        """The keys, once the caller's reveal matches its commitment; our secrets are dropped
        whatever happens.

        Raises:
            CallKeyError: the reveal is not what the caller committed to, or not a usable key.
        """
        dh, kem_secret = self._dh, self._kem_secret
        self._dh = self._kem_secret = None
        if dh is None or kem_secret is None:
            raise CallKeyError("the callee's exchange is already finished")
        if not constant_time_equal(commitment(self._call_id, caller_dh, self._suite), self._commitment):
            raise CallKeyError("the caller's reveal does not match its commitment")
        try:
            dh_secret = dh.exchange(X25519PublicKey.from_bytes(caller_dh))
        except CryptoError as exc:
            raise CallKeyError(f"the caller's key does not check: {exc}") from None
        transcript = Transcript(
            binding,
            self._call_id,
            caller_index,
            callee_index,
            self._commitment,
            self._kem_public,
            self.dh_public,
            self.ciphertext,
            caller_dh,
            self._suite,
        )
        return derive(transcript, dh_secret, kem_secret)

    def forget(self) -> None:
        """Drop the private key and shared secret (the call ended before the exchange did)."""
        self._dh = self._kem_secret = None


__all__ = [
    "COMMITMENT_LEN",
    "DH_SECRET_LEN",
    "KEM_SEED_LEN",
    "SAS_WORDS",
    "CallKeyError",
    "CallKeys",
    "CalleeExchange",
    "CallerExchange",
    "Transcript",
    "commitment",
    "derive",
]
