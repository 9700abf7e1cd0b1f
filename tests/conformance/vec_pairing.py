"""Conformance vectors for pairing by code (docs/protocol.md §11): ``docs/vectors/pairing.json``.

One whole exchange per line profile, from fixed inputs: the codes as typed and normalised, both CPace
scalars, the generator, both ``PAKE`` messages, ``K`` and ``ISK``, the confirmation and sealing keys,
both confirmations, the line key the listener grants, and every frame each way in order, as bytes on
the wire.

Station A of ``cards.json`` ("Ottawa") listens and B ("Zürich") dials. Each side is a real
:class:`~hotline.proto.pairing.PairingMachine` sending its version 2 card, decoding and checking the
peer's with production code; the listener's part answers B's card with a line key of the pairing's
profile sealed to the card it received, labelled as a station labels it
(:func:`~hotline.proto.linekeys.grant_label`) and stamped :data:`KEY_CREATED_AT`; the dialer's part
opens it with :func:`~hotline.proto.linekeys.open_line_key` and says "done". The only things put in
from outside are the CPace scalars (the machines' ``entropy``) and, inside the listener's line key,
the HPKE encapsulation and the ML-DSA halves of the signature (:mod:`tests.conformance.detcrypto`, via
:func:`~tests.conformance.stations.grant`). :func:`exchange` and :func:`replay` are the one harness
for the generator and the test.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hotline.crypto import p384
from hotline.crypto.cpace import (
    calculate_generator,
    generator_string,
    intermediate_session_key,
    scalar_mult_vfy,
    transcript_ir,
)
from hotline.crypto.hashing import blake2s, hkdf_sha256
from hotline.proto.cards import StationCard, encode_card
from hotline.proto.linekeys import LineKey, grant_label, open_line_key
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
from hotline.proto.suites import ProfileName
from tests.conformance.stations import A, B, Station, grant
from tests.conformance.vectorfile import fixed, fixed_note

FILE = "pairing.json"

PROFILES: tuple[ProfileName, ...] = ("standard", "cnsa2")
#: The code as each operator typed it; both normalise to the same code.
TYPED = {"listener": "7-hobby-beach-donkey", "dialer": " 07 Hobby BEA don"}
#: When the listener made the line key: a station stamps it with its clock, in whole seconds, when the
#: dialer's card arrives (2027-01-15 09:00:00 UTC).
KEY_CREATED_AT = 1_800_003_600


def labels(profile: str) -> dict[str, tuple[str, int]]:
    """Each fixed input of ``profile``: name -> (label, size)."""
    classical = ("x25519 ephemeral", 32) if profile == "standard" else ("p384 ephemeral scalar", 48)
    mlkem = "mlkem768 m" if profile == "standard" else "mlkem1024 m"
    return {
        "dialer_scalar": (f"pairing/{profile}/dialer scalar", 32),
        "listener_scalar": (f"pairing/{profile}/listener scalar", 32),
        "line_key": (f"pairing/{profile}/line key", 32),
        "mlkem_m": (f"pairing/{profile}/{mlkem}", 32),
        "ephemeral_private": (f"pairing/{profile}/{classical[0]}", classical[1]),
    }


@dataclass(frozen=True)
class Setup:
    """Everything one run needs, all fixed: what each operator typed, each side's CPace scalar, the
    two stations (with the private parts the listener signs with), and what the listener's line key is
    made from."""

    profile: ProfileName
    typed: dict[str, str]
    scalars: dict[str, bytes]
    stations: dict[str, Station]
    cards: dict[str, StationCard]
    line_key: bytes
    mlkem_m: bytes
    ephemeral: bytes
    created_at: int


def setup(profile: ProfileName) -> Setup:
    """The generator's inputs for ``profile``: A listens, B dials, each with its version 2 card."""
    fixed_inputs = {name: fixed(label, size) for name, (label, size) in labels(profile).items()}
    if profile == "cnsa2":  # a SHAKE output is below n but for 2^-190
        assert p384.is_private_key(fixed_inputs["ephemeral_private"])
    return Setup(
        profile,
        dict(TYPED),
        {"dialer": fixed_inputs["dialer_scalar"], "listener": fixed_inputs["listener_scalar"]},
        {"listener": A, "dialer": B},
        {"listener": A.card(version=2), "dialer": B.card(version=2)},
        fixed_inputs["line_key"],
        fixed_inputs["mlkem_m"],
        fixed_inputs["ephemeral_private"],
        KEY_CREATED_AT,
    )


@dataclass
class Side:
    """A station's part in one pairing, as the station plays it (:mod:`hotline.station.pairing`)
    without the store: keep the peer's card; the listener answers it with a line key, the dialer opens
    the line key and says "done". What it ends holding is what the station would store."""

    setup: Setup
    role: Role
    events: list[object] = field(default_factory=list)
    peer_card: StationCard | None = None
    line_key: LineKey | None = None
    sealed: bytes = b""

    def answer(self, machine: PairingMachine) -> None:
        """Drain the machine's events and answer them."""
        while (event := machine.next_event()) is not None:
            self.events.append(event)
            if isinstance(event, PeerCardReceived):
                self.peer_card = event.card
                if self.role is Role.LISTENER:
                    machine.send_line_key(self._grant(event.card))
            elif isinstance(event, LineKeyReceived):
                assert self.peer_card is not None
                me = self.setup.stations[self.role.value].identity()
                self.line_key = open_line_key(event.sealed, me, self.peer_card, profile=self.setup.profile)
                machine.finish()

    def _grant(self, card: StationCard) -> bytes:
        s, profile = self.setup, self.setup.profile
        station = s.stations["listener"]
        made = grant(
            station,
            card,
            profile,
            key=s.line_key,
            label=grant_label(station.name, card.name),
            created_at=s.created_at,
            m=s.mlkem_m,
            ephemeral=s.ephemeral,
        )
        # what a station keeps of the key it made (as create_line_key_from_parts returns it)
        self.line_key = LineKey(
            made.key,
            made.label,
            made.created_at,
            station.identity().fingerprint_for(profile),
            card.fingerprint_for(profile),
            profile,
        )
        self.sealed = made.sealed
        return made.sealed


@dataclass
class Exchange:
    """What one run of two machines sent, and each side's part."""

    to_listener: list[bytes] = field(default_factory=list)
    to_dialer: list[bytes] = field(default_factory=list)
    sides: dict[str, Side] = field(default_factory=dict)


def _split(data: bytes) -> list[bytes]:
    out = []
    while data:
        end = 4 + int.from_bytes(data[:4], "big")
        out.append(data[:end])
        data = data[end:]
    return out


def _machine(s: Setup, role: Role) -> PairingMachine:
    scalar = s.scalars[role.value]
    return PairingMachine(
        role,
        s.typed[role.value],
        card=s.cards[role.value],
        now=0.0,
        entropy=lambda n: scalar[:n],
        profile=s.profile,
    )


def exchange(s: Setup) -> Exchange:
    """Run a listener and a dialer with these inputs to the end; record every frame each way."""
    run = Exchange()
    machines = {}
    for role in (Role.LISTENER, Role.DIALER):
        machines[role.value] = _machine(s, role)
        run.sides[role.value] = Side(s, role)
    listener, dialer = machines["listener"], machines["dialer"]
    moved = True
    while moved:
        moved = False
        for src, dst, wire in ((dialer, listener, run.to_listener), (listener, dialer, run.to_dialer)):
            for frame in _split(src.data_to_send()):
                wire.append(frame)
                dst.receive_data(frame)
                run.sides[dst.role.value].answer(dst)
                moved = True
    return run


def replay(s: Setup, role: Role, incoming: list[bytes]) -> tuple[list[bytes], Side]:
    """One machine alone against recorded frames: what it sends, and its part."""
    machine, side = _machine(s, role), Side(s, role)
    sent = _split(machine.data_to_send())
    for frame in incoming:
        machine.receive_data(frame)
        side.answer(machine)
        sent += _split(machine.data_to_send())
    return sent, side


def expected_plaintexts(profile: str, run: Exchange) -> dict[str, list[tuple[str, bytes]]]:
    """The sealed frames' types and plaintexts each way, in order (docs/protocol.md §11.4)."""
    profile_frame = [("PROFILE", profile.encode("ascii"))] if profile != "standard" else []
    listener, dialer = run.sides["listener"], run.sides["dialer"]
    assert listener.peer_card is not None and dialer.peer_card is not None
    return {
        "dialer_to_listener": [*profile_frame, ("CARD", encode_card(listener.peer_card)), ("DONE", b"")],
        "listener_to_dialer": [
            *profile_frame,
            ("CARD", encode_card(dialer.peer_card)),
            ("LINE_KEY", listener.sealed),
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


def _line_key(run: Exchange, s: Setup) -> dict[str, Any]:
    held = {name: side.line_key for name, side in run.sides.items()}
    key = held["listener"]
    assert key is not None and key == held["dialer"], held
    sender, recipient = s.stations["listener"].identity(), s.cards["dialer"]
    return {
        "version": 1 if s.profile == "standard" else 2,
        "label": key.label,
        "created_at": key.created_at,
        "line_key": key.key.hex(),
        "sender": sender.key_digest_for(s.profile).hex(),
        "recipient": recipient.key_digest_for(s.profile).hex(),
    }


def _profile(profile: ProfileName) -> dict[str, Any]:
    s = setup(profile)
    run = exchange(s)
    for name, side in run.sides.items():
        assert isinstance(side.events[-1], PairingDone), (name, side.events)
    # each side holds the other's card exactly
    assert run.sides["listener"].peer_card == s.cards["dialer"]
    assert run.sides["dialer"].peer_card == s.cards["listener"]
    prs = normalise_code(s.typed["listener"]).encode("ascii")
    assert prs == normalise_code(s.typed["dialer"]).encode("ascii")
    g = calculate_generator(prs, PAKE_CI, PAKE_SID)
    ya, yb = run.to_listener[0][5:], run.to_dialer[0][5:]
    k = scalar_mult_vfy(s.scalars["dialer"], yb)
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
    sealed = expected_plaintexts(profile, run)
    return {
        "codes": {
            "listener_typed": s.typed["listener"],
            "dialer_typed": s.typed["dialer"],
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
            "ya": s.scalars["dialer"].hex(),
            "Ya": ya.hex(),
            "yb": s.scalars["listener"].hex(),
            "Yb": yb.hex(),
            "K": k.hex(),
            "ISK": isk.hex(),
        },
        "keys": {"T": transcript.hex()} | {name: value.hex() for name, value in (keys | confirm).items()},
        "line_key": _line_key(run, s),
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
            "inputs, between the stations of cards.json: A listens, B dials, each sending its version 2 "
            "card (§8.3). 'cpace' holds CPace's inputs and values (§11.3: PRS, CI, sid, ADa, ADb, the "
            "generator string and generator g, the scalars ya of the dialer and yb of the listener, "
            "the messages Ya and Yb, K and ISK); 'keys' the transcript T, the confirmation and sealing "
            "keys and both confirmations; 'line_key' the line key A grants B (§8.5: sealed to B's card, "
            "labelled A's name, '-', the name on B's card, created_at the listener's clock when B's card "
            "arrived); 'frames' every frame each way in order, as bytes on the wire (length, type, "
            "body), with the nonce and plaintext of each sealed one: the CARD plaintexts are cards.json's "
            "A_v2 and B_v2, the LINE_KEY plaintext the sealed line key (made as in linekeys.json)."
        ),
        "inputs": {
            "listener": "A",
            "dialer": "B",
            "key_created_at": KEY_CREATED_AT,
            **{
                profile: {
                    name: {"from": fixed_note(label), "hex": fixed(label, size).hex()}
                    for name, (label, size) in labels(profile).items()
                }
                for profile in PROFILES
            },
        },
        **{profile: _profile(profile) for profile in PROFILES},
    }
