"""Run every fuzz target for a set time and print what it did: ``make fuzz FUZZ_SECONDS=60``.

Each target runs in its own process, ``python -m fuzz.fuzz_<name>``, under libFuzzer with
``-max_total_time``. It reads the committed seed corpus (``fuzz/corpus/<name>/``, never written to)
and a working corpus (``fuzz/.work/<name>/corpus/``, kept between runs, not committed), where
libFuzzer puts the inputs that found new coverage. Crash inputs go to ``fuzz/.work/<name>/``.

libFuzzer stops at the first crash. We then start the target again on its grown corpus for the time
left, so one crash does not end the run, and count distinct crashes by their exception and the
innermost Hotline frame (keeping the first input of each). A shallow bug that is found again within
a second of every start still hides what lies behind it: ``--suppress UnicodeDecodeError`` (builtin
exception names) makes the targets treat those types as already reported, for a run that looks
further. Never leave a suppression in place once the bug is fixed.

The table: executions and executions per second over the whole time (imports included), coverage
(libFuzzer's ``cov``: instrumented edges seen, at start and at the end), corpus entries at start and
at the end, the entries this run added, and crashes (distinct / total).

Exit status: 0 when no target crashed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

FUZZ = Path(__file__).resolve().parent
ROOT = FUZZ.parent
#: Keep in step with ``fuzz.SUPPRESS_ENV`` (this script runs without the package on its path).
SUPPRESS_ENV = "HOTLINE_FUZZ_SUPPRESS"
WORK = FUZZ / ".work"
#: Seconds a single input may take before libFuzzer calls it a hang.
INPUT_TIMEOUT = 30

_STAT = re.compile(r"^stat::(\w+):\s+(\d+)", re.MULTILINE)
_STATUS = re.compile(r"^#(\d+)\s+(\w+)\s+cov: (\d+) ft: (\d+) corp: (\d+)/", re.MULTILINE)
_ARTIFACT = re.compile(r"Test unit written to (\S+)")
_PYTHON_CRASH = "=== Uncaught Python exception: ==="


@dataclass
class Crash:
    """One crashing input."""

    signature: str
    artifact: Path | None
    traceback: str


@dataclass
class Result:
    """What one target did over all its runs."""

    name: str
    seconds: float = 0.0
    executions: int = 0
    new_entries: int = 0
    cov_start: int | None = None
    cov_end: int | None = None
    corpus_start: int | None = None
    corpus_end: int | None = None
    runs: int = 0
    crashes: list[Crash] = field(default_factory=list)

    @property
    def distinct(self) -> dict[str, Crash]:
        """The first crash of each signature."""
        out: dict[str, Crash] = {}
        for crash in self.crashes:
            out.setdefault(crash.signature, crash)
        return out


def targets() -> list[str]:
    """Every target: the ``fuzz_<name>.py`` modules beside this file."""
    return sorted(path.stem.removeprefix("fuzz_") for path in FUZZ.glob("fuzz_*.py"))


def _crash(log: str) -> Crash | None:
    artifact = _ARTIFACT.search(log)
    path = Path(artifact.group(1)) if artifact else None
    if _PYTHON_CRASH in log:
        text = log.split(_PYTHON_CRASH, 1)[1].strip()
        tb = text.split("\n\n", 1)[0]
        exception = tb.splitlines()[0]
        frames = re.findall(r'File "([^"]+)", line (\d+), in (\S+)', tb)
        ours = [f for f in frames if "/src/hotline/" in f[0]] or frames
        where = f"{Path(ours[-1][0]).name}:{ours[-1][1]} in {ours[-1][2]}" if ours else "?"
        kind = exception.split(":", 1)[0]
        if kind == "AssertionError":  # a contract of the target: its message says which
            kind = exception
        return Crash(f"{kind} at {where}", path, tb)
    for kind in ("timeout", "out-of-memory", "deadly signal"):
        if f"ERROR: libFuzzer: {kind}" in log:
            return Crash(kind, path, log[-2000:])
    if path is not None:
        return Crash("crash", path, log[-2000:])
    return None


def run_target(name: str, seconds: int, *, suppress: str = "", verbose: bool = False) -> Result:
    """Fuzz ``name`` for ``seconds`` in all, starting again after a crash while time is left."""
    work = WORK / name
    corpus = work / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    result = Result(name)
    deadline = time.monotonic() + seconds
    env = {**os.environ, SUPPRESS_ENV: suppress}
    while True:
        left = int(deadline - time.monotonic())
        if left < 1 or (result.runs and left < 2):
            break
        command = [
            sys.executable,
            "-m",
            f"fuzz.fuzz_{name}",
            str(corpus),
            str(FUZZ / "corpus" / name),
            f"-max_total_time={left}",
            f"-timeout={INPUT_TIMEOUT}",
            f"-artifact_prefix={work}/",
            "-print_final_stats=1",
        ]
        started = time.monotonic()
        proc = subprocess.run(
            command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            check=False,
        )
        result.seconds += time.monotonic() - started
        result.runs += 1
        log = proc.stdout
        (work / f"run-{result.runs}.log").write_text(log)
        if verbose:
            print(log, file=sys.stderr)
        stats = {key: int(value) for key, value in _STAT.findall(log)}
        statuses = _STATUS.findall(log)
        result.executions += stats.get("number_of_executed_units", int(statuses[-1][0]) if statuses else 0)
        result.new_entries += stats.get("new_units_added", 0)
        for _, event, cov, _, corp in statuses:
            if event == "INITED" and result.cov_start is None:
                result.cov_start, result.corpus_start = int(cov), int(corp)
        if statuses:
            result.cov_end, result.corpus_end = int(statuses[-1][2]), int(statuses[-1][4])
        if proc.returncode == 0:
            break
        crash = _crash(log)
        if crash is None:
            crash = Crash(f"exit status {proc.returncode}", None, log[-2000:])
        if crash.signature in result.distinct and crash.artifact is not None:
            crash.artifact.unlink(missing_ok=True)  # keep the first input of each crash
            crash.artifact = None
        result.crashes.append(crash)
    return result


def _cell(start: int | None, end: int | None) -> str:
    return "-" if start is None else f"{start} -> {end}"


def report(results: list[Result]) -> str:
    """The results table, then each distinct crash with its input."""
    header = ("target", "time s", "execs", "exec/s", "cov", "corpus", "new", "crashes")
    rows = [header]
    for r in results:
        rate = r.executions / r.seconds if r.seconds else 0.0
        rows.append(
            (
                r.name,
                f"{r.seconds:.0f}",
                f"{r.executions:,}",
                f"{rate:,.0f}",
                _cell(r.cov_start, r.cov_end),
                _cell(r.corpus_start, r.corpus_end),
                str(r.new_entries),
                f"{len(r.distinct)}/{len(r.crashes)}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for r in results:
        for signature, crash in r.distinct.items():
            lines += ["", f"[{r.name}] {signature}"]
            if crash.artifact is not None and crash.artifact.exists():
                data = crash.artifact.read_bytes()
                shown = base64.b64encode(data).decode()
                if len(shown) > 400:
                    shown = shown[:400] + f"... ({len(data)} bytes)"
                lines += [f"  input:  {crash.artifact.relative_to(ROOT)}", f"  base64: {shown}"]
            lines += ["  " + line for line in crash.traceback.splitlines()[-12:]]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"targets to run (default: all of {', '.join(targets())})")
    parser.add_argument("--seconds", type=int, default=60, help="fuzzing time per target (default 60)")
    parser.add_argument("--jobs", type=int, default=1, help="targets run side by side (default 1)")
    parser.add_argument(
        "--suppress", default="", help="exception names to treat as known, e.g. UnicodeDecodeError"
    )
    parser.add_argument("--verbose", action="store_true", help="print libFuzzer's output")
    args = parser.parse_args()
    names = args.names or targets()
    unknown = set(names) - set(targets())
    if unknown:
        parser.error(f"no such target: {', '.join(sorted(unknown))}")
    print(f"fuzzing {len(names)} targets for {args.seconds} s each ({args.jobs} at a time)", flush=True)
    if args.suppress:
        print(f"treating as already reported: {args.suppress}", flush=True)
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = list(
            pool.map(
                lambda n: run_target(n, args.seconds, suppress=args.suppress, verbose=args.verbose), names
            )
        )
    print(report(results))
    return 1 if any(r.crashes for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
