"""Strict reading of canonical msgpack: the one way cards and sealed line keys are parsed.

A value is accepted only if it decodes into the expected fixed-shape struct *and* re-encodes to
exactly the bytes it came from, so every accepted value has one byte string (nothing can be
smuggled into a second spelling of the same signed data). Failures become the caller's own
:class:`~hotline.proto.identity_errors.IdentityError` subclass with a reason an operator can read.
"""

from __future__ import annotations

from typing import TypeVar

import msgspec

from hotline.proto.identity_errors import IdentityError

T = TypeVar("T")

_ENCODER = msgspec.msgpack.Encoder()


def decode_failure(exc: Exception, what: str, error: type[IdentityError]) -> IdentityError:
    """The operator-facing error for a msgspec failure while reading ``what``."""
    message = str(exc)
    if "truncated" in message:
        return error(f"{what} is truncated")
    if "trailing characters" in message:
        return error(f"{what} has trailing bytes after its end")
    if isinstance(exc, msgspec.ValidationError):
        return error(f"{what} has the wrong structure ({message})")
    return error(f"{what} is malformed (not a valid encoding)")


def decode_canonical(
    decoder: msgspec.msgpack.Decoder[T],
    data: object,
    *,
    what: str,
    error: type[IdentityError],
    max_len: int | None = None,
) -> T:
    """Decode ``data`` and insist that it was the canonical encoding.

    With ``max_len``, ``data`` is outside input: it must also be bytes-like, non-empty and no longer
    than that, checked before any parsing.

    Raises:
        IdentityError: of type ``error``, naming ``what`` and the problem.
    """
    if max_len is not None:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise error(f"{what} is not bytes")
        data = bytes(data)
        if not data:
            raise error(f"{what} is empty")
        if len(data) > max_len:
            raise error(f"{what} is larger than {max_len} bytes")
    assert isinstance(data, bytes)
    try:
        value = decoder.decode(data)
    except (msgspec.DecodeError, ValueError) as exc:  # invalid UTF-8 surfaces as UnicodeDecodeError
        raise decode_failure(exc, what, error) from None
    if _ENCODER.encode(value) != data:
        raise error(f"{what} is not in canonical encoding")
    return value
