"""Screenshots of the operator console for the README: board, FLASH, verification and a call.

Runs three real station daemons on loopback (tests/support/stations.py): moscow, with lines to
washington and jerusalem. Washington and moscow trade a few messages, a line test runs, jerusalem's
daemon is killed so its line goes down (the alarm banner), washington sends a FLASH, and moscow calls
washington (which answers by itself) playing the shipped speech clip. The console on moscow is driven
with Textual's pilot; each screen is saved as SVG and converted to PNG with ``rsvg-convert``.

    .venv/bin/python scripts/console-screenshots.py [OUT_DIR]   # default docs/screenshots
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: The terminal size of the screenshots: roomy enough for the wide layout.
SIZE = (124, 34)


def main() -> None:
    """Make the four PNGs."""
    sys.path.insert(0, str(ROOT))  # for tests.support
    from tests.support.stations import Cluster, pair

    from hotline.station.config import LineSettings

    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    with Cluster(prefix="hl-shots-") as cluster:
        moscow = cluster.add("moscow")
        washington = cluster.add("washington")
        jerusalem = cluster.add("jerusalem")
        pair(moscow, washington)
        pair(moscow, jerusalem)
        washington.configure(lines={"moscow": LineSettings(auto_answer=True)})
        cluster.start_all()
        moscow.wait_line(washington)
        moscow.wait_line(jerusalem)
        first = washington.send(moscow, "Good morning, Moscow. Line check at 0800 as agreed.")
        moscow.send(washington, "Good morning, Washington. Reading you clearly.", "priority")
        time.sleep(0.5)
        moscow.request("ack", id=first["id"])
        washington.send(moscow, "Please stand by for a statement from the Secretary.", "immediate")
        moscow.request("test", peer="washington", timeout=10)
        jerusalem.kill()
        moscow.wait_line(jerusalem, "down", timeout=20)
        asyncio.run(_drive(moscow, washington, out))
    print(f"screenshots in {out}")


async def _drive(moscow: Any, washington: Any, out: Path) -> None:
    from hotline.console import HotlineConsole
    from hotline.console.call import CallScreen
    from hotline.console.flash import FlashScreen
    from hotline.console.model import Lamp
    from hotline.voice.quality import speech_sample

    app = HotlineConsole(moscow.control, poll_every=0.3)
    async with app.run_test(size=SIZE) as pilot:

        async def until(predicate: Callable[[], object], what: str, timeout: float = 20.0) -> None:
            deadline = time.monotonic() + timeout
            while not predicate():
                if time.monotonic() > deadline:
                    raise SystemExit(f"screenshots: {what} not reached in {timeout} s")
                await pilot.pause(0.2)

        def shoot(name: str) -> None:
            svg = out / f"{name}.svg"
            text = app.export_screenshot(title=f"hotline console: {name}")
            # rsvg drops the leading (non-breaking) spaces of each text run unless told to keep them
            svg.write_text(text.replace("<svg ", '<svg xml:space="preserve" ', 1), encoding="utf-8")
            subprocess.run(["rsvg-convert", "-o", str(out / f"{name}.png"), str(svg)], check=True)
            svg.unlink()

        await until(lambda: app.view.lamp("jerusalem") is Lamp.DOWN, "jerusalem down")
        await until(lambda: app.view.lamp("washington") is Lamp.UP, "washington up")
        while app.selected != "washington":
            await pilot.press("down")
            await pilot.pause(0.3)
        await pilot.press("n")
        await pilot.press(*"Statement received. Standing by.")
        await pilot.pause(1.0)
        shoot("console-board")

        washington.send(moscow, "Unidentified launch detected. Confirm your status immediately.", "flash")
        await until(lambda: isinstance(app.screen, FlashScreen), "the FLASH screen")
        await pilot.pause(0.5)
        shoot("console-flash")
        await pilot.press("a")
        await until(lambda: not isinstance(app.screen, FlashScreen), "the FLASH acknowledged")

        await pilot.press("escape", "v")
        await until(lambda: type(app.screen).__name__ == "VerifyScreen", "the verify screen")
        await pilot.pause(0.3)
        shoot("console-verify")
        await pilot.press("escape")

        with tempfile.TemporaryDirectory() as scratch:
            screen = CallScreen(
                app.socket, "washington", play=str(speech_sample()), record=f"{scratch}/heard.wav"
            )
            await app.push_screen(screen)
            await pilot.pause(0.3)
            await pilot.press("r")
            await until(
                lambda: screen.state == "active" and screen.call.get("bitrate"), "a call with figures"
            )
            await pilot.pause(1.6)
            shoot("console-call")
            await pilot.press("escape")
            await pilot.pause(0.5)


if __name__ == "__main__":
    main()
