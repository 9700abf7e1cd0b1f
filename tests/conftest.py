"""Shared test configuration: asyncio tests run on a fresh loop without a plugin."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest


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
