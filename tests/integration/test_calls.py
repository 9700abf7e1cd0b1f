"""Voice calls between real station daemons over loopback: real UDP, real Opus, the real CLI.

Each test starts ``hotline up`` processes (tests/support/stations.py) and places calls with
``hotline call`` / ``hotline answer`` as an operator would, sending the shipped speech clip from a WAV
file and recording what the far end hears. Network faults come from the impairment proxy
(tests/support/impair.py) placed between the stations: the caller dials the proxy, which forwards TCP
and UDP on one port number to the callee.
"""

from __future__ import annotations

import socket
import stat
import threading
import time
import wave
from pathlib import Path
from typing import Any

import pytest

from hotline.station.config import LineSettings
from hotline.station.home import unlock
from hotline.store.connection import connect
from hotline.store.sealing import derive_store_key
from hotline.voice.quality import pesq_wb, speech_sample
from tests.support.impair import ImpairProxy
from tests.support.stations import PASSPHRASE, CliProcess, Cluster, RequestFailed, StationProc, pair, two_up

SPEECH = speech_sample()
#: Where bravo dials alpha when the test needs alpha to be the one that dials (through the proxy).
NOWHERE = "127.0.0.1:9"


def proxied(cluster: Cluster, **settings: Any) -> tuple[StationProc, StationProc, ImpairProxy]:
    """alpha -> proxy -> bravo; bravo cannot dial alpha, so the session (and the media) go through
    the proxy."""
    a, b = cluster.add("alpha", **settings), cluster.add("bravo", **settings)
    proxy = ImpairProxy(("127.0.0.1", b.port), seed=1).start()
    pair(a, b, a_endpoints=[proxy.address], b_endpoints=[NOWHERE])
    cluster.start_all(a, b)
    a.wait_line(b)
    b.wait_line(a)
    return a, b, proxy


def place_and_answer(
    a: StationProc, b: StationProc, tmp: Path, *, seconds: float | None = None, extra: tuple[str, ...] = ()
) -> tuple[dict[str, Any], dict[str, Any], Path]:
    """alpha plays the speech clip to bravo, who records it; both commands run to the end."""
    heard = tmp / f"heard-{time.monotonic_ns()}.wav"
    answer = CliProcess(b, "answer", a.name, "--wait", "20", "--record", str(heard), *extra)
    args = ["call", b.name, "--play", str(SPEECH)]
    if seconds is not None:
        args += ["--seconds", str(seconds)]
    call = CliProcess(a, *args)
    answered_a = call.next_event("answered")
    answered_b = answer.next_event("answered")
    assert answered_a["sas"] == answered_b["sas"] and len(answered_a["sas"]) == 4
    ended_a, ended_b = call.result(), answer.result()
    return ended_a, ended_b, heard


def test_a_call_carries_speech_end_to_end_and_is_logged(cluster: Cluster, tmp_path: Path) -> None:
    a, b = two_up(cluster)
    ended_a, ended_b, heard = place_and_answer(a, b, tmp_path)
    assert ended_a["end_reason"] == "hangup" and ended_b["end_reason"] == "remote-hangup"
    assert ended_a["path"] == ended_b["path"] == "udp"
    assert ended_a["packets"]["udp_out"] > 100 and ended_b["packets"]["udp_in"] > 100
    assert ended_b["dropped"] == {"forged": 0, "replayed": 0, "wrong_address": 0}
    with wave.open(str(heard)) as wav:
        assert wav.getframerate() == 48000 and wav.getnchannels() == 1
        assert wav.getnframes() / 48000 > 3.0
    quality = pesq_wb(SPEECH, heard)
    print(f"PESQ-WB over loopback: {quality:.2f}")
    assert quality >= 3.5
    for station, peer, direction in ((a, b, "out"), (b, a, "in")):
        log = station.request("calls", peer=peer.name)["calls"]
        assert len(log) == 1
        row = log[0]
        assert row["direction"] == direction and row["path"] == "udp"
        assert row["duration"] > 3.0 and row["end_reason"] in ("hangup", "remote-hangup")
        assert row["sas_confirmed"] is None


def test_sas_mismatch_ends_the_call_and_raises_an_alert_on_both_ends(
    cluster: Cluster, tmp_path: Path
) -> None:
    a, b = two_up(cluster)
    answer = CliProcess(b, "answer", "--wait", "20", "--record", str(tmp_path / "x.wav"))
    call = CliProcess(a, "call", b.name, "--play", str(SPEECH), "--sas-mismatch")
    assert call.result()["end_reason"] == "sas-mismatch"
    assert answer.result()["end_reason"] == "sas-mismatch"
    for station, peer in ((a, b), (b, a)):
        alerts = [x["kind"] for x in station.line(peer)["alerts"]]
        assert "sas-mismatch" in alerts
    assert a.request("calls")["calls"][-1]["sas_confirmed"] is False


def test_sas_confirmed_is_logged(cluster: Cluster, tmp_path: Path) -> None:
    a, b = two_up(cluster)
    place_and_answer(a, b, tmp_path, seconds=1.0, extra=("--sas-confirm",))
    assert b.request("calls")["calls"][-1]["sas_confirmed"] is True
    assert a.request("calls")["calls"][-1]["sas_confirmed"] is None


def test_one_call_per_line_and_only_on_a_line_that_is_up(cluster: Cluster, tmp_path: Path) -> None:
    a, b = two_up(cluster)
    ringing = CliProcess(a, "call", b.name, "--play", str(SPEECH))
    ringing.next_event("ringing")
    status = b.line(a)
    assert status["call"]["state"] == "ringing" and status["call"]["direction"] == "in"
    # a second call on the same line, from either end, is refused
    with pytest.raises(RequestFailed) as refused:
        a.online("call.place", peer=b.name, play=str(SPEECH))
    assert refused.value.code == "busy"
    with pytest.raises(RequestFailed) as refused:
        b.online("call.place", peer=a.name, play=str(SPEECH))
    assert refused.value.code == "busy"
    # the callee declines
    b.request("call.hangup")
    assert ringing.result()["end_reason"] == "declined"
    # a line that is down cannot carry a call
    b.stop()
    a.wait_line(b, "down", timeout=15)
    with pytest.raises(RequestFailed) as refused:
        a.online("call.place", peer=b.name, play=str(SPEECH))
    assert refused.value.code == "line-down"


def test_nothing_rings_means_nothing_to_answer_and_no_sound_card_says_what_to_do(cluster: Cluster) -> None:
    a, b = two_up(cluster)
    with pytest.raises(RequestFailed) as nothing:
        b.online("call.answer")
    assert nothing.value.code == "no-call"
    # this machine has no sound card: the station says how to use files instead
    with pytest.raises(RequestFailed) as no_card:
        a.online("call.place", peer=b.name)
    assert no_card.value.code == "no-audio-device"
    assert "--play" in no_card.value.message and "--record" in no_card.value.message


def test_auto_answer_recording_at_rest_and_export(cluster: Cluster, tmp_path: Path) -> None:
    a, b = cluster.add("alpha"), cluster.add("bravo")
    inbox = tmp_path / "auto"
    b.configure(lines={"alpha": LineSettings(auto_answer=True, answer_record=str(inbox), record_calls=True)})
    pair(a, b)
    cluster.start_all(a, b)
    a.wait_line(b)
    call = CliProcess(a, "call", b.name, "--play", str(SPEECH))
    ended = call.result()
    assert ended["end_reason"] == "hangup"
    recorded = list(inbox.glob("*.wav"))
    assert len(recorded) == 1
    assert pesq_wb(SPEECH, recorded[0]) >= 3.5
    # the call's audio is in bravo's store, sealed: export it and find the speech in the right channel
    call_id = b.request("calls")["calls"][-1]["id"]
    out = tmp_path / "export.wav"
    exported = b.online("call.export", id=call_id, out=str(out))
    assert exported["seconds"] > 3.0
    with wave.open(str(out)) as wav:
        assert wav.getnchannels() == 2 and wav.getframerate() == 48000
    with pytest.raises(RequestFailed) as again:
        b.online("call.export", id=call_id, out=str(out))
    assert again.value.code == "bad-request"  # never overwrites
    # F7: the export and the recording are the operator's alone, and a link is never written through
    assert stat.S_IMODE(out.stat().st_mode) == stat.S_IMODE(recorded[0].stat().st_mode) == 0o600
    assert call_id not in recorded[0].name
    victim = tmp_path / "victim.wav"
    victim.write_bytes(b"not yours")
    link = tmp_path / "link.wav"
    link.symlink_to(victim)
    with pytest.raises(RequestFailed) as linked:
        b.online("call.export", id=call_id, out=str(link))
    assert linked.value.code == "bad-request" and "symbolic link" in linked.value.message
    assert victim.read_bytes() == b"not yours"
    # the store holds the audio sealed: no run of the WAV's PCM appears in the database file
    # (the file is encrypted as a whole: read it with the key the station derives from its identity)
    db = connect(b.home / "store.sqlite", derive_store_key(unlock(b.home, PASSPHRASE)[1].secret_parts))
    try:
        runs = [bytes(r[0]) for r in db.execute("SELECT frames FROM call_audio")]
    finally:
        db.close()
    assert runs and all(len(r) > 16 for r in runs)
    assert a.request("calls")["calls"][-1]["path"] == "udp"


def test_no_udp_falls_back_into_the_session(cluster: Cluster, tmp_path: Path) -> None:
    a, b = cluster.add("alpha"), cluster.add("bravo")
    proxy = ImpairProxy(("127.0.0.1", b.port), udp=False, seed=2).start()
    try:
        pair(a, b, a_endpoints=[proxy.address], b_endpoints=[NOWHERE])
        cluster.start_all(a, b)
        a.wait_line(b)
        answer = CliProcess(b, "answer", "--wait", "20", "--record", str(tmp_path / "heard.wav"))
        call = CliProcess(a, "call", b.name, "--play", str(SPEECH))
        assert call.next_event("path", timeout=10)["path"] == "tcp"
        assert answer.next_event("path", timeout=10)["path"] == "tcp"
        assert b.line(a)["call"]["path"] == "tcp"
        ended_a, ended_b = call.result(), answer.result()
        assert ended_a["path"] == ended_b["path"] == "tcp"
        assert ended_b["packets"]["tcp_in"] > 100
        quality = pesq_wb(SPEECH, tmp_path / "heard.wav")
        print(f"PESQ-WB through the session: {quality:.2f}")
        assert quality >= 3.0  # the first two seconds went into the void before the fallback
    finally:
        proxy.stop()


def test_replayed_tampered_and_stray_packets_are_dropped(cluster: Cluster, tmp_path: Path) -> None:
    a, b = cluster.add("alpha"), cluster.add("bravo")
    # the session passes untouched; the media (UDP, same port number) goes through the bad proxy
    tcp = ImpairProxy(("127.0.0.1", b.port), udp=False, seed=3).start()
    proxy = ImpairProxy(("127.0.0.1", b.port), tcp=False, port=tcp.port, seed=3).start()
    try:
        pair(a, b, a_endpoints=[proxy.address], b_endpoints=[NOWHERE])
        cluster.start_all(a, b)
        a.wait_line(b)
        # every datagram twice (a replay of each), and one in ten with a flipped bit
        proxy.set(duplicate=1.0, corrupt=0.1, direction="forward")
        heard = tmp_path / "heard.wav"
        answer = CliProcess(b, "answer", "--wait", "20", "--record", str(heard))
        call = CliProcess(a, "call", b.name, "--play", str(SPEECH))
        answer.next_event("answered")
        # garbage from a stranger's socket at bravo's media port, while the call runs
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stranger:
            for n in range(500):
                stranger.sendto(bytes([0x56]) + n.to_bytes(4, "big") * 107, ("127.0.0.1", b.port))
                stranger.sendto(b"\x00" * (n % 1500), ("127.0.0.1", b.port))
        ended_b = answer.result()
        call.result()
        quality = pesq_wb(SPEECH, heard)
        print(f"PESQ-WB with every packet replayed and 10 % tampered: {quality:.2f}")
        assert ended_b["dropped"]["replayed"] > 100
        assert ended_b["dropped"]["forged"] > 5
        assert ended_b["end_reason"] == "remote-hangup" and ended_b["path"] == "udp"
        # tampered packets are losses the redundancy repairs; the buffer grows to wait for the copies
        assert quality >= 2.5
    finally:
        proxy.stop()
        tcp.stop()


class Tee:
    """Relays UDP to ``target`` from one socket and sends a copy of each datagram from a second one."""

    def __init__(self, port: int, target: tuple[str, int]) -> None:
        self.front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.front.bind(("127.0.0.1", port))
        self.main = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.copy = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for sock in (self.main, self.copy):
            sock.bind(("127.0.0.1", 0))
        self.target = target
        self.client: tuple[str, int] | None = None
        self.copies = 0
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._forward, daemon=True),
            threading.Thread(target=self._back, daemon=True),
        ]
        for sock in (self.front, self.main, self.copy):
            sock.settimeout(0.2)
        for thread in self._threads:
            thread.start()

    def _forward(self) -> None:
        while not self._stop.is_set():
            try:
                data, self.client = self.front.recvfrom(4096)
            except TimeoutError:
                continue
            self.main.sendto(data, self.target)
            self.copy.sendto(data, self.target)
            self.copies += 1

    def _back(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.main.recv(4096)
            except TimeoutError:
                continue
            if self.client is not None:
                self.front.sendto(data, self.client)

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()
        for sock in (self.front, self.main, self.copy):
            sock.close()


def test_packets_from_another_address_are_dropped(cluster: Cluster, tmp_path: Path) -> None:
    """A copy of every authentic packet, sent from a second address, is dropped before any crypto."""
    a, b = cluster.add("alpha"), cluster.add("bravo")
    # TCP through the proxy; UDP on the same port number through the tee
    proxy = ImpairProxy(("127.0.0.1", b.port), udp=False, seed=4).start()
    tee = Tee(proxy.port, ("127.0.0.1", b.port))
    try:
        pair(a, b, a_endpoints=[proxy.address], b_endpoints=[NOWHERE])
        cluster.start_all(a, b)
        a.wait_line(b)
        heard = tmp_path / "h.wav"
        _ended_a, ended_b, heard = place_and_answer(a, b, tmp_path)
        assert tee.copies > 100
        assert ended_b["path"] == "udp"
        assert ended_b["dropped"]["wrong_address"] >= tee.copies - 5
        assert ended_b["dropped"]["replayed"] == 0
        assert pesq_wb(SPEECH, heard) >= 3.5
    finally:
        tee.close()
        proxy.stop()


def test_a_call_survives_rekeys_and_loss(cluster: Cluster, tmp_path: Path) -> None:
    a, b, proxy = proxied(cluster, rekey_after=1.0)
    try:
        proxy.set(loss=0.05, jitter=0.01, direction="both")
        before = a.line(b)["rekeys"]
        _ended_a, ended_b, heard = place_and_answer(a, b, tmp_path)
        assert a.line(b)["rekeys"] >= before + 3, "the session should have rekeyed during the call"
        assert ended_b["path"] == "udp"
        quality = pesq_wb(SPEECH, heard)
        print(f"PESQ-WB at 5 % loss, 10 ms jitter, rekeying every second: {quality:.2f}")
        assert quality >= 3.2
    finally:
        proxy.stop()


def test_killing_the_far_daemon_ends_the_call(cluster: Cluster, tmp_path: Path) -> None:
    a, b = two_up(cluster)
    answer = CliProcess(b, "answer", "--wait", "20", "--record", str(tmp_path / "h.wav"))
    call = CliProcess(a, "call", b.name, "--play", str(SPEECH), "--seconds", "60")
    call.next_event("answered")
    b.kill()
    answer.kill()
    ended = call.result(timeout=30)
    assert ended["end_reason"] in ("line-down", "media-lost")
    log = a.request("calls")["calls"][-1]
    assert log["end_reason"] in ("line-down", "media-lost")


def test_jitter_from_the_first_packet_keeps_the_call_on_udp(cluster: Cluster, tmp_path: Path) -> None:
    """The session copy of an early packet often wins the race against its jittered UDP twin; the
    twin must still count as proof that UDP works, or the call would fall back for nothing."""
    a, b = cluster.add("alpha"), cluster.add("bravo")
    tcp = ImpairProxy(("127.0.0.1", b.port), udp=False, seed=6).start()
    udp = ImpairProxy(("127.0.0.1", b.port), tcp=False, port=tcp.port, seed=6).start()
    try:
        udp.set(jitter=0.03, delay=0.01, direction="both")
        pair(a, b, a_endpoints=[tcp.address], b_endpoints=[NOWHERE])
        cluster.start_all(a, b)
        a.wait_line(b)
        answer = CliProcess(b, "answer", "--wait", "20", "--record", str(tmp_path / "h.wav"))
        call = CliProcess(a, "call", b.name, "--play", str(SPEECH), "--seconds", "4")
        ended_a, ended_b = call.result(), answer.result()
        assert ended_a["path"] == ended_b["path"] == "udp"
        assert ended_b["packets"]["udp_in"] > 150 and ended_a["packets"]["udp_in"] > 150
    finally:
        udp.stop()
        tcp.stop()
