"""Pairing for a line profile (:mod:`hotline.proto.pairing`, docs/protocol.md §11.4).

A cnsa2 side names its profile in a sealed ``PROFILE`` frame before its card; a standard side names
none (so a standard pairing is what it always was). Two sides that asked for different profiles both
fail with ``PROFILE_MISMATCH`` and a reason naming both; two cnsa2 sides exchange version 2 cards and
a cnsa2 sealed line key.
"""

from __future__ import annotations

import pytest

from hotline.proto.cards import issue_card
from hotline.proto.errors import LocalProtocolError
from hotline.proto.linekeys import create_line_key, open_line_key
from hotline.proto.pairing import (
    CodeConfirmed,
    FailureKind,
    FrameType,
    LineKeyReceived,
    PairingDone,
    PairingMachine,
    PairingState,
    PeerCardReceived,
    Role,
    profile_mismatch_reason,
)
from tests.support.identities import fixed_cnsa2_identity
from tests.unit.proto.test_pairing import CODE, Side, entropy, failures, frame_type, run

MOSCOW = fixed_cnsa2_identity("moscow", 31)
JERUSALEM = fixed_cnsa2_identity("jerusalem", 41)
MOSCOW_CARD = issue_card(MOSCOW, endpoints=["moscow.example:7443"], created_at=10)
JERUSALEM_CARD = issue_card(JERUSALEM, endpoints=["jerusalem.example:7443"], created_at=20)
MOSCOW_CARD_V1 = issue_card(MOSCOW, endpoints=["moscow.example:7443"], created_at=10, version=1)
JERUSALEM_CARD_V1 = issue_card(JERUSALEM, endpoints=["jerusalem.example:7443"], created_at=20, version=1)


def machine(role: Role, profile: str, *, v1_card: bool = False) -> PairingMachine:
    if role is Role.LISTENER:
        card = MOSCOW_CARD_V1 if v1_card else MOSCOW_CARD
    else:
        card = JERUSALEM_CARD_V1 if v1_card else JERUSALEM_CARD
    return PairingMachine(
        role, CODE, card=card, now=0.0, entropy=entropy(role.value.encode()), profile=profile
    )


def test_a_cnsa2_pairing_carries_a_cnsa2_line_key() -> None:
    key, sealed = create_line_key(
        sender=MOSCOW, recipient=JERUSALEM_CARD, label="moscow-jerusalem", created_at=1, profile="cnsa2"
    )
    listener = Side(machine(Role.LISTENER, "cnsa2"), sealed=sealed)
    dialer = Side(machine(Role.DIALER, "cnsa2"))
    wire = run(listener, dialer)
    assert listener.m.state is dialer.m.state is PairingState.DONE
    assert listener.m.profile == dialer.m.profile == "cnsa2"
    assert listener.events == [CodeConfirmed(), PeerCardReceived(JERUSALEM_CARD), PairingDone()]
    assert dialer.events[:2] == [CodeConfirmed(), PeerCardReceived(MOSCOW_CARD)]
    assert MOSCOW_CARD.version == JERUSALEM_CARD.version == 2
    sent = {name: [frame_type(f) for n, f in wire if n == name] for name in ("l>d", "d>l")}
    assert sent == {
        "l>d": [FrameType.PAKE, FrameType.CONFIRM, FrameType.PROFILE, FrameType.CARD, FrameType.LINE_KEY],
        "d>l": [FrameType.PAKE, FrameType.CONFIRM, FrameType.PROFILE, FrameType.CARD, FrameType.DONE],
    }
    received = [e for e in dialer.events if isinstance(e, LineKeyReceived)]
    assert open_line_key(received[0].sealed, JERUSALEM, MOSCOW_CARD, "cnsa2") == key


def test_a_standard_pairing_sends_no_profile_frame() -> None:
    """The wire of a standard pairing is the one before profiles existed: old stations pair with it."""
    listener, dialer = Side(machine(Role.LISTENER, "standard")), Side(machine(Role.DIALER, "standard"))
    wire = run(listener, dialer)
    assert listener.m.state is dialer.m.state is PairingState.DONE
    assert FrameType.PROFILE not in {frame_type(f) for _, f in wire}


def test_a_standard_pairing_takes_a_version_1_card() -> None:
    listener = Side(machine(Role.LISTENER, "standard"))
    dialer = Side(machine(Role.DIALER, "standard", v1_card=True))
    run(listener, dialer)
    assert listener.m.state is PairingState.DONE
    assert PeerCardReceived(JERUSALEM_CARD_V1) in listener.events


@pytest.mark.parametrize(
    ("listener_profile", "dialer_profile"), [("cnsa2", "standard"), ("standard", "cnsa2")]
)
def test_different_profiles_fail_at_both_ends_naming_both(listener_profile: str, dialer_profile: str) -> None:
    listener = Side(machine(Role.LISTENER, listener_profile))
    dialer = Side(machine(Role.DIALER, dialer_profile))
    run(listener, dialer)
    assert listener.m.state is dialer.m.state is PairingState.FAILED
    for side, ours, theirs in (
        (listener, listener_profile, dialer_profile),
        (dialer, dialer_profile, listener_profile),
    ):
        (failure,) = failures(side)
        assert failure.kind is FailureKind.PROFILE_MISMATCH
        assert failure.reason == profile_mismatch_reason(ours, theirs)
        assert f"this one {ours}, the other {theirs}" in failure.reason
        assert not any(isinstance(e, PeerCardReceived) for e in side.events)  # no card reaches the app


def test_a_cnsa2_side_refuses_a_version_1_card() -> None:
    """A peer claiming cnsa2 but sending a card without cnsa2 keys breaks the protocol."""
    listener = Side(machine(Role.LISTENER, "cnsa2"))
    dialer_machine = machine(Role.DIALER, "cnsa2")
    dialer_machine._card = __import__("hotline.proto.cards", fromlist=["encode_card"]).encode_card(
        JERUSALEM_CARD_V1
    )
    dialer = Side(dialer_machine)
    run(listener, dialer)
    (failure,) = failures(listener)
    assert failure.kind is FailureKind.MALFORMED and "carries no cnsa2 keys" in failure.reason


def test_local_misuse() -> None:
    with pytest.raises(LocalProtocolError, match="no line profile 'turbo'"):
        machine(Role.LISTENER, "turbo")
    with pytest.raises(LocalProtocolError, match="card version 2"):
        machine(Role.LISTENER, "cnsa2", v1_card=True)


@pytest.mark.parametrize(
    ("named", "reason"), [("turbo", "unknown profile 'turbo'"), ("cnsä2", "not a profile name")]
)
def test_a_profile_frame_naming_no_profile_is_malformed(named: str, reason: str) -> None:
    listener = Side(machine(Role.LISTENER, "cnsa2"))
    dialer_machine = machine(Role.DIALER, "cnsa2")
    dialer_machine._profile = named  # a misbehaving peer
    if not named.isascii():
        dialer_machine._profile = "x"
        original = dialer_machine._send_sealed

        def send(kind: FrameType, plaintext: bytes) -> None:
            original(kind, named.encode() if kind is FrameType.PROFILE else plaintext)

        dialer_machine._send_sealed = send  # type: ignore[method-assign]
    run(listener, Side(dialer_machine))
    (failure,) = failures(listener)
    assert failure.kind is FailureKind.MALFORMED and reason in failure.reason


def test_a_second_profile_frame_is_malformed() -> None:
    listener = Side(machine(Role.LISTENER, "cnsa2"))
    dialer_machine = machine(Role.DIALER, "cnsa2")
    original = dialer_machine._send_sealed

    def send(kind: FrameType, plaintext: bytes) -> None:
        if kind is FrameType.PROFILE:
            original(kind, plaintext)  # a misbehaving peer says it twice
        original(kind, plaintext)

    dialer_machine._send_sealed = send  # type: ignore[method-assign]
    run(listener, Side(dialer_machine))
    (failure,) = failures(listener)
    assert failure.kind is FailureKind.MALFORMED and "a second PROFILE frame" in failure.reason


def test_a_profile_frame_out_of_place_is_malformed() -> None:
    """A PROFILE frame before the code is confirmed is not in the table."""
    listener = machine(Role.LISTENER, "cnsa2")
    listener.receive_data(b"\x00\x00\x00\x11\x07" + bytes(16))
    event = listener.next_event()
    assert event is not None and getattr(event, "kind", None) is FailureKind.MALFORMED
