"""F10: a card that borrows another station's keys, against real stations.

A card's signature proves only that its signer holds the signing key, so Mallory can sign a card that
lists the victim's X25519 and ML-KEM-768 keys with her own signing key. A station must refuse a card
sharing any key with itself or with another of its lines, name that line, and keep the real line
working.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from hotline.crypto.sign import SIGNATURE_LEN
from hotline.proto.cards import CARD_SIGNATURE_CONTEXT, StationCard, armor_card, dearmor_card
from hotline.proto.identity import Identity
from tests.support.stations import Cluster, RequestFailed, StationProc, pair


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
