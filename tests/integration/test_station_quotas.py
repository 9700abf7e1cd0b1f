"""F5: one authenticated peer must not fill a hub's disk or drown its operator.

A hub with two lines: ``flood`` is a real daemon driven through its control socket to send far more
than the hub's quotas allow, ``post`` behaves. The flooding line pauses (the hub withholds its
entries, ``Withhold`` on the wire, docs/protocol.md §10.3) with an alert naming the line and the
quota, ``post`` keeps working, and once the operator raises the quota (``quota.reload``) everything the
flooder sent arrives, exactly once and in order. Documents above the approval size wait in ``files``
as ``held`` until the operator accepts or refuses them; one above the line's size quota is refused.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hotline.station.config import LineSettings
from hotline.station.quotarules import QuotaDefaults
from tests.integration.test_documents import MiB, document, random_file, wait_state
from tests.integration.test_faults_storage import _grow, _small_disk
from tests.support.stations import Cluster, RequestFailed, StationProc, pair, wait_for


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    with Cluster() as c:
        yield c


def hub_with_two(cluster: Cluster, **hub_settings: Any) -> tuple[StationProc, StationProc, StationProc]:
    hub = cluster.add("hub", **hub_settings)
    flood, post = cluster.add("flood"), cluster.add("post")
    pair(hub, flood)
    pair(hub, post)
    cluster.start_all()
    for peer in (flood, post):
        hub.wait_line(peer)
        peer.wait_line(hub)
    return hub, flood, post


def alerts(station: StationProc, peer: StationProc, kind: str) -> list[dict[str, Any]]:
    return [a for a in station.line(peer)["alerts"] if a["kind"] == kind]


def quota_of(hub: StationProc, peer: StationProc) -> dict[str, Any]:
    return dict(hub.request("quotas", peer=peer.name)["lines"][0])


def raise_quota(hub: StationProc, peer: StationProc, **settings: Any) -> dict[str, Any]:
    """What an operator does: edit ``[lines.<peer>]`` in station.toml, then ``hotline quota reload``."""
    hub.configure(lines={peer.name: LineSettings(**settings)})
    return hub.request("quota.reload")


def test_a_flooding_line_pauses_the_other_line_flows_and_nothing_is_lost(
    cluster: Cluster, tmp_path: Path
) -> None:
    """F5: ``flood`` sends 3x its hub's entries-per-hour quota as fast as its control socket takes them.
    The hub stores exactly the quota, pauses that line with an alert naming it, the quota and the fix;
    ``flood`` keeps the rest queued and says so. ``post``'s messages and a document arrive meanwhile.
    After the operator raises the quota every flooded message arrives, exactly once, in order."""
    hub, flood, post = hub_with_two(cluster)
    quota = 40
    raise_quota(hub, flood, entries_per_hour=quota)
    texts = [f"flood #{i:03d}" for i in range(3 * quota)]
    ids = [flood.send(hub, text)["id"] for text in texts]

    wait_for(lambda: alerts(hub, flood, "quota"), 30, "the hub's quota alert on the flooding line")
    detail = alerts(hub, flood, "quota")[0]["detail"]
    assert "flood" in detail and "40 entries an hour" in detail, detail
    assert "entries_per_hour" in detail and "quota reload" in detail and "remove the line" in detail, detail
    wait_for(lambda: alerts(flood, hub, "peer-paused"), 30, "the flooder hears that the hub withholds")
    assert quota_of(hub, flood)["paused"] == "rate"
    # `status` says it too, on both ends
    assert hub.line(flood)["quota_paused"] == "rate" and flood.line(hub)["held_by_peer"] is True
    assert hub.line(post)["quota_paused"] is None

    # the other line goes on: messages and a document
    source = tmp_path / "report.bin"
    sha = random_file(source, 3 * MiB, seed=5)
    doc = post.request("send.file", peer=hub.name, path=str(source))
    said = [post.send(hub, f"post #{i}")["id"] for i in range(10)]
    post.request("wait", id=said[-1], timeout=30)
    assert wait_state(hub, doc["id"], "complete", timeout=60)["digest"] == sha
    assert [m["text"] for m in hub.inbox(post) if m["text"].startswith("post #")] == [
        f"post #{i}" for i in range(10)
    ]

    # the flood stopped at the quota, the rest waits at the flooder, the session stays up
    got = [m["text"] for m in hub.inbox(flood)]
    assert got == texts[: len(got)] and len(got) == quota, (len(got), quota)
    assert flood.line(hub)["state"] == "up" and hub.line(flood)["state"] == "up"
    assert not alerts(hub, flood, "gap") and not alerts(hub, flood, "chain-mismatch")

    raise_quota(hub, flood, entries_per_hour=10 * quota)
    flood.request("wait", id=ids[-1], timeout=60)
    assert [m["text"] for m in hub.inbox(flood)] == texts
    assert [m["id"] for m in hub.inbox(flood)] == ids
    assert not alerts(hub, flood, "quota"), "the alert stays after the line resumed"
    assert quota_of(hub, flood)["paused"] is None
    assert hub.request("test", peer=flood.name, timeout=10)["ok"]


def test_a_withhold_that_lands_mid_resend_loses_nothing(cluster: Cluster) -> None:
    """F5: after a resume the flooder resends what the hub withheld from its store, in steps; a quota
    raised too little makes the hub withhold again while such a step is under way. The flooder must go
    back to where the hub stopped (not to where its step ended), so that once the quota suffices every
    message arrives once, in order, and no gap is ever reported."""
    hub, flood, post = hub_with_two(cluster)
    raise_quota(hub, flood, entries_per_hour=100)
    texts = [f"flood #{i:04d}" for i in range(1500)]
    ids = [flood.send(hub, text)["id"] for text in texts]
    wait_for(lambda: alerts(hub, flood, "quota"), 30, "the first pause")
    wait_for(lambda: len(hub.inbox(flood)) == 100, 10, "the first 100 stored")

    raise_quota(hub, flood, entries_per_hour=300)
    wait_for(lambda: quota_of(hub, flood)["entries_last_hour"] == 300, 30, "the second pause")
    assert quota_of(hub, flood)["paused"] == "rate"
    post.request("wait", id=post.send(hub, "the other line")["id"], timeout=30)

    raise_quota(hub, flood, entries_per_hour=10_000)
    flood.request("wait", id=ids[-1], timeout=90)
    assert [m["id"] for m in hub.inbox(flood)] == ids
    assert not alerts(hub, flood, "gap") and not alerts(hub, flood, "chain-mismatch")


def test_a_line_over_its_stored_bytes_pauses_until_the_quota_is_raised(
    cluster: Cluster, tmp_path: Path
) -> None:
    """F5: documents count against the line's stored bytes when announced: the one that would pass
    them pauses the line (its entry waits at the sender); raising the quota lets it and everything
    queued behind it through."""
    hub, flood, post = hub_with_two(cluster)
    raise_quota(hub, flood, stored_bytes=5 * MiB)
    first, second = tmp_path / "first.bin", tmp_path / "second.bin"
    random_file(first, 3 * MiB, seed=6)
    sha = random_file(second, 3 * MiB, seed=7)
    one = flood.request("send.file", peer=hub.name, path=str(first))
    two = flood.request("send.file", peer=hub.name, path=str(second))
    after = flood.send(hub, "behind the second document")
    wait_state(hub, one["id"], "complete")
    wait_for(lambda: alerts(hub, flood, "quota"), 30, "the stored-bytes alert")
    assert "stored_bytes" in alerts(hub, flood, "quota")[0]["detail"]
    assert document(hub, two["id"])["state"] is None, "the entry past the quota was stored"
    post.request("wait", id=post.send(hub, "the other line")["id"], timeout=30)

    raise_quota(hub, flood, stored_bytes=20 * MiB)
    assert wait_state(hub, two["id"], "complete", timeout=60)["digest"] == sha
    flood.request("wait", id=after["id"], timeout=30)
    assert [m["text"] for m in hub.inbox(flood)][-1] == "behind the second document"


def test_a_big_document_is_held_until_the_operator_accepts_it(cluster: Cluster, tmp_path: Path) -> None:
    """F5: a document above ``approve_documents_above`` is ``held``: no byte is asked for until
    ``file.accept``; ``file.refuse`` fails it at the sender; one above ``document_bytes`` is refused."""
    hub, flood, _post = hub_with_two(cluster)
    raise_quota(hub, flood, approve_documents_above=MiB, document_bytes=8 * MiB)
    big, other, huge = tmp_path / "big.bin", tmp_path / "other.bin", tmp_path / "huge.bin"
    sha = random_file(big, 2 * MiB, seed=8)
    random_file(other, 2 * MiB, seed=9)
    random_file(huge, 9 * MiB, seed=10)
    held = flood.request("send.file", peer=hub.name, path=str(big))
    refused = flood.request("send.file", peer=hub.name, path=str(other))
    too_big = flood.request("send.file", peer=hub.name, path=str(huge))
    wait_state(hub, refused["id"], "held")
    assert wait_state(hub, held["id"], "held")["stored"] == 0
    wait_for(lambda: alerts(hub, flood, "document-held"), 10, "the held-document alert")
    assert f"hotline file accept {held['id']}" in alerts(hub, flood, "document-held")[0]["detail"]
    assert wait_state(flood, too_big["id"], "failed")["state"] == "failed"
    assert document(hub, too_big["id"])["state"] == "failed"
    assert document(hub, held["id"])["stored"] == 0 and document(flood, held["id"])["stored"] == 0

    with pytest.raises(RequestFailed) as refused_twice:
        hub.request("file.accept", id=too_big["id"])
    assert refused_twice.value.code == "not-held"
    assert hub.request("file.accept", id=held["id"])["document"]["state"] == "receiving"
    assert wait_state(hub, held["id"], "complete")["digest"] == sha
    assert hub.request("file.refuse", id=refused["id"])["document"]["state"] == "failed"
    wait_state(flood, refused["id"], "failed")
    wait_state(flood, held["id"], "complete")


def test_the_disk_reserve_keeps_room_for_the_other_line_and_the_operator(cluster: Cluster) -> None:
    """F5 on a real small disk: the hub's directory on a 16 MiB tmpfs keeping 25 % (4 MiB) free. The
    flooding line stops before it holds more than the free space left above the reserve: the hub's
    operator can still write (a message out) and ``post`` still delivers. When the filesystem grows the
    flooding line resumes by itself and every message arrives once, in order."""
    hub = cluster.add("hub")
    flood, post = cluster.add("flood"), cluster.add("post")
    pair(hub, flood)
    pair(hub, post)
    hub.log_path = cluster.root / "hub-daemon.log"  # keep the log off the small disk
    hub.configure(quotas=QuotaDefaults(disk_reserve_percent=25.0))
    with _small_disk(hub.home, "16m") as mount:
        cluster.start_all()
        for peer in (flood, post):
            hub.wait_line(peer)
        texts = [f"flood {i:04d} " + "x" * 30_000 for i in range(400)]  # 12 MB, more than the disk
        ids = [flood.send(hub, text)["id"] for text in texts]
        wait_for(lambda: alerts(hub, flood, "quota"), 60, "the disk-reserve alert")
        assert "kept for you and the other lines" in alerts(hub, flood, "quota")[0]["detail"]
        free = shutil.disk_usage(mount).free
        assert free >= 4 * MiB, f"the reserve was taken: {free} bytes free"
        assert hub.running, hub.log_tail()

        out = hub.send(flood, "the operator can still write")
        hub.request("wait", id=out["id"], timeout=30)
        said = post.send(hub, "the other line still delivers")
        post.request("wait", id=said["id"], timeout=30)
        assert [m["text"] for m in hub.inbox(post)] == ["the other line still delivers"]

        _grow(mount, "64m")
        flood.request("wait", id=ids[-1], timeout=120)
        assert [m["id"] for m in hub.inbox(flood)] == ids
