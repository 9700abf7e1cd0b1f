"""The independent station (``tests/conformance/independent``) against the published vectors.

It was written from docs/protocol.md alone; these checks hold it to docs/vectors/ as an outside
engineer would, before it meets a real daemon (tests/integration/test_independent_station.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import x25519

from tests.conformance.independent import keys, noise, wire

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "docs" / "vectors"


def load(name: str) -> dict[str, Any]:
    return dict(json.loads((VECTORS / name).read_text()))


def identity(cards: dict[str, Any], who: str) -> keys.Identity:
    private = {k: bytes.fromhex(v) for k, v in cards["stations"][who]["private"].items()}
    return keys.Identity(
        cards["stations"][who]["name"],
        private["x25519_private"],
        private["mlkem768_seed"],
        private["signing_seed"],
        private["mlkem1024_seed"],
        private["p384_scalar"],
        private["mldsa87_xi"],
    )


def test_identities_cards_and_safety_numbers() -> None:
    cards = load("cards.json")
    a, b = identity(cards, "A"), identity(cards, "B")
    assert a.digest.hex() == cards["stations"]["A"]["key_digest_standard"]
    assert keys.fingerprint(b.digest) == cards["stations"]["B"]["fingerprint_standard"]
    for name, who in (("A_v2", "A"), ("B_v2", "B"), ("A_v1", "A")):
        vector = cards["cards"][name]
        read = keys.read_card(keys.dearmor(vector["armored"]))
        assert (read.version, read.digest.hex()) == (
            vector["version"],
            cards["stations"][who]["key_digest_standard"],
        )
        station = a if who == "A" else b
        ours = station.card(cards["stations"][who]["endpoints"], vector["created_at"], vector["version"])
        envelope = wire.unpack(ours)
        assert isinstance(envelope, list)  # signatures are hedged: the bodies match
        assert envelope[0] == bytes.fromhex(vector["body"])
        assert keys.read_card(keys.dearmor(keys.armor(ours))).digest == station.digest
    digits, words = keys.safety_number(a.digest, b.digest, keys.words(ROOT / "docs" / "protocol.md"))
    assert (digits, words) == (
        cards["safety_numbers"]["standard"]["digits"],
        cards["safety_numbers"]["standard"]["words"],
    )


def test_opens_the_sealed_line_key() -> None:
    cards, linekeys = load("cards.json"), load("linekeys.json")
    sender = keys.read_card(keys.dearmor(cards["cards"]["A_v2"]["armored"]))
    vector = linekeys["sealed"]["standard"]
    opened = keys.open_line_key(bytes.fromhex(vector["grant_file"]), sender, identity(cards, "B"))
    assert (opened.key.hex(), opened.label, opened.created_at) == (
        vector["line_key"],
        vector["label"],
        vector["created_at"],
    )


def test_replays_the_first_handshake_and_its_records() -> None:
    session = load("session-standard.json")
    inputs = {k: bytes.fromhex(v["hex"]) for k, v in session["inputs"].items()}
    hs = session["handshake"]
    initiator = noise.Initiator(
        x25519.X25519PrivateKey.from_private_bytes(inputs["initiator_static"]),
        bytes.fromhex(session["responder_static_public"]),
        inputs["line_key"],
        ephemeral=inputs["initiator_ephemeral_0"],
        kem_seed=inputs["initiator_kem_seed_0"],
    )
    assert initiator.initiation(hs["timestamp_ns"]).hex() == hs["initiation"]
    send, receive, handshake_hash = initiator.read_response(bytes.fromhex(hs["response"]))
    assert handshake_hash.hex() == hs["handshake_hash"]
    assert send.key is not None and send.key.hex() == hs["transport_keys"]["initiator_to_responder"]
    # Every record of the first epoch: ours byte for byte, the responder's opened and decoded again.
    readers = {"initiator": wire.StreamReader(), "responder": wire.StreamReader()}
    for rec in session["records"]:
        if rec["type"] != wire.TRANSPORT_PHASE0 or rec["epoch"] != 1:
            continue
        raw = bytes.fromhex(rec["record"])
        content = wire.unpad(bytes.fromhex(rec["plaintext"]))
        if rec["from"] == "initiator":
            assert wire.record(3, send.encrypt(b"\x03", wire.pad(content))) == raw
        else:
            assert wire.unpad(receive.decrypt(b"\x03", raw[3:])) == content
        messages = readers[rec["from"]].feed(content)
        assert [wire.pack(m).hex() for m in messages] == rec["messages_completed"]
    starts = session["line"]["chain_start"]
    digests = inputs["initiator_key_digest"], inputs["responder_key_digest"]
    assert wire.chain_start(*digests).hex() == starts["initiator_to_responder"]


def test_chain_heads() -> None:
    chain = load("linemsg.json")["chains"]["standard"]
    head = bytes.fromhex(chain["H0"])
    for n, entry in enumerate(chain["entries"], start=1):
        f = entry["fields"]
        fields: list[wire.Value] = [
            f["seq"], bytes.fromhex(f["id"]), f["kind"], f["precedence"], f["created_ms"],
            bytes.fromhex(f["ref"]), bytes.fromhex(f["body"]),
        ]  # fmt: skip
        assert wire.pack(fields).hex() == entry["hashed_fields_msgpack"]
        head = wire.chain_next(head, fields)
        assert head.hex() == entry[f"H{n}"]
