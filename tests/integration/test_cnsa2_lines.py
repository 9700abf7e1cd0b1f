"""cnsa2 lines between two real daemons, as operators make them.

A line made with ``--profile cnsa2`` at both ends comes up, carries messages both ways, rekeys,
shows the same cnsa2 safety number at both ends, places a call and sends a document; and while it
does so, neither daemon makes a ChaCha20, BLAKE2 or ML-KEM-768 operation (a start-up hook,
``tests/support/primitivelog``, logs every such call of the daemon processes with the time and the
calling module). A line whose ends have different profiles gets no session and a
``profile-mismatch`` alert at both ends naming both. A station whose key file predates line
profiles gains cnsa2 keys when it opens, and its standard line keeps working with the same safety
number.
"""

from __future__ import annotations

import json
import os
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hotline.proto.cards import armor_card, dearmor_card, issue_card
from hotline.proto.identity import Identity
from hotline.proto.keyfile import MAGIC, open_identity, seal_identity
from hotline.proto.safety import safety_number
from hotline.station.home import KDF_PROFILES
from tests.integration.test_calls import place_and_answer
from tests.integration.test_documents import random_file, wait_state
from tests.integration.test_pairing import confirm, pair_offline
from tests.support.stations import (
    FAST,
    PASSPHRASE,
    Cluster,
    RequestFailed,
    StationProc,
    free_port,
    pair,
    paired_and_up,
    wait_for,
)

WAIT = 30.0
PRIMITIVE_HOOK = Path(__file__).resolve().parents[1] / "support" / "primitivelog"
STANDARD_PRIMITIVES = ("ChaCha20", "BLAKE2", "ML-KEM-768")
#: Station-wide, not a line's (docs/protocol.md §2): ``status`` and ``card`` show the station's own
#: (standard) fingerprint, which the test polls while it waits.
STATION_WIDE = "hotline.station.requests.station"


@pytest.fixture
def primitive_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The daemons started from here log their ChaCha20, BLAKE2 and ML-KEM-768 calls to this file."""
    log = tmp_path / "primitives.log"
    path = [str(PRIMITIVE_HOOK), *filter(None, [os.environ.get("PYTHONPATH")])]
    monkeypatch.setenv("PYTHONPATH", ":".join(path))
    monkeypatch.setenv("HOTLINE_PRIMITIVE_LOG", str(log))
    return log


def calls_since(log: Path, mark: float) -> list[tuple[float, str, str]]:
    """``(time, primitive, calling module)`` of every logged call after ``mark`` (monotonic)."""
    if not log.exists():
        return []
    calls = []
    for line in log.read_text().splitlines():
        stamp, primitive, caller = line.split("\t")
        if float(stamp) > mark:
            calls.append((float(stamp), primitive, caller))
    return calls


def exchange(a: StationProc, b: StationProc, count: int) -> None:
    """``count`` messages each way, waited for until the other end holds them."""
    for i in range(count):
        a.send(b, f"from {a.name} {i}")
        b.send(a, f"from {b.name} {i}")
    wait_for(lambda: len(b.inbox(a)) >= count and len(a.inbox(b)) >= count, WAIT, "the messages")


def safety_digits(a: StationProc, b: StationProc) -> tuple[str, str]:
    return a.request("line.verify", peer=b.name)["digits"], b.request("line.verify", peer=a.name)["digits"]


def test_a_cnsa2_line_carries_messages_and_makes_no_standard_primitive_call(
    primitive_log: Path, tmp_path: Path
) -> None:
    with paired_and_up(profile="cnsa2", rekey_after=2.0) as (alpha, bravo):
        # the hook is live: starting a station makes station-wide BLAKE2 calls (key file, card armor)
        assert {p for _, p, _ in calls_since(primitive_log, 0.0)} >= {"BLAKE2"}
        for a, b in ((alpha, bravo), (bravo, alpha)):
            line = a.line(b)
            assert line["profile"] == "cnsa2" and line["verified"] and line["state"] == "up"
        number_a, number_b = safety_digits(alpha, bravo)
        assert number_a == number_b
        mark = time.monotonic()

        exchange(alpha, bravo, 5)
        # a rekey under cnsa2 (rekey_after = 2 s), then more messages on the new keys
        alpha.wait_until(lambda s: (s["lines"][0]["rekeys"] or 0) >= 1, timeout=WAIT, what="a rekey")
        exchange(alpha, bravo, 10)
        texts = {m["text"] for m in bravo.inbox(alpha)}
        assert {f"from alpha {i}" for i in range(10)} <= texts
        # a call on the line: its key exchange, SAS and media follow the profile too
        ended_a, ended_b, _ = place_and_answer(alpha, bravo, tmp_path, seconds=2.0)
        assert ended_b["end_reason"] == "remote-hangup"
        assert ended_a["end_reason"] == "hangup" and ended_a["packets"]["udp_out"] > 20
        # a document: hashed with SHA-384, sealed in records and at rest with AES-256-GCM
        source = tmp_path / "doc.bin"
        random_file(source, 3 * 2**20 + 5, seed=16)
        sent = alpha.request("send.file", peer=bravo.name, path=str(source))
        assert sent["document"]["hash"] == "SHA-384"
        got = wait_state(bravo, sent["id"], "complete")
        out = tmp_path / "out.bin"
        bravo.request("file.get", id=sent["id"], out=str(out))
        assert got["digest"] == sent["document"]["digest"] and out.read_bytes() == source.read_bytes()

        used = [
            c
            for c in calls_since(primitive_log, mark)
            if c[1] in STANDARD_PRIMITIVES and STATION_WIDE not in c[2].split("<")
        ]
        assert used == [], f"a cnsa2 line made standard-profile calls: {used[:10]}"


def test_the_standard_line_is_caught_by_the_same_hook(primitive_log: Path) -> None:
    with paired_and_up() as (alpha, bravo):
        mark = time.monotonic()
        exchange(alpha, bravo, 2)
        used = {(p, caller) for _, p, caller in calls_since(primitive_log, mark)}
        line_path = {p for p, caller in used if STATION_WIDE not in caller.split("<")}
        assert {"ChaCha20", "BLAKE2"} <= line_path


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    with Cluster(prefix="hl-cnsa2-") as c:
        yield c


def test_ends_of_different_profiles_get_no_session_and_alerts_naming_both(cluster: Cluster) -> None:
    alpha, bravo = cluster.add("alpha"), cluster.add("bravo")
    card_a, card_b = alpha.request("card"), bravo.request("card")
    alpha.request(
        "line.add", peer="bravo", card=card_b["armored"], endpoints=[bravo.endpoint], profile="cnsa2"
    )
    bravo.request("line.add", peer="alpha", card=card_a["armored"], endpoints=[alpha.endpoint])
    # each end keys its own line (a key for one profile never opens for the other) and verifies
    alpha.request("line.grant", peer="bravo")
    bravo.request("line.grant", peer="alpha")
    alpha.request("line.verify", peer="bravo", confirm=True)
    bravo.request("line.verify", peer="alpha", confirm=True)
    cluster.start_all(alpha, bravo)

    def mismatch(station: StationProc, peer: str) -> str | None:
        line = station.line(peer)
        assert line["state"] != "up", f"{station.name}'s line came up across two profiles"
        found = [a["detail"] for a in line["alerts"] if a["kind"] == "profile-mismatch"]
        return found[0] if found else None

    at_alpha = wait_for(lambda: mismatch(alpha, "bravo"), WAIT, "alpha's profile-mismatch alert")
    at_bravo = wait_for(lambda: mismatch(bravo, "alpha"), WAIT, "bravo's profile-mismatch alert")
    assert "cnsa2 here but standard at bravo" in at_alpha
    assert "standard here but cnsa2 at alpha" in at_bravo
    time.sleep(2.0)  # redials keep failing: still no session
    assert alpha.line("bravo")["state"] != "up" and bravo.line("alpha")["state"] != "up"


def _downgrade_key_file(station: StationProc) -> Identity:
    """Write the station's key file as Hotline wrote it before line profiles (version 1: standard
    keys only, the same ones); returns that identity."""
    path = station.home / "identity.key"
    identity = open_identity(path.read_bytes(), PASSPHRASE)
    static_key, kem_seed, signing_seed = identity.secret_parts
    old = Identity.from_parts(
        identity.name, static_key=static_key, kem_seed=kem_seed, signing_seed=signing_seed
    )
    path.write_bytes(seal_identity(old, PASSPHRASE, KDF_PROFILES["light"]))
    assert path.read_bytes()[len(MAGIC)] == 1
    return old


def test_a_station_with_a_version_1_key_file_upgrades_and_its_standard_line_works(cluster: Cluster) -> None:
    alpha, bravo = cluster.add("alpha"), cluster.add("bravo")
    pair(alpha, bravo)
    before = safety_digits(alpha, bravo)
    fingerprint = alpha.request("card")["fingerprint"]
    old = _downgrade_key_file(alpha)
    # bravo holds the card alpha's old key file gave: version 1, standard keys only
    old_card = issue_card(old, endpoints=[alpha.endpoint], created_at=int(time.time()))
    assert old_card.profiles == ("standard",)
    bravo.request("line.add", peer="alpha", card=armor_card(old_card), endpoints=[alpha.endpoint])
    assert bravo.line("alpha")["verified"]
    # a cnsa2 line to a version 1 card is refused, naming what the peer must do
    with pytest.raises(RequestFailed, match="must upgrade"):
        bravo.request("line.profile", peer="alpha", profile="cnsa2")

    cluster.start_all(alpha, bravo)
    alpha.wait_line(bravo, timeout=WAIT)
    bravo.wait_line(alpha, timeout=WAIT)
    keyfile = (alpha.home / "identity.key").read_bytes()
    assert keyfile[len(MAGIC)] == 2  # upgraded, atomically replaced
    card = alpha.request("card")
    assert card["profiles"] == ["standard", "cnsa2"] and card["fingerprint"] == fingerprint
    exchange(alpha, bravo, 3)
    assert safety_digits(alpha, bravo) == before
    # upgraded once: a restart finds version 2 and says nothing
    alpha.stop()
    alpha.start()
    alpha.wait_line(bravo, timeout=WAIT)
    assert (alpha.home / "daemon.log").read_text().count("predates line profiles") == 1
    assert safety_digits(alpha, bravo) == before


def test_a_line_paired_with_cnsa2_comes_up_with_the_cnsa2_safety_number(cluster: Cluster) -> None:
    moscow, jerusalem = cluster.add("moscow"), cluster.add("jerusalem")
    listened, connected = pair_offline(moscow, jerusalem, wait=WAIT, profile="cnsa2")
    assert listened["digits"] == connected["digits"]
    card_m, card_j = (
        dearmor_card(moscow.request("card")["armored"]),
        dearmor_card(jerusalem.request("card")["armored"]),
    )
    assert listened["digits"] == safety_number(card_m, card_j, profile="cnsa2").digits
    assert listened["digits"] != safety_number(card_m, card_j).digits
    assert listened["fingerprint"] == str(card_j.fingerprint_for("cnsa2"))
    confirm(moscow, jerusalem)
    cluster.start_all(moscow, jerusalem)
    moscow.wait_line(jerusalem, timeout=WAIT)
    jerusalem.wait_line(moscow, timeout=WAIT)
    exchange(moscow, jerusalem, 2)


#: Two stations made by Hotline before line profiles (key files version 1, store schema 3), paired and
#: verified, with one message from alpha to bravo still queued; ``expected.json`` holds their
#: fingerprints and the line's safety number as that version showed them.
PRE_PROFILES = Path(__file__).resolve().parents[1] / "vectors" / "stations" / "pre-profiles.tar.gz"


def test_stations_made_before_line_profiles_upgrade_and_their_line_works(cluster: Cluster) -> None:
    with tarfile.open(PRE_PROFILES) as archive:
        archive.extractall(cluster.root, filter="data")
    expected = json.loads((cluster.root / "expected.json").read_text())
    alpha, bravo = (StationProc(cluster.root / name, name, free_port()) for name in ("alpha", "bravo"))
    for station in (alpha, bravo):
        (station.home).chmod(0o700)
        assert (station.home / "identity.key").read_bytes()[len(MAGIC)] == 1
        station.configure(listen=station.endpoint, endpoints=[], **FAST)
        cluster.stations.append(station)
    cluster.start_all(alpha, bravo)
    for station in (alpha, bravo):
        assert (station.home / "identity.key").read_bytes()[len(MAGIC)] == 2
    # the ports moved: each gives the other its fresh card (version 2, the same standard keys)
    card_a, card_b = alpha.request("card"), bravo.request("card")
    assert card_a["fingerprint"] == expected["alpha"] and card_b["fingerprint"] == expected["bravo"]
    assert card_a["profiles"] == card_b["profiles"] == ["standard", "cnsa2"]
    alpha.request("line.add", peer="bravo", card=card_b["armored"], endpoints=[bravo.endpoint])
    bravo.request("line.add", peer="alpha", card=card_a["armored"], endpoints=[alpha.endpoint])
    alpha.wait_line(bravo, timeout=WAIT)
    bravo.wait_line(alpha, timeout=WAIT)
    line = alpha.line(bravo)
    assert line["profile"] == "standard" and line["verified"]
    assert safety_digits(alpha, bravo) == (expected["digits"], expected["digits"])
    wait_for(
        lambda: any(m["text"] == "queued before line profiles" for m in bravo.inbox(alpha)),
        WAIT,
        "the old message",
    )
    exchange(alpha, bravo, 2)
