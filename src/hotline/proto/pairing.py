"""Pairing by code phrase: two stations make a verified, keyed line in one step (docs/protocol.md §11).

Theory of operation. The listening station shows a short code (``7-hobby-beach-donkey``); its operator
reads it to the other operator over a channel they trust; the dialling station connects with it. Both
run CPace (the CFRG's balanced PAKE, :mod:`hotline.crypto.cpace`) on the code, the dialer as its
initiator, prove to each other that they got the same key (key confirmation), and only then reveal
anything: their cards, encrypted under keys derived from CPace's key, then the sealed line key
(listener to dialer), then "done" (dialer to listener). Because the code, checked by
key confirmation, proves that each card came from the station the operators spoke about, it does the
job of comparing safety numbers, and the line ends verified.

The line key itself is sealed to the peer's card with HPKE (ML-KEM-768 + X25519 for a ``standard``
line, ML-KEM-1024 + P-384 for a ``cnsa2`` one) and signed (:mod:`hotline.proto.linekeys`), so it is
post-quantum even though CPace is classical: CPace only authenticates the cards. A future quantum
attacker who recorded a pairing learns the cards (public anyway) and nothing about the line key.

Each side pairs for the line profile its operator asked for (``pair --profile``). A ``cnsa2`` side
sends a ``PROFILE`` frame naming it just before its card; a ``standard`` side sends none (so a
``standard`` pairing has the frames it had before the profiles existed). The frames are sealed under
consecutive nonces, so the ``PROFILE`` frame cannot be removed or added unnoticed. A side whose peer
asked for another profile fails with
:attr:`FailureKind.PROFILE_MISMATCH`, a reason naming both profiles, and tells the peer (``ABORT``);
the peer finds the same on its own.

This module owns the frames, the key schedule and :class:`PairingMachine`, one
sans-IO machine per connection with a role. It refuses to know about sockets, clocks, stores or which
names the operators gave the line: the adapter (:mod:`hotline.station.pairing`) decides what to do
with a peer's card and does the storing. The code's format (drawing, spelling, checking) is
:mod:`hotline.proto.pairingcode`. Randomness comes in as an ``entropy`` function and time as ``now``
arguments.

A station from before CPace (SPAKE2, a 33-byte ``PAKE`` message) fails at the first ``PAKE`` frame
either way: each side refuses a message of the other's length.

Rules it keeps:

* Every change of state goes through :data:`TRANSITIONS` (one table, keyed by role, state and
  trigger); a frame whose trigger is not in the table for the current state is a protocol failure.
* Nothing but the PAKE message and the key confirmation goes out before the peer's confirmation has
  been checked (in constant time), so a side with the wrong code learns nothing but "wrong code".
* Anything malformed, unexpected, unauthenticated or late ends the machine with one
  :class:`PairingFailed` event; :meth:`PairingMachine.receive_data` never raises.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from enum import Enum, IntEnum

from hotline.crypto.aead import CipherKey, noise_nonce
from hotline.crypto.cpace import MESSAGE_LEN as PAKE_MESSAGE_LEN
from hotline.crypto.cpace import CPace
from hotline.crypto.cpace import Role as CPaceRole
from hotline.crypto.errors import CryptoError
from hotline.crypto.hashing import blake2s, constant_time_equal, hkdf_sha256
from hotline.proto.cards import StationCard, decode_card, encode_card
from hotline.proto.errors import LocalProtocolError
from hotline.proto.identity_errors import CardError
from hotline.proto.linekeys import MAX_SEALED_LEN
from hotline.proto.pairingcode import normalise_code
from hotline.proto.pairingevents import (
    PROFILES,
    CodeConfirmed,
    FailureKind,
    LineKeyReceived,
    PairingDone,
    PairingEvent,
    PairingFailed,
    PeerCardReceived,
    profile_mismatch_reason,
)

__all__ = [
    "EXCHANGE_TIMEOUT",
    "MAX_FRAME",
    "PAKE_AD_DIALER",
    "PAKE_AD_LISTENER",
    "PAKE_CI",
    "PAKE_SID",
    "TRANSITIONS",
    "CodeConfirmed",
    "FailureKind",
    "FrameType",
    "LineKeyReceived",
    "PairingDone",
    "PairingEvent",
    "PairingFailed",
    "PairingMachine",
    "PairingState",
    "PeerCardReceived",
    "Role",
    "Trigger",
    "profile_mismatch_reason",
]

# -- constants (docs/protocol.md §11) ----------------------------------------------------------------

#: CPace's channel identifier CI: binds the exchange to this protocol and version (never sent).
PAKE_CI = b"hotline pairing v2"
#: CPace's session id: empty, because nothing has crossed the connection before the first message;
#: the code itself is fresh for every pairing and good for one connection.
PAKE_SID = b""
#: CPace's associated data ADa (the dialer, the initiator) and ADb (the listener): the role names,
#: known to both sides and so never sent.
PAKE_AD_DIALER = b"dialer"
PAKE_AD_LISTENER = b"listener"
#: HKDF ``info`` labels; one per role and use, so no key or MAC can be reflected back at its sender.
LABEL_CONFIRM_LISTENER = b"hotline pairing v2 confirm listener"
LABEL_CONFIRM_DIALER = b"hotline pairing v2 confirm dialer"
LABEL_SEAL_LISTENER = b"hotline pairing v2 seal listener"
LABEL_SEAL_DIALER = b"hotline pairing v2 seal dialer"
#: Length of a key confirmation (keyed BLAKE2s-256).
CONFIRM_LEN = 32
#: Largest frame body (type byte included), and so the most a peer can make us buffer.
MAX_FRAME = 64 * 1024
#: Longest reason an ``Abort`` carries, in bytes.
MAX_REASON = 256
#: Seconds the exchange may take once connected (implementation constant: it takes well under one).
EXCHANGE_TIMEOUT = 60.0

_LENGTH_LEN = 4
_TAG_LEN = 16


# -- states and the one transition table ---------------------------------------------------------------


class Role(Enum):
    """Which end of the pairing a machine is."""

    #: Showed the code and accepted the connection; creates and sends the line key.
    LISTENER = "listener"
    #: Typed the code and connected; receives the line key and says "done".
    DIALER = "dialer"


class PairingState(Enum):
    """Where a pairing is."""

    #: Our PAKE message is sent; waiting for the peer's.
    AWAIT_PAKE = "await-pake"
    #: Our key confirmation is sent; waiting for the peer's.
    AWAIT_CONFIRM = "await-confirm"
    #: The code matched and our card is sent; waiting for the peer's card.
    AWAIT_CARD = "await-card"
    #: Listener: the peer's card is reported; waiting for the application to send a line key or abort.
    CHECK_CARD = "check-card"
    #: Listener: the line key is sent; waiting for "done".
    AWAIT_DONE = "await-done"
    #: Dialer: the peer's card is reported; waiting for the line key.
    AWAIT_LINE_KEY = "await-line-key"
    #: Dialer: the line key is reported; waiting for the application to store it and finish, or abort.
    STORE_KEY = "store-key"
    #: Paired. Terminal.
    DONE = "done"
    #: Failed; nothing more is sent or read. Terminal.
    FAILED = "failed"


class Trigger(Enum):
    """What moves a pairing."""

    #: The peer's PAKE message arrived and our confirmation went out.
    PAKE_RECEIVED = "pake-received"
    #: The peer's confirmation matched ours and our card went out.
    CODE_CONFIRMED = "code-confirmed"
    #: The peer said which line profile it pairs for (``cnsa2``; a ``standard`` peer says nothing).
    PROFILE_RECEIVED = "profile-received"
    #: The peer's card arrived, decrypted and checked.
    CARD_RECEIVED = "card-received"
    #: Listener (local): the application sent the line key.
    LINE_KEY_SENT = "line-key-sent"
    #: Dialer: the line key arrived.
    LINE_KEY_RECEIVED = "line-key-received"
    #: Dialer (local): the application stored the line and said "done".
    DONE_SENT = "done-sent"
    #: Listener: the dialer said "done".
    DONE_RECEIVED = "done-received"
    #: Anything that ends it badly: wrong code, malformed or unexpected input, abort, EOF, timeout.
    FAIL = "fail"


L, D, S, T = Role.LISTENER, Role.DIALER, PairingState, Trigger

#: (role, state, trigger) -> next state. A received frame whose trigger is not listed for the current
#: state is a protocol failure; a local call not listed is a bug in the caller (LocalProtocolError).
TRANSITIONS: dict[tuple[Role, PairingState, Trigger], PairingState] = {
    # both roles: PAKE, then key confirmation, then cards
    (L, S.AWAIT_PAKE, T.PAKE_RECEIVED): S.AWAIT_CONFIRM,
    (D, S.AWAIT_PAKE, T.PAKE_RECEIVED): S.AWAIT_CONFIRM,
    (L, S.AWAIT_CONFIRM, T.CODE_CONFIRMED): S.AWAIT_CARD,
    (D, S.AWAIT_CONFIRM, T.CODE_CONFIRMED): S.AWAIT_CARD,
    # a cnsa2 peer names its profile just before its card; the machine compares it with its own
    (L, S.AWAIT_CARD, T.PROFILE_RECEIVED): S.AWAIT_CARD,
    (D, S.AWAIT_CARD, T.PROFILE_RECEIVED): S.AWAIT_CARD,
    # the listener creates the line key once it has the dialer's card, then waits for "done"
    (L, S.AWAIT_CARD, T.CARD_RECEIVED): S.CHECK_CARD,
    (L, S.CHECK_CARD, T.LINE_KEY_SENT): S.AWAIT_DONE,
    (L, S.AWAIT_DONE, T.DONE_RECEIVED): S.DONE,
    # the dialer takes the listener's card, then the line key, stores both, and says "done"
    (D, S.AWAIT_CARD, T.CARD_RECEIVED): S.AWAIT_LINE_KEY,
    (D, S.AWAIT_LINE_KEY, T.LINE_KEY_RECEIVED): S.STORE_KEY,
    (D, S.STORE_KEY, T.DONE_SENT): S.DONE,
}
# The one special case, written as data too: every role fails from every state that is not terminal.
TERMINAL = frozenset({S.DONE, S.FAILED})
TRANSITIONS.update({(role, state, T.FAIL): S.FAILED for role in Role for state in S if state not in TERMINAL})


def transition(role: Role, state: PairingState, trigger: Trigger) -> PairingState:
    """The state after ``trigger``. Raises :class:`KeyError` for a move not in the table."""
    return TRANSITIONS[(role, state, trigger)]


# -- frames ----------------------------------------------------------------------------------------------


class FrameType(IntEnum):
    """The first byte of a frame body (docs/protocol.md §11)."""

    PAKE = 1
    CONFIRM = 2
    CARD = 3
    LINE_KEY = 4
    DONE = 5
    ABORT = 6
    PROFILE = 7


_TRIGGER_OF = {
    FrameType.PROFILE: T.PROFILE_RECEIVED,
    FrameType.PAKE: T.PAKE_RECEIVED,
    FrameType.CONFIRM: T.CODE_CONFIRMED,
    FrameType.CARD: T.CARD_RECEIVED,
    FrameType.LINE_KEY: T.LINE_KEY_RECEIVED,
    FrameType.DONE: T.DONE_RECEIVED,
}


def encode_frame(kind: FrameType, body: bytes) -> bytes:
    """``u32be(1 + len(body)) || kind || body``."""
    size = 1 + len(body)
    if size > MAX_FRAME:
        raise LocalProtocolError(f"a pairing frame is at most {MAX_FRAME} bytes")
    return size.to_bytes(_LENGTH_LEN, "big") + bytes([kind]) + body


# -- events (hotline.proto.pairingevents, re-exported here) ----------------------------------------------


class _Malformed(Exception):
    """Internal: the peer broke the protocol; becomes PairingFailed(MALFORMED) at the receive boundary."""


# -- the machine -----------------------------------------------------------------------------------------


class PairingMachine:
    """One end of one pairing connection, sans-IO. Not safe for concurrent use; single use.

    Inputs: :meth:`receive_data` (``b""`` is EOF), :meth:`handle_timer`, and the application's answers
    :meth:`send_line_key` (listener), :meth:`finish` (dialer) and :meth:`abort`. Outputs:
    :meth:`data_to_send`, :meth:`next_event` and :meth:`get_timer`. After any input, drain events and
    send. The dialer (CPace's initiator) has its PAKE message ready as soon as the machine exists; the
    listener sends its own on receiving the dialer's, with its confirmation.
    """

    def __init__(
        self,
        role: Role,
        code: str,
        *,
        card: StationCard,
        now: float,
        entropy: Callable[[int], bytes],
        timeout: float = EXCHANGE_TIMEOUT,
        profile: str = "standard",
    ) -> None:
        """Start one end of a pairing.

        Args:
            role: listener or dialer.
            code: the code as typed; it is normalised here.
            card: our own card, sent once the peer proved the code (a version 2 card for ``cnsa2``).
            now: the current time (any monotonic clock; the deadline is ``now + timeout``).
            entropy: returns that many random bytes (for the CPace scalar, drawn here).
            timeout: seconds the exchange may take.
            profile: the line profile our operator asked for, ``standard`` or ``cnsa2``.

        Raises:
            CodeError: ``code`` is not a code.
            LocalProtocolError: ``profile`` does not exist, or is ``cnsa2`` and ``card`` carries no
                cnsa2 keys.
        """
        if profile not in PROFILES:
            raise LocalProtocolError(f"there is no line profile {profile!r}")
        if profile == "cnsa2" and card.cnsa2 is None:
            raise LocalProtocolError("a cnsa2 pairing sends a card with cnsa2 keys (card version 2)")
        self._profile = profile
        self._peer_profile: str | None = None
        self._role = role
        self._card = encode_card(card)
        self._state = S.AWAIT_PAKE
        self._deadline = now + timeout
        self._timeout = timeout
        self._buffer = bytearray()
        self._out: list[bytes] = []
        self._events: deque[PairingEvent] = deque()
        self._confirm_theirs = b""
        self._send_key: CipherKey | None = None
        self._recv_key: CipherKey | None = None
        self._send_n = 0
        self._recv_n = 0
        self._confirmed = False
        # start the exchange: the dialer is CPace's initiator and speaks first; the listener answers
        prs = normalise_code(code).encode("ascii")
        if role is Role.DIALER:
            ours, theirs, cpace_role = PAKE_AD_DIALER, PAKE_AD_LISTENER, CPaceRole.INITIATOR
        else:
            ours, theirs, cpace_role = PAKE_AD_LISTENER, PAKE_AD_DIALER, CPaceRole.RESPONDER
        self._pake = CPace(
            cpace_role, prs, ci=PAKE_CI, sid=PAKE_SID, ad_ours=ours, ad_theirs=theirs, entropy=entropy
        )
        if role is Role.DIALER:
            self._out.append(encode_frame(FrameType.PAKE, self._pake.message))

    # -- what it is

    @property
    def role(self) -> Role:
        return self._role

    @property
    def state(self) -> PairingState:
        return self._state

    @property
    def profile(self) -> str:
        """The line profile this end pairs for."""
        return self._profile

    @property
    def finished(self) -> bool:
        """Done or failed: nothing more will be sent or read."""
        return self._state in TERMINAL

    # -- outputs

    def data_to_send(self) -> bytes:
        """Bytes to write now (empties the buffer)."""
        out, self._out = self._out, []
        return b"".join(out)

    def next_event(self) -> PairingEvent | None:
        """The next event, or None when there are no more."""
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        """The deadline at which :meth:`handle_timer` must be called, or None once finished."""
        return None if self.finished else self._deadline

    # -- inputs

    def receive_data(self, data: bytes | bytearray) -> None:
        """Feed bytes read from the connection; ``b""`` means the peer closed it.

        The exchange deadline was fixed at construction, so receiving needs no clock. Never raises for
        anything the network sends: a failure is a :class:`PairingFailed` event, and input after the
        machine finished is ignored.
        """
        if self.finished:
            return
        if not data:
            self._fail(FailureKind.PEER_GONE, "the other station closed the connection")
            return
        self._buffer += data
        try:
            while not self.finished:
                frame = self._next_frame()
                if frame is None:
                    break
                self._handle(*frame)
        except _Malformed as exc:
            self._fail(FailureKind.MALFORMED, f"the other station broke the pairing protocol: {exc}")

    def handle_timer(self, now: float) -> None:
        """Call at :meth:`get_timer`: fails the pairing once its deadline passed (early calls are safe)."""
        if not self.finished and now >= self._deadline:
            self._fail(FailureKind.TIMEOUT, f"the exchange did not finish within {self._timeout:g} s")

    def send_line_key(self, sealed: bytes) -> None:
        """Listener: send the sealed line key, after checking the peer's card (:class:`PeerCardReceived`).

        Raises:
            LocalProtocolError: not a listener holding a peer's card, or the blob is too large.
        """
        if len(sealed) > MAX_SEALED_LEN:
            raise LocalProtocolError("a sealed line key is at most 8 KiB")
        self._local(T.LINE_KEY_SENT)
        self._send_sealed(FrameType.LINE_KEY, bytes(sealed))

    def finish(self) -> None:
        """Dialer: say "done", after storing the line (:class:`LineKeyReceived`); emits :class:`PairingDone`.

        Raises:
            LocalProtocolError: not a dialer holding a line key.
        """
        self._local(T.DONE_SENT)
        self._send_sealed(FrameType.DONE, b"")
        self._events.append(PairingDone())

    def abort(self, reason: str) -> None:
        """Give up with ``reason``; the peer hears it if the code was confirmed. No-op once finished."""
        if self.finished:
            return
        if self._confirmed:
            text = reason.encode("utf-8")[:MAX_REASON].decode("utf-8", "ignore")
            self._send_sealed(FrameType.ABORT, text.encode("utf-8"))
        self._fail(FailureKind.ABORTED, reason)

    # -- internals

    def _local(self, trigger: Trigger) -> None:
        try:
            self._state = transition(self._role, self._state, trigger)
        except KeyError:
            raise LocalProtocolError(
                f"a {self._role.value} cannot do {trigger.value} in state {self._state.value}"
            ) from None

    def _fail(self, kind: FailureKind, reason: str) -> None:
        self._state = transition(self._role, self._state, T.FAIL)
        self._buffer.clear()
        self._events.append(PairingFailed(kind, reason))

    def _next_frame(self) -> tuple[FrameType, bytes] | None:
        buffer = self._buffer
        if len(buffer) < _LENGTH_LEN:
            return None
        size = int.from_bytes(buffer[:_LENGTH_LEN], "big")
        if not 1 <= size <= MAX_FRAME:
            raise _Malformed(f"a frame of {size} bytes (1 to {MAX_FRAME} allowed)")
        if len(buffer) < _LENGTH_LEN + size:
            return None
        body = bytes(buffer[_LENGTH_LEN : _LENGTH_LEN + size])
        del buffer[: _LENGTH_LEN + size]
        try:
            kind = FrameType(body[0])
        except ValueError:
            raise _Malformed(f"unknown frame type {body[0]}") from None
        return kind, body[1:]

    def _handle(self, kind: FrameType, body: bytes) -> None:
        if kind is FrameType.ABORT:
            if not self._confirmed:
                raise _Malformed("an abort before the code was confirmed")
            opened = self._open(kind, body)[:MAX_REASON]
            try:
                reason = opened.decode("utf-8")
            except UnicodeDecodeError:  # shown as ours, never as the peer's words with U+FFFD in them
                reason = "(a reason that is not UTF-8)"
            self._fail(FailureKind.PEER_ABORTED, f"the other station gave up: {reason}")
            return
        trigger = _TRIGGER_OF[kind]
        following = TRANSITIONS.get((self._role, self._state, trigger))
        if following is None:
            raise _Malformed(f"an unexpected {kind.name} frame while in {self._state.value}")
        if kind is FrameType.PAKE:
            self._consume_pake(body)
        elif kind is FrameType.CONFIRM:
            if not self._consume_confirm(body):
                return
        elif kind is FrameType.PROFILE:
            self._consume_profile(body)
            if not self.finished:
                self._state = following
            return
        elif kind is FrameType.CARD:
            theirs = self._peer_profile or "standard"  # a standard peer names no profile
            if theirs != self._profile:
                self._mismatch(theirs)
                return
            card = self._consume_card(body)
            self._state = following
            self._events.append(PeerCardReceived(card))
            return
        elif kind is FrameType.LINE_KEY:
            sealed = self._open(kind, body)
            if len(sealed) > MAX_SEALED_LEN:
                raise _Malformed("a sealed line key larger than 8 KiB")
            self._state = following
            self._events.append(LineKeyReceived(sealed))
            return
        else:
            if self._open(kind, body):
                raise _Malformed("a DONE frame with content")
            self._state = following
            self._events.append(PairingDone())
            return
        self._state = following

    def _consume_pake(self, body: bytes) -> None:
        if len(body) != PAKE_MESSAGE_LEN:
            raise _Malformed("a PAKE message of the wrong length")
        # finish CPace: ISK is the same on both sides only if the codes are; a low-order point (the
        # neutral element) or our own message reflected is refused
        try:
            shared = self._pake.finish(body)
        except CryptoError:
            raise _Malformed("an invalid PAKE message") from None
        # CPace's responder speaks second (the initiator-responder setting): our message goes now
        if self._role is L:
            self._out.append(encode_frame(FrameType.PAKE, self._pake.message))
        # bind the roles: the transcript is the dialer's message, then the listener's (CPace's order)
        if self._role is L:
            transcript = body + self._pake.message
        else:
            transcript = self._pake.message + body
        # derive one confirmation key and one sealing key per role
        confirm_l = hkdf_sha256(shared, salt=None, info=LABEL_CONFIRM_LISTENER, length=32)
        confirm_d = hkdf_sha256(shared, salt=None, info=LABEL_CONFIRM_DIALER, length=32)
        seal_l = CipherKey(hkdf_sha256(shared, salt=None, info=LABEL_SEAL_LISTENER, length=32))
        seal_d = CipherKey(hkdf_sha256(shared, salt=None, info=LABEL_SEAL_DIALER, length=32))
        mac_l = blake2s(transcript, key=confirm_l)
        mac_d = blake2s(transcript, key=confirm_d)
        if self._role is L:
            ours, self._confirm_theirs = mac_l, mac_d
            self._send_key, self._recv_key = seal_l, seal_d
        else:
            ours, self._confirm_theirs = mac_d, mac_l
            self._send_key, self._recv_key = seal_d, seal_l
        # send our confirmation; nothing else goes out until theirs checks
        self._out.append(encode_frame(FrameType.CONFIRM, ours))

    def _consume_confirm(self, body: bytes) -> bool:
        if len(body) != CONFIRM_LEN:
            raise _Malformed("a key confirmation of the wrong length")
        # compare in constant time before anything else is revealed
        if not constant_time_equal(body, self._confirm_theirs):
            self._fail(FailureKind.WRONG_CODE, "the code did not match")
            return False
        self._confirmed = True
        self._events.append(CodeConfirmed())
        # the peer proved the code: our profile (unless standard) and our card may go
        if self._profile != "standard":
            self._send_sealed(FrameType.PROFILE, self._profile.encode("ascii"))
        self._send_sealed(FrameType.CARD, self._card)
        return True

    def _consume_profile(self, body: bytes) -> None:
        text = self._open(FrameType.PROFILE, body)
        if self._peer_profile is not None:
            raise _Malformed("a second PROFILE frame")
        try:
            theirs = text.decode("ascii")
        except UnicodeDecodeError:
            raise _Malformed("a PROFILE frame that is not a profile name") from None
        if theirs not in PROFILES:
            raise _Malformed(f"a PROFILE frame naming an unknown profile {theirs[:32]!r}")
        self._peer_profile = theirs
        if theirs != self._profile:
            self._mismatch(theirs)

    def _mismatch(self, theirs: str) -> None:
        # tell the peer (it finds the same on its own), then fail naming both profiles
        reason = profile_mismatch_reason(self._profile, theirs)
        self._send_sealed(FrameType.ABORT, profile_mismatch_reason(theirs, self._profile).encode("utf-8"))
        self._fail(FailureKind.PROFILE_MISMATCH, reason)

    def _consume_card(self, body: bytes) -> StationCard:
        try:
            card = decode_card(self._open(FrameType.CARD, body))
        except CardError as exc:
            raise _Malformed(f"its card is not valid: {exc.reason}") from None
        if self._profile == "cnsa2" and card.cnsa2 is None:
            raise _Malformed("its card carries no cnsa2 keys (a version 1 card), for a cnsa2 pairing")
        return card

    def _send_sealed(self, kind: FrameType, plaintext: bytes) -> None:
        assert self._send_key is not None
        sealed = self._send_key.seal(noise_nonce(self._send_n), bytes([kind]), plaintext)
        self._send_n += 1
        self._out.append(encode_frame(kind, sealed))

    def _open(self, kind: FrameType, body: bytes) -> bytes:
        assert self._recv_key is not None
        if len(body) < _TAG_LEN:
            raise _Malformed(f"a {kind.name} frame shorter than its tag")
        try:
            plaintext = self._recv_key.open(noise_nonce(self._recv_n), bytes([kind]), body)
        except CryptoError:
            raise _Malformed(f"a {kind.name} frame failed authentication") from None
        self._recv_n += 1
        return plaintext
