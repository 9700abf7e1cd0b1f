"""Identities with keys for both line profiles (:mod:`hotline.proto.identity`, :mod:`hotline.proto.keyfile`).

An identity made today holds standard and cnsa2 keys; one from a key file of version 1 holds only
standard keys until its station adds cnsa2 ones (:meth:`Identity.with_cnsa2`), which changes nothing
of the standard keys: not the store key's input (``secret_parts``), not the standard key digest, not
any pin or safety number built on it.
"""

from __future__ import annotations

import hashlib

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.crypto.aead import CipherKey
from hotline.crypto.hashing import blake2s
from hotline.crypto.passphrase import Argon2Params, derive_key
from hotline.proto.identity import (
    KEY_DIGEST_LEN,
    Cnsa2Parts,
    Identity,
    PublicIdentity,
    cnsa2_key_digest,
)
from hotline.proto.identity_errors import IdentityError
from hotline.proto.keyfile import (
    CHECKSUM_LEN,
    HEADER_LEN,
    KEYFILE_VERSION,
    KEYFILE_VERSION_1,
    KeyFileCorrupt,
    WrongPassphrase,
    kdf_params,
    open_identity,
    seal_identity,
    upgrade_key_file,
)
from tests.support.identities import fixed_cnsa2_identity, fixed_identity

PARIS_V1 = fixed_identity("Paris", 1)
PARIS = fixed_cnsa2_identity("Paris", 1)
CHEAP = Argon2Params(memory_kib=64, iterations=1, lanes=1)
PASSPHRASE = "correct horse battery staple"
SALT = bytes(range(16))
NONCE = bytes(range(100, 112))

# Golden: the standard digest of test_identity.py (unchanged by the cnsa2 keys) and PARIS's cnsa2 one.
PARIS_KEY_DIGEST = "baa4d306df0536411f626320e5bc88d4c8923eb92c76e45fdf38655733db11a7"
PARIS_CNSA2_KEY_DIGEST = "c01b828bf6f46c9b3b8b8699f48b712452baee574a90b0593f6485b8008953fc"
PARIS_CNSA2_FINGERPRINT = "YANY FC7W 6RWJ WO4L Q2M7 JC3R ERJL V3SX"


# -- the keys ----------------------------------------------------------------------------------------


def test_generate_makes_both_sets() -> None:
    identity = Identity.generate("Paris")
    assert identity.profiles == identity.public().profiles == ("standard", "cnsa2")
    parts = identity.cnsa2_parts
    assert parts is not None
    assert (len(parts.kem_seed), len(parts.seal_key), len(parts.mldsa_seed)) == (64, 48, 32)
    assert Identity.generate("Paris").cnsa2_parts != parts


def test_an_identity_of_standard_keys_only() -> None:
    assert PARIS_V1.profiles == ("standard",) and PARIS_V1.cnsa2 is None and PARIS_V1.cnsa2_parts is None
    with pytest.raises(IdentityError, match="holds no cnsa2 keys"):
        PARIS_V1.cnsa2_keys()
    with pytest.raises(IdentityError, match="holds no cnsa2 keys"):
        PARIS_V1.key_digest_for("cnsa2")
    with pytest.raises(IdentityError, match="holds no cnsa2 keys"):
        PARIS_V1.public().cnsa2_keys()
    with pytest.raises(IdentityError, match="no line profile 'other'"):
        PARIS.key_digest_for("other")


def test_adding_cnsa2_keys_leaves_the_standard_ones_alone() -> None:
    assert PARIS.secret_parts == PARIS_V1.secret_parts
    assert PARIS.key_digest.hex() == PARIS_V1.key_digest.hex() == PARIS_KEY_DIGEST
    assert PARIS.key_digest_for("standard") == PARIS.key_digest
    assert PARIS.fingerprint_for("standard") == PARIS.fingerprint == PARIS_V1.fingerprint
    assert PARIS != PARIS_V1


def test_with_cnsa2_only_once() -> None:
    with pytest.raises(IdentityError, match="already"):
        PARIS.with_cnsa2(Cnsa2Parts.generate())


def test_golden_cnsa2_digest() -> None:
    assert PARIS.key_digest_for("cnsa2").hex() == PARIS_CNSA2_KEY_DIGEST
    assert str(PARIS.fingerprint_for("cnsa2")) == PARIS_CNSA2_FINGERPRINT
    assert PARIS.public().fingerprint_for("cnsa2") == PARIS.fingerprint_for("cnsa2")


def test_cnsa2_digest_is_the_spec_s() -> None:
    """docs/protocol.md §8.1: SHA-384 over the label and the five public keys, first 32 bytes."""
    keys = PARIS.cnsa2_keys()
    public = keys.public
    assert public.verify_key.raw[:32] == PARIS.signing_key.public_key().raw[:32]  # one Ed25519 key
    data = (
        b"hotline station keys cnsa2 v1"
        + PARIS.static_key.public_key().raw
        + public.kem_public.raw
        + public.seal_public.raw
        + public.verify_key.raw
    )
    assert (len(public.kem_public.raw), len(public.seal_public.raw), len(public.verify_key.raw)) == (
        1568,
        97,
        2624,
    )
    expected = hashlib.sha384(data).digest()[:KEY_DIGEST_LEN]
    assert (
        cnsa2_key_digest(PARIS.static_key.public_key(), public) == expected == PARIS.key_digest_for("cnsa2")
    )


def test_each_cnsa2_part_changes_the_digest() -> None:
    base = PARIS.cnsa2_parts
    assert base is not None
    variants = (
        base._replace(kem_seed=bytes(64)),
        base._replace(seal_key=bytes([7]) * 48),
        base._replace(mldsa_seed=bytes(32)),
    )
    digests = {PARIS_V1.with_cnsa2(parts).key_digest_for("cnsa2") for parts in variants}
    assert len(digests) == 3 and PARIS.key_digest_for("cnsa2") not in digests
    assert all(PARIS_V1.with_cnsa2(parts).key_digest == PARIS.key_digest for parts in variants)


@pytest.mark.parametrize(
    ("parts", "reason"),
    [
        ((bytes(63), bytes([1]) * 48, bytes(32)), "wrong length"),
        ((bytes(64), bytes([1]) * 47, bytes(32)), "wrong length"),
        ((bytes(64), bytes([1]) * 48, bytes(31)), "wrong length"),
        ((bytes(64), bytes(48), bytes(32)), "not a valid scalar"),
        ((bytes(64), b"\xff" * 48, bytes(32)), "not a valid scalar"),
    ],
)
def test_invalid_cnsa2_parts(parts: tuple[bytes, bytes, bytes], reason: str) -> None:
    with pytest.raises(IdentityError, match=reason):
        PARIS_V1.with_cnsa2(parts)


def test_from_parts_with_cnsa2_round_trips() -> None:
    static, kem, signing = PARIS.secret_parts
    again = Identity.from_parts(
        "Paris", static_key=static, kem_seed=kem, signing_seed=signing, cnsa2=PARIS.cnsa2_parts
    )
    assert again == PARIS and again.public() == PARIS.public()


def test_public_identity_refuses_a_second_ed25519_key() -> None:
    """The cnsa2 verify key shares the standard Ed25519 key; a public half claiming another is refused."""
    other = fixed_cnsa2_identity("Rome", 9).cnsa2_keys().public
    public = PARIS.public()
    with pytest.raises(IdentityError, match="Ed25519"):
        PublicIdentity(public.name, public.static_public, public.kem_public, public.verify_key, other)


# -- key files -----------------------------------------------------------------------------------------


def test_a_version_1_key_file_still_opens_and_migrates() -> None:
    """A key file of the old format gives an identity without cnsa2 keys; adding them and sealing again
    writes version 2, which opens to the same standard keys plus the cnsa2 ones."""
    old = seal_identity(PARIS_V1, PASSPHRASE, CHEAP, SALT, NONCE)
    assert old[8] == KEYFILE_VERSION_1 == 1
    opened = open_identity(old, PASSPHRASE)
    assert opened == PARIS_V1 and opened.profiles == ("standard",)
    migrated = opened.with_cnsa2(PARIS.cnsa2_parts or Cnsa2Parts.generate())
    new = seal_identity(migrated, PASSPHRASE, CHEAP, SALT, NONCE)
    assert new[8] == KEYFILE_VERSION == 2
    again = open_identity(new, PASSPHRASE)
    assert again == PARIS and again.secret_parts == opened.secret_parts
    assert kdf_params(new) == kdf_params(old) == CHEAP


def test_version_2_plaintext_is_the_spec_s() -> None:
    sealed = seal_identity(PARIS, PASSPHRASE, CHEAP, SALT, NONCE)
    key = CipherKey(derive_key(PASSPHRASE.encode(), SALT, CHEAP))
    plaintext = key.open(NONCE, sealed[:HEADER_LEN], sealed[HEADER_LEN:-CHECKSUM_LEN])
    parts = PARIS.cnsa2_parts
    assert parts is not None
    assert msgspec.msgpack.decode(plaintext) == ["Paris", *PARIS.secret_parts, list(parts)]


def test_the_version_byte_is_authenticated() -> None:
    """Relabelling a version 1 file as version 2 (or back) and fixing the checksum fails the tag."""
    for identity, version in ((PARIS_V1, 2), (PARIS, 1)):
        body = bytearray(seal_identity(identity, PASSPHRASE, CHEAP, SALT, NONCE)[:-CHECKSUM_LEN])
        body[8] = version
        forged = bytes(body) + blake2s(bytes(body), digest_size=CHECKSUM_LEN)
        with pytest.raises(WrongPassphrase):
            open_identity(forged, PASSPHRASE)


def _forged_v2(plaintext: bytes) -> bytes:
    sealed = seal_identity(PARIS, PASSPHRASE, CHEAP, SALT, NONCE)
    header = bytearray(sealed[:HEADER_LEN])
    header[50:54] = (len(plaintext) + 16).to_bytes(4, "big")
    key = CipherKey(derive_key(PASSPHRASE.encode(), SALT, CHEAP))
    body = bytes(header) + key.seal(NONCE, bytes(header), plaintext)
    return body + blake2s(body, digest_size=CHECKSUM_LEN)


@pytest.mark.parametrize(
    ("plaintext", "reason"),
    [
        (msgspec.msgpack.encode(["Paris", *PARIS_V1.secret_parts]), "malformed"),
        (
            msgspec.msgpack.encode(["Paris", *PARIS_V1.secret_parts, [bytes(64), bytes([1]) * 48]]),
            "malformed",
        ),
        (
            msgspec.msgpack.encode(["Paris", *PARIS_V1.secret_parts, [bytes(64), bytes(48), bytes(32)]]),
            "invalid",
        ),
    ],
)
def test_malformed_version_2_contents(plaintext: bytes, reason: str) -> None:
    with pytest.raises(KeyFileCorrupt, match=reason):
        open_identity(_forged_v2(plaintext), PASSPHRASE)


def test_upgrade_key_file_adds_cnsa2_keys_once() -> None:
    old = seal_identity(PARIS_V1, PASSPHRASE, CHEAP, SALT, NONCE)
    identity, new = upgrade_key_file(old, PASSPHRASE)
    assert new is not None and new[8] == KEYFILE_VERSION and new[22:50] != old[22:50]
    assert identity.profiles == ("standard", "cnsa2") and identity.secret_parts == PARIS_V1.secret_parts
    assert open_identity(new, PASSPHRASE) == identity and kdf_params(new) == CHEAP
    again, nothing = upgrade_key_file(new, PASSPHRASE)
    assert again == identity and nothing is None
    pinned, _ = upgrade_key_file(old, PASSPHRASE, PARIS.cnsa2_parts)
    assert pinned == PARIS
    with pytest.raises(WrongPassphrase):
        upgrade_key_file(old, "not it")


_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.text(max_size=20)
    | st.binary(max_size=70),
    lambda inner: st.lists(inner, max_size=6),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None)
@given(cnsa2=_values, tail=st.lists(_values, max_size=2))
def test_any_version_2_contents_open_or_raise_key_file_corrupt(cnsa2: object, tail: list[object]) -> None:
    """Whatever a passphrase holder puts in a version 2 file, opening it gives an identity or
    KeyFileCorrupt, nothing else."""
    plaintext = msgspec.msgpack.encode(["Paris", *PARIS_V1.secret_parts, cnsa2, *tail])
    try:
        identity = open_identity(_forged_v2(plaintext), PASSPHRASE)
    except KeyFileCorrupt:
        return
    assert identity.cnsa2 is not None and identity.secret_parts == PARIS_V1.secret_parts
