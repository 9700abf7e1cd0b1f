"""A deterministic ML-KEM-768 :class:`~hotline.crypto.mlkem.Kem` for golden transcripts. Test-only.

pyca/cryptography offers no way to fix the randomness of ML-KEM encapsulation, so golden hfs
transcripts could not be pinned with it. This KEM runs on the pure-Python ``kyber-py`` package
(a dev dependency, never a runtime one) and takes its randomness from the caller instead:

- key generation is FIPS 203 ``ML-KEM.KeyGen_internal(d, z)`` from a 64-byte seed ``d || z``,
  the same seed form pyca's ``MLKEM768PrivateKey.from_seed_bytes`` takes, so a private state made
  here is a valid private state for the production :class:`~hotline.crypto.mlkem.MLKEM768` too;
- encapsulation is FIPS 203 ``ML-KEM.Encaps_internal(ek, m)`` with one fixed 32-byte ``m``.

``tests/unit/proto/test_hfs.py`` checks both against pyca: the public key derived from a seed is
pyca's, and pyca decapsulates our ciphertexts to our secret. A fixed ``m`` is of course fatal in
real use (every encapsulation to the same key gives the same secret); that is the point here.
"""

from __future__ import annotations

from collections.abc import Iterable

from kyber_py.ml_kem import ML_KEM_768  # type: ignore[import-untyped]

from hotline.crypto.errors import CryptoError
from hotline.crypto.mlkem import CIPHERTEXT_LEN, PUBLIC_KEY_LEN, SEED_LEN

#: The length of the encapsulation randomness ``m`` (FIPS 203 Algorithm 20, step 1).
MESSAGE_LEN = 32


def keypair_from_seed(seed: bytes) -> tuple[bytes, bytes]:
    """ML-KEM-768 KeyGen_internal from a 64-byte seed ``d || z``: returns (encaps key, decaps key)."""
    if len(seed) != SEED_LEN:
        raise ValueError("an ML-KEM-768 seed is 64 bytes")
    ek, dk = ML_KEM_768.key_derive(bytes(seed))
    return bytes(ek), bytes(dk)


def encapsulate_with(public_key: bytes, m: bytes) -> tuple[bytes, bytes]:
    """ML-KEM-768 Encaps_internal with the given ``m``: returns (shared_secret, ciphertext).

    Raises:
        CryptoError: the key has the wrong length or fails FIPS 203's modulus check.
    """
    if len(m) != MESSAGE_LEN:
        raise ValueError("the ML-KEM encapsulation randomness is 32 bytes")
    if len(public_key) != PUBLIC_KEY_LEN:
        raise CryptoError("an ML-KEM-768 public key is 1184 bytes")
    try:
        secret, ciphertext = ML_KEM_768._encaps_internal(bytes(public_key), bytes(m))
    except ValueError as exc:
        raise CryptoError("invalid ML-KEM-768 public key") from exc
    return bytes(secret), bytes(ciphertext)


class DeterministicMLKEM768:
    """ML-KEM-768 with caller-chosen randomness. Not safe for concurrent use; never use outside tests.

    Args:
        seeds: the 64-byte seeds :meth:`generate` uses, one per call, in order. Running out is an
            error, so a test cannot silently fall back to fresh randomness.
        m: the 32-byte encapsulation randomness every :meth:`encapsulate` uses.
    """

    name = "MLKEM768"
    public_key_len = PUBLIC_KEY_LEN
    ciphertext_len = CIPHERTEXT_LEN

    def __init__(self, *, seeds: Iterable[bytes] = (), m: bytes = bytes(MESSAGE_LEN)) -> None:
        if len(m) != MESSAGE_LEN:
            raise ValueError("the ML-KEM encapsulation randomness is 32 bytes")
        self._seeds = list(seeds)
        self.m = bytes(m)

    def generate(self) -> tuple[bytes, bytes]:
        """Generate from the next seed: returns (seed, public_key_bytes)."""
        if not self._seeds:
            raise AssertionError("DeterministicMLKEM768 has no seed left for generate()")
        seed = self._seeds.pop(0)
        public, _ = keypair_from_seed(seed)
        return seed, public

    def encapsulate(self, public_key: bytes) -> tuple[bytes, bytes]:
        """Encapsulate to ``public_key`` with the fixed ``m``: returns (shared_secret, ciphertext)."""
        return encapsulate_with(public_key, self.m)

    def decapsulate(self, private_state: bytes, ciphertext: bytes) -> bytes:
        """Decapsulate with the key derived from the seed ``private_state``: returns the shared secret."""
        if len(ciphertext) != CIPHERTEXT_LEN:
            raise CryptoError("an ML-KEM-768 ciphertext is 1088 bytes")
        _, dk = keypair_from_seed(private_state)
        try:
            return bytes(ML_KEM_768.decaps(dk, bytes(ciphertext)))
        except ValueError as exc:
            raise CryptoError("invalid ML-KEM-768 ciphertext") from exc
