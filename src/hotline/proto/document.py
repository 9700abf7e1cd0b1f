"""Documents over a line (docs/protocol.md §13): what the transcript says about a document.

A document is announced by a DOC entry in the sender's transcript, so its description is numbered,
hash-chained, receipted and acknowledged like a message, and a line test covers it. The entry's body
is a :class:`DocMeta`: the document's id, its name (metadata only: never a path on the receiving
side), its size and its SHA-256. The bytes then travel as :class:`~hotline.proto.linemsg.DocData`
chunks outside the transcript, and the receiver reports what it holds with
:class:`~hotline.proto.linemsg.DocProgress`; a document is complete only when every byte is stored
and the whole hash matches.
"""

from __future__ import annotations

import enum
import unicodedata

import msgspec

from hotline.proto.constants import DOC_CHUNK as CHUNK
from hotline.proto.constants import DOC_HASH_LEN as HASH_LEN
from hotline.proto.constants import DOC_ID_LEN
from hotline.proto.constants import DOC_MAX_NAME as MAX_NAME
from hotline.proto.constants import DOC_MAX_SIZE as MAX_SIZE


class DocState(enum.IntEnum):
    """What a receiver says about a document in a DocProgress (and the sender's one question)."""

    #: Send from ``stored`` on.
    RECEIVING = 0
    #: Every byte is stored and the hash matched.
    COMPLETE = 1
    #: The receiver cannot store more now (its disk is full); it says RECEIVING again when it can.
    PAUSED = 2
    #: The document failed its checks (size or hash); nothing more will be taken.
    FAILED = 3
    #: From the sender: where does the receiver stand? (Asked on every new session for each
    #: document the sender has not heard the end of; answered with COMPLETE or FAILED if it ended.)
    WHERE = 4


class DocMeta(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """The body of a DOC entry."""

    doc_id: bytes
    name: str
    size: int
    sha256: bytes


class DocMetaError(ValueError):
    """A DOC entry's body is not a well-formed document description."""


_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(DocMeta)


def encode_meta(meta: DocMeta) -> bytes:
    """The DOC entry body for ``meta``."""
    return _ENCODER.encode(meta)


def decode_meta(body: bytes) -> DocMeta:
    """Parse and check a DOC entry's body.

    Raises:
        DocMetaError: malformed or out of range.
    """
    try:
        meta = _DECODER.decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise DocMetaError(f"malformed document description: {exc}") from None
    if len(meta.doc_id) != DOC_ID_LEN or len(meta.sha256) != HASH_LEN:
        raise DocMetaError("document id or hash has the wrong length")
    if not 0 <= meta.size <= MAX_SIZE:
        raise DocMetaError(f"document size {meta.size} out of range")
    if clean_name(meta.name) != meta.name:
        raise DocMetaError("document name is not a clean file name")
    return meta


def clean_name(name: str) -> str:
    """A file name safe to show and to suggest: no directories, no control characters, not hidden,
    at most :data:`MAX_NAME` bytes. The sender applies it; the receiver refuses anything it changes."""
    name = unicodedata.normalize("NFC", name)
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = name.strip().lstrip(".")
    encoded = name.encode("utf-8")[:MAX_NAME]
    name = encoded.decode("utf-8", errors="ignore").strip()
    return name or "document"


def chunks(size: int) -> int:
    """How many chunks a document of ``size`` bytes has (an empty one has none)."""
    return (size + CHUNK - 1) // CHUNK


__all__ = [
    "CHUNK",
    "DOC_ID_LEN",
    "HASH_LEN",
    "MAX_NAME",
    "MAX_SIZE",
    "DocMeta",
    "DocMetaError",
    "DocState",
    "chunks",
    "clean_name",
    "decode_meta",
    "encode_meta",
]
