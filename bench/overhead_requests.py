"""What sockwise's requests integration costs at zero faults (target: >= 0.95x bare requests).

2,000 sequential keep-alive GETs per client per round against the fast origin (its own process,
pinned to the other core), clients interleaved in a rotating order, several rounds; for each
client the median of its per-round throughput ratio to bare ``requests.Session`` (min-max), its
median req/s and the CPU it spends per request (this process only: the origin is elsewhere), and
the per-round ratio of bare requests' CPU to its CPU (steadier than wall time on a busy machine).

Clients: bare ``requests.Session``; requests with urllib3 ``Retry(3)`` mounted (the usual
hand-rolled retry); ``sockwise.requests.Session`` with the default policy (no deadline: attempts
are bounded by requests' own timeouts only) and with ``deadline=10, timeout=5`` (every read checks
the attempt's time left); tenacity and stamina around ``session.get`` (when installed); plain
urllib3 ``PoolManager`` with ``Retry(3)`` for reference.

Run: ``python -m bench overhead_requests`` or ``python bench/overhead_requests.py [--requests N] [--rounds N]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.util import Retry

from bench import _callgrind as _callgrind_tool
from bench._fast_origin import fast_origin, pin_client
from sockwise import RetryPolicy
from sockwise.requests import Session

REQUESTS = 2000
ROUNDS = 7
BASELINE = "requests.Session (bare)"


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _checked(get: Callable[[str], requests.Response], url: str) -> Callable[[], object]:
    def one() -> object:
        response = get(url)
        if response.status_code != 200 or response.content != b"ok":
            raise RuntimeError(f"unexpected response {response.status_code}")
        return response

    return one


def _clients(url: str) -> tuple[dict[str, Callable[[], object]], list[Callable[[], None]], list[str]]:
    """name -> one GET (body read, status checked); the closers; peers that are not installed."""
    bare = requests.Session()
    retry3 = requests.Session()
    retry3.mount("http://", HTTPAdapter(max_retries=Retry(3)))
    sockwise_default = Session(RetryPolicy())
    sockwise_bounded = Session(RetryPolicy(deadline=10.0, timeout=5.0))
    pool = urllib3.PoolManager(retries=Retry(3))
    sessions = [bare, retry3, sockwise_default, sockwise_bounded]
    clients = {
        BASELINE: _checked(bare.get, url),
        "requests + urllib3 Retry(3) adapter": _checked(retry3.get, url),
        "sockwise.requests.Session (default policy)": _checked(sockwise_default.get, url),
        "sockwise.requests.Session (deadline=10, timeout=5)": _checked(sockwise_bounded.get, url),
    }
    missing = []
    try:
        import tenacity

        plain = requests.Session()
        sessions.append(plain)
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(3),
            retry=tenacity.retry_if_exception_type(requests.ConnectionError),
            reraise=True,
        )

        def with_tenacity(target: str, get: Callable[..., requests.Response] = plain.get) -> requests.Response:
            response: requests.Response = retrying(get, target)
            return response

        clients[f"tenacity {version('tenacity')} around session.get"] = _checked(with_tenacity, url)
    except ImportError:
        missing.append("tenacity")
    try:
        import stamina

        plain = requests.Session()
        sessions.append(plain)
        clients[f"stamina {version('stamina')} around session.get"] = _checked(
            stamina.retry(on=requests.ConnectionError, attempts=3)(plain.get), url
        )
    except ImportError:
        missing.append("stamina")

    def via_urllib3() -> object:
        response = pool.request("GET", url)
        if response.status != 200 or response.data != b"ok":
            raise RuntimeError(f"unexpected response {response.status}")
        return response

    clients["urllib3.PoolManager + Retry(3) (reference)"] = via_urllib3
    for session in sessions:
        session.trust_env = False
    closers: list[Callable[[], None]] = [session.close for session in sessions]
    closers.append(pool.clear)
    return clients, closers, missing


def _run(get: Callable[[], object], count: int) -> tuple[float, float]:
    cpu0, t0 = _cpu(), time.perf_counter()
    for _ in range(count):
        get()
    return time.perf_counter() - t0, _cpu() - cpu0


def _callgrind() -> None:
    script = os.path.abspath(__file__)
    with fast_origin() as (host, port):
        url = f"http://{host}:{port}/"
        _callgrind_tool.compare(
            "requests integration overhead at zero faults, in instructions (callgrind, sequential GETs)",
            list(_clients(url)[0]),
            lambda name, n: [script, "--child", name, url, "--requests", str(n)],
            footer=f"Python {platform.python_version()}, requests {version('requests')}, urllib3 {version('urllib3')}.",
        )


def main(argv: list[str] | None = None) -> None:
    """Interleave the clients for several rounds against the fast origin; print the table.

    Args:
        argv: options (``--requests N``, ``--rounds N``); none when run by ``python -m bench``.
    """
    parser = argparse.ArgumentParser(description="sockwise requests overhead at zero faults")
    parser.add_argument("--requests", type=int, default=REQUESTS, help="sequential GETs per client per round")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--callgrind", action="store_true", help="count instructions per GET with valgrind")
    parser.add_argument("--child", nargs=2, metavar=("CLIENT", "URL"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv if argv is not None else [])
    if args.child:
        name, url = args.child
        clients, closers, _ = _clients(url)
        try:
            _run(clients[name], args.requests)
        finally:
            for close in closers:
                close()
        return
    if args.callgrind:
        _callgrind()
        return
    pin_client()
    with fast_origin() as (host, port):
        url = f"http://{host}:{port}/"
        clients, closers, missing = _clients(url)
        names = list(clients)
        try:
            for get in clients.values():  # warm-up: connections open, code paths hot
                _run(get, min(200, args.requests))
            walls: dict[str, list[float]] = {name: [] for name in names}
            cpus: dict[str, list[float]] = {name: [] for name in names}
            for round_no in range(args.rounds):
                shift = round_no % len(names)
                for name in names[shift:] + names[:shift]:  # rotate: no client always runs first
                    wall, cpu = _run(clients[name], args.requests)
                    walls[name].append(wall)
                    cpus[name].append(cpu)
        finally:
            for close in closers:
                close()

    n = args.requests
    print(f"## requests integration overhead: {n} sequential GETs x {args.rounds} interleaved rounds")
    print(
        f"Python {platform.python_version()}, requests {version('requests')}, urllib3 {version('urllib3')}, "
        f"sockwise {version('sockwise')}; fast origin pinned to its own core; client on core 0."
    )
    print()
    print(
        "| client | throughput vs bare requests (median, min-max) | CPU vs bare (median, min-max) "
        "| req/s (median) | CPU us/request (median) |"
    )
    print("|---|---|---|---|---|")
    base, base_cpu = walls[BASELINE], cpus[BASELINE]
    for name in names:
        ratios = [b / w for b, w in zip(base, walls[name], strict=True)]
        cpu_ratios = [b / c for b, c in zip(base_cpu, cpus[name], strict=True)]
        rps = statistics.median(n / w for w in walls[name])
        cpu_us = statistics.median(c / n * 1e6 for c in cpus[name])
        print(
            f"| {name} | {statistics.median(ratios):.3f}x ({min(ratios):.3f}-{max(ratios):.3f}) | "
            f"{statistics.median(cpu_ratios):.3f}x ({min(cpu_ratios):.3f}-{max(cpu_ratios):.3f}) | "
            f"{rps:,.0f} | {cpu_us:.0f} |"
        )
    if missing:
        print(f"\nNot installed (not measured): {', '.join(missing)}")


if __name__ == "__main__":
    main(sys.argv[1:])
