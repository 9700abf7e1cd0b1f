"""Shared test configuration: asyncio tests run on a fresh loop without a plugin."""

from __future__ import annotations

import asyncio
import inspect
import signal
from typing import Any

import pytest

# A test run started in the background by a shell without job control inherits SIGINT ignored, and
# so would every process a test starts: the tests that press Ctrl-C (SIGINT) on a real `hotline`
# process need it to arrive as it does from a terminal.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run ``async def`` tests with :func:`asyncio.run`, failing on leaked tasks."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    kwargs: dict[str, Any] = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}

    async def run() -> None:
        await pyfuncitem.obj(**kwargs)
        leaked = [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]
        for task in leaked:
            task.cancel()
        assert not leaked, f"test leaked tasks: {leaked}"

    asyncio.run(run())
    return True
