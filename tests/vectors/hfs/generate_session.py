"""Generate ``golden-session-standard.json`` and ``golden-session-cnsa2.json``: every byte of one
deterministic session per line profile (``tests/support/goldsession.py``).

Usage: ``python tests/vectors/hfs/generate_session.py PROFILE [--check]`` from the repository root.
The standard file was written by the code from before line profiles existed, so the test that runs
the same session on today's code and compares shows the standard wire unchanged; the cnsa2 file pins
the cnsa2 session the same way. Regenerating changes the golden bytes: only on a deliberate change.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from tests.support.goldsession import run

HERE = Path(__file__).resolve().parent


def output(profile: str) -> Path:
    """Where a profile's golden session lives."""
    return HERE / f"golden-session-{profile}.json"


def render(profile: str) -> str:
    """The file's text."""
    return json.dumps(run(profile), indent=1) + "\n"


def main(argv: list[str]) -> int:
    profile = argv[0]
    text = render(profile)
    if "--check" in argv:
        return 0 if output(profile).read_text() == text else 1
    output(profile).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
