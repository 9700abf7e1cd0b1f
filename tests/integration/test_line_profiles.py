"""Line profiles with real stations: a line made with ``--profile cnsa2`` (by ``line add`` through a
running daemon, and by pairing) is stored with it, shown by every view, and kept across a restart."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from hotline.cli.main import cli
from tests.integration.test_pairing import lines, pair_offline
from tests.support.stations import PASSPHRASE, Cluster

WAIT = 20.0


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    with Cluster(prefix="hl-profile-") as c:
        yield c


def hotline(home: Path, *args: str) -> Result:
    env: dict[str, str | None] = {"HOTLINE_PASSPHRASE": PASSPHRASE, "HOTLINE_HOME": None, "COLUMNS": "160"}
    result = CliRunner().invoke(cli, ["--home", str(home), *args], env=env, catch_exceptions=False)
    assert result.exit_code == 0, f"hotline {' '.join(args)}: {result.output}"
    return result


def as_json(home: Path, *args: str) -> Any:
    return json.loads(hotline(home, *args, "--json").stdout)


def test_a_cnsa2_line_added_through_the_daemon_is_stored_and_shown(cluster: Cluster, tmp_path: Path) -> None:
    alpha, bravo = cluster.add("alpha"), cluster.add("bravo")
    card = tmp_path / "bravo.card"
    card.write_text(bravo.request("card")["armored"])
    alpha.start()

    added = hotline(alpha.home, "line", "add", "bravo", str(card), "--profile", "cnsa2")
    assert "line to bravo (cnsa2) added" in added.output
    [listed] = as_json(alpha.home, "line", "list")["lines"]
    assert listed["peer"] == "bravo" and listed["profile"] == "cnsa2"
    table = hotline(alpha.home, "line", "list").output
    assert "profile" in table and "cnsa2" in table
    [status] = as_json(alpha.home, "status")["lines"]
    assert status["profile"] == "cnsa2"
    assert "cnsa2" in hotline(alpha.home, "status").output
    # a fresher card without --profile keeps the line's profile
    hotline(alpha.home, "line", "add", "bravo", str(card))
    assert alpha.line("bravo")["profile"] == "cnsa2"

    alpha.stop()  # stored, not only held by the daemon: offline, and after a restart
    [stored] = lines(alpha)
    assert stored["profile"] == "cnsa2"
    alpha.start()
    assert alpha.line("bravo")["profile"] == "cnsa2"

    changed = hotline(alpha.home, "line", "profile", "bravo", "standard")
    assert "now has the profile standard" in changed.output and "verification are gone" in changed.output
    line = alpha.line("bravo")
    assert line["profile"] == "standard" and not line["verified"] and not line["has_key"]
    kinds = [alert["kind"] for alert in line["alerts"]]
    assert "profile-changed" in kinds


def test_pairing_with_a_profile_stores_it_at_both_ends(cluster: Cluster) -> None:
    moscow, jerusalem = cluster.add("moscow"), cluster.add("jerusalem")
    listened, connected = pair_offline(moscow, jerusalem, profile="cnsa2")
    assert listened["profile"] == connected["profile"] == "cnsa2"
    assert (
        [line["profile"] for line in lines(moscow)]
        == [line["profile"] for line in lines(jerusalem)]
        == ["cnsa2"]
    )
