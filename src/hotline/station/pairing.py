"""Pairing by code over one TCP connection: the asyncio side of :mod:`hotline.proto.pairing`.

``pair.listen`` opens a port, shows a fresh code and takes the *first* connection only: the listening
socket is closed the moment it is accepted, so anyone else is refused and a code gets exactly one
attempt (a wrong guess, or any stray connection, burns it). ``pair.connect`` checks the code's spelling
locally first (a typo must not burn the other side's code), then dials.

Both drive a :class:`~hotline.proto.pairing.PairingMachine` and answer its events; the protocol
decisions are the machine's. What this module decides is the station's part:

* before anything is sent: the line name must be free (``line-exists``), the endpoints valid and the
  profile one there is (``bad-request``);
* the line's profile (docs/protocol.md §3.8): each operator gives it (``standard`` unless said), the
  exchange carries it, and the line is stored with it;
* on the peer's card: refuse our own card and one sharing a key with a line we already hold
  (``line-exists``, :mod:`hotline.station.cardkeys`);
* storing: the line and its key go into the store in **one** store call (one savepoint), then the
  runtime learns about it as ``line.add`` / ``line.accept`` would. The line is **not** verified: the
  code only proves that whoever answered knew it, and a code read over a tapped phone is known to the
  eavesdropper too, who can pair with both stations under the right names (F2). The operators compare
  the safety number and confirm it with ``line verify --confirm``, as after ``line add``; until then
  the line carries nothing. The dialer stores when the line key arrives and then says "done"; the
  listener stores when "done" arrives. So a wrong code, a malformed frame or a timeout changes nothing
  on either side, and the one window where the two stores can disagree is a connection cut right after
  the dialer stored: its "done" is lost, the listener says so and tells its operator what to check.

A newer pairing for the same line name on the same station replaces one that is still waiting (the
operator pressed Ctrl-C, the daemon could not tell, and they run the command again): the old one ends
with ``pairing-failed`` and its port closes. The station keeps the waiting pairings in its
:class:`PairingClaims`; this module keeps no state of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any, Protocol, TypeVar, assert_never

from hotline.crypto.random import random_bytes
from hotline.proto.cards import StationCard, encode_card, parse_endpoint
from hotline.proto.delivery import chain_start
from hotline.proto.identity import Identity
from hotline.proto.identity_errors import IdentityError
from hotline.proto.linekeys import LineKey, create_line_key, grant_label, open_line_key
from hotline.proto.pairing import (
    EXCHANGE_TIMEOUT,
    CodeConfirmed,
    FailureKind,
    LineKeyReceived,
    PairingDone,
    PairingEvent,
    PairingFailed,
    PairingMachine,
    PeerCardReceived,
    Role,
)
from hotline.proto.pairingcode import CodeError, new_code, normalise_code
from hotline.proto.suites import DEFAULT_PROFILE, SUITES, ProfileName, suite
from hotline.station.addresses import show_address, split_address
from hotline.station.cardkeys import key_clash
from hotline.station.errors import StationError
from hotline.station.lines.line import Line
from hotline.station.worker import StoreWorker
from hotline.store.db import Store
from hotline.store.rows import LineRow

log = logging.getLogger("hotline.pairing")

Emit = Callable[[dict[str, object]], Awaitable[None]]
T = TypeVar("T")

#: Bytes read from the connection at a time (a frame is at most 64 KiB).
READ_SIZE = 64 * 1024
#: Seconds a dial may take before we give up on the address.
CONNECT_TIMEOUT = 15.0
#: What a failure that changed nothing adds for the operator.
NOTHING_CHANGED = "nothing was changed"

__all__ = ["PairingClaims", "PairingHost", "pair_connect", "pair_listen", "split_address"]


# -- arguments -------------------------------------------------------------------------------------------


def _check_new_line(station: PairingHost, peer: str, endpoints: list[str], profile: str) -> ProfileName:
    if not peer or len(peer) > 64 or not all(c.isalnum() or c in "-_." for c in peer):
        raise StationError(
            "bad-request", f"{peer!r} is not a line name: use 1 to 64 letters, digits, '-', '_', '.'"
        )
    if peer in station.lines:
        raise StationError(
            "line-exists",
            f"there is already a line {peer!r}: to pair again, `hotline line remove {peer}` first",
        )
    for endpoint in endpoints:
        try:
            parse_endpoint(endpoint)
        except ValueError as exc:
            raise StationError("bad-request", f"endpoint {endpoint!r}: {exc}") from None
    try:
        return suite(profile).profile
    except ValueError:
        raise StationError(
            "bad-request", f"{profile!r} is not a line profile: use one of {', '.join(SUITES)}"
        ) from None


# -- one pairing per line name ---------------------------------------------------------------------------


class _Claim:
    """A pairing registered for one line name. ``superseded`` is set when a newer one wants the name."""

    def __init__(self) -> None:
        self.superseded = asyncio.Event()
        #: Connected: from here on the exchange runs to its end (60 s at most) and is not replaced.
        self.connected = False


class PairingClaims:
    """The pairings of one station, one per line name. Event loop only."""

    def __init__(self) -> None:
        self._active: dict[str, _Claim] = {}

    @contextlib.asynccontextmanager
    async def claim(self, peer: str) -> AsyncIterator[_Claim]:
        """Register a pairing for ``peer``; tell one already waiting for that name to give up."""
        active = self._active
        previous = active.get(peer)
        if previous is not None:
            previous.superseded.set()
        claim = _Claim()
        active[peer] = claim
        try:
            yield claim
        finally:
            if active.get(peer) is claim:
                del active[peer]


class PairingHost(Protocol):
    """What pairing needs of the station."""

    @property
    def identity(self) -> Identity: ...
    @property
    def lines(self) -> dict[str, Line]: ...
    @property
    def worker(self) -> StoreWorker: ...
    @property
    def pairings(self) -> PairingClaims: ...

    def card(self) -> StationCard: ...
    async def add_line(self, row: LineRow) -> Line: ...


async def _unless_superseded(work: Coroutine[Any, Any, T], claim: _Claim, peer: str) -> T:
    """Run ``work``, cancelling it if a newer pairing claims the name before this one connected.

    Once connected it is never cancelled from here: a cancel in the middle of storing would leave the
    store and the running station disagreeing about the line.
    """
    try:
        async with asyncio.TaskGroup() as tg:
            task = tg.create_task(work)
            stop = tg.create_task(claim.superseded.wait())
            await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
            if not task.done() and claim.connected:
                await asyncio.wait({task})
            stop.cancel()
            task.cancel()  # a no-op once it is done
    except* Exception as group:
        raise group.exceptions[0] from None  # the work's own error, as the caller knows it
    if task.cancelled() and claim.superseded.is_set():
        raise StationError(
            "pairing-failed", f"a newer pairing for {peer!r} replaced this one: {NOTHING_CHANGED}"
        )
    return task.result()


# -- the entry points ----------------------------------------------------------------------------------


async def pair_listen(
    station: PairingHost,
    *,
    peer: str,
    listen: str,
    endpoints: list[str],
    timeout: float,
    emit: Emit,
    profile: str = DEFAULT_PROFILE,
) -> Line:
    """Show a code, take the first connection on ``listen`` and pair over it (``pair.listen``).

    Emits ``{"code", "listen", "station"}`` once the port is open, then ``{"connected": address}``.

    Returns:
        The new line: keyed, not yet verified (the operators compare its safety number).

    Raises:
        StationError: ``bad-request``, ``line-exists`` or ``pairing-failed``.
    """
    line_profile = _check_new_line(station, peer, endpoints, profile)
    host, port = split_address(listen, allow_zero=True)
    async with station.pairings.claim(peer) as claim:
        return await _unless_superseded(
            _listen(station, claim, peer, host, port, endpoints, timeout, emit, line_profile), claim, peer
        )


async def pair_connect(
    station: PairingHost,
    *,
    peer: str,
    connect: str,
    code: str,
    endpoints: list[str],
    timeout: float,
    profile: str = DEFAULT_PROFILE,
) -> Line:
    """Connect to a listening station and pair with ``code`` (``pair.connect``).

    Returns:
        The new line: keyed, not yet verified (the operators compare its safety number).

    Raises:
        StationError: ``bad-request`` (including a code that is not spelled like one, checked before
            dialling), ``line-exists`` or ``pairing-failed``.
    """
    line_profile = _check_new_line(station, peer, endpoints, profile)
    host, port = split_address(connect, allow_zero=False)
    try:
        code = normalise_code(code)
    except CodeError as exc:
        raise StationError("bad-request", str(exc)) from None
    async with station.pairings.claim(peer) as claim:
        return await _unless_superseded(
            _connect(station, claim, peer, host, port, code, endpoints, timeout, line_profile), claim, peer
        )


async def _listen(
    station: PairingHost,
    claim: _Claim,
    peer: str,
    host: str,
    port: int,
    endpoints: list[str],
    timeout: float,
    emit: Emit,
    profile: ProfileName,
) -> Line:
    code = new_code(random_bytes)
    where = show_address(host, port)
    sock = await _listening_socket(host, port)
    try:
        bound = show_address(host, int(sock.getsockname()[1]))
        await emit({"code": code, "listen": bound, "station": station.identity.name})
        log.info("pairing: waiting for a connection", extra={"peer": peer, "listen": bound})
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                conn, address = await loop.sock_accept(sock)
        except TimeoutError:
            raise StationError(
                "pairing-failed",
                f"nobody connected to {where} within {timeout:g} s; the code is no longer valid: "
                f"{NOTHING_CHANGED}",
            ) from None
    finally:
        # one attempt per code: nobody else gets in, even while this one runs
        sock.close()
    claim.connected = True
    shown = show_address(str(address[0]), int(address[1]))
    log.info("pairing: connection", extra={"peer": peer, "from": shown})
    try:
        reader, writer = await asyncio.open_connection(sock=conn)
    except OSError as exc:
        conn.close()
        raise StationError("pairing-failed", f"the connection from {shown} failed: {_why(exc)}") from None
    except BaseException:
        conn.close()
        raise
    await emit({"connected": shown})
    pairing = _Pairing(station, Role.LISTENER, peer, endpoints, profile)
    return await pairing.run(code, reader, writer, timeout)


async def _connect(
    station: PairingHost,
    claim: _Claim,
    peer: str,
    host: str,
    port: int,
    code: str,
    endpoints: list[str],
    timeout: float,
    profile: ProfileName,
) -> Line:
    where = show_address(host, port)
    try:
        async with asyncio.timeout(min(timeout, CONNECT_TIMEOUT)):
            reader, writer = await asyncio.open_connection(host, port)
    except TimeoutError:
        raise StationError("pairing-failed", f"cannot connect to {where}: no answer") from None
    except OSError as exc:
        raise StationError("pairing-failed", f"cannot connect to {where}: {_why(exc)}") from None
    claim.connected = True
    log.info("pairing: connected", extra={"peer": peer, "to": where})
    pairing = _Pairing(station, Role.DIALER, peer, endpoints, profile)
    return await pairing.run(code, reader, writer, timeout)


async def _listening_socket(host: str, port: int) -> socket.socket:
    loop = asyncio.get_running_loop()
    where = show_address(host, port)
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise StationError("pairing-failed", f"cannot listen on {where}: {_why(exc)}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(1)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise StationError("pairing-failed", f"cannot listen on {where}: {_why(exc)}") from None
    return sock


def _why(exc: OSError) -> str:
    return (exc.strerror or str(exc) or type(exc).__name__).lower()


# -- one exchange ----------------------------------------------------------------------------------------


class _Refusal(Exception):
    """We refuse to go on: ``message`` for our operator, ``reason`` for the peer's."""

    def __init__(self, code: str, message: str, reason: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason


class _Pairing:
    """One end of one pairing connection: drives the machine and does the station's part."""

    def __init__(
        self, station: PairingHost, role: Role, peer: str, endpoints: list[str], profile: ProfileName
    ) -> None:
        self.station = station
        self.role = role
        self.peer = peer
        self.endpoints = endpoints
        #: The line's profile as our operator gave it; the exchange carries it to the peer, and
        #: the line is stored with it.
        self.profile: ProfileName = profile
        self.card: StationCard | None = None
        self.key: LineKey | None = None
        self.line: Line | None = None
        self.machine: PairingMachine | None = None

    async def run(
        self, code: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout: float
    ) -> Line:
        """Pair over the connection; the machine's deadline (at most ``timeout`` s) bounds the exchange."""
        loop = asyncio.get_running_loop()
        try:
            # the two ends' profiles must match, or the pairing fails and nothing is stored (§11)
            if self.profile not in self.station.identity.profiles:
                raise StationError(
                    "bad-request",
                    f"this station holds no {self.profile} keys yet: restart it (opening it adds them)",
                )
            machine = PairingMachine(
                self.role,
                code,
                card=self.station.card(),
                now=loop.time(),
                entropy=random_bytes,
                timeout=min(timeout, EXCHANGE_TIMEOUT),
                profile=self.profile,
            )
            self.machine = machine
            await self._drive(machine, reader, writer)
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        assert self.line is not None
        log.info("pairing: line added, to be verified", extra={"peer": self.peer})
        return self.line

    async def _drive(
        self, machine: PairingMachine, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await _send(machine, writer)
            while (event := machine.next_event()) is not None:
                try:
                    await self._on_event(event)
                except _Refusal as refusal:
                    machine.abort(refusal.reason)
                    _send_now(machine, writer)
                    raise StationError(refusal.code, refusal.message) from None
                except BaseException:
                    machine.abort("the other station could not finish")
                    _send_now(machine, writer)
                    raise
                await _send(machine, writer)
            if machine.finished:
                return
            deadline = machine.get_timer()
            try:
                async with asyncio.timeout_at(deadline):
                    data = await reader.read(READ_SIZE)
            except TimeoutError:
                machine.handle_timer(loop.time())
                continue
            except OSError:
                data = b""
            machine.receive_data(data)

    async def _on_event(self, event: PairingEvent) -> None:
        machine = self.machine
        assert machine is not None
        if machine.finished and not isinstance(event, PairingDone | PairingFailed):
            # One read can carry a good frame and then a bad one: the machine reports the card or the
            # line key, then fails. Its PairingFailed is still queued behind; acting on the earlier
            # event would call a finished machine, or store a line the peer never hears "done" for.
            log.debug("pairing: %s after the exchange ended, ignored", type(event).__name__)
            return
        match event:
            case CodeConfirmed():
                log.info("pairing: the code matched", extra={"peer": self.peer})
            case PeerCardReceived(card):
                self._check_card(card)
                self.card = card
                if self.role is Role.LISTENER:
                    machine.send_line_key(self._create_key(card))
            case LineKeyReceived(sealed):
                assert self.card is not None
                try:
                    self.key = open_line_key(sealed, self.station.identity, self.card, profile=self.profile)
                except IdentityError as exc:
                    raise _Refusal(
                        "pairing-failed",
                        f"the line key from the other station does not open: {exc.reason}: {NOTHING_CHANGED}",
                        "the line key did not open",
                    ) from None
                await self._store()
                machine.finish()
            case PairingDone():
                if self.role is Role.LISTENER:
                    await self._store()
            case PairingFailed(kind, reason):
                raise StationError("pairing-failed", self._wording(kind, reason))
            case _:
                assert_never(event)

    def _wording(self, kind: FailureKind, reason: str) -> str:
        if kind is FailureKind.WRONG_CODE:
            return f"the code did not match: {NOTHING_CHANGED}"
        if (
            self.role is Role.LISTENER
            and self.key is not None
            and self.line is None
            and kind is not FailureKind.PEER_ABORTED
        ):
            # the dialer may have stored the line and said "done" into a cut connection
            return (
                f"{reason}, after this station sent the line key: nothing was changed here, but the other "
                f"station may have added the line; its operator should check `hotline line list` and "
                f"remove it before pairing again"
            )
        if kind is FailureKind.TIMEOUT:
            return f"the pairing did not finish in time ({reason}): {NOTHING_CHANGED}"
        return f"{reason}: {NOTHING_CHANGED}"

    def _check_card(self, card: StationCard) -> None:
        station = self.station
        if card.key_digest == station.identity.key_digest:
            raise _Refusal(
                "pairing-failed",
                f"that is this station itself: {NOTHING_CHANGED}",
                "a station cannot pair with itself",
            )
        clash = key_clash(station, card, peer=self.peer)
        if clash is not None:
            raise _Refusal(
                clash.code,
                f"{clash.message}: {NOTHING_CHANGED}",
                f"{station.identity.name} already has a line to a station with a key of this card",
            )
        if self.peer in station.lines:
            raise _Refusal(
                "line-exists",
                f"a line {self.peer!r} was added meanwhile: {NOTHING_CHANGED}",
                f"{station.identity.name} already has a line by that name",
            )

    def _create_key(self, card: StationCard) -> bytes:
        identity = self.station.identity
        label = grant_label(identity.name, card.name)
        try:
            key, sealed = create_line_key(
                sender=identity,
                recipient=card,
                label=label,
                created_at=int(time.time()),
                profile=self.profile,
            )
        except IdentityError as exc:
            raise _Refusal("pairing-failed", f"cannot make a line key: {exc.reason}", "no line key") from None
        self.key = key
        return sealed

    async def _store(self) -> None:
        """Add the line with its key, unverified, in one store call; then start supervising it."""
        station, card, key, peer = self.station, self.card, self.key, self.peer
        assert card is not None and key is not None
        endpoints = list(self.endpoints) or list(card.endpoints)
        # the line profile's digests: what its chains start from and what verification pins (§8.1)
        line_suite = suite(self.profile)
        ours, theirs = station.identity.key_digest_for(self.profile), card.key_digest_for(self.profile)

        def store(s: Store) -> LineRow:
            if s.lines.by_peer(peer) is not None:
                raise _Refusal(
                    "line-exists",
                    f"a line {peer!r} was added meanwhile: {NOTHING_CHANGED}",
                    "the other station already has a line by that name",
                )
            row = s.lines.add(
                peer=peer,
                card=encode_card(card),
                key_digest=theirs,
                static_public=card.static_public.raw,
                endpoints=endpoints,
                now=time.time(),
                chain_out0=chain_start(ours, theirs, line_suite),
                chain_in0=chain_start(theirs, ours, line_suite),
                profile=self.profile,
            )
            s.lines.set_key(row.id, key.key, key.created_at)
            # never set_verified here: only the operators' comparison of the safety number verifies
            stored = s.lines.by_id(row.id)
            assert stored is not None
            return stored

        row = await station.worker.call(store)
        line = await station.add_line(row)
        line.refresh(row, key.key)
        self.line = line


async def _send(machine: PairingMachine, writer: asyncio.StreamWriter) -> None:
    data = machine.data_to_send()
    if data:
        writer.write(data)
        with contextlib.suppress(OSError):
            await writer.drain()


def _send_now(machine: PairingMachine, writer: asyncio.StreamWriter) -> None:
    # on the way out (maybe cancelled): write what the machine has, without waiting for the peer
    data = machine.data_to_send()
    if data and not writer.is_closing():
        with contextlib.suppress(OSError):
            writer.write(data)
