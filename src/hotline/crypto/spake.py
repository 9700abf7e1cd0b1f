"""Symmetric SPAKE2 over Ed25519 (the ``spake2`` package, the same one magic-wormhole uses).

This is the only importer of ``spake2``. It gives the exchange one shape: :meth:`SymmetricPake.start`
returns the message to send, :meth:`SymmetricPake.finish` takes the peer's and returns a 32-byte key,
and everything a hostile message can trigger inside the package (its own exceptions, a
``ValueError`` from decoding a point, even ``AssertionError``) becomes one opaque :class:`CryptoError`.

A wrong password does *not* fail here: both sides get keys, and the keys differ. Detecting that is
the caller's key confirmation.

What this does not promise: the package is pure Python, so its scalar multiplication is not constant
time. An attacker who can time one exchange to the microsecond learns about the ephemeral scalar of
that exchange, which is used once; the password only enters as a fixed blinding term.
"""

from __future__ import annotations

from collections.abc import Callable

from spake2 import SPAKE2_Symmetric  # type: ignore[import-untyped]  # the package ships no types

from hotline.crypto.errors import CryptoError
from hotline.crypto.random import random_bytes

#: Length of a SPAKE2 message: the side byte ``S`` and an encoded Ed25519 point.
MESSAGE_LEN = 33
#: Length of the shared key.
KEY_LEN = 32

_SIDE = b"S"


class SymmetricPake:
    """One side of a symmetric SPAKE2 exchange. Single use: one :meth:`start`, one :meth:`finish`.

    Not safe for concurrent use.
    """

    __slots__ = ("_finished", "_message", "_pake")

    def __init__(
        self, password: bytes, context: bytes, *, entropy: Callable[[int], bytes] = random_bytes
    ) -> None:
        """Prepare an exchange.

        Args:
            password: the shared low-entropy secret.
            context: a label binding the exchange to one protocol (SPAKE2's ``idSymmetric``).
            entropy: where the ephemeral scalar comes from (the OS CSPRNG unless a test injects one).
        """
        self._pake = SPAKE2_Symmetric(bytes(password), idSymmetric=bytes(context), entropy_f=entropy)
        self._message: bytes | None = None
        self._finished = False

    def start(self) -> bytes:
        """Returns the message to send to the peer (:data:`MESSAGE_LEN` bytes).

        Raises:
            CryptoError: called twice.
        """
        if self._message is not None:
            raise CryptoError("a SPAKE2 exchange starts once")
        message = bytes(self._pake.start())
        assert len(message) == MESSAGE_LEN
        self._message = message
        return message

    def finish(self, peer_msg: bytes) -> bytes:
        """Returns the shared key (:data:`KEY_LEN` bytes) from the peer's message.

        Raises:
            CryptoError: the message is malformed (wrong length or side, not a point of the group,
                our own message reflected), or the exchange was not started or is already finished.
        """
        if self._message is None or self._finished:
            raise CryptoError("a SPAKE2 exchange finishes once, after it started")
        self._finished = True
        peer_msg = bytes(peer_msg)
        if len(peer_msg) != MESSAGE_LEN or peer_msg[:1] != _SIDE:
            raise CryptoError("malformed SPAKE2 message")
        try:
            key = self._pake.finish(peer_msg)
        except Exception as exc:  # the package raises its own errors, ValueError and asserts alike
            raise CryptoError("malformed SPAKE2 message") from exc
        if not isinstance(key, bytes) or len(key) != KEY_LEN:
            raise CryptoError("SPAKE2 produced a key of the wrong length")
        return key


__all__ = ["KEY_LEN", "MESSAGE_LEN", "SymmetricPake"]
