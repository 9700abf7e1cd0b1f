"""``hotline demo``: three stations on this machine, each its own process, driven by the real CLI.

Every step is a ``hotline`` command run exactly as an operator would type it (printed before its
output), against station directories in a temporary folder: create stations, exchange cards, carry
the sealed line key, compare safety numbers, start the daemons, send a FLASH message and a reply with
receipts and acknowledgements, test the line, show the status of both, then pair a third station
with one of them by a spoken code (and compare the safety number, which the code does not replace)
to show that lines are separate. Everything is real: key files under a passphrase,
SQLite stores, loopback TCP with the hybrid post-quantum handshake, daemons stopped with SIGTERM.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.panel import Panel

from hotline.cli import render
from hotline.cli.errors import Failure

PASSPHRASE = "correct horse battery staple"  # a demo passphrase; a real operator types their own


class DemoFailed(Failure):
    """A step of the demo failed: one ``hotline: …`` line saying which, exit code 1."""


def _free_port(taken: set[int]) -> int:
    # Below the kernel's ephemeral range: a port the kernel handed us and we closed again may be given
    # to any outgoing connection before our daemon binds it; one below the range is only ours to take.
    low = 32768
    with contextlib.suppress(OSError, ValueError):
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(max(1024, low - 12000), low)
        if port in taken:
            continue
        with socket.socket() as s, contextlib.suppress(OSError):
            s.bind(("127.0.0.1", port))
            taken.add(port)
            return port
    raise DemoFailed("no free port for a demo station on 127.0.0.1")


class _Demo:
    def __init__(self, console: Console, root: Path) -> None:
        self.console = console
        self.root = root
        # the stations' output is laid out for our width, less the indent we print it with
        width = str(max(console.width - 2, 60))
        self.env = dict(os.environ, HOTLINE_PASSPHRASE=PASSPHRASE, COLUMNS=width, NO_COLOR="1")
        self.env.pop("HOTLINE_HOME", None)
        self.daemons: dict[str, subprocess.Popen[bytes]] = {}
        self.ports: dict[str, int] = {}

    def home(self, station: str) -> Path:
        return self.root / station

    def hotline(self, station: str, *args: str, show: bool = True, check: bool = True) -> str:
        """Run ``hotline --home STATION ARGS`` and print the command line and its output."""
        command = [sys.executable, "-m", "hotline", "--home", str(self.home(station)), *args]
        shown = "hotline --home " + station + " " + " ".join(shlex.quote(a) for a in args)
        result = subprocess.run(
            command, env=self.env, capture_output=True, text=True, cwd=self.root, timeout=120
        )
        output = (result.stdout + result.stderr).rstrip()
        if show:
            self.console.print(f"[bold cyan]$ {shown}[/]", highlight=False, soft_wrap=True)
            if output:
                self.console.print(
                    "  " + output.replace("\n", "\n  "), highlight=False, markup=False, soft_wrap=True
                )
        if check and result.returncode != 0:
            raise DemoFailed(f"`{shown}` failed ({result.returncode}): {output}")
        return result.stdout

    def json(self, station: str, *args: str) -> dict[str, object]:
        out = self.hotline(station, "--json", *args, show=False)
        return dict(json.loads(out))

    def create(self, station: str) -> None:
        self.ports.setdefault(station, _free_port(set(self.ports.values())))
        self.hotline(station, "init", station, "--listen", f"127.0.0.1:{self.ports[station]}")

    def link(self, a: str, b: str) -> None:
        """Exchange cards, carry a line key from ``a`` to ``b``, compare and confirm the safety number."""
        for x, y in ((a, b), (b, a)):
            card = self.root / f"{x}.card"
            self.hotline(x, "card", "--out", str(card))
            self.hotline(y, "line", "add", x, str(card), "--endpoint", f"127.0.0.1:{self.ports[x]}")
        sealed = self.root / f"{a}-to-{b}.linekey"
        self.hotline(a, "line", "grant", b, "--out", str(sealed))
        self.hotline(b, "line", "accept", a, str(sealed))
        self.hotline(a, "line", "verify", b)
        number_a = self.json(a, "line", "verify", b)["digits"]
        number_b = self.json(b, "line", "verify", a)["digits"]
        verdict = "the same at both stations" if number_a == number_b else "DIFFERENT: stop here"
        self.console.print(f"  [green]the operators read the numbers to each other: {verdict}[/]")
        self.hotline(a, "line", "verify", b, "--confirm")
        self.hotline(b, "line", "verify", a, "--confirm")

    def pair(self, a: str, b: str, profile: str = "standard") -> None:
        """``a`` shows a pairing code, ``b`` types it; then they compare the safety number and confirm.
        ``profile`` is the line's; both operators give it.

        The code makes the line and carries its key, but does not verify it: whoever heard the code
        could have paired with both stations in between (docs/protocol.md §11).
        """
        port = _free_port(set(self.ports.values()))
        listen = f"127.0.0.1:{port}"
        chosen = [] if profile == "standard" else ["--profile", profile]
        shown_profile = "".join(f" {word}" for word in chosen)
        self.console.print(
            f"[bold cyan]$ hotline --home {a} pair {b} --listen {listen}{shown_profile} &[/]"
            "  [dim](another terminal)[/]"
        )
        command = [sys.executable, "-m", "hotline", "--home", str(self.home(a)), "--json", "pair", b]
        listener = subprocess.Popen(
            [*command, "--listen", listen, "--timeout", "60", *chosen],
            env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=self.root,
        )  # fmt: skip
        try:
            assert listener.stdout is not None
            shown = json.loads(listener.stdout.readline() or "{}")
            if "code" not in shown:
                raise DemoFailed(f"`hotline pair` at {a} showed no code: {listener.communicate()[1]}")
            code = str(shown["code"])
            self.console.print(f"  {a}'s operator reads the code {code} to {b}'s operator over the phone")
            self.hotline(b, "pair", a, "--connect", listen, "--code", code, *chosen)
            _, err = listener.communicate(timeout=60)
            if listener.returncode != 0:
                raise DemoFailed(f"`hotline pair` at {a} failed: {err.strip()}")
        finally:
            if listener.poll() is None:
                listener.kill()
                listener.wait()
        number_a = self.json(a, "line", "verify", b)["digits"]
        number_b = self.json(b, "line", "verify", a)["digits"]
        verdict = "the same at both stations" if number_a == number_b else "DIFFERENT: stop here"
        self.console.print(
            f"  [green]the operators read the safety numbers to each other: {verdict}[/] (the code alone "
            "proves nothing: anyone who overheard it could have paired with both in between)"
        )
        self.hotline(a, "line", "verify", b, "--confirm")
        self.hotline(b, "line", "verify", a, "--confirm")

    def up(self, station: str) -> None:
        log = (self.home(station) / "daemon.log").open("wb")
        command = [sys.executable, "-m", "hotline", "--home", str(self.home(station)), "up"]
        self.console.print(
            f"[bold cyan]$ hotline --home {station} up &[/]  [dim](logs in {station}/daemon.log)[/]"
        )
        self.daemons[station] = subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        log.close()

    def wait_up(self, station: str, peer: str, timeout: float = 30.0) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            for name, process in self.daemons.items():
                if process.poll() is not None:
                    log = (self.home(name) / "daemon.log").read_text(errors="replace").strip().splitlines()
                    why = f"{name}'s daemon stopped (exit {process.returncode}): {' | '.join(log[-3:])}"
                    if "already in use" in why:
                        # the port was free when the demo chose it; another program took it since
                        why += "; another program took the port the demo chose: run `hotline demo` again"
                    raise DemoFailed(why)
            if not (self.home(station) / "control.sock").exists():
                time.sleep(0.1)  # not serving yet; asking now would open the station offline
                continue
            with contextlib.suppress(DemoFailed, ValueError):
                status = self.json(station, "status")
                lines = status["lines"]
                assert isinstance(lines, list)
                if any(line["peer"] == peer and line["state"] == "up" for line in lines):
                    return time.monotonic() - started
            time.sleep(0.2)
        raise DemoFailed(f"the line {station} → {peer} did not come up within {timeout:g} s")

    def newest_inbox_id(self, station: str, peer: str) -> str:
        inbox = self.json(station, "inbox", "--peer", peer)
        messages = inbox["messages"]
        assert isinstance(messages, list) and messages
        return str(messages[-1]["id"])

    def stop_all(self) -> None:
        for process in self.daemons.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.daemons.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def run_demo(port: int = 0) -> None:
    """Run the demo and print what happens (``port``, when given, is jerusalem's)."""
    console = render.console()
    with tempfile.TemporaryDirectory(prefix="hotline-demo-") as tmp:
        demo = _Demo(console, Path(tmp))
        if port:
            demo.ports["jerusalem"] = port
        try:
            _script(demo)
        finally:
            demo.stop_all()


#: What moscow says on the demo call (spoken by espeak-ng where it is installed).
CALL_TEXT = (
    "This is Moscow calling Jerusalem on the hotline. We confirm receipt of your message. "
    "Please read back the four words on your screen, so we know nobody is on this line but us."
)


def _speech(root: Path) -> tuple[Path, str]:
    """The demo call's speech: espeak-ng where installed, else the clip shipped with Hotline."""
    from hotline.voice.quality import speech_sample

    if shutil.which("espeak-ng"):
        out = root / "moscow-speaks.wav"
        done = subprocess.run(
            ["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(out), CALL_TEXT],
            capture_output=True,
            timeout=60,
        )
        if done.returncode == 0 and out.exists():
            return out, "spoken now by espeak-ng"
    return speech_sample(), "the speech clip shipped with Hotline (espeak-ng is not installed)"


def _call(demo: _Demo) -> None:
    console = demo.console
    speech, origin = _speech(demo.root)
    heard = demo.root / "jerusalem-heard.wav"
    console.print(f"  moscow's side of the call is a WAV file: {origin}")
    # jerusalem's operator picks up when it rings (a second terminal, here a background process)
    answer_out = (demo.root / "answer.out").open("w+")
    shown = f"hotline --home jerusalem answer moscow --wait 30 --record {heard.name}"
    console.print(f"[bold cyan]$ {shown} &[/]", highlight=False, soft_wrap=True)
    answering = subprocess.Popen(
        [sys.executable, "-m", "hotline", "--home", str(demo.home("jerusalem")), "answer", "moscow",
         "--wait", "30", "--record", str(heard)],
        env=demo.env, stdout=answer_out, stderr=subprocess.STDOUT, cwd=demo.root,
    )  # fmt: skip
    try:
        demo.hotline("moscow", "call", "jerusalem", "--play", str(speech))
        answering.wait(timeout=30)
    finally:
        if answering.poll() is None:
            answering.kill()
            answering.wait()
    answer_out.seek(0)
    console.print("  [dim]jerusalem's terminal:[/]")
    console.print("  " + answer_out.read().rstrip().replace("\n", "\n  "), markup=False, soft_wrap=True)
    answer_out.close()
    calls = {name: demo.json(name, "calls")["calls"] for name in ("moscow", "jerusalem")}
    assert isinstance(calls["moscow"], list) and isinstance(calls["jerusalem"], list)
    demo.hotline("moscow", "calls")
    try:
        from hotline.voice.quality import pesq_wb

        quality = pesq_wb(speech, heard)
        console.print(
            f"  [green]PESQ-WB of what jerusalem recorded, against what moscow played: {quality:.2f}[/] "
            "(ITU-T P.862.2; 4.0 and up is toll quality or better)"
        )
    except Exception as exc:  # the meter is optional for the demo's story; say why it is missing
        console.print(f"  [yellow]PESQ could not be measured: {exc}[/]")


def _document(demo: _Demo) -> None:
    import hashlib

    console = demo.console
    source = demo.root / "treaty-draft.bin"
    with source.open("wb") as f:
        for n in range(4):  # 4 MiB of stand-in content
            f.write(hashlib.sha256(b"treaty %d" % n).digest() * (2**20 // 32))
    demo.hotline("moscow", "send-file", "jerusalem", str(source), "--precedence", "priority")
    demo.hotline("jerusalem", "files")
    documents = demo.json("jerusalem", "files")["documents"]
    assert isinstance(documents, list) and documents
    received = demo.root / "received" / "treaty-draft.bin"
    received.parent.mkdir()
    demo.hotline("jerusalem", "file", "get", str(documents[-1]["id"]), "--out", str(received))
    same = hashlib.sha256(received.read_bytes()).digest() == hashlib.sha256(source.read_bytes()).digest()
    console.print(
        f"  [green]the file jerusalem wrote out is {'identical to' if same else 'DIFFERENT from'} "
        "what moscow sent[/]; in jerusalem's store it is sealed, under its id, not its name"
    )


def _step(console: Console, text: str) -> None:
    console.print(f"\n[bold]{text}[/]")


def _script(demo: _Demo) -> None:
    console = demo.console
    console.rule("[bold]Hotline demo: moscow ⇄ jerusalem, then washington")
    console.print(
        f"Three stations in {demo.root}, each driven by the `hotline` command; the passphrase comes from "
        "HOTLINE_PASSPHRASE."
    )

    _step(console, "1. moscow and jerusalem create their stations (keys sealed under the passphrase)")
    demo.create("moscow")
    demo.create("jerusalem")
    wrong = subprocess.run(
        [sys.executable, "-m", "hotline", "--home", str(demo.home("moscow")), "line", "list"],
        env=dict(demo.env, HOTLINE_PASSPHRASE="wrong passphrase"),
        capture_output=True,
        text=True,
    )
    console.print(
        f"  a wrong passphrase is refused (exit {wrong.returncode}): {wrong.stderr.strip()}", markup=False
    )

    _step(console, "2. They exchange cards, carry the sealed line key, and confirm the safety number")
    demo.link("moscow", "jerusalem")

    _step(console, "3. Both stations go on duty (separate daemon processes)")
    demo.up("moscow")
    demo.up("jerusalem")
    took = demo.wait_up("moscow", "jerusalem")
    demo.wait_up("jerusalem", "moscow")
    console.print(f"  [green]the line is up[/] after {took:.1f} s (hybrid X25519 + ML-KEM-768 handshake)")

    _step(console, "4. moscow sends a FLASH message and waits for the delivery receipt")
    demo.hotline(
        "moscow", "send", "jerusalem", "--precedence", "flash", "--wait",
        "This is Moscow. Please confirm you are receiving this line.",
    )  # fmt: skip
    demo.hotline("jerusalem", "inbox")
    first = demo.newest_inbox_id("jerusalem", "moscow")
    demo.hotline("jerusalem", "ack", first)

    _step(console, "5. jerusalem replies; moscow reads and acknowledges")
    demo.hotline(
        "jerusalem", "send", "moscow", "--precedence", "immediate", "--wait",
        "Jerusalem receiving you clearly. Standing by.",
    )  # fmt: skip
    reply = demo.newest_inbox_id("moscow", "jerusalem")
    demo.hotline("moscow", "ack", reply)
    time.sleep(0.3)  # the acknowledgement crosses the line
    demo.hotline("moscow", "log", "jerusalem")

    _step(console, "6. A line test crosses both stores and compares the transcripts' hash chains")
    demo.hotline("moscow", "test", "jerusalem")

    _step(console, "7. Status at both stations")
    demo.hotline("moscow", "status")
    demo.hotline("jerusalem", "status")

    _step(console, "8. moscow calls jerusalem; jerusalem answers and records what it hears")
    _call(demo)

    _step(console, "9. moscow sends jerusalem a document; jerusalem verifies it and writes it out")
    _document(demo)

    _step(
        console,
        "10. washington pairs with jerusalem by a code read over the phone, on a cnsa2 line"
        " (aligned with CNSA 2.0: ML-KEM-1024, AES-256-GCM, SHA-384, ML-DSA-87), then verifies",
    )
    demo.create("washington")
    demo.pair("jerusalem", "washington", profile="cnsa2")
    demo.up("washington")
    demo.wait_up("washington", "jerusalem")
    demo.wait_up("jerusalem", "washington")
    demo.hotline("washington", "send", "jerusalem", "--wait", "Washington here. Routine check of our line.")
    demo.hotline("jerusalem", "inbox")
    demo.hotline("jerusalem", "status")
    moscow_lines = demo.json("moscow", "line", "list")["lines"]
    assert isinstance(moscow_lines, list)
    names = ", ".join(str(line["peer"]) for line in moscow_lines)
    console.print(
        f"  moscow still holds only its own line ({names}): lines are separate, each with its own keys"
    )

    _step(console, "11. A stranger connects to jerusalem's port and sends garbage")
    with socket.create_connection(("127.0.0.1", demo.ports["jerusalem"]), timeout=2) as stranger:
        stranger.sendall(os.urandom(1500))
        stranger.settimeout(1.0)
        try:
            answer = stranger.recv(1024)
        except TimeoutError:
            answer = b""
    console.print(f"  jerusalem answered {len(answer)} bytes: a station says nothing to the unauthenticated")

    demo.stop_all()
    console.print()
    console.print(
        Panel(
            "Two stations paired and verified, a FLASH message and a reply delivered with receipts "
            "and acknowledgements, a line test through both stores, an encrypted voice call with its "
            "short authentication string and measured quality, a verified document, and a third station "
            "on its own line. "
            "Stores, keys, recordings and logs were in the temporary directory, removed now.",
            title="What happened",
        )
    )
