"""Goodput through a bad proxy farm: sockwise's pool vs the random-proxy + tenacity loop people write today.

Run: ``python -m bench farm`` or ``python bench/farm.py [--gets 2000] [--rounds 3] [--concurrency 50]
[--timeout 1.0]``.

The farm of issue 5, served by a lab in a child process (pinned to the second core; the clients to
the first): 20 HTTP proxies, 6 healthy, 3 refusing, 3 blackholes, 3 resetting after CONNECT, 2
wanting credentials the list lacks (407) and 3 banned (403) by one of the two sites; and beside it
an all-healthy farm of 20. The job: ``--gets`` HTTPS GETs, half to ``https://localhost:PORT`` (the
site that bans 3 proxies) and half to ``https://127.0.0.1:PORT``, shuffled, ``--concurrency`` at a
time, each try bounded by ``--timeout`` (a blackhole costs that much per try). Keep the timeout well
above the lab's latency at that concurrency: on a busy machine a 0.3 s one times out healthy
proxies too (then sockwise's retry budget, doing its job, stops the retries of that overload).

Clients, both aiohttp, one fresh session (and pool) per run:

* **sockwise**: ``sockwise.aiohttp.session`` with ``PoolRoutes(ProxyPool(list))`` (memory store,
  defaults: least-loaded with pending-aware peak EWMA, so a proxy sitting on a request gets no
  more; eject after 3 proxy failures; ban per site on 403/429) and
  ``RetryPolicy(attempts=20, timeout=T)`` (one try per proxy at most; default backoff and budget);
* **naive**: a random proxy per try, ``raise_for_status()``, retried on any aiohttp error or
  timeout up to 5 tries with no wait: ``tenacity.retry(stop=stop_after_attempt(5))`` when tenacity
  is installed, else the same loop written by hand (the table says which).

After a warm-up job per client, each round runs the four (client x farm) jobs, in reverse order every
other round; wall ratios are medians of per-round ratios to the same client's all-healthy run (min-max
in brackets). Goodput is successful GETs per second of wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

BAD_MIX = "healthy=6,refuse=3,blackhole=3,reset-after-connect=3,auth=2"
BANNED = 3
BANNED_SITE = "localhost"
OTHER_SITE = "127.0.0.1"
NAIVE_TRIES = 5


def _pin(cpu: int) -> None:
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) >= 2:
        os.sched_setaffinity(0, {cpu})


def _serve(conn: Connection) -> None:
    """The child process: a lab with both farms; sends their lists, serves until told to stop."""
    _pin(1)
    from sockwise.lab import Lab, start_farm

    with Lab() as lab:
        bad = [*start_farm(lab, 17, BAD_MIX, seed=3).proxies]
        bad += [lab.add_proxy("ban:403", site=BANNED_SITE) for _ in range(BANNED)]
        random.Random(11).shuffle(bad)
        good = start_farm(lab, 20, "healthy=20", seed=0).proxies
        conn.send(
            {
                "bad": [(p.host, p.port, p.profile) for p in bad],
                "good": [(p.host, p.port, p.profile) for p in good],
                "port": lab.port("origin-tls"),
                "ca": str(lab.ca_file),
            }
        )
        conn.recv()
        errors = lab.errors
    conn.send(repr(errors) if errors else "")


@dataclass
class Run:
    """One job's outcome (``failed``: why GETs failed, e.g. ``budget`` or ``ClientHttpProxyError``)."""

    ok: int
    gets: int
    attempts: int
    wall: float
    failed: Counter[str]


async def _job(urls: list[str], concurrency: int, get: Callable[[str], Awaitable[bool]]) -> tuple[int, float]:
    gate = asyncio.Semaphore(concurrency)

    async def one(url: str) -> bool:
        async with gate:
            return await get(url)

    start = time.perf_counter()
    results = await asyncio.gather(*(one(url) for url in urls))
    return sum(results), time.perf_counter() - start


async def _sockwise(urls: list[str], proxies: list[tuple[str, int, str]], args: argparse.Namespace, ca: str) -> Run:
    import ssl

    import aiohttp

    from sockwise import Proxy
    from sockwise.aiohttp import request_failed, session
    from sockwise.pool import ProxyPool
    from sockwise.retry import RetryPolicy
    from sockwise.runner import PoolRoutes

    pool = ProxyPool([Proxy("http", host, port) for host, port, _ in proxies])
    policy = RetryPolicy(attempts=len(proxies), timeout=args.timeout)
    attempts = 0

    def count(_: object) -> None:
        nonlocal attempts
        attempts += 1

    failed: Counter[str] = Counter()
    context = ssl.create_default_context(cafile=ca)
    async with session(
        policy,
        routes=PoolRoutes(pool),
        on_attempt=count,
        connector_args={"ssl": context, "limit": args.concurrency},
    ) as client:

        async def get(url: str) -> bool:
            try:
                async with client.get(url) as response:
                    await response.read()
                    if response.status != 200:
                        failed[f"HTTP {response.status}"] += 1
                    return response.status == 200
            except aiohttp.ClientError as exc:
                story = request_failed(exc)
                failed[story.reason if story is not None else type(exc).__name__] += 1
                return False

        ok, wall = await _job(urls, args.concurrency, get)
    return Run(ok, len(urls), attempts, wall, failed)


def _naive_retry() -> tuple[Callable[[Callable[..., Awaitable[None]]], Callable[..., Awaitable[None]]], str]:
    """tenacity's retry(stop_after_attempt(5)) on aiohttp errors and timeouts, or the same loop by hand."""
    import aiohttp

    errors = (aiohttp.ClientError, asyncio.TimeoutError)
    try:
        import tenacity  # type: ignore[import-not-found,unused-ignore]
    except ImportError:

        def by_hand(fn: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
            async def wrapper(*a: Any) -> None:
                for attempt in range(1, NAIVE_TRIES + 1):
                    try:
                        await fn(*a)
                        return
                    except errors:
                        if attempt == NAIVE_TRIES:
                            raise

            return wrapper

        return by_hand, f"hand loop, {NAIVE_TRIES} tries (tenacity not installed)"
    decorator = tenacity.retry(
        stop=tenacity.stop_after_attempt(NAIVE_TRIES), retry=tenacity.retry_if_exception_type(errors), reraise=True
    )
    return decorator, f"tenacity {getattr(tenacity, '__version__', '')} stop_after_attempt({NAIVE_TRIES})".strip()


async def _naive(urls: list[str], proxies: list[tuple[str, int, str]], args: argparse.Namespace, ca: str) -> Run:
    import ssl

    import aiohttp

    retry, _ = _naive_retry()
    lists = [f"http://{host}:{port}" for host, port, _ in proxies]
    rng = random.Random(7)
    context = ssl.create_default_context(cafile=ca)
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    attempts = 0
    failed: Counter[str] = Counter()
    connector = aiohttp.TCPConnector(ssl=context, limit=args.concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:

        @retry
        async def fetch(url: str) -> None:
            nonlocal attempts
            attempts += 1
            async with client.get(url, proxy=rng.choice(lists)) as response:
                response.raise_for_status()
                await response.read()

        async def get(url: str) -> bool:
            try:
                await fetch(url)
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                failed[type(exc).__name__] += 1
                return False
            return True

        ok, wall = await _job(urls, args.concurrency, get)
    return Run(ok, len(urls), attempts, wall, failed)


CLIENTS = {"sockwise": _sockwise, "naive": _naive}


def main(argv: list[str] | None = None) -> None:
    """Run the rounds and print the markdown table."""
    parser = argparse.ArgumentParser(description="goodput through a bad proxy farm")
    parser.add_argument("--gets", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--timeout", type=float, default=1.0)
    args = parser.parse_args(argv or [])
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    child = context.Process(target=_serve, args=(theirs,), daemon=True)
    child.start()
    try:
        if not ours.poll(60):
            raise RuntimeError("the lab process did not start within 60 s")
        info = ours.recv()
        _pin(0)
        port = info["port"]
        sites = [BANNED_SITE, OTHER_SITE] * (args.gets // 2) + [OTHER_SITE] * (args.gets % 2)
        random.Random(13).shuffle(sites)
        urls = [f"https://{site}:{port}/fault/ok?n={i}" for i, site in enumerate(sites)]
        # Warm up (imports, the lab's first connections), then rounds in alternating order against drift.
        for job in CLIENTS.values():
            asyncio.run(job(urls[:200], info["good"], args, info["ca"]))
        order = [(client, farm) for client in CLIENTS for farm in ("good", "bad")]
        runs: dict[tuple[str, str], list[Run]] = {key: [] for key in order}
        for n in range(args.rounds):
            for client, farm in order if n % 2 == 0 else reversed(order):
                runs[client, farm].append(asyncio.run(CLIENTS[client](urls, info[farm], args, info["ca"])))
        ours.send("stop")
        lab_errors = ours.recv() if ours.poll(30) else "no answer"
    finally:
        child.join(30)
        if child.is_alive():
            child.kill()
            child.join(10)
    _print(args, runs, _naive_retry()[1])
    if lab_errors:
        print(f"\nwarning: the lab reported errors while serving: {lab_errors}")


def _print(args: argparse.Namespace, runs: dict[tuple[str, str], list[Run]], naive: str) -> None:
    import aiohttp

    print(
        f"farm: {args.gets} HTTPS GETs over 2 sites, {args.concurrency} at a time, per-try timeout {args.timeout:g} s, "
        f"{args.rounds} rounds; Python {sys.version.split()[0]}, aiohttp {aiohttp.__version__}; lab in a child "
        "process on its own core"
    )
    print(f"naive = aiohttp + random proxy per try + {naive}\n")
    print("| client | farm | success % | wall s | goodput GET/s | attempts/GET | wall / all-healthy |")
    print("|---|---|---:|---:|---:|---:|---:|")
    notes = []
    for client in CLIENTS:
        for farm in ("good", "bad"):
            done = runs[client, farm]
            good = runs[client, "good"]
            success = 100.0 * sum(r.ok for r in done) / sum(r.gets for r in done)
            wall = statistics.median(r.wall for r in done)
            goodput = statistics.median(r.ok / r.wall for r in done)
            per_get = sum(r.attempts for r in done) / sum(r.gets for r in done)
            ratios = [r.wall / g.wall for r, g in zip(done, good, strict=True)]
            spread = f" ({min(ratios):.2f}-{max(ratios):.2f})" if farm == "bad" and len(ratios) > 1 else ""
            name = "all-healthy (20)" if farm == "good" else "bad (14 of 20 bad for one site)"
            print(
                f"| {client} | {name} | {success:.1f} | {wall:.2f} | {goodput:.0f} | {per_get:.2f} | "
                f"{statistics.median(ratios):.2f}x{spread} |"
            )
            failed = sum((r.failed for r in done), Counter[str]())
            if failed:
                why = ", ".join(f"{reason} {count}" for reason, count in failed.most_common(4))
                notes.append(f"{client} on the {name.split(' ', maxsplit=1)[0]} farm: failed GETs by reason: {why}")
    if notes:
        print()
        for note in notes:
            print(f"- {note}")


if __name__ == "__main__":
    main(sys.argv[1:])
