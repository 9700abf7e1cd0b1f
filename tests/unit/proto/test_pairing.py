"""Pairing by code (:mod:`hotline.proto.pairing`, docs/protocol.md §11): two machines in memory.

The harness plays both stations' applications the way :mod:`hotline.station.pairing` does: the listener
answers the dialer's card with a sealed line key, the dialer answers the line key with ``finish()``.
Entropy is deterministic, so an exchange can be recorded frame by frame and replayed against a fresh
machine, which is how the out-of-order and tampering tests put a machine in every state.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotline.proto.cards import encode_card, issue_card
from hotline.proto.errors import LocalProtocolError
from hotline.proto.linekeys import create_line_key, open_line_key
from hotline.proto.pairing import (
    EXCHANGE_TIMEOUT,
    MAX_FRAME,
    TRANSITIONS,
    CodeConfirmed,
    FailureKind,
    FrameType,
    LineKeyReceived,
    PairingDone,
    PairingEvent,
    PairingFailed,
    PairingMachine,
    PairingState,
    PeerCardReceived,
    Role,
    Trigger,
    encode_frame,
)
from hotline.proto.pairingcode import CODE_NUMBER_MAX, CodeError, code_entropy_bits, new_code, normalise_code
from hotline.proto.wordlist import WORDS
from tests.support.identities import fixed_identity

MOSCOW = fixed_identity("moscow", 31)
JERUSALEM = fixed_identity("jerusalem", 41)
MOSCOW_CARD = issue_card(MOSCOW, endpoints=["moscow.example:7443"], created_at=10)
JERUSALEM_CARD = issue_card(JERUSALEM, endpoints=["jerusalem.example:7443"], created_at=20)
CODE = "7-hobby-beach-donkey"
#: What the listener's application sends as the line key; the machine does not look inside.
SEALED = b"sealed line key " * 8


def entropy(seed: bytes) -> Callable[[int], bytes]:
    """A deterministic byte stream (SHA-256 in counter mode), fresh per call."""
    counter = itertools.count()

    def draw(n: int) -> bytes:
        out = b""
        while len(out) < n:
            out += hashlib.sha256(seed + next(counter).to_bytes(8, "big")).digest()
        return out[:n]

    return draw


def machine(role: Role, code: str = CODE, now: float = 0.0) -> PairingMachine:
    card = MOSCOW_CARD if role is Role.LISTENER else JERUSALEM_CARD
    return PairingMachine(role, code, card=card, now=now, entropy=entropy(role.value.encode()))


def frames(data: bytes) -> list[bytes]:
    """Split a byte string into whole frames (length prefix included)."""
    out = []
    while data:
        size = int.from_bytes(data[:4], "big")
        out.append(data[: 4 + size])
        data = data[4 + size :]
    return out


def frame_type(frame: bytes) -> FrameType:
    return FrameType(frame[4])


@dataclass
class Side:
    """One machine and the application answering its events (as hotline.station.pairing does)."""

    m: PairingMachine
    events: list[PairingEvent] = field(default_factory=list)
    sent: list[bytes] = field(default_factory=list)
    sealed: bytes = SEALED

    def pump(self) -> None:
        while (event := self.m.next_event()) is not None:
            self.events.append(event)
            match event:
                case PeerCardReceived() if self.m.role is Role.LISTENER:
                    self.m.send_line_key(self.sealed)
                case LineKeyReceived() if self.m.role is Role.DIALER:
                    self.m.finish()
                case _:
                    pass

    def outgoing(self) -> list[bytes]:
        self.pump()
        out = frames(self.m.data_to_send())
        self.sent += out
        return out

    def feed(self, data: bytes) -> None:
        self.m.receive_data(data)
        self.pump()


Tamper = Callable[[str, int, bytes], bytes]


def run(
    listener: Side, dialer: Side, *, tamper: Tamper | None = None, max_rounds: int = 10
) -> list[tuple[str, bytes]]:
    """Move frames both ways, one at a time, until neither side sends; returns the wire as seen.

    ``tamper(direction, index, frame)`` may change the ``index``-th frame of a direction
    (``"l>d"`` or ``"d>l"``) before it is delivered.
    """
    wire: list[tuple[str, bytes]] = []
    counts = {"l>d": 0, "d>l": 0}
    for _ in range(max_rounds):
        moved = False
        for name, src, dst in (("l>d", listener, dialer), ("d>l", dialer, listener)):
            for frame in src.outgoing():
                if tamper is not None:
                    frame = tamper(name, counts[name], frame)
                counts[name] += 1
                wire.append((name, frame))
                dst.feed(frame)
                moved = True
        if not moved:
            return wire
    raise AssertionError("the machines did not settle")


def pair(
    listener_code: str = CODE, dialer_code: str = CODE, tamper: Tamper | None = None
) -> tuple[Side, Side, list[tuple[str, bytes]]]:
    listener, dialer = Side(machine(Role.LISTENER, listener_code)), Side(machine(Role.DIALER, dialer_code))
    wire = run(listener, dialer, tamper=tamper)
    return listener, dialer, wire


def failures(side: Side) -> list[PairingFailed]:
    return [e for e in side.events if isinstance(e, PairingFailed)]


def recorded() -> dict[str, list[bytes]]:
    """The frames of a successful exchange, per direction (deterministic)."""
    _, _, wire = pair()
    return {name: [f for n, f in wire if n == name] for name in ("l>d", "d>l")}


# -- the exchange ----------------------------------------------------------------------------------------


def test_success_both_sides_paired() -> None:
    listener, dialer, wire = pair()
    assert listener.m.state is dialer.m.state is PairingState.DONE
    assert listener.events == [CodeConfirmed(), PeerCardReceived(JERUSALEM_CARD), PairingDone()]
    assert dialer.events == [
        CodeConfirmed(),
        PeerCardReceived(MOSCOW_CARD),
        LineKeyReceived(SEALED),
        PairingDone(),
    ]
    sent = {name: [frame_type(f) for n, f in wire if n == name] for name in ("l>d", "d>l")}
    assert sent == {
        "l>d": [FrameType.PAKE, FrameType.CONFIRM, FrameType.CARD, FrameType.LINE_KEY],
        "d>l": [FrameType.PAKE, FrameType.CONFIRM, FrameType.CARD, FrameType.DONE],
    }
    assert listener.m.get_timer() is None and dialer.m.get_timer() is None


def test_a_real_sealed_line_key_travels() -> None:
    key, sealed = create_line_key(
        sender=MOSCOW, recipient=JERUSALEM_CARD, label="moscow-jerusalem", created_at=1
    )
    listener = Side(machine(Role.LISTENER), sealed=sealed)
    dialer = Side(machine(Role.DIALER))
    run(listener, dialer)
    received = [e for e in dialer.events if isinstance(e, LineKeyReceived)]
    assert len(received) == 1
    assert open_line_key(received[0].sealed, JERUSALEM, MOSCOW_CARD) == key


def test_an_eavesdropper_does_not_see_the_cards() -> None:
    _, _, wire = pair()
    seen = b"".join(f for _, f in wire)
    for secret in (b"moscow", b"jerusalem", encode_card(MOSCOW_CARD)[:64], SEALED[:16]):
        assert secret not in seen


@pytest.mark.parametrize(
    "typed", ["7 hobby beach donkey", "07-HOBBY-Beach-donkey", " 7 hob bea don ", "7_hobby.beach,donkey"]
)
def test_any_spelling_of_the_code_pairs(typed: str) -> None:
    listener, dialer, _ = pair(CODE, typed)
    assert listener.m.state is dialer.m.state is PairingState.DONE


def test_the_dialer_speaks_first_with_the_pake_message() -> None:
    # golden: u32be(33) || 0x01 || CPace's 32-byte Ya
    first = machine(Role.DIALER).data_to_send()
    assert first[:5] == bytes.fromhex("0000002101") and len(first) == 37
    # deterministic given the entropy
    assert machine(Role.DIALER).data_to_send() == first
    # the listener (CPace's responder) says nothing until the dialer's message arrives, then its own
    # message and its confirmation
    listener = machine(Role.LISTENER)
    assert listener.data_to_send() == b""
    listener.receive_data(first)
    assert [frame_type(f) for f in frames(listener.data_to_send())] == [FrameType.PAKE, FrameType.CONFIRM]


# -- a wrong code ----------------------------------------------------------------------------------------


def test_wrong_code_fails_on_both_sides_and_reveals_nothing() -> None:
    listener, dialer, wire = pair(CODE, "7-hobby-beach-eagle")
    for side in (listener, dialer):
        assert side.m.state is PairingState.FAILED
        assert [e.kind for e in failures(side)] == [FailureKind.WRONG_CODE]
        assert failures(side)[0].reason == "the code did not match"
        assert not any(
            isinstance(e, CodeConfirmed | PeerCardReceived | LineKeyReceived | PairingDone)
            for e in side.events
        )
    # only the PAKE messages and the confirmations ever went out
    assert sorted(frame_type(f) for _, f in wire) == [FrameType.PAKE] * 2 + [FrameType.CONFIRM] * 2


def test_a_different_number_is_a_different_code() -> None:
    listener, dialer, _ = pair(CODE, "8-hobby-beach-donkey")
    assert listener.m.state is dialer.m.state is PairingState.FAILED


# -- tampering, truncation, size -------------------------------------------------------------------------


def _flip(target: tuple[str, int], at: int) -> Tamper:
    def tamper(direction: str, index: int, frame: bytes) -> bytes:
        if (direction, index) != target:
            return frame
        pos = at % len(frame)
        return frame[:pos] + bytes([frame[pos] ^ 0x01]) + frame[pos + 1 :]

    return tamper


@pytest.mark.parametrize("direction,index", [("l>d", i) for i in range(4)] + [("d>l", i) for i in range(4)])
@pytest.mark.parametrize("at", [4, 5, 20, -1])
def test_a_tampered_frame_fails_the_receiver(direction: str, index: int, at: int) -> None:
    """Flipping one bit of the type, body or tag of any frame ends the pairing without a line."""
    listener, dialer, _ = pair(tamper=_flip((direction, index), at))
    receiver = dialer if direction == "l>d" else listener
    assert receiver.m.state is PairingState.FAILED
    assert failures(receiver)[0].kind in (FailureKind.MALFORMED, FailureKind.WRONG_CODE)
    # the receiver never stored anything: no line key reached it, and it never finished
    assert not any(isinstance(e, PairingDone) for e in receiver.events)
    if receiver is dialer:
        assert not any(isinstance(e, LineKeyReceived) for e in dialer.events)


def test_a_flipped_length_is_caught() -> None:
    _, dialer, _ = pair(tamper=_flip(("l>d", 2), 3))  # the confirmation's length byte
    assert dialer.m.state is PairingState.FAILED


def test_a_frame_cut_short_then_eof_fails() -> None:
    frames_ = recorded()
    dialer = Side(machine(Role.DIALER))
    dialer.feed(frames_["l>d"][0][:20])
    assert dialer.m.state is PairingState.AWAIT_PAKE and not dialer.events
    dialer.feed(b"")
    assert [e.kind for e in failures(dialer)] == [FailureKind.PEER_GONE]


@pytest.mark.parametrize("size", [0, MAX_FRAME + 1, 2**32 - 1])
def test_an_impossible_length_fails_at_once(size: int) -> None:
    listener = Side(machine(Role.LISTENER))
    listener.feed(size.to_bytes(4, "big"))
    assert [e.kind for e in failures(listener)] == [FailureKind.MALFORMED]


def test_a_maximal_frame_of_junk_fails() -> None:
    listener = Side(machine(Role.LISTENER))
    listener.feed(MAX_FRAME.to_bytes(4, "big") + b"\x01" + bytes(MAX_FRAME - 1))
    assert [e.kind for e in failures(listener)] == [FailureKind.MALFORMED]


LOW_ORDER = [
    bytes(32),  # the neutral element
    bytes.fromhex("0100000000000000000000000000000000000000000000000000000000000000"),  # order 4
    bytes.fromhex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),  # order 2
    bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),  # order 8
    bytes.fromhex("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),  # p: 0 again
]


@pytest.mark.parametrize("role", [Role.LISTENER, Role.DIALER])
@pytest.mark.parametrize("body", [b"", bytes(10), bytes(31), b"S" + bytes(32), b"S" * 33, *LOW_ORDER])
def test_malformed_pake_messages(role: Role, body: bytes) -> None:
    """Wrong length (an older station's 33-byte SPAKE2 message too) or a low-order point: MALFORMED."""
    side = Side(machine(role))
    side.outgoing()
    side.feed(encode_frame(FrameType.PAKE, body))
    assert [e.kind for e in failures(side)] == [FailureKind.MALFORMED]
    assert not frames(side.m.data_to_send())  # no PAKE answer, no confirmation for a bad message


def test_our_own_pake_message_reflected_fails() -> None:
    dialer = Side(machine(Role.DIALER))
    ours = dialer.outgoing()
    dialer.feed(ours[0])
    assert [e.kind for e in failures(dialer)] == [FailureKind.MALFORMED]


def test_unknown_frame_type() -> None:
    listener = Side(machine(Role.LISTENER))
    listener.feed((2).to_bytes(4, "big") + b"\x09x")
    assert [e.kind for e in failures(listener)] == [FailureKind.MALFORMED]


# -- out of order ------------------------------------------------------------------------------------------


def _advanced(role: Role, steps: int) -> tuple[Side, list[bytes]]:
    """A fresh machine of ``role`` that has received the first ``steps`` frames of the recorded exchange."""
    incoming = recorded()["d>l" if role is Role.LISTENER else "l>d"]
    side = Side(machine(role))
    side.outgoing()
    for frame in incoming[:steps]:
        side.feed(frame)
        side.outgoing()
    return side, incoming


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("steps", range(4))
def test_replaying_the_exchange_reaches_each_state(role: Role, steps: int) -> None:
    side, _ = _advanced(role, steps)
    expected = {
        Role.LISTENER: [
            PairingState.AWAIT_PAKE,
            PairingState.AWAIT_CONFIRM,
            PairingState.AWAIT_CARD,
            PairingState.AWAIT_DONE,
        ],
        Role.DIALER: [
            PairingState.AWAIT_PAKE,
            PairingState.AWAIT_CONFIRM,
            PairingState.AWAIT_CARD,
            PairingState.AWAIT_LINE_KEY,
        ],
    }[role][steps]
    assert side.m.state is expected
    assert not failures(side)


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("steps", range(4))
@pytest.mark.parametrize("other", range(4))
def test_every_frame_out_of_order_fails(role: Role, steps: int, other: int) -> None:
    """In each state, every recorded frame except the next one (early, late or replayed) ends the pairing."""
    if other == steps:
        return
    side, incoming = _advanced(role, steps)
    side.feed(incoming[other])
    assert side.m.state is PairingState.FAILED
    assert [e.kind for e in failures(side)] == [FailureKind.MALFORMED]


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("steps", range(4))
def test_the_peers_own_role_frames_are_refused(role: Role, steps: int) -> None:
    """A machine never accepts a frame only its own role sends (LINE_KEY to a listener, DONE to a dialer)."""
    side, _ = _advanced(role, steps)
    kind = FrameType.LINE_KEY if role is Role.LISTENER else FrameType.DONE
    side.feed(encode_frame(kind, bytes(40)))
    assert side.m.state is PairingState.FAILED


def test_abort_before_confirmation_is_refused() -> None:
    dialer = Side(machine(Role.DIALER))
    dialer.feed(encode_frame(FrameType.ABORT, bytes(20)))
    assert [e.kind for e in failures(dialer)] == [FailureKind.MALFORMED]


def test_input_after_the_end_is_ignored() -> None:
    listener, _, _ = pair()
    listener.feed(b"\x00\x00\x00\x01\x07")
    listener.feed(b"")
    assert listener.m.state is PairingState.DONE and not failures(listener)


# -- abort, EOF, timer, local misuse -----------------------------------------------------------------------


def test_the_listener_aborts_on_the_card_and_the_dialer_hears_why() -> None:
    listener, dialer = Side(machine(Role.LISTENER)), Side(machine(Role.DIALER))

    class Refusing(Side):
        def pump(self) -> None:
            while (event := self.m.next_event()) is not None:
                self.events.append(event)
                if isinstance(event, PeerCardReceived):
                    self.m.abort("moscow already has a line to this station")

    refusing = Refusing(listener.m)
    run(refusing, dialer)
    assert [e.kind for e in failures(refusing)] == [FailureKind.ABORTED]
    [failed] = failures(dialer)
    assert failed.kind is FailureKind.PEER_ABORTED
    assert "already has a line" in failed.reason
    assert not any(isinstance(e, LineKeyReceived) for e in dialer.events)


def test_an_abort_reason_that_is_not_utf8_is_never_shown_with_replacement_characters() -> None:
    listener, dialer = Side(machine(Role.LISTENER)), Side(machine(Role.DIALER))

    class Garbling(Side):
        def pump(self) -> None:
            while (event := self.m.next_event()) is not None:
                self.events.append(event)
                if isinstance(event, PeerCardReceived):
                    self.m._send_sealed(FrameType.ABORT, b"caf\xc3 \xff")  # around abort()'s own UTF-8
                    self.m._fail(FailureKind.ABORTED, "garbled")

    run(Garbling(listener.m), dialer)
    [failed] = failures(dialer)
    assert failed.kind is FailureKind.PEER_ABORTED
    assert failed.reason == "the other station gave up: (a reason that is not UTF-8)"


def test_abort_before_confirmation_sends_nothing() -> None:
    m = machine(Role.LISTENER)
    m.data_to_send()
    m.abort("changed my mind")
    assert m.data_to_send() == b""
    assert m.next_event() == PairingFailed(FailureKind.ABORTED, "changed my mind")
    m.abort("again")  # a no-op once finished
    assert m.next_event() is None


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("steps", range(4))
def test_eof_in_any_state_fails(role: Role, steps: int) -> None:
    side, _ = _advanced(role, steps)
    side.feed(b"")
    assert [e.kind for e in failures(side)] == [FailureKind.PEER_GONE]


def test_the_deadline() -> None:
    """Connected at t=0: nothing is due before EXCHANGE_TIMEOUT, and at it the pairing fails."""
    now = 0.0
    m = machine(Role.DIALER, now=now)
    assert m.get_timer() == EXCHANGE_TIMEOUT
    m.handle_timer(EXCHANGE_TIMEOUT - 0.1)
    assert m.next_event() is None
    m.handle_timer(EXCHANGE_TIMEOUT)
    event = m.next_event()
    assert isinstance(event, PairingFailed) and event.kind is FailureKind.TIMEOUT
    assert m.get_timer() is None


def test_local_misuse_raises() -> None:
    listener, dialer = machine(Role.LISTENER), machine(Role.DIALER)
    with pytest.raises(LocalProtocolError):
        listener.send_line_key(SEALED)  # no card yet
    with pytest.raises(LocalProtocolError):
        listener.finish()
    with pytest.raises(LocalProtocolError):
        dialer.send_line_key(SEALED)
    with pytest.raises(LocalProtocolError):
        dialer.finish()


def test_a_bad_code_is_refused_before_anything_is_sent() -> None:
    with pytest.raises(CodeError):
        machine(Role.DIALER, code="7-hobby-beach")


def test_the_table_is_complete() -> None:
    """Every non-terminal state can fail; terminal states have no way out; each role reaches DONE."""
    for role in Role:
        for state in PairingState:
            terminal = state in (PairingState.DONE, PairingState.FAILED)
            assert ((role, state, Trigger.FAIL) in TRANSITIONS) is not terminal
            if terminal:
                assert not any(key[:2] == (role, state) for key in TRANSITIONS)


# -- codes ---------------------------------------------------------------------------------------------------


def test_new_code_shape_and_entropy() -> None:
    draw = entropy(b"codes")
    seen = {new_code(draw) for _ in range(200)}
    assert len(seen) == 200
    for code in seen:
        number, *words = code.split("-")
        assert 1 <= int(number) <= CODE_NUMBER_MAX and str(int(number)) == number
        assert len(words) == 3 and all(w in WORDS for w in words)
        assert normalise_code(code) == code
    assert code_entropy_bits() >= 32


def test_new_code_rejects_numbers_out_of_range() -> None:
    # 0 and 1000..1023 are redrawn; 7 << 6 is the first acceptable draw
    draws = iter(
        [
            (0).to_bytes(2, "big"),
            (1000 << 6).to_bytes(2, "big"),
            (7 << 6).to_bytes(2, "big"),
            bytes([123, 12, 65]),
        ]
    )
    code = new_code(lambda n: next(draws))
    assert code == f"7-{WORDS[123]}-{WORDS[12]}-{WORDS[65]}"


@pytest.mark.parametrize(
    "typed,expected",
    [
        ("7-hobby-beach-donkey", "7-hobby-beach-donkey"),
        ("  7  HOBBY  beach\tdonkey\n", "7-hobby-beach-donkey"),
        ("007-hob-bea-don", "7-hobby-beach-donkey"),
        ("999-hobb-beac-donke", "999-hobby-beach-donkey"),
    ],
)
def test_normalise_code(typed: str, expected: str) -> None:
    assert normalise_code(typed) == expected


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "7",
        "7-hobby-beach",
        "7-hobby-beach-donkey-extra",
        "0-hobby-beach-donkey",
        "1000-hobby-beach-donkey",
        "x-hobby-beach-donkey",
        "\uff17-hobby-beach-donkey",  # a full-width digit seven
        "9" * 5000 + "-hobby-beach-donkey",
        "7-ho-beach-donkey",  # too short to name a word
        "7-hobbyx-beach-donkey",
        "7-beech-beach-donkey",
    ],
)
def test_normalise_code_refuses(typed: str) -> None:
    with pytest.raises(CodeError):
        normalise_code(typed)


# -- arbitrary input ---------------------------------------------------------------------------------------


def _only_failures(m: PairingMachine) -> list[PairingEvent]:
    events = []
    while (event := m.next_event()) is not None:
        events.append(event)
    assert all(isinstance(e, PairingFailed) for e in events), events
    assert len(events) <= 1
    return events


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=400), role=st.sampled_from(list(Role)), bytewise=st.booleans())
def test_arbitrary_bytes_only_ever_fail(data: bytes, role: Role, bytewise: bool) -> None:
    m = machine(role)
    chunks = [data[i : i + 1] for i in range(len(data))] if bytewise else [data]
    for chunk in chunks:
        m.receive_data(chunk)
    _only_failures(m)
    m.receive_data(b"")
    _only_failures(m)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=300), kinds=st.lists(st.sampled_from(list(FrameType)), max_size=4))
def test_arbitrary_frames_after_a_valid_pake_only_ever_fail(data: bytes, kinds: list[FrameType]) -> None:
    """Past the PAKE message (confirmation pending), well-framed junk of every type still only fails."""
    m = machine(Role.LISTENER)
    m.receive_data(recorded_dialer_pake())
    m.data_to_send()
    for kind in kinds:
        m.receive_data(encode_frame(kind, data))
    m.receive_data(data)
    _only_failures(m)


_PAKE: list[bytes] = []


def recorded_dialer_pake() -> bytes:
    if not _PAKE:
        _PAKE.append(recorded()["d>l"][0])
    return _PAKE[0]
