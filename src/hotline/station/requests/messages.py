"""Requests about messages: send, wait for a receipt, the inbox, acknowledge, a line's log, a line test.

Operator messages are entries of a line's transcript (docs/protocol.md §10): ``send`` queues one (and
numbers it at once when the line is up with room and nothing waits ahead, in the same store
transaction), ``wait`` and ``send`` with ``wait`` wait for the peer's receipt, ``ack`` queues an
acknowledgement. What is shown is :func:`hotline.station.views.describe_message`.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from hotline.proto.linemsg import MAX_TEXT_LEN, Kind, Precedence
from hotline.station.errors import StationError
from hotline.station.ids import new_message_id, parse_id, show_id
from hotline.station.lines.delivery import next_place
from hotline.station.lines.linetest import run_test
from hotline.station.lookup import lookup
from hotline.station.requests.base import Args, Emit, StationHost, need_running
from hotline.station.views import log_entries
from hotline.store.db import Store
from hotline.store.rows import MessageRow
from hotline.store.schema import IN, OUT


class SendArgs(Args):
    peer: str
    text: str
    precedence: str = "routine"
    #: Also wait this many seconds for the receipt (``send --wait`` in one request).
    wait: float | None = None


class WaitArgs(Args):
    id: str
    timeout: float = 60.0
    #: The line, when the id is on several (see hotline.station.lookup).
    peer: str | None = None


class InboxArgs(Args):
    peer: str | None = None
    unacked: bool = False
    follow: bool = False
    since: int = 0


class AckArgs(Args):
    id: str
    peer: str | None = None


class LogArgs(Args):
    peer: str
    limit: int = 100


class TestArgs(Args):
    peer: str
    timeout: float | None = None


async def send(station: StationHost, args: SendArgs, emit: Emit) -> dict[str, object]:
    """``send``: queue a text message; with ``wait``, stream it and wait for the receipt."""
    line = station.line(args.peer)
    if not line.row.verified:
        raise StationError(
            "not-verified",
            f"the line {args.peer!r} is not verified: compare the safety number "
            f"(`hotline line verify {args.peer}`), then confirm it",
        )
    try:
        precedence = Precedence[args.precedence.upper()]
    except KeyError:
        raise StationError("bad-request", f"unknown precedence {args.precedence!r}") from None
    body = args.text.encode("utf-8")
    if not body:
        raise StationError("bad-request", "the message is empty")
    if len(body) > MAX_TEXT_LEN:
        raise StationError("bad-request", f"the message is {len(body)} bytes; at most {MAX_TEXT_LEN} fit")
    if args.wait is not None:
        need_running(station, "waiting for a receipt")
    message_id = new_message_id()
    # listening before queuing: the receipt cannot come before we listen
    waiter = line.delivery.waiter(message_id) if args.wait is not None else None
    now = time.time()
    line_id, chain0 = line.row.id, line.row.chain_out0
    chain_suite = line.delivery.machine.suite  # the chain's hash is the line profile's (§10.1)
    number_now = line.delivery.can_number_now()

    def queue(store: Store) -> MessageRow:
        # with the line up and nothing waiting ahead, number it in the same transaction: one
        # commit fewer on the way out, and no precedence to respect when nothing else waits
        created_ms = int(now * 1000)
        row = MessageRow(0, line_id, OUT, message_id, None, Kind.TEXT, precedence, created_ms,
                         b"", body, None, now, None, None)  # fmt: skip
        place = None
        if number_now and not store.messages.has_queued(line_id):
            seq, head = store.messages.position(line_id, OUT)
            place = next_place(seq, head or chain0, row, chain_suite)
        rowid = store.messages.queue(line_id, id=message_id, kind=Kind.TEXT, precedence=precedence,
                                     created_ms=created_ms, ref=b"", body=body, now=now,
                                     place=place)  # fmt: skip
        seq_now, chain_now = place if place is not None else (None, None)
        return MessageRow(rowid, line_id, OUT, message_id, seq_now, Kind.TEXT, precedence, created_ms,
                          b"", body, chain_now, now, None, None)  # fmt: skip

    try:
        row = await station.worker.call(queue)
    except BaseException:
        if waiter is not None:
            line.delivery.unwait(message_id, waiter)
        raise
    if row.seq is not None:
        line.delivery.numbered_now(row)
    else:
        line.delivery.wake()
    described = station.describe(row, line)
    if waiter is None or args.wait is None:
        return described
    await emit({"message": described})
    try:
        delivered_at = await _receipt(waiter, args.wait, str(described["id"]))
    finally:
        line.delivery.unwait(message_id, waiter)
    described.update(state="delivered", delivered_at=delivered_at)
    return described


async def _receipt(waiter: asyncio.Future[float], timeout: float, shown_id: str) -> float:
    """When the peer's receipt for ``shown_id`` came; a ``timeout`` error after ``timeout`` seconds."""
    try:
        async with asyncio.timeout(timeout):
            return await waiter
    except TimeoutError:
        raise StationError(
            "timeout", f"no receipt for {shown_id} within {timeout:g} s (it stays queued)"
        ) from None


async def wait(station: StationHost, args: WaitArgs, emit: Emit) -> dict[str, object]:
    """``wait``: wait for an outbound message's receipt."""
    need_running(station, "waiting for a receipt")
    message_id = parse_id(args.id)
    # listen on every line before looking, so a receipt between the look and the wait is not missed
    waiters = {peer: line.delivery.waiter(message_id) for peer, line in station.lines.items()}
    try:
        row = await lookup(station.registry, station.worker, args.id, message_id, OUT, args.peer)
        if row is None:
            raise StationError("no-such-message", f"no message {args.id} was sent from this station")
        described = station.describe(row)
        peer = str(described["peer"])
        waiter = waiters.get(peer)
        line = station.lines.get(peer)
        if (
            row.delivered_at is None
            and row.seq is not None
            and line is not None
            and row.seq <= line.delivery.machine.peer_seq
        ):
            # receipted already; the store's mark follows (or waits for room, if the store is full)
            described.update(state="delivered", delivered_at=line.delivery.machine.receipted_at)
        elif row.delivered_at is None and waiter is not None:
            delivered_at = await _receipt(waiter, args.timeout, args.id)
            described.update(state="delivered", delivered_at=delivered_at)
    finally:
        for peer, waiter in waiters.items():
            if peer in station.lines:
                station.lines[peer].delivery.unwait(message_id, waiter)
    await emit({"message": described})
    return described


async def inbox(station: StationHost, args: InboxArgs, emit: Emit) -> dict[str, object]:
    """``inbox``: received messages; with ``follow``, stream them as they come."""
    line_id = None if args.peer is None else station.line(args.peer).row.id
    if args.follow:
        need_running(station, "following the inbox")
        queue = station.events.follow()
        try:
            rows = await station.worker.call(
                lambda store: store.messages.find(
                    line_id=line_id,
                    direction=IN,
                    kinds=(Kind.TEXT, Kind.DOC),
                    after_rowid=args.since,
                    unacked=args.unacked,
                )
            )
            shown = args.since
            for row in rows:
                await emit({"message": station.describe(row)})
                shown = row.rowid
            while True:
                event = await queue.get()
                message = event.get("message")
                # skip what the query above already showed
                if isinstance(message, dict) and int(message["inbox"]) <= shown:
                    continue
                if args.peer is not None and _event_peer(event) not in (None, args.peer):
                    continue  # another line's
                await emit(event)
        finally:
            station.events.unfollow(queue)
    rows = await station.worker.call(
        lambda store: store.messages.find(
            line_id=line_id,
            direction=IN,
            kinds=(Kind.TEXT, Kind.DOC),
            after_rowid=args.since,
            unacked=args.unacked,
        )
    )
    return {"messages": [station.describe(row) for row in rows]}


def _event_peer(event: dict[str, object]) -> object:
    """The line a follower event concerns (every event is one object with a ``peer``), if any."""
    for body in event.values():
        if isinstance(body, dict):
            return body.get("peer")
    return None


async def ack(station: StationHost, args: AckArgs, emit: Emit) -> dict[str, object]:
    """``ack``: acknowledge a received message (an ACK entry goes back)."""
    message_id = parse_id(args.id)
    row = await lookup(station.registry, station.worker, args.id, message_id, IN, args.peer)
    if row is None or row.kind not in (Kind.TEXT, Kind.DOC):
        raise StationError("no-such-message", f"no received message {args.id}")
    peer = station.describe(row)["peer"]
    line = station.line(str(peer))
    if row.acked_at is None:
        now = time.time()
        line_id = line.row.id

        def ack(store: Store) -> MessageRow:
            if store.messages.mark_acked(line_id, IN, message_id, now):
                store.messages.queue(
                    line_id,
                    id=new_message_id(),
                    kind=Kind.ACK,
                    precedence=Precedence.IMMEDIATE,
                    created_ms=int(now * 1000),
                    ref=message_id,
                    body=b"",
                    now=now,
                )
            acked = store.messages.line_message(line_id, message_id, IN)
            assert acked is not None  # found above, and this transaction removed nothing
            return acked

        row = await station.worker.call(ack)
        line.delivery.wake()
        # every console watching sees it go, whoever acknowledged it
        station.events.unread.changed(line_id)
        station.events.publish(
            {"acked": {"peer": line.peer, "id": show_id(message_id), "direction": "in", "at": row.acked_at}}
        )
    return station.describe(row, line)


async def log(station: StationHost, args: LogArgs, emit: Emit) -> dict[str, object]:
    """``log``: a line's messages, receipts, acks, tests and alerts by time."""
    line = station.line(args.peer)
    line_id, limit = line.row.id, max(1, min(args.limit, 10_000))

    def read(store: Store) -> Any:
        return store.messages.find(line_id=line_id, limit=limit, newest=True), store.events.recent(
            line_id=line_id, limit=limit
        )

    rows, events = await station.worker.call(read)
    shown = [(event.at, event.kind, event.detail) for event in events]
    return {"peer": line.peer, "entries": log_entries(rows, shown, line, limit)}


async def test(station: StationHost, args: TestArgs, emit: Emit) -> dict[str, object]:
    """``test``: a line test through both stores, now."""
    need_running(station, "a line test")
    line = station.line(args.peer)
    if not line.row.verified:
        raise StationError(
            "not-verified",
            f"the line {args.peer!r} is not verified: compare the safety number "
            f"(`hotline line verify {args.peer}`), then confirm it",
        )
    if not line.ready:  # verified, without a line key yet
        raise StationError(
            "no-key",
            f"the line {args.peer!r} has no line key yet: `hotline line grant {args.peer}` here "
            f"and `hotline line accept` at the far end (or `hotline pair`)",
        )
    started = time.time()
    result = await run_test(line, args.timeout or station.config.line_test_timeout)
    return {
        "peer": line.peer,
        "ok": result.ok,
        "started_at": started,
        "finished_at": result.at,
        "rtt_ms": result.rtt_ms,
        "detail": result.detail,
    }


__all__ = [
    "AckArgs",
    "InboxArgs",
    "LogArgs",
    "SendArgs",
    "TestArgs",
    "WaitArgs",
    "ack",
    "inbox",
    "log",
    "send",
    "test",
    "wait",
]
