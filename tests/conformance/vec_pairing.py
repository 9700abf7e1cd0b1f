"""Conformance vectors for pairing by code (docs/protocol.md §11): ``docs/vectors/pairing.json``.

One whole exchange per line profile, from fixed inputs: the codes as typed and normalised, both CPace
scalars, the generator, both ``PAKE`` messages, ``K`` and ``ISK``, the confirmation and sealing keys,
both confirmations, and every frame each way in order, as bytes on the wire.

The frames are what two real :class:`~hotline.proto.pairing.PairingMachine` send, with one thing
replaced: the card codec. Our cards carry hedged ML-DSA signatures, so no card is reproducible byte
for byte; the ``CARD`` plaintexts here are fixed stand-in bytes, and so is the sealed line key the
listener's application hands to its machine (the machine never looks inside it). What this file pins
is the pairing channel itself: the PAKE, the key schedule, the confirmations, the sealing and the
order of the frames. :func:`exchange` is the one harness for the generator and the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from hotline.crypto.cpace import (
    calculate_generator,
    generator_string,
    intermediate_session_key,
    scalar_mult_vfy,
    transcript_ir,
)
from hotline.crypto.hashing import blake2s, hkdf_sha256
from hotline.proto import pairing
from hotline.proto.cards import StationCard, issue_card
from hotline.proto.identity_errors import CardError
from hotline.proto.pairing import (
    LABEL_CONFIRM_DIALER,
    LABEL_CONFIRM_LISTENER,
    LABEL_SEAL_DIALER,
    LABEL_SEAL_LISTENER,
    PAKE_AD_DIALER,
    PAKE_AD_LISTENER,
    PAKE_CI,
    PAKE_SID,
    FrameType,
    LineKeyReceived,
    PairingDone,
    PairingMachine,
    PeerCardReceived,
    Role,
)
from hotline.proto.pairingcode import normalise_code
from tests.conformance.vectorfile import fixed, fixed_note
from tests.support.identities import fixed_cnsa2_identity, fixed_identity

FILE = "pairing.json"

PROFILES = ("standard", "cnsa2")
#: The code as each operator typed it; both normalise to the same code.
TYPED = {"listener": "7-hobby-beach-donkey", "dialer": " 07 Hobby BEA don"}
#: Sizes of the stand-in plaintexts (any size would do).
CARD_LEN, SEALED_LEN = 96, 160


def labels(profile: str) -> dict[str, tuple[str, int]]:
    """Each fixed input of ``profile``: name -> (label, size)."""
    return {
        "dialer_scalar": (f"pairing/{profile}/dialer scalar", 32),
        "listener_scalar": (f"pairing/{profile}/listener scalar", 32),
        "dialer_card": (f"pairing/{profile}/dialer card", CARD_LEN),
        "listener_card": (f"pairing/{profile}/listener card", CARD_LEN),
        "sealed_line_key": (f"pairing/{profile}/sealed line key", SEALED_LEN),
    }


def fixed_inputs(profile: str) -> dict[str, bytes]:
    return {name: fixed(label, size) for name, (label, size) in labels(profile).items()}


@dataclass
class Exchange:
    """What one run of two machines sent and reported."""

    to_listener: list[bytes] = field(default_factory=list)
    to_dialer: list[bytes] = field(default_factory=list)
    events: dict[str, list[object]] = field(default_factory=lambda: {"listener": [], "dialer": []})
    machines: dict[str, PairingMachine] = field(default_factory=dict)


def _card_objects(profile: str) -> dict[str, StationCard]:
    # real card objects for the machines' own checks (a cnsa2 machine wants cnsa2 keys); their
    # encoding never reaches the wire here
    make = fixed_cnsa2_identity if profile == "cnsa2" else fixed_identity
    return {
        "listener": issue_card(make("listener", 51), endpoints=["listener.example:7444"], created_at=1),
        "dialer": issue_card(make("dialer", 61), endpoints=["dialer.example:7444"], created_at=1),
    }


@contextmanager
def stand_in_cards(encoded: dict[str, bytes], objects: dict[str, StationCard]) -> Iterator[None]:
    """Make the pairing module encode each role's card as its stand-in bytes, and decode them back."""
    by_name = {objects[role].name: encoded[role] for role in objects}
    by_bytes = {encoded[role]: objects[role] for role in objects}

    def encode(card: StationCard) -> bytes:
        return by_name[card.name]

    def decode(data: bytes) -> StationCard:
        if bytes(data) not in by_bytes:
            raise CardError("not one of the stand-in cards")
        return by_bytes[bytes(data)]

    with mock.patch.object(pairing, "encode_card", encode), mock.patch.object(pairing, "decode_card", decode):
        yield


def _split(data: bytes) -> list[bytes]:
    out = []
    while data:
        end = 4 + int.from_bytes(data[:4], "big")
        out.append(data[:end])
        data = data[end:]
    return out


def _machine(profile: str, role: Role, code: str, scalar: bytes, card: StationCard) -> PairingMachine:
    return PairingMachine(role, code, card=card, now=0.0, entropy=lambda n: scalar[:n], profile=profile)


def exchange(
    profile: str,
    typed: dict[str, str],
    scalars: dict[str, bytes],
    cards: dict[str, bytes],
    sealed_line_key: bytes,
) -> Exchange:
    """Run a listener and a dialer with these inputs to the end; record every frame each way."""
    objects = _card_objects(profile)
    run = Exchange()
    with stand_in_cards(cards, objects):
        for role in (Role.LISTENER, Role.DIALER):
            name = role.value
            run.machines[name] = _machine(profile, role, typed[name], scalars[name], objects[name])
        listener, dialer = run.machines["listener"], run.machines["dialer"]
        moved = True
        while moved:
            moved = False
            for src, dst, wire in ((dialer, listener, run.to_listener), (listener, dialer, run.to_dialer)):
                for frame in _split(src.data_to_send()):
                    wire.append(frame)
                    dst.receive_data(frame)
                    _answer(dst, run.events[dst.role.value], sealed_line_key)
                    moved = True
    return run


def replay(
    profile: str,
    role: Role,
    code: str,
    scalar: bytes,
    cards: dict[str, bytes],
    sealed_line_key: bytes,
    incoming: list[bytes],
) -> tuple[list[bytes], list[object]]:
    """One machine alone against recorded frames: what it sends and what it reports."""
    objects = _card_objects(profile)
    events: list[object] = []
    with stand_in_cards(cards, objects):
        m = _machine(profile, role, code, scalar, objects[role.value])
        sent = _split(m.data_to_send())
        for frame in incoming:
            m.receive_data(frame)
            _answer(m, events, sealed_line_key)
            sent += _split(m.data_to_send())
    return sent, events


def _answer(machine: PairingMachine, log: list[object], sealed_line_key: bytes) -> None:
    """Play a station's application: the listener answers a card with the line key, the dialer a line
    key with "done"."""
    while (event := machine.next_event()) is not None:
        log.append(event)
        if isinstance(event, PeerCardReceived) and machine.role is Role.LISTENER:
            machine.send_line_key(sealed_line_key)
        elif isinstance(event, LineKeyReceived):
            machine.finish()


def expected_plaintexts(profile: str, inputs: dict[str, bytes]) -> dict[str, list[tuple[str, bytes]]]:
    """The sealed frames' types and plaintexts each way, in order (docs/protocol.md §11.4)."""
    profile_frame = [("PROFILE", profile.encode("ascii"))] if profile != "standard" else []
    return {
        "dialer_to_listener": [*profile_frame, ("CARD", inputs["dialer_card"]), ("DONE", b"")],
        "listener_to_dialer": [
            *profile_frame,
            ("CARD", inputs["listener_card"]),
            ("LINE_KEY", inputs["sealed_line_key"]),
        ],
    }


def _frames(frames: list[bytes], sealed: list[tuple[str, bytes]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    queue = list(sealed)
    for frame in frames:
        kind = FrameType(frame[4])
        entry: dict[str, Any] = {"type": kind.name}
        if kind not in (FrameType.PAKE, FrameType.CONFIRM):
            name, plaintext = queue.pop(0)
            assert name == kind.name, (name, kind.name)
            entry["nonce"] = len(out) - 2  # after PAKE and CONFIRM, sealed frames count from 0
            entry["plaintext"] = plaintext.hex()
        entry["frame"] = frame.hex()
        out.append(entry)
    assert not queue
    return out


def _profile(profile: str) -> dict[str, Any]:
    inputs = fixed_inputs(profile)
    scalars = {"dialer": inputs["dialer_scalar"], "listener": inputs["listener_scalar"]}
    cards = {"dialer": inputs["dialer_card"], "listener": inputs["listener_card"]}
    run = exchange(profile, TYPED, scalars, cards, inputs["sealed_line_key"])
    assert all(isinstance(e[-1], PairingDone) for e in run.events.values()), run.events
    prs = normalise_code(TYPED["listener"]).encode("ascii")
    assert prs == normalise_code(TYPED["dialer"]).encode("ascii")
    g = calculate_generator(prs, PAKE_CI, PAKE_SID)
    ya, yb = run.to_listener[0][5:], run.to_dialer[0][5:]
    k = scalar_mult_vfy(scalars["dialer"], yb)
    isk = intermediate_session_key(PAKE_SID, k, transcript_ir(ya, PAKE_AD_DIALER, yb, PAKE_AD_LISTENER))
    transcript = ya + yb
    keys = {
        "ck_listener": hkdf_sha256(isk, salt=None, info=LABEL_CONFIRM_LISTENER, length=32),
        "ck_dialer": hkdf_sha256(isk, salt=None, info=LABEL_CONFIRM_DIALER, length=32),
        "sk_listener": hkdf_sha256(isk, salt=None, info=LABEL_SEAL_LISTENER, length=32),
        "sk_dialer": hkdf_sha256(isk, salt=None, info=LABEL_SEAL_DIALER, length=32),
    }
    confirm = {
        "confirm_listener": blake2s(transcript, key=keys["ck_listener"]),
        "confirm_dialer": blake2s(transcript, key=keys["ck_dialer"]),
    }
    sealed = expected_plaintexts(profile, inputs)
    return {
        "codes": {
            "listener_typed": TYPED["listener"],
            "dialer_typed": TYPED["dialer"],
            "normalised": prs.decode("ascii"),
        },
        "cpace": {
            "PRS": prs.hex(),
            "CI": PAKE_CI.hex(),
            "sid": PAKE_SID.hex(),
            "ADa": PAKE_AD_DIALER.hex(),
            "ADb": PAKE_AD_LISTENER.hex(),
            "generator_string": generator_string(prs, PAKE_CI, PAKE_SID).hex(),
            "g": g.hex(),
            "ya": scalars["dialer"].hex(),
            "Ya": ya.hex(),
            "yb": scalars["listener"].hex(),
            "Yb": yb.hex(),
            "K": k.hex(),
            "ISK": isk.hex(),
        },
        "keys": {"T": transcript.hex()} | {name: value.hex() for name, value in (keys | confirm).items()},
        "frames": {
            "dialer_to_listener": _frames(run.to_listener, sealed["dialer_to_listener"]),
            "listener_to_dialer": _frames(run.to_dialer, sealed["listener_to_dialer"]),
        },
    }


def build() -> dict[str, Any]:
    """The content of ``docs/vectors/pairing.json``."""
    return {
        "about": (
            "Pairing by code (docs/protocol.md §11): one whole exchange per line profile, from fixed "
            "inputs. 'cpace' holds CPace's inputs and values (§11.3: PRS, CI, sid, ADa, ADb, the "
            "generator string and generator g, the scalars ya of the dialer and yb of the listener, "
            "the messages Ya and Yb, K and ISK); 'keys' the transcript T, the confirmation and sealing "
            "keys and both confirmations; 'frames' every frame each way in order, as bytes on the wire "
            "(length, type, body), with the nonce and plaintext of each sealed one. The CARD "
            "plaintexts and the sealed line key inside LINE_KEY are fixed stand-in bytes, not a valid "
            "card or sealed line key (our signatures are randomised, so no card is reproducible): "
            "this file pins the pairing channel, and a station checked against it must let these "
            "stand-ins through its card check, or check the sealed frames only. Cards are §8.3, "
            "sealed line keys §8.5."
        ),
        "inputs": {
            profile: {
                name: {"label": fixed_note(label), "hex": fixed(label, size).hex()}
                for name, (label, size) in labels(profile).items()
            }
            for profile in PROFILES
        },
        **{profile: _profile(profile) for profile in PROFILES},
    }
