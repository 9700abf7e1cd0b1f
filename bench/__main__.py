"""``python -m bench``: run every benchmark, print the tables and write ``docs/benchmarks.md``."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from rich.console import Console

from bench import hub, report, runner, station
from bench.tls import make_contexts

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"

#: The parts of a run: the protocol against TLS and TCP, two station daemons, and a hub.
PARTS = ("protocol", "station", "hub")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="a short smoke run; writes no file unless --output is given"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=PARTS,
        help="run only these parts; writes no file unless --output is given",
    )
    parser.add_argument("--output", type=Path, help="where to write the Markdown report")
    args = parser.parse_args(argv)
    parts = set(args.only or PARTS)
    whole = not args.quick and args.only is None
    output = args.output or (DOC if whole else None)

    console = Console()
    results, stations, hubs = asyncio.run(_run(parts, args.quick, console))
    report.print_rich(console, results, stations, hubs)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(report.markdown(results, stations, hubs), encoding="utf-8")
        console.log(f"wrote {output}")


async def _run(
    parts: set[str], quick: bool, console: Console
) -> tuple[runner.Results | None, station.Results | None, hub.Results | None]:
    results = stations = hubs = None
    if "protocol" in parts:
        settings = runner.QUICK if quick else runner.Settings()
        results = await runner.run_all(settings, make_contexts(), console)
    if "station" in parts:
        stations = await station.run(station.QUICK if quick else station.Settings(), console)
    if "hub" in parts:
        hubs = await hub.run(hub.QUICK if quick else hub.Settings(), console)
    return results, stations, hubs


if __name__ == "__main__":
    main()
