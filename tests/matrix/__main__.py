"""``python -m tests.matrix``: run every cell of the classification matrix and write docs/matrix.md.

Needs root (the network-namespace rows) and refuses to write when a cell disagrees with
``tests/matrix/expected.py``: the page shows what the code does *and* what it should do.

Usage: ``python -m tests.matrix [--output docs/matrix.md]`` from the repository root.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from pathlib import Path

from tests.matrix._cells import CELLS, run_cells
from tests.matrix._clients import client_versions
from tests.matrix._doc import render_doc
from tests.matrix.expected import EXPECTED, alternatives

from sockwise.lab import Netns, netns_available


def main(argv: list[str] | None = None) -> int:
    """Run the matrix; write the page; 0 on success, 1 when a cell disagrees, 2 without namespaces."""
    parser = argparse.ArgumentParser(prog="python -m tests.matrix", description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path("docs/matrix.md"), help="where to write the page")
    args = parser.parse_args(argv)
    ok, reason = netns_available()
    if not ok:
        print(f"tests.matrix: the namespace rows need network namespaces: {reason}", file=sys.stderr)
        return 2
    start = time.monotonic()
    with Netns(sysctls={"net.ipv4.tcp_retries2": 3}) as ns:
        results = run_cells(CELLS, netns=ns)
    seconds = time.monotonic() - start
    wrong = [o for o in results.values() if o.as_expect() not in alternatives(EXPECTED[o.cell.key])]
    for observed in wrong:
        print(f"{observed.cell.key}: got {observed.as_expect()}", file=sys.stderr)
        print(f"    expected {EXPECTED[observed.cell.key]}", file=sys.stderr)
    if wrong:
        print(f"tests.matrix: {len(wrong)} cells disagree with expected.py; {args.output} not written", file=sys.stderr)
        return 1
    ordered = [results[cell] for cell in CELLS]
    today = datetime.date.today().isoformat()
    args.output.write_text(render_doc(ordered, client_versions(), today, seconds), encoding="utf-8")
    print(f"{len(ordered)} cells agree with expected.py in {seconds:.1f} s; wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
