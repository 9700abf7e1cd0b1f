"""Line supervision between real daemons: heartbeat, failover, simultaneous dials, key changes."""

from __future__ import annotations

import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.stations import Cluster, RequestFailed, StationProc, free_port, pair, wait_for


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    with Cluster() as c:
        yield c


def _only_line(status: dict[str, Any]) -> dict[str, Any]:
    (line,) = status["lines"]
    return dict(line)


def _exchange(a: StationProc, b: StationProc, note: str) -> None:
    """A message each way, each waited for."""
    for sender, receiver in ((a, b), (b, a)):
        text = f"{note}: {sender.name} to {receiver.name}"
        message = sender.send(receiver, text)
        assert sender.request("wait", id=message["id"], timeout=10)["state"] == "delivered"
        assert text in [m["text"] for m in receiver.inbox(sender)]


def test_heartbeat_declares_a_frozen_peer_dead_and_the_line_recovers(cluster: Cluster) -> None:
    """SIGSTOP keeps bravo's TCP connection open but silent: alpha must notice within 3 heartbeats."""
    heartbeat = 0.5
    a = cluster.add("alpha", heartbeat=heartbeat)
    b = cluster.add("bravo", heartbeat=heartbeat)
    pair(a, b)
    cluster.start_all(a, b)
    a.wait_line(b)
    b.wait_line(a)
    time.sleep(2 * heartbeat)  # heartbeats flow while both are alive: nothing is declared dead
    assert _only_line(a.status())["state"] == "up"

    b.signal(signal.SIGSTOP)
    stopped = time.monotonic()
    a.wait_until(lambda s: _only_line(s)["state"] != "up", 3 * heartbeat + 5, "alpha sees the line down")
    noticed = time.monotonic() - stopped
    print(f"line declared down {noticed:.2f} s after SIGSTOP (heartbeat {heartbeat} s)")
    assert noticed < 3 * heartbeat + 2

    status = a.wait_until(
        lambda s: any(al["kind"] == "line-down" for al in _only_line(s)["alerts"]), 5, "a line-down alert"
    )
    alert = next(al for al in _only_line(status)["alerts"] if al["kind"] == "line-down")
    assert alert["peer"] == "bravo"
    assert any(e["kind"] == "alert" and e["event"] == "line-down" for e in a.log(b))

    b.signal(signal.SIGCONT)
    resumed = time.monotonic()
    a.wait_line(b, timeout=20)
    b.wait_line(a, timeout=20)
    print(f"line back up {time.monotonic() - resumed:.2f} s after SIGCONT")
    _exchange(a, b, "after the freeze")
    assert not any(al["kind"] == "line-down" for al in a.line(b)["alerts"])
    assert any(e["kind"] == "alert" and e["event"] == "line-up" for e in a.log(b))


@pytest.mark.parametrize("first", ["refused", pytest.param("silent", marks=pytest.mark.slow)])
def test_failover_to_the_second_endpoint(cluster: Cluster, first: str) -> None:
    """alpha's first endpoint for bravo is dead (nothing listens, or a listener that never answers, which
    costs one handshake timeout); the line comes up through the second one."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as blackhole:
        if first == "silent":
            blackhole.bind(("127.0.0.1", 0))
            blackhole.listen(16)  # the kernel completes connections; nobody ever reads or answers
            dead = f"127.0.0.1:{blackhole.getsockname()[1]}"
        else:
            dead = f"127.0.0.1:{free_port()}"
        a, b = cluster.add("alpha"), cluster.add("bravo")
        # bravo cannot reach alpha at all, so the line can only come up by alpha's failover
        pair(a, b, a_endpoints=[dead, b.endpoint], b_endpoints=[f"127.0.0.1:{free_port()}"])
        assert a.request("line.list")["lines"][0]["endpoints"] == [dead, b.endpoint]
        cluster.start_all(a, b)
        started = time.monotonic()
        line = a.wait_line(b, timeout=30)
        print(f"up through the second endpoint after {time.monotonic() - started:.2f} s")
        assert line["endpoint"] == b.endpoint
        b.wait_line(a)
        _exchange(a, b, f"failover past a {first} endpoint")
        assert a.line(b)["endpoint"] == b.endpoint


def _established(ports: set[int]) -> list[tuple[int, int]]:
    """ESTABLISHED loopback TCP connections touching ``ports``, as (local, remote) port pairs."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            local, remote, state = (
                int(fields[1].split(":")[1], 16),
                int(fields[2].split(":")[1], 16),
                fields[3],
            )
            if state == "01" and (local in ports or remote in ports):
                found.append((local, remote))
    return found


def test_simultaneous_dials_settle_on_one_session(cluster: Cluster) -> None:
    """Both daemons start (and dial) at the same moment, several times: each time exactly one session
    survives on both sides, it stays put, and messages flow both ways."""
    a, b = cluster.add("alpha"), cluster.add("bravo")
    pair(a, b)
    for attempt in range(3):
        cluster.start_all(a, b)
        a.wait_line(b)
        b.wait_line(a)
        time.sleep(0.5)  # let a losing session finish closing
        events_before = {s.name: (_count_events(s, "line-down"), _count_events(s, "line-up")) for s in (a, b)}
        births: dict[str, list[float]] = {"alpha": [], "bravo": []}
        endpoints: dict[str, set[str]] = {"alpha": set(), "bravo": set()}
        for _ in range(10):
            for station in (a, b):
                line = _only_line(station.status())
                now = time.time()
                assert line["state"] == "up", (attempt, station.name, line)
                births[station.name].append(now - line["session_age"])
                endpoints[station.name].add(line["endpoint"])
            time.sleep(0.1)
        for name in births:
            spread = max(births[name]) - min(births[name])
            assert spread < 0.1, f"attempt {attempt}: {name}'s session was replaced ({spread:.2f} s)"
            assert len(endpoints[name]) == 1, (attempt, name, endpoints[name])
        connections = _established({a.port, b.port})
        assert len(connections) == 2, f"attempt {attempt}: expected one TCP connection, got {connections}"
        _exchange(a, b, f"attempt {attempt}")
        for station in (a, b):  # no flapping while we watched
            events = (_count_events(station, "line-down"), _count_events(station, "line-up"))
            assert events == events_before[station.name], station.log_tail()
        assert a.stop() == 0 and b.stop() == 0


def _count_events(station: StationProc, event: str) -> int:
    peer = "bravo" if station.name == "alpha" else "alpha"
    return sum(1 for e in station.log(peer) if e["kind"] == "alert" and e["event"] == event)


def test_a_card_with_other_keys_is_refused_and_the_line_keeps_its_station(cluster: Cluster) -> None:
    """A fresh station calling itself bravo cannot replace bravo's card, key or line."""
    a, b = cluster.add("alpha"), cluster.add("bravo")
    pair(a, b)
    before = a.request("line.list")["lines"][0]
    impostor = cluster.add("bravo", dirname="impostor")
    fake = impostor.request("card")
    assert fake["fingerprint"] != before["fingerprint"]

    with pytest.raises(RequestFailed) as refused:
        a.request("line.add", peer="bravo", card=fake["armored"], endpoints=[impostor.endpoint])
    assert refused.value.code == "line-exists"
    assert "other keys" in refused.value.message
    after = a.request("line.list")["lines"][0]
    assert after == before, "a refused card changed the line"

    # the impostor does its half: adds alpha, makes and "sends" a line key, confirms its side
    impostor.request("line.add", peer="alpha", card=a.request("card")["armored"], endpoints=[a.endpoint])
    sealed = impostor.request("line.grant", peer="alpha")["sealed"]
    impostor.request("line.verify", peer="alpha", confirm=True)
    with pytest.raises(RequestFailed) as bad_key:
        a.request("line.accept", peer="bravo", sealed=sealed)
    assert bad_key.value.code == "bad-line-key"

    cluster.start_all(a, b, impostor)
    line = a.wait_line(b)
    assert line["fingerprint"] == before["fingerprint"]  # the session authenticated bravo's keys
    _exchange(a, b, "still bravo")
    time.sleep(1.0)  # the impostor keeps dialling alpha meanwhile
    assert _only_line(impostor.status())["state"] != "up"
    assert impostor.inbox() == []
    assert all(m["peer"] == "bravo" for m in a.inbox())
    assert a.line(b)["state"] == "up"
    assert not any(e["kind"] == "message" for e in impostor.log("alpha"))


def test_alerts_can_be_cleared_and_reverification_answers_a_key_change(tmp_path: Path) -> None:
    with Cluster() as cluster:
        a, b = cluster.add("alpha"), cluster.add("bravo")
        pair(a, b)
        cluster.start_all(a, b)
        a.wait_line(b)
        b.stop()
        a.wait_line(b, "down", timeout=15)
        wait_for(lambda: any(x["kind"] == "line-down" for x in a.line(b)["alerts"]), 15, "a line-down alert")
        cleared = a.request("alerts.clear", peer=b.name, kinds=["line-down"])
        assert cleared["cleared"] >= 1 and not any(x["kind"] == "line-down" for x in cleared["alerts"])
        # the log keeps what was cleared
        assert any(e.get("event") == "line-down" for e in a.log(b))
        # a card with other keys for the same peer: refused, with a standing key-change warning
        impostor = cluster.add("bravo", dirname="impostor")
        card = impostor.request("card")["armored"]
        with pytest.raises(RequestFailed):
            a.request("line.add", peer=b.name, card=card, endpoints=[impostor.endpoint])
        assert any(x["kind"] == "key-changed" for x in a.line(b)["alerts"])
        a.request("line.verify", peer=b.name, confirm=True)
        assert not any(x["kind"] == "key-changed" for x in a.line(b)["alerts"])
