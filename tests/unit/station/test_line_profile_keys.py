"""A line's keys follow its profile at the station: the digests its chains start from and that
verification pins, its safety number and fingerprint, the card it needs, and the rule for entries
in flight when the profile changes (docs/control.md "Line profiles", protocol §10.1).

Real stations opened in this process, their requests called through the one dispatcher.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline.proto.cards import armor_card, dearmor_card, issue_card
from hotline.proto.delivery import chain_start
from hotline.proto.identity import Identity
from hotline.proto.safety import safety_number
from hotline.proto.suites import CNSA2, STANDARD
from hotline.station.errors import StationError
from hotline.station.service import Station
from tests.unit.station.test_line_profiles import Ask, _at_alpha, bravo, homes

__all__ = ["bravo", "homes"]  # the fixtures, shared with the profile tests


def test_a_cnsa2_line_pins_and_shows_its_profiles_keys(
    homes: tuple[Path, Path], bravo: tuple[str, bytes]
) -> None:
    card_text, _ = bravo
    card = dearmor_card(card_text)

    async def scenario(station: Station, ask: Ask) -> None:
        added = await ask("line.add", peer="bravo", card=card_text, profile="cnsa2")
        assert added["fingerprint"] == str(card.fingerprint_for("cnsa2"))
        assert added["fingerprint"] != str(card.fingerprint)
        line = station.line("bravo")
        ours, theirs = station.identity.key_digest_for("cnsa2"), card.key_digest_for("cnsa2")
        assert line.row.key_digest == theirs
        assert line.row.chain_out0 == chain_start(ours, theirs, CNSA2)
        assert line.row.chain_in0 == chain_start(theirs, ours, CNSA2)
        shown = await ask("line.verify", peer="bravo", confirm=True)
        number = safety_number(station.identity.public(), card, profile="cnsa2")
        assert shown["digits"] == number.digits and shown["profile"] == "cnsa2"
        assert shown["digits"] != safety_number(station.identity.public(), card).digits
        assert line.row.verified and line.row.verified_digest == theirs

        # a change re-pins: the standard digest, unverified, chains of an empty line restarted
        await ask("line.profile", peer="bravo", profile="standard")
        std_ours, std_theirs = station.identity.key_digest, card.key_digest
        assert line.row.key_digest == std_theirs and not line.row.verified
        assert line.row.chain_out0 == chain_start(std_ours, std_theirs, STANDARD)
        assert line.delivery.machine.suite == STANDARD
        assert line.delivery.machine.out_head == line.row.chain_out0
        again = await ask("line.verify", peer="bravo", confirm=True)
        assert again["digits"] == safety_number(station.identity.public(), card).digits
        assert line.row.verified and line.row.verified_digest == std_theirs

    _at_alpha(homes, scenario)


def test_a_profile_change_is_refused_while_our_entries_wait(
    homes: tuple[Path, Path], bravo: tuple[str, bytes]
) -> None:
    card_text, _ = bravo

    async def scenario(station: Station, ask: Ask) -> None:
        await ask("line.add", peer="bravo", card=card_text)
        line = station.line("bravo")
        line_id, start = line.row.id, line.row.chain_out0
        # one entry numbered and sent, its receipt not back
        await station.worker.call(
            lambda store: store.messages.queue(
                line_id, id=b"0123456789", kind=1, precedence=0, created_ms=1, ref=b"", body=b"hi",
                now=1.0, place=(1, start),
            )
        )  # fmt: skip
        with pytest.raises(StationError) as refused:
            await ask("line.profile", peer="bravo", profile="cnsa2")
        assert refused.value.code == "entries-waiting" and "1 of our entries" in refused.value.message
        assert station.line("bravo").profile == "standard"
        # delivered: the change goes through, and the started transcript keeps its start
        await station.worker.call(lambda store: store.messages.mark_delivered(line_id, 1, 2.0))
        changed = await ask("line.profile", peer="bravo", profile="cnsa2")
        assert changed["changed"] is True and station.line("bravo").row.chain_out0 == start

    _at_alpha(homes, scenario)


def test_a_version_1_card_is_refused_for_a_cnsa2_line(homes: tuple[Path, Path]) -> None:
    old = Identity.generate("bravo")
    static_key, kem_seed, signing_seed = old.secret_parts
    v1 = Identity.from_parts("bravo", static_key=static_key, kem_seed=kem_seed, signing_seed=signing_seed)
    card = armor_card(issue_card(v1, endpoints=["127.0.0.1:7001"], created_at=1))

    async def scenario(station: Station, ask: Ask) -> None:
        with pytest.raises(StationError) as refused:
            await ask("line.add", peer="bravo", card=card, profile="cnsa2")
        assert refused.value.code == "bad-card" and "must upgrade" in refused.value.message
        await ask("line.add", peer="bravo", card=card)  # a standard line takes it
        with pytest.raises(StationError, match="must upgrade"):
            await ask("line.profile", peer="bravo", profile="cnsa2")

    _at_alpha(homes, scenario)
