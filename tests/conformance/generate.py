"""Write the conformance vectors of ``docs/vectors/`` (or, with ``--check``, say which differ).

Usage, from the repository root: ``python -m tests.conformance.generate [--check] [AREA ...]``
(an area is a ``vec_<area>`` module's suffix; none means all). Regenerating changes published bytes:
only on a deliberate change of the wire, and in the same commit as docs/protocol.md.
"""

from __future__ import annotations

import sys

from tests.conformance.vectorfile import DOCS_VECTORS, areas, render


def main(argv: list[str]) -> int:
    check = "--check" in argv
    wanted = {a for a in argv if not a.startswith("--")}
    differ = []
    for module in areas():
        area = module.__name__.rsplit(".vec_", 1)[1]
        if wanted and area not in wanted:
            continue
        path = DOCS_VECTORS / module.FILE
        text = render(module.build())
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                differ.append(module.FILE)
            continue
        path.write_text(text, encoding="utf-8")
        print(f"wrote docs/vectors/{module.FILE}")
    for name in differ:
        print(f"differs: docs/vectors/{name}", file=sys.stderr)
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
