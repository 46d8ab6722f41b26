"""What sockwise's attempt loop costs per request at zero faults, beside a bare call and a hand-written loop.

Run: ``python -m bench runner_cost`` or ``python bench/runner_cost.py [--requests 100000] [--rounds 5]
[--callgrind]``.

Every way awaits the same trivial ``send`` (it returns a 200 response object at once), so what is
measured is the loop around it: ``Runner.arun`` with the default policy (retry budget on, direct
route), the same with a pool of 20 proxies on the memory store (``PoolRoutes``), and the retry loop
people write by hand. Wall time per request is noisy on a shared machine; ``--callgrind`` counts
instructions instead (valgrind runs this file twice with two request counts and reports the
difference per request, which does not drift with load).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable

if __package__ in (None, ""):  # run as a script: make ``sockwise`` and ``bench`` importable from the checkout
    _ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path[:0] = [os.path.join(_ROOT, "src"), _ROOT]

from bench import _callgrind as _callgrind_tool
from sockwise import Proxy
from sockwise.pool import ProxyPool
from sockwise.retry import RetryPolicy
from sockwise.runner import AttemptContext, PoolRoutes, Runner


class _Response:
    """A 200 with no headers: what the runner inspects."""

    status = 200
    headers: dict[str, str] = {}  # noqa: RUF012  # read-only here


_OK = _Response()


async def _send(ctx: AttemptContext) -> _Response:
    return _OK


def _ways() -> dict[str, Callable[[], Callable[[], Awaitable[object]]]]:
    def bare() -> Callable[[], Awaitable[object]]:
        async def call() -> object:
            return await _send(None)  # type: ignore[arg-type]

        return call

    def hand_loop() -> Callable[[], Awaitable[object]]:
        async def call() -> object:
            for attempt in range(3):
                try:
                    response = await _send(None)  # type: ignore[arg-type]
                except OSError:
                    if attempt == 2:
                        raise
                    continue
                if response.status in (429, 500, 502, 503, 504) and attempt < 2:
                    continue
                return response
            raise AssertionError("unreachable")

        return call

    def runner() -> Callable[[], Awaitable[object]]:
        run = Runner(policy=RetryPolicy()).arun

        async def call() -> object:
            return (await run(_send, method="GET", host="example.test")).response

        return call

    def pool() -> Callable[[], Awaitable[object]]:
        proxies = [Proxy("http", f"10.0.0.{i}", 8080) for i in range(1, 21)]
        run = Runner(policy=RetryPolicy(), routes=PoolRoutes(ProxyPool(proxies))).arun

        async def call() -> object:
            return (await run(_send, method="GET", host="example.test")).response

        return call

    return {"bare await": bare, "hand-written retry loop": hand_loop, "Runner.arun": runner, "Runner.arun + pool": pool}


async def _time(call: Callable[[], Awaitable[object]], requests: int) -> float:
    for _ in range(min(requests, 1000)):
        await call()
    began = time.perf_counter()
    for _ in range(requests):
        await call()
    return time.perf_counter() - began


async def _loop_only(name: str, requests: int) -> None:
    call = _ways()[name]()
    for _ in range(requests):
        await call()


def main(argv: list[str] | None = None) -> None:
    """Print the table: µs per request (median of rounds), or instructions per request with --callgrind."""
    parser = argparse.ArgumentParser(description="sockwise attempt-loop cost per request at zero faults")
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--callgrind", action="store_true", help="count instructions with valgrind")
    parser.add_argument("--only-loop", help=argparse.SUPPRESS)
    args = parser.parse_args(argv if argv is not None else [])
    if args.only_loop:
        asyncio.run(_loop_only(args.only_loop, args.requests))
        return
    names = list(_ways())
    print("## sockwise attempt loop at zero faults (a trivial send: only the loop around it is measured)")
    print()
    if args.callgrind:
        if not _callgrind_tool.available():
            print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
            raise SystemExit(2)
        script = os.path.abspath(__file__)
        print("| way | instructions per request |")
        print("|---|---:|")
        for name in names:
            per = _callgrind_tool.per_request(
                lambda n, name=name: [script, "--only-loop", name, "--requests", str(n)],  # type: ignore[misc]
                2_000,
                12_000,
            )
            print(f"| {name} | {per:,.0f} |")
    else:
        times: dict[str, list[float]] = {n: [] for n in names}
        for r in range(args.rounds):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                call = _ways()[name]()
                times[name].append(asyncio.run(_time(call, args.requests)) / args.requests * 1e6)
        print("| way | µs per request, median (min-max) |")
        print("|---|---|")
        for name in names:
            t = times[name]
            print(f"| {name} | {statistics.median(t):.2f} ({min(t):.2f}-{max(t):.2f}) |")
    print()
    print(f"Python {sys.version.split()[0]}; {args.requests:,} requests per round.")


if __name__ == "__main__":
    main(sys.argv[1:])
