"""``python -m bench``: run every benchmark, print the tables and write ``docs/benchmarks.md``."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from rich.console import Console

from bench import report, runner
from bench.tls import make_contexts

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="a short smoke run; writes no file unless --output is given"
    )
    parser.add_argument("--output", type=Path, help="where to write the Markdown report")
    args = parser.parse_args(argv)
    settings = runner.QUICK if args.quick else runner.Settings()
    output = args.output or (None if args.quick else DOC)

    console = Console()
    results = asyncio.run(runner.run_all(settings, make_contexts(), console))
    report.print_rich(console, results)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(report.markdown(results), encoding="utf-8")
        console.log(f"wrote {output}")


if __name__ == "__main__":
    main()
