"""Key files (:mod:`hotline.proto.keyfile`): sealing an identity under a passphrase, and every refusal.

Most tests use cheap Argon2id parameters (64 KiB, one pass) so they run in microseconds; one test uses
the default (RFC 9106's second recommendation) to show it works end to end.
"""

from __future__ import annotations

import struct

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline.crypto.aead import CipherKey
from hotline.crypto.hashing import blake2s
from hotline.crypto.passphrase import Argon2Params, derive_key
from hotline.proto.keyfile import (
    CHECKSUM_LEN,
    DEFAULT_PARAMS,
    HEADER_LEN,
    MAGIC,
    KeyFileCorrupt,
    KeyFileError,
    WrongPassphrase,
    kdf_params,
    open_identity,
    seal_identity,
)
from tests.support.identities import fixed_identity

PARIS = fixed_identity("Paris", 1)
CHEAP = Argon2Params(memory_kib=64, iterations=1, lanes=1)
PASSPHRASE = "correct horse battery staple"
SALT = bytes(range(16))
NONCE = bytes(range(100, 112))
SEALED = seal_identity(PARIS, PASSPHRASE, CHEAP, SALT, NONCE)

# Golden: PARIS sealed with the values above (our format, docs/protocol.md §8).
GOLDEN_HEADER = (
    "89484c4b45590d0a"  # magic
    "01"  # version
    "01"  # Argon2id
    "00000040" "00000001" "00000001"  # memory 64 KiB, 1 pass, 1 lane
    "000102030405060708090a0b0c0d0e0f"  # salt
    "6465666768696a6b6c6d6e6f"  # nonce
    "000000bd"  # ciphertext length
)  # fmt: skip
GOLDEN_FILE_BLAKE2S = "644e8f3f8787cee3945313e7840c41a52a065441d25620db3199370dcbc8b399"


def test_golden() -> None:
    assert SEALED[:HEADER_LEN].hex() == GOLDEN_HEADER
    assert blake2s(SEALED).hex() == GOLDEN_FILE_BLAKE2S
    assert len(SEALED) == HEADER_LEN + 0xBD + CHECKSUM_LEN


def test_round_trip() -> None:
    opened = open_identity(SEALED, PASSPHRASE)
    assert opened == PARIS
    assert opened.name == "Paris"
    assert opened.fingerprint == PARIS.fingerprint


def test_default_params_round_trip() -> None:
    sealed = seal_identity(PARIS, PASSPHRASE)
    memory, iterations, lanes = struct.unpack(">III", sealed[10:22])
    assert (memory, iterations, lanes) == (64 * 1024, 3, 4)
    assert (DEFAULT_PARAMS.memory_kib, DEFAULT_PARAMS.iterations, DEFAULT_PARAMS.lanes) == (65536, 3, 4)
    assert open_identity(sealed, PASSPHRASE) == PARIS


def test_fresh_salt_and_nonce_each_time() -> None:
    first, second = seal_identity(PARIS, PASSPHRASE, CHEAP), seal_identity(PARIS, PASSPHRASE, CHEAP)
    assert first[22:50] != second[22:50]
    assert open_identity(first, PASSPHRASE) == open_identity(second, PASSPHRASE) == PARIS


def test_passphrase_forms() -> None:
    composed, decomposed = "caf\u00e9 au lait", "cafe\u0301 au lait"
    sealed = seal_identity(PARIS, composed, CHEAP)
    assert open_identity(sealed, decomposed) == PARIS
    assert open_identity(sealed, composed.encode("utf-8")) == PARIS
    raw = seal_identity(PARIS, b"\xff\x00binary", CHEAP)
    assert open_identity(raw, b"\xff\x00binary") == PARIS


@pytest.mark.parametrize("passphrase", ["", "Correct horse battery staple", PASSPHRASE + " ", b"x"])
def test_wrong_passphrase(passphrase: str | bytes) -> None:
    with pytest.raises(WrongPassphrase) as info:
        open_identity(SEALED, passphrase)
    assert "passphrase" in info.value.reason
    assert isinstance(info.value, KeyFileError)


def test_every_truncation_is_corrupt() -> None:
    for length in range(len(SEALED)):
        with pytest.raises(KeyFileCorrupt):
            open_identity(SEALED[:length], PASSPHRASE)


def test_every_byte_flip_is_corrupt() -> None:
    """Accidental damage anywhere is caught by the checksum (or earlier), before the slow KDF."""
    for position in range(len(SEALED)):
        damaged = bytearray(SEALED)
        damaged[position] ^= 0x04
        with pytest.raises(KeyFileCorrupt):
            open_identity(bytes(damaged), PASSPHRASE)


def rechecksummed(body: bytes) -> bytes:
    """A deliberately edited file: ``body`` with a valid checksum."""
    return body + blake2s(body, digest_size=CHECKSUM_LEN)


def with_header(**fields: int) -> bytes:
    layout = {"memory": (10, 4), "iterations": (14, 4), "lanes": (18, 4), "kdf": (9, 1), "version": (8, 1)}
    body = bytearray(SEALED[:-CHECKSUM_LEN])
    for name, value in fields.items():
        offset, size = layout[name]
        body[offset : offset + size] = value.to_bytes(size, "big")
    return rechecksummed(bytes(body))


CORRUPT = {
    "empty": (b"", "empty"),
    "magic-prefix": (MAGIC[:5], "truncated"),
    "magic-only": (MAGIC, "truncated"),
    "not-a-key-file": (b"-----BEGIN HOTLINE STATION CARD-----\n", "not a Hotline key file"),
    "text-mode-mangled": (SEALED.replace(b"\r\n", b"\n", 1), "not a Hotline key file"),
    "short-garbage": (b"abc", "not a Hotline key file"),
    "too-large": (MAGIC + bytes(100_000), "too large"),
    "header-only": (SEALED[:HEADER_LEN], "truncated"),
    "trailing": (SEALED + b"\x00", "trailing bytes"),
    "damaged": (SEALED[:-1] + bytes([SEALED[-1] ^ 1]), "checksum"),
    "version-3": (with_header(version=3), "version 3 is not supported"),
    "unknown-kdf": (with_header(kdf=2), "unknown key derivation"),
    "memory-too-large": (with_header(memory=3 * 1024 * 1024), "more Argon2id memory"),
    "iterations-too-many": (with_header(iterations=65), "more Argon2id memory or time"),
    "lanes-too-many": (with_header(lanes=65), "more Argon2id memory or time"),
    "zero-iterations": (with_header(iterations=0), "invalid Argon2id parameters"),
    "memory-below-lanes": (with_header(memory=8, lanes=4), "invalid Argon2id parameters"),
}


@pytest.mark.parametrize(("data", "reason"), list(CORRUPT.values()), ids=list(CORRUPT))
def test_corrupt(data: bytes, reason: str) -> None:
    with pytest.raises(KeyFileCorrupt) as info:
        open_identity(data, PASSPHRASE)
    assert reason in info.value.reason


def test_deliberate_edit_of_the_parameters_fails_the_tag() -> None:
    """The header is the AEAD's associated data: lowering the cost and fixing the checksum is caught."""
    with pytest.raises(WrongPassphrase, match="deliberately altered"):
        open_identity(with_header(memory=32), PASSPHRASE)


def _forged(plaintext: bytes) -> bytes:
    """A file that opens with PASSPHRASE but holds ``plaintext``: only a passphrase holder makes one."""
    header = bytearray(SEALED[:HEADER_LEN])
    header[50:54] = (len(plaintext) + 16).to_bytes(4, "big")
    key = CipherKey(derive_key(PASSPHRASE.encode(), SALT, CHEAP))
    return rechecksummed(bytes(header) + key.seal(NONCE, bytes(header), plaintext))


@pytest.mark.parametrize(
    ("plaintext", "reason"),
    [
        (b"\xc1", "contents are malformed"),
        (msgspec.msgpack.encode(["Paris", bytes(32), bytes(64)]), "contents are malformed"),
        (msgspec.msgpack.encode(["Paris", bytes(31), bytes(64), bytes(64)]), "wrong length"),
        (msgspec.msgpack.encode(["", bytes(32), bytes(64), bytes(64)]), "station name is empty"),
    ],
    ids=["not-msgpack", "missing-field", "short-key", "empty-name"],
)
def test_forged_contents_are_corrupt(plaintext: bytes, reason: str) -> None:
    with pytest.raises(KeyFileCorrupt, match=reason):
        open_identity(_forged(plaintext), PASSPHRASE)


def test_forged_helper_matches_the_real_format() -> None:
    plaintext = msgspec.msgpack.encode(["Paris", *PARIS.secret_parts])
    assert _forged(plaintext) == SEALED


@pytest.mark.parametrize(
    ("passphrase", "salt", "nonce", "reason"),
    [
        ("", SALT, NONCE, "empty"),
        (b"", SALT, NONCE, "empty"),
        (PASSPHRASE, SALT[:15], NONCE, "salt"),
        (PASSPHRASE, SALT, NONCE + b"x", "nonce"),
    ],
    ids=["empty-str", "empty-bytes", "short-salt", "long-nonce"],
)
def test_seal_refuses(passphrase: str | bytes, salt: bytes, nonce: bytes, reason: str) -> None:
    with pytest.raises(KeyFileError, match=reason):
        seal_identity(PARIS, passphrase, CHEAP, salt, nonce)


def test_kdf_params_reads_the_header_without_the_passphrase() -> None:
    """What ``status`` shows (F11): the costs a key file asks for, read from its header alone."""
    assert kdf_params(SEALED) == CHEAP
    assert kdf_params(SEALED[:HEADER_LEN]) == CHEAP
    assert kdf_params(SEALED[: HEADER_LEN - 1]) is None
    assert kdf_params(b"not a key file at all, but long enough to have a header........") is None


@given(st.binary(max_size=2 * HEADER_LEN))
def test_kdf_params_never_raises(data: bytes) -> None:
    result = kdf_params(data)
    assert result is None or isinstance(result, Argon2Params)


@given(st.binary(min_size=12, max_size=12))
def test_kdf_params_refuses_impossible_costs_quietly(costs: bytes) -> None:
    data = SEALED[:10] + costs + SEALED[22:]
    result = kdf_params(data)
    memory, iterations, lanes = struct.unpack(">III", costs)
    if result is not None:
        assert (result.memory_kib, result.iterations, result.lanes) == (memory, iterations, lanes)
