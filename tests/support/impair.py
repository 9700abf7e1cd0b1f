"""An impairment proxy: network faults for tests and benchmarks on a kernel without netem.

:class:`ImpairProxy` listens on one port number for BOTH TCP and UDP and forwards each to a target
``(host, port)``, so a peer that dials the proxy reaches the target's station for its TCP line and its
UDP voice alike. Between the two it applies an :class:`Impairment` per direction ("forward" is client to
target, "back" is target to client): loss, delay, jitter, reordering, duplication, bit flips, a rate cap
and a blackhole, plus whole-link faults (partition, connection resets, refused connections).

Theory of operation:

* The proxy runs its own asyncio loop in a daemon thread, so blocking tests that drive daemon
  subprocesses can use it through a synchronous API. Every public method hands its work to that loop and
  waits for it, so when ``proxy.partition()`` returns the partition already holds. All state below is
  owned by the loop thread; nothing else touches it.
* UDP: each client source address is a *flow* with its own proxy-side socket towards the target, so the
  target sees one peer per client and its replies find their way back. Idle flows are dropped.
* TCP: each accepted connection is piped to a fresh upstream connection. Each direction is a queue of
  chunks with release times, ``release = max(previous release, now + delay + jitter sample)``, so byte
  order holds whatever the jitter. The rate cap is applied as chunks leave, in small pieces so the cap is
  smooth. Memory stays bounded: a source stops being read while its queue is long or while the other
  side's transport is paused for writing.
* A rate cap is one link per direction, shared by every flow and connection, like a real bottleneck.
  It is a token bucket one piece deep (a virtual clock): a piece may leave once the link has finished
  the previous one. UDP datagrams that find more than :attr:`Impairment.buffer` bytes waiting are
  dropped, as a router's tail drop would.
* Randomness: one ``random.Random`` per direction, both derived from :attr:`ImpairProxy.seed`. One
  stream per direction (rather than one for the proxy) means the drops in one direction replay exactly
  for the same traffic even when the other direction's traffic interleaves differently from run to run.
  A draw is made only for a fault whose probability is non-zero.

What we refuse to do, and why:

* TCP never loses or reorders bytes here. A blackhole or a partition *holds* TCP data (and EOF) and
  releases it when lifted, which is what TCP's retransmissions make a real cut look like to the
  application. Dropping bytes from the middle of a stream would show the station a corrupt stream,
  which no network produces. ``partition(lose_tcp_data=True)`` does it anyway for a test that wants it.
* A reset (peer RST, :meth:`ImpairProxy.reset_connections`) is passed on at once and drops what is
  still queued, rather than travelling behind the queued data as a real RST segment would.
* The target sees the proxy's addresses, not the client's: the station must reply to the source of a
  datagram, not to an address it was told about, for its voice to come back through the proxy.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import errno
import logging
import os
import random
import socket
import threading
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, Self, TypeVar, cast

__all__ = ["ImpairProxy", "Impairment", "ProxyStats"]

log = logging.getLogger(__name__)

T = TypeVar("T")
Direction = Literal["forward", "back"]
DIRECTIONS: tuple[Direction, Direction] = ("forward", "back")

#: A TCP direction stops reading its source above this many queued bytes, and resumes below the low mark.
QUEUE_HIGH = 256 * 1024
QUEUE_LOW = 64 * 1024
#: A datagram held back for reordering is sent anyway after this long if nothing follows it.
REORDER_HOLD_MAX = 0.2
#: At most this many datagrams wait for a new flow's socket to open.
FLOW_PENDING_MAX = 256
#: How long a call from the test thread waits for the proxy loop before giving up.
CALL_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class Impairment:
    """The faults applied to one direction. The zero value forwards everything untouched."""

    loss: float = 0.0
    """Probability that a UDP datagram is dropped. TCP ignores it: TCP is reliable."""
    delay: float = 0.0
    """Seconds added one way."""
    jitter: float = 0.0
    """Extra uniform random delay of 0..jitter seconds. UDP reorders naturally; TCP keeps byte order."""
    reorder: float = 0.0
    """UDP: probability that a datagram is held back and sent after the next one."""
    duplicate: float = 0.0
    """UDP: probability that a datagram is sent twice."""
    corrupt: float = 0.0
    """Probability that a datagram (UDP) or a forwarded chunk (TCP) gets one random bit flipped.

    TCP chunks are whatever one read returned, so the number of flips depends on the kernel's timing."""
    rate: float | None = None
    """Bandwidth cap in bytes per second for this direction, shared by all flows; None is unlimited."""
    blackhole: bool = False
    """Forward nothing: UDP datagrams vanish, TCP connections stay open and their data is held."""
    buffer: int = 64 * 1024
    """Bytes a rate-capped link may have waiting before further UDP datagrams are dropped."""

    def __post_init__(self) -> None:
        for name in ("loss", "reorder", "duplicate", "corrupt"):
            p = getattr(self, name)
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], got {p!r}")
        if self.delay < 0 or self.jitter < 0:
            raise ValueError("delay and jitter must not be negative")
        if self.rate is not None and self.rate <= 0:
            raise ValueError(f"rate must be positive or None, got {self.rate!r}")
        if self.buffer < 0:
            raise ValueError(f"buffer must not be negative, got {self.buffer!r}")


@dataclass(slots=True)
class ProxyStats:
    """Counters since the proxy started. :attr:`ImpairProxy.stats` returns a snapshot copy."""

    tcp_connections: int = 0
    """TCP connections accepted and piped (refused ones are not counted here)."""
    tcp_refused: int = 0
    """TCP connections closed at once because :meth:`ImpairProxy.refuse` was on."""
    tcp_bytes_forward: int = 0
    """TCP bytes the proxy read from clients."""
    tcp_bytes_back: int = 0
    """TCP bytes the proxy read from the target."""
    tcp_bytes_discarded: int = 0
    """TCP bytes thrown away by ``partition(lose_tcp_data=True)``."""
    udp_datagrams_forward: int = 0
    """UDP datagrams the proxy received from clients."""
    udp_datagrams_back: int = 0
    """UDP datagrams the proxy received from the target."""
    dropped: int = 0
    """UDP datagrams dropped: loss, blackhole, partition or a full rate-capped link."""
    duplicated: int = 0
    """UDP datagrams sent twice."""
    reordered: int = 0
    """UDP datagrams held back to be sent after the next one."""
    corrupted: int = 0
    """UDP datagrams and TCP chunks that had a bit flipped."""


def _flip_bit(data: bytes, rng: random.Random) -> bytes:
    bit = rng.randrange(len(data) * 8)
    out = bytearray(data)
    out[bit >> 3] ^= 1 << (bit & 7)
    return bytes(out)


class _Link:
    """The shared bottleneck of one direction: when it is free to send the next piece."""

    __slots__ = ("free_at",)

    def __init__(self) -> None:
        self.free_at = 0.0


# --- TCP ---------------------------------------------------------------------------------------------


class _TcpEnd(asyncio.Protocol):
    """One socket of a piped pair. It only passes its events on to the pair."""

    def __init__(self, pair: _TcpPair, side: Direction) -> None:
        self.pair = pair
        #: The direction this end's incoming bytes travel in.
        self.side: Direction = side
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.pair.end_made(self)

    def data_received(self, data: bytes) -> None:
        self.pair.pipes[self.side].push(data)

    def eof_received(self) -> bool:
        self.pair.pipes[self.side].push_eof()
        # Keep the transport open: the other direction may still have data for this end.
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.pair.end_lost(exc)

    def pause_writing(self) -> None:
        self.pair.pipe_into(self).set_dst_paused(True)

    def resume_writing(self) -> None:
        self.pair.pipe_into(self).set_dst_paused(False)


class _Chunk:
    __slots__ = ("data", "release")

    def __init__(self, release: float, data: bytes | None) -> None:
        self.release = release
        #: None marks the source's EOF.
        self.data = data


class _Pipe:
    """One direction of a TCP pair: a queue of chunks released in order at their release times."""

    def __init__(self, proxy: ImpairProxy, direction: Direction, src: _TcpEnd, dst: _TcpEnd) -> None:
        self.proxy = proxy
        self.direction = direction
        self.src = src
        self.dst = dst
        self.queue: deque[_Chunk] = deque()
        self.queued = 0
        self.last_release = 0.0
        self.timer: asyncio.TimerHandle | None = None
        self.dst_paused = False
        self.src_paused = False
        self.eof_queued = False
        self.eof_sent = False

    def push(self, data: bytes) -> None:
        proxy = self.proxy
        if self.direction == "forward":
            proxy._stats.tcp_bytes_forward += len(data)
        else:
            proxy._stats.tcp_bytes_back += len(data)
        if proxy._partitioned and proxy._lose_tcp_data:
            proxy._stats.tcp_bytes_discarded += len(data)
            return
        imp = proxy._imp[self.direction]
        rng = proxy._rng[self.direction]
        if imp.corrupt and rng.random() < imp.corrupt:
            data = _flip_bit(data, rng)
            proxy._stats.corrupted += 1
        now = proxy._loop_time()
        release = now + imp.delay
        if imp.jitter:
            release += rng.uniform(0.0, imp.jitter)
        # Jitter may not reorder a byte stream, so a chunk never leaves before the one ahead of it.
        self.last_release = max(self.last_release, release)
        self.queue.append(_Chunk(self.last_release, data))
        self.queued += len(data)
        self.pump()

    def push_eof(self) -> None:
        if self.eof_queued:
            return
        self.eof_queued = True
        imp = self.proxy._imp[self.direction]
        self.last_release = max(self.last_release, self.proxy._loop_time() + imp.delay)
        self.queue.append(_Chunk(self.last_release, None))
        self.pump()

    def discard(self) -> None:
        """Drop every queued byte (a partition that loses data in flight); a queued EOF survives."""
        for chunk in self.queue:
            if chunk.data is not None:
                self.proxy._stats.tcp_bytes_discarded += len(chunk.data)
        self.queue = deque(c for c in self.queue if c.data is None)
        self.queued = 0
        self.pump()

    def set_dst_paused(self, paused: bool) -> None:
        self.dst_paused = paused
        self.pump()

    def cancel(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def pump(self) -> None:
        """Release every chunk that is due; arm the timer for the next one. Safe to call at any time."""
        self.cancel()
        self._release()
        self._update_reading()

    def _release(self) -> None:
        proxy = self.proxy
        dst = self.dst.transport
        if dst is None or dst.is_closing() or self.src.pair.closing:
            return
        while self.queue:
            imp = proxy._imp[self.direction]
            if proxy._partitioned or imp.blackhole or self.dst_paused:
                return
            head = self.queue[0]
            now = proxy._loop_time()
            if head.release > now:
                self._arm(head.release)
                return
            if head.data is None:
                self.queue.popleft()
                self.eof_sent = True
                if dst.can_write_eof():
                    dst.write_eof()
                self.src.pair.maybe_finished()
                return
            data = head.data
            if imp.rate is not None:
                link = proxy._links[self.direction]
                if link.free_at > now:
                    self._arm(link.free_at)
                    return
                # Small pieces keep the cap smooth: about 10 ms of link time each.
                piece = max(256, min(16384, int(imp.rate / 100)))
                if len(data) > piece:
                    head.data, data = data[piece:], data[:piece]
                else:
                    self.queue.popleft()
                link.free_at = now + len(data) / imp.rate
            else:
                self.queue.popleft()
            self.queued -= len(data)
            dst.write(data)

    def _arm(self, when: float) -> None:
        self.timer = self.proxy._loop().call_at(when, self.pump)

    def _update_reading(self) -> None:
        src = self.src.transport
        if src is None or src.is_closing():
            return
        if not self.src_paused and (self.queued > QUEUE_HIGH or self.dst_paused):
            self.src_paused = True
            src.pause_reading()
        elif self.src_paused and self.queued <= QUEUE_LOW and not self.dst_paused:
            self.src_paused = False
            src.resume_reading()


class _TcpPair:
    """An accepted client connection and its upstream connection, piped both ways."""

    def __init__(self, proxy: ImpairProxy) -> None:
        self.proxy = proxy
        self.client = _TcpEnd(self, "forward")
        self.upstream = _TcpEnd(self, "back")
        self.pipes: dict[Direction, _Pipe] = {
            "forward": _Pipe(proxy, "forward", self.client, self.upstream),
            "back": _Pipe(proxy, "back", self.upstream, self.client),
        }
        self.closing = False
        self.connect_task: asyncio.Task[None] | None = None

    def pipe_into(self, end: _TcpEnd) -> _Pipe:
        return self.pipes["back"] if end is self.client else self.pipes["forward"]

    def end_made(self, end: _TcpEnd) -> None:
        proxy = self.proxy
        if end is self.upstream:
            if self.closing:
                assert end.transport is not None
                end.transport.abort()
                return
            self.kick()
            return
        assert end.transport is not None
        if proxy._refusing:
            # Closest we can get to a refused port after the kernel has accepted: a reset.
            proxy._stats.tcp_refused += 1
            self.closing = True
            end.transport.abort()
            return
        proxy._stats.tcp_connections += 1
        proxy._pairs.add(self)
        # During a partition the upstream connection waits for heal(), as a SYN would be retried.
        if not proxy._partitioned:
            self.connect()

    def connect(self) -> None:
        if self.connect_task is None and not self.closing:
            self.connect_task = self.proxy._spawn(self._connect())

    async def _connect(self) -> None:
        host, port = self.proxy.target
        try:
            await self.proxy._loop().create_connection(lambda: self.upstream, host, port)
        except OSError as exc:
            log.debug("impair proxy: upstream connect to %s:%s failed: %s", host, port, exc)
            self.abort()

    def kick(self) -> None:
        for pipe in self.pipes.values():
            pipe.pump()

    def maybe_finished(self) -> None:
        if all(pipe.eof_sent for pipe in self.pipes.values()):
            self.close()

    def end_lost(self, exc: Exception | None) -> None:
        if self.closing:
            return
        if exc is not None:
            # Something went wrong on one side (a reset, a failed write): pass it on as a reset.
            self.abort()
        else:
            self.close()

    def _finish(self) -> None:
        self.closing = True
        self.proxy._pairs.discard(self)
        for pipe in self.pipes.values():
            pipe.cancel()
        if self.connect_task is not None and not self.connect_task.done():
            self.connect_task.cancel()

    def close(self) -> None:
        self._finish()
        for end in (self.client, self.upstream):
            if end.transport is not None:
                end.transport.close()

    def abort(self) -> None:
        self._finish()
        for end in (self.client, self.upstream):
            if end.transport is not None:
                end.transport.abort()


# --- UDP ---------------------------------------------------------------------------------------------


class _UdpListener(asyncio.DatagramProtocol):
    """The proxy's public UDP socket: datagrams from clients in, the target's replies out."""

    def __init__(self, proxy: ImpairProxy) -> None:
        self.proxy = proxy

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        self.proxy._udp_from_client(data, addr)

    def error_received(self, exc: Exception) -> None:
        # ICMP errors from a client that went away; nothing to do about them.
        log.debug("impair proxy: UDP listener error: %s", exc)


class _Flow(asyncio.DatagramProtocol):
    """One client source address and its own socket towards the target."""

    def __init__(self, proxy: ImpairProxy, client: tuple[Any, ...]) -> None:
        self.proxy = proxy
        self.client = client
        self.transport: asyncio.DatagramTransport | None = None
        self.pending: list[bytes] = []
        self.last_active = proxy._loop_time()
        self.held: dict[Direction, list[bytes] | None] = {"forward": None, "back": None}
        self.hold_timer: dict[Direction, asyncio.TimerHandle | None] = {"forward": None, "back": None}
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Not an isinstance check: CPython 3.11's selector datagram transport does not subclass
        # DatagramTransport.
        self.transport = cast(asyncio.DatagramTransport, transport)
        if self.closed:
            self.transport.close()
            return
        for data in self.pending:
            self.transport.sendto(data)
        self.pending.clear()

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        self.last_active = self.proxy._loop_time()
        self.proxy._stats.udp_datagrams_back += 1
        self.proxy._udp_impair(self, "back", data)

    def error_received(self, exc: Exception) -> None:
        # ECONNREFUSED when nothing listens on the target's UDP port: a lost datagram, as on a network.
        log.debug("impair proxy: UDP flow error: %s", exc)

    def send_upstream(self, data: bytes) -> None:
        if self.closed:
            return
        if self.transport is None:
            if len(self.pending) < FLOW_PENDING_MAX:
                self.pending.append(data)
            return
        self.transport.sendto(data)

    def close(self) -> None:
        self.closed = True
        for timer in self.hold_timer.values():
            if timer is not None:
                timer.cancel()
        if self.transport is not None:
            self.transport.close()


# --- the proxy ---------------------------------------------------------------------------------------


class ImpairProxy:
    """A TCP+UDP forwarder to ``target`` that injects network faults; see the module docstring.

    The public methods are safe to call from any thread; they block until the proxy's loop has applied
    them. Before :meth:`start` they apply at once (there is no loop yet). A stopped proxy cannot be
    restarted; make a new one.

    Args:
        target: where to forward, ``(host, port)``; TCP and UDP both go to this port.
        host: the address to listen on.
        port: the port number to listen on for both TCP and UDP; 0 picks one that is free for both.
        tcp: forward TCP.
        udp: forward UDP.
        seed: seed for every random choice; None draws one. Read it back from :attr:`seed`.
        flow_idle: seconds after which an idle UDP flow (and its socket) is dropped.
    """

    def __init__(
        self,
        target: tuple[str, int],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tcp: bool = True,
        udp: bool = True,
        seed: int | None = None,
        flow_idle: float = 60.0,
    ) -> None:
        if not (tcp or udp):
            raise ValueError("an impair proxy needs TCP, UDP or both")
        self.target = target
        self.host = host
        self.port = port
        self.tcp = tcp
        self.udp = udp
        self.flow_idle = flow_idle
        #: The seed in use; print it in tests so a failure can be replayed.
        self.seed: int = int.from_bytes(os.urandom(4), "big") if seed is None else seed
        #: Unhandled errors from the proxy's loop, as strings; a test can assert it stays empty.
        self.errors: list[str] = []

        self._rng: dict[Direction, random.Random] = {d: random.Random(f"{self.seed}/{d}") for d in DIRECTIONS}
        self._imp: dict[Direction, Impairment] = {d: Impairment() for d in DIRECTIONS}
        self._links: dict[Direction, _Link] = {d: _Link() for d in DIRECTIONS}
        self._stats = ProxyStats()
        self._partitioned = False
        self._lose_tcp_data = False
        self._refusing = False
        self._pairs: set[_TcpPair] = set()
        self._flows: dict[tuple[Any, ...], _Flow] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

        self._event_loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._listener: asyncio.DatagramTransport | None = None
        self._sweeper: asyncio.TimerHandle | None = None
        self._stopped = False

    # --- lifecycle -----------------------------------------------------------------------------------

    @property
    def address(self) -> str:
        """``host:port`` of the proxy, for a peer to dial."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def start(self) -> Self:
        """Bind TCP and UDP on one port number and start the proxy's thread.

        Returns:
            self, so that ``proxy = ImpairProxy(target).start()`` reads naturally.

        Raises:
            OSError: the port (or, with ``port=0``, any port free for both protocols) cannot be bound.
            RuntimeError: the proxy was already started.
        """
        if self._event_loop is not None or self._stopped:
            raise RuntimeError("an impair proxy can be started only once")
        tcp_sock, udp_sock = self._bind()
        loop = asyncio.new_event_loop()
        loop.set_exception_handler(self._on_loop_error)
        self._event_loop = loop
        self._thread = threading.Thread(
            target=loop.run_forever, name=f"impair-proxy-{self.port}", daemon=True
        )
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._open(tcp_sock, udp_sock), loop).result(CALL_TIMEOUT)
        except BaseException:
            self.stop()
            for sock in (tcp_sock, udp_sock):
                if sock is not None:
                    sock.close()
            raise
        return self

    def stop(self) -> None:
        """Close every socket and connection and join the thread. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        loop, thread = self._event_loop, self._thread
        if loop is None or thread is None:
            return
        if loop.is_running():
            with contextlib.suppress(concurrent.futures.TimeoutError, RuntimeError):
                asyncio.run_coroutine_threadsafe(self._close(), loop).result(CALL_TIMEOUT)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(CALL_TIMEOUT)
        if not thread.is_alive():
            loop.close()

    def __enter__(self) -> Self:
        return self.start() if self._event_loop is None else self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- faults --------------------------------------------------------------------------------------

    def set(self, impairment: Impairment | None = None, *, direction: str = "both", **fields: Any) -> None:
        """Change the impairment of one or both directions.

        Each chosen direction gets ``impairment`` (or, if None, its current impairment) with ``fields``
        replacing individual fields, so ``set(loss=0.1)`` changes only the loss and ``set(Impairment())``
        clears everything. Data already queued keeps the delay it was given.

        Args:
            impairment: the new impairment, or None to start from the current one.
            direction: "both", "forward" (client to target) or "back" (target to client).
            **fields: fields of :class:`Impairment` to override.

        Raises:
            ValueError: an unknown direction or an out-of-range value.
            TypeError: a field name that :class:`Impairment` does not have.
        """
        chosen = self._directions(direction)
        new = {d: dataclasses.replace(impairment or self._imp[d], **fields) for d in chosen}

        def apply() -> None:
            self._imp.update(new)
            self._kick()

        self._call(apply)

    def clear(self, direction: str = "both") -> None:
        """Remove every impairment set with :meth:`set` (a partition or refusal stays)."""
        self.set(Impairment(), direction=direction)

    def impairment(self, direction: Direction) -> Impairment:
        """The impairment currently applied to ``direction``."""
        return self._call(lambda: self._imp[direction])

    def partition(self, *, lose_tcp_data: bool = False) -> None:
        """Cut the link both ways until :meth:`heal`.

        UDP datagrams are dropped, including ones already delayed inside the proxy. TCP data stops both
        ways; new TCP connections are accepted but their upstream connection waits for the heal. TCP
        data is held and delivered after the heal, as TCP retransmission would deliver it; with
        ``lose_tcp_data`` it is discarded instead (queued data too), which punches a hole in the stream.
        """

        def apply() -> None:
            self._partitioned = True
            self._lose_tcp_data = lose_tcp_data
            if lose_tcp_data:
                for pair in self._pairs:
                    for pipe in pair.pipes.values():
                        pipe.discard()

        self._call(apply)

    def heal(self) -> None:
        """Undo :meth:`partition`; impairments set with :meth:`set` stay."""

        def apply() -> None:
            self._partitioned = False
            self._lose_tcp_data = False
            for pair in list(self._pairs):
                pair.connect()
            self._kick()

        self._call(apply)

    def reset_connections(self) -> None:
        """Abort every open TCP connection pair: both ends see a reset (RST)."""

        def apply() -> None:
            for pair in list(self._pairs):
                pair.abort()

        self._call(apply)

    def refuse(self, on: bool = True) -> None:
        """While on, new TCP connections are reset as soon as they are accepted (like a refused port).

        Connections already open are not touched; combine with :meth:`reset_connections` for that.
        """

        def apply() -> None:
            self._refusing = on

        self._call(apply)

    @property
    def stats(self) -> ProxyStats:
        """A snapshot of the counters."""
        return self._call(lambda: dataclasses.replace(self._stats))

    @property
    def open_connections(self) -> int:
        """The number of TCP connection pairs open now."""
        return self._call(lambda: len(self._pairs))

    @property
    def flows(self) -> int:
        """The number of UDP flows (client source addresses) open now."""
        return self._call(lambda: len(self._flows))

    # --- plumbing ------------------------------------------------------------------------------------

    @staticmethod
    def _directions(direction: str) -> tuple[Direction, ...]:
        if direction == "both":
            return DIRECTIONS
        if direction == "forward":
            return ("forward",)
        if direction == "back":
            return ("back",)
        raise ValueError(f"direction must be 'both', 'forward' or 'back', got {direction!r}")

    def _loop(self) -> asyncio.AbstractEventLoop:
        assert self._event_loop is not None
        return self._event_loop

    def _loop_time(self) -> float:
        return self._loop().time()

    def _call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the proxy's loop and return its result, so its effect holds when we return."""
        loop, thread = self._event_loop, self._thread
        if loop is None or thread is None or not thread.is_alive() or threading.current_thread() is thread:
            # Not running (yet or any more), or already on the loop: nothing can race with us.
            return fn()
        fut: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            if not fut.set_running_or_notify_cancel():
                return
            try:
                fut.set_result(fn())
            except BaseException as exc:
                fut.set_exception(exc)

        loop.call_soon_threadsafe(run)
        return fut.result(CALL_TIMEOUT)

    def _on_loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        self.errors.append(f"{context.get('message')}: {context.get('exception')!r}")
        loop.default_exception_handler(context)

    def _bind(self) -> tuple[socket.socket | None, socket.socket | None]:
        family, _, _, _, sockaddr = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)[0]
        attempts = 50 if self.port == 0 else 1
        for attempt in range(attempts):
            tcp_sock = udp_sock = None
            try:
                port = self.port
                if self.tcp:
                    tcp_sock = socket.socket(family, socket.SOCK_STREAM)
                    tcp_sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    tcp_sock.bind((sockaddr[0], port, *sockaddr[2:]))
                    port = tcp_sock.getsockname()[1]
                if self.udp:
                    udp_sock = socket.socket(family, socket.SOCK_DGRAM)
                    udp_sock.bind((sockaddr[0], port, *sockaddr[2:]))
                    port = udp_sock.getsockname()[1]
            except OSError as exc:
                for sock in (tcp_sock, udp_sock):
                    if sock is not None:
                        sock.close()
                # With port=0 the TCP port we got may be taken for UDP; try another number.
                if exc.errno == errno.EADDRINUSE and attempt + 1 < attempts:
                    continue
                raise
            self.port = port
            return tcp_sock, udp_sock
        raise AssertionError("unreachable")

    async def _open(self, tcp_sock: socket.socket | None, udp_sock: socket.socket | None) -> None:
        loop = self._loop()
        if tcp_sock is not None:
            self._server = await loop.create_server(lambda: _TcpPair(self).client, sock=tcp_sock)
        if udp_sock is not None:
            self._listener, _ = await loop.create_datagram_endpoint(lambda: _UdpListener(self), sock=udp_sock)
            self._sweeper = loop.call_later(self._sweep_interval(), self._sweep_flows)

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        for pair in list(self._pairs):
            pair.abort()
        for flow in self._flows.values():
            flow.close()
        self._flows.clear()
        if self._listener is not None:
            self._listener.close()
        if self._sweeper is not None:
            self._sweeper.cancel()
        tasks = [t for t in self._tasks if not t.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # Let the transports' connection_lost callbacks run before the loop stops.
        await asyncio.sleep(0)

    def _kick(self) -> None:
        for pair in list(self._pairs):
            pair.kick()

    def _sweep_interval(self) -> float:
        return max(0.05, min(10.0, self.flow_idle / 4))

    def _sweep_flows(self) -> None:
        now = self._loop_time()
        for addr, flow in list(self._flows.items()):
            if now - flow.last_active > self.flow_idle:
                flow.close()
                del self._flows[addr]
        self._sweeper = self._loop().call_later(self._sweep_interval(), self._sweep_flows)

    def _flow_for(self, client: tuple[Any, ...]) -> _Flow:
        flow = self._flows.get(client)
        if flow is None:
            flow = self._flows[client] = _Flow(self, client)
            self._spawn(self._open_flow(flow))
        return flow

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        # Kept in a set so that stop() can cancel and await every task the proxy started.
        task = self._loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _open_flow(self, flow: _Flow) -> None:
        try:
            await self._loop().create_datagram_endpoint(lambda: flow, remote_addr=self.target)
        except OSError as exc:
            log.debug("impair proxy: cannot open a UDP flow to %s: %s", self.target, exc)
            flow.close()
            if self._flows.get(flow.client) is flow:
                del self._flows[flow.client]

    def _udp_from_client(self, data: bytes, addr: tuple[Any, ...]) -> None:
        self._stats.udp_datagrams_forward += 1
        flow = self._flow_for(addr)
        flow.last_active = self._loop_time()
        self._udp_impair(flow, "forward", data)

    def _udp_impair(self, flow: _Flow, direction: Direction, data: bytes) -> None:
        """Apply one direction's impairment to a datagram and schedule what is left of it."""
        imp = self._imp[direction]
        rng = self._rng[direction]
        stats = self._stats
        now = self._loop_time()
        if self._partitioned or imp.blackhole or (imp.loss and rng.random() < imp.loss):
            stats.dropped += 1
            return
        at = now
        if imp.rate is not None:
            link = self._links[direction]
            start = max(link.free_at, now)
            if (start - now) * imp.rate > imp.buffer:
                stats.dropped += 1  # tail drop at the bottleneck
                return
            link.free_at = start + len(data) / imp.rate
            at = link.free_at
        if imp.corrupt and data and rng.random() < imp.corrupt:
            data = _flip_bit(data, rng)
            stats.corrupted += 1
        batch = [data]
        if imp.duplicate and rng.random() < imp.duplicate:
            batch.append(data)
            stats.duplicated += 1
        held = flow.held[direction]
        if held is not None:
            # The datagram held back goes right after this one, in the same callback so order holds.
            batch.extend(held)
            flow.held[direction] = None
            timer = flow.hold_timer[direction]
            if timer is not None:
                timer.cancel()
                flow.hold_timer[direction] = None
        elif imp.reorder and rng.random() < imp.reorder:
            flow.held[direction] = batch
            flow.hold_timer[direction] = self._loop().call_later(
                REORDER_HOLD_MAX, self._udp_flush_held, flow, direction
            )
            stats.reordered += 1
            return
        at += imp.delay
        if imp.jitter:
            at += rng.uniform(0.0, imp.jitter)
        if at <= now:
            self._udp_send(flow, direction, batch)
        else:
            self._loop().call_at(at, self._udp_send, flow, direction, batch)

    def _udp_flush_held(self, flow: _Flow, direction: Direction) -> None:
        held = flow.held[direction]
        flow.held[direction] = None
        flow.hold_timer[direction] = None
        if held is not None:
            delay = self._imp[direction].delay
            self._loop().call_later(delay, self._udp_send, flow, direction, held)

    def _udp_send(self, flow: _Flow, direction: Direction, batch: list[bytes]) -> None:
        # Checked again on the way out: a partition loses datagrams that were already delayed in flight.
        if self._partitioned or self._imp[direction].blackhole:
            self._stats.dropped += len(batch)
            return
        if direction == "forward":
            for data in batch:
                flow.send_upstream(data)
        elif self._listener is not None and not self._listener.is_closing():
            for data in batch:
                self._listener.sendto(data, flow.client)
