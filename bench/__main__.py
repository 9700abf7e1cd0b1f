"""``python -m bench``: run every benchmark, print the tables and write ``docs/benchmarks.md``."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from rich.console import Console

from bench import documents, hub, report, runner, station, voice
from bench.tls import make_contexts

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"

#: The parts of a run: the protocol against TLS and TCP, two station daemons, a hub, voice calls and
#: documents.
PARTS = ("protocol", "station", "hub", "voice", "documents")
#: The parts whose section of the report a run of only them rewrites in place.
SECTIONS = {"voice", "documents"}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="a short smoke run; writes no file unless --output is given"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=PARTS,
        help="run only these parts; writes no file unless --output is given, except that voice and "
        "documents (alone or together) rewrite their own sections of the report",
    )
    parser.add_argument("--output", type=Path, help="where to write the Markdown report")
    args = parser.parse_args(argv)
    parts = set(args.only or PARTS)
    whole = not args.quick and args.only is None
    # a voice-only or documents-only run replaces its own sections of the report and keeps the rest
    sections_only = not args.quick and args.only is not None and parts <= SECTIONS
    output = args.output or (DOC if whole or sections_only else None)

    console = Console()
    results, stations, hubs, voices, docs = asyncio.run(_run(parts, args.quick, console))
    report.print_rich(console, results, stations, hubs, voices, docs)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        if sections_only and output.exists():
            text = output.read_text(encoding="utf-8")
            if voices is not None:
                text = report.merge_voice(text, voices)
            if docs is not None:
                text = report.merge_documents(text, docs)
        else:
            text = report.markdown(results, stations, hubs, voices, docs)
        output.write_text(text, encoding="utf-8")
        console.log(f"wrote {output}")


async def _run(
    parts: set[str], quick: bool, console: Console
) -> tuple[
    runner.Results | None,
    station.Results | None,
    hub.Results | None,
    voice.Results | None,
    documents.Results | None,
]:
    results = stations = hubs = voices = docs = None
    if "protocol" in parts:
        settings = runner.QUICK if quick else runner.Settings()
        results = await runner.run_all(settings, make_contexts(), console)
    if "station" in parts:
        stations = await station.run(station.QUICK if quick else station.Settings(), console)
    if "hub" in parts:
        hubs = await hub.run(hub.QUICK if quick else hub.Settings(), console)
    if "voice" in parts:
        voices = await voice.run(voice.QUICK if quick else voice.Settings(), console)
    if "documents" in parts:
        docs = await documents.run(documents.QUICK if quick else documents.Settings(), console)
    return results, stations, hubs, voices, docs


if __name__ == "__main__":
    main()
