"""What the store raises: one base class, and the full disk named apart because the operator can act on it."""

from __future__ import annotations


class StoreError(Exception):
    """The store could not do what was asked; ``reason`` says why in words an operator can act on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class StoreFull(StoreError):
    """The disk (or the store's configured size limit) is full; nothing already stored was lost."""


class StoreCorrupt(StoreError):
    """A stored value does not decrypt or parse: the file was damaged or altered."""


__all__ = ["StoreCorrupt", "StoreError", "StoreFull"]
