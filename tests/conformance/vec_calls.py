"""Conformance vectors: a call's keys, its short authentication string and media packets (§12.2, §12.3).

Under each line profile, from fixed inputs: the caller's commitment and ML-KEM key, the callee's
X25519 key and encapsulation, the transcript digest, both media keys, the SAS words, and media
packets each way (the first two of each direction, with their plaintext layout). ``test_calls.py``
runs both halves of our exchange from the same inputs and opens the packets.
"""

from __future__ import annotations

from typing import Any

from hotline.proto.callkeys import CalleeExchange, CallerExchange, Transcript
from hotline.proto.media import MediaOpener, MediaSealer
from hotline.proto.suites import CNSA2, STANDARD, Suite
from tests.conformance.vectorfile import fixed, fixed_note
from tests.support.goldsession import deterministic_kem

FILE = "calls.json"
CALLER_INDEX = 7
CALLEE_INDEX = 9
PAYLOADS = {
    "to_callee": [b"speech frame 0 to the callee", b"frame 1"],
    "to_caller": [b"speech frame 0 to the caller"],
}


def inputs(profile: str) -> dict[str, tuple[str, int]]:
    """Every fixed input of one profile's call: name -> (label, size)."""
    binding = 32 if profile == "standard" else 64
    names = {
        "binding": binding,
        "call_id": 16,
        "caller_dh": 32,
        "caller_kem_seed": 64,
        "callee_dh": 32,
        "callee_kem_m": 32,
    }
    return {name: (f"calls/{profile}/{name.replace('_', ' ')}", size) for name, size in names.items()}


def exchange(suite: Suite, v: dict[str, bytes]) -> tuple[CallerExchange, CalleeExchange]:
    """Both halves of the call's key exchange, from the fixed inputs ``v``."""
    caller = CallerExchange(
        v["call_id"], dh_secret=v["caller_dh"], kem_seed=v["caller_kem_seed"], suite=suite
    )
    callee = CalleeExchange(
        v["call_id"],
        caller.commitment,
        caller.kem_public,
        dh_secret=v["callee_dh"],
        kem=deterministic_kem(suite.profile, [], v["callee_kem_m"]),
        suite=suite,
    )
    return caller, callee


def _profile(profile: str) -> dict[str, Any]:
    suite = STANDARD if profile == "standard" else CNSA2
    v = {name: fixed(lab, size) for name, (lab, size) in inputs(profile).items()}
    caller, callee = exchange(suite, v)
    transcript = Transcript(
        v["binding"],
        v["call_id"],
        CALLER_INDEX,
        CALLEE_INDEX,
        caller.commitment,
        caller.kem_public,
        callee.dh_public,
        callee.ciphertext,
        caller.dh_public,
        suite,
    )
    caller_dh, callee_dh, ciphertext = caller.dh_public, callee.dh_public, callee.ciphertext
    keys = callee.finish(v["binding"], CALLER_INDEX, CALLEE_INDEX, caller_dh)
    assert keys == caller.finish(
        v["binding"], v["call_id"], CALLER_INDEX, CALLEE_INDEX, callee_dh, ciphertext
    )
    media: dict[str, list[dict[str, str]]] = {}
    for direction, payloads in PAYLOADS.items():
        to_callee = direction == "to_callee"
        index = CALLEE_INDEX if to_callee else CALLER_INDEX
        sealer = MediaSealer(keys.sending(caller=to_callee), index, suite.aead)
        opener = MediaOpener(keys.sending(caller=to_callee), index, suite.aead)
        media[direction] = []
        for payload in payloads:
            packet = sealer.seal(payload)
            assert opener.open(packet) is not None
            media[direction].append({"payload": payload.hex(), "packet": packet.hex()})
    return {
        "inputs": {
            name: {"label": fixed_note(lab), "hex": v[name].hex()}
            for name, (lab, _) in inputs(profile).items()
        },
        "caller_index": CALLER_INDEX,
        "callee_index": CALLEE_INDEX,
        "caller_dh_public": caller_dh.hex(),
        "commitment": caller.commitment.hex(),
        "kem_public": caller.kem_public.hex(),
        "callee_dh_public": callee_dh.hex(),
        "kem_ciphertext": ciphertext.hex(),
        "transcript_digest": transcript.digest().hex(),
        "caller_to_callee": keys.caller_to_callee.hex(),
        "callee_to_caller": keys.callee_to_caller.hex(),
        "sas": list(keys.sas),
        "media": media,
    }


def build() -> dict[str, Any]:
    """The content of ``docs/vectors/calls.json``."""
    return {
        "about": (
            "A call's key exchange, media keys and short authentication string (§12.2) and its "
            "media packets (§12.3) under each line profile, from fixed inputs. The binding stands "
            "for the session's handshake hash. Packets are each direction's first, counter from 0."
        ),
        "standard": _profile("standard"),
        "cnsa2": _profile("cnsa2"),
    }
