"""Where each daemon's CPU goes during a document transfer: its event loop against its other threads.

Two daemon pairs as in :mod:`bench.documents` (a ``standard`` line and a ``cnsa2`` one) move a file of
random bytes; each thread's user + system time is read from ``/proc/PID/task/TID/stat`` before and
after, and reported in CPU seconds per GiB: the main thread (the event loop: the session, the
messages, the hand-over of chunks) apart from every other thread (file reads and the hash before
queueing on the sender; the writer, hash and fsync threads on the receiver).

Run: ``python -m bench.documents_threads [MiB] [transfers] [standard] [cnsa2]`` (two daemons per
profile; heavy). It prints each daemon's peak RSS (VmHWM) over each transfer too.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

from tests.support.stations import StationProc

from bench.documents import _random_file, _start_pair, _transfer

_TICK = os.sysconf("SC_CLK_TCK")


def _threads(pid: int | None) -> dict[int, float]:
    """CPU seconds (user + system) of each thread of ``pid``, by thread id."""
    out: dict[int, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            out[int(task.name)] = (int(fields[11]) + int(fields[12])) / _TICK
    return out


def _split(pid: int | None, before: dict[int, float], after: dict[int, float]) -> tuple[float, float]:
    """(main thread, every other thread) CPU seconds between two readings; threads that ended between
    the readings are missed, so read often enough (the document threads end with the document)."""
    main = after.get(pid or 0, 0.0) - before.get(pid or 0, 0.0)
    rest = sum(v - before.get(tid, 0.0) for tid, v in after.items() if tid != pid)
    return main, rest


def _sample(pid: int | None, peaks: dict[int, float], done: threading.Event) -> None:
    """Keep the highest CPU time seen of each thread of ``pid`` until ``done``."""
    while not done.is_set():
        for tid, value in _threads(pid).items():
            peaks[tid] = max(peaks.get(tid, 0.0), value)
        time.sleep(0.05)


def main(argv: list[str]) -> None:
    mib = int(argv[0]) if argv else 1024
    transfers = int(argv[1]) if len(argv) > 1 else 2
    profiles = argv[2:] or ["standard", "cnsa2"]
    root = Path(tempfile.mkdtemp(prefix="hotline-threads-"))
    started: list[StationProc] = []
    try:
        source = root / "random.bin"
        _random_file(source, mib * 2**20)
        for profile, names in (("standard", ("alpha", "bravo")), ("cnsa2", ("charlie", "delta"))):
            if profile not in profiles:
                continue
            a, b = _start_pair(root, names, profile)
            started += [a, b]
            for n in range(transfers):
                # the receiver's document threads end with the document: sample them while it runs
                peaks: dict[int, float] = {}
                before = {a.pid: _threads(a.pid), b.pid: _threads(b.pid)}
                done = threading.Event()
                sampler = threading.Thread(target=_sample, args=(b.pid, peaks, done), daemon=True)
                sampler.start()
                run = _transfer(a, b, source)
                done.set()
                sampler.join()
                after_a = _threads(a.pid)
                after_b = peaks | _threads(b.pid)
                per_gib = 1024 / mib
                sm, sr = _split(a.pid, before[a.pid], after_a)
                rm, rr = _split(b.pid, before[b.pid], after_b)
                print(
                    f"{profile} transfer {n + 1}: {run.total:.2f} s; CPU s per GiB: sender loop "
                    f"{sm * per_gib:.2f}, sender other threads {sr * per_gib:.2f}; receiver loop "
                    f"{rm * per_gib:.2f}, receiver other threads {rr * per_gib:.2f}; peak RSS (VmHWM) "
                    f"sender {run.hwm_kib[0] / 1024:.1f} MiB, receiver {run.hwm_kib[1] / 1024:.1f} MiB",
                    flush=True,
                )
    finally:
        for station in started:
            with contextlib.suppress(AssertionError):
                station.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
