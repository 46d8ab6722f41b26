"""What sockwise's httpx transports cost at zero faults, against bare httpx and the retry wrappers a user would pick.

Run: ``python -m bench overhead_httpx`` or ``python bench/overhead_httpx.py [--requests 2000] [--rounds 7]``.

The origin is ``bench/_fast_origin.py`` (a raw asyncio Protocol in its own process, pinned to the
other core); this process is pinned to core 0. Every GET succeeds, so everything measured is the
cost of the retry layer on the success path.

* **sync**: ``httpx.Client``, sequential GETs (one keep-alive connection): bare; sockwise
  ``RetryTransport`` with its defaults (body read inside the attempt); with a deadline and a
  per-try timeout (the watchdog armed per attempt); with ``stream=True``; httpx-retries'
  ``RetryTransport``; tenacity and stamina wrapping ``client.get``.
* **async**: ``httpx.AsyncClient``, GETs at a modest concurrency (httpx's async pool slows down
  sharply as concurrency grows, for every wrapper alike): bare; sockwise ``AsyncRetryTransport``
  (defaults, and with a deadline); httpx-retries.

Ways are interleaved round by round (their order rotates); each figure is the median over rounds,
and each ratio the median of per-round ratios to the bare client (min-max beside it). CPU is the
process's user+system time per request. Peers that are not installed are listed as such.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench import _callgrind as _callgrind_tool
from bench._fast_origin import fast_origin, pin_client
from sockwise import RetryPolicy
from sockwise.httpx import AsyncRetryTransport, RetryTransport

WARMUP = 100
ASYNC_CONCURRENCY = 10


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Way:
    """One client setup under test and its per-round figures."""

    name: str
    run: Callable[[int], object]  # sends n GETs (sync) or returns an awaitable doing so (async)
    close: Callable[[], object]
    rates: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


# -- sync ways -----------------------------------------------------------------------------------------------------


def _sync_ways(url: str) -> tuple[list[Way], list[str]]:
    missing: list[str] = []

    def loop(client: httpx.Client) -> Callable[[int], None]:
        def run(n: int) -> None:
            get = client.get
            for _ in range(n):
                get(url)

        return run

    bare = httpx.Client()
    ways = [Way("httpx.Client (bare)", loop(bare), bare.close)]
    for name, transport in (
        ("sockwise RetryTransport", RetryTransport()),
        (
            "sockwise RetryTransport, deadline 30 s + timeout 10 s",
            RetryTransport(policy=RetryPolicy(deadline=30.0, timeout=10.0)),
        ),
        ("sockwise RetryTransport(stream=True)", RetryTransport(stream=True)),
    ):
        client = httpx.Client(transport=transport)
        ways.append(Way(name, loop(client), client.close))

    try:
        import httpx_retries

        client = httpx.Client(transport=httpx_retries.RetryTransport(retry=httpx_retries.Retry(total=2)))
        ways.append(Way(f"httpx-retries {_version('httpx-retries')} RetryTransport", loop(client), client.close))
    except ImportError:
        missing.append("httpx-retries")

    try:
        import tenacity

        client = httpx.Client()
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(3),
            retry=tenacity.retry_if_exception_type(httpx.TransportError),
            reraise=True,
        )

        def tenacity_run(n: int, client: httpx.Client = client, retrying: Any = retrying) -> None:
            get = client.get
            for _ in range(n):
                retrying(get, url)

        ways.append(Way(f"tenacity {_version('tenacity')} around client.get", tenacity_run, client.close))
    except ImportError:
        missing.append("tenacity")

    try:
        import stamina

        client = httpx.Client()
        get = stamina.retry(on=httpx.TransportError, attempts=3)(client.get)

        def stamina_run(n: int, get: Callable[[str], object] = get) -> None:
            for _ in range(n):
                get(url)

        ways.append(Way(f"stamina {_version('stamina')} around client.get", stamina_run, client.close))
    except ImportError:
        missing.append("stamina")
    return ways, missing


def _measure_sync(ways: list[Way], requests: int, rounds: int) -> None:
    for way in ways:
        way.run(WARMUP)
    for round_no in range(rounds):
        shift = round_no % len(ways)
        for way in ways[shift:] + ways[:shift]:
            start, cpu = time.perf_counter(), _cpu()
            way.run(requests)
            wall = time.perf_counter() - start
            way.rates.append(requests / wall)
            way.cpus.append((_cpu() - cpu) / requests * 1e6)


# -- async ways ----------------------------------------------------------------------------------------------------


def _async_ways(url: str) -> tuple[list[Way], list[str]]:
    missing: list[str] = []

    def loop(client: httpx.AsyncClient) -> Callable[[int], Awaitable[None]]:
        async def worker(n: int) -> None:
            get = client.get
            for _ in range(n):
                await get(url)

        async def run(n: int) -> None:
            share, extra = divmod(n, ASYNC_CONCURRENCY)
            await asyncio.gather(*(worker(share + (i < extra)) for i in range(ASYNC_CONCURRENCY)))

        return run

    bare = httpx.AsyncClient()
    ways = [Way("httpx.AsyncClient (bare)", loop(bare), bare.aclose)]
    for name, transport in (
        ("sockwise AsyncRetryTransport", AsyncRetryTransport()),
        (
            "sockwise AsyncRetryTransport, deadline 30 s + timeout 10 s",
            AsyncRetryTransport(policy=RetryPolicy(deadline=30.0, timeout=10.0)),
        ),
    ):
        client = httpx.AsyncClient(transport=transport)
        ways.append(Way(name, loop(client), client.aclose))
    try:
        import httpx_retries

        client = httpx.AsyncClient(transport=httpx_retries.RetryTransport(retry=httpx_retries.Retry(total=2)))
        ways.append(Way(f"httpx-retries {_version('httpx-retries')} RetryTransport", loop(client), client.aclose))
    except ImportError:
        missing.append("httpx-retries")
    return ways, missing


async def _measure_async(ways: list[Way], requests: int, rounds: int) -> None:
    for way in ways:
        await way.run(WARMUP)  # type: ignore[misc]
    for round_no in range(rounds):
        shift = round_no % len(ways)
        for way in ways[shift:] + ways[:shift]:
            start, cpu = time.perf_counter(), _cpu()
            await way.run(requests)  # type: ignore[misc]
            wall = time.perf_counter() - start
            way.rates.append(requests / wall)
            way.cpus.append((_cpu() - cpu) / requests * 1e6)
    for way in ways:
        await way.close()  # type: ignore[misc]


# -- report --------------------------------------------------------------------------------------------------------


def _table(title: str, ways: list[Way], missing: list[str]) -> None:
    base = ways[0]
    print(f"\n### {title}\n")
    print("| way | req/s (median) | CPU µs/req | vs bare (median of rounds) | min–max |")
    print("|---|---:|---:|---:|---|")
    for way in ways:
        ratios = [mine / theirs for mine, theirs in zip(way.rates, base.rates, strict=True)]
        print(
            f"| {way.name} | {statistics.median(way.rates):,.0f} | {statistics.median(way.cpus):.0f} | "
            f"{statistics.median(ratios):.3f}× | {min(ratios):.3f}–{max(ratios):.3f} |"
        )
    for name in missing:
        print(f"| {name} | not installed | | | |")


def _callgrind() -> None:
    script = os.path.abspath(__file__)
    with fast_origin() as (host, port):
        url = f"http://{host}:{port}/"
        ways, missing = _sync_ways(url)
        for way in ways:
            way.close()
        _callgrind_tool.compare(
            "sockwise + httpx (sync) overhead at zero faults, in instructions (callgrind, sequential GETs)",
            [w.name for w in ways],
            lambda name, n: [script, "--child", name, url, "--requests", str(n)],
            footer=f"Python {platform.python_version()}, httpx {_version('httpx')}, httpcore {_version('httpcore')}.",
            missing=missing,
        )


def main(argv: list[str] | None = None) -> None:
    """Run the sync and async comparisons against a fast origin and print markdown tables."""
    parser = argparse.ArgumentParser(description="sockwise httpx transports vs bare httpx and retry wrappers")
    parser.add_argument("--requests", type=int, default=2000, help="GETs per way per round (default 2000)")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (default 7)")
    parser.add_argument("--callgrind", action="store_true", help="count instructions per sync GET with valgrind")
    parser.add_argument("--child", nargs=2, metavar=("WAY", "URL"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv if argv is not None else [])
    if args.child:
        name, url = args.child
        ways, _ = _sync_ways(url)
        try:
            next(w for w in ways if w.name == name).run(args.requests)
        finally:
            for way in ways:
                way.close()
        return
    if args.callgrind:
        _callgrind()
        return
    requests = max(1, min(args.requests, 100_000))
    rounds = max(1, min(args.rounds, 50))

    pin_client()
    versions = ", ".join(
        f"{name} {_version(name)}" for name in ("httpx", "httpcore", "anyio") if _version(name) is not None
    )
    with fast_origin() as (host, port):
        url = f"http://{host}:{port}/"
        sync_ways, sync_missing = _sync_ways(url)
        try:
            _measure_sync(sync_ways, requests, rounds)
        finally:
            for way in sync_ways:
                way.close()

        async_ways: list[Way] = []
        async_missing: list[str] = []

        async def run_async() -> None:
            nonlocal async_ways, async_missing
            async_ways, async_missing = _async_ways(url)
            await _measure_async(async_ways, requests, rounds)

        asyncio.run(run_async())

    print(f"## sockwise + httpx overhead at zero faults ({requests} GETs × {rounds} interleaved rounds per way)")
    print(f"\nPython {platform.python_version()}, {versions}; client pinned to core 0, fast origin to core 1.")
    _table("sync: httpx.Client, sequential", sync_ways, sync_missing)
    _table(f"async: httpx.AsyncClient, {ASYNC_CONCURRENCY} concurrent", async_ways, async_missing)


if __name__ == "__main__":
    main(sys.argv[1:])
