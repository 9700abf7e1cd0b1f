"""A station written from docs/protocol.md alone talks to a real daemon (issue: "an engineer who has
only docs/protocol.md must be able to write a station that talks to ours").

The independent station (``tests/conformance/independent``) shares no code with ``hotline``; the
daemon's operator works only through the ``hotline`` CLI, as the README tells them to: card, line add,
line grant, line verify (then ``--confirm``), send, inbox, log, test; its ``station.toml`` only sets
a short key age (``rekey_after``) so that the daemon's own rekeys come within the test. Each line
profile runs once; rekeys run both ways: the independent station starts two as initiator, the daemon
two when it dials.
"""

from __future__ import annotations

import ast
import json
import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conformance.independent import keys, linekey, wire
from tests.conformance.independent.station import Line, Session, accept, dial, entry_of
from tests.support.stations import HOTLINE, PASSPHRASE, Cluster, StationProc, free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "tests" / "conformance" / "independent"
PEER = "tallinn"  # the daemon operator's name for the independent station
REKEY_AFTER = 1.0  # the daemon's key age for a rekey, seconds (station.toml's `rekey_after`)


def cli(station: StationProc, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``hotline --home HOME ARGS`` as the daemon's operator would."""
    env = {**os.environ, "HOTLINE_PASSPHRASE": PASSPHRASE}
    done = subprocess.run(
        [*HOTLINE, "--home", str(station.home), *args], capture_output=True, text=True, env=env, timeout=120
    )
    if check:
        assert done.returncode == 0, f"hotline {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done


def cli_json(station: StationProc, *args: str) -> dict[str, Any]:
    return dict(json.loads(cli(station, "--json", *args).stdout))


def our_line(station: StationProc) -> dict[str, Any]:
    return next(ln for ln in cli_json(station, "status")["lines"] if ln["peer"] == PEER)


def outbound_states(station: StationProc) -> list[str]:
    """The states of the text messages the daemon's operator sent us, oldest first (``log``)."""
    entries = cli_json(station, "log", PEER)["entries"]
    messages = [e["message"] for e in entries if e["kind"] == "message"]
    return [m["state"] for m in messages if m["direction"] == "out" and m["kind"] == "text"]


def next_line_message(session: Session, tag: int, timeout: float = 15.0) -> list[wire.Value]:
    message = session.receive(timeout)
    assert message[0] == tag, f"expected line message {tag}, got {message!r:.200}"
    return message


def test_the_package_imports_nothing_of_ours() -> None:
    """The independent station may use the standard library and ``cryptography`` only."""
    for path in PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom) and node.level == 0
                else []
            )
            for name in names:
                assert name.split(".")[0] not in ("hotline", "tests", "msgspec"), f"{path.name}: {name}"
        assert len(path.read_text().splitlines()) < 400, path.name


@pytest.mark.parametrize(("profile", "card_version"), [("standard", 2), ("standard", 1), ("cnsa2", 2)])
def test_an_independent_station_talks_to_a_real_daemon(
    tmp_path: Path, profile: str, card_version: int
) -> None:
    with Cluster() as cluster:
        daemon = cluster.add("ottawa", rekey_after=REKEY_AFTER)  # its rekeys as initiator (§5.4)
        wordlist = keys.words(ROOT / "docs" / "protocol.md")
        own_port = free_port()

        # The independent station makes its identity and hands over its card file (§8.3, §8.7).
        me = keys.Identity.generate("Tallinn")
        card_file = tmp_path / "tallinn.card"
        card_file.write_text(keys.armor(me.card([f"127.0.0.1:{own_port}"], int(time.time()), card_version)))

        # The daemon's operator: its card, our card, a line key for us.
        cli(daemon, "card", "--out", str(tmp_path / "ottawa.card"))
        their_card = keys.read_card(keys.dearmor((tmp_path / "ottawa.card").read_text()))
        assert their_card.name == "ottawa" and their_card.endpoints == [daemon.endpoint]
        endpoint = f"127.0.0.1:{own_port}"
        cli(daemon, "line", "add", PEER, str(card_file), "--endpoint", endpoint, "--profile", profile)
        cli(daemon, "line", "grant", PEER, "--out", str(tmp_path / "key.bin"))
        line_key = linekey.open_line_key((tmp_path / "key.bin").read_bytes(), their_card, me, profile)
        assert line_key.label == "ottawa-Tallinn"

        # Both sides show the same safety number; the line is verified only on the operator's word.
        digits, words = keys.safety_number(
            me.digest_of(profile), their_card.digest_of(profile), wordlist, profile
        )
        shown = " ".join(cli(daemon, "line", "verify", PEER).stdout.split())  # as the operator reads it
        assert digits in shown and words in shown, shown
        assert keys.fingerprint(their_card.digest) in cli(daemon, "status").stdout
        assert not our_line(daemon)["verified"]

        # Until its operator confirms, the daemon answers no handshake of ours: silence (§8.4, §3.6).
        daemon.start()
        line = Line(me, their_card, line_key.key, profile)
        with pytest.raises(TimeoutError):
            dial(line, ("127.0.0.1", daemon.port), timeout=2.0)
        refused = [a["detail"] for a in our_line(daemon)["alerts"] if a["kind"] == "refused"]
        assert refused and all("not verified" in detail for detail in refused), refused
        cli(daemon, "line", "verify", PEER, "--confirm")
        assert our_line(daemon)["verified"]

        # As initiator: handshake, Hello both ways, one TEXT entry and its receipt.
        session = dial(line, ("127.0.0.1", daemon.port), with_ping=(line.hello(),))  # one record (§3.5)
        line.check_hello(next_line_message(session, wire.HELLO))
        text = "Greetings from a station built from the specification alone."
        entry = line.new_entry(wire.TEXT, wire.ROUTINE, text.encode())
        session.send_line(entry.message())
        line.check_receipt(next_line_message(session, wire.RECEIPT), 1)
        inbox = cli_json(daemon, "inbox", "--peer", PEER)
        assert [m["text"] for m in inbox["messages"]] == [text], inbox
        assert our_line(daemon)["state"] == "up"

        # The daemon's operator writes back; we take the entry (its chain checked) and receipt it.
        cli(daemon, "send", PEER, "Received. Ottawa out.")
        incoming = entry_of(next_line_message(session, wire.ENTRY))
        assert (incoming.seq, incoming.kind, incoming.body) == (1, wire.TEXT, b"Received. Ottawa out.")
        session.send_line(line.take(incoming))
        wait_for(lambda: outbound_states(daemon) == ["delivered"], 10, "the reply delivered")

        # A line test from the daemon: we answer TEST with TEST_REPLY and the daemon's test passes.
        test_run = subprocess.Popen(
            [*HOTLINE, "--home", str(daemon.home), "--json", "test", PEER],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "HOTLINE_PASSPHRASE": PASSPHRASE},
        )
        test = entry_of(next_line_message(session, wire.ENTRY))
        assert (test.seq, test.kind, test.precedence) == (2, wire.TEST, wire.FLASH)
        assert wire.unpack(test.body) == [1, entry.chain]
        session.send_line(line.take(test))
        reply = line.answer_test(test)
        session.send_line(reply.message())
        line.check_receipt(next_line_message(session, wire.RECEIPT), 2)
        out, err = test_run.communicate(timeout=60)
        assert test_run.returncode == 0, f"{out}\n{err}"
        assert json.loads(out)["ok"], out

        # Two rekeys of ours, started early (§5.4): each flips the key phase; an entry after each.
        for n in (1, 2):
            session.start_rekey()
            session.wait_rekeys(n, timeout=15)
            after = line.new_entry(wire.TEXT, wire.ROUTINE, f"After our rekey {n}.".encode())
            session.send_line(after.message())
            line.check_receipt(next_line_message(session, wire.RECEIPT), after.seq)
        assert our_line(daemon)["rekeys"] == 2
        session.close()

        # As responder: the daemon dials the endpoint on our card; we answer and carry on the line.
        with socket.create_server(("127.0.0.1", own_port)) as listener:
            session = accept(line, listener, timeout=20)
        session.send_line(line.hello())
        hello = next_line_message(session, wire.HELLO)
        line.check_hello(hello)
        assert hello[1] == 4 and hello[3] == 2  # all four of our entries held; its two numbered
        # The daemon dialled, so it rekeys (on age, REKEY_AFTER here); we answer two, phase 1 then 0.
        session.wait_rekeys(2, timeout=6 * REKEY_AFTER + 10)
        more = line.new_entry(wire.TEXT, wire.FLASH, b"Second session, we answered.")
        session.send_line(more.message())
        line.check_receipt(next_line_message(session, wire.RECEIPT), 5)
        assert our_line(daemon)["rekeys"] >= 2
        texts = [m["text"] for m in cli_json(daemon, "inbox", "--peer", PEER)["messages"]]
        assert texts[-1] == "Second session, we answered."
        status = our_line(daemon)
        assert status["last_test"]["ok"], status
        assert not {a["kind"] for a in status["alerts"]} - {"line-down", "line-up", "refused"}, status
        session.close()
