"""The SPAKE2 wrapper (:mod:`hotline.crypto.spake`): agreement, disagreement, and one error for bad input."""

from __future__ import annotations

import pytest

from hotline.crypto.errors import CryptoError
from hotline.crypto.spake import KEY_LEN, MESSAGE_LEN, SymmetricPake

CONTEXT = b"hotline pairing v1"


def exchange(pw_a: bytes, pw_b: bytes, context_b: bytes = CONTEXT) -> tuple[bytes, bytes]:
    a, b = SymmetricPake(pw_a, CONTEXT), SymmetricPake(pw_b, context_b)
    ma, mb = a.start(), b.start()
    assert len(ma) == len(mb) == MESSAGE_LEN and ma[:1] == mb[:1] == b"S"
    return a.finish(mb), b.finish(ma)


def test_the_same_password_gives_the_same_key() -> None:
    ka, kb = exchange(b"7-hobby-beach-donkey", b"7-hobby-beach-donkey")
    assert ka == kb and len(ka) == KEY_LEN


def test_a_different_password_or_context_gives_different_keys() -> None:
    ka, kb = exchange(b"7-hobby-beach-donkey", b"7-hobby-beach-eagle")
    assert ka != kb
    ka, kb = exchange(b"7-hobby-beach-donkey", b"7-hobby-beach-donkey", context_b=b"something else")
    assert ka != kb


def test_fresh_messages_each_time() -> None:
    assert SymmetricPake(b"pw", CONTEXT).start() != SymmetricPake(b"pw", CONTEXT).start()


def test_injected_entropy_is_reproducible() -> None:
    def zeros(n: int) -> bytes:
        return bytes([7]) * n

    assert (
        SymmetricPake(b"pw", CONTEXT, entropy=zeros).start()
        == SymmetricPake(b"pw", CONTEXT, entropy=zeros).start()
    )


@pytest.mark.parametrize(
    "message",
    [
        b"",
        b"S",
        b"S" + bytes(31),
        b"S" + bytes(33),
        b"A" + bytes(32),  # an asymmetric side
        b"B" + bytes(32),
        b"S" + bytes(32),  # the identity point
        b"S" + b"\xff" * 32,  # not a point
        b"S" + bytes.fromhex("0100000000000000000000000000000000000000000000000000000000000000"),  # order 1
        b"S" + bytes.fromhex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),  # order 2
        b"S" + bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),  # order 8
    ],
)
def test_malformed_messages_raise_one_error(message: bytes) -> None:
    pake = SymmetricPake(b"pw", CONTEXT)
    pake.start()
    with pytest.raises(CryptoError):
        pake.finish(message)


def test_a_reflected_message_is_refused() -> None:
    pake = SymmetricPake(b"pw", CONTEXT)
    with pytest.raises(CryptoError):
        pake.finish(pake.start())


def test_single_use() -> None:
    a, b = SymmetricPake(b"pw", CONTEXT), SymmetricPake(b"pw", CONTEXT)
    with pytest.raises(CryptoError):
        a.finish(b.start())  # not started
    a.start()
    with pytest.raises(CryptoError):
        a.start()
    b2 = SymmetricPake(b"pw", CONTEXT)
    message = b2.start()
    a.finish(message)
    with pytest.raises(CryptoError):
        a.finish(message)
