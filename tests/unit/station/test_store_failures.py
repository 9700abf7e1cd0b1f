"""Store failures reach the operator as one error code per class, whatever the request.

Regression: ``files``, ``file.get``, ``calls`` and ``call.export`` mapped every store failure to
``store-error`` themselves, while the other requests answered a full store with ``store-full`` (the
code that tells the operator to free disk or raise the store's size limit). Now the dispatcher maps
it once: ``StoreFull`` is ``store-full``, any other ``StoreError`` is ``store-error``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from hotline.station.errors import StationError
from hotline.station.requests.dispatch import Requests
from hotline.store.errors import StoreCorrupt, StoreError, StoreFull

CALL_ID = "00" * 16


class _FailingWorker:
    """A store worker that finds nothing ``succeed`` times, then fails every call with ``error``."""

    def __init__(self, error: StoreError, succeed: int) -> None:
        self.error = error
        self.succeed = succeed

    async def call(self, fn: Callable[[Any], Any]) -> Any:
        if self.succeed:
            self.succeed -= 1
            return None
        raise self.error


class _Registry:
    def names(self) -> dict[int, str]:
        return {}


class _Station:
    """Just what the four read requests touch before the store is asked."""

    def __init__(self, error: StoreError, succeed: int) -> None:
        self.worker = _FailingWorker(error, succeed)
        self.registry = _Registry()
        self.lines: dict[str, Any] = {}


async def _ignore(event: dict[str, object]) -> None:
    pass


def _code(op: str, args: dict[str, object], error: StoreError, succeed: int) -> str:
    requests = Requests(_Station(error, succeed))  # type: ignore[arg-type]
    with pytest.raises(StationError) as caught:
        asyncio.run(requests.handle(op, args, _ignore))
    return caught.value.code


@pytest.mark.parametrize(
    ("op", "args", "succeed"),
    [
        ("files", {}, 0),
        # the id's lookup finds nothing; the document's own read fails
        ("file.get", {"id": "a" * 16, "out": "/nonexistent/out.txt"}, 1),
        ("calls", {}, 0),
        ("call.export", {"id": CALL_ID, "out": "/nonexistent/out.wav"}, 0),
    ],
)
@pytest.mark.parametrize(
    ("error", "code"),
    [
        (StoreFull("the disk is full"), "store-full"),
        (StoreError("the store failed"), "store-error"),
        (StoreCorrupt("a page is damaged"), "store-error"),
    ],
)
def test_store_failure_code(
    op: str, args: dict[str, object], succeed: int, error: StoreError, code: str
) -> None:
    assert _code(op, args, error, succeed) == code
