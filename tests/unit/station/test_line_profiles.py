"""Line profiles at the station: chosen when a line is made, shown, changed only as a key change, and
the wiring points the session uses (``Station.suite_for``, the ``profile-mismatch`` alert).

Real stations opened in this process (as a request run offline opens them), their requests called
through the one dispatcher.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from hotline.cli.options import PROFILE_NAMES
from hotline.proto.cards import armor_card
from hotline.proto.suites import CNSA2, STANDARD, SUITES
from hotline.station.errors import StationError
from hotline.station.home import create_station
from hotline.station.requests.dispatch import Requests
from hotline.station.service import Station

PASSPHRASE = "correct horse battery staple"

Ask = Callable[..., Awaitable[dict[str, Any]]]


async def _nothing(event: dict[str, object]) -> None:
    pass


def _card_of(home: Path) -> tuple[str, bytes]:
    async def read() -> tuple[str, bytes]:
        station = await Station.open(home, PASSPHRASE)
        try:
            return armor_card(station.card()), station.static_public
        finally:
            await station.close()

    return asyncio.run(read())


@pytest.fixture(scope="module")
def homes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("profiles")
    create_station(root / "alpha", "alpha", "127.0.0.1:7000", PASSPHRASE, kdf="light")
    create_station(root / "bravo", "bravo", "127.0.0.1:7001", PASSPHRASE, kdf="light")
    return root / "alpha", root / "bravo"


@pytest.fixture
def bravo(homes: tuple[Path, Path]) -> tuple[str, bytes]:
    return _card_of(homes[1])


def _at_alpha(homes: tuple[Path, Path], scenario: Callable[[Station, Ask], Awaitable[None]]) -> None:
    """Run ``scenario`` on a fresh copy of alpha (no line yet), with ``ask(op, **args)``."""

    async def run() -> None:
        station = await Station.open(homes[0], PASSPHRASE)
        requests = Requests(station)

        async def ask(op: str, **args: Any) -> dict[str, Any]:
            return await requests.handle(op, args, _nothing)

        try:
            for peer in list(station.lines):
                await ask("line.remove", peer=peer)
            await scenario(station, ask)
        finally:
            await station.close()

    asyncio.run(run())


def _alerts(station: Station, kind: str) -> list[dict[str, object]]:
    return [a for a in station.line("bravo").alerts if a["kind"] == kind]


def test_the_cli_offers_every_profile_there_is() -> None:
    assert set(PROFILE_NAMES) == set(SUITES)


def test_a_line_is_standard_unless_made_with_another_profile(
    homes: tuple[Path, Path], bravo: tuple[str, bytes]
) -> None:
    card, static = bravo

    async def scenario(station: Station, ask: Ask) -> None:
        added = await ask("line.add", peer="bravo", card=card)
        assert added["profile"] == "standard"
        assert station.suite_for(static) == STANDARD
        await ask("line.remove", peer="bravo")
        added = await ask("line.add", peer="bravo", card=card, profile="cnsa2")
        assert added["profile"] == "cnsa2"
        assert station.line("bravo").suite == CNSA2 and station.line("bravo").profile == "cnsa2"
        assert station.suite_for(static) == CNSA2
        assert station.suite_for(b"\x00" * 32) is None  # no line: a stranger
        listed = await ask("line.list")
        assert [(line["peer"], line["profile"]) for line in listed["lines"]] == [("bravo", "cnsa2")]
        status = await ask("status")
        assert status["lines"][0]["profile"] == "cnsa2"
        # a card refreshed without a profile keeps the line's: never a change by omission
        again = await ask("line.add", peer="bravo", card=card)
        assert again["profile"] == "cnsa2" and _alerts(station, "profile-changed") == []

    _at_alpha(homes, scenario)


def test_a_profile_that_does_not_exist_is_refused_naming_the_ones_that_do(
    homes: tuple[Path, Path], bravo: tuple[str, bytes]
) -> None:
    card, _ = bravo

    async def scenario(station: Station, ask: Ask) -> None:
        with pytest.raises(StationError, match="'suiteb' is not a line profile: use one of standard, cnsa2"):
            await ask("line.add", peer="bravo", card=card, profile="suiteb")
        assert "bravo" not in station.lines
        await ask("line.add", peer="bravo", card=card)
        with pytest.raises(StationError) as refused:
            await ask("line.profile", peer="bravo", profile="CNSA2")
        assert refused.value.code == "bad-request"
        assert station.line("bravo").profile == "standard"

    _at_alpha(homes, scenario)


def test_changing_a_profile_is_a_key_change(homes: tuple[Path, Path], bravo: tuple[str, bytes]) -> None:
    card, _ = bravo

    async def scenario(station: Station, ask: Ask) -> None:
        await ask("line.add", peer="bravo", card=card)
        await ask("line.grant", peer="bravo")
        await ask("line.verify", peer="bravo", confirm=True)
        line = station.line("bravo")
        assert line.ready and line.key is not None
        created = line.row.key_created_at

        changed = await ask("line.profile", peer="bravo", profile="cnsa2")
        assert changed["changed"] is True and changed["profile"] == "cnsa2"
        assert (
            changed["verified"] is False and changed["has_key"] is False and changed["state"] == "unverified"
        )
        assert line.key is None and not line.ready and line.row.key_created_at == created
        (alert,) = _alerts(station, "profile-changed")
        assert "from standard to cnsa2" in str(alert["detail"]) and "key change" in str(alert["detail"])

        same = await ask("line.profile", peer="bravo", profile="cnsa2")
        assert same["changed"] is False and len(_alerts(station, "profile-changed")) == 1

        # line.add naming another profile changes it the same way
        back = await ask("line.add", peer="bravo", card=card, profile="standard")
        assert back["profile"] == "standard" and back["verified"] is False
        assert "from cnsa2 to standard" in str(_alerts(station, "profile-changed")[-1]["detail"])

    _at_alpha(homes, scenario)


def test_a_profile_mismatch_alert_names_both_profiles_and_what_each_end_would_run(
    homes: tuple[Path, Path], bravo: tuple[str, bytes]
) -> None:
    card, static = bravo

    async def scenario(station: Station, ask: Ask) -> None:
        await ask("line.add", peer="bravo", card=card, profile="cnsa2")
        station.profile_mismatch(static, "standard")
        (alert,) = _alerts(station, "profile-mismatch")
        detail = str(alert["detail"])
        assert "cnsa2 here but standard at bravo" in detail
        assert "`hotline line profile bravo standard` here" in detail
        assert "`hotline line profile alpha cnsa2` there" in detail
        station.profile_mismatch(static, "standard")  # a redial finding the same says nothing new
        station.line("bravo").clear_alerts(("profile-mismatch",))
        station.profile_mismatch(static, "standard")
        assert _alerts(station, "profile-mismatch") == []
        station.profile_mismatch(static, "cnsa2")  # the same as ours: no mismatch
        station.profile_mismatch(b"\x01" * 32, "standard")  # no such line: nothing to tell
        assert _alerts(station, "profile-mismatch") == []

        station.profile_mismatch(static, "standard")
        station.line("bravo").profiles_agree()  # a session came up: the ends agree now
        station.profile_mismatch(static, "standard")  # and a new mismatch is told again
        assert len(_alerts(station, "profile-mismatch")) == 1
        await ask("line.profile", peer="bravo", profile="standard")  # changing ours answers it
        assert _alerts(station, "profile-mismatch") == []

    _at_alpha(homes, scenario)
