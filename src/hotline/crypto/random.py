"""Randomness for the layers above. The sans-IO core never calls this itself: it takes bytes drawn here
as arguments, so every exchange can be replayed in tests."""

import secrets


def random_bytes(n: int) -> bytes:
    """Return ``n`` bytes from the operating system's CSPRNG."""
    return secrets.token_bytes(n)
