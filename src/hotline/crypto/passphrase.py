"""Passphrase-derived keys: Argon2id (RFC 9106).

Parameters are stored beside what they protect so they can be raised later without breaking old
files. The default follows RFC 9106 §4's second recommendation (64 MiB, 3 passes, 4 lanes): a
fraction of a second on a small server, and memory-hard enough that guessing costs an attacker real
hardware.
"""

from dataclasses import dataclass

from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from hotline.crypto.errors import CryptoError


@dataclass(frozen=True, slots=True)
class Argon2Params:
    """Argon2id cost parameters."""

    #: Memory in KiB.
    memory_kib: int = 64 * 1024
    #: Passes over memory.
    iterations: int = 3
    #: Degree of parallelism.
    lanes: int = 4

    def __post_init__(self) -> None:
        if not (8 * self.lanes <= self.memory_kib <= 4 * 1024 * 1024):
            raise CryptoError("Argon2id memory must be between 8*lanes KiB and 4 GiB")
        if not (1 <= self.iterations <= 64) or not (1 <= self.lanes <= 64):
            raise CryptoError("Argon2id iterations and lanes must be between 1 and 64")


def derive_key(passphrase: bytes, salt: bytes, params: Argon2Params, length: int = 32) -> bytes:
    """Stretch ``passphrase`` into a ``length``-byte key."""
    if len(salt) < 16:
        raise CryptoError("an Argon2id salt is at least 16 bytes")
    kdf = Argon2id(
        salt=salt,
        length=length,
        iterations=params.iterations,
        lanes=params.lanes,
        memory_cost=params.memory_kib,
    )
    return kdf.derive(passphrase)
