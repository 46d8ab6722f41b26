"""What sockwise's aiohttp middleware costs at zero faults, beside bare aiohttp and the retry wrappers people use.

Run: ``python -m bench overhead_aiohttp`` or ``python bench/overhead_aiohttp.py [--requests 10000]
[--concurrency 100] [--rounds 7] [--uvloop]``.

Every way does the same work: ``--requests`` GETs (after a warm-up) by ``--concurrency`` worker
tasks sharing one session, each reading the whole body, against the fast origin
(``bench/_fast_origin.py``: a raw asyncio Protocol server on the other core). Ways run in turn
inside each round, the order rotating per round; each run gets a fresh event loop and session.
Reported: median req/s and CPU µs per request (``time.process_time``: this process only, not
the origin), and the median (min-max) of the per-round ratios of req/s to bare aiohttp.

``--callgrind`` counts instructions instead (valgrind, which does not drift with load): each way
runs in a child process under valgrind for two request counts, one request at a time by default
(so the event loop batches nothing differently from one way to the next; ``--concurrency 100``
counts the setting of the req/s figures), and the difference per request is reported with its
ratio to bare aiohttp.

Two reference middlewares show what being a middleware costs before any retry logic: an empty one
that reads the body inside the attempt, and a skeletal one that also counts the request in a retry
budget and makes the attempt's context (what any retry middleware with a budget must do).

Peers (skipped, with a note, when not importable): a hand-written retry loop, aiohttp-retry's
``RetryClient``, tenacity's ``AsyncRetrying`` and ``stamina.retry``, each set to 3 attempts on
``aiohttp.ClientError``. ``make bench`` installs them (the ``bench`` dependency group).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import os
import platform
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

if __package__ in (None, ""):  # run as a script: make ``bench`` importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import _callgrind as _callgrind_tool
from bench._fast_origin import fast_origin, pin_client
from sockwise.aiohttp import RetryMiddleware, session
from sockwise.retry import RetryBudget, RetryPolicy
from sockwise.runner import DIRECT, AttemptContext

Fetch = Callable[[str], Awaitable[bytes]]
# A way: given the URL, an async context yielding a fetch function (set up outside the timing).
Way = Callable[[], Any]

_WARMUP = 300
_FAILING = RetryPolicy().failing_statuses


async def _drive(fetch: Fetch, url: str, requests: int, concurrency: int) -> tuple[float, float]:
    left = requests

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await fetch(url)

    wall0, cpu0 = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - wall0, time.process_time() - cpu0


class _Session:
    """A session-based way: ``make()`` builds the session, ``fetch`` uses it."""

    def __init__(self, make: Callable[[], aiohttp.ClientSession], wrap: Callable[[aiohttp.ClientSession], Fetch]):
        self.make = make
        self.wrap = wrap

    async def run(self, url: str, requests: int, concurrency: int) -> tuple[float, float]:
        async with self.make() as s:
            fetch = self.wrap(s)
            await _drive(fetch, url, _WARMUP, concurrency)
            return await _drive(fetch, url, requests, concurrency)


def _plain(s: aiohttp.ClientSession) -> Fetch:
    async def fetch(url: str) -> bytes:
        async with s.get(url) as resp:
            return await resp.read()

    return fetch


def _hand_loop(s: aiohttp.ClientSession) -> Fetch:
    async def fetch(url: str) -> bytes:
        for attempt in range(3):
            try:
                async with s.get(url) as resp:
                    if resp.status in (429, 500, 502, 503, 504) and attempt < 2:
                        await asyncio.sleep(0.1 * 2**attempt)
                        continue
                    return await resp.read()
            except aiohttp.ClientError:
                if attempt == 2:
                    raise
                await asyncio.sleep(0.1 * 2**attempt)
        raise AssertionError("unreachable")

    return fetch


def _tenacity(s: aiohttp.ClientSession) -> Fetch:
    import tenacity

    retrying = tenacity.AsyncRetrying(
        stop=tenacity.stop_after_attempt(3),
        wait=tenacity.wait_random_exponential(multiplier=0.1, max=2),
        retry=tenacity.retry_if_exception_type(aiohttp.ClientError),
        reraise=True,
    )

    @retrying.wraps
    async def fetch(url: str) -> bytes:
        async with s.get(url) as resp:
            return await resp.read()

    return fetch


def _stamina(s: aiohttp.ClientSession) -> Fetch:
    import stamina

    @stamina.retry(on=aiohttp.ClientError, attempts=3, wait_initial=0.1, wait_max=2.0)
    async def fetch(url: str) -> bytes:
        async with s.get(url) as resp:
            return await resp.read()

    return fetch


def _aiohttp_retry() -> _Session:
    from aiohttp_retry import ExponentialRetry, RetryClient

    def make() -> Any:
        return RetryClient(retry_options=ExponentialRetry(attempts=3, exceptions={aiohttp.ClientError}))

    def wrap(client: Any) -> Fetch:
        async def fetch(url: str) -> bytes:
            async with client.get(url) as resp:
                return await resp.read()  # type: ignore[no-any-return]

        return fetch

    return _Session(make, wrap)


async def _empty_middleware(request: Any, handler: Any) -> Any:
    # The floor of any middleware that makes reading the body part of the attempt.
    response = await handler(request)
    await response.read()
    return response


class _SkeletalMiddleware:
    """The least any retry middleware does per request, without its retry logic: the floor to measure against.

    It counts the request in a retry budget, makes the attempt's context, reads the body inside
    the attempt and looks at the status: what sockwise's middleware does on a first try that
    succeeds, minus deciding, inspecting through the runner, overrides and phase hints.
    """

    def __init__(self) -> None:
        self.budget = RetryBudget()

    async def __call__(self, request: Any, handler: Any) -> Any:
        ctx = AttemptContext(1, DIRECT, None, False, None, False, time.monotonic())
        self.budget.deposit(request.url.raw_host or "", ctx.began)
        response = await handler(request)
        await response.read()
        if response.status in _FAILING:
            raise AssertionError("the fast origin answers 200")
        return response


def _ways() -> tuple[dict[str, _Session], list[str]]:
    ways: dict[str, _Session] = {
        "bare aiohttp": _Session(aiohttp.ClientSession, _plain),
        "empty middleware that reads the body": _Session(
            lambda: aiohttp.ClientSession(middlewares=[_empty_middleware]), _plain
        ),
        "skeletal retry middleware (budget + attempt context, no retry logic)": _Session(
            lambda: aiohttp.ClientSession(middlewares=[_SkeletalMiddleware()]), _plain
        ),
        "sockwise.aiohttp.session()": _Session(lambda: session(RetryPolicy()), _plain),
        "ClientSession(middlewares=[RetryMiddleware()])": _Session(
            lambda: aiohttp.ClientSession(middlewares=[RetryMiddleware(RetryPolicy())]), _plain
        ),
        "sockwise session, per-try timeout 5 s": _Session(lambda: session(RetryPolicy(timeout=5.0)), _plain),
        "sockwise session(trace=True)": _Session(lambda: session(RetryPolicy(), trace=True), _plain),
        "hand-written retry loop": _Session(aiohttp.ClientSession, _hand_loop),
    }
    missing = []
    for name, module, build in (
        ("aiohttp-retry RetryClient", "aiohttp_retry", _aiohttp_retry),
        ("tenacity AsyncRetrying", "tenacity", lambda: _Session(aiohttp.ClientSession, _tenacity)),
        ("stamina.retry", "stamina", lambda: _Session(aiohttp.ClientSession, _stamina)),
    ):
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(f"{name} ({module} not installed)")
            continue
        ways[name] = build()
    return ways, missing


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "-"


def _callgrind(names: list[str], missing: list[str], concurrency: int) -> None:
    script = os.path.abspath(__file__)
    with fast_origin() as (host, port):
        url = f"http://{host}:{port}/"
        _callgrind_tool.compare(
            "aiohttp retry overhead at zero faults, in instructions (callgrind, "
            + ("one request at a time)" if concurrency == 1 else f"{concurrency} requests at a time)"),
            names,
            lambda name, n: [script, "--child", name, url, "--requests", str(n), "--concurrency", str(concurrency)],
            footer=f"Python {platform.python_version()}, aiohttp {_version('aiohttp')}, valgrind callgrind.",
            missing=missing,
        )


def main(argv: list[str] | None = None) -> None:
    """Run the interleaved rounds and print the markdown table."""
    parser = argparse.ArgumentParser(description="sockwise aiohttp middleware overhead at zero faults")
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=None, help="worker tasks (default 100; 1 with --callgrind)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--uvloop", action="store_true", help="run the client on uvloop")
    parser.add_argument("--only", action="append", default=None, help="run only ways whose name contains this")
    parser.add_argument("--callgrind", action="store_true", help="count instructions per request with valgrind")
    parser.add_argument("--child", nargs=2, metavar=("WAY", "URL"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv if argv is not None else [])
    if args.concurrency is None and not args.callgrind:
        args.concurrency = 100
    ways, missing = _ways()
    if args.child:
        name, url = args.child
        loop = asyncio.new_event_loop()
        loop.run_until_complete(ways[name].run(url, args.requests, args.concurrency))
        loop.close()
        return
    if args.only:
        ways = {n: w for n, w in ways.items() if n == "bare aiohttp" or any(o in n for o in args.only)}
    if args.callgrind:
        _callgrind(list(ways), missing, args.concurrency or 1)
        return
    new_loop: Callable[[], asyncio.AbstractEventLoop] = asyncio.new_event_loop
    if args.uvloop:
        import uvloop

        new_loop = uvloop.new_event_loop
    pin_client()
    names = list(ways)
    results: dict[str, list[tuple[float, float]]] = {n: [] for n in names}
    ratios: dict[str, list[float]] = {n: [] for n in names}
    cpu_ratios: dict[str, list[float]] = {n: [] for n in names}
    with fast_origin() as (host, port):
        url = f"http://{host}:{port}/"
        for r in range(args.rounds):
            order = names[r % len(names) :] + names[: r % len(names)]
            round_rps: dict[str, float] = {}
            round_cpu: dict[str, float] = {}
            for name in order:
                loop = new_loop()
                try:
                    wall, cpu = loop.run_until_complete(ways[name].run(url, args.requests, args.concurrency))
                finally:
                    loop.close()
                results[name].append((wall, cpu))
                round_rps[name] = args.requests / wall
                round_cpu[name] = cpu
            for name in names:
                ratios[name].append(round_rps[name] / round_rps["bare aiohttp"])
                cpu_ratios[name].append(round_cpu["bare aiohttp"] / round_cpu[name])
            print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)

    print(
        f"## aiohttp retry overhead at zero faults: {args.requests} GETs @ {args.concurrency}, "
        f"{args.rounds} interleaved rounds{' (uvloop)' if args.uvloop else ''}"
    )
    print()
    print(
        "| way | req/s (median) | CPU µs/req (median) | req/s ratio to bare, median (min-max) "
        "| CPU ratio (bare CPU / its CPU), median (min-max) |"
    )
    print("|---|---|---|---|---|")
    for name in names:
        rps = statistics.median(args.requests / w for w, _ in results[name])
        cpu = statistics.median(c / args.requests * 1e6 for _, c in results[name])
        rs, cs = ratios[name], cpu_ratios[name]
        print(
            f"| {name} | {rps:,.0f} | {cpu:.1f} | {statistics.median(rs):.3f} ({min(rs):.3f}-{max(rs):.3f}) "
            f"| {statistics.median(cs):.3f} ({min(cs):.3f}-{max(cs):.3f}) |"
        )
    for note in missing:
        print(f"| {note} | - | - | - | - |")
    print()
    origin_loop = ", uvloop" if _version("uvloop") != "-" else ""
    print(
        f"Python {platform.python_version()}, aiohttp {_version('aiohttp')}, sockwise {_version('sockwise')}, "
        f"aiohttp-retry {_version('aiohttp-retry')}, tenacity {_version('tenacity')}, "
        f"stamina {_version('stamina')}, uvloop {_version('uvloop') if args.uvloop else 'off'}; "
        f"client pinned to CPU 0, origin (raw asyncio Protocol{origin_loop}) to CPU 1."
    )


if __name__ == "__main__":
    main(sys.argv[1:])
