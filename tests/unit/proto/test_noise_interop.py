"""Live interoperability with an independent Noise implementation: the ``noiseprotocol`` package.

``noiseprotocol`` (plizonczyk/noiseprotocol, 0.3.1, pure Python over pyca/cryptography) is a dev
dependency only. It shares pyca with us for the primitives but nothing else: its own CipherState,
SymmetricState, HandshakeState and pattern table. It works with cryptography 50 as pinned here
(handshakes, transport and handshake hash; no deprecation warnings, only its own warning
when ephemerals are injected); it has no hfs, so the hfs handshake is
checked against libp2p's vectors in ``test_hfs.py`` instead.

Three kinds of check, each over both roles (ours as initiator, ours as responder):

- a live exchange with prologue, PSK and payloads, then transport messages both ways;
- byte-exact agreement: with the same injected ephemerals the two libraries write the same bytes;
- a mismatched PSK makes our side raise :class:`NoiseError`.
"""

from __future__ import annotations

from typing import Any, Protocol

import pytest
from noise.connection import Keypair, NoiseConnection  # type: ignore[import-untyped]

from hotline.crypto.x25519 import X25519PrivateKey
from hotline.proto.noise import CipherState, HandshakeState, NoiseError, NoiseProtocol

PROTOCOLS = (
    "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s",
    "Noise_XX_25519_ChaChaPoly_BLAKE2s",
    "Noise_XX_25519_ChaChaPoly_SHA256",
)
PROLOGUE = b"hotline interop prologue"
PSK = bytes(range(32))
INIT_STATIC = X25519PrivateKey.from_bytes(bytes([0x01]) * 32)
RESP_STATIC = X25519PrivateKey.from_bytes(bytes([0x02]) * 32)
INIT_EPHEMERAL = bytes([0x03]) * 32
RESP_EPHEMERAL = bytes([0x04]) * 32
TRANSPORT_ROUNDS = 3


class Party(Protocol):
    """One side of a handshake, whichever library runs it."""

    def write(self, payload: bytes) -> bytes: ...
    def read(self, message: bytes) -> bytes: ...
    def encrypt(self, plaintext: bytes) -> bytes: ...
    def decrypt(self, ciphertext: bytes) -> bytes: ...
    def handshake_hash(self) -> bytes: ...
    def finished(self) -> bool: ...


class Ours:
    def __init__(self, name: str, *, initiator: bool, psk: bytes = PSK, ephemerals: bool = False) -> None:
        protocol = NoiseProtocol.from_name(name)
        ours, theirs = (INIT_STATIC, RESP_STATIC) if initiator else (RESP_STATIC, INIT_STATIC)
        ephemeral = INIT_EPHEMERAL if initiator else RESP_EPHEMERAL
        self._state = HandshakeState(
            protocol,
            initiator=initiator,
            prologue=PROLOGUE,
            s=ours,
            e=X25519PrivateKey.from_bytes(ephemeral) if ephemerals else None,
            rs=theirs.public_key() if initiator and "s" in protocol.pattern.responder_pre else None,
            psks=[psk] if protocol.pattern.has_psk else None,
        )
        self._send: CipherState | None = None
        self._recv: CipherState | None = None

    def write(self, payload: bytes) -> bytes:
        message = self._state.write_message(payload)
        self._maybe_split()
        return message

    def read(self, message: bytes) -> bytes:
        payload = self._state.read_message(message)
        self._maybe_split()
        return payload

    def _maybe_split(self) -> None:
        if self._state.complete:
            self._send, self._recv = self._state.split()

    def encrypt(self, plaintext: bytes) -> bytes:
        assert self._send is not None
        return self._send.encrypt_with_ad(b"", plaintext)

    def decrypt(self, ciphertext: bytes) -> bytes:
        assert self._recv is not None
        return self._recv.decrypt_with_ad(b"", ciphertext)

    def handshake_hash(self) -> bytes:
        return self._state.handshake_hash

    def finished(self) -> bool:
        return self._state.complete


class Theirs:
    def __init__(self, name: str, *, initiator: bool, psk: bytes = PSK, ephemerals: bool = False) -> None:
        protocol = NoiseProtocol.from_name(name)  # only to read the pattern
        ours, theirs = (INIT_STATIC, RESP_STATIC) if initiator else (RESP_STATIC, INIT_STATIC)
        conn: Any = NoiseConnection.from_name(name.encode("ascii"))
        if initiator:
            conn.set_as_initiator()
        else:
            conn.set_as_responder()
        conn.set_prologue(PROLOGUE)
        if protocol.pattern.has_psk:
            conn.set_psks(psk=psk)
        conn.set_keypair_from_private_bytes(Keypair.STATIC, ours.raw)
        if initiator and "s" in protocol.pattern.responder_pre:
            conn.set_keypair_from_public_bytes(Keypair.REMOTE_STATIC, theirs.public_key().raw)
        if ephemerals:
            ephemeral = INIT_EPHEMERAL if initiator else RESP_EPHEMERAL
            conn.set_keypair_from_private_bytes(Keypair.EPHEMERAL, ephemeral)
        conn.start_handshake()
        self._conn = conn

    def write(self, payload: bytes) -> bytes:
        return bytes(self._conn.write_message(payload))

    def read(self, message: bytes) -> bytes:
        return bytes(self._conn.read_message(message))

    def encrypt(self, plaintext: bytes) -> bytes:
        return bytes(self._conn.encrypt(plaintext))

    def decrypt(self, ciphertext: bytes) -> bytes:
        return bytes(self._conn.decrypt(ciphertext))

    def handshake_hash(self) -> bytes:
        return bytes(self._conn.get_handshake_hash())

    def finished(self) -> bool:
        return bool(self._conn.handshake_finished)


def _pair(name: str, ours_role: str, **kwargs: Any) -> tuple[Party, Party]:
    """(initiator, responder), one of them ours and the other theirs."""
    if ours_role == "initiator":
        return Ours(name, initiator=True, **kwargs), Theirs(name, initiator=False, **kwargs)
    return Theirs(name, initiator=True, **kwargs), Ours(name, initiator=False, **kwargs)


def _handshake(name: str, initiator: Party, responder: Party) -> list[bytes]:
    messages = []
    count = len(NoiseProtocol.from_name(name).pattern.messages)
    for i in range(count):
        sender, receiver = (initiator, responder) if i % 2 == 0 else (responder, initiator)
        payload = f"handshake payload {i} of {name}".encode()
        message = sender.write(payload)
        assert receiver.read(message) == payload
        messages.append(message)
    assert initiator.finished() and responder.finished()
    return messages


@pytest.mark.parametrize("ours_role", ["initiator", "responder"])
@pytest.mark.parametrize("name", PROTOCOLS)
def test_live_exchange(name: str, ours_role: str) -> None:
    initiator, responder = _pair(name, ours_role)
    _handshake(name, initiator, responder)
    assert initiator.handshake_hash() == responder.handshake_hash()
    for i in range(TRANSPORT_ROUNDS):
        forth, back = f"transport {i} to the responder".encode(), f"transport {i} to the initiator".encode()
        assert responder.decrypt(initiator.encrypt(forth)) == forth
        assert initiator.decrypt(responder.encrypt(back)) == back
    # nonces stay in step after several messages in a row one way
    burst = [initiator.encrypt(bytes([i]) * i) for i in range(4)]
    assert [responder.decrypt(c) for c in burst] == [bytes([i]) * i for i in range(4)]


# noiseprotocol warns, rightly, that injected ephemerals are for tests only
@pytest.mark.filterwarnings("ignore:One of ephemeral keypairs is already set:UserWarning")
@pytest.mark.parametrize("ours_role", ["initiator", "responder"])
@pytest.mark.parametrize("name", PROTOCOLS)
def test_same_bytes_with_the_same_ephemerals(name: str, ours_role: str) -> None:
    """Mixed pair vs. a pair of theirs, same keys: every handshake and transport byte agrees."""
    mixed = _pair(name, ours_role, ephemerals=True)
    reference = (
        Theirs(name, initiator=True, ephemerals=True),
        Theirs(name, initiator=False, ephemerals=True),
    )
    assert _handshake(name, *mixed) == _handshake(name, *reference)
    assert mixed[0].handshake_hash() == reference[0].handshake_hash()
    assert mixed[0].encrypt(b"after split") == reference[0].encrypt(b"after split")
    assert mixed[1].encrypt(b"and back") == reference[1].encrypt(b"and back")


def test_their_wrong_psk_is_our_noise_error() -> None:
    """A responder with another PSK: our initiator rejects its message 2 (psk2 is mixed there)."""
    name = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"
    initiator = Ours(name, initiator=True)
    responder = Theirs(name, initiator=False, psk=bytes(32))
    responder.read(initiator.write(b"hello"))
    with pytest.raises(NoiseError):
        initiator.read(responder.write(b"hello back"))


def test_our_wrong_psk_is_rejected_by_them() -> None:
    name = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"
    initiator = Theirs(name, initiator=True, psk=bytes(32))
    responder = Ours(name, initiator=False)
    responder.read(initiator.write(b"hello"))
    with pytest.raises(Exception):  # noqa: B017 - theirs raises its own exception types
        initiator.read(responder.write(b"hello back"))
