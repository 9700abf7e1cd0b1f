"""Our call keys and media against ``calls.json`` (docs/protocol.md §12.2, §12.3)."""

from __future__ import annotations

from typing import Any

import pytest

from hotline.proto.callkeys import Transcript, commitment
from hotline.proto.media import MediaOpener, MediaSealer
from hotline.proto.suites import CNSA2, STANDARD
from tests.conformance.vec_calls import exchange
from tests.conformance.vectorfile import load

V: dict[str, Any] = load("calls.json")


@pytest.mark.parametrize("profile", ["standard", "cnsa2"])
def test_both_halves_give_the_published_keys(profile: str) -> None:
    suite = STANDARD if profile == "standard" else CNSA2
    c = V[profile]
    v = {name: bytes.fromhex(i["hex"]) for name, i in c["inputs"].items()}
    caller, callee = exchange(suite, v)
    assert (
        caller.commitment.hex() == c["commitment"] == commitment(v["call_id"], caller.dh_public, suite).hex()
    )
    assert caller.kem_public.hex() == c["kem_public"]
    assert callee.dh_public.hex() == c["callee_dh_public"] and callee.ciphertext.hex() == c["kem_ciphertext"]
    transcript = Transcript(
        v["binding"],
        v["call_id"],
        c["caller_index"],
        c["callee_index"],
        bytes.fromhex(c["commitment"]),
        bytes.fromhex(c["kem_public"]),
        bytes.fromhex(c["callee_dh_public"]),
        bytes.fromhex(c["kem_ciphertext"]),
        bytes.fromhex(c["caller_dh_public"]),
        suite,
    )
    assert transcript.digest().hex() == c["transcript_digest"]
    ours = caller.finish(
        v["binding"],
        v["call_id"],
        c["caller_index"],
        c["callee_index"],
        bytes.fromhex(c["callee_dh_public"]),
        bytes.fromhex(c["kem_ciphertext"]),
    )
    theirs = callee.finish(
        v["binding"], c["caller_index"], c["callee_index"], bytes.fromhex(c["caller_dh_public"])
    )
    for keys in (ours, theirs):
        assert keys.caller_to_callee.hex() == c["caller_to_callee"]
        assert keys.callee_to_caller.hex() == c["callee_to_caller"]
        assert list(keys.sas) == c["sas"]


@pytest.mark.parametrize("profile", ["standard", "cnsa2"])
def test_media_packets_open_and_seal_again(profile: str) -> None:
    suite = STANDARD if profile == "standard" else CNSA2
    c = V[profile]
    for direction, packets in c["media"].items():
        to_callee = direction == "to_callee"
        key = bytes.fromhex(c["caller_to_callee" if to_callee else "callee_to_caller"])
        index = c["callee_index"] if to_callee else c["caller_index"]
        opener = MediaOpener(key, index, suite.aead)
        sealer = MediaSealer(key, index, suite.aead)
        for counter, row in enumerate(packets):
            packet = bytes.fromhex(row["packet"])
            assert opener.open(packet) == (counter, bytes.fromhex(row["payload"]))
            assert sealer.seal(bytes.fromhex(row["payload"])) == packet
        forged = bytearray.fromhex(packets[0]["packet"])
        forged[-1] ^= 1
        assert MediaOpener(key, index, suite.aead).open(bytes(forged)) is None
