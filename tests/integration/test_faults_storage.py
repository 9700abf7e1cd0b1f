"""Storage faults under real daemons: a damaged store file, a read-only station directory, a full disk.

The rule these tests hold the station to (docs and issue): the store is the durable truth, so a
station that cannot trust or cannot write its store must say so, clearly and naming the file, and
must never carry on as if nothing happened. In particular ``hotline up`` refuses to run on a
damaged ``store.sqlite`` rather than serve a transcript with holes in it, and a full disk refuses
new work without losing anything it had accepted.

How the faults are made, since the tests run as root (which ignores file modes):

* damage: the daemon is stopped cleanly first (closing checkpoints the WAL into the main file), then
  the file is cut at half, or one page in the middle is overwritten with seeded random bytes;
* read-only: a read-only bind mount of the station directory over itself (``mount --bind`` then
  ``remount,bind,ro``), which binds root too; skipped where this sandbox may not mount;
* full disk: either SQLite's page cap (``store_max_pages``) or, for a real ``ENOSPC``, the station
  directory moved onto a small tmpfs that is grown afterwards (``remount,size=``).
"""

from __future__ import annotations

import contextlib
import os
import random
import secrets
import shutil
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from hotline.store.connection import PAGE_SIZE, PLAIN_HEADER
from tests.support.stations import Cluster, RequestFailed, StationProc, pair, wait_for

SEED = int(os.environ.get("HOTLINE_FAULT_SEED", "0") or 0) or random.randrange(1, 2**31)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    with Cluster() as c:
        yield c


# -- helpers -----------------------------------------------------------------------------------------


def _stream(a: StationProc, b: StationProc, count: int, size: int = 400) -> list[str]:
    """``count`` messages a→b, all waited for; returns their texts in queue order."""
    texts = [f"stored #{i:04d} " + secrets.token_hex(size // 2) for i in range(count)]
    ids = [a.send(b, t)["id"] for t in texts]
    a.request("wait", id=ids[-1], timeout=30)
    wait_for(lambda: len(b.inbox(a)) == count, 30, "every message stored at the receiver")
    return texts


def _stored_station(cluster: Cluster, count: int = 300) -> tuple[StationProc, StationProc, list[str]]:
    """alpha and bravo with ``count`` messages in bravo's inbox, both daemons stopped cleanly."""
    a, b = cluster.add("alpha"), cluster.add("bravo")
    pair(a, b)
    cluster.start_all(a, b)
    a.wait_line(b)
    texts = _stream(a, b, count)
    assert a.stop() == 0 and b.stop() == 0
    store = b.home / "store.sqlite"
    wal = store.with_name("store.sqlite-wal")
    assert not wal.exists() or wal.stat().st_size == 0, "a clean stop left a WAL: damage would miss it"
    return a, b, texts


def _up_outcome(station: StationProc, timeout: float = 20.0) -> tuple[str, int | None, str]:
    """Start ``station``'s daemon and see whether it refuses or serves.

    Returns ("refused", exit status, log of this start) or ("serving", None, log so far).
    """
    before = station.log_path.stat().st_size if station.log_path.exists() else 0
    station.start(wait=False)
    proc = station.proc
    assert proc is not None

    def settled() -> str | None:
        if proc.poll() is not None:
            return "refused"
        try:
            info = station.online("station", timeout=2)
        except RequestFailed:
            return None
        return "serving" if info.get("pid") == proc.pid else None

    outcome = wait_for(settled, timeout, f"{station.name}'s daemon refuses or serves")
    with station.log_path.open("rb") as log:
        log.seek(before)
        text = log.read().decode(errors="replace")
    return outcome, proc.returncode, text


def _page_size_and_count(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:100]
    if not header.startswith(PLAIN_HEADER):  # encrypted at rest: the header that would say is encrypted too
        return PAGE_SIZE, path.stat().st_size // PAGE_SIZE
    size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if size == 1 else size
    return page_size, path.stat().st_size // page_size


def _assert_no_silent_loss(b: StationProc, a: StationProc, texts: list[str]) -> None:
    """With a daemon serving on a damaged store, reading the transcript must fail, or be complete."""
    try:
        inbox = [m["text"] for m in b.inbox(a)]
    except RequestFailed as exc:
        assert exc.code in ("store-error", "store-corrupt"), exc
        return
    assert inbox == texts, f"served a damaged transcript silently: {len(inbox)} of {len(texts)} messages"


# -- damaged store -----------------------------------------------------------------------------------


def _damage(store: Path, how: str, rng: random.Random) -> str:
    """Damage a cleanly closed store file; returns what was done, for the test output."""
    size = store.stat().st_size
    if how == "truncated":
        with store.open("r+b") as f:
            f.truncate(size // 2)
        return f"cut {store} from {size} to {size // 2} bytes"
    page_size, pages = _page_size_and_count(store)
    victim = pages // 2 + rng.randrange(-2, 3)
    with store.open("r+b") as f:
        f.seek(victim * page_size)
        f.write(rng.randbytes(page_size))
    return f"overwrote page {victim + 1} of {pages} ({page_size} bytes) in {store}"


@pytest.fixture(params=["truncated", "corrupted-page"])
def damaged(request: pytest.FixtureRequest, cluster: Cluster) -> tuple[StationProc, StationProc, list[str]]:
    """alpha and bravo after 300 messages, bravo's store then cut at half or with one page overwritten
    with random bytes (seeded: set HOTLINE_FAULT_SEED to replay)."""
    print(f"storage fault seed {SEED} (set HOTLINE_FAULT_SEED to replay)")
    a, b, texts = _stored_station(cluster)
    print(_damage(b.home / "store.sqlite", request.param, random.Random(SEED)))
    return a, b, texts


def test_a_damaged_store_is_never_served_silently(
    damaged: tuple[StationProc, StationProc, list[str]],
) -> None:
    """Whatever ``hotline up`` and an offline ``inbox`` do with a damaged store, none of them may answer
    with a transcript that silently lacks messages: refuse, fail the read, or give it all."""
    a, b, texts = damaged
    _assert_no_silent_loss(b, a, texts)  # offline, in this process
    outcome, code, log = _up_outcome(b)
    print(f"hotline up on the damaged store: {outcome}, exit {code}\n{log[-1500:]}")
    if outcome == "serving":
        _assert_no_silent_loss(b, a, texts)
    else:
        assert code != 0


@pytest.mark.parametrize("damaged", ["truncated", "corrupted-page"], indirect=True)
def test_hotline_up_refuses_a_damaged_store(damaged: tuple[StationProc, StationProc, list[str]]) -> None:
    """The daemon must refuse to run on a damaged store (exit non-zero, change nothing), not start
    and fail request by request."""
    _, b, _ = damaged
    store = b.home / "store.sqlite"
    before = store.read_bytes()
    outcome, code, log = _up_outcome(b)
    print(f"hotline up on the damaged store: {outcome}, exit {code}\n{log[-1500:]}")
    assert outcome == "refused", "the daemon runs on a damaged store"
    assert code != 0
    assert "damaged" in log or "malformed" in log or "corrupt" in log, log[-800:]
    assert store.read_bytes() == before, "refusing must not rewrite the evidence"


@pytest.mark.parametrize("damaged", ["truncated", "corrupted-page"], indirect=True)
def test_the_damaged_store_error_names_the_file(damaged: tuple[StationProc, StationProc, list[str]]) -> None:
    """An operator told "the store file is damaged" needs to know which file: the path is in the error,
    from the daemon and from an offline request alike."""
    a, b, _ = damaged
    with pytest.raises(RequestFailed) as offline:
        b.request("inbox", peer=a.name)
    print(f"offline inbox: {offline.value}")
    outcome, _, log = _up_outcome(b)
    assert outcome == "refused"
    assert str(b.home / "store.sqlite") in log, log[-800:]
    assert str(b.home / "store.sqlite") in offline.value.message


# -- read-only station directory ---------------------------------------------------------------------


@contextlib.contextmanager
def _read_only(path: Path) -> Iterator[str]:
    """Make ``path`` read-only even for root; yields how. Skips when this sandbox cannot."""
    bound = subprocess.run(["mount", "--bind", str(path), str(path)], capture_output=True, text=True)
    if bound.returncode == 0:
        ro = subprocess.run(["mount", "-o", "remount,bind,ro", str(path)], capture_output=True, text=True)
        if ro.returncode != 0:
            subprocess.run(["umount", str(path)], check=False)
        else:
            try:
                yield "read-only bind mount"
            finally:
                subprocess.run(["umount", "-l", str(path)], check=False)
            return
    files = [path, *path.rglob("*")]
    chattr = shutil.which("chattr")
    if chattr is None:
        pytest.skip("cannot make a directory read-only for root here: no mount, no chattr")
    done = subprocess.run([chattr, "+i", *map(str, files)], capture_output=True, text=True)
    if done.returncode != 0:
        subprocess.run([chattr, "-i", *map(str, files)], capture_output=True, check=False)
        pytest.skip(f"cannot make a directory read-only for root here: {done.stderr.strip()}")
    try:
        yield "chattr +i"
    finally:
        subprocess.run([chattr, "-i", *map(str, files)], capture_output=True, check=False)


def _snapshot(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def test_a_read_only_station_directory_refuses_to_start_clearly(cluster: Cluster) -> None:
    """The station directory turned read-only (even for root): ``hotline up`` exits non-zero with an
    error that says what is wrong, changes nothing, and the station runs normally once writable."""
    a, b, texts = _stored_station(cluster, count=20)
    b.log_path = cluster.root / "bravo-daemon.log"  # the log cannot live in a read-only directory
    before = _snapshot(b.home)
    with _read_only(b.home) as how:
        with pytest.raises(OSError):
            (b.home / "probe").write_bytes(b"x")
        outcome, code, log = _up_outcome(b)
        print(f"hotline up in a read-only directory ({how}): {outcome}, exit {code}\n{log[-2000:]}")
        if outcome == "serving":
            b.stop()
        assert outcome == "refused", "the daemon runs in a read-only station directory"
        assert code != 0
        wording = log.lower()
        assert "read-only" in wording or "readonly" in wording or "permission" in wording, log[-800:]
    assert _snapshot(b.home) == before, "a refused start changed the station directory"

    b.start()
    a.start()
    a.wait_line(b)
    assert [m["text"] for m in b.inbox(a)] == texts


# -- full disk ---------------------------------------------------------------------------------------


class Streamer:
    """Sends numbered messages a→b from a thread until stopped; records what was accepted and refused."""

    def __init__(self, a: StationProc, b: StationProc, size: int) -> None:
        self.a, self.b, self.size = a, b, size
        self.accepted: list[tuple[str, str]] = []  # (text, id)
        self.refused: list[tuple[str, RequestFailed]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.n = 0

    def _run(self) -> None:
        while not self.stop.is_set():
            text = f"stream #{self.n:05d} " + secrets.token_hex(self.size // 2)
            self.n += 1
            try:
                self.accepted.append((text, self.a.send(self.b, text)["id"]))
            except RequestFailed as exc:
                self.refused.append((text, exc))
                time.sleep(0.02)

    def __enter__(self) -> Streamer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(30)


def _check_exactly_once(a: StationProc, b: StationProc, accepted: list[tuple[str, str]]) -> None:
    a.request("wait", id=accepted[-1][1], timeout=60)
    wait_for(lambda: len(b.inbox(a)) >= len(accepted), 60, "every accepted message stored")
    inbox = b.inbox(a)
    counts = Counter(m["text"] for m in inbox)
    doubled = [t[:20] for t, n in counts.items() if n > 1]
    assert not doubled, f"{len(doubled)} messages stored twice, e.g. {doubled[0]}"
    assert [m["id"] for m in inbox] == [i for _, i in accepted], "lost, extra or out of order"
    assert [m["text"] for m in inbox] == [t for t, _ in accepted]
    assert {m["state"] for m in a.sent(b)} == {"delivered"}
    for station, peer in ((a, b), (b, a)):
        alarms = [
            e for e in station.log(peer) if e["kind"] == "alert" and e["event"] in ("gap", "chain-mismatch")
        ]
        assert not alarms, f"{station.name} raised {alarms[:2]}"


def test_disk_fills_during_a_live_stream_then_space_returns(cluster: Cluster) -> None:
    """Both stores capped, a stream running over a live line: the sender starts refusing sends with
    ``store-full`` part-way (the receiver may fill first and hold messages back); restarted with a
    larger cap, everything that was accepted arrives exactly once, in order, and sending works again."""
    a = cluster.add("alpha", store_max_pages=160)
    b = cluster.add("bravo", store_max_pages=200)
    pair(a, b)
    cluster.start_all(a, b)
    a.wait_line(b)
    started = time.monotonic()
    with Streamer(a, b, size=600) as streamer:
        wait_for(lambda: len(streamer.refused) >= 5, 60, "the sender's store fills")
    print(
        f"{len(streamer.accepted)} accepted, {len(streamer.refused)} refused in "
        f"{time.monotonic() - started:.1f} s; first refusal: {streamer.refused[0][1]}"
    )
    assert {exc.code for _, exc in streamer.refused} <= {"store-full", "store-error"}
    assert streamer.refused[0][1].code == "store-full", streamer.refused[0][1]
    assert len(streamer.accepted) >= 50

    # space returns: both restart with a four times larger cap, and the stream goes on
    assert a.stop() == 0 and b.stop() == 0
    a.configure(store_max_pages=640)
    b.configure(store_max_pages=800)
    cluster.start_all(a, b)
    more = [(t, a.send(b, t)["id"]) for t in (f"after the cap grew #{i}" for i in range(20))]
    _check_exactly_once(a, b, streamer.accepted + more)
    refused_texts = {t for t, _ in streamer.refused}
    assert not refused_texts & {m["text"] for m in b.inbox(a)}, "a refused send was delivered"


@contextlib.contextmanager
def _small_disk(home: Path, size: str) -> Iterator[Path]:
    """Move ``home`` onto a fresh tmpfs of ``size``; yields the mount point. Skips if we cannot mount."""
    keep = home.with_name(home.name + ".orig")
    home.rename(keep)
    home.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(home)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        home.rmdir()
        keep.rename(home)
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.strip()}")
    try:
        for item in keep.iterdir():
            target = home / item.name
            if item.is_dir():
                shutil.copytree(item, target)
            else:
                shutil.copy2(item, target)
        yield home
    finally:
        subprocess.run(["umount", "-l", str(home)], check=False)
        home.rmdir()
        shutil.rmtree(keep, ignore_errors=True)


def _grow(mount: Path, size: str) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size}", str(mount)], check=True)


def test_a_real_full_disk_at_the_receiver_then_space_returns_live(cluster: Cluster) -> None:
    """bravo's station directory on a tmpfs that fills (ENOSPC, not SQLite's page cap) during a stream:
    bravo holds back, nothing is lost or doubled; when the filesystem grows (no restart) the rest
    arrives in order. A restart afterwards finds everything intact."""
    a, b = cluster.add("alpha"), cluster.add("bravo")
    pair(a, b)
    b.log_path = cluster.root / "bravo-daemon.log"  # keep the log off the full disk
    with _small_disk(b.home, "1m") as mount:
        cluster.start_all(a, b)
        a.wait_line(b)
        usage = shutil.disk_usage(mount)
        print(f"bravo's disk: {usage.used} of {usage.total} bytes used at start")
        texts = [f"to a full disk #{i:04d} " + secrets.token_hex(400) for i in range(1500)]
        ids: list[str] = []
        for text in texts:
            ids.append(a.send(b, text)["id"])

        def full() -> bool:
            return shutil.disk_usage(mount).free < 64 * 1024 and a.line(b)["queued"] > 0

        wait_for(full, 60, "bravo's disk fills with alpha still holding messages")
        held = a.line(b)["queued"]
        stored = len(b.inbox(a))
        print(f"disk full: bravo stored {stored}, alpha still holds {held} (plus in flight)")
        assert b.running, f"bravo died on a full disk:\n{b.log_tail()}"

        _grow(mount, "64m")
        grown = time.monotonic()
        a.request("wait", id=ids[-1], timeout=90)
        print(f"space returned: all {len(texts)} delivered {time.monotonic() - grown:.1f} s after the grow")
        _check_exactly_once(a, b, list(zip(texts, ids, strict=True)))
        assert b.stop() == 0
        b.start()
        assert [m["id"] for m in b.inbox(a)] == ids
