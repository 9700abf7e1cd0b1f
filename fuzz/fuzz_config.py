"""Fuzz target ``config``: reading ``station.toml``.

Input: the file's bytes, written to a temporary ``station.toml`` and read with
:func:`hotline.station.config.load_config`, the path ``hotline up`` takes.

Contract (module docstring of :mod:`hotline.station.config`): a refusal is a :class:`StationError`
with code ``bad-config`` naming the file, never another exception; a config that loads keeps every
rule (:func:`~hotline.station.config._problem` finds nothing), and saving it and loading it again
gives the same config.
"""

from __future__ import annotations

import atexit
import shutil
import sys
import tempfile
from pathlib import Path

from fuzz import instrumented, suppressing_known

with instrumented(__name__):
    from hotline.station.config import _problem, load_config, save_config
    from hotline.station.errors import StationError

_DIR = Path(tempfile.mkdtemp(prefix="hotline-fuzz-config-"))
atexit.register(shutil.rmtree, _DIR, ignore_errors=True)
_PATH = _DIR / "station.toml"
_SAVED = _DIR / "saved.toml"


def test_one_input(data: bytes) -> None:
    """Check the config reader's contract on one input (see the module docstring)."""
    _PATH.write_bytes(data)
    try:
        config = load_config(_PATH)
    except StationError as exc:
        assert exc.code == "bad-config" and str(_PATH) in exc.message
        return
    assert _problem(config) is None
    save_config(_SAVED, config)
    assert load_config(_SAVED) == config, "a saved config reads back differently"


def main() -> None:
    import atheris

    atheris.Setup(sys.argv, suppressing_known(test_one_input))
    atheris.Fuzz()


if __name__ == "__main__":
    main()
