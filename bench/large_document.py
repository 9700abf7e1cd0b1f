"""One large document between two real station daemons on loopback: memory stays flat, the bytes arrive.

The same two daemons as :mod:`bench.documents` (alpha sends, bravo receives, paired offline, ``hotline
up``), but one document of :attr:`Settings.size` random bytes (10 GiB by default), sent once. The
point is not speed but that neither daemon holds the file in memory, whatever its size.

- **Transfer**: ``send.file`` on alpha with ``wait: false`` (it answers once the file is hashed and
  the document queued), then bravo's ``files`` is polled every :data:`POLL` seconds until the
  document is ``complete``; each poll also records how many bytes bravo has made durable.
- **Memory**: VmRSS of both daemons from /proc/PID/status every :data:`SAMPLE_EVERY` seconds from just
  before ``send.file`` until complete, and VmHWM (peak RSS) at the end, reset through
  ``/proc/PID/clear_refs`` just before the transfer. The RSS at 10, 50 and 90 % of the transfer is
  the sample nearest the poll that first saw that share of the bytes durable at bravo.
- **Integrity**: the source's BLAKE3 (a ``standard`` line's document hash; the fields keep their
  older ``sha256`` names), computed here after the transfer, against the digest alpha
  and bravo list for the document (bravo marks a document ``complete`` only once the bytes it stored
  hash to the one the sender described).
- **Disk**: the received blob (sealed chunks, :mod:`hotline.store.blobs`): its length and the blocks
  the file system allocated for it, against the document's size.

The source file and the receiver's blob are about twice the document's size on disk; both live in
one temporary directory on the default (disk-backed) temporary location, removed at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from time import perf_counter
from typing import Any

from rich.console import Console
from tests.support.stations import StationProc, pair

from bench.documents import _proc_status, _random_file, _reset_peak, _station
from bench.station import BenchError
from hotline.crypto.hashing import hasher
from hotline.store.blobs import sealed_size

#: Seconds between two polls of the receiver's ``files``.
POLL = 0.1
#: Seconds between two VmRSS samples of the daemons.
SAMPLE_EVERY = 0.5
#: The shares of the transfer (bytes durable at the receiver) whose RSS the report shows.
MARKS = (0.1, 0.5, 0.9)

#: Goals: peak RSS per daemon less than (MB); the largest document sent and verified, at least (GiB).
MEMORY_GOAL_MB = 100.0
SIZE_GOAL_GIB = 10.0

#: Free disk the run wants beyond twice the document (the source and the receiver's blob): stores, logs.
DISK_SLACK = 2 * 2**30


@dataclass(frozen=True)
class Settings:
    """How large the one document is."""

    size: int = 10 * 2**30


QUICK = Settings(size=2**30)


@dataclass(frozen=True)
class Sample:
    """VmRSS of both daemons at one moment."""

    #: Seconds since just before ``send.file``.
    at: float
    #: VmRSS of alpha's and bravo's daemons (KiB).
    rss_kib: tuple[int, int]


@dataclass(frozen=True)
class Results:
    """What the large document case measured."""

    settings: Settings
    #: ``send.file`` request until it answered (hashed and queued), and until bravo showed it complete.
    queued: float
    total: float
    #: VmRSS of alpha's and bravo's daemons idle with the line up, before the transfer (KiB).
    idle_rss_kib: tuple[int, int]
    #: VmHWM of alpha's and bravo's daemons at the end (KiB), and whether it was reset just before.
    hwm_kib: tuple[int, int]
    hwm_reset: bool
    samples: list[Sample]
    #: (seconds since just before ``send.file``, bytes durable at bravo), one per poll.
    progress: list[tuple[float, int]]
    #: The source's BLAKE3 (computed here), and the digests alpha and bravo list for the document.
    source_sha256: str
    sender_sha256: str
    receiver_sha256: str
    #: The received blob's length, and the bytes the file system allocated for it.
    blob_bytes: int
    blob_disk_bytes: int
    load: tuple[float, float] = (0.0, 0.0)
    measured_at: str = field(default_factory=lambda: time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))

    @property
    def transfer(self) -> float:
        """Seconds from ``send.file``'s answer until complete: the bytes on the line alone."""
        return self.total - self.queued

    def mb_per_s(self, seconds: float) -> float:
        return self.settings.size / seconds / 1e6

    @property
    def verified(self) -> bool:
        return self.source_sha256 == self.sender_sha256 == self.receiver_sha256

    @property
    def sealed_bytes(self) -> int:
        """What the blob's length should be: every chunk plus its tag."""
        return sealed_size(self.settings.size)

    def rss_at(self, share: float) -> tuple[int, int]:
        """VmRSS of both daemons (KiB) when ``share`` of the bytes were first seen durable at bravo."""
        target = self.settings.size * share
        when = next((at for at, stored in self.progress if stored >= target), self.total)
        return min(self.samples, key=lambda sample: abs(sample.at - when)).rss_kib

    def rss_range(self, end: int) -> tuple[int, int]:
        """The lowest and highest VmRSS sampled of one daemon (0 alpha, 1 bravo) once the bytes flowed."""
        during = [s.rss_kib[end] for s in self.samples if s.at >= self.queued] or [
            s.rss_kib[end] for s in self.samples
        ]
        return min(during), max(during)


class _Sampler:
    """A thread that samples both daemons' VmRSS every :data:`SAMPLE_EVERY` s until stopped."""

    def __init__(self, pids: tuple[int | None, int | None], origin: float) -> None:
        self.samples: list[Sample] = []
        self._pids = pids
        self._origin = origin
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="large-document-rss", daemon=True)

    def __enter__(self) -> _Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            at = perf_counter() - self._origin
            a, b = (_proc_status(pid, "VmRSS") for pid in self._pids)
            self.samples.append(Sample(at, (a, b)))
            if self._stop.wait(SAMPLE_EVERY):
                return


def _incoming(b: StationProc, peer: str, sha256: str) -> dict[str, Any] | None:
    for doc in b.request("files", peer=peer)["documents"]:
        if doc["direction"] == "in" and doc["digest"] == sha256:
            return dict(doc)
    return None


def _wait_complete(
    b: StationProc, peer: str, sha256: str, origin: float, deadline: float
) -> tuple[dict[str, Any], list[tuple[float, int]]]:
    """Poll bravo's ``files`` until the document is complete: its listing, and (seconds, bytes durable)."""
    progress: list[tuple[float, int]] = []
    while perf_counter() < deadline:
        doc = _incoming(b, peer, sha256)
        at = perf_counter() - origin
        if doc is not None:
            if doc["state"] == "complete":
                progress.append((at, int(doc["size"])))
                return doc, progress
            if doc["state"] == "failed":
                raise BenchError(f"bravo failed the document: {doc.get('detail')}")
            progress.append((at, int(doc["stored"])))
        time.sleep(POLL)
    raise BenchError(f"the document was not complete at bravo within {deadline - origin:.0f} s")


def _source_sha256(path: Path) -> str:
    with path.open("rb", buffering=0) as f:
        digest = hasher("BLAKE3")
        while block := f.read(4 * 2**20):
            digest.update(block)
        return digest.digest().hex()


def _blob(b: StationProc) -> Path:
    """The one document bravo holds: its sealed blob beside the store."""
    blobs = sorted((b.home / "documents").glob("*.in"))
    if len(blobs) != 1:
        raise BenchError(f"expected one received blob at bravo, found {len(blobs)}")
    return blobs[0]


def _check_room(root: Path, size: int) -> None:
    free = shutil.disk_usage(root).free
    wanted = 2 * sealed_size(size) + DISK_SLACK
    if free < wanted:
        raise BenchError(
            f"a {size / 2**30:g} GiB document needs about {wanted / 2**30:.1f} GiB free in {root.parent}; "
            f"{free / 2**30:.1f} GiB is"
        )


def _up(root: Path, started: list[StationProc]) -> tuple[StationProc, StationProc]:
    a, b = _station(root, "alpha"), _station(root, "bravo")
    pair(a, b)
    for station in (a, b):
        station.start(wait=False)
        started.append(station)
    for station in (a, b):
        station.wait_ready()
    a.wait_line(b)
    b.wait_line(a)
    return a, b


def _measure(settings: Settings, console: Console) -> Results:
    # the default temporary location, not a tmpfs: the two copies of the document must not sit in memory
    root = Path(tempfile.mkdtemp(prefix="hotline-large-"))
    started: list[StationProc] = []
    size = settings.size
    # generous: the point here is memory, and a shared machine's disk may be slow
    timeout = 600.0 + size / 20e6
    try:
        _check_room(root, size)
        source = root / "large.bin"
        console.log(f"large document: writing {size / 2**30:g} GiB of random bytes")
        _random_file(source, size)
        a, b = _up(root, started)
        time.sleep(1.0)
        idle = (_proc_status(a.pid, "VmRSS"), _proc_status(b.pid, "VmRSS"))

        console.log(f"large document: sending {size / 2**30:g} GiB from alpha to bravo")
        load = os.getloadavg()[0]
        reset = all([_reset_peak(a.pid), _reset_peak(b.pid)])
        origin = perf_counter()
        with _Sampler((a.pid, b.pid), origin) as sampler:
            args = {"peer": b.name, "path": str(source), "precedence": "routine", "wait": False}
            sent = a.request("send.file", io_timeout=timeout, **args)
            queued = perf_counter() - origin
            sender_sha256 = str(sent["document"]["digest"])
            doc, progress = _wait_complete(b, a.name, sender_sha256, origin, origin + timeout)
            total = perf_counter() - origin
        hwm = (_proc_status(a.pid, "VmHWM"), _proc_status(b.pid, "VmHWM"))
        load_after = os.getloadavg()[0]
        console.log(f"large document: complete in {total:.1f} s ({size / total / 1e6:,.0f} MB/s); checking")

        blob = _blob(b).stat()
        return Results(
            settings,
            queued=queued,
            total=total,
            idle_rss_kib=idle,
            hwm_kib=hwm,
            hwm_reset=reset,
            samples=sampler.samples,
            progress=progress,
            source_sha256=_source_sha256(source),
            sender_sha256=sender_sha256,
            receiver_sha256=str(doc["digest"]),
            blob_bytes=blob.st_size,
            blob_disk_bytes=blob.st_blocks * 512,
            load=(load, load_after),
        )
    finally:
        for station in started:
            with contextlib.suppress(AssertionError):
                station.stop()
        shutil.rmtree(root, ignore_errors=True)


async def run(settings: Settings, console: Console) -> Results:
    """Create, pair and start two stations, send one large document, clean up (in a thread)."""
    return await asyncio.to_thread(_measure, settings, console)


__all__ = [
    "MARKS",
    "MEMORY_GOAL_MB",
    "POLL",
    "QUICK",
    "SAMPLE_EVERY",
    "SIZE_GOAL_GIB",
    "Results",
    "Sample",
    "Settings",
    "run",
]
