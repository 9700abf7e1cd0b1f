"""Our pairing against ``docs/vectors/pairing.json`` (docs/protocol.md §11), read from that file only.

Three checks per line profile: the file's values follow the text of §11.3 (each byte layout built here
from the specification, hashed with hashlib and the HKDF and BLAKE2s of ``hotline.crypto``); every
sealed frame is the ChaCha20-Poly1305 seal the text describes; and our machines, given the file's
inputs, send exactly the file's frames, and each one alone accepts the other side's recorded frames
to the end.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from hotline.crypto.aead import CipherKey, noise_nonce
from hotline.crypto.cpace import calculate_generator, scalar_mult_vfy
from hotline.crypto.hashing import blake2s, hkdf_sha256
from hotline.proto.pairing import FrameType, PairingDone, PeerCardReceived, Role
from tests.conformance.vec_pairing import exchange, replay
from tests.conformance.vectorfile import load

VECTORS: dict[str, Any] = load("pairing.json")
PROFILES = ["standard", "cnsa2"]


def case(profile: str) -> dict[str, Any]:
    section: dict[str, Any] = VECTORS[profile]
    return section


def inputs(profile: str) -> dict[str, bytes]:
    return {name: bytes.fromhex(entry["hex"]) for name, entry in VECTORS["inputs"][profile].items()}


def hexes(section: dict[str, str]) -> dict[str, bytes]:
    return {name: bytes.fromhex(value) for name, value in section.items()}


def frames(profile: str, direction: str) -> list[bytes]:
    return [bytes.fromhex(f["frame"]) for f in case(profile)["frames"][direction]]


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


def _run_inputs(profile: str) -> tuple[dict[str, str], dict[str, bytes], dict[str, bytes], bytes]:
    fixed, codes = inputs(profile), case(profile)["codes"]
    typed = {"listener": codes["listener_typed"], "dialer": codes["dialer_typed"]}
    scalars = {"listener": fixed["listener_scalar"], "dialer": fixed["dialer_scalar"]}
    cards = {"listener": fixed["listener_card"], "dialer": fixed["dialer_card"]}
    return typed, scalars, cards, fixed["sealed_line_key"]


@pytest.mark.parametrize("profile", PROFILES)
def test_two_machines_send_exactly_the_files_frames(profile: str) -> None:
    run = exchange(profile, *_run_inputs(profile))
    assert run.to_listener == frames(profile, "dialer_to_listener")
    assert run.to_dialer == frames(profile, "listener_to_dialer")
    for events in run.events.values():
        assert isinstance(events[-1], PairingDone)


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("role", [Role.LISTENER, Role.DIALER])
def test_each_machine_alone_accepts_the_recorded_frames(profile: str, role: Role) -> None:
    typed, scalars, cards, sealed = _run_inputs(profile)
    theirs, ours = (
        ("dialer_to_listener", "listener_to_dialer")
        if role is Role.LISTENER
        else ("listener_to_dialer", "dialer_to_listener")
    )
    sent, events = replay(
        profile, role, typed[role.value], scalars[role.value], cards, sealed, frames(profile, theirs)
    )
    assert sent == frames(profile, ours)
    assert isinstance(events[-1], PairingDone)
    peer = [e for e in events if isinstance(e, PeerCardReceived)]
    assert len(peer) == 1


@pytest.mark.parametrize("profile", PROFILES)
def test_a_flipped_bit_in_any_recorded_frame_is_refused(profile: str) -> None:
    typed, scalars, cards, sealed = _run_inputs(profile)
    recorded = frames(profile, "dialer_to_listener")
    for index, frame in enumerate(recorded):
        changed = frame[:-1] + bytes([frame[-1] ^ 0x01])
        incoming = [*recorded[:index], changed, *recorded[index + 1 :]]
        _, events = replay(
            profile, Role.LISTENER, typed["listener"], scalars["listener"], cards, sealed, incoming
        )
        assert not any(isinstance(e, PairingDone) for e in events), index
