"""Message ids as the station makes them and operators see them.

A message id is 10 random bytes (``hotline.proto.linemsg.MESSAGE_ID_LEN``); operators see it as 16
lowercase base32 characters. Every part of the station that names a message (requests, documents,
calls, views) uses these three functions, so an id typed by an operator and one printed by the
station always agree.
"""

from __future__ import annotations

import base64

from hotline.crypto.random import random_bytes
from hotline.proto.linemsg import MESSAGE_ID_LEN
from hotline.station.errors import StationError


def new_message_id() -> bytes:
    """A fresh random message id."""
    return random_bytes(MESSAGE_ID_LEN)


def show_id(message_id: bytes) -> str:
    """A message id as operators see it: 16 lowercase base32 characters."""
    return base64.b32encode(message_id).decode("ascii").lower()


def parse_id(text: str) -> bytes:
    """The inverse of :func:`show_id`.

    Raises:
        StationError: ``no-such-message`` when ``text`` is not a message id.
    """
    try:
        raw = base64.b32decode(text.strip().upper(), casefold=True)
    except (ValueError, TypeError):
        raw = b""
    if len(raw) != MESSAGE_ID_LEN:
        raise StationError("no-such-message", f"{text!r} is not a message id (16 letters and digits)")
    return raw
