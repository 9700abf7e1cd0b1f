"""The carrier alert's findings: which end to change, said alike at both ends, and the rate check.

Both ends of a mismatched line read their own session's end (docs/protocol.md §14.5) and must come
to the same advice; an interval that differs is found from the two record counts only, and a
loaded machine's late cells (a burst once it catches up) must not look like another interval.
"""

from __future__ import annotations

from hotline.net.tcp import ChannelClosed
from hotline.proto.carriermode import CarrierSetting
from hotline.proto.errors import ErrorCode
from hotline.station.lines.carriercheck import (
    RATE_CONFIRM,
    PeerRate,
    describe,
    interval_mismatch,
    session_mismatch,
)

STEADY = CarrierSetting()
NOT_CARRIER = "the peer does not use carrier mode (§14) and this session does"
IS_CARRIER = "the peer uses carrier mode (§14) and this session does not"


def cells(theirs: int, ours: int) -> str:
    return (
        f"the peer's cells are {theirs} bytes and this session's {ours}:"
        " the two ends use different carrier settings"
    )


def ended(reason: str, code: ErrorCode = ErrorCode.PROTOCOL_VIOLATION) -> ChannelClosed:
    return ChannelClosed(code, reason)


def test_describe_spells_the_settings_as_station_toml_does() -> None:
    assert describe(None) == 'carrier = "off"'
    assert describe(CarrierSetting(2048, 0.05)) == (
        'carrier = "steady", carrier_cell = 2048, carrier_interval_ms = 50'
    )


def test_steady_against_off_both_ends_tell_the_off_end_to_turn_it_on() -> None:
    at_alpha = session_mismatch(ended(NOT_CARRIER), STEADY, peer="bravo", us="alpha")
    at_bravo = session_mismatch(ended(IS_CARRIER), None, peer="alpha", us="bravo")
    assert at_alpha is not None and at_bravo is not None
    assert at_alpha.fatal and at_bravo.fatal
    # alpha (steady) names its setting, what bravo runs, and the line bravo must set
    assert describe(STEADY) in at_alpha.detail
    assert 'bravo evidently does not (carrier = "off")' in at_alpha.detail
    assert "Change bravo" in at_alpha.detail
    assert f"set {describe(STEADY)} under [lines.alpha] in bravo's station.toml" in at_alpha.detail
    # bravo (off) says the same from its side: change this station
    assert 'this station does not (carrier = "off")' in at_bravo.detail
    assert "Change this station" in at_bravo.detail
    assert 'set carrier = "steady" under [lines.alpha]' in at_bravo.detail


def test_different_cells_both_ends_pick_the_larger() -> None:
    small, large = CarrierSetting(1024), CarrierSetting(2048)
    at_small = session_mismatch(ended(cells(2048, 1024)), small, peer="bravo", us="alpha")
    at_large = session_mismatch(ended(cells(1024, 2048)), large, peer="alpha", us="bravo")
    assert at_small is not None and at_large is not None
    assert (
        "Change this station to the larger cell: set carrier_cell = 2048 under [lines.bravo]"
        in at_small.detail
    )
    assert (
        "Change alpha to the larger cell: set carrier_cell = 2048 under [lines.bravo] in alpha's"
        in at_large.detail
    )
    assert "1024 bytes" in at_small.detail and "2048 bytes" in at_small.detail


def test_other_endings_are_no_mismatch() -> None:
    assert session_mismatch(None, STEADY, peer="b", us="a") is None
    assert (
        session_mismatch(ended("connection lost", ErrorCode.CONNECTION_LOST), STEADY, peer="b", us="a")
        is None
    )
    assert session_mismatch(ended("a session message in the FLASH lane"), STEADY, peer="b", us="a") is None
    # a reason that does not fit this end's own setting is not believed
    assert session_mismatch(ended(NOT_CARRIER), None, peer="b", us="a") is None
    assert session_mismatch(ended(IS_CARRIER), STEADY, peer="b", us="a") is None


def test_the_same_mismatch_has_the_same_key() -> None:
    one = session_mismatch(ended(NOT_CARRIER), STEADY, peer="b", us="a")
    two = session_mismatch(ended(NOT_CARRIER), STEADY, peer="b", us="a")
    assert one is not None and two is not None and one.key == two.key
    # the measured interval may differ by a millisecond between sessions: one key
    assert (
        interval_mismatch(STEADY, 49, peer="b", us="a").key
        == interval_mismatch(STEADY, 51, peer="b", us="a").key
    )


def test_interval_both_ends_pick_the_shorter() -> None:
    fast, slow = CarrierSetting(interval=0.02), CarrierSetting(interval=0.05)
    at_fast = interval_mismatch(fast, 50, peer="bravo", us="alpha")
    at_slow = interval_mismatch(slow, 20, peer="alpha", us="bravo")
    assert not at_fast.fatal and not at_slow.fatal
    assert (
        "Change bravo to the shorter interval: set carrier_interval_ms = 20 under [lines.alpha]"
        in at_fast.detail
    )
    assert (
        "Change this station to the shorter interval: set carrier_interval_ms = 20 under [lines.alpha]"
        in at_slow.detail
    )


def run(rate: PeerRate, ours: float, theirs: float, seconds: float, stall: tuple[float, float] | None = None):
    """Look once a second at the counts of a session whose peer sends every ``theirs`` seconds and
    we every ``ours``; during ``stall`` (start, end) the peer sends nothing, then catches up."""
    found = []
    t = 1.0
    while t <= seconds:
        sent = int(t / ours) + 1
        seen = t if stall is None or not stall[0] <= t < stall[1] else stall[0]
        received = int(seen / theirs) + 1
        found.append((t, rate.look(sent, received)))
        t += 1.0
    return found


def test_same_interval_agrees_after_enough_cells_and_never_differs() -> None:
    found = run(PeerRate(0.02), 0.02, 0.02, 30)
    assert all(f is None or f.same for _, f in found)
    assert any(f is not None and f.same for _, f in found)


def test_a_stall_of_a_loaded_peer_is_not_another_interval() -> None:
    # the peer sends nothing for 5 s (its idle timeout would be near with test heartbeats) and
    # then its late cells all at once
    for start in (2.0, 12.0, 25.0):
        found = run(PeerRate(0.02), 0.02, 0.02, 40, stall=(start, start + 5.0))
        assert all(f is None or f.same for _, f in found), start


def test_a_different_interval_is_found_at_both_ends_within_seconds() -> None:
    at_fast = [(t, f) for t, f in run(PeerRate(0.02), 0.02, 0.05, 15) if f is not None]
    at_slow = [(t, f) for t, f in run(PeerRate(0.05), 0.05, 0.02, 15) if f is not None]
    assert at_fast and not at_fast[0][1].same and at_fast[0][1].their_ms == 50
    assert at_slow and not at_slow[0][1].same and at_slow[0][1].their_ms == 20
    assert at_fast[0][0] <= 10 and at_slow[0][0] <= 10


def test_a_difference_needs_several_looks_in_a_row() -> None:
    rate = PeerRate(0.02)
    for _ in range(RATE_CONFIRM - 1):
        assert rate.look(1000, 100) is None
    found = rate.look(1000, 1000)  # counts that agree: the run starts over
    assert found is None or found.same
    for _ in range(RATE_CONFIRM - 1):
        assert rate.look(1000, 100) is None
    found = rate.look(1000, 100)
    assert found is not None and not found.same and found.their_ms == 200
