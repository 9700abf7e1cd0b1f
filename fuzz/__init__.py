"""Coverage-guided fuzz targets for Hotline's parsers (atheris / libFuzzer).

Each ``fuzz_<name>.py`` module is one target: a ``test_one_input(data)`` that feeds bytes to one
parser and asserts its contract (a valid object or the documented error; anything else is a
finding), and a ``main()`` that hands it to atheris. The seed corpus lives in ``corpus/<name>/``
(made by ``make_corpus.py``); inputs that broke a contract and are not fixed yet live in
``findings/<name>/``.

Run one target::

    python -m fuzz.fuzz_records fuzz/corpus/records -max_total_time=60

or all of them for a set time each, with a table of the results: ``make fuzz FUZZ_SECONDS=60``.

The targets import without atheris (``tests/property/test_fuzz_targets.py`` drives them with
hypothesis in ``make test``), so atheris is imported only when a target runs as a script, and only
then are Hotline's modules instrumented for coverage.
"""

from __future__ import annotations

import builtins
import contextlib
import functools
import os
from collections.abc import Callable
from typing import Any

#: Exception type names (builtins, comma-separated) a fuzz run treats as already reported
#: (``run.py --suppress``), so it can look for bugs behind a known shallow one.
SUPPRESS_ENV = "HOTLINE_FUZZ_SUPPRESS"


def instrumented(module_name: str) -> contextlib.AbstractContextManager[Any]:
    """Where a target imports Hotline: instrument ``hotline.*`` for coverage when ``module_name`` is
    ``"__main__"`` (the target runs under atheris), and do nothing when it was imported (tests)."""
    if module_name != "__main__":
        return contextlib.nullcontext()
    import atheris

    manager: contextlib.AbstractContextManager[Any] = atheris.instrument_imports(include=["hotline"])
    return manager


def suppressing_known(test_one_input: Callable[[bytes], None]) -> Callable[[bytes], None]:
    """``test_one_input``, quiet about the exception types named in :data:`SUPPRESS_ENV` (none when
    it is unset). Only ``main()`` uses this: the tests never suppress anything."""
    names = [name for name in os.environ.get(SUPPRESS_ENV, "").split(",") if name]
    if not names:
        return test_one_input
    known = tuple(getattr(builtins, name) for name in names)

    @functools.wraps(test_one_input)
    def run(data: bytes) -> None:
        with contextlib.suppress(*known):
            test_one_input(data)

    return run
