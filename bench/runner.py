"""Runs every case in the order that keeps the comparison fair, and collects the results.

Within each repetition the implementations take turns (baselines first, then Hotline), so a burst
of noise from something else on the machine lands on one repetition of each rather than on all
repetitions of one. Bulk cases are sized by a calibration run per implementation (which doubles as
its warm-up) so that every timed transfer lasts about :attr:`Settings.bulk_seconds`. Hotline takes
its turn once per line profile (``standard``, then ``cnsa2``), in every handshake and bulk case.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from rich.console import Console

from bench import aead, bulk, handshake
from bench.line import PROFILES
from bench.stats import REPEATS, Latencies, Transfer, best_latencies, best_transfer
from bench.tls import TlsContexts
from hotline.net.tcp import MAX_DATA_LEN

#: Payload sizes of the bulk cases; the largest is the longest message Hotline takes (it spans records).
PAYLOADS = (64, 1024, 16 * 1024, 64 * 1024, MAX_DATA_LEN)


@dataclass(frozen=True)
class Settings:
    """How much work each case does."""

    handshakes: int = 200
    warmup: int = 20
    bulk_seconds: float = 1.5
    probe_bytes: int = 16 * 1024 * 1024
    repeats: int = REPEATS


QUICK = Settings(handshakes=30, warmup=5, bulk_seconds=0.2, probe_bytes=1024 * 1024)


@dataclass
class BulkRow:
    """One payload size: the best transfer of each implementation and what goes on the wire."""

    payload: int
    #: Hotline's bytes on the wire per payload, by profile label (:data:`bench.line.PROFILES`).
    hotline_wire: dict[str, int]
    tls_wire: int
    transfers: dict[str, Transfer] = field(default_factory=dict)


@dataclass
class Results:
    """Everything one run measured."""

    settings: Settings
    tls_parameters: str
    event_loop: str
    loopback: dict[str, Latencies] = field(default_factory=dict)
    in_memory: dict[str, Latencies] = field(default_factory=dict)
    bulk: list[BulkRow] = field(default_factory=list)
    #: Cipher name -> microseconds to seal and open one full record.
    aead_us: dict[str, float] = field(default_factory=dict)


async def run_all(settings: Settings, tls: TlsContexts, console: Console) -> Results:
    """Run every case; log progress to ``console``."""
    loop = type(asyncio.get_running_loop()).__name__
    results = Results(settings, handshake.tls_parameters(tls), loop)
    n, warmup, repeats = settings.handshakes, settings.warmup, settings.repeats

    console.log(f"handshakes on loopback: {n} sequential after {warmup} warm-up, {repeats} runs")
    loopback: dict[str, list[Latencies]] = {name: [] for name in handshake.loopback_cases(tls)}
    for _ in range(repeats):
        for name, loopback_case in handshake.loopback_cases(tls).items():
            loopback[name].append(await loopback_case(n, warmup))
    results.loopback = {name: best_latencies(runs) for name, runs in loopback.items()}

    console.log("handshakes in memory")
    in_memory: dict[str, list[Latencies]] = {name: [] for name in handshake.in_memory_cases(tls)}
    for _ in range(repeats):
        for name, memory_case in handshake.in_memory_cases(tls).items():
            in_memory[name].append(memory_case(n, warmup))
    results.in_memory = {name: best_latencies(runs) for name, runs in in_memory.items()}

    for payload in PAYLOADS:
        console.log(f"bulk: {payload}-byte payloads, about {settings.bulk_seconds} s per transfer")
        wire = {label: bulk.hotline_wire_bytes(payload, suite=suite) for label, suite in PROFILES.items()}
        row = BulkRow(payload, wire, bulk.tls_wire_bytes(payload))
        counts = {name: await _calibrate(case, payload, settings) for name, case in bulk.cases(tls).items()}
        runs: dict[str, list[Transfer]] = {name: [] for name in counts}
        for _ in range(repeats):
            for name, case in bulk.cases(tls).items():
                seconds = await case(payload, counts[name])
                runs[name].append(Transfer(payload, counts[name], seconds))
        row.transfers = {name: best_transfer(transfers) for name, transfers in runs.items()}
        results.bulk.append(row)

    console.log("AEAD: seal and open of one full record")
    results.aead_us = {name: aead.seal_open_us(name) for name in aead.CIPHERS}
    return results


async def _calibrate(case: bulk.Case, payload: int, settings: Settings) -> int:
    """How many payloads take about ``settings.bulk_seconds``, from one shorter probe run."""
    probe = max(200, min(20_000, settings.probe_bytes // payload))
    seconds = await case(payload, probe)
    return max(probe, round(probe * settings.bulk_seconds / seconds))
