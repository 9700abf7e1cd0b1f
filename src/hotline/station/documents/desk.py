"""The document desk: every document of the station, both ways, routed to its side (§13).

The desk is what the rest of the station sees of documents: the line hands it the document
messages of its sessions, the DOC entries it stores and its sessions' starts and ends; the request
handlers queue and watch documents through it. It routes each to the sending side
(:mod:`~hotline.station.documents.outgoing`) or the receiving side
(:mod:`~hotline.station.documents.incoming`). It knows a line only through
:class:`~hotline.station.documents.needs.DocLine` and the station only through what its
constructor is given.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Generic

from hotline.proto.document import DocState
from hotline.proto.linemsg import DocData, DocProgress, Entry, Precedence
from hotline.station.documents.incoming import IncomingDocuments
from hotline.station.documents.needs import DocQuotas, DocSession, LineT, Publish, SpawnTask, standard_profile
from hotline.station.documents.outgoing import Emit, OutgoingDocuments
from hotline.station.worker import StoreWorker
from hotline.store.db import Store
from hotline.store.rows import DocRow, MessageRow


class DocumentDesk(Generic[LineT]):
    """Every document of the station, both ways.

    Args:
        worker: the store's worker thread.
        quotas: the line quotas and disk reserve (asked for when needed: the station may build its
            quota desk after this one).
        publish: tells the station's followers about an event.
        spawn: runs a coroutine as a child of the station's task group.
        directory: where received documents' files are kept.
        max_bytes: the cap on the bytes of documents being received (0: none), read when needed.
        profile_of: a line's profile (``standard``, ``cnsa2``: docs/protocol.md §13 hashes and seals
            its documents by it); every line is ``standard`` without it.
    """

    def __init__(
        self,
        *,
        worker: StoreWorker,
        quotas: Callable[[], DocQuotas[LineT]],
        publish: Publish,
        spawn: SpawnTask,
        directory: Path,
        max_bytes: Callable[[], int],
        profile_of: Callable[[LineT], str] = standard_profile,
    ) -> None:
        self.outgoing: OutgoingDocuments[LineT] = OutgoingDocuments(
            worker=worker, publish=publish, profile_of=profile_of
        )
        self.incoming: IncomingDocuments[LineT] = IncomingDocuments(
            worker=worker,
            quotas=quotas,
            publish=publish,
            spawn=spawn,
            directory=directory,
            max_bytes=max_bytes,
            profile_of=profile_of,
        )

    # -- sending

    async def queue_document(
        self, line: LineT, path: Path, precedence: Precedence, emit: Emit | None = None
    ) -> tuple[MessageRow, DocRow]:
        """Hash ``path`` and queue it on ``line``.

        Raises:
            StationError: ``bad-file`` (missing, unreadable, not a regular file, too big), store errors.
        """
        return await self.outgoing.queue_document(line, path, precedence, emit)

    def watch(self, line: LineT, doc: DocRow) -> asyncio.Queue[dict[str, object]]:
        """Progress events of an outbound document (``{"document": …}``) until it ends."""
        return self.outgoing.watch(line, doc)

    def unwatch(self, line: LineT, doc: DocRow, queue: asyncio.Queue[dict[str, object]]) -> None:
        """Stop the events of :meth:`watch`."""
        self.outgoing.unwatch(line, doc, queue)

    async def run_sender(self, line: LineT, session: DocSession) -> None:
        """Stream the chunks the far end asks for, for as long as ``session`` carries ``line``."""
        await self.outgoing.run_sender(line, session)

    async def load(self) -> None:
        """At start: outbound documents not yet complete wait for the far end's request again."""
        await self.outgoing.load()

    # -- receiving

    def entry_hook(self, line: LineT) -> Callable[[Store, Entry, float], str | None]:
        """On the event loop: the store job's hook that makes the row of ``line``'s DOC entries (values
        only; in the entry's transaction it returns a problem, or None)."""
        return self.incoming.entry_hook(line)

    def doc_entry_committed(self, line: LineT, row: MessageRow) -> None:
        """A DOC entry is on our disk: open the document and ask for its bytes."""
        self.incoming.entry_committed(line, row)

    async def receive(self, line: LineT, doc: DocRow) -> None:
        """Open an inbound document that is receiving and ask for its bytes (held ones wait)."""
        await self.incoming.receive(line, doc)

    async def resume_incoming(self, line: LineT, session: DocSession) -> None:
        """On a new session: ask for every unfinished inbound document from where we stand."""
        await self.incoming.resume(line, session)

    # -- the network and the line's life

    async def on_message(self, line: LineT, message: DocData | DocProgress) -> None:
        """A document message arrived on ``line``'s session (waits while the disk catches up)."""
        if isinstance(message, DocData):
            await self.incoming.on_data(line, message)
        elif message.state == DocState.WHERE:
            await self.incoming.on_where(line, message)
        else:
            self.outgoing.on_progress(line, message)

    def session_down(self, line: LineT) -> None:
        """The line's session ended: senders stop; what the far end wants is asked again next time."""
        self.outgoing.session_down(line)

    def forget_line(self, line_id: int) -> None:
        """A removed line: its documents stop here (writers close their files) and are forgotten."""
        self.incoming.forget_line(line_id)
        self.outgoing.forget_line(line_id)


__all__ = ["DocumentDesk"]
