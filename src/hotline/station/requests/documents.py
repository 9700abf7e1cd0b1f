"""The control socket's document requests (docs/control.md, "Documents").

``send.file`` hashes and queues a file (streaming ``hashing`` events); with ``wait`` it goes on
streaming ``document`` events until the far end holds the whole, verified document. ``files`` lists
documents both ways; ``file.get`` writes a received document out to a new file, checking its hash
again on the way.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from hotline.crypto.hashing import hasher
from hotline.proto.document import CHUNK, DocMetaError, decode_meta, hash_label
from hotline.proto.linemsg import Precedence
from hotline.station import outfile
from hotline.station.documents import describe_doc, doc_dir
from hotline.station.errors import StationError
from hotline.station.ids import parse_id
from hotline.station.lookup import lookup
from hotline.station.requests.base import Args, Emit, StationHost, absolute_path, need_running
from hotline.store.blobs import Blob
from hotline.store.db import Store
from hotline.store.documents import BlobRef
from hotline.store.errors import StoreError
from hotline.store.rows import DocRow
from hotline.store.schema import IN


class SendFileArgs(Args):
    peer: str
    #: An absolute path: the daemon reads the file.
    path: str
    precedence: str = "routine"
    #: Stream progress until the far end holds the verified document.
    wait: bool = False


class FilesArgs(Args):
    peer: str | None = None


class FileGetArgs(Args):
    id: str
    out: str
    #: The line, when the id is on several (see hotline.station.lookup).
    peer: str | None = None


async def send_file(station: StationHost, args: SendFileArgs, emit: Emit) -> dict[str, object]:
    """``send.file``: hash and queue a file; with ``wait``, stream until the far end holds it."""
    line = station.line(args.peer)
    if not line.row.verified:
        raise StationError("not-verified", f"the line {args.peer!r} is not verified: verify it first")
    try:
        precedence = Precedence[args.precedence.upper()]
    except KeyError:
        raise StationError("bad-request", f"unknown precedence {args.precedence!r}") from None
    path = Path(args.path)
    if not path.is_absolute():
        raise StationError("bad-request", "`path` must be absolute (the daemon reads the file)")
    if args.wait:
        need_running(station, "waiting for a document")
    row, doc = await station.documents.queue_document(line, path, precedence, emit)
    described = {**station.describe(row, line), "document": describe_doc(doc, line.peer)}
    if not args.wait:
        return described
    queue = station.documents.watch(line, doc)
    try:
        await emit({"message": described})
        while True:
            event = await queue.get()
            await emit(event)
            document = event.get("document")
            if isinstance(document, dict) and document.get("state") in ("complete", "failed"):
                return {**described, "document": document}
    finally:
        station.documents.unwatch(line, doc, queue)


async def files(station: StationHost, args: FilesArgs, emit: Emit) -> dict[str, object]:
    """``files``: documents both ways."""
    line_id = station.line(args.peer).row.id if args.peer is not None else None
    rows = await station.worker.call(lambda store: store.documents.find(line_id=line_id))
    names = {ln.row.id: ln.peer for ln in station.lines.values()}
    return {"documents": [describe_doc(row, names.get(row.line_id, "?")) for row in rows]}


async def file_get(station: StationHost, args: FileGetArgs, emit: Emit) -> dict[str, object]:
    """``file.get``: write a received document out to a new file, checking its hash again."""
    message_id = parse_id(args.id)
    out = absolute_path(args.out, "out", "writes")

    entry = await lookup(station.registry, station.worker, args.id, message_id, IN, args.peer)

    def find(store: Store) -> tuple[DocRow | None, BlobRef | None]:
        row = None if entry is None else store.documents.by_id(entry.line_id, IN, entry_doc_id(entry.body))
        if row is None or row.message_id != message_id:
            return None, None
        return row, store.documents.blob_of(row.rowid)

    row, blob = await station.worker.call(find)
    if row is None:
        raise StationError("no-such-document", f"no received document {args.id} (see `hotline files`)")
    if row.state != "complete":
        raise StationError(
            "not-complete", f"document {args.id} is {row.state} ({row.stored:,} of {row.size:,} bytes)"
        )
    if blob is None:
        raise StationError("corrupt", f"document {args.id} has no file (see `hotline files`)")
    blob_path = doc_dir(station) / blob.name
    await asyncio.get_running_loop().run_in_executor(None, _write_out, blob_path, blob, row, out)
    return {
        "id": args.id,
        "name": row.name,
        "out": str(out),
        "size": row.size,
        "hash": hash_label(row.hash),
        "digest": row.digest.hex(),
        **({"sha256": row.digest.hex()} if row.hash == "SHA256" else {}),
    }


def entry_doc_id(body: bytes) -> bytes:
    """The document id a DOC entry's body names (empty when it names none)."""
    try:
        return decode_meta(body).doc_id
    except DocMetaError:
        return b""


def _write_out(blob_path: Path, ref: BlobRef, row: DocRow, out: Path) -> None:
    """Decrypt the document into ``out``, a new file, checking the hash; nothing is left on failure."""
    try:
        blob = Blob(blob_path, ref.key, row.doc_id, legacy=ref.legacy, cipher=ref.aead)
    except StoreError as exc:
        raise StationError("corrupt", exc.reason) from None
    try:
        f = outfile.create(out)  # new, 0600, never through a link (F7)
    except BaseException:
        blob.close()
        raise
    digest = hasher(row.hash)  # type: ignore[arg-type]  # a name decode_meta checked
    try:
        with f:
            for index in range((row.size + CHUNK - 1) // CHUNK):
                data = blob.read(index, min(CHUNK, row.size - index * CHUNK))
                digest.update(data)
                f.write(data)
            if digest.digest() != row.digest:
                raise StationError(
                    "corrupt",
                    f"document {row.name} no longer matches its {hash_label(row.hash)}: not written",
                )
            f.flush()
            os.fsync(f.fileno())
    except BaseException as exc:
        out.unlink(missing_ok=True)
        if isinstance(exc, StoreError):
            raise StationError("corrupt", exc.reason) from None
        if isinstance(exc, OSError):
            raise StationError("bad-file", f"cannot write {out}: {exc.strerror or exc}") from None
        raise
    finally:
        blob.close()


__all__ = ["FileGetArgs", "FilesArgs", "SendFileArgs", "entry_doc_id", "file_get", "files", "send_file"]
