"""Turns the benchmarks' results into tables: rich on the terminal, Markdown for the docs.

Each table is built once as plain strings and rendered twice (:mod:`bench.report_table`), so the
terminal and ``docs/benchmarks.md`` can never disagree. The tables of each benchmark have a module
of their own: the protocol's (handshakes, bulk) :mod:`bench.report_protocol`, the stations' and the
hub's :mod:`bench.report_stations`, the voice calls' :mod:`bench.report_voice`, the documents' and
the large document's :mod:`bench.report_documents`, the traffic analysis's
:mod:`bench.traffic_report`; the machine summary is :mod:`bench.report_machine`. This module puts
the whole report together: every table in order, the terminal's rendering, ``docs/benchmarks.md``,
and the sections a run of one benchmark rewrites in place.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table as RichTable

from bench import documents as documents_bench
from bench import hub as hub_bench
from bench import large_document as large_bench
from bench import station as station_bench
from bench import voice as voice_bench
from bench.report_documents import document_tables, floor_rows, large_tables
from bench.report_documents import gib as _gib
from bench.report_machine import machine
from bench.report_protocol import METHOD, tables
from bench.report_stations import goal_table, hub_tables, station_tables
from bench.report_table import Table, markdown_table, print_table
from bench.report_voice import voice_tables
from bench.runner import Results


def all_tables(
    results: Results | None,
    stations: station_bench.Results | None = None,
    hub: hub_bench.Results | None = None,
    voice: voice_bench.Results | None = None,
    documents: documents_bench.Results | None = None,
    large: large_bench.Results | None = None,
) -> list[Table]:
    """Every table of a run, in report order."""
    out = tables(results) if results is not None else []
    out += goal_table(stations, hub)
    if stations is not None:
        out += station_tables(stations)
    if hub is not None:
        out += hub_tables(hub)
    if voice is not None:
        out += voice_tables(voice)
    if documents is not None:
        out += document_tables(documents)
    if large is not None:
        out += large_tables(large)
    return out


def print_rich(
    console: Console,
    results: Results | None,
    stations: station_bench.Results | None = None,
    hub: hub_bench.Results | None = None,
    voice: voice_bench.Results | None = None,
    documents: documents_bench.Results | None = None,
    large: large_bench.Results | None = None,
) -> None:
    """Print the machine summary and every table."""
    info = RichTable(title="Machine", show_header=False)
    info.add_column(style="bold")
    info.add_column()
    for key, value in machine(results, stations):
        info.add_row(key, value)
    console.print(info)
    for table in all_tables(results, stations, hub, voice, documents, large):
        print_table(console, table)


#: The heading of the voice section, which a voice-only run replaces in place (:func:`merge_voice`).
VOICE_HEADING = "## Voice calls"


def _voice_section(voice: voice_bench.Results) -> list[str]:
    lines = [
        VOICE_HEADING,
        "",
        f"Measured {voice.measured_at} (`python -m bench --only voice` rewrites this section alone).",
        "",
    ]
    for table in voice_tables(voice):
        lines += markdown_table(table)
    return lines


def merge_voice(document: str, voice: voice_bench.Results) -> str:
    """``document`` (a ``docs/benchmarks.md``) with its voice section replaced by ``voice``'s.

    Every other section is kept as it was. Without a voice section, ours goes in before the method.
    """
    return _merge_section(document, VOICE_HEADING, _voice_section(voice))


#: The heading of the documents section, which a documents-only run replaces in place.
DOCUMENTS_HEADING = "## Documents"


def _documents_section(documents: documents_bench.Results) -> list[str]:
    lines = [
        DOCUMENTS_HEADING,
        "",
        f"Measured {documents.measured_at} (`python -m bench --only documents` rewrites this section alone).",
        "",
    ]
    for table in document_tables(documents):
        lines += markdown_table(table)
    return lines


def merge_documents(document: str, documents: documents_bench.Results) -> str:
    """``document`` (a ``docs/benchmarks.md``) with its documents section replaced by ``documents``'s.

    Every other section is kept as it was. Without a documents section, ours goes in before the method.
    """
    return _merge_section(document, DOCUMENTS_HEADING, _documents_section(documents))


#: The heading of the large documents section, which a large-only run replaces in place (:func:`merge_large`).
LARGE_HEADING = "## Large documents"


def _large_section(large: large_bench.Results) -> list[str]:
    lines = [
        LARGE_HEADING,
        "",
        f"Measured {large.measured_at} (`python -m bench --only large` rewrites this section alone).",
        "",
        f"One document of {_gib(large.settings.size)} of random bytes, sent once between the same two "
        "daemons as above, to show that neither holds the file in memory: each daemon's memory is "
        "sampled along the whole transfer, the received bytes are checked against the source's "
        "BLAKE3 (the `standard` document hash), and the received blob's size on disk is compared to "
        "the document's. The goal is "
        f"constant memory, a peak below {large_bench.MEMORY_GOAL_MB:g} MB per daemon, for any size up to "
        f"at least {large_bench.SIZE_GOAL_GIB:g} GiB.",
        "",
    ]
    for table in large_tables(large):
        lines += markdown_table(table)
    return lines


def merge_large(document: str, large: large_bench.Results) -> str:
    """``document`` (a ``docs/benchmarks.md``) with its large documents section replaced by ``large``'s.

    Every other section is kept as it was. Without a large documents section, ours goes in before the
    method (so after the documents section).
    """
    return _merge_section(document, LARGE_HEADING, _large_section(large))


def _merge_section(document: str, heading: str, section: list[str]) -> str:
    """``document`` with the section under ``heading`` replaced by ``section`` (or added before the
    method, or the documents or large documents section that should follow it, whichever comes first)."""
    lines = document.splitlines()
    if heading in lines:
        start = lines.index(heading)
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    else:
        later = {"## How it was measured", "## How to re-run"}
        if heading == VOICE_HEADING:
            later.add(DOCUMENTS_HEADING)
        if heading in (VOICE_HEADING, DOCUMENTS_HEADING):
            later.add(LARGE_HEADING)
        ahead = [i for i, line in enumerate(lines) if line in later]
        start = end = ahead[0] if ahead else len(lines)
    return "\n".join([*lines[:start], *section, *lines[end:], ""])


def markdown(
    results: Results | None,
    stations: station_bench.Results | None = None,
    hub: hub_bench.Results | None = None,
    voice: voice_bench.Results | None = None,
    documents: documents_bench.Results | None = None,
    large: large_bench.Results | None = None,
) -> str:
    """The whole of ``docs/benchmarks.md``."""
    lines = [
        "# Benchmarks",
        "",
        "Hotline against stdlib TLS 1.3 and plain TCP, the station daemons against the floor of TCP plus",
        "fsync, voice calls and documents between two daemons, all measured in the same run on loopback.",
        "This file is written by `make bench`; edit `bench/report*.py` rather than this file.",
        "",
        "## Machine and run",
        "",
        *[f"- **{key}**: {value}" for key, value in machine(results, stations)],
        "",
    ]
    if results is not None:
        lines += ["## Results", ""]
        for table in tables(results):
            lines += markdown_table(table)
    if stations is not None or hub is not None:
        lines += ["## Stations: durable messages and a hub", ""]
        for table in all_tables(None, stations, hub):
            lines += markdown_table(table)
    if voice is not None:
        lines += _voice_section(voice)
    if documents is not None:
        lines += _documents_section(documents)
    if large is not None:
        lines += _large_section(large)
    if results is not None:
        lines += ["## How it was measured", "", METHOD.format(repeats=results.settings.repeats)]
    lines += ["## How to re-run", ""]
    lines += [
        "`make bench` (a few minutes; rewrites this file); `python -m bench --quick` is a smoke run;",
        "`python -m bench --only station hub` runs only the station benchmarks (and writes no file unless",
        "`--output` is given); `python -m bench --only voice` (about three minutes) runs only the voice",
        "calls and rewrites only their section of this file; `python -m bench --only documents` (about two",
        "minutes) likewise runs only the document transfers and rewrites only their section;",
        "`python -m bench --only large` (about two minutes, 22 GB of free disk) sends one 10 GiB document",
        "(`--large-gib N` for another size) and rewrites only its section;",
        "`python -m bench --only traffic` (about fifteen minutes, as root for tcpdump) measures the line",
        "with the carrier off and on and rewrites only the traffic analysis (`--quick`: a few minutes, no",
        "file written).",
        "",
    ]
    return "\n".join(lines)


__all__ = [
    "DOCUMENTS_HEADING",
    "LARGE_HEADING",
    "METHOD",
    "VOICE_HEADING",
    "Table",
    "all_tables",
    "document_tables",
    "floor_rows",
    "goal_table",
    "hub_tables",
    "large_tables",
    "machine",
    "markdown",
    "markdown_table",
    "merge_documents",
    "merge_large",
    "merge_voice",
    "print_rich",
    "print_table",
    "station_tables",
    "tables",
    "voice_tables",
]
