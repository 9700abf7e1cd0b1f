"""The cnsa2 line-key seal: P-384 keys (:mod:`hotline.crypto.p384`) and HPKE MLKEM1024-P384 /
HKDF-SHA384 / AES-256-GCM (:mod:`hotline.crypto.hpke`), beside the standard suite it does not replace.

pyca offers no deterministic encapsulation, so these are round trips, sizes and every way a seal must
fail to open; the P-384 wrapper is pinned to the curve's published constants.
"""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from hotline.crypto import hpke, p384
from hotline.crypto.errors import CryptoError
from hotline.crypto.mlkem import MLKEM768PrivateKey, MLKEM1024PrivateKey
from hotline.crypto.p384 import P384PrivateKey, P384PublicKey
from hotline.crypto.x25519 import X25519PrivateKey

KEM = MLKEM1024PrivateKey.from_seed(bytes([1]) * 64)
DH = P384PrivateKey.from_bytes(bytes([2]) * 48)
INFO = b"hotline test info"

# SP 800-186 §3.2.1.4: P-384's generator G, the public key of d = 1.
G_X = "aa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7"
G_Y = "3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5f"


def seal(plaintext: bytes = b"k" * 32, info: bytes = INFO) -> bytes:
    return hpke.seal_cnsa2(plaintext, kem_public=KEM.public_key(), dh_public=DH.public_key(), info=info)


def test_the_order_is_p384_s() -> None:
    """n = 2^384 - 1388124618062372383947042015309946732620727252194336364173 (SP 800-186 §3.2.1.4)."""
    assert p384.ORDER == 2**384 - 1388124618062372383947042015309946732620727252194336364173


def test_scalar_one_gives_the_generator() -> None:
    one = P384PrivateKey.from_bytes((1).to_bytes(48, "big"))
    assert one.public_key().raw.hex() == "04" + G_X + G_Y
    assert one.raw == (1).to_bytes(48, "big")


@pytest.mark.parametrize("scalar", [0, p384.ORDER, p384.ORDER + 1, 2**384 - 1])
def test_out_of_range_scalars_are_refused(scalar: int) -> None:
    data = scalar.to_bytes(48, "big")
    assert not p384.is_private_key(data)
    with pytest.raises(CryptoError, match="1 to n - 1"):
        P384PrivateKey.from_bytes(data)


def test_the_largest_scalar_is_accepted() -> None:
    data = (p384.ORDER - 1).to_bytes(48, "big")
    assert p384.is_private_key(data) and P384PrivateKey.from_bytes(data).raw == data


@pytest.mark.parametrize("length", [0, 47, 49])
def test_scalar_length(length: int) -> None:
    assert not p384.is_private_key(bytes([1]) * length)
    with pytest.raises(CryptoError, match="48 bytes"):
        P384PrivateKey.from_bytes(bytes([1]) * length)


def test_public_key_round_trip_and_value_semantics() -> None:
    public = DH.public_key()
    assert len(public.raw) == p384.PUBLIC_KEY_LEN == 97 and public.raw[0] == 4
    again = P384PublicKey.from_bytes(public.raw)
    assert again == public and hash(again) == hash(public) and again != KEM.public_key()
    assert "P384PublicKey(" in repr(public)


def test_public_key_refusals() -> None:
    raw = DH.public_key().raw
    compressed = bytes([2 + (raw[-1] & 1)]) + raw[1:49]  # the SEC 1 compressed form: refused
    for bad, reason in (
        (raw[:-1], "97 bytes"),
        (compressed, "97 bytes"),
        (b"\x05" + raw[1:], "97 bytes"),
        (raw[:-1] + bytes([raw[-1] ^ 1]), "not a point on the curve"),
        (b"\x04" + bytes(96), "not a point on the curve"),
    ):
        with pytest.raises(CryptoError, match=reason):
            P384PublicKey.from_bytes(bad)


def test_a_key_of_another_curve_is_refused() -> None:
    with pytest.raises(CryptoError, match="not a P-384 key"):
        P384PublicKey(ec.generate_private_key(ec.SECP256R1()).public_key())


def test_round_trip_and_sizes() -> None:
    sealed = seal()
    assert len(sealed) == hpke.ENC_LEN_CNSA2 + 32 + hpke.TAG_LEN == 1713
    assert hpke.open_sealed_cnsa2(sealed, kem_private=KEM, dh_private=DH, info=INFO) == b"k" * 32
    assert seal() != sealed  # a fresh encapsulation every time


def test_empty_and_long_plaintexts() -> None:
    for plaintext in (b"", bytes(5000)):
        sealed = seal(plaintext)
        assert hpke.open_sealed_cnsa2(sealed, kem_private=KEM, dh_private=DH, info=INFO) == plaintext


@pytest.mark.parametrize(
    "which",
    [
        "other-kem",
        "other-dh",
        "other-info",
        "flipped-enc-kem",
        "flipped-enc-dh",
        "flipped-ct",
        "cut",
        "empty",
    ],
)
def test_what_does_not_open(which: str) -> None:
    sealed = seal()
    kem, dh, info = KEM, DH, INFO
    if which == "other-kem":
        kem = MLKEM1024PrivateKey.from_seed(bytes([9]) * 64)
    elif which == "other-dh":
        dh = P384PrivateKey.from_bytes(bytes([9]) * 48)
    elif which == "other-info":
        info = INFO + b"!"
    elif which == "flipped-enc-kem":
        sealed = bytes([sealed[0] ^ 1]) + sealed[1:]
    elif which == "flipped-enc-dh":
        sealed = sealed[:1600] + bytes([sealed[1600] ^ 1]) + sealed[1601:]
    elif which == "flipped-ct":
        sealed = sealed[:-1] + bytes([sealed[-1] ^ 1])
    elif which == "cut":
        sealed = sealed[:-1]
    else:
        sealed = b""
    with pytest.raises(CryptoError, match="does not open"):
        hpke.open_sealed_cnsa2(sealed, kem_private=kem, dh_private=dh, info=info)


def test_the_two_suites_do_not_open_each_other() -> None:
    kem768 = MLKEM768PrivateKey.from_seed(bytes([3]) * 64)
    x25519 = X25519PrivateKey.from_bytes(bytes([4]) * 32)
    standard = hpke.seal(b"k" * 32, kem_public=kem768.public_key(), dh_public=x25519.public_key(), info=INFO)
    assert len(standard) == hpke.ENC_LEN + 32 + hpke.TAG_LEN
    with pytest.raises(CryptoError):
        hpke.open_sealed_cnsa2(standard, kem_private=KEM, dh_private=DH, info=INFO)
    with pytest.raises(CryptoError):
        hpke.open_sealed(seal(), kem_private=kem768, dh_private=x25519, info=INFO)
