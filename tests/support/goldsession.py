"""A whole session driven with every random input fixed, for the golden session files. Test-only.

:func:`run` makes two stations talk under one line profile: the first handshake, a message each
way, a timed rekey, a message after it, then the transcript chain of two entries, a call's key
exchange and a media packet each way. Every key, ephemeral, ML-KEM seed and encapsulation is fixed
(SHAKE-256 of a label; the KEM is kyber-py's with a fixed ``m``, as in ``tests/vectors/hfs``), so
the bytes on the wire are a function of the code alone. ``tests/vectors/hfs/generate_session.py``
writes them down; ``tests/unit/proto/test_session_suites.py`` runs this again and compares.

For ``standard`` it calls only what the session had before line profiles existed (no ``suite``
argument anywhere), so the same run on the code from before them gives the same file: that is how
the standard file was made, and why it proves the standard wire unchanged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

from kyber_py.ml_kem import ML_KEM_1024  # type: ignore[import-untyped]

from hotline.crypto.mlkem import Kem
from hotline.crypto.x25519 import X25519PrivateKey
from hotline.proto.call import Call
from hotline.proto.delivery import chain_next, chain_start
from hotline.proto.handshake import PeerTable
from hotline.proto.media import MediaOpener, MediaSealer
from hotline.proto.replay import TimestampGuard
from hotline.proto.session import Session, SessionConfig
from tests.support.kem import DeterministicMLKEM768

WALL_NS = 1_800_000_000 * 10**9


def fixed(profile: str, label: str, size: int) -> bytes:
    """SHAKE-256 of ``hotline golden session/<profile>/<label>``."""
    return hashlib.shake_256(f"hotline golden session/{profile}/{label}".encode()).digest(size)


class DeterministicMLKEM1024:
    """ML-KEM-1024 from fixed seeds and a fixed ``m`` (kyber-py). Never outside tests."""

    name = "MLKEM1024"
    public_key_len = 1568
    ciphertext_len = 1568

    def __init__(self, seeds: list[bytes], m: bytes) -> None:
        self._seeds, self.m = seeds, m

    def generate(self) -> tuple[bytes, bytes]:
        seed = self._seeds.pop(0)
        ek, _ = ML_KEM_1024.key_derive(seed)
        return seed, bytes(ek)

    def encapsulate(self, public_key: bytes) -> tuple[bytes, bytes]:
        secret, ciphertext = ML_KEM_1024._encaps_internal(bytes(public_key), self.m)
        return bytes(secret), bytes(ciphertext)

    def decapsulate(self, private_state: bytes, ciphertext: bytes) -> bytes:
        _, dk = ML_KEM_1024.key_derive(private_state)
        return bytes(ML_KEM_1024.decaps(dk, bytes(ciphertext)))


def deterministic_kem(profile: str, seeds: list[bytes], m: bytes) -> Kem:
    """The KEM of ``profile`` drawing its key pairs from ``seeds`` (64 bytes each, in order) and
    encapsulating with ``m`` (32 bytes) every time. Never outside tests."""
    if profile == "cnsa2":
        return DeterministicMLKEM1024(list(seeds), m)
    return DeterministicMLKEM768(seeds=list(seeds), m=m)


def _kem(profile: str, side: str) -> Kem:
    seeds = [fixed(profile, f"{side} kem seed {n}", 64) for n in range(8)]
    return deterministic_kem(profile, seeds, fixed(profile, f"{side} kem m", 32))


def _ephemerals(profile: str, side: str) -> Iterator[X25519PrivateKey]:
    n = 0
    while True:
        yield X25519PrivateKey.from_bytes(fixed(profile, f"{side} ephemeral {n}", 32))
        n += 1


def run(profile: str) -> dict[str, Any]:
    """Every byte of one deterministic session under ``profile`` (``standard`` or ``cnsa2``)."""
    extra: dict[str, Any] = {}
    if profile != "standard":
        from hotline.proto.suites import suite  # only where profiles exist

        extra = {"suite": suite(profile)}
    statics = {side: X25519PrivateKey.from_bytes(fixed(profile, f"{side} static", 32)) for side in "ir"}
    line_key = fixed(profile, "line key", 32)
    configs = {
        side: SessionConfig(
            static=statics[side],
            kem=_kem(profile, side),
            new_ephemeral=_ephemerals(profile, side).__next__,
            rekey_after_time=60.0,
            keepalive_interval=1000.0,
            **extra,
        )
        for side in "ir"
    }
    publics = {side: statics[side].public_key().raw for side in "ir"}
    now = 100.0
    initiator = Session.initiator(
        configs["i"], peer_static=publics["r"], line_key=line_key, now=now, wall_time_ns=WALL_NS
    )
    peers = PeerTable({publics["i"]: line_key})
    responder = Session.responder(configs["r"], peers=peers, guard=TimestampGuard(), now=now)
    wire: list[dict[str, str]] = []

    def exchange() -> None:
        for _ in range(10):
            moved = False
            for name, sender, receiver in (("i", initiator, responder), ("r", responder, initiator)):
                data = bytes(sender.data_to_send())
                if data:
                    wire.append({"from": name, "at": f"{now:g}", "bytes": data.hex()})
                    receiver.receive_data(data, now)
                    moved = True
            if not moved:
                return

    exchange()
    initiator.send_data(b"golden message from the initiator", now)
    responder.send_data(b"golden message from the responder", now)
    exchange()
    first_hash = initiator.handshake_hash
    now += 61.0  # a timed rekey
    initiator.handle_timer(now)
    responder.handle_timer(now)
    exchange()
    initiator.send_data(b"golden message after the rekey", now)
    exchange()
    assert initiator.epoch == responder.epoch == 2
    # the transcript chain
    head = chain_start(b"s" * 32, b"r" * 32, **extra)
    heads = [head.hex()]
    for seq in (1, 2):
        head = chain_next(
            head,
            seq=seq,
            id=bytes([seq]) * 16,
            kind=1,
            precedence=0,
            created_ms=1000 * seq,
            ref=b"",
            body=b"golden entry %d" % seq,
            **extra,
        )
        heads.append(head.hex())
    # a call: its exchange and one media packet each way
    assert first_hash is not None
    caller = Call.place(
        fixed(profile, "call id", 16),
        7,
        now,
        binding=first_hash,
        dh_secret=fixed(profile, "caller dh", 32),
        kem_seed=fixed(profile, "caller kem seed", 64),
        **extra,
    )
    call_wire = [m for m in caller.messages_to_send()]
    callee = Call.offered(
        call_wire[0],  # type: ignore[arg-type]
        9,
        now,
        binding=first_hash,
        dh_secret=fixed(profile, "callee dh", 32),
        kem=_kem(profile, "callee"),
        **extra,
    )
    for message in callee.messages_to_send():
        call_wire.append(message)
        caller.receive(message, now)  # type: ignore[arg-type]
    for message in caller.messages_to_send():
        call_wire.append(message)
        callee.receive(message, now)  # type: ignore[arg-type]
    keys = caller.keys
    assert keys is not None and keys == callee.keys
    aead = [keys.aead] if extra else []
    to_callee = MediaSealer(keys.sending(caller=True), 9, *aead).seal(b"golden speech to the callee")
    to_caller = MediaSealer(keys.sending(caller=False), 7, *aead).seal(b"golden speech to the caller")
    assert MediaOpener(keys.receiving(caller=False), 9, *aead).open(to_callee) is not None
    return {
        "profile": profile,
        "protocol_name": initiator.protocol_name,
        "handshake_hashes": [first_hash.hex(), (initiator.handshake_hash or b"").hex()],
        "wire": wire,
        "chain_heads": heads,
        "call": {
            "messages": [repr(m) for m in call_wire],
            "caller_to_callee": keys.caller_to_callee.hex(),
            "callee_to_caller": keys.callee_to_caller.hex(),
            "sas": list(keys.sas),
            "media": [to_callee.hex(), to_caller.hex()],
        },
    }
