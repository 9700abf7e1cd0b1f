"""F10: a card that borrows another station's keys, against real stations.

A card's signature proves only that its signer holds the signing key, so Mallory can sign a card that
lists the victim's X25519 and ML-KEM-768 keys with her own signing key. A station must refuse a card
sharing any key with itself or with another of its lines, name that line, and keep the real line
working.
"""

from __future__ import annotations

import queue
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from hotline.crypto.random import random_bytes
from hotline.crypto.sign import SIGNATURE_LEN
from hotline.proto.cards import CARD_SIGNATURE_CONTEXT, StationCard, armor_card, dearmor_card
from hotline.proto.identity import Identity
from hotline.proto.pairing import FailureKind, PairingFailed, PairingMachine, Role
from hotline.station.errors import StationError
from hotline.station.offline import run_request
from tests.support.stations import PASSPHRASE, Cluster, RequestFailed, StationProc, pair


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    with Cluster(prefix="hl-cardkeys-") as c:
        yield c


def borrowing_card(victim: StationCard, *, static: bool, kem: bool, name: str = "mallory") -> str:
    """A card signed by Mallory's own key that lists the victim's X25519 and/or ML-KEM-768 key."""
    mallory = Identity.generate(name)
    own = mallory.public()
    fields = (
        name,
        victim.static_public if static else own.static_public,
        victim.kem_public if kem else own.kem_public,
        own.verify_key,
        ("127.0.0.1:9",),
        int(time.time()),
    )
    unsigned = StationCard(*fields, bytes(SIGNATURE_LEN))
    card = StationCard(
        *fields, mallory.signing_key.sign(unsigned.body_bytes(), context=CARD_SIGNATURE_CONTEXT)
    )
    armored = armor_card(card)
    dearmor_card(armored)  # a well-formed, correctly signed card: only the borrowed keys are wrong
    return armored


def card_of(station: StationProc) -> StationCard:
    return dearmor_card(station.request("card")["armored"])


@pytest.mark.parametrize(
    "static,kem,keys",
    [
        (True, True, "X25519 and ML-KEM-768 keys"),
        (True, False, "X25519 key"),
        (False, True, "ML-KEM-768 key"),
    ],
)
def test_f10_a_card_borrowing_a_lines_keys_is_refused_and_the_real_line_still_works(
    cluster: Cluster, static: bool, kem: bool, keys: str
) -> None:
    """F10: Mallory's card lists jerusalem's keys under her own signing key; moscow refuses it."""
    moscow, jerusalem = cluster.add("moscow"), cluster.add("jerusalem")
    pair(moscow, jerusalem)
    cluster.start_all(moscow, jerusalem)
    moscow.wait_line(jerusalem)
    forged = borrowing_card(card_of(jerusalem), static=static, kem=kem)
    with pytest.raises(RequestFailed) as refused:
        moscow.request("line.add", peer="mallory", card=forged, endpoints=[])
    assert refused.value.code == "line-exists"
    assert f"carries the {keys} of the line 'jerusalem' (verified)" in refused.value.message
    assert [line["peer"] for line in moscow.request("line.list")["lines"]] == ["jerusalem"]
    # the real line is untouched and carries traffic
    message = moscow.send(jerusalem, "still here")
    assert moscow.request("wait", id=message["id"], timeout=10)["state"] == "delivered"
    assert "still here" in [m["text"] for m in jerusalem.inbox(moscow)]


def test_f10_a_card_with_the_stations_own_keys_is_refused(cluster: Cluster) -> None:
    """F10: a card listing moscow's own X25519 key (signed by someone else) is not a station's card."""
    moscow = cluster.add("moscow")
    forged = borrowing_card(card_of(moscow), static=True, kem=False, name="jerusalem")
    with pytest.raises(RequestFailed) as refused:
        moscow.request("line.add", peer="jerusalem", card=forged, endpoints=[])
    assert refused.value.code == "bad-card"
    assert "carries this station's own X25519 key" in refused.value.message
    assert moscow.request("line.list")["lines"] == []


def test_f10_a_borrowing_card_added_first_is_named_when_the_real_card_comes(cluster: Cluster) -> None:
    """F10: added first, the forged line is unverified and named, so the operator can remove it and
    add the real station, whose line then works."""
    moscow, jerusalem = cluster.add("moscow"), cluster.add("jerusalem")
    forged = borrowing_card(card_of(jerusalem), static=True, kem=True, name="jerusalem")
    moscow.request("line.add", peer="jerusalem-2", card=forged, endpoints=[])
    with pytest.raises(RequestFailed) as refused:
        moscow.request("line.add", peer="jerusalem", card=jerusalem.request("card")["armored"], endpoints=[])
    assert refused.value.code == "line-exists"
    assert "of the line 'jerusalem-2' (not verified)" in refused.value.message
    assert "`hotline line remove jerusalem-2`" in refused.value.message
    # the safety number of the forged line is not the real one (the signing key is in the digest)
    forged_number = moscow.request("line.verify", peer="jerusalem-2")["digits"]
    moscow.request("line.remove", peer="jerusalem-2")
    pair(moscow, jerusalem)
    assert moscow.request("line.verify", peer="jerusalem")["digits"] != forged_number
    cluster.start_all(moscow, jerusalem)
    moscow.wait_line(jerusalem)
    message = moscow.send(jerusalem, "the real one")
    assert moscow.request("wait", id=message["id"], timeout=10)["state"] == "delivered"


def test_f10_pairing_refuses_a_card_borrowing_a_lines_key(cluster: Cluster) -> None:
    """F10: over pairing by code too: Mallory knows the code and dials with a card that lists
    jerusalem's X25519 key; moscow refuses it, names the line, and keeps only the real one."""
    moscow, jerusalem = cluster.add("moscow"), cluster.add("jerusalem")
    pair(moscow, jerusalem)
    forged = dearmor_card(borrowing_card(card_of(jerusalem), static=True, kem=False))
    events: queue.Queue[dict[str, Any]] = queue.Queue()
    with ThreadPoolExecutor(max_workers=1) as pool:
        listening = pool.submit(
            run_request,
            moscow.home,
            PASSPHRASE,
            "pair.listen",
            {"peer": "mallory", "listen": "127.0.0.1:0", "timeout": 30},
            on_event=events.put,
        )
        first = events.get(timeout=20)
        host, port = first["listen"].rsplit(":", 1)
        machine = PairingMachine(Role.DIALER, first["code"], card=forged, now=0.0, entropy=random_bytes)
        with socket.create_connection((host, int(port)), timeout=20) as conn:
            conn.sendall(machine.data_to_send())
            while not machine.finished and (data := conn.recv(65536)):
                machine.receive_data(data)
                conn.sendall(machine.data_to_send())
        failures = []
        while (event := machine.next_event()) is not None:
            failures += [event] if isinstance(event, PairingFailed) else []
        with pytest.raises(StationError) as refused:
            listening.result(timeout=20)
    assert refused.value.code == "line-exists"
    assert "carries the X25519 key of the line 'jerusalem' (verified)" in refused.value.message
    assert [f.kind for f in failures] == [FailureKind.PEER_ABORTED]  # the station said no to Mallory
    assert [line["peer"] for line in moscow.request("line.list")["lines"]] == ["jerusalem"]
