"""``pair.listen`` / ``pair.connect`` between real stations (docs/protocol.md §11), offline and via daemons.

Offline, each side opens its station in-process (``hotline.station.offline.run_request``) in its own
thread, as two operators' terminals would. With daemons, the requests go over the control sockets. A
pairing leaves the line unverified (F2); once the operators confirm the safety number, it is proved
complete the honest way: both daemons bring the line up with the key that travelled, and a message
crosses it.
"""

from __future__ import annotations

import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from hotline.crypto.random import random_bytes
from hotline.proto.cards import issue_card
from hotline.proto.identity import Identity
from hotline.proto.linekeys import create_line_key
from hotline.proto.pairing import (
    FrameType,
    PairingFailed,
    PairingMachine,
    PairingState,
    PeerCardReceived,
    Role,
)
from hotline.proto.pairingcode import new_code
from hotline.station.errors import StationError
from hotline.station.offline import run_request
from tests.support.stations import (
    PASSPHRASE,
    Cluster,
    RequestFailed,
    StationProc,
    control_request,
    wait_for,
)

WAIT = 20.0


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    with Cluster(prefix="hl-pair-") as c:
        yield c


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=2) as p:
        yield p


# -- helpers --------------------------------------------------------------------------------------------


def offline(
    station: StationProc, op: str, on_event: Callable[[dict[str, object]], None] | None = None, **args: Any
) -> dict[str, Any]:
    """Run ``op`` with the station opened in this process; a refusal raises :class:`RequestFailed`."""
    try:
        return run_request(station.home, PASSPHRASE, op, args, on_event=on_event)
    except StationError as exc:
        raise RequestFailed(exc.code, exc.message) from None


def stream(
    station: StationProc, op: str, on_event: Callable[[dict[str, Any]], None], **args: Any
) -> dict[str, Any]:
    """Run a streaming request over the daemon's control socket; events go to ``on_event``."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(60)
        s.connect(str(station.control))
        s.sendall(json.dumps({"op": op, "args": args}).encode() + b"\n")
        with s.makefile("rb") as answers:
            while True:
                line = answers.readline()
                assert line, f"{op}: the daemon closed the connection"
                reply = json.loads(line)
                if not reply["ok"]:
                    raise RequestFailed(reply["error"]["code"], reply["error"]["message"])
                if "event" in reply:
                    on_event(reply["event"])
                else:
                    return dict(reply["result"])


def start_listening(
    pool: ThreadPoolExecutor, station: StationProc, peer: str, *, daemon: bool = False, **args: Any
) -> tuple[dict[str, Any], Future[dict[str, Any]], queue.Queue[dict[str, Any]]]:
    """Start ``pair.listen`` in a thread; returns its first event (the code), the result and the events."""
    events: queue.Queue[dict[str, Any]] = queue.Queue()
    args = {"peer": peer, "listen": "127.0.0.1:0", "timeout": 30, **args}
    if daemon:
        future = pool.submit(stream, station, "pair.listen", events.put, **args)
    else:
        future = pool.submit(offline, station, "pair.listen", events.put, **args)
    try:
        first = events.get(timeout=WAIT)
    except queue.Empty:
        raise AssertionError(f"no code from {station.name}: {future.exception(timeout=1)!r}") from None
    assert set(first) == {"code", "listen", "station"} and first["station"] == station.name
    return first, future, events


def pair_offline(
    listener: StationProc, dialer: StationProc, *, wait: float = WAIT, **args: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Pair two stations offline by the listener's code, ``args`` (a profile) given to both ends; the
    listener's result (awaited ``wait`` seconds at most) and the dialer's."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        first, listening, _ = start_listening(pool, listener, dialer.name, **args)
        connected = offline(
            dialer, "pair.connect", peer=listener.name, connect=first["listen"], code=first["code"], **args
        )
        return listening.result(timeout=wait), connected


def wrong(code: str) -> str:
    """The same code with another number: a valid spelling, the wrong secret."""
    number, rest = code.split("-", 1)
    return f"{int(number) % 999 + 1}-{rest}"


def lines(station: StationProc) -> list[dict[str, Any]]:
    return (
        list(offline(station, "line.list")["lines"])
        if not station.running
        else list(station.request("line.list")["lines"])
    )


def assert_paired(a: StationProc, b: StationProc, result_a: dict[str, Any], result_b: dict[str, Any]) -> None:
    """Both sides hold a keyed line that is not verified (F2), and show the same safety number."""
    for station, peer, result in ((a, b, result_a), (b, a, result_b)):
        assert result["peer"] == peer.name and result["station"] == peer.name
        assert result["has_key"] and not result["verified"]
        assert result["endpoints"] == [peer.endpoint]
        assert len(result["groups"]) == 12 and len(result["words"]) == 24
        [line] = lines(station)
        assert line["peer"] == peer.name and line["has_key"] and not line["verified"]
    assert result_a["digits"] == result_b["digits"]
    assert result_a["key_created_at"] == result_b["key_created_at"]


def confirm(a: StationProc, b: StationProc) -> None:
    """The operators compare the safety number and confirm it on both sides, as after ``line add``."""
    number_a = a.request("line.verify", peer=b.name, confirm=True)
    number_b = b.request("line.verify", peer=a.name, confirm=True)
    assert number_a["digits"] == number_b["digits"] and number_a["verified"] and number_b["verified"]


def talk(cluster: Cluster, a: StationProc, b: StationProc) -> None:
    """Verify, both daemons up, the line up, a message each way: the line keys match on both sides."""
    confirm(a, b)
    if not (a.running and b.running):
        cluster.start_all(a, b)
    a.wait_line(b)
    b.wait_line(a)
    for sender, receiver in ((a, b), (b, a)):
        text = f"paired by code: {sender.name} to {receiver.name}"
        message = sender.send(receiver, text)
        assert sender.request("wait", id=message["id"], timeout=10)["state"] == "delivered"
        assert text in [m["text"] for m in receiver.inbox(sender)]


# -- offline -------------------------------------------------------------------------------------------------


def test_offline_pairing_makes_a_keyed_line_that_carries_messages_once_verified(
    cluster: Cluster, pool: ThreadPoolExecutor
) -> None:
    moscow, jerusalem = cluster.add("moscow"), cluster.add("jerusalem")
    first, listening, events = start_listening(pool, moscow, "jerusalem")
    connected = offline(jerusalem, "pair.connect", peer="moscow", connect=first["listen"], code=first["code"])
    listened = listening.result(timeout=WAIT)
    assert "connected" in events.get_nowait()
    assert_paired(moscow, jerusalem, listened, connected)
    talk(cluster, moscow, jerusalem)


def test_a_wrong_code_fails_both_sides_changes_nothing_and_burns_the_code(
    cluster: Cluster, pool: ThreadPoolExecutor
) -> None:
    moscow, jerusalem = cluster.add("moscow"), cluster.add("jerusalem")
    first, listening, _ = start_listening(pool, moscow, "jerusalem")
    with pytest.raises(RequestFailed) as dialer_failed:
        offline(jerusalem, "pair.connect", peer="moscow", connect=first["listen"], code=wrong(first["code"]))
    with pytest.raises(RequestFailed) as listener_failed:
        listening.result(timeout=WAIT)
    for failure in (dialer_failed.value, listener_failed.value):
        assert failure.code == "pairing-failed"
        assert failure.message == "the code did not match: nothing was changed"
    assert lines(moscow) == [] and lines(jerusalem) == []
    # one attempt per code: the port is closed now, even to the right code
    with pytest.raises(RequestFailed) as again:
        offline(jerusalem, "pair.connect", peer="moscow", connect=first["listen"], code=first["code"])
    assert again.value.code == "pairing-failed" and "cannot connect" in again.value.message
    assert lines(jerusalem) == []


def test_a_misspelt_code_is_refused_before_dialling_and_burns_nothing(
    cluster: Cluster, pool: ThreadPoolExecutor
) -> None:
    moscow, jerusalem = cluster.add("moscow"), cluster.add("jerusalem")
    first, listening, events = start_listening(pool, moscow, "jerusalem")
    number, *words = first["code"].split("-")
    for typo in (f"{number}-{words[0]}-{words[1]}", f"{number}-{words[0]}-{words[1]}-xyzzy"):
        with pytest.raises(RequestFailed) as refused:
            offline(jerusalem, "pair.connect", peer="moscow", connect=first["listen"], code=typo)
        assert refused.value.code == "bad-request"
    assert events.empty() and not listening.done()
    # the code still works, in any spelling
    spoken = " ".join([number, *(w[:3].upper() for w in words)])
    connected = offline(jerusalem, "pair.connect", peer="moscow", connect=first["listen"], code=spoken)
    assert_paired(moscow, jerusalem, listening.result(timeout=WAIT), connected)


def test_a_stray_connection_burns_the_code_and_changes_nothing(
    cluster: Cluster, pool: ThreadPoolExecutor
) -> None:
    moscow = cluster.add("moscow")
    first, listening, _ = start_listening(pool, moscow, "jerusalem")
    host, port = first["listen"].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as stray:
        stray.sendall(b"GET / HTTP/1.0\r\n\r\n")
        with pytest.raises(RequestFailed) as failed:
            listening.result(timeout=WAIT)
    assert failed.value.code == "pairing-failed" and "nothing was changed" in failed.value.message
    assert lines(moscow) == []


def test_nobody_connects_in_time(cluster: Cluster, pool: ThreadPoolExecutor) -> None:
    moscow = cluster.add("moscow")
    _, listening, _ = start_listening(pool, moscow, "jerusalem", timeout=0.5)
    with pytest.raises(RequestFailed) as failed:
        listening.result(timeout=WAIT)
    assert failed.value.code == "pairing-failed" and "nobody connected" in failed.value.message


def test_a_line_that_exists_is_refused_before_pairing(cluster: Cluster, pool: ThreadPoolExecutor) -> None:
    moscow, jerusalem = cluster.add("moscow"), cluster.add("jerusalem")
    first, listening, _ = start_listening(pool, moscow, "jerusalem")
    offline(jerusalem, "pair.connect", peer="moscow", connect=first["listen"], code=first["code"])
    listening.result(timeout=WAIT)
    for station, op, args in (
        (moscow, "pair.listen", {"peer": "jerusalem", "listen": "127.0.0.1:0"}),
        (jerusalem, "pair.connect", {"peer": "moscow", "connect": first["listen"], "code": first["code"]}),
    ):
        with pytest.raises(RequestFailed) as refused:
            offline(station, op, lambda event: pytest.fail(f"an event: {event}"), **args)
        assert refused.value.code == "line-exists"


def test_the_same_station_under_another_name_is_refused_on_both_sides(
    cluster: Cluster, pool: ThreadPoolExecutor
) -> None:
    moscow, jerusalem = cluster.add("moscow"), cluster.add("jerusalem")
    first, listening, _ = start_listening(pool, moscow, "jerusalem")
    offline(jerusalem, "pair.connect", peer="moscow", connect=first["listen"], code=first["code"])
    listening.result(timeout=WAIT)
    # moscow pairs again with jerusalem, calling it "zion": moscow refuses once it sees the card
    first, listening, _ = start_listening(pool, moscow, "zion")
    with pytest.raises(RequestFailed) as dialer_failed:
        offline(jerusalem, "pair.connect", peer="moscow-2", connect=first["listen"], code=first["code"])
    with pytest.raises(RequestFailed) as listener_failed:
        listening.result(timeout=WAIT)
    assert {dialer_failed.value.code, listener_failed.value.code} <= {"line-exists", "pairing-failed"}
    assert "line-exists" in {dialer_failed.value.code, listener_failed.value.code}
    assert [ln["peer"] for ln in lines(moscow)] == ["jerusalem"]
    assert [ln["peer"] for ln in lines(jerusalem)] == ["moscow"]


@pytest.mark.parametrize(
    "args,fragment",
    [
        ({"peer": "bad name", "connect": "127.0.0.1:1", "code": "7-hobby-beach-donkey"}, "not a line name"),
        ({"peer": "x", "connect": "nowhere", "code": "7-hobby-beach-donkey"}, "not HOST:PORT"),
        ({"peer": "x", "connect": "127.0.0.1:1", "code": "7-hobby-beach-donkey", "timeout": 0}, "timeout"),
        ({"peer": "x", "connect": "127.0.0.1:1", "code": "7-hobby", "endpoints": []}, "three words"),
        ({"peer": "x", "connect": "127.0.0.1:1", "code": "1-a-b-c", "endpoints": ["bad"]}, "endpoint"),
    ],
)
def test_bad_requests(cluster: Cluster, args: dict[str, Any], fragment: str) -> None:
    station = cluster.add("moscow")
    with pytest.raises(RequestFailed) as refused:
        offline(station, "pair.connect", **args)
    assert refused.value.code == "bad-request" and fragment in refused.value.message


# -- a peer that sends a good frame and garbage in one write ------------------------------------------

#: A whole frame of a type that does not exist: the machine fails on it after the frames before it.
GARBAGE = b"\x00\x00\x00\x01\xff"
_EARLY_FRAMES = {FrameType.PAKE, FrameType.CONFIRM}


def _frames(data: bytes) -> list[tuple[FrameType, bytes]]:
    frames = []
    while data:
        size = int.from_bytes(data[:4], "big")
        frames.append((FrameType(data[4]), data[: 4 + size]))
        data = data[4 + size :]
    return frames


def _drain(conn: socket.socket) -> None:
    """Read until the station closes the connection (it must, having failed)."""
    while conn.recv(65536):
        pass


def _play_dialer(conn: socket.socket, code: str) -> None:
    """A genuine dialer that sends its CARD with a malformed frame right behind it, in one write."""
    mallory = Identity.generate("mallory")
    card = issue_card(mallory, endpoints=["mallory.example:7000"], created_at=int(time.time()))
    machine = PairingMachine(Role.DIALER, code, card=card, now=0.0, entropy=random_bytes)
    conn.sendall(machine.data_to_send())
    while not machine.finished:
        machine.receive_data(conn.recv(65536))
        while (event := machine.next_event()) is not None:
            assert not isinstance(event, PairingFailed), event
        out = machine.data_to_send()
        if FrameType.CARD in {kind for kind, _ in _frames(out)}:
            conn.sendall(out + GARBAGE)
            return _drain(conn)
        conn.sendall(out)
    raise AssertionError("the station ended the exchange before our card")


def _play_listener(conn: socket.socket, code: str) -> None:
    """A genuine listener that holds its CARD back and sends it, the sealed line key and a malformed
    frame in one write, so the dialing station reads a card, a good line key and garbage together."""
    mallory = Identity.generate("mallory")
    card = issue_card(mallory, endpoints=["mallory.example:7000"], created_at=int(time.time()))
    machine = PairingMachine(Role.LISTENER, code, card=card, now=0.0, entropy=random_bytes)
    held = b""
    conn.sendall(machine.data_to_send())
    while not machine.finished:
        machine.receive_data(conn.recv(65536))
        while (event := machine.next_event()) is not None:
            assert not isinstance(event, PairingFailed), event
            if isinstance(event, PeerCardReceived):
                _, sealed = create_line_key(
                    sender=mallory, recipient=event.card, label="mallory-x", created_at=int(time.time())
                )
                machine.send_line_key(sealed)
        for kind, frame in _frames(machine.data_to_send()):
            if kind in _EARLY_FRAMES:
                conn.sendall(frame)
            else:
                held += frame
        if machine.state is PairingState.AWAIT_DONE:
            conn.sendall(held + GARBAGE)
            return _drain(conn)
    raise AssertionError("the station ended the exchange before our line key")


def test_a_card_and_a_malformed_frame_in_one_read_fail_the_listener_cleanly(
    cluster: Cluster, pool: ThreadPoolExecutor
) -> None:
    """The machine reports the card, then fails on the frame behind it: the station must not answer
    the card (no line key to a finished machine), and its operator gets ``pairing-failed``."""
    moscow = cluster.add("moscow")
    first, listening, _ = start_listening(pool, moscow, "mallory")
    host, port = first["listen"].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=WAIT) as conn:
        _play_dialer(conn, first["code"])
    with pytest.raises(RequestFailed) as failed:
        listening.result(timeout=WAIT)
    assert failed.value.code == "pairing-failed"
    assert failed.value.message == (
        "the other station broke the pairing protocol: unknown frame type 255: nothing was changed"
    )
    assert lines(moscow) == []


def test_a_line_key_and_a_malformed_frame_in_one_read_store_nothing_on_the_dialer(
    cluster: Cluster, pool: ThreadPoolExecutor
) -> None:
    """The dialer reads the card, a line key that opens, and garbage at once: it must not store the
    line (the exchange already failed, so no "done" can follow) and must say ``pairing-failed``."""
    jerusalem = cluster.add("jerusalem")
    code = new_code(random_bytes)
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(WAIT)
        port = server.getsockname()[1]
        dialing = pool.submit(
            offline, jerusalem, "pair.connect", peer="mallory", connect=f"127.0.0.1:{port}", code=code
        )
        conn, _ = server.accept()
    with conn:
        conn.settimeout(WAIT)
        _play_listener(conn, code)
    with pytest.raises(RequestFailed) as failed:
        dialing.result(timeout=WAIT)
    assert failed.value.code == "pairing-failed"
    assert failed.value.message == (
        "the other station broke the pairing protocol: unknown frame type 255: nothing was changed"
    )
    assert lines(jerusalem) == []


# -- with the daemons running ------------------------------------------------------------------------------


def test_pairing_through_running_daemons(cluster: Cluster, pool: ThreadPoolExecutor) -> None:
    moscow, jerusalem = cluster.add("moscow"), cluster.add("jerusalem")
    cluster.start_all(moscow, jerusalem)
    first, listening, _ = start_listening(pool, moscow, "jerusalem", daemon=True)
    connected = control_request(
        jerusalem.control,
        "pair.connect",
        {"peer": "moscow", "connect": first["listen"], "code": first["code"]},
    )
    listened = listening.result(timeout=WAIT)
    assert_paired(moscow, jerusalem, listened, connected)
    talk(cluster, moscow, jerusalem)


def test_a_newer_pairing_replaces_one_still_waiting(cluster: Cluster, pool: ThreadPoolExecutor) -> None:
    """The operator gave up (Ctrl-C cannot reach the daemon's pairing) and runs the command again."""
    moscow = cluster.add("moscow")
    cluster.start_all(moscow)
    old, old_listening, _ = start_listening(pool, moscow, "jerusalem", daemon=True)
    _, new_listening, _ = start_listening(pool, moscow, "jerusalem", daemon=True, timeout=0.5)
    with pytest.raises(RequestFailed) as replaced:
        old_listening.result(timeout=WAIT)
    assert replaced.value.code == "pairing-failed" and "replaced" in replaced.value.message
    host, port = old["listen"].rsplit(":", 1)
    wait_for(lambda: _refused(host, int(port)), 5, "the old port closes")
    with pytest.raises(RequestFailed):
        new_listening.result(timeout=WAIT)


def _refused(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        return True
    return False


# -- the command ---------------------------------------------------------------------------------------------

_CLI = (
    "from hotline.cli.main import cli; from hotline.cli.pairing import pair; "
    "'pair' in cli.commands or cli.add_command(pair); cli()"
)


def _env() -> dict[str, str]:
    env = {**os.environ, "HOTLINE_PASSPHRASE": PASSPHRASE, "PYTHONUNBUFFERED": "1", "COLUMNS": "160"}
    env.pop("HOTLINE_HOME", None)
    return env


def _cli_listen(home: Path, peer: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            _CLI,
            "--home",
            str(home),
            "--json",
            "pair",
            peer,
            "--listen",
            "127.0.0.1:0",
            "--timeout",
            "30",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )


def _read_line(stream: Any, timeout: float = WAIT) -> str:
    box: list[str] = []
    reader = threading.Thread(target=lambda: box.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    assert box, "no line in time"
    return box[0]


def _cli_connect(home: Path, *args: str) -> Any:
    from hotline.cli.main import cli
    from hotline.cli.pairing import pair

    added = "pair" not in cli.commands
    if added:
        cli.add_command(pair)
    try:
        return CliRunner().invoke(cli, ["--home", str(home), "pair", *args], env=_env())
    finally:
        if added:
            cli.commands.pop("pair", None)


WRONG_CODE_LINE = (
    "hotline: the code did not match: nothing was changed;"
    " start the pairing again at both stations (`hotline pair PEER`)\n"
)


def test_the_command_pairs_and_a_wrong_code_fails_in_one_line(cluster: Cluster) -> None:
    moscow, jerusalem = cluster.add("moscow"), cluster.add("jerusalem")
    # a wrong code first: both commands fail with the same sentence, nothing is stored
    listener = _cli_listen(moscow.home, "jerusalem")
    try:
        first = json.loads(_read_line(listener.stdout))
        result = _cli_connect(
            jerusalem.home, "moscow", "--connect", first["listen"], "--code", wrong(first["code"])
        )
        assert result.exit_code == 1, result.output
        assert result.stderr == WRONG_CODE_LINE
        _, err = listener.communicate(timeout=WAIT)
        assert listener.returncode == 1 and err == WRONG_CODE_LINE
    finally:
        listener.kill()
        listener.wait()
    assert lines(moscow) == [] and lines(jerusalem) == []

    # the right code
    listener = _cli_listen(moscow.home, "jerusalem")
    try:
        first = json.loads(_read_line(listener.stdout))
        result = _cli_connect(jerusalem.home, "moscow", "--connect", first["listen"], "--code", first["code"])
        assert result.exit_code == 0, result.output
        # F2: the line is not verified; the command says what to compare and what to run next
        assert "line to moscow added with its line key; it is not verified yet" in result.stdout
        assert "next: compare this safety number with moscow's operator" in result.stdout
        assert "hotline line verify moscow --confirm" in result.stdout
        out, err = listener.communicate(timeout=WAIT)
        assert listener.returncode == 0, err
        *events, last = [json.loads(line) for line in out.splitlines()]
        assert "connected" in events[0]
        assert not last["verified"] and last["peer"] == "jerusalem"
        assert last["next"] == "hotline line verify jerusalem --confirm"
        assert " ".join(last["groups"][:6]) in result.stdout
    finally:
        listener.kill()
        listener.wait()


def test_the_command_shows_the_code_and_checks_its_options(cluster: Cluster) -> None:
    moscow = cluster.add("moscow")
    both = _cli_connect(moscow.home, "x", "--listen", "127.0.0.1:0", "--connect", "127.0.0.1:1")
    assert both.exit_code == 2 and "exactly one of --listen" in both.output
    code_on_listen = _cli_connect(moscow.home, "x", "--listen", "127.0.0.1:0", "--code", "1-a-b-c")
    assert code_on_listen.exit_code == 2
    no_code = _cli_connect(moscow.home, "x", "--connect", "127.0.0.1:1")
    assert no_code.exit_code == 2 and "--code" in no_code.output
    # the human form of the code event
    waiting = _cli_connect(moscow.home, "jerusalem", "--listen", "127.0.0.1:0", "--timeout", "0.3")
    assert waiting.exit_code == 1
    assert "pairing code for jerusalem" in waiting.stdout
    assert "hotline pair moscow --connect 127.0.0.1:" in waiting.stdout
    assert waiting.stderr.startswith("hotline: nobody connected")
