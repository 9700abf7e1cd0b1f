"""One pairing per line name, held by the station (no module-global table any more)."""

from __future__ import annotations

import asyncio

from hotline.station.pairing import PairingClaims


def test_a_newer_pairing_supersedes_the_waiting_one() -> None:
    async def scenario() -> None:
        claims = PairingClaims()
        async with claims.claim("bravo") as first:
            assert not first.superseded.is_set()
            async with claims.claim("bravo") as second:
                assert first.superseded.is_set()
                assert not second.superseded.is_set()
            # the older one leaving does not free the name the newer one holds, and vice versa
        async with claims.claim("bravo") as third:
            assert not third.superseded.is_set()

    asyncio.run(scenario())


def test_names_and_stations_are_separate() -> None:
    async def scenario() -> None:
        one, other = PairingClaims(), PairingClaims()
        async with one.claim("bravo") as first, one.claim("charlie") as second, other.claim("bravo") as third:
            assert not (first.superseded.is_set() or second.superseded.is_set() or third.superseded.is_set())

    asyncio.run(scenario())
