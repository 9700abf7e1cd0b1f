"""The wheel built from this tree installs a working ``hotline`` (what ``pipx install .`` does).

The wheel is built from a copy of the tree (``pip wheel --no-deps --no-build-isolation``, so nothing
is fetched and the tree gets no build directories) and installed into a fresh virtualenv. That
virtualenv reaches the project's installed dependencies through a ``.pth`` line naming the running
interpreter's site-packages, so no network is needed; a ``.pth`` line adds a directory without
reading the ``.pth`` files in it, so the tree's editable install of ``hotline`` stays out of reach and
the installed wheel is what runs. The commands then run from the installed entry point, in a scratch
home, from a directory outside the tree, without ``PYTHONPATH``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

from tests.support.stations import PASSPHRASE

TREE = Path(__file__).resolve().parents[2]
#: Files inside the package the wheel must carry besides its modules.
PACKAGE_DATA = ("hotline/py.typed", "hotline/console/console.tcss", "hotline/voice/samples/speech.wav")


def _run(args: list[str | Path], *, cwd: Path, env: dict[str, str], timeout: float = 120) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{args} exited with {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _build_wheel(work: Path, env: dict[str, str]) -> Path:
    source = work / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(TREE / name, source / name)
    shutil.copytree(
        TREE / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    )
    dist = work / "dist"
    pip_wheel = ["wheel", "--no-deps", "--no-build-isolation", "--no-index", "--quiet", "-w", dist, source]
    _run([sys.executable, "-m", "pip", *pip_wheel], cwd=work, env=env)
    (wheel,) = dist.glob("hotline-*.whl")
    return wheel


def _fresh_venv(work: Path, wheel: Path, env: dict[str, str]) -> Path:
    venv = work / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=work, env=env)
    python = venv / "bin" / "python"
    site = _run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=work, env=env
    )
    (Path(site.strip()) / "project-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    pip_install = ["--python", python, "install", "--no-deps", "--no-index", "--quiet", wheel]
    _run([sys.executable, "-m", "pip", *pip_install], cwd=work, env=env)
    return venv


def test_the_wheel_installs_a_working_hotline(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HOTLINE_HOME", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    wheel = _build_wheel(tmp_path, env)
    carried = set(zipfile.ZipFile(wheel).namelist())
    assert set(PACKAGE_DATA) <= carried, sorted(set(PACKAGE_DATA) - carried)
    assert not [name for name in carried if name.startswith("tests/")], "tests must stay out of the wheel"

    venv = _fresh_venv(tmp_path, wheel, env)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    hotline = venv / "bin" / "hotline"
    # the package, its shipped clip and the voice codec, as the installed interpreter finds them
    probe = (
        "import hotline; from hotline.voice.quality import speech_sample; "
        "from hotline.voice.codec import FRAME_BYTES, Decoder, Encoder; "
        "print(hotline.__file__); print(speech_sample()); "
        "print(len(Decoder().decode(Encoder().encode(bytes(FRAME_BYTES)))) == FRAME_BYTES)"
    )
    module, sample, voice = _run([venv / "bin" / "python", "-c", probe], cwd=outside, env=env).split()
    assert Path(module).is_relative_to(venv), f"hotline came from {module}, not from the wheel"
    assert Path(sample).is_relative_to(venv) and Path(sample).is_file(), sample
    assert voice == "True", "Opus did not round-trip a frame"

    assert re.fullmatch(r"hotline \d+\.\d+\S*\n", _run([hotline, "--version"], cwd=outside, env=env))
    assert "Usage: hotline" in _run([hotline, "--help"], cwd=outside, env=env)
    env["HOTLINE_PASSPHRASE"] = PASSPHRASE
    home = tmp_path / "moscow"
    made = _run([hotline, "--home", home, "init", "moscow", "--listen", "127.0.0.1:7443", "--kdf", "light"],
                cwd=outside, env=env)  # fmt: skip
    assert "fingerprint" in made, made
    card = tmp_path / "moscow.card"
    _run([hotline, "--home", home, "card", "--out", card], cwd=outside, env=env)
    assert card.stat().st_size > 0

    # bash completion through the installed command, as the README enables it
    script = (
        'eval "$(_HOTLINE_COMPLETE=bash_source hotline)"; '
        'COMP_WORDS=(hotline li); COMP_CWORD=1; _hotline_completion hotline; echo "${COMPREPLY[*]}"'
    )
    assert _run(["bash", "-c", script], cwd=outside, env=env).split() == ["line"]
