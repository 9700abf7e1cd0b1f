"""Test only: log every ChaCha20-Poly1305, BLAKE2 and ML-KEM-768 use of a station process.

Put this directory on a daemon's ``PYTHONPATH`` with ``HOTLINE_PRIMITIVE_LOG`` naming a file, and
Python imports it at start-up, before any Hotline module: it replaces the entry points of those
primitives (pyca's ``ChaCha20Poly1305``, ``hashes.BLAKE2s``/``BLAKE2b`` and every
``Hash``, ``HMAC`` and ``HKDF`` over them, ``MLKEM768PrivateKey``/
``MLKEM768PublicKey``, the MLKEM768-X25519 HPKE keys; hashlib's ``blake2s``, ``blake2b`` and
``new``) with stand-ins that append ``monotonic time, primitive, calling Hotline module`` to the file,
then do the real work (the module is every Hotline module on the stack, innermost
first, joined by ``<``). A ChaCha20-Poly1305 key logs each seal and open, not only its making. The
monotonic clock is the machine's, so a test can compare the times with its own.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from typing import Any

_PATH = os.environ.get("HOTLINE_PRIMITIVE_LOG")


def _caller() -> str:
    # the Hotline modules on the stack, innermost first (each once), below the crypto wrappers
    frame = sys._getframe(2)
    names: list[str] = []
    while frame is not None:
        name = str(frame.f_globals.get("__name__", ""))
        if name.startswith("hotline.") and not name.startswith("hotline.crypto") and name not in names:
            names.append(name)
        frame = frame.f_back  # type: ignore[assignment]
    return "<".join(names) or "-"


def _log(primitive: str) -> None:
    assert _PATH is not None
    line = f"{time.monotonic():.6f}\t{primitive}\t{_caller()}\n".encode()
    fd = os.open(_PATH, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


class _Logged:
    """A pyca class or a hashlib constructor: each call and class method is logged, then run."""

    def __init__(self, name: str, original: Any) -> None:
        self._name, self._original = name, original

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        _log(self._name)
        return self._original(*args, **kwargs)

    def __getattr__(self, attr: str) -> Any:
        if not attr.startswith("__"):
            _log(self._name)
        return getattr(self._original, attr)


class _LoggedAead:
    """A ChaCha20-Poly1305 key whose every seal and open is logged."""

    def __init__(self, original: Any, key: bytes) -> None:
        _log("ChaCha20")
        self._aead = original(key)

    def __getattr__(self, attr: str) -> Any:
        # encrypt, decrypt, encrypt_into, decrypt_into...: each call is an operation
        method = getattr(self._aead, attr)
        if attr.startswith("__") or not callable(method):
            return method

        def logged(*args: Any, **kwargs: Any) -> Any:
            _log("ChaCha20")
            return method(*args, **kwargs)

        return logged


def _over_blake2(original: Any) -> Any:
    """``original`` (pyca's Hash, HMAC or HKDF), logging each one made over a BLAKE2 algorithm."""

    def made(*args: Any, **kwargs: Any) -> Any:
        algorithm = kwargs.get("algorithm")
        if algorithm is None:
            algorithm = next((a for a in args if hasattr(a, "digest_size") and hasattr(a, "name")), None)
        if algorithm is not None and str(algorithm.name).startswith("blake2"):
            _log("BLAKE2")
        return original(*args, **kwargs)

    return made


def _install() -> None:
    from cryptography.hazmat.primitives import hashes, hpke
    from cryptography.hazmat.primitives import hmac as pyca_hmac
    from cryptography.hazmat.primitives.asymmetric import mlkem
    from cryptography.hazmat.primitives.ciphers import aead
    from cryptography.hazmat.primitives.kdf import hkdf

    chacha = aead.ChaCha20Poly1305

    class ChaCha20Poly1305(_LoggedAead):
        def __init__(self, key: bytes) -> None:
            super().__init__(chacha, key)

        @staticmethod
        def generate_key() -> bytes:
            _log("ChaCha20")
            return bytes(chacha.generate_key())

    aead.ChaCha20Poly1305 = ChaCha20Poly1305  # type: ignore[misc]
    for attr in ("blake2s", "blake2b"):
        setattr(hashlib, attr, _Logged("BLAKE2", getattr(hashlib, attr)))
    new = hashlib.new

    def logged_new(name: str, *args: Any, **kwargs: Any) -> Any:
        if "blake2" in name.lower():
            _log("BLAKE2")
        return new(name, *args, **kwargs)

    hashlib.new = logged_new
    hashes.BLAKE2s = _Logged("BLAKE2", hashes.BLAKE2s)  # type: ignore[misc]
    hashes.BLAKE2b = _Logged("BLAKE2", hashes.BLAKE2b)  # type: ignore[misc]
    # an algorithm object made once and kept is logged when it is made, not when it is used: each
    # hash, HMAC and HKDF made over a BLAKE2 algorithm is logged too
    for module, attr in ((hashes, "Hash"), (pyca_hmac, "HMAC"), (hkdf, "HKDF")):
        setattr(module, attr, _over_blake2(getattr(module, attr)))
    for attr in ("MLKEM768PrivateKey", "MLKEM768PublicKey"):
        setattr(mlkem, attr, _Logged("ML-KEM-768", getattr(mlkem, attr)))
    for attr in ("MLKEM768X25519PrivateKey", "MLKEM768X25519PublicKey"):
        if hasattr(hpke, attr):
            setattr(hpke, attr, _Logged("ML-KEM-768", getattr(hpke, attr)))


if _PATH:
    _install()
