"""Crash safety: thousands of messages while the sender and the receiver are SIGKILLed at random points.

A message whose ``send`` was answered is durable at the sender and must end up in the receiver's
inbox exactly once, in the order the sender queued it (within one precedence), with its text intact.
A ``send`` whose connection broke before the answer may or may not have been queued; if it was, the
same rules hold for it. The random choices come from one seed, printed so a failure can be replayed
(``HOTLINE_CRASH_SEED=… pytest …``). The ``soak`` variant (``make soak``) does the same through fifty
rounds of kills; both print their figures (tests/support/figures.py).
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.support.figures import report
from tests.support.stations import (
    Cluster,
    StationProc,
    pair,
    request_once,
)

SEED = int(os.environ.get("HOTLINE_CRASH_SEED", "20240611"))
TOTAL = 3000
ROUNDS = 6
#: The soak run (``make soak``): five cycles of this, each on a fresh pair of stations (the ``log``
#: request shows at most 10,000 entries, a message and its receipt being two, and the checks read the
#: sender's whole queue from it), so fifty kill rounds in all, plus one with both killed per cycle.
SOAK_CYCLES = 5
SOAK_TOTAL = 4000
SOAK_ROUNDS = 10
SENDERS = 4


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    with Cluster() as c:
        yield c


class Outbox:
    """What the test asked the sender to queue, and what the sender answered."""

    def __init__(self) -> None:
        self.confirmed: dict[str, str] = {}  # text -> message id
        self.uncertain: set[str] = set()
        self.lock = threading.Lock()

    def send(self, sender: StationProc, peer: str, text: str, precedence: str) -> None:
        """Send once; retry only while the daemon is certainly not there (nothing was delivered)."""
        result = request_once(sender, "send", peer=peer, text=text, precedence=precedence)
        with self.lock:
            if result is None:
                self.uncertain.add(text)
            else:
                self.confirmed[text] = result["id"]


def _texts(rng: random.Random, start: int, count: int) -> list[tuple[str, str]]:
    out = []
    for n in range(start, start + count):
        roll = rng.random()
        precedence = "flash" if roll < 0.05 else "priority" if roll < 0.15 else "routine"
        body = "".join(
            rng.choice("abcdefghijklmnopqrstuvwxyz0123456789 ") for _ in range(rng.randrange(1, 300))
        )
        out.append((f"#{n:05d} {precedence} {body} ✓ end-{n:05d}", precedence))
    return out


def _victims(rounds: int) -> list[str]:
    """Sender and receiver in turn, both at once every tenth round, and both again at the end."""
    return ["both" if n % 10 == 9 else ("sender", "receiver")[n % 2] for n in range(rounds)] + ["both"]


def run_message_crashes(
    cluster: Cluster, name: str, total: int, rounds: int, seed: int = SEED, tally: Counter[str] | None = None
) -> None:
    """Send ``total`` messages over ``rounds`` rounds, killing a daemon in each; check; report the figures.

    With ``tally``, the figures are added to it and the sums reported (a soak run's cycles).
    """
    print(f"crash test seed {seed} (set HOTLINE_CRASH_SEED to replay)")
    rng = random.Random(seed)
    started = time.monotonic()
    sender, receiver = cluster.add("sender"), cluster.add("receiver")
    pair(sender, receiver)
    cluster.start_all(sender, receiver)
    sender.wait_line(receiver)

    outbox = Outbox()
    generated: dict[str, str] = {}
    per_round = total // rounds
    victims = _victims(rounds)
    kills = 0
    for round_no, victim in enumerate(victims):
        batch = _texts(rng, round_no * per_round, per_round) if round_no < rounds else []
        generated.update(batch)
        with ThreadPoolExecutor(SENDERS) as pool:
            futures = [pool.submit(outbox.send, sender, receiver.name, t, p) for t, p in batch]
            time.sleep(rng.uniform(0.02, 0.5))
            chosen = {"sender": [sender], "receiver": [receiver], "both": [sender, receiver]}[victim]
            for station in chosen:
                station.kill()
                kills += 1
            time.sleep(rng.uniform(0.0, 0.3))
            for station in chosen:
                station.start()
            for future in futures:
                future.result()
        print(
            f"round {round_no}: killed {victim}; {len(outbox.confirmed)} confirmed, "
            f"{len(outbox.uncertain)} uncertain so far"
        )
    assert kills >= len(victims) + 1

    # everything drains
    sender.wait_line(receiver, timeout=30)

    def drained(status: dict[str, Any]) -> bool:
        line = status["lines"][0]
        return bool(line["queued"] == 0 and line["in_flight"] == 0)

    sender.wait_until(drained, 60, "the sender's queue drains")

    queued = sender.sent(receiver)
    inbox = receiver.inbox(sender)
    queued_texts = [m["text"] for m in queued]
    inbox_texts = [m["text"] for m in inbox]
    missing_at_sender = set(outbox.confirmed) - set(queued_texts)
    doubled = [t for t, n in Counter(inbox_texts).items() if n > 1]
    lost = set(queued_texts) - set(inbox_texts)
    unordered = [
        precedence
        for precedence in ("flash", "priority", "routine")
        if [m["id"] for m in inbox if m["precedence"] == precedence]
        != [m["id"] for m in queued if m["precedence"] == precedence]
    ]
    figures = Counter(
        {
            "rounds": len(victims),
            "kills": kills,
            "messages_checked": len(queued),
            "confirmed": len(outbox.confirmed),
            "uncertain": len(outbox.uncertain),
            "losses": len(lost) + len(missing_at_sender),
            "duplicates": len(doubled) + len(queued_texts) - len(set(queued_texts)),
            "out_of_order": len(unordered),
            "seconds": round(time.monotonic() - started, 1),
        }
    )
    if tally is not None:
        tally.update(figures)
        tally["cycles"] += 1
        figures = tally
    report(name, {**figures, "seconds": round(figures["seconds"], 1), "seed": SEED})

    # the sender holds every confirmed message once, and nothing the test did not ask for
    assert len(set(queued_texts)) == len(queued_texts), "the sender queued a message twice"
    assert not missing_at_sender, f"{len(missing_at_sender)} confirmed sends were lost by the sender"
    assert set(queued_texts) <= set(outbox.confirmed) | outbox.uncertain
    by_text = {m["text"]: m for m in queued}
    assert all(by_text[t]["id"] == i for t, i in outbox.confirmed.items())

    # the receiver holds exactly what the sender queued: once each, texts intact
    assert not doubled, f"{len(doubled)} messages arrived twice, e.g. {doubled[0][:40]!r}"
    assert not lost, f"{len(lost)} messages never arrived, e.g. {sorted(lost)[0][:40]!r}"
    assert set(inbox_texts) == set(queued_texts)
    for message in inbox:
        assert generated[message["text"]] == message["precedence"]
        assert message["id"] == by_text[message["text"]]["id"]

    # in the sender's queue order within each precedence; the transcript order is the inbox order
    assert not unordered, f"{unordered} messages arrived out of order"
    assert [m["seq"] for m in inbox] == sorted(m["seq"] for m in inbox)

    assert Counter(m["state"] for m in queued) == {"delivered": len(queued)}
    assert len(queued) >= total - SENDERS * kills

    # no alarm about the transcripts on either side, and a line test agrees
    for station, peer in ((sender, receiver), (receiver, sender)):
        alarms = [
            e
            for e in station.log(peer)
            if e["kind"] == "alert" and e["event"] in ("gap", "chain-mismatch", "protocol")
        ]
        assert not alarms, f"{station.name} raised {alarms[:3]}"
        result = station.request("test", peer=peer.name, timeout=10)
        assert result["ok"], result
    print(f"{len(queued)} delivered exactly once through {kills} kills; {len(outbox.uncertain)} uncertain")


@pytest.mark.slow
def test_sigkill_at_random_points_loses_and_doubles_nothing(cluster: Cluster) -> None:
    run_message_crashes(cluster, "crash-messages", TOTAL, ROUNDS)


@pytest.mark.soak
@pytest.mark.timeout(1800)
def test_soak_sigkill_through_fifty_rounds_of_messages() -> None:
    tally: Counter[str] = Counter()
    for cycle in range(SOAK_CYCLES):
        with Cluster() as cluster:
            run_message_crashes(cluster, "crash-messages-soak", SOAK_TOTAL, SOAK_ROUNDS, SEED + cycle, tally)
