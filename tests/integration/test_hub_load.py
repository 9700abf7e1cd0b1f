"""A hub under steady traffic: many lines, messages both ways for minutes, memory and CPU flat.

One hub daemon holds a line to each of many peer stations (served in one separate process, see
tests/support/load.py). Every peer sends the hub a message every few seconds and the hub sends a
quarter as many back, while the hub's resident memory and CPU time are read from ``/proc``. At the
end every station drains, and every message sent must be in its receiver's inbox exactly once, from
the right peer, in the order it was sent.

The ``soak`` run (``make soak``) is the issue's: 200 lines, one message every 5 to 10 s per line
(about 27 a second in all, 7 back), for 10 minutes (``HOTLINE_HUB_LOAD_SECONDS`` and
``HOTLINE_HUB_LOAD_LINES`` change that, to try it shorter). It also holds the hub to flat memory and
CPU:

* memory: the hub's RSS may rise by at most :data:`RSS_GROWTH_KIB` over the last two thirds of the
  run (from the reading at the one-third mark to the highest after it). By then every line has had
  its first rekey and the store's page cache (SQLite's default, about 2 MiB per connection) is full,
  so what still grows is what the hub keeps. 10 MiB over the ~13,000 messages (both ways) of those
  two thirds allows under 1 KiB each, so any message (or its dict) kept in memory fails it; a leak
  per rekey fails it only above ~12 KiB per line and rekey (four rounds of 200 in those two thirds),
  so smaller ones need a longer run (docs/reliability.md reports what the RSS did between samples).
* CPU: the mean over the last third of the intervals may be at most 25 % (plus 2 points of a core,
  for a shared machine's noise) above the mean over the first third. The work per second is the same
  throughout, so a rising cost means something grows with the transcript (a scan, a list).

The fast variant (``make test``) runs 20 lines for 15 s at a higher rate and checks the messages only.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.figures import report
from tests.support.load import (
    Plan,
    check,
    collect,
    cpu_percents,
    drive,
    make_peers,
    pair_hub,
    peers_running,
    rss_growth_kib,
    slope_per_minute,
    thirds,
)
from tests.support.stations import PASSPHRASE, Cluster

LINES = int(os.environ.get("HOTLINE_HUB_LOAD_LINES", "200"))
SECONDS = float(os.environ.get("HOTLINE_HUB_LOAD_SECONDS", "600"))
#: The most the hub's RSS may rise over the last two thirds of the soak run (see the module docstring).
RSS_GROWTH_KIB = 10 * 1024
#: The last third's CPU may be this much above the first third's: a factor, plus points of one core.
CPU_RISE_FACTOR = 1.25
CPU_RISE_POINTS = 2.0
ALARMS = {"gap", "chain-mismatch", "protocol", "refused", "store-error"}


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    with Cluster() as c:
        yield c


def run_hub_load(cluster: Cluster, name: str, lines: int, plan: Plan, *, flat: bool) -> dict[str, Any]:
    """Run ``plan`` against a hub with ``lines`` lines, check every inbox; the figures."""
    started = time.monotonic()
    # heartbeats and redials as a deployed station has them, not the tests' fast ones
    hub = cluster.add("hub", heartbeat=10.0, redial_min=0.5, redial_max=5.0)
    peers = make_peers(cluster.root, lines)
    pair_hub(hub.home, PASSPHRASE, peers)
    hub.start()
    with peers_running(peers, cluster.root / "peers.log") as process:

        def all_up(status: dict[str, Any]) -> bool:
            return bool(sum(line["state"] == "up" for line in status["lines"]) == lines)

        hub.wait_until(all_up, 120, f"all {lines} lines up", interval=0.5)
        up_after = time.monotonic() - started
        assert hub.pid is not None
        traffic = drive(hub.home, hub.pid, peers, process.pid, plan)
        inboxes = collect([hub.home, *peers], timeout=120)
        status = hub.status()
    findings = check(traffic, inboxes)
    still_up = sum(line["state"] == "up" for line in status["lines"])
    alarms = [a for line in status["lines"] for a in line["alerts"] if a["kind"] in ALARMS]
    samples = traffic.samples
    cpu = cpu_percents(samples)
    first, middle, last = thirds(cpu)
    to_hub = sum(len(v) for (_, receiver), v in traffic.sent.items() if receiver == "hub")
    figures = {
        "lines": lines,
        "seconds": plan.seconds,
        "messages_to_hub": to_hub,
        "messages_from_hub": traffic.total - to_hub,
        "messages_checked": findings.checked,
        "losses": len(findings.lost),
        "duplicates": len(findings.doubled),
        "misplaced": len(findings.misplaced),
        "out_of_order": len(findings.out_of_order),
        "send_errors": len(traffic.errors),
        "lines_up_at_end": still_up,
        "alarms": len(alarms),
        "hub_rss_mib": {
            "start": round(samples[0].hub_rss_kib / 1024, 1),
            "end": round(samples[-1].hub_rss_kib / 1024, 1),
            "growth_last_two_thirds": round(rss_growth_kib(samples) / 1024, 2),
        },
        "hub_cpu_percent": {"first_third": first, "middle_third": middle, "last_third": last},
        "hub_cpu_slope_points_per_minute": round(slope_per_minute(samples, cpu), 3),
        "peers_cpu_percent": round(sum(cpu_percents(samples, "peers")) / max(len(cpu), 1), 1),
        "peers_rss_mib": round(samples[-1].peers_rss_kib / 1024, 1),
        "lines_up_after_seconds": round(up_after, 1),
        "samples": [
            {"at": s.at, "hub_rss_kib": s.hub_rss_kib, "hub_cpu": s.hub_cpu, "sent": s.sent} for s in samples
        ],
    }
    report(name, figures)
    assert not traffic.errors, f"{len(traffic.errors)} sends failed, e.g. {traffic.errors[:3]}"
    assert not findings.lost, f"{len(findings.lost)} messages lost, e.g. {findings.lost[:3]}"
    assert not findings.doubled, f"{len(findings.doubled)} messages twice, e.g. {findings.doubled[:3]}"
    assert not findings.misplaced, f"wrong inbox or text: {findings.misplaced[:3]}"
    assert not findings.out_of_order, f"out of order: {findings.out_of_order[:3]}"
    assert still_up == lines, f"only {still_up} of {lines} lines up at the end"
    assert not alarms, f"alarms on the hub: {alarms[:3]}"
    if flat:
        growth = rss_growth_kib(samples)
        assert growth <= RSS_GROWTH_KIB, f"the hub's RSS rose {growth} KiB over the last two thirds"
        assert last <= first * CPU_RISE_FACTOR + CPU_RISE_POINTS, (
            f"the hub's CPU rose from {first:.1f} % to {last:.1f} % of a core under the same load"
        )
    return figures


def test_hub_with_twenty_lines_under_traffic(cluster: Cluster) -> None:
    plan = Plan(seconds=15.0, period=(1.0, 2.0), sample_every=3.0, seed=7)
    run_hub_load(cluster, "hub-load", 20, plan, flat=False)


@pytest.mark.soak
@pytest.mark.timeout(SECONDS + 900)
def test_soak_hub_with_two_hundred_lines_for_ten_minutes(cluster: Cluster) -> None:
    plan = Plan(seconds=SECONDS, period=(5.0, 10.0), sample_every=10.0, seed=11)
    run_hub_load(cluster, "hub-load-soak", LINES, plan, flat=True)
