"""A PulseAudio sound server of the test's own, with virtual sound cards and no hardware.

:class:`SoundServer` starts ``pulseaudio`` in the foreground on a Unix socket in a scratch directory
(as root too: the server only warns that it is meant for a desktop user) and loads one null sink per
device the test asks for. A null sink is a speaker that plays nowhere; its monitor source is a
microphone that hears what was played into the sink. So "station alpha's microphone" is a null sink
the test plays a clip into, and alpha reads that sink's monitor; "bravo's speaker" is a null sink
bravo plays into, and the test records its monitor.

Programs reach the server as PortAudio does on a Debian desktop: ALSA's ``pulse`` plugin (Debian's
libasound2-plugins). The server writes an ALSA configuration that names one PCM per device
(``hotline_<name>``: the monitor for a microphone, the sink for a speaker), with a hint so PortAudio
lists it under that name; :meth:`SoundServer.client_env` points ALSA at it (``XDG_CONFIG_HOME``) and
the pulse clients at the server (``PULSE_SERVER``). Nothing here touches a sound server or ALSA
configuration the machine may have.

Tests never skip for want of these programs: a missing program or a server that does not come up
fails with what to install or the server's log.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
import wave
from pathlib import Path

#: 48 kHz mono 16-bit, the call's own format, so the server converts nothing.
RATE = 48_000

_PROGRAMS = {
    "pulseaudio": "pulseaudio",
    "pactl": "pulseaudio-utils",
    "paplay": "pulseaudio-utils",
    "parec": "pulseaudio-utils",
}


class SoundServer:
    """A private PulseAudio server with a null sink per device name (see the module's docstring)."""

    def __init__(self, devices: list[str]) -> None:
        for program, package in _PROGRAMS.items():
            if shutil.which(program) is None:
                raise AssertionError(
                    f"`{program}` is not installed: the sound card test needs Debian's {package} "
                    "(scripts/debian-packages.txt lists it)"
                )
        self.devices = devices
        # a Unix socket path must stay under ~107 bytes: a short directory under the system temp
        self.root = Path(tempfile.mkdtemp(prefix="hl-pa-"))
        self.socket = self.root / "native"
        self.log = self.root / "pulse.log"
        self._write_config()
        self.proc = subprocess.Popen(
            [
                "pulseaudio",
                "--daemonize=no",
                "--system=false",
                "--exit-idle-time=-1",
                "--use-pid-file=no",
                "-n",
                "-F",
                str(self.root / "server.pa"),
                f"--log-target=file:{self.log}",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            env=self._server_env(),
            start_new_session=True,
        )
        self._awake: list[Recorder] = []
        try:
            self._wait_ready(timeout=15.0)
            # A null sink that nobody listens to at a low latency sleeps up to 2 s at a time, and
            # a client that joins it waits for it to wake: a real sound card ticks every few
            # milliseconds from the start. A listener on each sink keeps them ticking like one.
            self._awake = [self.record(name, Path(os.devnull)) for name in devices]
        except BaseException:
            self.close()
            raise

    def _server_env(self) -> dict[str, str]:
        # its own home, runtime and config folders: no cookie, state or config of the machine's user
        return {
            "PATH": "/usr/bin:/bin",
            "HOME": str(self.root),
            "XDG_RUNTIME_DIR": str(self.root),
            "XDG_CONFIG_HOME": str(self.root / "config"),
            "XDG_STATE_HOME": str(self.root / "state"),
            "PULSE_STATE_PATH": str(self.root / "state"),
            "PULSE_RUNTIME_PATH": str(self.root),
        }

    def client_env(self) -> dict[str, str]:
        """What a process needs in its environment to use this server's devices through ALSA."""
        return {"PULSE_SERVER": f"unix:{self.socket}", "XDG_CONFIG_HOME": str(self.root / "config")}

    def _write_config(self) -> None:
        lines = [f"load-module module-native-protocol-unix auth-anonymous=1 socket={self.socket}"]
        lines += [
            f"load-module module-null-sink sink_name={name} rate={RATE} channels=1 format=s16le"
            for name in self.devices
        ]
        (self.root / "server.pa").write_text("\n".join(lines) + "\n")
        alsa = self.root / "config" / "alsa"
        alsa.mkdir(parents=True)
        pcms = []
        for name in self.devices:
            # "…_mic" devices are heard through the sink's monitor; the others are played into
            target = f"{name}.monitor" if name.endswith("_mic") else name
            pcms.append(
                f'pcm.hotline_{name} {{ type pulse; device "{target}"; '
                f'hint {{ show on; description "test device {name}" }} }}'
            )
        (alsa / "asoundrc").write_text("\n".join(pcms) + "\n")

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"pulseaudio exited with {self.proc.returncode}:\n{self.log_tail()}")
            done = subprocess.run(
                ["pactl", "list", "short", "sinks"],
                env={**self._server_env(), **self.client_env()},
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode == 0 and all(name in done.stdout for name in self.devices):
                return
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"pulseaudio did not answer on {self.socket} within {timeout} s "
                    f"({done.stderr.strip()}):\n{self.log_tail()}"
                )
            time.sleep(0.1)

    def play(self, name: str, clip: Path) -> subprocess.Popen[bytes]:
        """Start playing a WAV file into the null sink ``name`` (a station's microphone)."""
        return subprocess.Popen(
            ["paplay", "--device", name, str(clip)],
            env={**self._server_env(), **self.client_env()},
            stderr=subprocess.PIPE,
        )

    def record(self, name: str, raw: Path) -> Recorder:
        """Start recording what is played into ``name`` (a station's speaker) to a raw PCM file."""
        return Recorder(raw, self._server_env() | self.client_env(), f"{name}.monitor")

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def close(self) -> None:
        for listener in self._awake:
            listener.kill()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> SoundServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Recorder:
    """``parec`` writing a source's 48 kHz mono PCM to a file until :meth:`stop`."""

    def __init__(self, raw: Path, env: dict[str, str], source: str) -> None:
        self.raw = raw
        with raw.open("wb") as out:
            self.proc = subprocess.Popen(
                [
                    "parec",
                    "--device",
                    source,
                    "--latency-msec=20",
                    "--raw",
                    "--format=s16le",
                    f"--rate={RATE}",
                    "--channels=1",
                ],
                stdout=out,
                stderr=subprocess.PIPE,
                env=env,
            )

    def stop(self, wav: Path) -> Path:
        """Stop recording and write what was recorded as a WAV file."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        pcm = self.raw.read_bytes()
        with wave.open(str(wav), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(RATE)
            out.writeframes(pcm[: len(pcm) // 2 * 2])
        return wav

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        self.proc.wait()
