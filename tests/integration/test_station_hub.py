"""One hub station with eight peers: nine daemons, sixteen directions, no cross-talk. And a hub
whose hostile peer hammers it with handshakes and rekeys while another line carries messages."""

from __future__ import annotations

import asyncio
import base64
import multiprocessing
import statistics
import threading
import time
from collections.abc import Iterator

import pytest

from hotline.crypto.x25519 import X25519PrivateKey
from hotline.net.tcp import ChannelClosed, SecureChannel, connect
from hotline.proto.cards import dearmor_card
from hotline.proto.errors import ErrorCode
from hotline.proto.handshake import InitiationTimestamps
from hotline.proto.linekeys import open_line_key
from hotline.proto.session import SessionConfig
from hotline.station.home import unlock
from tests.support.load import cpu_seconds
from tests.support.stations import PASSPHRASE, Cluster, StationProc, pair

PEERS = 8
EACH = 25


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    with Cluster() as c:
        yield c


@pytest.mark.slow
def test_hub_with_eight_peers_keeps_every_line_apart(cluster: Cluster) -> None:
    hub = cluster.add("hub")
    peers = [cluster.add(f"post{i}") for i in range(PEERS)]
    for peer in peers:
        pair(hub, peer)
    cluster.start_all()
    for peer in peers:
        hub.wait_line(peer, timeout=30)
        peer.wait_line(hub, timeout=30)
    status = hub.status()
    assert sorted(line["peer"] for line in status["lines"]) == sorted(p.name for p in peers)
    assert all(line["state"] == "up" for line in status["lines"])

    last: list[tuple[StationProc, str]] = []
    for i in range(EACH):
        for peer in peers:
            up = peer.send(hub, f"from {peer.name} to hub #{i:02d}", "priority" if i % 3 else "routine")
            down = hub.send(peer, f"from hub to {peer.name} #{i:02d}")
            if i == EACH - 1:
                last += [(peer, up["id"]), (hub, down["id"])]
    for sender, message_id in last:
        sender.request("wait", id=message_id, timeout=30)

    for peer in peers:
        got = peer.inbox()
        assert {m["peer"] for m in got} == {"hub"}, f"{peer.name} heard from { ({m['peer'] for m in got}) }"
        assert [m["text"] for m in got] == [f"from hub to {peer.name} #{i:02d}" for i in range(EACH)]
    hub_inbox = hub.inbox()
    assert len(hub_inbox) == PEERS * EACH
    for peer in peers:
        texts = [m["text"] for m in hub_inbox if m["peer"] == peer.name]
        assert sorted(texts) == [f"from {peer.name} to hub #{i:02d}" for i in range(EACH)]
        assert [m["text"] for m in hub.inbox(peer)] == texts
    for message in hub_inbox:
        assert message["text"].startswith(f"from {message['peer']} to hub #")

    for peer in peers:
        result = hub.request("test", peer=peer.name, timeout=10)
        assert result["ok"], (peer.name, result)
    assert all(line["state"] == "up" for line in hub.status()["lines"])


#: Round trips measured on the honest line per phase; phases alternate quiet and under attack, so
#: a change in the machine's load in the meantime weighs on both alike.
ROUND_TRIPS = 35
PHASES = 3
#: Pause between two round trips of the honest line (seconds): the attack runs for several seconds.
PACE = 0.03
#: Concurrent dialling loops of the hostile peer.
HOSTILE_DIALLERS = 32


class HostilePeer:
    """Mallory: an authenticated peer of the hub (it holds a verified line and its key), run from
    real Sessions in a process of its own (so it competes with the hub for the CPU, not with the
    test's measuring). While :attr:`pressing` is set, each of :data:`HOSTILE_DIALLERS` loops dials
    the hub as fast as it can (giving up on an unanswered dial after 0.2 s) and, on every session it
    gets, starts a rekey as soon as the last one finished: one per round trip."""

    def __init__(self, port: int, static: bytes, hub_static: bytes, line_key: bytes) -> None:
        context = multiprocessing.get_context("spawn")
        self.pressing = context.Event()
        self._stop = context.Event()
        self._results: multiprocessing.Queue[dict[str, float]] = context.Queue()
        self._process = context.Process(
            target=_hostile_main,
            args=(port, static, hub_static, line_key, self.pressing, self._stop, self._results),
            daemon=True,
        )
        self.counts: dict[str, float] = {}

    def start(self) -> None:
        self._process.start()

    def stop(self) -> None:
        """End the attack; :attr:`counts` then says what it did (dials, sessions, rekeys,
        rate_limited, cpu seconds)."""
        self._stop.set()
        self.pressing.set()
        self.counts = self._results.get(timeout=30)
        self._process.join(30)


def _hostile_main(
    port: int,
    static: bytes,
    hub_static: bytes,
    line_key: bytes,
    pressing: threading.Event,
    stop: threading.Event,
    results: multiprocessing.Queue[dict[str, float]],
) -> None:
    stamps = InitiationTimestamps()
    config = SessionConfig(
        static=X25519PrivateKey.from_bytes(static),
        handshake_timeout=0.2,
        initiation_clock=lambda: stamps.next(time.time_ns()),
    )
    counts = {"dials": 0, "sessions": 0, "rekeys": 0, "rate_limited": 0}

    async def rekey_for_ever(channel: SecureChannel) -> None:
        protocol = channel._p
        session = protocol.session
        assert session is not None
        loop = asyncio.get_running_loop()
        while not channel.is_closed and pressing.is_set() and not stop.is_set():
            if session._rekeying.pending is None:  # what a hostile initiator's code does: rekey at once
                session._rekeying.start(loop.time())
                protocol._process()
                counts["rekeys"] += 1
            await asyncio.sleep(0.001)
        ended = channel.close_reason
        if ended is not None and ended.code is ErrorCode.RATE_LIMITED:
            counts["rate_limited"] += 1
        channel.close_nowait()

    async def dial_for_ever() -> None:
        while not stop.is_set():
            if not pressing.is_set():
                await asyncio.sleep(0.05)
                continue
            counts["dials"] += 1
            try:
                async with asyncio.timeout(0.2):
                    channel = await connect(
                        "127.0.0.1", port, config=config, peer_static=hub_static, line_key=line_key
                    )
            except (OSError, ChannelClosed, TimeoutError):
                continue
            counts["sessions"] += 1
            await rekey_for_ever(channel)

    async def attack() -> None:
        async with asyncio.TaskGroup() as tg:
            for _ in range(HOSTILE_DIALLERS):
                tg.create_task(dial_for_ever())

    asyncio.run(attack())
    results.put({**counts, "cpu": time.process_time()})


def _round_trips(sender: StationProc, receiver: StationProc, count: int) -> list[float]:
    """Send-to-receipt times of ``count`` messages, one after another (seconds)."""
    took = []
    for n in range(count):
        started = time.monotonic()
        message = sender.send(receiver, f"round trip {n}")
        assert sender.request("wait", id=message["id"], timeout=30)["state"] == "delivered"
        took.append(time.monotonic() - started)
        time.sleep(PACE)
    return took


def _p95(values: list[float]) -> float:
    return sorted(values)[int(0.95 * (len(values) - 1))]


def _pair_keeping_key(granter: StationProc, hub: StationProc) -> bytes:
    """A verified, keyed line between ``granter`` and ``hub`` (the hub never reaches it); the line
    key, opened with the hub's identity."""
    card_g, card_h = granter.request("card")["armored"], hub.request("card")["armored"]
    granter.request("line.add", peer=hub.name, card=card_h, endpoints=[hub.endpoint])
    hub.request("line.add", peer=granter.name, card=card_g, endpoints=["127.0.0.1:9"])
    sealed = granter.request("line.grant", peer=hub.name)["sealed"]
    hub.request("line.accept", peer=granter.name, sealed=sealed)
    granter.request("line.verify", peer=hub.name, confirm=True)
    hub.request("line.verify", peer=granter.name, confirm=True)
    _, hub_identity = unlock(hub.home, PASSPHRASE)
    return open_line_key(base64.b64decode(sealed), hub_identity, dearmor_card(card_g)).key


@pytest.mark.slow
def test_a_hostile_peer_hammering_the_hub_with_handshakes_and_rekeys_spares_the_other_line(
    cluster: Cluster,
) -> None:
    """F12: an authenticated peer used to be able to make the hub do one full handshake per
    connection and one rekey per round trip, starving every other line. Now the hub answers at most
    its per-peer handshake budget (20 a second, a burst of 5), ends sessions that rekey faster than 2
    a second (after a burst of 10, shared by all the peer's sessions) with ``RATE_LIMITED``, and
    drops the rest of the initiations unanswered. The honest line's send-to-receipt times during
    the attack stay close to its own times without it, the hub spends less CPU than the attacker,
    and the throttling is counted in ``status`` and logged once."""
    hub, honest, mallory = cluster.add("hub"), cluster.add("post0"), cluster.add("mallory")
    pair(hub, honest)
    line_key = _pair_keeping_key(mallory, hub)
    _, mallory_identity = unlock(mallory.home, PASSPHRASE)
    hub_static = dearmor_card(hub.request("card")["armored"]).static_public.raw
    cluster.start_all(hub, honest)
    honest.wait_line(hub)
    hub.wait_line(honest)
    assert hub.pid is not None
    _round_trips(honest, hub, 5)  # warm up
    attacker = HostilePeer(hub.port, mallory_identity.static_key.raw, hub_static, line_key)
    attacker.start()
    began = time.monotonic()
    quiet: list[float] = []
    loud: list[float] = []
    cpu = {"quiet": 0.0, "loud": 0.0}
    seconds = 0.0  # under attack, including each phase's run-up and a dial still under way after it
    try:
        for _ in range(PHASES):
            before = cpu_seconds(hub.pid)
            quiet += _round_trips(honest, hub, ROUND_TRIPS)
            cpu["quiet"] += cpu_seconds(hub.pid) - before
            attacker.pressing.set()
            time.sleep(0.5)  # the attack is in full swing before we measure
            before, started = cpu_seconds(hub.pid), time.monotonic()
            loud += _round_trips(honest, hub, ROUND_TRIPS)
            cpu["loud"] += cpu_seconds(hub.pid) - before
            seconds += time.monotonic() - started + 0.5 + 0.2
            attacker.pressing.clear()
            time.sleep(0.5)  # the attacker's sessions wind down
    finally:
        attacker.stop()
    elapsed = time.monotonic() - began
    hub_cpu = cpu["loud"]
    line = hub.line(mallory)
    dials, sessions, rekeys = attacker.counts["dials"], attacker.counts["sessions"], attacker.counts["rekeys"]
    rate_limited, attacker_cpu = attacker.counts["rate_limited"], attacker.counts["cpu"]
    print(
        f"honest line send-to-receipt: quiet p50 {statistics.median(quiet) * 1000:.1f} ms, "
        f"p95 {_p95(quiet) * 1000:.1f} ms; under attack p50 {statistics.median(loud) * 1000:.1f} ms, "
        f"p95 {_p95(loud) * 1000:.1f} ms. In {seconds:.1f} s the attacker dialled {dials} "
        f"times, got {sessions} sessions, started {rekeys} rekeys, was cut off "
        f"{rate_limited} times for rekeying too fast; hub CPU {hub_cpu:.2f} s "
        f"({100 * hub_cpu / seconds:.0f} % of a core; {cpu['quiet']:.2f} s in the quiet phases), "
        f"attacker CPU {attacker_cpu:.2f} s; hub status "
        f"handshakes_throttled {line.get('handshakes_throttled')}, rekey_floods {line.get('rekey_floods')}"
    )
    # the limits held: sessions within the per-peer budget, and each of them cut off for its rekeys
    # the limits held: sessions within the per-peer budget (a full burst again after each quiet
    # phase), rekeys answered within theirs (one more refused per session), the rest dropped
    assert sessions <= PHASES * 5 + 20 * seconds
    assert dials > 2 * sessions, "the attack did not press hard enough to measure"
    assert rekeys <= sessions + 10 + 2 * elapsed
    assert rate_limited >= 1 and line["rekey_floods"] >= 1
    throttled = line["handshakes_throttled"] + hub.status()["station"]["handshakes_throttled_by_address"]
    assert 0 < throttled <= dials - sessions
    # the other line keeps its latency, and the hub pays less than the attacker does
    assert statistics.median(loud) <= 2 * statistics.median(quiet)
    assert _p95(loud) <= 5 * _p95(quiet)
    assert hub_cpu < attacker_cpu
    # logged once a minute per line at most
    log = hub.log_path.read_text()
    assert log.count("from a peer over its handshake rate limit") == 1, hub.log_tail()
    assert log.count("rekeyed faster than the limit") == 1, hub.log_tail()
    assert hub.line(honest)["state"] == "up"
