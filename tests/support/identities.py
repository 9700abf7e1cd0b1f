"""Reproducible station identities for tests."""

from __future__ import annotations

from hotline.proto.identity import Cnsa2Parts, Identity


def fixed_identity(name: str, n: int) -> Identity:
    """A reproducible identity: every secret part is one repeated byte."""
    return Identity.from_parts(
        name, static_key=bytes([n]) * 32, kem_seed=bytes([n + 1]) * 64, signing_seed=bytes([n + 2]) * 64
    )


def fixed_cnsa2_identity(name: str, n: int) -> Identity:
    """:func:`fixed_identity` with cnsa2 keys added, every cnsa2 part one repeated byte too."""
    return fixed_identity(name, n).with_cnsa2(
        Cnsa2Parts(kem_seed=bytes([n + 3]) * 64, seal_key=bytes([n + 4]) * 48, mldsa_seed=bytes([n + 5]) * 32)
    )
