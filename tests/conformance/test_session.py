"""Our code against ``session-standard.json`` and ``session-cnsa2.json`` (docs/protocol.md §3, §5, §10).

Every test reads only the file: from its fixed inputs our handshake makes the same initiation, our
responder answers it with the same response, the keys open every record to the plaintext given, the
plaintexts unpad and reassemble to the messages given, and every line message decodes and encodes
again byte for byte, its chain head recomputed.
"""

from __future__ import annotations

from typing import Any

import pytest

from hotline.crypto.mlkem import MLKEM768PrivateKey, MLKEM1024PrivateKey
from hotline.crypto.x25519 import X25519PrivateKey
from hotline.proto import linemsg
from hotline.proto.delivery import chain_start, entry_chain
from hotline.proto.handshake import (
    HandshakeFailed,
    InitiatorHandshake,
    PeerTable,
    ResponderHandshake,
    mac1,
    mac1_key,
)
from hotline.proto.messages import Data, decode_message, encode_message
from hotline.proto.noise import CipherState
from hotline.proto.records import ContentKind, bucket_for, unpad
from hotline.proto.replay import TimestampGuard
from hotline.proto.stream import IncomingStream
from hotline.proto.suites import CNSA2, STANDARD, Suite
from tests.conformance.vectorfile import load
from tests.support.goldsession import deterministic_kem

FILES = {"standard": "session-standard.json", "cnsa2": "session-cnsa2.json"}
SUITES = {"standard": STANDARD, "cnsa2": CNSA2}


@pytest.fixture(params=sorted(FILES), scope="module")
def vectors(request: pytest.FixtureRequest) -> dict[str, Any]:
    data: dict[str, Any] = load(FILES[request.param])
    return data


def _in(v: dict[str, Any], name: str) -> bytes:
    return bytes.fromhex(v["inputs"][name]["hex"])


def _key(v: dict[str, Any], name: str) -> X25519PrivateKey:
    return X25519PrivateKey.from_bytes(_in(v, name))


def _suite(v: dict[str, Any]) -> Suite:
    suite = SUITES[v["profile"]]
    assert suite.protocol_name == v["protocol_name"]
    return suite


def _handshakes(v: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    return list(enumerate([v["handshake"], *v["rekeys"]]))


def test_static_keys_and_mac1_key(vectors: dict[str, Any]) -> None:
    v, suite = vectors, _suite(vectors)
    responder = _key(v, "responder_static").public_key().raw
    assert _key(v, "initiator_static").public_key().raw.hex() == v["initiator_static_public"]
    assert responder.hex() == v["responder_static_public"]
    assert mac1_key(responder, suite.mac_hash).hex() == v["mac1_key"]


def test_initiator_makes_the_same_initiations(vectors: dict[str, Any]) -> None:
    v, suite = vectors, _suite(vectors)
    for n, hs in _handshakes(v):
        initiator = InitiatorHandshake(
            static=_key(v, "initiator_static"),
            responder_static=bytes.fromhex(v["responder_static_public"]),
            line_key=_in(v, "line_key"),
            prologue=bytes.fromhex(hs["prologue"]),
            timestamp_ns=hs["timestamp_ns"],
            ephemeral=_key(v, f"initiator_ephemeral_{n}"),
            kem=deterministic_kem(v["profile"], [_in(v, f"initiator_kem_seed_{n}")], bytes(32)),
            suite=suite,
        )
        initiation = initiator.create_initiation()
        assert initiation.hex() == hs["initiation"]
        assert "".join(hs["initiation_parts"].values()) == hs["initiation"]
        assert hs["initiation_parts"]["e"] == hs["initiator_ephemeral_public"]
        result = initiator.consume_response(bytes.fromhex(hs["response"]))
        assert result.handshake_hash.hex() == hs["handshake_hash"]
        assert (result.send.key or b"").hex() == hs["transport_keys"]["initiator_to_responder"]
        assert (result.receive.key or b"").hex() == hs["transport_keys"]["responder_to_initiator"]


def test_mac1_covers_the_stated_bytes(vectors: dict[str, Any]) -> None:
    v, suite = vectors, _suite(vectors)
    for _, hs in _handshakes(v):
        initiation = bytes.fromhex(hs["initiation"])
        span = hs["mac1_input"]
        assert span["to"] == len(initiation) - 16 and span["from"] == 0
        tag = mac1(bytes.fromhex(v["mac1_key"]), initiation[span["from"] : span["to"]], suite.mac_hash)
        assert tag.hex() == hs["initiation_parts"]["mac1"]


def _respond(v: dict[str, Any], n: int, hs: dict[str, Any], initiation: bytes) -> tuple[bytes, Any]:
    suite = _suite(v)
    responder = ResponderHandshake.consume_initiation(
        initiation,
        static=_key(v, "responder_static"),
        mac_key=bytes.fromhex(v["mac1_key"]),
        peers=PeerTable({bytes.fromhex(v["initiator_static_public"]): _in(v, "line_key")}),
        guard=TimestampGuard(),
        prologue=bytes.fromhex(hs["prologue"]),
        ephemeral=_key(v, f"responder_ephemeral_{n}"),
        kem=deterministic_kem(v["profile"], [], _in(v, "responder_kem_m")),
        suite=suite,
    )
    assert responder.timestamp_ns == hs["timestamp_ns"]
    return responder.create_response()


def test_responder_answers_with_the_same_response(vectors: dict[str, Any]) -> None:
    v = vectors
    for n, hs in _handshakes(v):
        response, result = _respond(v, n, hs, bytes.fromhex(hs["initiation"]))
        assert response.hex() == hs["response"]
        assert "".join(hs["response_parts"].values()) == hs["response"]
        assert result.handshake_hash.hex() == hs["handshake_hash"]
        assert (result.receive.key or b"").hex() == hs["transport_keys"]["initiator_to_responder"]


def test_the_kem_values_given_in_the_clear_decapsulate(vectors: dict[str, Any]) -> None:
    # the initiator's KEM key from its seed, decapsulating with the real KEM, not the test one
    kem = {"standard": MLKEM768PrivateKey, "cnsa2": MLKEM1024PrivateKey}[vectors["profile"]]
    for n, hs in _handshakes(vectors):
        private = kem.from_seed(_in(vectors, f"initiator_kem_seed_{n}"))
        assert private.public_key().raw.hex() == hs["initiator_kem_public"]
        secret = private.decapsulate(bytes.fromhex(hs["kem_ciphertext"]))
        assert secret.hex() == hs["kem_shared_secret"]


def test_a_changed_initiation_byte_is_refused(vectors: dict[str, Any]) -> None:
    v = vectors
    hs = v["handshake"]
    initiation = bytearray.fromhex(hs["initiation"])
    initiation[40] ^= 1  # inside the encrypted e1: mac1 no longer checks
    with pytest.raises(HandshakeFailed):
        _respond(v, 0, hs, bytes(initiation))


def test_rekeys_bind_the_handshake_before_and_are_dated_after_it(vectors: dict[str, Any]) -> None:
    v = vectors
    assert bytes.fromhex(v["handshake"]["prologue"]) == b"hotline/1"
    elapsed = v["times"]["rekey_at_s"] - v["times"]["session_start_s"]
    last = v["handshake"]["timestamp_ns"]
    previous = v["handshake"]
    for rekey in v["rekeys"]:
        assert bytes.fromhex(rekey["prologue"]) == b"hotline/1 rekey " + bytes.fromhex(
            previous["handshake_hash"]
        )
        # §3.3: t = max(t0 + elapsed, last + 1); both rekeys run at the same moment
        assert rekey["timestamp_ns"] == max(v["handshake"]["timestamp_ns"] + int(elapsed * 1e9), last + 1)
        last, previous = rekey["timestamp_ns"], rekey


def test_a_rekey_dated_no_later_than_the_last_is_refused(vectors: dict[str, Any]) -> None:
    v = vectors
    peer = bytes.fromhex(v["initiator_static_public"])
    second = v["rekeys"][1]
    # the session's own guard after the first rekey: its t is the greatest accepted
    guard = TimestampGuard({peer: v["rekeys"][0]["timestamp_ns"]})
    assert guard.admit(peer, second["timestamp_ns"])
    assert not TimestampGuard({peer: second["timestamp_ns"]}).admit(peer, second["timestamp_ns"])


def test_records_open_to_the_plaintexts_given(vectors: dict[str, Any]) -> None:
    v, suite = vectors, _suite(vectors)
    directions = {"initiator": "initiator_to_responder", "responder": "responder_to_initiator"}
    ciphers = {
        side: [
            CipherState(bytes.fromhex(hs["transport_keys"][direction]), suite.aead)
            for hs in (v["handshake"], *v["rekeys"])
        ]
        for side, direction in directions.items()
    }
    epochs = {side: 1 for side in directions}
    phases = {side: 0 for side in directions}
    streams = {side: IncomingStream() for side in ("initiator", "responder")}
    records = v["records"]
    assert records[0]["record"][6:] == v["handshake"]["initiation"]
    assert records[1]["record"][6:] == v["handshake"]["response"]
    opened = 0
    for row in records:
        wire = bytes.fromhex(row["record"])
        assert int.from_bytes(wire[:2], "big") == len(wire) - 2 and wire[2] == row["type"]
        if row["type"] not in (3, 4):
            continue
        side, phase = row["from"], row["type"] - 3
        if phase != phases[side]:  # the phase flips with each new key (§5.4)
            phases[side], epochs[side] = phase, epochs[side] + 1
        assert (row["key_phase"], row["epoch"]) == (phase, epochs[side])
        cipher = ciphers[side][epochs[side] - 1]
        assert cipher.n == row["nonce_counter"]
        plaintext = cipher.decrypt_with_ad(wire[2:3], wire[3:])
        assert plaintext.hex() == row["plaintext"]
        kind, content = unpad(plaintext)
        layout = row["plaintext_layout"]
        assert kind == layout["kind"] == ContentKind.STREAM
        assert bytes(content).hex() == layout["content"] and len(content) == layout["content_len"]
        assert layout["zero_padding"] == len(plaintext) - 3 - len(content)
        messages = streams[row["from"]].feed(bytes(content))
        assert [encode_message(m).hex() for m in messages] == row["messages_completed"]
        opened += 1
    assert opened == len(records) - 2


def test_padding_rule(vectors: dict[str, Any]) -> None:
    for example in vectors["padding"]["examples"]:
        assert bucket_for(3 + example["content_len"]) == example["plaintext_len"]
        assert example["plaintext_len"] in vectors["padding"]["buckets"]


def test_message_stream_encodings(vectors: dict[str, Any]) -> None:
    for example in vectors["message_stream"]:
        encoded = bytes.fromhex(example["msgpack"])
        assert encode_message(decode_message(encoded)) == encoded
        frame = bytes.fromhex(example["frame"])
        assert frame == len(encoded).to_bytes(4, "big") + encoded
        assert [encode_message(m) for m in IncomingStream().feed(frame)] == [encoded]


def test_line_messages_decode_encode_and_chain(vectors: dict[str, Any]) -> None:
    v, suite = vectors, _suite(vectors)
    digests = {side: _in(v, f"{side}_key_digest") for side in ("initiator", "responder")}
    other = {"initiator": "responder", "responder": "initiator"}
    heads = {side: chain_start(digests[side], digests[other[side]], suite) for side in digests}
    assert heads["initiator"].hex() == v["line"]["chain_start"]["initiator_to_responder"]
    assert heads["responder"].hex() == v["line"]["chain_start"]["responder_to_initiator"]
    starts = dict(heads)
    carried = {m for row in v["records"] for m in row.get("messages_completed", ())}
    kinds = []
    for step in v["line"]["messages"]:
        encoded = bytes.fromhex(step["line_message"])
        message = linemsg.decode(encoded)
        assert linemsg.encode(message) == encoded
        assert encode_message(Data(encoded)).hex() == step["data_message"] in carried
        side = step["from"]
        if isinstance(message, linemsg.Hello):
            assert message.received_head == starts[other[side]]  # nothing received yet: the peer's H0
        if isinstance(message, linemsg.Entry):
            heads[side] = entry_chain(heads[side], message, suite)
            assert heads[side] == message.chain
            kinds.append(message.kind)
            if message.kind in (linemsg.Kind.TEST, linemsg.Kind.TEST_REPLY):
                assert message.body.hex() == step["test_probe"]
                probe = linemsg.decode_probe(message.body)
                assert linemsg.encode(probe) == message.body
    assert kinds.count(linemsg.Kind.TEXT) == 7 and linemsg.Kind.ACK in kinds
    assert any(len(row.get("messages_completed", ())) == 2 for row in v["records"])


def test_the_second_rekey_was_asked_for_by_the_responder(vectors: dict[str, Any]) -> None:
    v = vectors
    request = encode_message(decode_message(bytes.fromhex("9105")))
    asked = [r for r in v["records"] if request.hex() in r.get("messages_completed", ())]
    assert [r["from"] for r in asked] == ["responder"]
    rekey_inits = [
        i
        for i, r in enumerate(v["records"])
        if v["rekeys"][1]["rekey_init_message"] in r.get("messages_completed", ())
    ]
    assert rekey_inits and rekey_inits[0] > v["records"].index(asked[0])
