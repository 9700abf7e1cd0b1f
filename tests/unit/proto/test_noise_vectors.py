"""Third-party Noise test vectors against :mod:`hotline.proto.noise`.

Two independent sets (provenance in ``tests/vectors/noise/README.md``):

- ``cacophony.txt`` from the Haskell implementation: every pattern of Noise rev 34 §7 with the
  ``pskN`` modifiers, a ``handshake_hash`` per vector;
- ``snow-snow.txt`` from the Rust implementation: the same patterns plus multi-PSK names such as
  ``IKpsk0+psk2``; it carries no ``handshake_hash``, so those vectors check messages only.

We collect every vector whose primitives we implement (DH 25519, ChaChaPoly or AESGCM, any of our
four hashes). The others (448) are not collected, but we do not let a parse failure hide a vector:
the filter looks at the primitives only, so a pattern our parser rejects fails here. The count of
vectors run is checked (and printed) per suite, i.e. per ``<cipher>_<hash>``, so ``AESGCM_SHA512``
(the ``cnsa2`` profile's) cannot drop out unnoticed.

Both sets use the same convention: messages alternate initiator/responder, and transport messages
after Split() continue the alternation, except in one-way patterns where only the initiator sends.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from hotline.crypto.hashing import HASH_LEN
from hotline.crypto.x25519 import X25519PrivateKey, X25519PublicKey
from hotline.proto.noise import HandshakeState, NoiseProtocol
from tests.support.vectors import load_json

SOURCES = ("cacophony.txt", "snow-snow.txt")

#: What each source yields today. A loader or filter regression must not silently shrink these.
MINIMUM_COUNTS: dict[str, int] = {"cacophony.txt": 472, "snow-snow.txt": 408}
#: Vectors per suite (``<cipher>_<hash>``) in each source: 59 patterns in cacophony, 51 in snow.
MINIMUM_PER_SUITE: dict[str, int] = {"cacophony.txt": 59, "snow-snow.txt": 51}
SUITES = tuple(
    f"{c}_{h}" for c in ("ChaChaPoly", "AESGCM") for h in ("BLAKE2s", "SHA256", "BLAKE2b", "SHA512")
)
MINIMUM_PER_PATTERN: dict[str, dict[str, int]] = {
    "cacophony.txt": {"IK": 4, "IKpsk2": 4, "XX": 4},
    "snow-snow.txt": {"IK": 4, "IKpsk0+psk2": 4, "XX": 4},
}


def _has_supported_primitives(protocol_name: str) -> bool:
    # Only the primitives decide collection; the pattern must then parse (or the test fails).
    _, _, dh, cipher, hash_name = protocol_name.split("_")
    return dh == "25519" and cipher in ("ChaChaPoly", "AESGCM") and hash_name in HASH_LEN


def _collect() -> dict[str, list[tuple[int, dict[str, Any]]]]:
    collected: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for source in SOURCES:
        vectors = load_json("noise", source)["vectors"]
        collected[source] = [
            (index, vector)
            for index, vector in enumerate(vectors)
            if _has_supported_primitives(vector["protocol_name"])
        ]
    return collected


COLLECTED = _collect()
CASES = [
    pytest.param(vector, id=f"{source}:{index}:{vector['protocol_name']}")
    for source, items in COLLECTED.items()
    for index, vector in items
]


def _private(vector: dict[str, Any], field: str) -> X25519PrivateKey | None:
    value = vector.get(field)
    return X25519PrivateKey.from_bytes(bytes.fromhex(value)) if value else None


def _public(vector: dict[str, Any], field: str) -> X25519PublicKey | None:
    value = vector.get(field)
    return X25519PublicKey.from_bytes(bytes.fromhex(value)) if value else None


def _state(vector: dict[str, Any], protocol: NoiseProtocol, *, initiator: bool) -> HandshakeState:
    side = "init" if initiator else "resp"
    return HandshakeState(
        protocol,
        initiator=initiator,
        prologue=bytes.fromhex(vector[f"{side}_prologue"]),
        s=_private(vector, f"{side}_static"),
        e=_private(vector, f"{side}_ephemeral"),
        rs=_public(vector, f"{side}_remote_static"),
        re=_public(vector, f"{side}_remote_ephemeral"),
        psks=[bytes.fromhex(p) for p in vector.get(f"{side}_psks", [])],
    )


@pytest.mark.parametrize("vector", CASES)
def test_vector(vector: dict[str, Any]) -> None:
    protocol = NoiseProtocol.from_name(vector["protocol_name"])
    initiator = _state(vector, protocol, initiator=True)
    responder = _state(vector, protocol, initiator=False)
    messages = vector["messages"]
    handshake_len = len(protocol.pattern.messages)
    assert len(messages) > handshake_len, "a vector with no transport messages checks too little"

    # handshake: every message byte-exact, every payload delivered
    for i, message in enumerate(messages[:handshake_len]):
        sender, receiver = (initiator, responder) if i % 2 == 0 else (responder, initiator)
        payload = bytes.fromhex(message["payload"])
        ciphertext = sender.write_message(payload)
        assert ciphertext.hex() == message["ciphertext"], f"handshake message {i}"
        assert receiver.read_message(ciphertext) == payload, f"handshake message {i}"
    assert initiator.complete and responder.complete
    assert initiator.handshake_hash == responder.handshake_hash
    if "handshake_hash" in vector:
        assert initiator.handshake_hash.hex() == vector["handshake_hash"]

    # transport: continue the alternation, or only the initiator sends in a one-way pattern
    i_send, i_recv = initiator.split()
    r_send, r_recv = responder.split()
    for i, message in enumerate(messages[handshake_len:], start=handshake_len):
        from_initiator = protocol.pattern.one_way or i % 2 == 0
        send, recv = (i_send, r_recv) if from_initiator else (r_send, i_recv)
        payload = bytes.fromhex(message["payload"])
        ciphertext = send.encrypt_with_ad(b"", payload)
        assert ciphertext.hex() == message["ciphertext"], f"transport message {i}"
        assert recv.decrypt_with_ad(b"", ciphertext) == payload, f"transport message {i}"


def _suite_counts(source: str) -> Counter[str]:
    return Counter("_".join(vector["protocol_name"].split("_")[3:]) for _, vector in COLLECTED[source])


@pytest.mark.parametrize("source", SOURCES)
def test_vector_counts_per_suite(source: str) -> None:
    """Every cipher and hash pair runs its full share, AESGCM_SHA512 and AESGCM_SHA256 included."""
    counts = _suite_counts(source)
    print(f"{source}: " + ", ".join(f"{suite}={counts[suite]}" for suite in SUITES))
    assert set(counts) == set(SUITES)
    for suite in SUITES:
        assert counts[suite] >= MINIMUM_PER_SUITE[source], suite


def _pattern_counts(source: str) -> Counter[str]:
    return Counter(vector["protocol_name"].split("_")[1] for _, vector in COLLECTED[source])


@pytest.mark.parametrize("source", SOURCES)
def test_vector_counts_do_not_shrink(source: str) -> None:
    """A loader or filter regression must not quietly run fewer vectors (or none)."""
    counts = _pattern_counts(source)
    total = sum(counts.values())
    summary = ", ".join(f"{name}={counts[name]}" for name in MINIMUM_PER_PATTERN[source])
    print(f"{source}: {total} vectors run; {summary}; {len(counts)} patterns")
    assert total > 0
    assert total >= MINIMUM_COUNTS[source]
    for pattern, minimum in MINIMUM_PER_PATTERN[source].items():
        assert counts[pattern] >= minimum, pattern


def test_snow_has_no_handshake_hash() -> None:
    """Document the format difference the test above relies on: snow pins messages, not ``h``."""
    assert all("handshake_hash" not in v for _, v in COLLECTED["snow-snow.txt"])
    assert all("handshake_hash" in v for _, v in COLLECTED["cacophony.txt"])


@pytest.mark.parametrize(
    ("name", "initiator"),
    [("Noise_KK_25519_ChaChaPoly_BLAKE2s", True), ("Noise_KK_25519_ChaChaPoly_BLAKE2s", False)],
)
def test_pre_message_needs_our_own_static(name: str, initiator: bool) -> None:
    """The vectors always supply pre-message keys; without our own static we refuse to start,
    rather than hashing the peer's key in its place (both are 32 bytes, so nothing else would notice)."""
    peer = X25519PrivateKey.from_bytes(bytes([0x42]) * 32).public_key()
    with pytest.raises(ValueError):
        HandshakeState(NoiseProtocol.from_name(name), initiator=initiator, s=None, rs=peer)
