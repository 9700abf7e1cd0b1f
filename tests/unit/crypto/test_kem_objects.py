"""The KEMs the handshake uses (:class:`MLKEM768`, :class:`MLKEM1024`): whatever a KEM object still
holds of the keys it made, a seed it hands out always decapsulates to the encapsulated secret."""

from __future__ import annotations

import pytest

from hotline.crypto.mlkem import MLKEM768, MLKEM1024, Kem


@pytest.mark.parametrize("make", [MLKEM768, MLKEM1024])
def test_every_seed_decapsulates_kept_evicted_or_from_another_object(make: type[MLKEM768]) -> None:
    kem: Kem = make()
    # more keys than one object keeps: the first ones are derived again from their seed
    made = [kem.generate() for _ in range(12)]
    for seed, public in reversed(made):
        secret, ciphertext = kem.encapsulate(public)
        assert kem.decapsulate(seed, ciphertext) == secret
    # a key decapsulates once from what the object kept, and again from its seed alone
    seed, public = kem.generate()
    secret, ciphertext = kem.encapsulate(public)
    assert kem.decapsulate(seed, ciphertext) == secret
    assert kem.decapsulate(seed, ciphertext) == secret
    assert make().decapsulate(seed, ciphertext) == secret


@pytest.mark.parametrize("make", [MLKEM768, MLKEM1024])
def test_a_wrong_ciphertext_gives_another_secret(make: type[MLKEM768]) -> None:
    kem: Kem = make()
    seed, public = kem.generate()
    secret, ciphertext = kem.encapsulate(public)
    tampered = bytes([ciphertext[0] ^ 1]) + ciphertext[1:]
    assert kem.decapsulate(seed, tampered) != secret
