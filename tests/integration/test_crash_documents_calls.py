"""Crash safety for documents and calls: either daemon SIGKILLed at random moments, then restarted.

Documents: the sender queues documents of a few MiB (random bytes) while one daemon or the other is
killed and restarted. Every document whose ``send.file`` was answered must end ``complete`` at the
receiver exactly once (and at the sender), with the original bytes, and its DOC entry must be in the
receiver's transcript once, in the sender's queue order. A ``send.file`` whose connection broke
before the answer may or may not have been queued; if it was, the same rules hold for it.

The line runs through the impairment proxy (tests/support/impair.py) with a rate cap: the cap makes a
transfer last long enough for the kills to land inside it, and the proxy counts the bytes the sender
put on the wire. No station counts bytes sent twice, so that count is how we check resumption: the
wire may carry the documents once (times the framing, :data:`FRAMING`) plus, per kill, what the
station may legitimately send again. A restarted receiver asks again from its durable offset (it
fsyncs every ``SYNC_EVERY`` bytes, more than these documents), so it may fetch again what it had taken
but not made durable: the sender's ``files`` shows what the receiver last reported taken, the
receiver's shows what it made durable, and we read both just before each kill. Either kill also loses
what was in flight, at most the sender's ``WINDOW``. Two regression tests pin the faults these runs
found: a document's tail crossing the wire again after the whole of it was sent, and a sender killed
just before it heard COMPLETE never learning that the document arrived.

Calls: one station calls the other with the shipped speech clip (``hotline call --play`` / ``hotline
answer --record``) and one side is killed while the call rings or while it talks. The survivor's call
must end (``line-down`` or ``media-lost``), nothing may stay live on either side after the restart,
both call logs must list the same calls (the killed side's as ``interrupted``), the line must come
back up and a message must go through each way.

The random choices come from one seed, printed so a failure can be replayed
(``HOTLINE_CRASH_SEED=… pytest …``). The ``soak`` variants (``make soak``) run the same with many
more rounds. Every run prints its figures (tests/support/figures.py).
"""

from __future__ import annotations

import contextlib
import filecmp
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from hotline.crypto.hashing import digest as hash_of
from hotline.proto.constants import DOC_TAKEN_EVERY as TAKEN_EVERY
from hotline.proto.constants import DOC_WINDOW as WINDOW
from hotline.voice.quality import speech_sample
from tests.support.figures import report
from tests.support.impair import ImpairProxy
from tests.support.stations import (
    CliProcess,
    Cluster,
    StationProc,
    pair,
    request_once,
    wait_for,
)

SEED = int(os.environ.get("HOTLINE_CRASH_SEED", "20240611"))
MiB = 2**20
#: The documents' link, bytes per second: a round's documents take most of a second to cross.
RATE = 16 * MiB
#: Wire bytes per document byte when nothing is sent twice: a 64 KiB chunk takes one full record and
#: one small one (about 0.2 %), plus receipts and heartbeats.
FRAMING = 1.02
#: Per kill, for the progress made between our reading the two stations and the kill itself.
SLACK = 2 * MiB
#: Where the receiver dials the sender: nowhere, so every session crosses the proxy.
NOWHERE = "127.0.0.1:9"
SPEECH = speech_sample()

#: How the survivor's call may end when the other side dies (docs/control.md end reasons).
SURVIVOR_REASONS = {"line-down", "media-lost"}
#: Alarms that would mean a transcript was damaged.
ALARMS = {"gap", "chain-mismatch", "protocol"}


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    with Cluster() as c:
        yield c


def _victims(rounds: int) -> list[str]:
    """Sender and receiver in turn, and both at once every seventh round."""
    return ["both" if n % 7 == 6 else ("sender", "receiver")[n % 2] for n in range(rounds)]


def _alarms(station: StationProc, peer: StationProc) -> list[dict[str, Any]]:
    return [e for e in station.log(peer) if e["kind"] == "alert" and e["event"] in ALARMS]


# -- documents


@dataclass
class Documents:
    """The documents the test asked the sender to queue, and what the sender answered."""

    folder: Path
    rng: random.Random
    #: name -> (path, SHA-256) of every document generated.
    made: dict[str, tuple[Path, str]] = field(default_factory=dict)
    #: name -> message id, for every ``send.file`` that was answered.
    confirmed: dict[str, str] = field(default_factory=dict)
    #: names whose ``send.file`` lost its connection before the answer.
    uncertain: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def make(self, size: int) -> str:
        """Write a new document of ``size`` random bytes; its name."""
        name = f"doc-{len(self.made):04d}.bin"
        data = self.rng.randbytes(size)
        path = self.folder / name
        path.write_bytes(data)
        self.made[name] = (path, hash_of("BLAKE3", data).hex())
        return name

    def send(self, sender: StationProc, peer: str, name: str) -> None:
        """``send.file`` once; retry only while the daemon is certainly not there."""
        result = request_once(sender, "send.file", peer=peer, path=str(self.made[name][0]))
        with self.lock:
            if result is None:
                self.uncertain.add(name)
            else:
                self.confirmed[name] = result["id"]


def _documents_line(cluster: Cluster) -> tuple[StationProc, StationProc, ImpairProxy]:
    """sender -> proxy (rate-capped towards the receiver) -> receiver; the receiver never dials."""
    sender, receiver = cluster.add("sender"), cluster.add("receiver")
    proxy = ImpairProxy(("127.0.0.1", receiver.port), udp=False, seed=SEED).start()
    proxy.set(rate=RATE, direction="forward")
    pair(sender, receiver, a_endpoints=[proxy.address], b_endpoints=[NOWHERE])
    cluster.start_all(sender, receiver)
    sender.wait_line(receiver)
    return sender, receiver, proxy


def _files(station: StationProc, direction: str) -> list[dict[str, Any]]:
    return [d for d in station.request("files")["documents"] if d["direction"] == direction]


def _all_complete(station: StationProc, direction: str, ids: set[str]) -> bool:
    return ids <= {d["id"] for d in _files(station, direction) if d["state"] == "complete"}


def _kill_allowance(
    sender: StationProc, receiver: StationProc, victims: list[StationProc]
) -> tuple[int, int]:
    """What killing ``victims`` now may make the sender send again; (bytes, documents unfinished).

    The sender's ``stored`` for a document is the receiver's last report of what it has taken
    (every ``TAKEN_EVERY`` bytes, durable or not); the receiver's own ``stored`` is what it has made
    durable. A restarted receiver asks again from its durable offset, so it may fetch again the
    difference, plus what it took since its last report. Either kill loses what was in flight: the
    sender stays within ``WINDOW`` of what the receiver took.
    """
    durable = {d["id"]: d["stored"] for d in _files(receiver, "in")}
    unfinished = [d for d in _files(sender, "out") if d["state"] != "complete"]
    allowance = len(victims) * (WINDOW + SLACK)
    if receiver in victims:
        # one document streams at a time: only it may have taken bytes not yet reported
        allowance += sum(max(0, d["stored"] - durable.get(d["id"], 0)) for d in unfinished) + TAKEN_EVERY
    return allowance, len(unfinished)


def _quiet_wire(proxy: ImpairProxy) -> int:
    """The proxy's forward byte count once the sender has stopped sending (heartbeats aside)."""
    last = proxy.stats.tcp_bytes_forward
    while True:
        time.sleep(0.5)
        now = proxy.stats.tcp_bytes_forward
        if now - last < 4096:
            return now
        last = now


def run_document_crashes(
    cluster: Cluster,
    tmp_path: Path,
    name: str,
    rounds: int,
) -> None:
    """Queue documents while killing daemons for ``rounds`` rounds; check everything; report the figures."""
    print(f"document crash seed {SEED} (set HOTLINE_CRASH_SEED to replay)")
    rng = random.Random(SEED)
    started = time.monotonic()
    sender, receiver, proxy = _documents_line(cluster)
    docs = Documents(tmp_path, rng)
    try:
        kills = mid_transfer = allowance = 0
        went_back: list[str] = []
        for round_no, victim in enumerate(_victims(rounds)):
            names = [docs.make(rng.randrange(1 * MiB, 6 * MiB)) for _ in range(3)]
            seconds = sum(docs.made[n][0].stat().st_size for n in names) / RATE
            with ThreadPoolExecutor(3) as pool:
                futures = [pool.submit(docs.send, sender, receiver.name, n) for n in names]
                time.sleep(rng.uniform(0.05, seconds))
                chosen = {"sender": [sender], "receiver": [receiver], "both": [sender, receiver]}[victim]
                # what the receiver holds just before the kill: it must still hold it after the restart
                held = {d["id"]: (d["state"], d["stored"]) for d in _files(receiver, "in")}
                may_cost, unfinished = _kill_allowance(sender, receiver, chosen)
                for station in chosen:
                    station.kill()
                    kills += 1
                allowance += may_cost
                mid_transfer += unfinished > 0
                time.sleep(rng.uniform(0.0, 0.3))
                for station in chosen:
                    station.start()
                for future in futures:
                    future.result()
            for doc in _files(receiver, "in"):
                state, stored = held.get(doc["id"], (None, 0))
                if doc["stored"] < stored or (state == "complete" and doc["state"] != "complete"):
                    went_back.append(f"{doc['name']}: {state}/{stored} -> {doc['state']}/{doc['stored']}")
            sender.wait_line(receiver, timeout=30)
            print(
                f"round {round_no}: killed {victim} ({unfinished} documents unfinished); "
                f"{len(docs.confirmed)} confirmed, {len(docs.uncertain)} uncertain so far"
            )

        # everything the sender queued arrives, and the sender learns that it did
        queued = _files(sender, "out")
        queued_ids = {d["id"] for d in queued}
        total = sum(d["size"] for d in queued)
        wait_for(
            lambda: _all_complete(receiver, "in", queued_ids), 60 + total / RATE, "every document complete"
        )
        with contextlib.suppress(AssertionError):  # counted in the checks
            wait_for(lambda: _all_complete(sender, "out", queued_ids), 10, "the sender sees them complete")
        wire = _quiet_wire(proxy)
        figures, problems = _check_documents(sender, receiver, docs, queued, tmp_path)
        resent = wire - FRAMING * total
        figures = {
            "rounds": rounds,
            "kills": kills,
            "kills_mid_transfer": mid_transfer,
            **figures,
            "document_bytes": total,
            "wire_bytes": wire,
            "wire_per_document_byte": round(wire / max(total, 1), 3),
            "resent_bytes": round(resent),
            "resent_allowance": allowance,
            "durable_went_back": len(went_back),
            "seconds": round(time.monotonic() - started, 1),
            "seed": SEED,
        }
        report(name, figures)
        assert not problems, "\n".join(problems[:20])
        assert not went_back, f"a document went back after a restart: {went_back[:5]}"
        assert resent <= allowance, (
            f"{resent / MiB:.1f} MiB sent again through {kills} kills, more than the "
            f"{allowance / MiB:.1f} MiB the receiver had not made durable plus what was in flight"
        )
    finally:
        proxy.stop()


def _check_documents(
    sender: StationProc,
    receiver: StationProc,
    docs: Documents,
    queued: list[dict[str, Any]],
    tmp_path: Path,
) -> tuple[dict[str, Any], list[str]]:
    """Compare what the sender queued with what the receiver holds; (figures, problems found)."""
    problems: list[str] = []
    queued_names = Counter(d["name"] for d in queued)
    doubled_out = [n for n, count in queued_names.items() if count > 1]
    problems += [f"the sender queued {n} twice" for n in doubled_out]
    lost_by_sender = set(docs.confirmed) - set(queued_names)
    problems += [f"the sender lost the confirmed document {n}" for n in sorted(lost_by_sender)]
    problems += [
        f"the sender queued {n}, never asked for"
        for n in set(queued_names) - set(docs.confirmed) - docs.uncertain
    ]
    by_name = {d["name"]: d for d in queued}
    problems += [
        f"{n}: answered id {i}, queued as {by_name[n]['id']}"
        for n, i in docs.confirmed.items()
        if n in by_name and by_name[n]["id"] != i
    ]

    held = _files(receiver, "in")
    held_ids = Counter(d["id"] for d in held)
    held_names = Counter(d["name"] for d in held)
    doubled_in = [i for i, count in held_ids.items() if count > 1]
    doubled_in += [n for n, count in held_names.items() if count > 1]
    problems += [f"the receiver holds {x} twice" for x in doubled_in]
    lost = {d["id"] for d in queued} - set(held_ids)
    problems += [f"document {i} never arrived" for i in sorted(lost)]
    # the sender must learn that each arrived, or its operator sees the transfer hang forever
    unfinished_out = [d["name"] for d in _files(sender, "out") if d["state"] != "complete"]
    problems += [f"the sender still shows {n} unfinished" for n in unfinished_out]
    mismatched = 0
    for doc in held:
        path, sha = docs.made[doc["name"]]
        out = tmp_path / f"got-{doc['id']}"
        if doc["state"] != "complete" or doc["digest"] != sha:
            problems.append(f"{doc['name']}: {doc['state']} with BLAKE3 {doc['digest'][:12]}…")
            mismatched += 1
            continue
        receiver.request("file.get", id=doc["id"], out=str(out))
        if not filecmp.cmp(out, path, shallow=False):
            problems.append(f"{doc['name']}: the bytes written out differ from the original")
            mismatched += 1
        out.unlink()

    # one DOC entry each, in the sender's queue order
    sent_order = [
        e["message"]["id"]
        for e in sorted(
            (e for e in sender.log(receiver) if e["kind"] == "message"),
            key=lambda e: int(e["message"]["inbox"]),
        )
        if e["message"]["direction"] == "out" and e["message"]["kind"] == "doc"
    ]
    got_order = [m["id"] for m in receiver.inbox(sender) if m["kind"] == "doc"]
    if got_order != sent_order:
        problems.append(f"DOC entries out of order or not once each: sent {sent_order}, got {got_order}")
    for station, peer in ((sender, receiver), (receiver, sender)):
        problems += [f"{station.name} raised {alarm}" for alarm in _alarms(station, peer)]
    figures = {
        "documents_checked": len(held),
        "uncertain": len(docs.uncertain),
        "losses": len(lost) + len(lost_by_sender),
        "duplicates": len(doubled_in) + len(doubled_out),
        "corrupt": mismatched,
        "sender_unfinished": len(unfinished_out),
    }
    return figures, problems


def test_documents_survive_kill_9_at_random_moments(cluster: Cluster, tmp_path: Path) -> None:
    run_document_crashes(cluster, tmp_path, "crash-documents", rounds=3)


def test_a_document_crosses_the_wire_once(cluster: Cluster, tmp_path: Path) -> None:
    """With no fault, a document's bytes cross once: the receiver's progress reports, which lag behind
    what the sender has sent, must not make it send the tail again once it has sent it all."""
    sender, receiver, proxy = _documents_line(cluster)
    try:
        docs = Documents(tmp_path, random.Random(SEED))
        name = docs.make(4 * MiB)
        before = proxy.stats.tcp_bytes_forward
        docs.send(sender, receiver.name, name)
        ids = {docs.confirmed[name]}
        wait_for(lambda: _all_complete(receiver, "in", ids), 30, "the document complete")
        wait_for(lambda: _all_complete(sender, "out", ids), 30, "the sender sees it complete")
        wire = _quiet_wire(proxy) - before
        print(f"a 4 MiB document put {wire} bytes on the wire ({wire / (4 * MiB):.2f} times its size)")
        assert wire <= FRAMING * 4 * MiB
    finally:
        proxy.stop()


def test_a_sender_killed_before_hearing_complete_learns_it_after_restart(
    cluster: Cluster, tmp_path: Path
) -> None:
    """The receiver's reports are held back (a one-way blackhole) while the document's bytes still go;
    the receiver completes it, then the sender dies before it hears so and starts again."""
    sender, receiver, proxy = _documents_line(cluster)
    try:
        proxy.set(rate=2 * MiB, direction="forward")  # the 3 MiB take 1.5 s, under the 3 s line-down
        docs = Documents(tmp_path, random.Random(SEED))
        name = docs.make(3 * MiB)
        docs.send(sender, receiver.name, name)
        ids = {docs.confirmed[name]}
        wait_for(lambda: _files(receiver, "in"), 10, "the DOC entry at the receiver")
        time.sleep(0.2)  # the receiver's request for the bytes crosses
        proxy.set(blackhole=True, direction="back")
        wait_for(lambda: _all_complete(receiver, "in", ids), 30, "the document complete at the receiver")
        sender.kill()
        proxy.set(blackhole=False, direction="back")
        sender.start()
        sender.wait_line(receiver)
        wait_for(lambda: _all_complete(sender, "out", ids), 8, "the sender sees the document complete")
    finally:
        proxy.stop()


@pytest.mark.soak
@pytest.mark.timeout(1800)
def test_soak_documents_through_forty_kills(cluster: Cluster, tmp_path: Path) -> None:
    run_document_crashes(cluster, tmp_path, "crash-documents-soak", rounds=40)


# -- calls


@dataclass
class CallRound:
    """One call and the kill that ends it."""

    caller: StationProc
    callee: StationProc
    victim: StationProc
    #: "ringing" (killed before anyone answered) or "talking".
    phase: str
    #: The call's id, once a side has shown it.
    call_id: str | None = None
    survivor_reason: str | None = None
    #: Seconds from the kill until the survivor's call had ended.
    ended_after: float = 0.0


def _two_up(cluster: Cluster) -> tuple[StationProc, StationProc]:
    a, b = cluster.add("alpha"), cluster.add("bravo")
    pair(a, b)
    cluster.start_all(a, b)
    a.wait_line(b)
    b.wait_line(a)
    return a, b


def _survivor_ended(station: StationProc, call_id: str | None) -> dict[str, Any] | None:
    listed = station.request("calls", limit=1)
    if listed["live"] or not listed["calls"]:
        return None
    row: dict[str, Any] = listed["calls"][-1]
    if call_id is not None and row["id"] != call_id:
        return None
    return row if row["ended_at"] is not None else None


def _kill_a_call(rnd: CallRound, rng: random.Random, tmp_path: Path, talk_for: float) -> None:
    """Ring (and in the talking phase answer) a call, kill the victim's daemon, wait for the survivor."""
    survivor = rnd.callee if rnd.victim is rnd.caller else rnd.caller
    clis: list[CliProcess] = []
    try:
        call = CliProcess(rnd.caller, "call", rnd.callee.name, "--play", str(SPEECH))
        clis.append(call)
        if rnd.phase == "ringing":
            call.next_event("ringing")
            time.sleep(rng.uniform(0.0, 0.5))
        else:
            heard = tmp_path / f"heard-{time.monotonic_ns()}.wav"
            answer = CliProcess(rnd.callee, "answer", rnd.caller.name, "--wait", "20", "--record", str(heard))
            clis.append(answer)
            rnd.call_id = call.next_event("answered")["id"]
            answer.next_event("answered")
            time.sleep(rng.uniform(0.2, talk_for))
        rnd.victim.kill()
        killed = time.monotonic()
        row = wait_for(lambda: _survivor_ended(survivor, rnd.call_id), 20, f"{survivor.name}'s call ended")
        rnd.ended_after = time.monotonic() - killed
        rnd.call_id, rnd.survivor_reason = row["id"], row["end_reason"]
    finally:
        for cli in clis:
            cli.kill()


def _message_both_ways(a: StationProc, b: StationProc, text: str) -> int:
    """Send ``text`` each way and wait for the receipts; the number that did not arrive once."""
    missing = 0
    for sender, receiver in ((a, b), (b, a)):
        sent = sender.request("send", peer=receiver.name, text=f"{text} from {sender.name}", wait=15)
        got = [m for m in receiver.inbox(sender) if m["id"] == sent["id"]]
        missing += sent["state"] != "delivered" or len(got) != 1
    return missing


def run_call_crashes(cluster: Cluster, tmp_path: Path, name: str, rounds: int) -> dict[str, Any]:
    """Kill one side of a call ``rounds`` times; check the logs and the line after each; the figures."""
    print(f"call crash seed {SEED} (set HOTLINE_CRASH_SEED to replay)")
    rng = random.Random(SEED + 1)
    started = time.monotonic()
    a, b = _two_up(cluster)
    done: list[CallRound] = []
    undelivered = 0
    for n in range(rounds):
        caller, callee = (a, b) if n % 4 < 2 else (b, a)
        victim = caller if n % 2 == 0 else callee
        phase = "ringing" if rng.random() < 0.25 else "talking"
        rnd = CallRound(caller, callee, victim, phase)
        _kill_a_call(rnd, rng, tmp_path, talk_for=4.0)
        victim.start()
        a.wait_line(b, timeout=30)
        b.wait_line(a, timeout=30)
        undelivered += _message_both_ways(a, b, f"after call {n}")
        done.append(rnd)
        print(
            f"call {n}: {caller.name} -> {callee.name}, killed {victim.name} while {phase}; "
            f"the survivor's call ended ({rnd.survivor_reason}) {rnd.ended_after:.2f} s later"
        )
    # a call after all that works end to end
    answer = CliProcess(b, "answer", a.name, "--wait", "20", "--record", str(tmp_path / "last.wav"))
    call = CliProcess(a, "call", b.name, "--play", str(SPEECH), "--seconds", "1")
    last = call.result()
    answer.result()

    problems, stuck, doubled = _check_call_logs(a, b, done, last)
    reasons = Counter(r.survivor_reason for r in done)
    figures = {
        "rounds": rounds,
        "kills": len(done),
        "killed_while_ringing": sum(r.phase == "ringing" for r in done),
        "calls_checked": len(done) + 1,
        "messages_checked": 2 * len(done),
        "losses": undelivered,
        "duplicates": doubled,
        "stuck_calls": stuck,
        "survivor_end_reasons": dict(reasons),
        "slowest_end_seconds": round(max((r.ended_after for r in done), default=0.0), 2),
        "seconds": round(time.monotonic() - started, 1),
        "seed": SEED,
    }
    report(name, figures)
    assert not problems, "\n".join(problems[:20])
    assert undelivered == 0, f"{undelivered} messages after a restart did not arrive exactly once"
    return figures


def _check_call_logs(
    a: StationProc, b: StationProc, done: list[CallRound], last: dict[str, Any]
) -> tuple[list[str], int, int]:
    """Both call logs against the rounds; (problems, calls stuck live or unended, calls logged twice)."""
    problems: list[str] = []
    logs = {s.name: s.request("calls", limit=1000) for s in (a, b)}
    stuck = sum(len(listed["live"]) for listed in logs.values())
    stuck += sum(s.line(p)["call"] is not None for s, p in ((a, b), (b, a)))
    doubled = 0
    for station_name, listed in logs.items():
        ids = [row["id"] for row in listed["calls"]]
        doubled += len(ids) - len(set(ids))
        expected = [r.call_id for r in done] + [last["id"]]
        if ids != expected:
            problems.append(f"{station_name} logged {ids}, the rounds made {expected}")
        rows = {row["id"]: row for row in listed["calls"]}
        for rnd in done:
            row = rows.get(rnd.call_id or "")
            if row is None:
                continue
            outgoing = rnd.caller.name == station_name
            if row["direction"] != ("out" if outgoing else "in"):
                problems.append(f"{station_name}: call {rnd.call_id} logged as {row['direction']}")
            if rnd.victim.name == station_name:
                if row["end_reason"] != "interrupted":
                    problems.append(f"{station_name} died in call {rnd.call_id}; logged {row['end_reason']}")
            elif row["ended_at"] is None or row["end_reason"] not in SURVIVOR_REASONS:
                stuck += row["ended_at"] is None
                problems.append(f"{station_name} survived call {rnd.call_id}; logged {row['end_reason']}")
        final = rows.get(last["id"])
        if final is None or final["end_reason"] not in ("hangup", "remote-hangup"):
            problems.append(f"{station_name}: the last call ended {final and final['end_reason']}")
    if stuck:
        problems.append(f"{stuck} calls still live or unended after the restarts")
    return problems, stuck, doubled


def test_calls_survive_kill_9_of_either_side(cluster: Cluster, tmp_path: Path) -> None:
    run_call_crashes(cluster, tmp_path, "crash-calls", rounds=2)


@pytest.mark.soak
@pytest.mark.timeout(1800)
def test_soak_calls_through_thirty_kills(cluster: Cluster, tmp_path: Path) -> None:
    run_call_crashes(cluster, tmp_path, "crash-calls-soak", rounds=30)
