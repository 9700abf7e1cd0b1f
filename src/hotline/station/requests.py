"""What the control socket (and the CLI's offline mode) can ask of a station: docs/control.md.

Each request's arguments are a strict msgspec struct: unknown or mistyped arguments are refused
with ``bad-request`` before anything happens. Every handler returns a JSON-ready dict or raises
:class:`~hotline.station.errors.StationError`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from hotline.proto.cards import armor_card, dearmor_card, encode_card, parse_endpoint
from hotline.proto.delivery import chain_start
from hotline.proto.identity_errors import CardError, LineKeyError
from hotline.proto.linekeys import check_supersedes, create_line_key, next_created_at, open_line_key
from hotline.proto.linemsg import MAX_TEXT_LEN, Kind, Precedence
from hotline.proto.safety import safety_number
from hotline.station.cardkeys import key_clash
from hotline.station.documents import doc_dir
from hotline.station.documents.blobfiles import remove_line
from hotline.station.errors import StationError
from hotline.station.home import key_protection
from hotline.station.line import LineRuntime, new_message_id, next_place
from hotline.station.lookup import lookup
from hotline.station.service import Station, parse_id, show_id
from hotline.store.db import MessageRow, Store
from hotline.store.errors import StoreError, StoreFull
from hotline.store.schema import IN, OUT

Emit = Callable[[dict[str, object]], Awaitable[None]]


class _Args(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class NoArgs(_Args):
    pass


class PeerArgs(_Args):
    peer: str


class LineAddArgs(_Args):
    peer: str
    card: str
    endpoints: list[str] = []


class LineAcceptArgs(_Args):
    peer: str
    sealed: str


class LineVerifyArgs(_Args):
    peer: str
    confirm: bool = False


class AlertsClearArgs(_Args):
    peer: str
    kinds: list[str] = []


class SendArgs(_Args):
    peer: str
    text: str
    precedence: str = "routine"
    #: Also wait this many seconds for the receipt (``send --wait`` in one request).
    wait: float | None = None


class WaitArgs(_Args):
    id: str
    timeout: float = 60.0
    #: The line, when the id is on several (see hotline.station.lookup).
    peer: str | None = None


class InboxArgs(_Args):
    peer: str | None = None
    unacked: bool = False
    follow: bool = False
    since: int = 0


class AckArgs(_Args):
    id: str
    peer: str | None = None


class LogArgs(_Args):
    peer: str
    limit: int = 100


class TestArgs(_Args):
    peer: str
    timeout: float | None = None


def _store_failure(exc: StoreError) -> StationError:
    return StationError("store-full" if isinstance(exc, StoreFull) else "store-error", exc.reason)


def _need_running(station: Station, what: str) -> None:
    if not station.running:
        raise StationError("not-running", f"{what} needs the station running: start it with `hotline up`")


class Requests:
    """The request handlers of one station."""

    def __init__(self, station: Station) -> None:
        self.station = station
        self._handlers: dict[
            str, tuple[type[msgspec.Struct], Callable[[Any, Emit], Awaitable[dict[str, object]]]]
        ] = {
            "station": (NoArgs, self.station_info),
            "card": (NoArgs, self.card),
            "status": (NoArgs, self.status),
            "line.add": (LineAddArgs, self.line_add),
            "line.grant": (PeerArgs, self.line_grant),
            "line.accept": (LineAcceptArgs, self.line_accept),
            "line.verify": (LineVerifyArgs, self.line_verify),
            "line.list": (NoArgs, self.line_list),
            "line.remove": (PeerArgs, self.line_remove),
            "alerts.clear": (AlertsClearArgs, self.alerts_clear),
            "send": (SendArgs, self.send),
            "wait": (WaitArgs, self.wait),
            "inbox": (InboxArgs, self.inbox),
            "ack": (AckArgs, self.ack),
            "log": (LogArgs, self.log),
            "test": (TestArgs, self.test),
            "pair.listen": (Requests.PairListenArgs, self.pair_listen),
            "pair.connect": (Requests.PairConnectArgs, self.pair_connect),
        }
        from hotline.station.callrequests import CallRequests  # the call handlers live beside these
        from hotline.station.docrequests import DocumentRequests

        self._handlers.update(CallRequests(station).handlers())
        self._handlers.update(DocumentRequests(station).handlers())

    async def handle(self, op: object, args: object, emit: Emit) -> dict[str, object]:
        """Run one request.

        Raises:
            StationError: anything the operator should hear about.
        """
        if not isinstance(op, str) or op not in self._handlers:
            raise StationError("bad-request", f"unknown request {op!r}")
        kind, handler = self._handlers[op]
        try:
            parsed = msgspec.convert(args if args is not None else {}, type=kind)
        except msgspec.ValidationError as exc:
            raise StationError("bad-request", f"{op}: {exc}") from None
        try:
            return await handler(parsed, emit)
        except StoreError as exc:
            raise _store_failure(exc) from None

    async def _call(self, fn: Callable[[Store], Any]) -> Any:
        return await self.station.worker.call(fn)

    # -- the station

    async def station_info(self, _: NoArgs, emit: Emit) -> dict[str, object]:
        s = self.station
        return {
            "name": s.identity.name,
            "fingerprint": str(s.identity.fingerprint),
            "listen": s.config.listen
            if s.listen_port is None
            else f"{_host(s.config.listen)}:{s.listen_port}",
            "endpoints": s.config.advertised,
            "running": s.running,
            "pid": os.getpid() if s.running else None,
            "started_at": s.started_at if s.running else None,
            **key_protection(s.paths.home),
            "handshakes_throttled_by_address": s.handshakes.limits.dropped_by_source,
        }

    async def card(self, _: NoArgs, emit: Emit) -> dict[str, object]:
        card = self.station.card()
        return {
            "name": card.name,
            "fingerprint": str(card.fingerprint),
            "armored": armor_card(card),
            "endpoints": list(card.endpoints),
        }

    def _line_info(self, line: LineRuntime) -> dict[str, object]:
        row = line.row
        card = line.card
        return {
            "peer": line.peer,
            "station": card.name,
            "fingerprint": str(card.fingerprint),
            "endpoints": list(row.endpoints),
            "verified": row.verified,
            "has_key": row.has_key,
            "key_created_at": row.key_created_at,
            "state": line.state
            if self.station.running or line.state in ("unverified", "no-key")
            else "stopped",
            "added_at": row.added_at,
        }

    async def status(self, _: NoArgs, emit: Emit) -> dict[str, object]:
        station = self.station
        counts = await self._call(
            lambda store: {ln.row.id: store.count_queued(ln.row.id) for ln in station.lines.values()}
        )
        lines = []
        now = time.monotonic()
        for line in sorted(station.lines.values(), key=lambda line: line.peer):
            info = self._line_info(line)
            session = line.current if line.up else None
            queued, in_flight = counts.get(line.row.id, (0, 0))
            if line.up:
                # receipts are known at once; the store's delivered marks follow a moment later
                in_flight = min(in_flight, line.out_seq - line.peer_seq)
            rtt = session.channel.rtt if session is not None else None
            info.update(
                since=line.state_since,
                endpoint=session.endpoint if session is not None else None,
                rtt_ms=None if rtt is None else rtt * 1000,
                # monotonic: the wall clock may have stepped since the session began
                session_age=None if session is None else now - session.started,
                rekeys=None if session is None else session.channel.rekeys,
                replays_dropped=line.replays,
                **station.handshakes.counts(line.row.static_public),
                **station.quotas.status(line),
                queued=queued,
                in_flight=in_flight,
                last_test=None if line.last_test is None else line.last_test.as_dict(),
                alerts=list(line.alerts),
            )
            call = station.calls.on_line(line.peer)
            info["call"] = call.describe() if call is not None and not call.ended else None
            lines.append(info)
        return {"station": await self.station_info(NoArgs(), emit), "lines": lines}

    # -- lines

    async def line_add(self, args: LineAddArgs, emit: Emit) -> dict[str, object]:
        station = self.station
        _check_peer_name(args.peer)
        try:
            card = dearmor_card(args.card)
        except CardError as exc:
            raise StationError("bad-card", f"the card for {args.peer!r} is not valid: {exc.reason}") from None
        if card.key_digest == station.identity.key_digest:
            raise StationError("bad-card", "that is this station's own card")
        endpoints = list(args.endpoints) or list(card.endpoints)
        for endpoint in endpoints:
            try:
                parse_endpoint(endpoint)
            except ValueError as exc:
                raise StationError("bad-request", f"endpoint {endpoint!r}: {exc}") from None
        static = card.static_public.raw
        if (clash := key_clash(station, card, peer=args.peer)) is not None:
            raise clash
        ours, theirs = station.identity.key_digest, card.key_digest
        existing = station.lines.get(args.peer)
        if existing is None:
            row = await self._call(
                lambda store: store.add_line(
                    peer=args.peer,
                    card=encode_card(card),
                    key_digest=theirs,
                    static_public=static,
                    endpoints=endpoints,
                    now=time.time(),
                    chain_out0=chain_start(ours, theirs),
                    chain_in0=chain_start(theirs, ours),
                )
            )
            line = await station.add_line(row)
            return self._line_info(line)
        if existing.row.key_digest != theirs:
            # a key change is loud: the verified line keeps its pinned keys and the attempt is logged
            existing.alert("key-changed", f"a card for {args.peer} with other keys was refused")
            raise StationError(
                "line-exists",
                f"the line {args.peer!r} has a card with other keys: if the peer really changed keys, "
                f"`hotline line remove {args.peer}` and add it again, then verify",
            )
        line_id = existing.row.id

        def update(store: Store) -> Any:
            store.update_line(
                line_id, card=encode_card(card), key_digest=theirs, static_public=static, endpoints=endpoints
            )
            return store.line_by_id(line_id), store.line_key(line_id)

        row, key = await self._call(update)
        existing.refresh(row, key)
        return self._line_info(existing)

    async def line_grant(self, args: PeerArgs, emit: Emit) -> dict[str, object]:
        station = self.station
        line = station.line(args.peer)
        card = line.card
        created = next_created_at(int(time.time()), line.row.key_created_at)
        label = f"{station.identity.name}-{card.name}"[:64]
        try:
            key, sealed = create_line_key(
                sender=station.identity, recipient=card, label=label, created_at=created
            )
        except LineKeyError as exc:
            raise StationError("bad-line-key", exc.reason) from None
        line_id = line.row.id

        def store_key(store: Store) -> Any:
            store.set_line_key(line_id, key.key, created)
            return store.line_by_id(line_id)

        line.refresh(await self._call(store_key), key.key)
        return {"peer": line.peer, "sealed": base64.b64encode(sealed).decode("ascii"), "created_at": created}

    async def line_accept(self, args: LineAcceptArgs, emit: Emit) -> dict[str, object]:
        station = self.station
        line = station.line(args.peer)
        try:
            sealed = base64.b64decode(args.sealed, validate=True)
        except (binascii.Error, ValueError):
            raise StationError("bad-line-key", "the sealed line key is not base64") from None
        try:
            key = open_line_key(sealed, station.identity, line.card)
        except LineKeyError as exc:
            raise StationError(
                "bad-line-key", f"the line key from {args.peer!r} does not open: {exc.reason}"
            ) from None
        try:
            check_supersedes(key.created_at, line.row.key_created_at, line=args.peer)
        except LineKeyError as exc:
            raise StationError("bad-line-key", exc.reason) from None
        line_id = line.row.id

        def store_key(store: Store) -> Any:
            store.set_line_key(line_id, key.key, key.created_at)
            return store.line_by_id(line_id)

        line.refresh(await self._call(store_key), key.key)
        return self._line_info(line)

    async def line_verify(self, args: LineVerifyArgs, emit: Emit) -> dict[str, object]:
        station = self.station
        line = station.line(args.peer)
        number = safety_number(station.identity.public(), line.card)
        if args.confirm and not line.row.verified:
            line_id, digest = line.row.id, line.row.key_digest

            def verify(store: Store) -> Any:
                store.set_verified(line_id, digest)
                return store.line_by_id(line_id)

            line.refresh(await self._call(verify), line.key)
        if args.confirm:
            # the operators compared the number again: a standing key-change warning is answered
            line.clear_alerts(("key-changed",))
        return {
            "peer": line.peer,
            "digits": number.digits,
            "groups": list(number.groups),
            "words": list(number.words),
            "verified": line.row.verified,
        }

    async def alerts_clear(self, args: AlertsClearArgs, emit: Emit) -> dict[str, object]:
        """The operator has seen a line's alerts (all, or of some kinds): they stop standing."""
        line = self.station.line(args.peer)
        cleared = line.clear_alerts(tuple(args.kinds) if args.kinds else None)
        return {"peer": line.peer, "cleared": cleared, "alerts": list(line.alerts)}

    async def line_list(self, _: NoArgs, emit: Emit) -> dict[str, object]:
        lines = sorted(self.station.lines.values(), key=lambda line: line.peer)
        return {"lines": [self._line_info(line) for line in lines]}

    async def line_remove(self, args: PeerArgs, emit: Emit) -> dict[str, object]:
        line = self.station.line(args.peer)
        await remove_line(self.station, line.row.id, doc_dir(self.station))
        self.station.drop_line(args.peer)
        return {"peer": args.peer, "removed": True}

    # -- messages

    async def send(self, args: SendArgs, emit: Emit) -> dict[str, object]:
        line = self.station.line(args.peer)
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
            _need_running(self.station, "waiting for a receipt")
        message_id = new_message_id()
        # listening before queuing: the receipt cannot come before we listen
        waiter = line.waiter(message_id) if args.wait is not None else None
        now = time.time()
        line_id, chain0 = line.row.id, line.row.chain_out0
        number_now = line.can_number_now()

        def queue(store: Store) -> MessageRow:
            # with the line up and nothing waiting ahead, number it in the same transaction: one
            # commit fewer on the way out, and no precedence to respect when nothing else waits
            created_ms = int(now * 1000)
            row = MessageRow(0, line_id, OUT, message_id, None, Kind.TEXT, precedence, created_ms,
                             b"", body, None, now, None, None)  # fmt: skip
            place = None
            if number_now and not store.has_queued(line_id):
                seq, head = store.position(line_id, OUT)
                place = next_place(seq, head or chain0, row)
            rowid = store.queue(line_id, id=message_id, kind=Kind.TEXT, precedence=precedence,
                                created_ms=created_ms, ref=b"", body=body, now=now, place=place)  # fmt: skip
            seq_now, chain_now = place if place is not None else (None, None)
            return MessageRow(rowid, line_id, OUT, message_id, seq_now, Kind.TEXT, precedence, created_ms,
                              b"", body, chain_now, now, None, None)  # fmt: skip

        try:
            row = await self._call(queue)
        except BaseException:
            if waiter is not None:
                line.unwait(message_id, waiter)
            raise
        if row.seq is not None:
            line.numbered_now(row)
        else:
            line.wake()
        described = self.station.describe(row, line)
        if waiter is None or args.wait is None:
            return described
        await emit({"message": described})
        try:
            async with asyncio.timeout(args.wait):
                delivered_at = await waiter
        except TimeoutError:
            raise StationError(
                "timeout", f"no receipt for {described['id']} within {args.wait:g} s (it stays queued)"
            ) from None
        finally:
            line.unwait(message_id, waiter)
        described.update(state="delivered", delivered_at=delivered_at)
        return described

    async def wait(self, args: WaitArgs, emit: Emit) -> dict[str, object]:
        _need_running(self.station, "waiting for a receipt")
        message_id = parse_id(args.id)
        # listen on every line before looking, so a receipt between the look and the wait is not missed
        waiters = {peer: line.waiter(message_id) for peer, line in self.station.lines.items()}
        try:
            row = await lookup(self.station, args.id, message_id, OUT, args.peer)
            if row is None:
                raise StationError("no-such-message", f"no message {args.id} was sent from this station")
            described = self.station.describe(row)
            peer = str(described["peer"])
            waiter = waiters.get(peer)
            line = self.station.lines.get(peer)
            if (
                row.delivered_at is None
                and row.seq is not None
                and line is not None
                and row.seq <= line.peer_seq
            ):
                # receipted already; the store's mark follows (or waits for room, if the store is full)
                described.update(state="delivered", delivered_at=line.receipted_at)
            elif row.delivered_at is None and waiter is not None:
                try:
                    async with asyncio.timeout(args.timeout):
                        delivered_at = await waiter
                except TimeoutError:
                    raise StationError(
                        "timeout", f"no receipt for {args.id} within {args.timeout:g} s (it stays queued)"
                    ) from None
                described.update(state="delivered", delivered_at=delivered_at)
        finally:
            for peer, waiter in waiters.items():
                if peer in self.station.lines:
                    self.station.lines[peer].unwait(message_id, waiter)
        await emit({"message": described})
        return described

    async def inbox(self, args: InboxArgs, emit: Emit) -> dict[str, object]:
        station = self.station
        line_id = None if args.peer is None else station.line(args.peer).row.id
        if args.follow:
            _need_running(station, "following the inbox")
            queue = station.follow()
            try:
                rows = await self._call(
                    lambda store: store.messages(
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
                    if isinstance(message, dict):
                        # skip what the query above already showed, and other lines when filtered
                        if int(message["inbox"]) <= shown:
                            continue
                        if args.peer is not None and message.get("peer") != args.peer:
                            continue
                    await emit(event)
            finally:
                station.unfollow(queue)
        rows = await self._call(
            lambda store: store.messages(
                line_id=line_id,
                direction=IN,
                kinds=(Kind.TEXT, Kind.DOC),
                after_rowid=args.since,
                unacked=args.unacked,
            )
        )
        return {"messages": [station.describe(row) for row in rows]}

    async def ack(self, args: AckArgs, emit: Emit) -> dict[str, object]:
        station = self.station
        message_id = parse_id(args.id)
        row = await lookup(station, args.id, message_id, IN, args.peer)
        if row is None or row.kind not in (Kind.TEXT, Kind.DOC):
            raise StationError("no-such-message", f"no received message {args.id}")
        peer = station.describe(row)["peer"]
        line = station.line(str(peer))
        if row.acked_at is None:
            now = time.time()
            line_id = line.row.id

            def ack(store: Store) -> Any:
                if store.mark_acked(line_id, IN, message_id, now):
                    store.queue(
                        line_id,
                        id=new_message_id(),
                        kind=Kind.ACK,
                        precedence=Precedence.IMMEDIATE,
                        created_ms=int(now * 1000),
                        ref=message_id,
                        body=b"",
                        now=now,
                    )
                return store.line_message(line_id, message_id, IN)

            row = await self._call(ack)
            line.wake()
        return station.describe(row, line)

    async def log(self, args: LogArgs, emit: Emit) -> dict[str, object]:
        station = self.station
        line = station.line(args.peer)
        line_id, limit = line.row.id, max(1, min(args.limit, 10_000))

        def read(store: Store) -> Any:
            return store.messages(line_id=line_id, limit=limit, newest=True), store.events(
                line_id=line_id, limit=limit
            )

        rows, events = await self._call(read)
        entries: list[dict[str, object]] = []
        for row in rows:
            described = station.describe(row, line)
            entries.append({"at": row.stored_at, "kind": "message", "message": described})
            if row.direction == OUT and row.delivered_at is not None:
                entries.append({"at": row.delivered_at, "kind": "receipt", "id": described["id"]})
            if row.acked_at is not None:
                entries.append(
                    {
                        "at": row.acked_at,
                        "kind": "ack",
                        "id": described["id"],
                        "direction": described["direction"],
                    }
                )
        for event in events:
            kind = "test" if event.kind == "test" else "alert"
            entries.append({"at": event.at, "kind": kind, "event": event.kind, **event.detail})
        entries.sort(key=lambda entry: float(entry["at"]))  # type: ignore[arg-type]
        return {"peer": line.peer, "entries": entries[-limit:]}

    async def test(self, args: TestArgs, emit: Emit) -> dict[str, object]:
        station = self.station
        _need_running(station, "a line test")
        line = station.line(args.peer)
        if not line.ready:
            raise StationError("not-verified", f"the line {args.peer!r} is {line.state}: it cannot be tested")
        started = time.time()
        result = await line.run_test(args.timeout or station.config.line_test_timeout)
        return {
            "peer": line.peer,
            "ok": result.ok,
            "started_at": started,
            "finished_at": result.at,
            "rtt_ms": result.rtt_ms,
            "detail": result.detail,
        }

    # -- pairing by code (docs/protocol.md §11; the work is in hotline.station.pairing)

    class PairListenArgs(_Args):
        peer: str
        listen: str
        endpoints: list[str] = []
        timeout: float = 600.0

    class PairConnectArgs(_Args):
        peer: str
        connect: str
        code: str
        endpoints: list[str] = []
        timeout: float = 600.0

    async def pair_listen(self, args: Requests.PairListenArgs, emit: Emit) -> dict[str, object]:
        from hotline.station.pairing import pair_listen

        self._check_pair_timeout(args.timeout)
        line = await pair_listen(
            self.station,
            peer=args.peer,
            listen=args.listen,
            endpoints=list(args.endpoints),
            timeout=args.timeout,
            emit=emit,
        )
        return self._paired(line)

    async def pair_connect(self, args: Requests.PairConnectArgs, emit: Emit) -> dict[str, object]:
        from hotline.station.pairing import pair_connect

        self._check_pair_timeout(args.timeout)
        line = await pair_connect(
            self.station,
            peer=args.peer,
            connect=args.connect,
            code=args.code,
            endpoints=list(args.endpoints),
            timeout=args.timeout,
        )
        return self._paired(line)

    @staticmethod
    def _check_pair_timeout(timeout: float) -> None:
        if not 0 < timeout <= 86_400:
            raise StationError("bad-request", "the pairing timeout is 0 to 86400 seconds")

    def _paired(self, line: LineRuntime) -> dict[str, object]:
        number = safety_number(self.station.identity.public(), line.card)
        return {
            **self._line_info(line),
            "digits": number.digits,
            "groups": list(number.groups),
            "words": list(number.words),
        }


def _host(endpoint: str) -> str:
    return parse_endpoint(endpoint)[0]


def _check_peer_name(peer: str) -> None:
    if not peer or len(peer) > 64 or not all(c.isalnum() or c in "-_." for c in peer):
        raise StationError(
            "bad-request", f"{peer!r} is not a line name: use 1 to 64 letters, digits, '-', '_', '.'"
        )


__all__ = ["Requests", "show_id"]
