"""The session vectors of one line profile (``session-standard.json``, ``session-cnsa2.json``).

Two stations talk under one profile with every random input fixed (SHAKE-256 of a label, as every
conformance file): the first handshake, a short line session (``Hello`` each way, two TEXT entries,
receipts, an ACK, a line test), a timed rekey, then a rekey the responder asks for (``RekeyRequest``
once a key has carried its volume; its limit is set low for this). The file gives the handshake
byte by byte with its parts and keys, each rekey in both roles, every record on the wire with its
plaintext laid out, the padding rule for several sizes, the message stream's encodings and the line
messages with their chain heads. ``vec_session_standard`` and ``vec_session_cnsa2`` publish it;
``test_session.py`` holds our code to it.

The KEM and the session driving reuse the golden session's seams (:mod:`tests.support.goldsession`).
"""

from __future__ import annotations

from typing import Any

from hotline.crypto.x25519 import X25519PrivateKey
from hotline.proto import linemsg
from hotline.proto.constants import MAC_LEN, PADDING_BUCKETS, PROLOGUE
from hotline.proto.delivery import chain_next, chain_start
from hotline.proto.handshake import (
    InitiatorHandshake,
    PeerTable,
    ResponderHandshake,
    mac1_key,
    noise_init_len,
)
from hotline.proto.linemsg import Entry, Hello, Kind, Precedence, Receipt, TestProbe
from hotline.proto.messages import Close, Data, Ping, Pong, RekeyRequest, encode_message
from hotline.proto.noise import CipherState
from hotline.proto.records import RecordReader, RecordType, bucket_for, unpad
from hotline.proto.replay import TimestampGuard
from hotline.proto.session import Session, SessionConfig
from hotline.proto.stream import IncomingStream
from hotline.proto.suites import CNSA2, STANDARD, Suite
from tests.conformance.vectorfile import fixed, fixed_note
from tests.support.goldsession import WALL_NS, deterministic_kem

SUITES = {"standard": STANDARD, "cnsa2": CNSA2}
#: When the session starts and when the timed rekey runs (the session's monotonic seconds).
START = 100.0
REKEY_AT = 161.0
#: The responder's byte limit per key (§5.4's 2^30, lowered so that one long entry reaches it).
RESPONDER_REKEY_AFTER_BYTES = 1024
_TAG = 16


def label(profile: str, name: str) -> str:
    """The label of one fixed input of this profile's session."""
    return f"session/{profile}/{name}"


def inputs(profile: str) -> dict[str, tuple[str, int]]:
    """Every fixed input: name -> (label, size)."""
    names = {
        "initiator_static": 32,
        "responder_static": 32,
        "line_key": 32,
        "initiator_ephemeral_0": 32,
        "initiator_ephemeral_1": 32,
        "initiator_ephemeral_2": 32,
        "responder_ephemeral_0": 32,
        "responder_ephemeral_1": 32,
        "responder_ephemeral_2": 32,
        "initiator_kem_seed_0": 64,
        "initiator_kem_seed_1": 64,
        "initiator_kem_seed_2": 64,
        "responder_kem_m": 32,
        "initiator_key_digest": 32,
        "responder_key_digest": 32,
    }
    return {name: (label(profile, name.replace("_", " ")), size) for name, size in names.items()}


def _values(profile: str) -> dict[str, bytes]:
    return {name: fixed(lab, size) for name, (lab, size) in inputs(profile).items()}


def _x(raw: bytes) -> X25519PrivateKey:
    return X25519PrivateKey.from_bytes(raw)


def _pub(raw: bytes) -> bytes:
    return _x(raw).public_key().raw


def split_initiation(body: bytes, kem_public_len: int) -> dict[str, str]:
    """The parts of a handshake initiation (§3.2)."""
    sizes = [("e", 32), ("e1_encrypted", kem_public_len + _TAG), ("s_encrypted", 32 + _TAG)]
    sizes += [("payload_encrypted", 8 + _TAG), ("mac1", MAC_LEN)]
    return _split(body, sizes)


def split_response(body: bytes, ciphertext_len: int) -> dict[str, str]:
    """The parts of a handshake response (§3.2)."""
    return _split(body, [("e", 32), ("ekem1_encrypted", ciphertext_len + _TAG), ("payload_encrypted", _TAG)])


def _split(body: bytes, sizes: list[tuple[str, int]]) -> dict[str, str]:
    out, pos = {}, 0
    for name, size in sizes:
        out[name] = body[pos : pos + size].hex()
        pos += size
    assert pos == len(body)
    return out


def handshake(
    suite: Suite, v: dict[str, bytes], *, prologue: bytes, timestamp_ns: int, n: int
) -> dict[str, Any]:
    """One handshake (the first, ``n`` = 0, or a rekey) run by the two roles from fixed inputs."""
    profile = suite.profile
    responder_public = _pub(v["responder_static"])
    initiator = InitiatorHandshake(
        static=_x(v["initiator_static"]),
        responder_static=responder_public,
        line_key=v["line_key"],
        prologue=prologue,
        timestamp_ns=timestamp_ns,
        ephemeral=_x(v[f"initiator_ephemeral_{n}"]),
        kem=deterministic_kem(profile, [v[f"initiator_kem_seed_{n}"]], bytes(32)),
        suite=suite,
    )
    initiation = initiator.create_initiation()
    kem = suite.kem()
    responder = ResponderHandshake.consume_initiation(
        initiation,
        static=_x(v["responder_static"]),
        mac_key=mac1_key(responder_public, suite.mac_hash),
        peers=PeerTable({_pub(v["initiator_static"]): v["line_key"]}),
        guard=TimestampGuard(),
        prologue=prologue,
        ephemeral=_x(v[f"responder_ephemeral_{n}"]),
        kem=deterministic_kem(profile, [], v["responder_kem_m"]),
        suite=suite,
    )
    response, result_r = responder.create_response()
    result_i = initiator.consume_response(response)
    assert result_i.handshake_hash == result_r.handshake_hash
    noise_len = noise_init_len(kem)
    kem_public = deterministic_kem(profile, [v[f"initiator_kem_seed_{n}"]], bytes(32)).generate()[1]
    # what `ekem1` carries, in the clear: a library that cannot encapsulate from a fixed `m` can
    # still replay the responder from these
    kem_secret, kem_ciphertext = deterministic_kem(profile, [], v["responder_kem_m"]).encapsulate(kem_public)
    return {
        "prologue": prologue.hex(),
        "timestamp_ns": timestamp_ns,
        "initiator_ephemeral_public": _pub(v[f"initiator_ephemeral_{n}"]).hex(),
        "initiator_kem_public": kem_public.hex(),
        "responder_ephemeral_public": _pub(v[f"responder_ephemeral_{n}"]).hex(),
        "kem_ciphertext": bytes(kem_ciphertext).hex(),
        "kem_shared_secret": bytes(kem_secret).hex(),
        "initiation": initiation.hex(),
        "initiation_parts": split_initiation(initiation, kem.public_key_len),
        "mac1_input": {"from": 0, "to": noise_len},
        "response": response.hex(),
        "response_parts": split_response(response, kem.ciphertext_len),
        "handshake_hash": result_i.handshake_hash.hex(),
        "transport_keys": {
            "initiator_to_responder": (result_i.send.key or b"").hex(),
            "responder_to_initiator": (result_i.receive.key or b"").hex(),
        },
    }


class _Run:
    """The two sessions and every record they put on the wire, step by step."""

    def __init__(self, suite: Suite, v: dict[str, bytes]) -> None:
        profile = suite.profile

        def ephemerals(side: str) -> Any:
            return iter([_x(v[f"{side}_ephemeral_{n}"]) for n in range(3)]).__next__

        kem_i = deterministic_kem(profile, [v[f"initiator_kem_seed_{n}"] for n in range(3)], bytes(32))
        kem_r = deterministic_kem(profile, [], v["responder_kem_m"])
        common: dict[str, Any] = {"rekey_after_time": 60.0, "keepalive_interval": 1000.0, "suite": suite}
        config_i = SessionConfig(
            static=_x(v["initiator_static"]), kem=kem_i, new_ephemeral=ephemerals("initiator"), **common
        )
        config_r = SessionConfig(
            static=_x(v["responder_static"]),
            kem=kem_r,
            new_ephemeral=ephemerals("responder"),
            rekey_after_bytes=RESPONDER_REKEY_AFTER_BYTES,
            **common,
        )
        self.now = START
        self.sides = {
            "initiator": Session.initiator(
                config_i,
                peer_static=_pub(v["responder_static"]),
                line_key=v["line_key"],
                now=START,
                wall_time_ns=WALL_NS,
            ),
            "responder": Session.responder(
                config_r,
                peers=PeerTable({_pub(v["initiator_static"]): v["line_key"]}),
                guard=TimestampGuard(),
                now=START,
            ),
        }
        self.records: list[dict[str, Any]] = []
        self._readers = {side: RecordReader() for side in self.sides}

    def exchange(self, step: str) -> None:
        """Move bytes both ways until both sides are quiet, noting each record under ``step``."""
        for _ in range(10):
            moved = False
            for name, other in (("initiator", "responder"), ("responder", "initiator")):
                data = bytes(self.sides[name].data_to_send())
                if not data:
                    continue
                moved = True
                reader = self._readers[name]
                reader.feed(data)
                while (record := reader.next_record()) is not None:
                    kind, body = record
                    self.records.append({"step": step, "from": name, "type": kind, "body": bytes(body)})
                self.sides[other].receive_data(data, self.now)
            if not moved:
                return

    def send(self, side: str, message: linemsg.LineMessage, step: str, *, wait: bool = False) -> None:
        """Send ``message`` from ``side``; unless ``wait``, exchange at once (else it shares a record
        with what is sent next)."""
        self.sides[side].send_data(linemsg.encode(message), self.now)
        if not wait:
            self.exchange(step)


def _entry(
    head: bytes,
    suite: Suite,
    *,
    seq: int,
    id: bytes,
    kind: Kind,
    precedence: Precedence,
    ref: bytes,
    body: bytes,
) -> Entry:
    created_ms = WALL_NS // 10**6 + seq
    chain = chain_next(
        head,
        seq=seq,
        id=id,
        kind=kind,
        precedence=precedence,
        created_ms=created_ms,
        ref=ref,
        body=body,
        suite=suite,
    )
    return Entry(seq, id, kind, precedence, created_ms, ref, body, chain)


def _line_session(run: _Run, suite: Suite, v: dict[str, bytes]) -> list[dict[str, Any]]:
    """Hello each way, two TEXT entries, receipts, an ACK, a line test: each line message sent."""
    h0_ir = chain_start(v["initiator_key_digest"], v["responder_key_digest"], suite)
    h0_ri = chain_start(v["responder_key_digest"], v["initiator_key_digest"], suite)
    ids = {name: fixed(label(suite.profile, f"id {name}"), linemsg.MESSAGE_ID_LEN) for name in _IDS}
    steps: list[dict[str, Any]] = []

    def send(side: str, step: str, message: linemsg.LineMessage, *, wait: bool = False) -> None:
        run.send(side, message, step, wait=wait)
        encoded = linemsg.encode(message)
        steps.append(
            {
                "step": step,
                "from": side,
                "line_message": encoded.hex(),
                "data_message": encode_message(Data(encoded)).hex(),
            }
        )

    send("initiator", "hello from the initiator", Hello(0, h0_ri, 0))
    send("responder", "hello from the responder", Hello(0, h0_ir, 0))
    text = dict(kind=Kind.TEXT, precedence=Precedence.ROUTINE, ref=b"")
    e1 = _entry(h0_ir, suite, seq=1, id=ids["text 1"], body=b"Conformance text one.", **text)  # type: ignore[arg-type]
    send("initiator", "TEXT entry 1", e1)
    e2 = _entry(e1.chain, suite, seq=2, id=ids["text 2"], body="Text two, é ü.".encode(), **text)  # type: ignore[arg-type]
    send("initiator", "TEXT entry 2", e2)
    send("responder", "receipt for entries 1 and 2", Receipt(2, e2.chain))
    ack = _entry(
        h0_ri,
        suite,
        seq=1,
        id=ids["ack"],
        kind=Kind.ACK,
        precedence=Precedence.IMMEDIATE,
        ref=e1.id,
        body=b"",
    )
    send("responder", "ACK of entry 1", ack)
    send("initiator", "receipt for the ACK", Receipt(1, ack.chain))
    probe = linemsg.encode(TestProbe(1, ack.chain))
    test = _entry(
        e2.chain,
        suite,
        seq=3,
        id=ids["test"],
        kind=Kind.TEST,
        precedence=Precedence.FLASH,
        ref=b"",
        body=probe,
    )
    send("initiator", "TEST entry", test)
    reply_body = linemsg.encode(TestProbe(test.seq, test.chain))
    reply = _entry(
        ack.chain,
        suite,
        seq=2,
        id=ids["test reply"],
        kind=Kind.TEST_REPLY,
        precedence=Precedence.FLASH,
        ref=test.id,
        body=reply_body,
    )
    send("responder", "TEST_REPLY entry", reply)
    send("initiator", "receipt for the TEST_REPLY", Receipt(2, reply.chain))
    send("responder", "receipt for the TEST", Receipt(3, test.chain))
    for step in steps:
        if step["step"] in ("TEST entry", "TEST_REPLY entry"):
            step["test_probe"] = (probe if step["step"] == "TEST entry" else reply_body).hex()
    run.now = REKEY_AT
    for side in ("initiator", "responder"):
        run.sides[side].handle_timer(REKEY_AT)
    run.exchange("timed rekey")
    after = _entry(test.chain, suite, seq=4, id=ids["after rekey"], body=b"After the rekey.", **text)  # type: ignore[arg-type]
    send("initiator", "TEXT entry 4, after the rekey", after)
    send("responder", "receipt for entry 4", Receipt(4, after.chain))
    long_body = b"A long entry: its record takes the responder's key past its byte limit. " * 12
    long = _entry(after.chain, suite, seq=5, id=ids["long"], body=long_body, **text)  # type: ignore[arg-type]
    send("initiator", "TEXT entry 5 (long): the responder asks for a rekey", long)
    send("responder", "receipt for entry 5", Receipt(5, long.chain))
    last = _entry(long.chain, suite, seq=6, id=ids["last"], body=b"After the second rekey.", **text)  # type: ignore[arg-type]
    send("initiator", "TEXT entry 6, after the second rekey", last)
    send("responder", "receipt for entry 6", Receipt(6, last.chain))
    # two messages queued together share one record of the stream (§5.3)
    seven = _entry(last.chain, suite, seq=7, id=ids["seven"], body=b"Seven.", **text)  # type: ignore[arg-type]
    eight = _entry(seven.chain, suite, seq=8, id=ids["eight"], body=b"Eight.", **text)  # type: ignore[arg-type]
    send("initiator", "TEXT entries 7 and 8, in one record", seven, wait=True)
    send("initiator", "TEXT entries 7 and 8, in one record", eight)
    send("responder", "receipt for entries 7 and 8", Receipt(8, eight.chain))
    return steps


_IDS = ("text 1", "text 2", "ack", "test", "test reply", "after rekey", "long", "last", "seven", "eight")


def _records(run: _Run, suite: Suite, keys: dict[str, list[bytes]]) -> list[dict[str, Any]]:
    """Every record, and for transport records the plaintext as laid out before sealing.

    ``keys``: per sending side, its key of each epoch in order; a record's key phase that differs
    from the side's previous record's starts the next epoch (§5.4)."""
    ciphers = {side: [CipherState(key, suite.aead) for key in side_keys] for side, side_keys in keys.items()}
    epochs = {side: (0, 0) for side in keys}  # (epoch index, its phase)
    streams = {side: IncomingStream() for side in run.sides}
    out = []
    for record in run.records:
        body, kind = record["body"], record["type"]
        wire = (len(body) + 1).to_bytes(2, "big") + bytes([kind]) + body
        row: dict[str, Any] = {
            "step": record["step"],
            "from": record["from"],
            "type": kind,
            "record": wire.hex(),
        }
        if kind in (RecordType.TRANSPORT_PHASE0, RecordType.TRANSPORT_PHASE1):
            phase = kind - RecordType.TRANSPORT_PHASE0
            epoch, current = epochs[record["from"]]
            if phase != current:
                epoch, current = epoch + 1, phase
                epochs[record["from"]] = (epoch, current)
            cipher = ciphers[record["from"]][epoch]
            row["key_phase"] = phase
            row["epoch"] = epoch + 1
            row["nonce_counter"] = cipher.n
            plaintext = cipher.decrypt_with_ad(bytes([kind]), body)
            content_kind, content = unpad(plaintext)
            row["plaintext"] = plaintext.hex()
            row["plaintext_layout"] = {
                "kind": content_kind,
                "content_len": len(content),
                "content": bytes(content).hex(),
                "zero_padding": len(plaintext) - 3 - len(content),
            }
            messages = streams[record["from"]].feed(bytes(content))
            row["messages_completed"] = [encode_message(m).hex() for m in messages]
        out.append(row)
    return out


def _padding() -> list[dict[str, int]]:
    return [
        {"content_len": n, "plaintext_len": bucket_for(3 + n)}
        for n in (0, 1, 61, 62, 125, 126, 1000, 8189, 8190, 12285, 40000, 65515)
    ]


def _stream_examples() -> list[dict[str, str]]:
    examples = [
        ("Data", Data(b"Conformance data.")),
        ("Ping", Ping(1)),
        ("Pong", Pong(1)),
        ("Ping, a large id", Ping(2**64 - 1)),
        ("RekeyRequest", RekeyRequest()),
        ("Close", Close(0, "operator closed the line")),
    ]
    out = []
    for name, message in examples:
        encoded = encode_message(message)
        frame = len(encoded).to_bytes(4, "big") + encoded
        out.append({"message": name, "msgpack": encoded.hex(), "frame": frame.hex()})
    return out


def build(profile: str) -> dict[str, Any]:
    """The content of ``session-<profile>.json``."""
    suite = SUITES[profile]
    v = _values(profile)
    first = handshake(suite, v, prologue=PROLOGUE, timestamp_ns=WALL_NS, n=0)
    run = _Run(suite, v)
    run.exchange("handshake and key confirmation")
    assert run.records[0]["body"].hex() == first["initiation"]
    assert run.records[1]["body"].hex() == first["response"]
    steps = _line_session(run, suite, v)
    # both rekeys run at REKEY_AT: the second is dated one nanosecond after the first (§3.3)
    timed_ts = WALL_NS + int((REKEY_AT - START) * 1e9)
    rekeys, previous = [], first
    for n, stamp in ((1, timed_ts), (2, timed_ts + 1)):
        prologue = PROLOGUE + b" rekey " + bytes.fromhex(previous["handshake_hash"])
        previous = handshake(suite, v, prologue=prologue, timestamp_ns=stamp, n=n)
        rekeys.append(previous)
    assert run.sides["initiator"].handshake_hash == bytes.fromhex(previous["handshake_hash"])
    assert run.sides["initiator"].epoch == 3
    keys = {
        side: [bytes.fromhex(hs["transport_keys"][direction]) for hs in (first, *rekeys)]
        for side, direction in (
            ("initiator", "initiator_to_responder"),
            ("responder", "responder_to_initiator"),
        )
    }
    records = _records(run, suite, keys)
    request = encode_message(RekeyRequest()).hex()
    for n, rekey in enumerate(rekeys, 1):
        init_msg = encode_message_hex("RekeyInit", rekey["initiation"])
        resp_msg = encode_message_hex("RekeyResponse", rekey["response"])
        carried = [r for r in records if init_msg in r.get("messages_completed", ())]
        answered = [r for r in records if resp_msg in r.get("messages_completed", ())]
        assert carried and answered, "the rekey's messages are on the wire"
        rekey["rekey_init_message"] = init_msg
        rekey["rekey_response_message"] = resp_msg
        if n == 1:
            rekey["started_by"] = "the initiator (the station that dialled), its keys being 60 s old"
        else:
            asked = [r for r in records if request in r.get("messages_completed", ())]
            assert len(asked) == 1 and asked[0]["from"] == "responder"
            rekey["started_by"] = (
                f"the initiator, on the responder's RekeyRequest (its key had carried "
                f"{RESPONDER_REKEY_AFTER_BYTES} bytes)"
            )
        rekey["answered_by"] = "the responder"
    v_pub = {name: _pub(v[name]).hex() for name in ("initiator_static", "responder_static")}
    return {
        "about": (
            f"One session under the {profile} line profile from fixed inputs: the first handshake "
            "part by part (§3), the transport keys, two rekeys (§5.4: one on the initiator's timer, one "
            "the responder asks for), each in both roles, every record "
            "on the wire with its plaintext (§5.1, §5.2), the message stream (§5.3) and a short line "
            "session (§10): Hello each way, two TEXT entries, receipts, an ACK and a line test."
        ),
        "inputs": {
            name: {"label": fixed_note(lab), "hex": v[name].hex()}
            for name, (lab, _) in inputs(profile).items()
        },
        "profile": profile,
        "protocol_name": suite.protocol_name,
        "initiator_static_public": v_pub["initiator_static"],
        "responder_static_public": v_pub["responder_static"],
        "mac1_key": mac1_key(bytes.fromhex(v_pub["responder_static"]), suite.mac_hash).hex(),
        "times": {
            "session_start_s": START,
            "rekey_at_s": REKEY_AT,
            "rekey_after_time_s": 60.0,
            "responder_rekey_after_bytes": RESPONDER_REKEY_AFTER_BYTES,
            "wall_clock_at_start_ns": WALL_NS,
            "note": (
                "a rekey's timestamp is the first initiation's plus the session's monotonic time "
                "since it in nanoseconds, and at least one more than the previous one (§3.3)"
            ),
        },
        "handshake": first,
        "rekeys": rekeys,
        "padding": {"buckets": list(PADDING_BUCKETS), "examples": _padding()},
        "message_stream": _stream_examples(),
        "line": {
            "chain_start": {
                "initiator_to_responder": chain_start(
                    v["initiator_key_digest"], v["responder_key_digest"], suite
                ).hex(),
                "responder_to_initiator": chain_start(
                    v["responder_key_digest"], v["initiator_key_digest"], suite
                ).hex(),
            },
            "messages": steps,
        },
        "records": records,
    }


def encode_message_hex(name: str, handshake_hex: str) -> str:
    """The msgpack of ``RekeyInit`` or ``RekeyResponse`` holding ``handshake_hex``."""
    from hotline.proto.messages import RekeyInit, RekeyResponse

    cls = RekeyInit if name == "RekeyInit" else RekeyResponse
    return encode_message(cls(bytes.fromhex(handshake_hex))).hex()
