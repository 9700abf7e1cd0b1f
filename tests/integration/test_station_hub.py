"""One hub station with eight peers: nine daemons, sixteen directions, no cross-talk."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.stations import Cluster, StationProc, pair

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
