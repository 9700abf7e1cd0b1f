"""Precedence inside the carrier (docs/protocol.md §14.3) between two real station daemons.

Both ends of the line run it as a steady carrier (1024-byte cells every 20 ms). alpha queues a
thousand ROUTINE messages, far more than the cells carry at once, then one FLASH: the FLASH must
reach bravo before most of them, and all 1001 must arrive in sequence, none lost, each receipted.
The FLASH's added delay (its latency under that load minus its latency on the idle carrier) is
printed, not asserted: wall-clock speed depends on the machine.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator

import pytest

from hotline.station.config import LineSettings
from tests.support.stations import StationProc, paired_and_up, wait_for

ROUTINE = 1000
#: A routine message's text: about 450 bytes framed, two to a cell, so the thousand take ~10 s of
#: cells while queueing them takes a few seconds.
FILLER = "x" * 380


@pytest.fixture
def carrier_pair() -> Iterator[tuple[StationProc, StationProc]]:
    """alpha and bravo, paired, their line a steady carrier at both ends, up."""
    with paired_and_up(LineSettings(carrier="steady")) as stations:
        yield stations


def flash_latency(a: StationProc, b: StationProc, text: str) -> tuple[str, float]:
    """Send a FLASH and wait for its receipt: its id and seconds from the request to the receipt."""
    sent_at = time.time()
    message = a.send(b, text, "flash")
    done = a.request("wait", id=message["id"], timeout=120, io_timeout=150)
    assert done["state"] == "delivered", done
    return str(message["id"]), float(done["delivered_at"]) - sent_at


#: Routine messages the carrier may number while the flash's ``send`` request runs.
OVERTAKE_SLACK = 25


def test_flash_overtakes_a_thousand_routine_in_the_carrier(
    carrier_pair: tuple[StationProc, StationProc],
) -> None:
    a, b = carrier_pair
    idle = [flash_latency(a, b, f"idle flash {i}")[1] for i in range(5)]

    started = time.monotonic()
    routine = [a.send(b, f"routine #{i:04d} {FILLER}")["id"] for i in range(ROUTINE)]
    queued_in = time.monotonic() - started
    backlog = a.line(b)
    flash, loaded = flash_latency(a, b, "FLASH: overtake the thousand")
    # a few more while the routine ones still wait, for the spread
    more = [flash_latency(a, b, f"FLASH {i} behind the rest")[1] for i in range(4)]

    last = a.request("wait", id=routine[-1], timeout=300, io_timeout=330)
    assert last["state"] == "delivered", last
    drained_in = time.monotonic() - started

    # all 1001 arrived, each once, and the transcript has no gap
    inbox = b.inbox(a)
    assert len(inbox) == len({m["id"] for m in inbox}) == ROUTINE + 1 + len(idle) + len(more)
    ours = {m["id"]: m for m in inbox}
    assert set(routine) | {flash} <= set(ours)
    assert [m["seq"] for m in inbox] == list(range(1, len(inbox) + 1)), (
        "bravo stored alpha's entries out of sequence"
    )
    # the routine messages kept their queue order; the flash overtook most of them
    routine_seqs = [ours[i]["seq"] for i in routine]
    assert routine_seqs == sorted(routine_seqs)
    # every routine message still queued when the flash was sent stays behind it, but for the few
    # numbered into cells while the send request ran (how many were queued depends on the machine's
    # speed at queueing the thousand, not on the carrier, so that is what the check counts from)
    behind = sum(1 for seq in routine_seqs if seq > ours[flash]["seq"])
    waiting = int(backlog["queued"])
    assert waiting > 0, f"the thousand were all delivered before the flash was sent: {backlog}"
    assert behind >= waiting - OVERTAKE_SLACK, f"only {behind} of {waiting} queued routine stayed behind"
    # every message is receipted at alpha
    wait_for(
        lambda: all(m["state"] in ("delivered", "acked") for m in a.sent(b)),
        30,
        "every message receipted at alpha",
    )
    assert b.line(a)["state"] == "up" and a.line(b)["state"] == "up"

    base = statistics.median(idle)
    print(
        f"\ncarrier precedence: {ROUTINE} routine queued in {queued_in:.2f} s "
        f"(queued {backlog.get('queued')}, in flight {backlog.get('in_flight')} when the flash was sent); "
        f"all delivered {drained_in:.2f} s after the first\n"
        f"flash latency to its receipt: idle median {base * 1000:.0f} ms (min {min(idle) * 1000:.0f}, "
        f"max {max(idle) * 1000:.0f}), behind the routine {loaded * 1000:.0f} ms, "
        f"added delay {(loaded - base) * 1000:.0f} ms; {behind} of {ROUTINE} routine arrived after it "
        f"(flash seq {ours[flash]['seq']}); four more flashes behind the rest: "
        + ", ".join(f"{(t - base) * 1000:.0f}" for t in more)
        + " ms added"
    )
