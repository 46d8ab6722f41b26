"""``python -m bench [NAME ...]`` or ``python -m bench NAME --OPTION ...``: run benchmarks and print their tables.

With no name, all of them; options after one name go to that benchmark (``python -m bench
runner_cost --callgrind``).
"""

from __future__ import annotations

import importlib
import sys

BENCHES = [
    "farm",
    "lab_start",
    "overhead_aiohttp",
    "overhead_httpx",
    "overhead_requests",
    "proxy_relay",
    "runner_cost",
    "store_latency",
]
_NO_OPTIONS = frozenset({"lab_start"})


def main(argv: list[str]) -> int:
    """Run each named benchmark module's ``main()``, or one with its own options."""
    options: list[str] | None = None
    names = argv or BENCHES
    if len(argv) > 1 and any(arg.startswith("-") for arg in argv[1:]):
        names, options = argv[:1], argv[1:]  # one benchmark and its options
    for name in names:
        if name not in BENCHES:
            print(f"unknown benchmark {name!r}; choose from {', '.join(BENCHES)}", file=sys.stderr)
            return 2
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        if options is None:
            module.main()
        elif name in _NO_OPTIONS:
            print(f"{name} takes no options", file=sys.stderr)
            return 2
        else:
            module.main(options)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
