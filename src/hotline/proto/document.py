"""Documents over a line (docs/protocol.md §13): what the transcript says about a document.

A document is announced by a DOC entry in the sender's transcript, so its description is numbered,
hash-chained, receipted and acknowledged like a message, and a line test covers it. The entry's body
is a :class:`DocMeta`: the document's id, its name (metadata only: never a path on the receiving
side), its size, its digest and the name of the hash that made it (BLAKE3 on ``standard`` lines,
SHA-384 on ``cnsa2`` ones; an entry that names none is SHA-256, as every entry made before the
profiles was, and its body is byte for byte what it was). The bytes then travel as
:class:`~hotline.proto.linemsg.DocData` chunks outside the transcript, and the receiver reports
what it holds with :class:`~hotline.proto.linemsg.DocProgress`; a document is complete only when
every byte is stored and the whole hash matches.
"""

from __future__ import annotations

import enum
import unicodedata
from typing import Literal

import msgspec

from hotline.crypto.hashing import HASHER_LEN
from hotline.proto.constants import DOC_CHUNK as CHUNK
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


#: The hashes a DOC entry may name: SHA-256 (entries from before the profiles), BLAKE3 (``standard``),
#: SHA-384 (``cnsa2``).
DocHash = Literal["SHA256", "BLAKE3", "SHA384"]
#: The hash of a DOC entry that names none.
LEGACY_HASH: DocHash = "SHA256"
#: The hash a line of each profile describes its new documents with.
PROFILE_HASH: dict[str, DocHash] = {"standard": "BLAKE3", "cnsa2": "SHA384"}
#: The hashes a receiver takes on a line of each profile: its own, and on ``standard`` SHA-256 too
#: (a document queued, or an entry chained, before documents hashed with BLAKE3). A ``cnsa2`` line
#: takes SHA-384 alone: no entry of it predates the profiles.
ACCEPTED_HASHES: dict[str, frozenset[DocHash]] = {
    "standard": frozenset({"BLAKE3", "SHA256"}),
    "cnsa2": frozenset({"SHA384"}),
}
#: Digest length of each hash.
HASH_LEN: dict[DocHash, int] = {name: HASHER_LEN[name] for name in ("SHA256", "BLAKE3", "SHA384")}


#: How each hash is named to people.
HASH_LABEL = {"SHA256": "SHA-256", "BLAKE3": "BLAKE3", "SHA384": "SHA-384"}


def hash_label(name: str) -> str:
    """A document hash's name as people write it (``BLAKE3``, ``SHA-384``, ``SHA-256``)."""
    return HASH_LABEL.get(name, name)


def document_hash(profile: str) -> DocHash:
    """The hash of the documents a line of ``profile`` sends. Raises :class:`ValueError` for no profile."""
    try:
        return PROFILE_HASH[profile]
    except KeyError:
        raise ValueError(f"no line profile {profile!r}") from None


class DocMeta(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """The body of a DOC entry: ``[doc_id, name, size, digest]`` plus ``hash`` unless it is SHA-256
    (so an entry from before the profiles encodes, and chains, exactly as it did)."""

    doc_id: bytes
    name: str
    size: int
    digest: bytes
    hash: str = LEGACY_HASH


class DocMetaError(ValueError):
    """A DOC entry's body is not a well-formed document description."""


_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(DocMeta)


def encode_meta(meta: DocMeta) -> bytes:
    """The DOC entry body for ``meta``: four fields for SHA-256 (as before the profiles), else five."""
    fields: list[object] = [meta.doc_id, meta.name, meta.size, meta.digest]
    if meta.hash != LEGACY_HASH:
        fields.append(meta.hash)
    return _ENCODER.encode(fields)


def decode_meta(body: bytes, accepted: frozenset[DocHash] | None = None) -> DocMeta:
    """Parse and check a DOC entry's body; ``accepted``: the hashes the line takes (default: any of
    :data:`DocHash`; a receiver passes its profile's :data:`ACCEPTED_HASHES`).

    Raises:
        DocMetaError: malformed, out of range, or a hash the line does not take.
    """
    try:
        meta = _DECODER.decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise DocMetaError(f"malformed document description: {exc}") from None
    known: frozenset[str] = frozenset(HASH_LEN) if accepted is None else accepted
    if meta.hash not in known:
        raise DocMetaError(f"document hash {meta.hash[:16]!r} is not one this line takes")
    if len(meta.doc_id) != DOC_ID_LEN or len(meta.digest) != HASH_LEN[meta.hash]:  # type: ignore[index]
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
    "ACCEPTED_HASHES",
    "CHUNK",
    "DOC_ID_LEN",
    "HASH_LABEL",
    "HASH_LEN",
    "LEGACY_HASH",
    "MAX_NAME",
    "MAX_SIZE",
    "PROFILE_HASH",
    "DocHash",
    "DocMeta",
    "DocMetaError",
    "DocState",
    "chunks",
    "clean_name",
    "decode_meta",
    "document_hash",
    "encode_meta",
    "hash_label",
]
