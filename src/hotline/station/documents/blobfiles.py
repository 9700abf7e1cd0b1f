"""The files of received documents, as the station opens, reads and deletes them.

Each inbound document row names its own file (a random name in ``documents/``) and key
(:mod:`hotline.store.documents`): the daemon opens, and deletes, exactly the files its rows name and
no other.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from hotline.station.documents.needs import StationWithDocuments
from hotline.store.db import Store
from hotline.store.documents import BlobRef
from hotline.store.rows import DocRow

log = logging.getLogger("hotline.documents")


def writable_blob(store: Store, *, row: DocRow) -> tuple[BlobRef, str | None]:
    """The file to receive ``row``'s bytes into, and a legacy file to delete (None if none).

    A legacy blob (sealed with nonce = chunk index) is never written again, so an unfinished one
    starts over in a new file of its own; so does a row that has no file yet.
    """
    ref = store.documents.blob_of(row.rowid)
    if ref is not None and not ref.legacy:
        return ref, None
    return store.documents.new_blob(row.rowid), None if ref is None else ref.name


def remove_line_blobs(directory: Path, names: list[str]) -> int:
    """Delete the files of a removed line's documents; how many were there."""
    removed = 0
    for name in names:
        if "/" in name or name.startswith("."):
            continue  # never: names are ours, but a path is never built from anything else
        try:
            (directory / name).unlink()
            removed += 1
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.warning(
                "could not delete a removed line's document file",
                extra={"error": exc.strerror or type(exc).__name__},
            )
    return removed


async def remove_line(station: StationWithDocuments, line_id: int, directory: Path) -> None:
    """Delete a line's rows (transcript, events, documents), then its documents' files in ``directory``.

    In that order: a crash in between leaves files no row names, never a row without its file.
    """

    def remove(store: Store) -> list[str]:
        names = store.documents.blob_names(line_id)
        store.lines.remove(line_id)
        return names

    names: list[str] = await station.worker.call(remove)
    station.documents.forget_line(line_id)
    await asyncio.get_running_loop().run_in_executor(None, remove_line_blobs, directory, names)


__all__ = ["remove_line", "remove_line_blobs", "writable_blob"]
