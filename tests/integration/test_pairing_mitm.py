"""F2: a man in the middle who heard the pairing code, against real daemons pairing over TCP.

The code is read over a phone the adversary taps, and the adversary controls the network. It runs one
real pairing exchange with each station, with its own keys under the names each operator expects:
as "jerusalem" it answers moscow's listening port (with a real station of its own, through its daemon),
and as "moscow" it takes the connection jerusalem's operator makes, playing the listening side of the
protocol with the code it heard. Pairing must not verify either line: both stay unverified, carry no
traffic and set up no session, and the safety numbers the two honest operators compare differ.
"""

from __future__ import annotations

import json
import queue
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from hotline.crypto.random import random_bytes
from hotline.proto.cards import issue_card
from hotline.proto.linekeys import create_line_key
from hotline.proto.pairing import PairingDone, PairingFailed, PairingMachine, PeerCardReceived, Role
from hotline.proto.safety import safety_number
from hotline.station.home import unlock
from tests.support.stations import PASSPHRASE, Cluster, RequestFailed, StationProc, control_request, wait_for

WAIT = 20.0


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    with Cluster(prefix="hl-mitm-") as c:
        yield c


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=3) as p:
        yield p


def stream_listen(station: StationProc, events: queue.Queue[dict[str, Any]], **args: Any) -> dict[str, Any]:
    """``pair.listen`` over the daemon's control socket; events go to ``events``."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(60)
        s.connect(str(station.control))
        s.sendall(json.dumps({"op": "pair.listen", "args": args}).encode() + b"\n")
        with s.makefile("rb") as answers:
            while True:
                line = answers.readline()
                assert line, "pair.listen: the daemon closed the connection"
                reply = json.loads(line)
                if not reply["ok"]:
                    raise RequestFailed(reply["error"]["code"], reply["error"]["message"])
                if "event" in reply:
                    events.put(reply["event"])
                else:
                    return dict(reply["result"])


def play_listener(conn: socket.socket, code: str, impostor: StationProc) -> bytes:
    """The listening side of a real pairing, run with a code we overheard, as the impostor station.

    Returns the honest dialer's static X25519 key (from the card it sent us).
    """
    _, identity = unlock(impostor.home, PASSPHRASE)
    card = issue_card(identity, endpoints=[impostor.endpoint], created_at=int(time.time()))
    machine = PairingMachine(Role.LISTENER, code, card=card, now=0.0, entropy=random_bytes)
    conn.sendall(machine.data_to_send())
    peer: bytes | None = None
    while not machine.finished:
        data = conn.recv(65536)
        machine.receive_data(data)
        while (event := machine.next_event()) is not None:
            assert not isinstance(event, PairingFailed), event
            if isinstance(event, PeerCardReceived):
                peer = event.card.static_public.raw
                _, sealed = create_line_key(
                    sender=identity,
                    recipient=event.card,
                    label="moscow-jerusalem",
                    created_at=int(time.time()),
                )
                machine.send_line_key(sealed)
            if isinstance(event, PairingDone):
                assert peer is not None
                return peer
        out = machine.data_to_send()
        if out:
            conn.sendall(out)
        if not data:
            break
    raise AssertionError("the honest dialer ended the pairing before DONE")


def refused_alerts(station: StationProc, peer: str) -> list[dict[str, Any]]:
    return [a for a in station.line(peer)["alerts"] if a.get("kind") == "refused"]


def test_f2_a_man_in_the_middle_with_the_code_gets_two_unverified_lines_that_carry_nothing(
    cluster: Cluster, pool: ThreadPoolExecutor
) -> None:
    """F2: pairing never marks a line verified, so overhearing the code does not put anyone in the middle."""
    moscow, jerusalem = cluster.add("moscow"), cluster.add("jerusalem")
    as_jerusalem = cluster.add("jerusalem", dirname="mallory-as-jerusalem")
    as_moscow = cluster.add("moscow", dirname="mallory-as-moscow")
    cluster.start_all(moscow, jerusalem, as_jerusalem)

    # moscow listens and its operator reads the code over the tapped phone
    events: queue.Queue[dict[str, Any]] = queue.Queue()
    listening = pool.submit(stream_listen, moscow, events, peer="jerusalem", listen="127.0.0.1:0", timeout=30)
    first = events.get(timeout=WAIT)
    code = first["code"]

    # Mallory, as "jerusalem", pairs with moscow first (a real pair.connect from her own daemon)
    mallory_side = control_request(
        as_jerusalem.control, "pair.connect", {"peer": "moscow", "connect": first["listen"], "code": code}
    )
    at_moscow = listening.result(timeout=WAIT)

    # jerusalem's operator types the code; the network delivers the connection to Mallory as "moscow"
    with socket.create_server(("127.0.0.1", 0)) as trap:
        trap.settimeout(WAIT)
        address = f"127.0.0.1:{trap.getsockname()[1]}"
        dialing = pool.submit(
            control_request,
            jerusalem.control,
            "pair.connect",
            {"peer": "moscow", "connect": address, "code": code},
        )
        conn, _ = trap.accept()
    with conn:
        conn.settimeout(WAIT)
        jerusalem_static = play_listener(conn, code, as_moscow)
    at_jerusalem = dialing.result(timeout=WAIT)

    # both honest stations hold a keyed line to the impostor, and neither is verified
    for station, peer, result in ((moscow, "jerusalem", at_moscow), (jerusalem, "moscow", at_jerusalem)):
        assert result["peer"] == peer and result["station"] == peer and result["has_key"]
        assert not result["verified"], f"{station.name}: pairing marked the line verified"
        line = station.line(peer)
        assert not line["verified"] and line["state"] == "unverified"
    assert mallory_side["has_key"] and not mallory_side["verified"]

    # the safety numbers the operators read to each other differ, so they do not confirm
    assert at_moscow["digits"] != at_jerusalem["digits"]
    assert moscow.request("line.verify", peer="jerusalem")["digits"] == at_moscow["digits"]
    assert jerusalem.request("line.verify", peer="moscow")["digits"] == at_jerusalem["digits"]
    _, moscow_identity = unlock(moscow.home, PASSPHRASE)
    _, jerusalem_identity = unlock(jerusalem.home, PASSPHRASE)
    assert jerusalem_static == jerusalem_identity.static_key.public_key().raw  # the trap met the real one
    honest = safety_number(moscow_identity.public(), jerusalem_identity.public())
    assert honest.digits not in (at_moscow["digits"], at_jerusalem["digits"])

    # the unverified lines refuse operator traffic
    for station, peer in ((moscow, "jerusalem"), (jerusalem, "moscow")):
        with pytest.raises(RequestFailed) as refused:
            station.send(peer, "the plan for tomorrow")
        assert refused.value.code == "not-verified"
        assert f"hotline line verify {peer}" in refused.value.message

    # Mallory confirms her own end and dials moscow with the line key moscow gave her: moscow refuses
    # the handshake (its line is unverified), no session comes up and nothing is delivered
    as_jerusalem.request("line.verify", peer="moscow", confirm=True)
    as_jerusalem.send("moscow", "from jerusalem, honestly")
    wait_for(lambda: refused_alerts(moscow, "jerusalem"), WAIT, "moscow refuses the impostor's handshake")
    assert as_jerusalem.line("moscow")["state"] != "up"
    assert moscow.line("jerusalem")["state"] == "unverified"
    assert moscow.inbox() == [] and jerusalem.inbox() == []
    assert [m["state"] for m in as_jerusalem.sent("moscow")] == ["queued"]  # never sent in a session
