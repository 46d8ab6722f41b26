"""Instructions per request with valgrind's callgrind: a figure that does not drift with the machine's load.

A benchmark re-runs itself as a child (with its own arguments naming one way and a request count) under
callgrind twice, with two request counts; the difference of the two totals over the difference of the
counts is the cost of one request, start-up and warm-up cancelling out.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence

LOW, HIGH = 300, 1300


def available() -> bool:
    """Whether valgrind is installed (else say so: ``apt-get install valgrind``)."""
    return shutil.which("valgrind") is not None


def instructions(child_args: Sequence[str]) -> int:
    """Total instructions of ``python <child_args>`` under callgrind."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "cg.out")
        command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, *child_args]
        # A fixed hash seed: dict and set layouts (so instruction counts) are then the same run to run.
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        subprocess.run(command, check=True, capture_output=True, timeout=1800, env=env)
        with open(out, encoding="utf-8") as f:
            match = re.search(r"^(?:summary|totals): (\d+)", f.read(), re.M)
    if match is None:
        raise RuntimeError("callgrind wrote no totals")
    return int(match.group(1))


def per_request(child_args: Callable[[int], Sequence[str]], low: int = LOW, high: int = HIGH) -> float:
    """Instructions of one request: ``child_args(n)`` runs n requests of one way."""
    return (instructions(child_args(high)) - instructions(child_args(low))) / (high - low)


def compare(
    title: str,
    names: Sequence[str],
    child_args: Callable[[str, int], Sequence[str]],
    *,
    footer: str,
    missing: Sequence[str] = (),
) -> None:
    """Measure each way (the first is the baseline) and print the markdown table of instructions per request.

    Args:
        title: the table's heading.
        names: the ways, baseline first.
        child_args: ``(way, n)`` -> the arguments that run n requests of that way.
        footer: versions and setup, printed under the table.
        missing: peers not installed, listed with no figures.
    """
    if not available():
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        raise SystemExit(2)
    per: dict[str, float] = {}
    for name in names:
        per[name] = per_request(lambda n, name=name: child_args(name, n))  # type: ignore[misc]
        print(f"{name} done", file=sys.stderr)
    print(f"## {title}")
    print()
    print("| way | instructions per request | ratio (baseline / its) |")
    print("|---|---:|---:|")
    for name in names:
        print(f"| {name} | {per[name]:,.0f} | {per[names[0]] / per[name]:.3f} |")
    for note in missing:
        print(f"| {note} | - | - |")
    print()
    print(footer)
