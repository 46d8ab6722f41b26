"""``python -m bench [NAME ...]``: run the benchmarks (all by default) and print their tables."""

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


def main(argv: list[str]) -> int:
    """Run each named benchmark module's ``main()``."""
    for name in argv or BENCHES:
        if name not in BENCHES:
            print(f"unknown benchmark {name!r}; choose from {', '.join(BENCHES)}", file=sys.stderr)
            return 2
        importlib.import_module(f"bench.{name}").main()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
