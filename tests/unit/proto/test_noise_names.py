"""Protocol-name and pattern parsing edge cases."""

from __future__ import annotations

import pytest

from hotline.proto.noise import NoiseProtocol
from hotline.proto.patterns import parse_pattern


@pytest.mark.parametrize(
    "name",
    [
        "Noise_XXhfs_25519+_ChaChaPoly_BLAKE2s",  # empty KEM name
        "Noise_XXhfs_25519_ChaChaPoly_BLAKE2s",  # hfs without a KEM
        "Noise_XX_25519+MLKEM768_ChaChaPoly_BLAKE2s",  # a KEM without hfs
        "Noise_XX_448_ChaChaPoly_BLAKE2s",
        "Noise_XX_25519_AES128GCM_BLAKE2s",  # a cipher Noise does not define
        "Noise_XX_25519_AESGCM_SHA384",  # SHA-384 is ours, but not a Noise hash
        "Noise_IKpsk2+hfs_25519+MLKEM512_AESGCM_SHA512",  # a KEM we do not have
        "Noise_XX_25519_ChaChaPoly_MD5",
        "Noise_QQ_25519_ChaChaPoly_BLAKE2s",
        "Noise_XX_25519_ChaChaPoly",
    ],
)
def test_unsupported_or_malformed_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError):
        NoiseProtocol.from_name(name)


@pytest.mark.parametrize("name", ["XXhfs+hfs", "IKpsk2+psk2", "XXfallback", "NNpsk9"])
def test_bad_modifiers_are_refused(name: str) -> None:
    with pytest.raises(ValueError):
        parse_pattern(name)


def test_our_pattern() -> None:
    pattern = parse_pattern("IKpsk2+hfs")
    assert pattern.responder_pre == ("s",)
    assert pattern.messages == (("e", "es", "e1", "s", "ss"), ("e", "ee", "ekem1", "se", "psk"))


@pytest.mark.parametrize(
    ("name", "cipher", "hash_name", "kem"),
    [
        ("Noise_XX_25519_AESGCM_BLAKE2s", "AESGCM", "BLAKE2s", None),
        ("Noise_IKpsk2+hfs_25519+MLKEM768_ChaChaPoly_BLAKE2s", "ChaChaPoly", "BLAKE2s", "MLKEM768"),
        ("Noise_IKpsk2+hfs_25519+MLKEM1024_AESGCM_SHA512", "AESGCM", "SHA512", "MLKEM1024"),
    ],
)
def test_profile_names_parse(name: str, cipher: str, hash_name: str, kem: str | None) -> None:
    protocol = NoiseProtocol.from_name(name)
    assert (protocol.cipher, protocol.hash, protocol.kem) == (cipher, hash_name, kem)
    assert protocol.aead.name == cipher
