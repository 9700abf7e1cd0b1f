"""``python -m bench``: run every benchmark, print the tables and write ``docs/benchmarks.md``."""

from __future__ import annotations

import argparse
import asyncio
import tomllib
from pathlib import Path

from rich.console import Console

from bench import (
    documents,
    hub,
    hub_carrier,
    large_document,
    report,
    runner,
    station,
    traffic,
    traffic_report,
    voice,
)
from bench.tls import make_contexts

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"

#: The parts of a run: the protocol against TLS and TCP, two station daemons, a hub, voice calls,
#: documents, one large document, and what an observer of the traffic learns.
PARTS = ("protocol", "station", "hub", "voice", "documents", "large", "traffic")
#: The parts whose section of the report a run of only them rewrites in place.
SECTIONS = {"voice", "documents", "large", "traffic"}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="a short smoke run; writes no file unless --output is given"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=PARTS,
        help="run only these parts; writes no file unless --output is given, except that voice, "
        "documents, large and traffic (alone or together) rewrite their own sections of the report",
    )
    parser.add_argument(
        "--carrier",
        type=_carrier,
        default={},
        metavar="TOML",
        help="the [lines.NAME] settings, as TOML, of the traffic part's carrier-on mode in both stations "
        '(default: carrier = "steady" with the default cells); the carrier-off mode runs too',
    )
    parser.add_argument(
        "--large-gib",
        type=_positive,
        help="the large document's size in GiB (default 10, or 1 with --quick)",
    )
    parser.add_argument("--output", type=Path, help="where to write the Markdown report")
    args = parser.parse_args(argv)
    parts = set(args.only or PARTS)
    whole = not args.quick and args.only is None
    # a voice-, documents- or large-only run replaces its own sections of the report and keeps the rest
    sections_only = not args.quick and args.only is not None and parts <= SECTIONS
    output = args.output or (DOC if whole or sections_only else None)

    console = Console()
    large_settings = _large_settings(args.large_gib, args.quick)
    try:
        traffic_settings = traffic.modes(traffic.QUICK if args.quick else traffic.DEFAULT, args.carrier)
    except station.BenchError as exc:
        parser.error(str(exc))
    results, stations, hubs, voices, docs, large, analysis = asyncio.run(
        _run(parts, args.quick, large_settings, traffic_settings, console)
    )
    report.print_rich(console, results, stations, hubs, voices, docs, large)
    if analysis is not None:
        traffic_report.print_rich(console, analysis)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        if sections_only and output.exists():
            text = output.read_text(encoding="utf-8")
            if voices is not None:
                text = report.merge_voice(text, voices)
            if docs is not None:
                text = report.merge_documents(text, docs)
            if large is not None:
                text = report.merge_large(text, large)
        else:
            text = report.markdown(results, stations, hubs, voices, docs, large)
        if analysis is not None:
            text = traffic_report.merge(text, analysis)
        output.write_text(text, encoding="utf-8")
        console.log(f"wrote {output}")


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def _carrier(text: str) -> dict[str, object]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not TOML settings ({exc}), e.g. 'name = value'") from None


def _large_settings(gib: float | None, quick: bool) -> large_document.Settings:
    if gib is not None:
        return large_document.Settings(size=round(gib * 2**30))
    return large_document.QUICK if quick else large_document.Settings()


async def _run(
    parts: set[str],
    quick: bool,
    large_settings: large_document.Settings,
    traffic_settings: list[traffic.Settings],
    console: Console,
) -> tuple[
    runner.Results | None,
    station.Results | None,
    hub.Results | None,
    voice.Results | None,
    documents.Results | None,
    large_document.Results | None,
    traffic_report.Analysis | None,
]:
    results = stations = hubs = voices = docs = large = analysis = None
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
    if "large" in parts:
        large = await large_document.run(large_settings, console)
    if "traffic" in parts:
        modes = [await traffic.run(settings, console) for settings in traffic_settings]
        try:
            carrier_hub = await hub_carrier.run_carrier(
                hub_carrier.CARRIER_QUICK if quick else hub_carrier.CARRIER, console
            )
        except station.BenchError as exc:  # the traffic analysis stands without it
            console.log(f"[red]carrier hub failed: {exc}")
            carrier_hub = None
        analysis = traffic_report.Analysis(modes, carrier_hub)
    return results, stations, hubs, voices, docs, large, analysis


if __name__ == "__main__":
    main()
