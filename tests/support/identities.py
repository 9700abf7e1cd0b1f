"""Reproducible station identities for tests."""

from __future__ import annotations

from hotline.proto.identity import Identity


def fixed_identity(name: str, n: int) -> Identity:
    """A reproducible identity: every secret part is one repeated byte."""
    return Identity.from_parts(
        name, static_key=bytes([n]) * 32, kem_seed=bytes([n + 1]) * 64, signing_seed=bytes([n + 2]) * 64
    )
