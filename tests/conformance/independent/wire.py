"""Bytes on the wire: the msgpack subset (§2.1, §5.3), records (§5.1), padding (§5.2), the message
stream (§5.3), line messages and the transcript chain (§10, §10.1).

The msgpack codec is written here from §2.1: only integers, ``str``, ``bin`` and arrays occur.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass

Value = int | str | bytes | list["Value"]


class WireError(Exception):
    """Bytes that break a rule of the protocol."""


# -- msgpack (§2.1: shortest forms written; §5.3: any width read)


def pack(value: Value) -> bytes:
    """The canonical msgpack encoding of ``value`` (§2.1)."""
    if isinstance(value, bool):
        raise WireError("no booleans in Hotline msgpack")
    if isinstance(value, int):
        return _pack_int(value)
    if isinstance(value, str):
        raw = value.encode("utf-8")
        return _header(len(raw), 0xA0, 31, (0xD9, 0xDA, 0xDB)) + raw
    if isinstance(value, bytes):
        n = len(value)
        if n <= 0xFF:
            return b"\xc4" + bytes([n]) + value
        if n <= 0xFFFF:
            return b"\xc5" + struct.pack(">H", n) + value
        return b"\xc6" + struct.pack(">I", n) + value
    if isinstance(value, list):
        return _header(len(value), 0x90, 15, (None, 0xDC, 0xDD)) + b"".join(pack(v) for v in value)
    raise WireError(f"cannot encode {type(value).__name__}")


def _header(n: int, fix: int, fix_max: int, wide: tuple[int | None, int, int]) -> bytes:
    if n <= fix_max:
        return bytes([fix | n])
    if wide[0] is not None and n <= 0xFF:
        return bytes([wide[0], n])
    if n <= 0xFFFF:
        return bytes([wide[1]]) + struct.pack(">H", n)
    return bytes([wide[2]]) + struct.pack(">I", n)


def _pack_int(v: int) -> bytes:
    if 0 <= v <= 0x7F:
        return bytes([v])
    if v > 0:
        for tag, fmt, top in ((0xCC, ">B", 0xFF), (0xCD, ">H", 0xFFFF), (0xCE, ">I", 0xFFFFFFFF)):
            if v <= top:
                return bytes([tag]) + struct.pack(fmt, v)
        return b"\xcf" + struct.pack(">Q", v)
    if v >= -32:
        return struct.pack(">b", v)
    for tag, fmt, low in ((0xD0, ">b", -(2**7)), (0xD1, ">h", -(2**15)), (0xD2, ">i", -(2**31))):
        if v >= low:
            return bytes([tag]) + struct.pack(fmt, v)
    return b"\xd3" + struct.pack(">q", v)


_WIDTHS = {0xCC: ">B", 0xCD: ">H", 0xCE: ">I", 0xCF: ">Q", 0xD0: ">b", 0xD1: ">h", 0xD2: ">i", 0xD3: ">q"}


def unpack(data: bytes) -> Value:
    """Decode one msgpack value that is the whole of ``data`` (any width accepted)."""
    value, end = _unpack_at(data, 0)
    if end != len(data):
        raise WireError("bytes after the msgpack value")
    return value


def unpack_canonical(data: bytes) -> Value:
    """Decode ``data`` and insist that it is the canonical encoding (§2.1)."""
    value = unpack(data)
    if pack(value) != data:
        raise WireError("not canonical msgpack")
    return value


def _take(data: bytes, at: int, n: int) -> bytes:
    if at + n > len(data):
        raise WireError("truncated msgpack")
    return data[at : at + n]


def _unpack_at(data: bytes, at: int) -> tuple[Value, int]:
    b = _take(data, at, 1)[0]
    at += 1
    if b <= 0x7F:
        return b, at
    if b >= 0xE0:
        return b - 0x100, at
    if b in _WIDTHS:
        fmt = _WIDTHS[b]
        size = struct.calcsize(fmt)
        return int(struct.unpack(fmt, _take(data, at, size))[0]), at + size
    if 0xA0 <= b <= 0xBF or b in (0xD9, 0xDA, 0xDB):
        n, at = _length(data, at, b, 0xA0, 0x1F, (0xD9, 0xDA, 0xDB))
        try:
            return _take(data, at, n).decode("utf-8"), at + n
        except UnicodeDecodeError:
            raise WireError("invalid UTF-8 in str") from None
    if b in (0xC4, 0xC5, 0xC6):
        n, at = _length(data, at, b, -1, 0, (0xC4, 0xC5, 0xC6))
        return _take(data, at, n), at + n
    if 0x90 <= b <= 0x9F or b in (0xDC, 0xDD):
        n, at = _length(data, at, b, 0x90, 0x0F, (-1, 0xDC, 0xDD))
        items: list[Value] = []
        for _ in range(n):
            item, at = _unpack_at(data, at)
            items.append(item)
        return items, at
    raise WireError(f"msgpack type 0x{b:02x} does not occur in Hotline")


def _length(data: bytes, at: int, b: int, fix: int, mask: int, wide: tuple[int, int, int]) -> tuple[int, int]:
    if fix >= 0 and b & ~mask == fix:
        return b & mask, at
    size = {wide[0]: 1, wide[1]: 2, wide[2]: 4}[b]
    return int.from_bytes(_take(data, at, size), "big"), at + size


# -- records (§5.1) and padding (§5.2)

HANDSHAKE_INIT, HANDSHAKE_RESPONSE, TRANSPORT_PHASE0, TRANSPORT_PHASE1 = 1, 2, 3, 4
BUCKETS = (64, 128, 256, 512, 1024, 2048, 4096, 8192, 12288, 16384, 24576, 32768, 49152, 65518)
MAX_CONTENT = 65515


def record(kind: int, body: bytes) -> bytes:
    """``u16be(len) || type || body``."""
    return struct.pack(">HB", 1 + len(body), kind) + body


def pad(content: bytes) -> bytes:
    """A kind 1 transport plaintext holding ``content``, padded to its bucket."""
    plain = b"\x01" + struct.pack(">H", len(content)) + content
    size = next(b for b in BUCKETS if b >= len(plain))
    return plain + bytes(size - len(plain))


def unpad(plain: bytes) -> bytes:
    """The content of a kind 1 plaintext, checking every rule of §5.2."""
    if len(plain) not in BUCKETS or plain[0] != 1:
        raise WireError("bad plaintext size or kind")
    n = struct.unpack(">H", plain[1:3])[0]
    end = 3 + n
    if end > len(plain) or any(plain[end:]):
        raise WireError("bad padding")
    if next(b for b in BUCKETS if b >= end) != len(plain):
        raise WireError("padded into a larger bucket than needed")
    return plain[3:end]


# -- the message stream (§5.3)

DATA, PING, PONG, REKEY_INIT, REKEY_RESPONSE, REKEY_REQUEST, CLOSE = range(7)


def frame(message: list[Value]) -> bytes:
    """One framed session message: ``u32be(length) || msgpack``."""
    encoded = pack(message)
    return struct.pack(">I", len(encoded)) + encoded


class StreamReader:
    """Reassembles framed messages from record contents."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, content: bytes) -> list[list[Value]]:
        """Add one record's content; returns the messages it completes."""
        self._buffer += content
        out: list[list[Value]] = []
        while len(self._buffer) >= 4:
            n = struct.unpack(">I", self._buffer[:4])[0]
            if not 1 <= n <= 1_048_576:
                raise WireError("bad frame length")
            if len(self._buffer) < 4 + n:
                break
            message = unpack(self._buffer[4 : 4 + n])
            self._buffer = self._buffer[4 + n :]
            if not isinstance(message, list) or not message or not isinstance(message[0], int):
                raise WireError("a session message is an array with a tag first")
            out.append(message)
        return out


# -- line messages (§10) and the chain (§10.1)

HELLO, ENTRY, RECEIPT = 0, 1, 2
TEXT, ACK, TEST, TEST_REPLY = 0, 1, 2, 3
FLASH, IMMEDIATE, PRIORITY, ROUTINE = 0, 1, 2, 3
CHAIN_LABEL = b"hotline/chain/v1"
CHAIN_LABEL_CNSA2 = b"hotline/chain/v1/SHA384"


@dataclass(frozen=True)
class Entry:
    """One transcript entry (§10, tag 1)."""

    seq: int
    id: bytes
    kind: int
    precedence: int
    created_ms: int
    ref: bytes
    body: bytes
    chain: bytes

    def fields(self) -> list[Value]:
        """The array the chain hashes: every field but ``chain``."""
        return [self.seq, self.id, self.kind, self.precedence, self.created_ms, self.ref, self.body]

    def message(self) -> list[Value]:
        return [ENTRY, *self.fields(), self.chain]

    @staticmethod
    def parse(msg: list[Value]) -> Entry:
        if len(msg) != 9:
            raise WireError("an Entry has 8 fields")
        seq, id_, kind, prec, created, ref, body, chain = msg[1:]
        if not (isinstance(seq, int) and isinstance(kind, int) and isinstance(prec, int)):
            raise WireError("Entry integers")
        if not (isinstance(created, int) and isinstance(id_, bytes) and isinstance(ref, bytes)):
            raise WireError("Entry types")
        if not (isinstance(body, bytes) and isinstance(chain, bytes)):
            raise WireError("Entry types")
        if seq < 1 or len(id_) != 10 or len(ref) not in (0, 10) or len(chain) != 32:
            raise WireError("Entry lengths")
        return Entry(seq, id_, kind, prec, created, ref, body, chain)


def chain_start(sender_digest: bytes, recipient_digest: bytes, profile: str = "standard") -> bytes:
    """``H0`` of the direction from ``sender`` (§10.1), digests of the line's profile."""
    if profile == "standard":
        return hashlib.blake2s(CHAIN_LABEL + sender_digest + recipient_digest).digest()
    return hashlib.sha384(CHAIN_LABEL_CNSA2 + sender_digest + recipient_digest).digest()[:32]


def chain_next(head: bytes, fields: list[Value], profile: str = "standard") -> bytes:
    """``Hn`` from ``H(n-1)`` and the entry's fields (§10.1)."""
    if profile == "standard":
        return hashlib.blake2s(head + pack(fields), key=CHAIN_LABEL).digest()
    return hmac.digest(CHAIN_LABEL_CNSA2, head + pack(fields), "sha384")[:32]
