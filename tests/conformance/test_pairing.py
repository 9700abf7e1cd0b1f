"""Our pairing against ``docs/vectors/pairing.json`` (docs/protocol.md §11), read from that file and
``cards.json`` (the two stations) only.

Per line profile: the file's values follow the text of §11.3 (each byte layout built here from the
specification, hashed with hashlib and the HKDF and BLAKE2s of ``hotline.crypto``); every sealed frame
is the ChaCha20-Poly1305 seal the text describes; the cards are the stations' version 2 cards and the
line key opens for the dialer (§8.5); and our machines, given the file's inputs, send exactly the
file's frames, each one alone accepts the other side's recorded frames to the end, and each side ends
holding exactly the peer's card and the file's line key.
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec
import pytest

from hotline.crypto.aead import CipherKey, noise_nonce
from hotline.crypto.cpace import calculate_generator, scalar_mult_vfy
from hotline.crypto.hashing import blake2s, hkdf_sha256
from hotline.proto.cards import StationCard, decode_card, encode_card
from hotline.proto.linekeys import open_line_key
from hotline.proto.pairing import FrameType, PairingDone, Role
from hotline.proto.suites import ProfileName
from tests.conformance.stations import Station
from tests.conformance.vec_pairing import Setup, Side, exchange, replay
from tests.conformance.vectorfile import load

VECTORS: dict[str, Any] = load("pairing.json")
CARDS: dict[str, Any] = load("cards.json")
PROFILES: list[ProfileName] = ["standard", "cnsa2"]
ROLES = ("listener", "dialer")


def case(profile: str) -> dict[str, Any]:
    section: dict[str, Any] = VECTORS[profile]
    return section


def inputs(profile: str) -> dict[str, bytes]:
    return {name: bytes.fromhex(entry["hex"]) for name, entry in VECTORS["inputs"][profile].items()}


def hexes(section: dict[str, str]) -> dict[str, bytes]:
    return {name: bytes.fromhex(value) for name, value in section.items()}


def frames(profile: str, direction: str) -> list[bytes]:
    return [bytes.fromhex(f["frame"]) for f in case(profile)["frames"][direction]]


def plaintexts(profile: str, direction: str, kind: str) -> list[bytes]:
    entries = case(profile)["frames"][direction]
    return [bytes.fromhex(f["plaintext"]) for f in entries if f["type"] == kind]


def letter(role: str) -> str:
    """Which station of cards.json plays ``role``."""
    value: str = VECTORS["inputs"][role]
    return value


def station(role: str) -> Station:
    """The station playing ``role``, with its private parts from cards.json."""
    x = letter(role)
    parts = {name: bytes.fromhex(entry["hex"]) for name, entry in CARDS["inputs"][x].items()}
    return Station(x, CARDS["stations"][x]["name"], tuple(CARDS["stations"][x]["endpoints"]), parts)


def card_bytes(role: str) -> bytes:
    """The version 2 card of the station playing ``role``, as cards.json publishes it."""
    return bytes.fromhex(CARDS["cards"][f"{letter(role)}_v2"]["card"])


def card(role: str) -> StationCard:
    return decode_card(card_bytes(role))


def setup(profile: ProfileName) -> Setup:
    """The run's inputs, from the files."""
    fixed, codes = inputs(profile), case(profile)["codes"]
    return Setup(
        profile,
        {"listener": codes["listener_typed"], "dialer": codes["dialer_typed"]},
        {"listener": fixed["listener_scalar"], "dialer": fixed["dialer_scalar"]},
        {role: station(role) for role in ROLES},
        {role: card(role) for role in ROLES},
        fixed["line_key"],
        fixed["mlkem_m"],
        fixed["ephemeral_private"],
        VECTORS["inputs"]["key_created_at"],
    )


def other(role: str) -> str:
    return "dialer" if role == "listener" else "listener"


def assert_holds(side: Side, role: str, profile: str) -> None:
    """``side`` finished, holding exactly the peer's card and the file's line key."""
    assert isinstance(side.events[-1], PairingDone)
    assert side.peer_card is not None and encode_card(side.peer_card) == card_bytes(other(role))
    key, expected = side.line_key, case(profile)["line_key"]
    assert key is not None
    assert key.key.hex() == expected["line_key"] == VECTORS["inputs"][profile]["line_key"]["hex"]
    assert (key.label, key.created_at, key.profile) == (expected["label"], expected["created_at"], profile)
    assert key.sender.raw.hex() == expected["sender"][:40]
    assert key.recipient.raw.hex() == expected["recipient"][:40]


def test_the_file_holds_both_profiles() -> None:
    assert set(PROFILES) <= set(VECTORS)
    for profile in PROFILES:
        types = {d: [f["type"] for f in fs] for d, fs in case(profile)["frames"].items()}
        profile_frame = ["PROFILE"] if profile == "cnsa2" else []
        assert types["dialer_to_listener"] == ["PAKE", "CONFIRM", *profile_frame, "CARD", "DONE"]
        assert types["listener_to_dialer"] == ["PAKE", "CONFIRM", *profile_frame, "CARD", "LINE_KEY"]


@pytest.mark.parametrize("profile", PROFILES)
def test_the_cpace_values_follow_the_specification(profile: str) -> None:
    c, fixed = hexes(case(profile)["cpace"]), inputs(profile)
    prs = case(profile)["codes"]["normalised"].encode("ascii")
    assert c["PRS"] == prs and c["CI"] == b"hotline pairing v2" and c["sid"] == b""
    assert (c["ADa"], c["ADb"]) == (b"dialer", b"listener")
    assert (c["ya"], c["yb"]) == (fixed["dialer_scalar"], fixed["listener_scalar"])
    # §11.3 generator string, byte for byte as the text lays it out
    z = 117 - len(prs)
    gen_str = (
        b"\x08CPace255" + bytes([len(prs)]) + prs + bytes([z]) + bytes(z) + b"\x12hotline pairing v2\x00"
    )
    assert len(gen_str) == 148 and c["generator_string"] == gen_str
    assert calculate_generator(prs, b"hotline pairing v2", b"") == c["g"]
    # messages and K
    assert scalar_mult_vfy(c["ya"], c["g"]) == c["Ya"] and scalar_mult_vfy(c["yb"], c["g"]) == c["Yb"]
    assert scalar_mult_vfy(c["ya"], c["Yb"]) == scalar_mult_vfy(c["yb"], c["Ya"]) == c["K"]
    # ISK over the 129-byte layout of §11.3
    isk_input = (
        b"\x0cCPace255_ISK\x00\x20"
        + c["K"]
        + b"\x20"
        + c["Ya"]
        + b"\x06dialer\x20"
        + c["Yb"]
        + b"\x08listener"
    )
    assert len(isk_input) == 129 and hashlib.sha512(isk_input).digest() == c["ISK"]
    # the key schedule
    k = hexes(case(profile)["keys"])
    assert k["T"] == c["Ya"] + c["Yb"]
    for role in ("listener", "dialer"):
        ck = hkdf_sha256(c["ISK"], salt=None, info=b"hotline pairing v2 confirm " + role.encode(), length=32)
        sk = hkdf_sha256(c["ISK"], salt=None, info=b"hotline pairing v2 seal " + role.encode(), length=32)
        assert (k[f"ck_{role}"], k[f"sk_{role}"]) == (ck, sk)
        assert k[f"confirm_{role}"] == blake2s(k["T"], key=ck)


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("direction", ["dialer_to_listener", "listener_to_dialer"])
def test_every_frame_is_what_the_specification_says(profile: str, direction: str) -> None:
    sender = direction.split("_", 1)[0]
    c, k = hexes(case(profile)["cpace"]), hexes(case(profile)["keys"])
    key = CipherKey(k[f"sk_{sender}"])
    expected_sealed = 0
    for entry in case(profile)["frames"][direction]:
        kind = FrameType[entry["type"]]
        if kind is FrameType.PAKE:
            body = c["Ya"] if sender == "dialer" else c["Yb"]
        elif kind is FrameType.CONFIRM:
            body = k[f"confirm_{sender}"]
        else:
            assert entry["nonce"] == expected_sealed
            body = key.seal(noise_nonce(entry["nonce"]), bytes([kind]), bytes.fromhex(entry["plaintext"]))
            expected_sealed += 1
        assert bytes.fromhex(entry["frame"]) == (1 + len(body)).to_bytes(4, "big") + bytes([kind]) + body


@pytest.mark.parametrize("profile", PROFILES)
def test_the_cards_are_the_stations_version_2_cards(profile: str) -> None:
    # the listener's card goes to the dialer and the dialer's to the listener, each exactly as
    # cards.json publishes it, and each decodes and verifies (§8.3)
    assert plaintexts(profile, "listener_to_dialer", "CARD") == [card_bytes("listener")]
    assert plaintexts(profile, "dialer_to_listener", "CARD") == [card_bytes("dialer")]
    assert (letter("listener"), letter("dialer")) == ("A", "B")
    for role in ROLES:
        assert card(role).version == 2 and card(role).cnsa2 is not None


@pytest.mark.parametrize("profile", PROFILES)
def test_the_line_key_is_sealed_to_the_dialer_as_section_8_5_says(profile: str) -> None:
    (sealed,) = plaintexts(profile, "listener_to_dialer", "LINE_KEY")
    expected = case(profile)["line_key"]
    # the dialer opens it with its private keys against the listener's card, for this profile
    key = open_line_key(sealed, station("dialer").identity(), card("listener"), profile=profile)
    assert key.key.hex() == expected["line_key"] == VECTORS["inputs"][profile]["line_key"]["hex"]
    # the body as §8.5 lays it out: the version of the profile, the label the granting station
    # chooses (its own name, "-", the name on the peer's card, cut to 64 characters), the
    # listener's key creation time, and the two key digests of the profile
    body, _ = msgspec.msgpack.decode(sealed)
    fields = msgspec.msgpack.decode(body)
    names = CARDS["stations"][letter("listener")]["name"], card("dialer").name
    label = f"{names[0]}-{names[1]}"[:64]
    head = [1] if profile == "standard" else [2, "cnsa2"]
    assert fields[:-1] == [
        *head,
        label,
        bytes.fromhex(CARDS["stations"][letter("listener")][f"key_digest_{profile}"]),
        bytes.fromhex(CARDS["stations"][letter("dialer")][f"key_digest_{profile}"]),
        VECTORS["inputs"]["key_created_at"],
    ]
    assert (expected["version"], expected["label"], expected["created_at"]) == (
        head[0],
        label,
        VECTORS["inputs"]["key_created_at"],
    )
    assert (key.label, key.created_at) == (label, VECTORS["inputs"]["key_created_at"])
    assert bytes.fromhex(expected["sender"]) == fields[len(head) + 1]
    assert bytes.fromhex(expected["recipient"]) == fields[len(head) + 2]


@pytest.mark.parametrize("profile", PROFILES)
def test_two_machines_send_exactly_the_files_frames(profile: ProfileName) -> None:
    run = exchange(setup(profile))
    assert run.to_listener == frames(profile, "dialer_to_listener")
    assert run.to_dialer == frames(profile, "listener_to_dialer")
    for role in ROLES:
        assert_holds(run.sides[role], role, profile)
    assert run.sides["listener"].line_key == run.sides["dialer"].line_key


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("role", [Role.LISTENER, Role.DIALER])
def test_each_machine_alone_accepts_the_recorded_frames(profile: ProfileName, role: Role) -> None:
    theirs, ours = (
        ("dialer_to_listener", "listener_to_dialer")
        if role is Role.LISTENER
        else ("listener_to_dialer", "dialer_to_listener")
    )
    sent, side = replay(setup(profile), role, frames(profile, theirs))
    assert sent == frames(profile, ours)
    assert_holds(side, role.value, profile)


@pytest.mark.parametrize("profile", PROFILES)
def test_a_flipped_bit_in_any_recorded_frame_is_refused(profile: ProfileName) -> None:
    s = setup(profile)
    recorded = frames(profile, "dialer_to_listener")
    for index, frame in enumerate(recorded):
        changed = frame[:-1] + bytes([frame[-1] ^ 0x01])
        incoming = [*recorded[:index], changed, *recorded[index + 1 :]]
        _, side = replay(s, Role.LISTENER, incoming)
        assert not any(isinstance(e, PairingDone) for e in side.events), index
