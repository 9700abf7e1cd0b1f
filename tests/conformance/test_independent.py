"""The independent station (``tests/conformance/independent``) against the published vectors.

It was written from docs/protocol.md alone; these checks hold it to docs/vectors/ as an outside
engineer would, before it meets a real daemon (tests/integration/test_independent_station.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import x25519

from tests.conformance.independent import keys, linekey, noise, wire
from tests.conformance.independent.session import Session

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
    wordlist = keys.words(ROOT / "docs" / "protocol.md")
    for profile in ("standard", "cnsa2"):
        for who, station in (("A", a), ("B", b)):
            digest = station.digest_of(profile)
            assert digest.hex() == cards["stations"][who][f"key_digest_{profile}"]
            assert keys.fingerprint(digest) == cards["stations"][who][f"fingerprint_{profile}"]
            card = keys.read_card(keys.dearmor(cards["cards"][f"{who}_v2"]["armored"]))
            assert card.digest_of(profile) == digest
        digits, words = keys.safety_number(a.digest_of(profile), b.digest_of(profile), wordlist, profile)
        assert (digits, words) == (
            cards["safety_numbers"][profile]["digits"],
            cards["safety_numbers"][profile]["words"],
        )


@pytest.mark.parametrize("profile", ["standard", "cnsa2"])
def test_opens_the_sealed_line_key(profile: str) -> None:
    cards, linekeys = load("cards.json"), load("linekeys.json")
    sender = keys.read_card(keys.dearmor(cards["cards"]["A_v2"]["armored"]))
    vector = linekeys["sealed"][profile]
    grant = bytes.fromhex(vector["grant_file"])
    opened = linekey.open_line_key(grant, sender, identity(cards, "B"), profile)
    assert (opened.key.hex(), opened.label, opened.created_at) == (
        vector["line_key"],
        vector["label"],
        vector["created_at"],
    )
    other = "cnsa2" if profile == "standard" else "standard"
    with pytest.raises(wire.WireError, match=f"not a {other} sealed key"):
        linekey.open_line_key(grant, sender, identity(cards, "B"), other)


class Wire:
    """A socket that keeps what is sent, record by record."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def sendall(self, data: bytes) -> None:
        self.sent.append(data)


def replay(session: Session, records: list[dict[str, Any]], ours: str, sock: Wire) -> None:
    """Play ``records`` through ``session`` on side ``ours``: the peer's records are taken (and acted
    on: Pongs, rekeys), ours must come out byte for byte, whether sent on their own or, for line
    messages and the initiator's timed rekey, when told to."""
    for rec in records:
        if rec["type"] not in (wire.TRANSPORT_PHASE0, wire.TRANSPORT_PHASE1):
            continue
        raw = bytes.fromhex(rec["record"])
        if rec["from"] != ours:
            session.take_record(raw[2], raw[3:])
            continue
        if not sock.sent:  # nothing sent on its own: the record holds line messages (or our rekey)
            messages = [wire.unpack(bytes.fromhex(m)) for m in rec["messages_completed"]]
            assert all(isinstance(m, list) for m in messages)
            if messages[0][0] == wire.REKEY_INIT:  # type: ignore[index]
                session.start_rekey()
            else:
                session.send(*messages)  # type: ignore[arg-type]
        assert sock.sent.pop(0).hex() == rec["record"], rec["step"]
    assert not sock.sent and session.rekeys == 2


@pytest.mark.parametrize("profile", ["standard", "cnsa2"])
@pytest.mark.parametrize("role", ["initiator", "responder"])
def test_replays_the_session_with_its_rekeys(profile: str, role: str) -> None:
    """The first handshake in both roles, then every record of the session from one side: ours byte
    for byte (Pongs, entries, both rekeys: the timed one and the requested one, started or
    answered), the peer's opened under the key of their phase."""
    session = load(f"session-{profile}.json")
    suite = noise.SUITES[profile]
    inputs = {k: bytes.fromhex(v["hex"]) for k, v in session["inputs"].items()}
    statics = {
        side: x25519.X25519PrivateKey.from_private_bytes(inputs[f"{side}_static"])
        for side in ("initiator", "responder")
    }
    psk, hs, rekeys = inputs["line_key"], session["handshake"], session["rekeys"]
    # Every handshake from the initiator's side (its fresh values are inputs), then the responder's
    # replies rebuilt from its ephemerals and what the initiator's KEM key opened.
    h = b""
    answers: list[tuple[bytes, tuple[bytes, bytes]]] = []
    for n, shake in enumerate([hs, *rekeys]):
        prologue = noise.PROLOGUE if n == 0 else noise.REKEY_PROLOGUE + h
        assert prologue.hex() == shake.get("prologue", prologue.hex())
        initiator = noise.Initiator(
            statics["initiator"], bytes.fromhex(session["responder_static_public"]), psk, suite, prologue,
            ephemeral=inputs[f"initiator_ephemeral_{n}"], kem_seed=inputs[f"initiator_kem_seed_{n}"],
        )  # fmt: skip
        assert initiator.initiation(shake["timestamp_ns"]).hex() == shake["initiation"]
        send, receive, h = initiator.read_response(bytes.fromhex(shake["response"]))
        assert (h.hex(), send.key) == (
            shake["handshake_hash"],
            bytes.fromhex(shake["transport_keys"]["initiator_to_responder"]),
        )
        responder = noise.Responder(statics["responder"], suite, prologue)
        assert responder.read_initiation(bytes.fromhex(shake["initiation"])) == (
            bytes.fromhex(session["initiator_static_public"]),
            shake["timestamp_ns"],
        )
        answer = (inputs[f"responder_ephemeral_{n}"], initiator.encapsulated)
        response = responder.response(psk, ephemeral=answer[0], encapsulated=answer[1])
        assert (response[0].hex(), response[3]) == (shake["response"], h)
        answers.append(answer)
        if n == 0:
            first = (send, receive, h), response
    assert [r["timestamp_ns"] - hs["timestamp_ns"] for r in rekeys] == [61_000_000_000, 61_000_000_001]

    sock = Wire()
    if role == "initiator":
        ours = Session(
            sock, first[0], initiator=True, suite=suite, static=statics["initiator"],  # type: ignore[arg-type]
            peer_static=bytes.fromhex(session["responder_static_public"]), psk=psk, t0=hs["timestamp_ns"],
            started=session["times"]["session_start_s"],
        )  # fmt: skip
        ours.clock = lambda: float(session["times"]["rekey_at_s"])
        ours.fresh = [(inputs[f"initiator_ephemeral_{i}"], inputs[f"initiator_kem_seed_{i}"]) for i in (1, 2)]
    else:
        _, send_cs, receive_cs, h0 = first[1]
        ours = Session(
            sock, (send_cs, receive_cs, h0), initiator=False, suite=suite, static=statics["responder"],  # type: ignore[arg-type]
            peer_static=bytes.fromhex(session["initiator_static_public"]), psk=psk, t0=hs["timestamp_ns"],
        )  # fmt: skip
        ours.fresh_answers = answers[1:]
    replay(ours, session["records"], role, sock)
    assert ours.handshake_hash.hex() == rekeys[-1]["handshake_hash"]
    digests = inputs["initiator_key_digest"], inputs["responder_key_digest"]
    assert (
        wire.chain_start(*digests, profile).hex() == session["line"]["chain_start"]["initiator_to_responder"]
    )


@pytest.mark.parametrize("profile", ["standard", "cnsa2"])
def test_chain_heads(profile: str) -> None:
    chain = load("linemsg.json")["chains"][profile]
    head = bytes.fromhex(chain["H0"])
    for n, entry in enumerate(chain["entries"], start=1):
        f = entry["fields"]
        fields: list[wire.Value] = [
            f["seq"], bytes.fromhex(f["id"]), f["kind"], f["precedence"], f["created_ms"],
            bytes.fromhex(f["ref"]), bytes.fromhex(f["body"]),
        ]  # fmt: skip
        assert wire.pack(fields).hex() == entry["hashed_fields_msgpack"]
        head = wire.chain_next(head, fields, profile)
        assert head.hex() == entry[f"H{n}"]
