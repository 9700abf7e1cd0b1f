"""Walking an object graph: what a live object still holds (to show a secret is gone)."""

from __future__ import annotations

from collections.abc import Iterator


def reachable(root: object, *, skip: tuple[object, ...] = ()) -> Iterator[object]:
    """Every object reachable from ``root`` through attributes, slots and containers, not entering
    the objects in ``skip``."""
    seen: set[int] = {id(o) for o in skip}
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        yield obj
        if isinstance(obj, dict):
            stack.extend(obj.keys())
            stack.extend(obj.values())
        elif isinstance(obj, list | tuple | set | frozenset):
            stack.extend(obj)
        elif not isinstance(obj, bytes | bytearray | str | int | float | bool | type(None)):
            for klass in type(obj).__mro__:
                for name in getattr(klass, "__slots__", ()):
                    if isinstance(name, str) and hasattr(obj, name):
                        stack.append(getattr(obj, name))
            stack.extend(getattr(obj, "__dict__", {}).values())
