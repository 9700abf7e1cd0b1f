"""Calls between real daemons, for findings F3/F9 (each call its own keys and words) and F7 (the
files a call writes: never through a link, never over a file, private, named by us, and a peer that
reuses a call id is refused).

Calls here play the shipped speech clip for a second or two and are not scored for quality
(tests/integration/test_calls.py does that).
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest

from hotline.station.config import LineSettings
from hotline.voice.quality import speech_sample
from tests.support.stations import (
    CliProcess,
    Cluster,
    RequestFailed,
    StationProc,
    pair,
    sitecustomize,
    two_up,
)

SPEECH = speech_sample()


def short_call(a: StationProc, b: StationProc, record: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """alpha plays two seconds of speech to bravo, who records it; both ends' ``answered`` events."""
    answer = CliProcess(b, "answer", a.name, "--wait", "20", "--record", str(record))
    call = CliProcess(a, "call", b.name, "--play", str(SPEECH), "--seconds", "2")
    answered = call.next_event("answered"), answer.next_event("answered")
    assert call.result()["end_reason"] == "hangup"
    assert answer.result()["end_reason"] == "remote-hangup"
    return answered


def test_two_calls_on_one_session_have_their_own_words(cluster: Cluster, tmp_path: Path) -> None:
    """F3/F9: every call runs its own key exchange; two calls on the same session agree end to end
    on their words, and the words differ from call to call."""
    a, b = two_up(cluster)
    since = a.line(b)["since"], b.line(a)["since"]
    first = short_call(a, b, tmp_path / "one.wav")
    second = short_call(a, b, tmp_path / "two.wav")
    assert (a.line(b)["since"], b.line(a)["since"]) == since, "both calls should ride one session"
    for caller, callee in (first, second):
        assert caller["sas"] == callee["sas"] and len(caller["sas"]) == 4
    assert first[0]["sas"] != second[0]["sas"]
    for station in (a, b):
        log = station.request("calls")["calls"]
        assert [c["end_reason"] in ("hangup", "remote-hangup") for c in log] == [True, True]
    for heard in ("one.wav", "two.wav"):
        assert stat.S_IMODE((tmp_path / heard).stat().st_mode) == 0o600


def test_a_recording_never_goes_through_a_link_or_over_a_file(cluster: Cluster, tmp_path: Path) -> None:
    """F7: ``--record`` at a symbolic link or an existing file is refused before the call, on either
    end, and what was there is untouched."""
    a, b = two_up(cluster)
    victim = tmp_path / "victim.wav"
    victim.write_bytes(b"an earlier recording")
    link = tmp_path / "link.wav"
    link.symlink_to(victim)
    dangling = tmp_path / "dangling.wav"
    dangling.symlink_to(tmp_path / "created-through-the-link.wav")
    for record, wording in ((link, "symbolic link"), (dangling, "symbolic link"), (victim, "exists")):
        with pytest.raises(RequestFailed) as refused:
            a.online("call.place", peer=b.name, play=str(SPEECH), record=str(record))
        assert refused.value.code == "bad-request" and wording in refused.value.message
    # the answering end checks the same way, while the call rings
    call = CliProcess(a, "call", b.name, "--play", str(SPEECH), "--seconds", "1")
    call.next_event("ringing")
    for record in (link, victim):
        with pytest.raises(RequestFailed) as refused:
            b.online("call.answer", record=str(record))
        assert refused.value.code == "bad-request"
    b.online("call.hangup")
    assert call.result()["end_reason"] == "declined"
    assert victim.read_bytes() == b"an earlier recording"
    assert not (tmp_path / "created-through-the-link.wav").exists()


#: Run in a malicious caller's daemon (through ``sitecustomize``): every call it places has the same
#: call id, and it keeps no log of its own (so its own log cannot stop it).
REUSER = """
import os
from hotline.proto import call as _call
from hotline.station.calls import live as _calls

_FIXED = bytes.fromhex(os.environ["HOTLINE_FIXED_CALL_ID"])
_place = _call.Call.place.__func__

def _same_id(cls, call_id, *args, **kwargs):
    return _place(cls, _FIXED, *args, **kwargs)

_call.Call.place = classmethod(_same_id)

async def _no_log(call):
    call.rowid = 0
    return True

_calls.log_start = _no_log
"""


def test_a_peer_that_reuses_a_call_id_is_refused(cluster: Cluster, tmp_path: Path) -> None:
    """F7: a peer places a second call with the id of its first, to have the auto-answered recording
    of the first overwritten (it used to be named by the call id). The second offer is refused before
    anything is opened, with an alert naming the id; the first recording and the call log stay whole;
    the recording is private and named by the station, not by the peer."""
    a, b = cluster.add("alpha"), cluster.add("bravo")
    inbox = tmp_path / "inbox"
    b.configure(lines={"alpha": LineSettings(auto_answer=True, answer_record=str(inbox))})
    pair(a, b)
    call_id = "5a" * 16
    a.start(env={**sitecustomize(tmp_path / "reuser", REUSER), "HOTLINE_FIXED_CALL_ID": call_id})
    b.start()
    a.wait_line(b)
    first = CliProcess(a, "call", b.name, "--play", str(SPEECH), "--seconds", "2").result()
    assert first["end_reason"] == "hangup" and first["id"] == call_id
    (recorded,) = inbox.iterdir()
    assert call_id not in recorded.name and recorded.name.endswith(".wav")
    assert stat.S_IMODE(recorded.stat().st_mode) == 0o600
    assert stat.S_IMODE(inbox.stat().st_mode) == 0o700
    kept = recorded.read_bytes()
    assert len(kept) > 48000 * 2  # a second or more of sound

    second = CliProcess(a, "call", b.name, "--play", str(SPEECH), "--seconds", "2").result()
    assert second["end_reason"] == "failed"
    assert list(inbox.iterdir()) == [recorded] and recorded.read_bytes() == kept
    alerts = [x for x in b.line(a)["alerts"] if x["kind"] == "call-refused"]
    assert alerts and call_id in alerts[0]["detail"], b.line(a)["alerts"]
    log = b.request("calls")["calls"]
    assert len(log) == 1 and log[0]["id"] == call_id and log[0]["end_reason"] == "remote-hangup"
    assert log[0]["stats"]["recording"] == recorded.name
    # the line carries on: a message still goes through
    message = a.send(b, "still here")
    assert a.request("wait", id=message["id"], timeout=10)["state"] == "delivered"


#: Run in a malicious caller's daemon: it commits to one X25519 key in its offers and reveals another
#: (what a man in the middle grinding the words after seeing the callee's share would have to do).
SWITCHER = """
import os
from hotline.crypto.x25519 import X25519PrivateKey
from hotline.proto import callkeys

_init = callkeys.CallerExchange.__init__

def _switch(self, *args, **kwargs):
    _init(self, *args, **kwargs)
    self.dh_public = X25519PrivateKey.from_bytes(os.urandom(32)).public_key().raw

callkeys.CallerExchange.__init__ = _switch
"""


def test_a_caller_that_reveals_another_key_than_it_committed_to_is_cut_off(
    cluster: Cluster, tmp_path: Path
) -> None:
    """F3: the callee checks the caller's reveal against the commitment in its offer; a caller that
    changes its key after seeing the callee's share (to grind the words) ends the call at once, with
    `bad-keys` at both ends and a `call-bad-keys` alert, before anything is heard."""
    a, b = cluster.add("alpha"), cluster.add("bravo")
    b.configure(lines={"alpha": LineSettings(auto_answer=True)})
    pair(a, b)
    a.start(env=sitecustomize(tmp_path / "switcher", SWITCHER))
    b.start()
    a.wait_line(b)
    ended = CliProcess(a, "call", b.name, "--play", str(SPEECH), "--seconds", "2").result()
    assert ended["end_reason"] == "bad-keys" and ended["sas"] is not None
    (logged,) = b.request("calls")["calls"]
    assert logged["end_reason"] == "bad-keys" and logged["answered_at"] is None
    for station, peer in ((b, a), (a, b)):
        alerts = [x for x in station.line(peer)["alerts"] if x["kind"] == "call-bad-keys"]
        assert alerts and peer.name in alerts[0]["detail"], station.line(peer)["alerts"]
