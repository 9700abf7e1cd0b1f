"""The line profiles of :mod:`hotline.proto.suites` and a whole ``cnsa2`` handshake.

``cnsa2`` runs the same IKpsk2+hfs steps as ``standard`` (:mod:`hotline.proto.handshake`, with the
suite as a parameter) under ``Noise_IKpsk2+hfs_25519+MLKEM1024_AESGCM_SHA512``. What is checked here:
the two suites as data; a cnsa2 handshake end to end, with its message sizes and AES-256-GCM transport
keys; that a cnsa2 handshake makes no ChaCha20, BLAKE2 or ML-KEM-768 call at all (the primitives are
made to raise for the duration); that two ends of different profiles never complete; and that the
standard handshake is unchanged by the parameter (same sizes, same defaults).
"""

from __future__ import annotations

import pytest

from hotline.crypto.aead import AESGCM_256, AesGcmKey, CipherKey, aesgcm_nonce
from hotline.crypto.mlkem import MLKEM768, MLKEM1024, MLKEM1024PrivateKey
from hotline.crypto.x25519 import X25519PrivateKey
from hotline.proto.constants import PROTOCOL_NAME
from hotline.proto.handshake import (
    INIT_LEN,
    RESPONSE_LEN,
    HandshakeFailed,
    HandshakeResult,
    InitiatorHandshake,
    PeerTable,
    ResponderHandshake,
    init_len,
    mac1,
    mac1_key,
    response_len,
)
from hotline.proto.noise import MAX_NONCE, CipherState, HandshakeState, KemKeyPair, NoiseProtocol
from hotline.proto.replay import TimestampGuard
from hotline.proto.suites import CNSA2, DEFAULT_PROFILE, STANDARD, SUITES, Suite, suite, suite_of_protocol
from tests.support.vectors import load_json

CNSA2_NAME = "Noise_IKpsk2+hfs_25519+MLKEM1024_AESGCM_SHA512"
ALICE = X25519PrivateKey.from_bytes(bytes([1]) * 32)
BOB = X25519PrivateKey.from_bytes(bytes([2]) * 32)
LINE_KEY = bytes(range(32))

# -- the suites as data ------------------------------------------------------------------------------


def test_the_two_profiles() -> None:
    assert set(SUITES) == {"standard", "cnsa2"} and DEFAULT_PROFILE == "standard"
    assert STANDARD.protocol_name == PROTOCOL_NAME == "Noise_IKpsk2+hfs_25519+MLKEM768_ChaChaPoly_BLAKE2s"
    assert (STANDARD.kem_name, STANDARD.noise_hash, STANDARD.noise_aead.name) == (
        "MLKEM768",
        "BLAKE2s",
        "ChaChaPoly",
    )
    assert (STANDARD.record_aead, STANDARD.mac_hash, STANDARD.signature) == (
        "ChaChaPoly",
        "BLAKE2s",
        "Ed25519+ML-DSA-65",
    )
    assert CNSA2.protocol_name == CNSA2_NAME
    assert (CNSA2.kem_name, CNSA2.noise_hash, CNSA2.noise_aead.name) == ("MLKEM1024", "SHA512", "AESGCM")
    assert (CNSA2.record_aead, CNSA2.document_hash, CNSA2.mac_hash, CNSA2.signature) == (
        "AESGCM",
        "SHA384",
        "SHA384",
        "Ed25519+ML-DSA-87",
    )
    assert CNSA2.aead is AESGCM_256 and isinstance(CNSA2.kem(), MLKEM1024)
    assert isinstance(STANDARD.kem(), MLKEM768)


def test_lookup_by_profile_and_by_protocol_name() -> None:
    assert suite("standard") is STANDARD and suite("cnsa2") is CNSA2
    assert suite_of_protocol(CNSA2_NAME) is CNSA2 and suite_of_protocol(PROTOCOL_NAME) is STANDARD
    with pytest.raises(ValueError):
        suite("cnsa")
    with pytest.raises(ValueError):
        suite_of_protocol("Noise_IKpsk2+hfs_25519+MLKEM1024_ChaChaPoly_SHA512")


@pytest.mark.parametrize(
    "name",
    [
        "Noise_IKpsk2_25519_AESGCM_SHA512",  # no KEM: not a line handshake
        "Noise_XXhfs_25519+MLKEM1024_AESGCM_SHA512",  # another pattern
        "Noise_IKpsk2+hfs_448+MLKEM1024_AESGCM_SHA512",  # a DH we do not run
    ],
)
def test_a_suite_must_name_a_line_handshake(name: str) -> None:
    with pytest.raises(ValueError):
        Suite("cnsa2", name, "AESGCM", "SHA384", "SHA384", "Ed25519+ML-DSA-87", "SHA384")


def test_suites_are_frozen() -> None:
    with pytest.raises(AttributeError):
        CNSA2.record_aead = "ChaChaPoly"  # type: ignore[misc]


# -- a whole handshake under a suite -----------------------------------------------------------------


def _handshake(initiator_suite: Suite, responder_suite: Suite) -> tuple[HandshakeResult, HandshakeResult]:
    initiator = InitiatorHandshake(
        static=ALICE,
        responder_static=BOB.public_key().raw,
        line_key=LINE_KEY,
        prologue=b"hotline/1",
        timestamp_ns=1_700_000_000_000_000_000,
        suite=initiator_suite,
    )
    initiation = initiator.create_initiation()
    responder = ResponderHandshake.consume_initiation(
        initiation,
        static=BOB,
        mac_key=mac1_key(BOB.public_key().raw, responder_suite.mac_hash),
        peers=PeerTable({ALICE.public_key().raw: LINE_KEY}),
        guard=TimestampGuard(),
        prologue=b"hotline/1",
        suite=responder_suite,
    )
    response, r_result = responder.create_response()
    assert (len(initiation), len(response)) == (
        init_len(initiator_suite.kem()),
        response_len(responder_suite.kem()),
    )
    return initiator.consume_response(response), r_result


def test_a_cnsa2_handshake_end_to_end() -> None:
    i_result, r_result = _handshake(CNSA2, CNSA2)
    # 32 + (1568 + 16) + (32 + 16) + (8 + 16) + 16, and 32 + (1568 + 16) + 16
    assert (init_len(MLKEM1024()), response_len(MLKEM1024())) == (1704, 1632)
    assert i_result.handshake_hash == r_result.handshake_hash and len(i_result.handshake_hash) == 64
    assert r_result.peer_static == ALICE.public_key().raw
    for send, receive in ((i_result.send, r_result.receive), (r_result.send, i_result.receive)):
        assert send.aead is AESGCM_256 and receive.aead is AESGCM_256
        sealed = send.encrypt_with_ad(b"ad", b"over the line")
        # the transport key is an AES-256-GCM key, used with Noise's big-endian AESGCM nonce
        assert send.key is not None
        assert sealed == AesGcmKey(send.key).seal(aesgcm_nonce(0), b"ad", b"over the line")
        assert sealed != CipherKey(send.key).seal(aesgcm_nonce(0), b"ad", b"over the line")
        assert receive.decrypt_with_ad(b"ad", sealed) == b"over the line"


def test_the_standard_handshake_keeps_its_shape() -> None:
    assert (INIT_LEN, RESPONSE_LEN) == (1320, 1152) == (init_len(MLKEM768()), response_len(MLKEM768()))
    i_result, r_result = _handshake(STANDARD, STANDARD)
    assert i_result.handshake_hash == r_result.handshake_hash and len(i_result.handshake_hash) == 32
    assert i_result.send.aead.name == "ChaChaPoly"


@pytest.mark.parametrize(("ours", "theirs"), [(STANDARD, CNSA2), (CNSA2, STANDARD)])
def test_ends_of_different_profiles_never_complete(ours: Suite, theirs: Suite) -> None:
    with pytest.raises(HandshakeFailed):
        _handshake(ours, theirs)


def test_a_same_length_initiation_of_another_profile_fails_its_mac() -> None:
    """Even were the lengths equal, a cnsa2 responder checks HMAC-SHA-384, not keyed BLAKE2s."""
    body = bytes(init_len(MLKEM1024()) - 16)
    key = mac1_key(BOB.public_key().raw)
    with pytest.raises(HandshakeFailed, match="mac1"):
        ResponderHandshake.consume_initiation(
            body + mac1(key, body),
            static=BOB,
            mac_key=mac1_key(BOB.public_key().raw, "SHA384"),
            peers=PeerTable({ALICE.public_key().raw: LINE_KEY}),
            guard=TimestampGuard(),
            prologue=b"hotline/1",
            suite=CNSA2,
        )


# -- no standard-profile primitive runs in a cnsa2 handshake -----------------------------------------


@pytest.mark.usefixtures("standard_primitives_raise")
def test_a_cnsa2_handshake_makes_no_chacha_blake2_or_mlkem768_call() -> None:
    i_result, r_result = _handshake(CNSA2, CNSA2)
    assert r_result.receive.decrypt_with_ad(b"", i_result.send.encrypt_with_ad(b"", b"x")) == b"x"
    i_result.send.rekey()


@pytest.mark.usefixtures("standard_primitives_raise")
def test_the_guard_catches_a_standard_handshake() -> None:
    """The fixture (conftest.py) is not vacuous: the standard profile trips it at once."""
    with pytest.raises(AssertionError, match="standard-profile primitive"):
        _handshake(STANDARD, STANDARD)


# -- Noise pieces under AESGCM -----------------------------------------------------------------------


def test_aesgcm_rekey_is_the_spec_s() -> None:
    """Noise §4.2: REKEY(k) = ENCRYPT(k, 2^64-1, zerolen, zeros)[:32], with AESGCM's nonce encoding."""
    key = bytes(range(32, 64))
    state = CipherState(key, AESGCM_256)
    state.n = 7
    state.rekey()
    assert state.key == AesGcmKey(key).seal(aesgcm_nonce(MAX_NONCE), b"", bytes(32))[:32]
    assert state.n == 7


def test_an_injected_kem_must_be_the_protocol_s() -> None:
    with pytest.raises(ValueError):
        HandshakeState(
            NoiseProtocol.from_name(CNSA2_NAME), initiator=True, s=ALICE, rs=BOB.public_key(), kem=MLKEM768()
        )


# -- tampering under cnsa2 ---------------------------------------------------------------------------

#: Offsets of one byte in each field: initiation e, e1, s, payload, mac1; response e, ekem1, payload.
INIT_FIELDS = {"e": 0, "e1": 32 + 700, "s": 32 + 1584 + 10, "payload": 32 + 1584 + 48 + 3, "mac1": 1704 - 1}
RESPONSE_FIELDS = {"e": 5, "ekem1": 32 + 900, "payload": 1632 - 1}


def _cnsa2_initiator() -> InitiatorHandshake:
    return InitiatorHandshake(
        static=ALICE,
        responder_static=BOB.public_key().raw,
        line_key=LINE_KEY,
        prologue=b"hotline/1",
        timestamp_ns=5,
        suite=CNSA2,
    )


def _consume(initiation: bytes) -> ResponderHandshake:
    return ResponderHandshake.consume_initiation(
        initiation,
        static=BOB,
        mac_key=mac1_key(BOB.public_key().raw, CNSA2.mac_hash),
        peers=PeerTable({ALICE.public_key().raw: LINE_KEY}),
        guard=TimestampGuard(),
        prologue=b"hotline/1",
        suite=CNSA2,
    )


@pytest.mark.parametrize("field", sorted(INIT_FIELDS))
def test_a_flipped_bit_in_a_cnsa2_initiation_fails(field: str) -> None:
    initiation = bytearray(_cnsa2_initiator().create_initiation())
    initiation[INIT_FIELDS[field]] ^= 0x10
    with pytest.raises(HandshakeFailed):
        _consume(bytes(initiation))


@pytest.mark.parametrize("field", sorted(RESPONSE_FIELDS))
def test_a_flipped_bit_in_a_cnsa2_response_fails(field: str) -> None:
    initiator = _cnsa2_initiator()
    response, _ = _consume(initiator.create_initiation()).create_response()
    altered = bytearray(response)
    altered[RESPONSE_FIELDS[field]] ^= 0x10
    with pytest.raises(HandshakeFailed):
        initiator.consume_response(bytes(altered))


# -- the pinned cnsa2 transcript (tests/vectors/hfs/golden-cnsa2.json) -------------------------------


class _PinnedEncapsulation:
    """The responder's KEM in a replay: hands back the transcript's (secret, ciphertext) for the
    transcript's key only. Decapsulation stays pyca's, on the initiator's side."""

    name = "MLKEM1024"
    public_key_len = 1568
    ciphertext_len = 1568

    def __init__(self, public: bytes, secret: bytes, ciphertext: bytes) -> None:
        self._public, self._secret, self._ciphertext = public, secret, ciphertext

    def generate(self) -> tuple[bytes, bytes]:
        raise AssertionError("the responder never generates a KEM key")

    def encapsulate(self, public_key: bytes) -> tuple[bytes, bytes]:
        assert public_key == self._public
        return self._secret, self._ciphertext

    def decapsulate(self, private_state: bytes, ciphertext: bytes) -> bytes:
        raise AssertionError("the responder never decapsulates")


def test_the_pinned_cnsa2_transcript() -> None:
    golden = load_json("hfs", "golden-cnsa2.json")
    assert "generate.py" in golden["source"] and "ML-KEM-1024" in golden["kem"]
    [vector] = golden["vectors"]
    assert vector["protocol_name"] == CNSA2.protocol_name
    protocol = CNSA2.noise
    seed, public = bytes.fromhex(vector["init_kem_seed"]), bytes.fromhex(vector["init_kem_public"])
    secret, ciphertext = bytes.fromhex(vector["kem_shared_secret"]), bytes.fromhex(vector["kem_ciphertext"])
    # the KEM parts in the clear (made by kyber-py) agree with pyca's ML-KEM-1024
    assert MLKEM1024PrivateKey.from_seed(seed).public_key().raw == public
    assert MLKEM1024PrivateKey.from_seed(seed).decapsulate(ciphertext) == secret

    def key(field: str) -> X25519PrivateKey:
        return X25519PrivateKey.from_bytes(bytes.fromhex(vector[field]))

    prologue = bytes.fromhex(vector["prologue"])
    initiator = HandshakeState(
        protocol,
        initiator=True,
        prologue=prologue,
        s=key("init_static"),
        e=key("init_ephemeral"),
        rs=key("resp_static").public_key(),
        psks=[bytes.fromhex(p) for p in vector["init_psks"]],
        kem=MLKEM1024(),
        e1=KemKeyPair(seed, public),
    )
    responder = HandshakeState(
        protocol,
        initiator=False,
        prologue=prologue,
        s=key("resp_static"),
        e=key("resp_ephemeral"),
        psks=[bytes.fromhex(p) for p in vector["resp_psks"]],
        kem=_PinnedEncapsulation(public, secret, ciphertext),
    )
    count = vector["handshake_message_count"]
    assert count == 2
    for i, message in enumerate(vector["messages"][:count]):
        sender, receiver = (
            (initiator, responder) if message["sender"] == "initiator" else (responder, initiator)
        )
        payload = bytes.fromhex(message["payload"])
        sent = sender.write_message(payload)
        assert sent.hex() == message["ciphertext"], f"handshake message {i}"
        assert receiver.read_message(sent) == payload
    assert initiator.handshake_hash.hex() == responder.handshake_hash.hex() == vector["handshake_hash"]
    i_send, i_recv = initiator.split()
    r_send, r_recv = responder.split()
    for message in vector["messages"][count:]:
        send, recv = (i_send, r_recv) if message["sender"] == "initiator" else (r_send, i_recv)
        payload = bytes.fromhex(message["payload"])
        sent = send.encrypt_with_ad(b"", payload)
        assert sent.hex() == message["ciphertext"]
        assert recv.decrypt_with_ad(b"", sent) == payload
