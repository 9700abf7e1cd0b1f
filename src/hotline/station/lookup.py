"""Operator lookups of a message by its id, made unambiguous.

Ids are unique within a line (docs/protocol.md §10.2) but each peer chooses its own, so two lines may
hold the same id. An operator's ``ack ID``, ``wait ID`` or ``file get ID`` then names the line
(``peer``); without it, an id found on several lines is refused rather than one picked silently.
"""

from __future__ import annotations

from collections.abc import Callable

from hotline.station.errors import StationError
from hotline.station.lines.registry import LineRegistry
from hotline.station.worker import StoreWorker
from hotline.store.db import Store
from hotline.store.rows import MessageRow


def find_message(
    store: Store,
    message_id: bytes,
    direction: int,
    line_id: int | None,
    names: Callable[[int], str],
    shown: str,
) -> MessageRow | None:
    """The one entry with ``message_id`` in ``direction`` (on ``line_id`` when given), or None.

    Raises:
        StationError: ``ambiguous`` when several lines hold it and no line was named.
    """
    if line_id is not None:
        return store.messages.line_message(line_id, message_id, direction)
    rows = store.messages.with_id(message_id, direction)
    if len(rows) > 1:
        peers = ", ".join(sorted(names(row.line_id) for row in rows))
        raise StationError(
            "ambiguous", f"{shown} is a message id on the lines to {peers}: name the line with --peer"
        )
    return rows[0] if rows else None


async def lookup(
    lines: LineRegistry, worker: StoreWorker, shown: str, message_id: bytes, direction: int, peer: str | None
) -> MessageRow | None:
    """:func:`find_message` from the daemon: ``peer`` (a line's name) or every line."""
    line_id = None if peer is None else lines.line(peer).row.id
    names = lines.names()

    def find(store: Store) -> MessageRow | None:
        return find_message(store, message_id, direction, line_id, lambda i: names.get(i, "?"), shown)

    result: MessageRow | None = await worker.call(find)
    return result


__all__ = ["find_message", "lookup"]
