"""The control socket as a script sees it: pipelined requests on one connection, answered in order."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from tests.support.stations import Cluster, pair


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    with Cluster() as c:
        yield c


def test_pipelined_requests_are_answered_in_order_and_sends_all_arrive(cluster: Cluster) -> None:
    alpha, bravo = cluster.add("alpha"), cluster.add("bravo")
    pair(alpha, bravo)
    cluster.start_all(alpha, bravo)
    alpha.wait_line(bravo)

    texts = [f"pipelined #{i:03d}" for i in range(200)]
    requests: list[dict[str, object]] = []
    for i, text in enumerate(texts):
        requests.append({"op": "send", "args": {"peer": "bravo", "text": text}})
        if i % 50 == 0:  # failures and other requests in between keep their places
            requests.append({"op": "no-such-op", "args": {}})
            requests.append({"op": "station", "args": {}})
    payload = b"".join(json.dumps(r).encode() + b"\n" for r in requests) + b"not json\n"

    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(30)
        sock.connect(str(alpha.control))
        sock.sendall(payload)  # everything at once, before reading any answer
        stream = sock.makefile("rb")
        answers = [json.loads(stream.readline()) for _ in range(len(requests) + 1)]

    assert answers[-1]["ok"] is False and answers[-1]["error"]["code"] == "bad-request"
    sent = []
    for request, answer in zip(requests, answers, strict=False):
        if request["op"] == "send":
            assert answer["ok"], answer
            sent.append(answer["result"])
        elif request["op"] == "station":
            assert answer["result"]["name"] == "alpha"
        else:
            assert answer["error"]["code"] == "bad-request"
    assert [m["text"] for m in sent] == texts
    assert len({m["id"] for m in sent}) == len(texts)

    alpha.request("wait", id=sent[-1]["id"], timeout=30)
    assert [m["text"] for m in bravo.inbox(alpha)] == texts
