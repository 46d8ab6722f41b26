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
        subprocess.run(command, check=True, capture_output=True, timeout=1800)
        with open(out, encoding="utf-8") as f:
            match = re.search(r"^(?:summary|totals): (\d+)", f.read(), re.M)
    if match is None:
        raise RuntimeError("callgrind wrote no totals")
    return int(match.group(1))


def per_request(child_args: Callable[[int], Sequence[str]], low: int = LOW, high: int = HIGH) -> float:
    """Instructions of one request: ``child_args(n)`` runs n requests of one way."""
    return (instructions(child_args(high)) - instructions(child_args(low))) / (high - low)
