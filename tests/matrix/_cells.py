"""The cells of the classification matrix and the machinery that runs them on real sockets.

A *cell* is (scenario, client, route). Running it: build the URL(s) the scenario needs on a lab, let the
client's runner (``_clients``) perform the request(s), classify what it raised with ``classify(exc,
via_proxy=...)`` and **no phase hint** (what a library user gets), and count what the server side saw.

Groups of cells share a lab: one lab per client (with a healthy proxy and one proxy per profile), and one
network namespace for the namespace scenarios. Groups run in parallel threads (the clients mostly wait on
timers and sockets), cells inside a group one after another, so per-listener counters are exact.
"""

from __future__ import annotations

import concurrent.futures
import functools
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from tests.matrix._clients import CLIENTS, RUNNERS, Outcome, Plan
from tests.matrix.expected import Expect

from sockwise import classify, classify_status
from sockwise._model import Failure

if TYPE_CHECKING:
    from sockwise.lab import Lab, Netns
    from sockwise.lab._proxy import LabProxy

__all__ = ["CELLS", "ROUTES", "SPECS", "Cell", "Observed", "Spec", "exception_name", "run_cells"]

LONG = 5.0  # a timeout that never fires unless something is badly wrong
STALL = 0.5  # the timeout of the phase a stall scenario stalls in

DIRECT, DIRECT_TLS, PROXY_ABSOLUTE, PROXY_CONNECT = "direct", "direct-tls", "proxy-absolute", "proxy-connect"
ROUTES = (DIRECT, DIRECT_TLS, PROXY_ABSOLUTE, PROXY_CONNECT)
#: Routes through the proxy: absolute-form for http targets, CONNECT (then TLS) for https targets.
PROXIED = frozenset({PROXY_ABSOLUTE, PROXY_CONNECT})
TLS_ROUTES = frozenset({DIRECT_TLS, PROXY_CONNECT})


@dataclass(frozen=True, slots=True)
class Spec:
    """One row of the matrix: a lab scenario (with parameters) and the routes it is run on.

    Attributes:
        row: the row's name (the scenario, or ``stale-keepalive(rst)`` for a variant).
        kind: ``path``, ``port``, ``proxy`` (a proxy profile, reached with a healthy target) or ``netns``.
        lab_name: the scenario or proxy profile in the lab's catalogue.
        routes: where it applies.
        params: query parameters of a path scenario.
        connect_timeout: seconds (STALL where the scenario stalls the connect or the TLS handshake).
        read_timeout: seconds (STALL where it stalls a read).
        requests: GETs on one client (2 for a stale keep-alive connection).
        settle: connections the server side must have seen before counting (the accept of a
            listener that never answers is not ordered before the client's timeout).
        proxy_bounds_stall: through a proxy the stall is the proxy's upstream connect, which the
            lab proxy ends after STALL with a 504: the client then waits LONG for that answer
            (with the same timer on both sides, which fires first would be a race).
    """

    row: str
    kind: str
    lab_name: str
    routes: tuple[str, ...]
    params: dict[str, str] = field(default_factory=dict)
    connect_timeout: float = LONG
    read_timeout: float = LONG
    requests: int = 1
    settle: int = 0
    proxy_bounds_stall: bool = False


_PORT_PLAIN = (DIRECT, PROXY_ABSOLUTE, PROXY_CONNECT)
_PORT_TLS = (DIRECT, PROXY_CONNECT)
_PROXY = (PROXY_ABSOLUTE, PROXY_CONNECT)

SPECS: tuple[Spec, ...] = (
    # -- origin, by path -----------------------------------------------------------------------------------
    Spec("ok", "path", "ok", ROUTES),
    Spec("status", "path", "status", ROUTES, {"code": "503"}),
    Spec("reset-after-request", "path", "reset-after-request", ROUTES),
    Spec("empty-reply", "path", "empty-reply", ROUTES),
    Spec("reset-mid-body", "path", "reset-mid-body", ROUTES),
    Spec("close-mid-body", "path", "close-mid-body", ROUTES),
    Spec("stall-before-headers", "path", "stall-before-headers", ROUTES, read_timeout=STALL),
    Spec("stall-mid-body", "path", "stall-mid-body", ROUTES, read_timeout=STALL),
    # 4 bytes 0.15 s apart: 0.6 s in all, more than the 0.5 s read timeout, never 0.5 s without a byte.
    Spec("trickle", "path", "trickle", (DIRECT,), {"size": "4", "interval": "0.15"}, read_timeout=STALL),
    Spec("garbage", "path", "garbage", ROUTES),
    Spec("stale-keepalive", "path", "stale-keepalive", ROUTES, requests=2),
    Spec("stale-keepalive(rst)", "path", "stale-keepalive", ROUTES, {"mode": "rst"}, requests=2),
    # -- origin, on ports of their own -------------------------------------------------------------------
    Spec("refused", "port", "refused", _PORT_PLAIN),
    Spec("reset-on-accept", "port", "reset-on-accept", _PORT_PLAIN),
    Spec("backlog-full", "port", "backlog-full", _PORT_PLAIN, connect_timeout=STALL, proxy_bounds_stall=True),
    Spec("tls-to-plain", "port", "tls-to-plain", _PORT_TLS),
    Spec("tls-stall", "port", "tls-stall", _PORT_TLS, connect_timeout=STALL, read_timeout=STALL, settle=1),
    Spec("bad-cert", "port", "bad-cert", _PORT_TLS),
    Spec("wrong-host", "port", "wrong-host", _PORT_TLS),
    # -- forward-proxy profiles, each with a healthy target ---------------------------------------------
    Spec("refuse", "proxy", "refuse", _PROXY),
    Spec("blackhole", "proxy", "blackhole", _PROXY, connect_timeout=STALL, read_timeout=STALL, settle=1),
    Spec("auth", "proxy", "auth", _PROXY),
    Spec("connect-502", "proxy", "connect-502", _PROXY),
    Spec("connect-403", "proxy", "connect-403", _PROXY),
    Spec("reset-after-connect", "proxy", "reset-after-connect", _PROXY),
    Spec("upstream-dead", "proxy", "upstream-dead", _PROXY),
    # -- private network namespace ---------------------------------------------------------------------
    Spec("host-unreachable", "netns", "host-unreachable", (DIRECT,)),
    Spec("net-unreachable", "netns", "net-unreachable", (DIRECT,)),
    Spec("route-prohibited", "netns", "route-prohibited", (DIRECT,)),
    Spec("route-blackhole", "netns", "route-blackhole", (DIRECT,)),
    Spec("syn-dropped", "netns", "syn-dropped", (DIRECT,), connect_timeout=STALL),
    Spec("conn-aborted", "netns", "conn-aborted", (DIRECT,)),
)
_BY_ROW = {spec.row: spec for spec in SPECS}

#: The healthy proxy of every proxied route of origin scenarios: connects upstream give up after STALL
#: (a full backlog gives the client the proxy's 504 instead of a 10 s wait).
_HEALTHY_OPTIONS: dict[str, Any] = {"connect_timeout": STALL}


@dataclass(frozen=True, slots=True)
class Cell:
    """One cell: a row of the matrix, a client, a route."""

    row: str
    client: str
    route: str

    @property
    def key(self) -> tuple[str, str, str]:
        """``(scenario, client, route)``: the key of the expected table."""
        return self.row, self.client, self.route

    @property
    def spec(self) -> Spec:
        """The row's spec."""
        return _BY_ROW[self.row]

    @property
    def id(self) -> str:
        """A unique token, sent as ``?cell=`` to path scenarios so the origin's records can be told apart."""
        return re.sub(r"[^A-Za-z0-9]+", "-", f"{self.client}-{self.route}-{self.row}").strip("-")

    @property
    def via_proxy(self) -> bool:
        """Whether the request goes through a forward proxy."""
        return self.route in PROXIED


CELLS: tuple[Cell, ...] = tuple(
    Cell(spec.row, client, route) for client in CLIENTS for spec in SPECS for route in spec.routes
)


@dataclass(frozen=True, slots=True)
class Observed:
    """What one cell produced.

    Attributes:
        cell: the cell.
        exception: the library's exception (None when it returned).
        status: the last HTTP status the client saw.
        failure: ``classify(exception, via_proxy=...)`` with no phase hint; for a response the client
            did not raise on, ``classify_status`` of a failing status; None for a success.
        seen: what the server side saw: requests the origin read (path scenarios), connections the
            listener accepted (port scenarios, proxy profiles); None where the lab cannot count.
        seconds: how long the client took.
    """

    cell: Cell
    exception: BaseException | None
    status: int | None
    failure: Failure | None
    seen: int | None
    seconds: float

    @property
    def exception_name(self) -> str:
        """The exception's name as a user would import it (empty when none was raised)."""
        return exception_name(self.exception)

    def as_expect(self) -> Expect:
        """What was observed, in the shape of the expected table."""
        f = self.failure
        if f is None:
            return Expect(self.exception_name, None, None, None, None, None, self.seen)
        return Expect(self.exception_name, f.code, f.phase, f.blame, f.request_sent, f.errno, self.seen)


def exception_name(exc: BaseException | None) -> str:
    """``requests.ConnectionError``, ``http.client.RemoteDisconnected``, ``TimeoutError``: the public name."""
    if exc is None:
        return ""
    cls = type(exc)
    module = cls.__module__
    if module == "builtins":
        return cls.__qualname__
    top = module.split(".")[0]
    # stdlib modules by their full public name; libraries by their top-level package (all re-export).
    prefix = module if top in ("http", "ssl", "socket", "asyncio", "urllib") else top
    if prefix == "asyncio.exceptions":
        prefix = "asyncio"
    return f"{prefix}.{cls.__qualname__}"


# -- building plans ----------------------------------------------------------------------------------------
class _Site:
    """One lab with the proxies the cells need: a healthy one for routes, one per profile."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.healthy = lab.add_proxy("healthy", **_HEALTHY_OPTIONS)
        self.profiles: dict[str, LabProxy] = {}

    def profile(self, name: str) -> LabProxy:
        proxy = self.profiles.get(name)
        if proxy is None:
            proxy = self.profiles[name] = self.lab.add_proxy(name)
        return proxy

    def plan(self, cell: Cell) -> tuple[Plan, Callable[[], int | None]]:
        """The client's plan and a counter of what the server side saw (read before and after the cell)."""
        spec, lab = cell.spec, self.lab
        tls = cell.route in TLS_ROUTES
        proxy = self.healthy.proxy.url if cell.via_proxy else None
        count: Callable[[], int | None]
        if spec.kind == "path":
            url = lab.url(spec.lab_name, tls=tls, cell=cell.id, **spec.params)
            count = functools.partial(_requests_of, lab, spec.lab_name, cell.id)
        elif spec.kind == "port":
            host, port = lab.address(spec.lab_name)
            default = lab.url(spec.lab_name)
            if cell.route == DIRECT:
                url = default
            else:
                path = default.split(f":{port}", 1)[1]
                url = f"{'https' if tls else 'http'}://{host}:{port}{path}"
            listener = _PORT_LISTENERS.get(spec.lab_name)
            count = functools.partial(lab.accepted, listener) if listener else _not_counted
        elif spec.kind == "proxy":
            profile = self.profile(spec.lab_name)
            # Never with credentials: for ``auth`` that is the point of the row (the proxy asks for them).
            proxy = f"http://{profile.host}:{profile.port}"
            url = lab.url("ok", tls=tls, cell=cell.id)
            count = functools.partial(lab.accepted, profile.name)
        else:  # pragma: no cover - netns cells are planned by _run_netns_group
            raise AssertionError(spec.kind)
        assert lab.certs is not None
        waits = (
            (LONG, LONG) if cell.via_proxy and spec.proxy_bounds_stall else (spec.connect_timeout, spec.read_timeout)
        )
        plan = Plan(
            urls=(url,) * spec.requests,
            proxy=proxy,
            ca_file=str(lab.ca_file),
            connect_timeout=waits[0],
            read_timeout=waits[1],
        )
        return plan, count


def _requests_of(lab: Lab, scenario: str, cell_id: str) -> int:
    """Requests the origin read for one cell (its ``?cell=`` parameter)."""
    return sum(1 for r in lab.records(scenario) if parse_qs(urlsplit(r.target).query).get("cell") == [cell_id])


def _not_counted() -> None:
    return None


#: Listeners whose accepted connections are counted for port scenarios. ``refused`` and
#: ``backlog-full`` never accept, and the TLS listeners of ``bad-cert`` / ``wrong-host`` count a
#: connection only once its handshake succeeded: not counted (None).
_PORT_LISTENERS = {"reset-on-accept": "reset-on-accept", "tls-stall": "tls-stall", "tls-to-plain": "origin"}


def _observe(
    cell: Cell, plan: Plan, count: Callable[[], int | None], run: Callable[[Plan], Outcome], lab: Lab | None
) -> Observed:
    before = count()
    start = time.monotonic()
    outcome = run(plan)
    seconds = time.monotonic() - start
    seen: int | None = None
    if before is not None:
        if cell.spec.settle and lab is not None:
            lab.wait_for(lambda: (count() or 0) - before >= cell.spec.settle, timeout=2.0)
        after = count()
        seen = None if after is None else after - before
    failure: Failure | None = None
    if outcome.exception is not None:
        failure = classify(outcome.exception, via_proxy=cell.via_proxy)
    elif outcome.status is not None and outcome.status >= 400:
        failure = classify_status(outcome.status, via_proxy=cell.via_proxy)
    return Observed(cell, outcome.exception, outcome.status, failure, seen, seconds)


def _run_lab_group(cells: list[Cell]) -> list[Observed]:
    from sockwise.lab import Lab

    out = []
    with Lab() as lab:
        site = _Site(lab)
        for cell in cells:
            plan, count = site.plan(cell)
            out.append(_observe(cell, plan, count, RUNNERS[cell.client], lab))
        errors = lab.errors
    if errors:
        raise AssertionError(f"the lab failed while serving the matrix: {errors!r}")
    return out


def _run_netns_group(cells: list[Cell], ns: Netns) -> list[Observed]:
    addresses: dict[str, tuple[str, int]] = {}
    out = []
    for cell in cells:
        spec = cell.spec
        if spec.lab_name not in addresses:
            addresses[spec.lab_name] = ns.scenario(spec.lab_name)
        host, port = addresses[spec.lab_name]
        plan = Plan(
            urls=(f"http://{host}:{port}/?cell={cell.id}",),
            proxy=None,
            ca_file="",
            connect_timeout=spec.connect_timeout,
            read_timeout=spec.read_timeout,
        )
        runner = RUNNERS[cell.client]
        out.append(_observe(cell, plan, _not_counted, functools.partial(_in_namespace, ns, runner), None))
    return out


def _in_namespace(ns: Netns, runner: Callable[[Plan], Outcome], plan: Plan) -> Outcome:
    # Clients created inside ns.run live in the namespace: their sockets are the namespace's.
    return ns.run(runner, plan, timeout=30)


def run_cells(cells: Iterable[Cell], *, netns: Netns | None = None, parallel: bool = True) -> dict[Cell, Observed]:
    """Run cells and return what each produced.

    Args:
        cells: the cells to run (netns cells need ``netns``; without it they are left out).
        netns: a running namespace for the namespace scenarios.
        parallel: run the groups (one per client, plus the namespace) in parallel threads.

    Returns:
        Every cell that ran, with its observation.
    """
    groups: dict[str, list[Cell]] = {}
    for cell in cells:
        if cell.spec.kind == "netns":
            if netns is not None:
                groups.setdefault("netns", []).append(cell)
        else:
            groups.setdefault(cell.client, []).append(cell)

    def run_group(name: str) -> list[Observed]:
        if name == "netns":
            assert netns is not None
            return _run_netns_group(groups[name], netns)
        return _run_lab_group(groups[name])

    results: dict[Cell, Observed] = {}
    if parallel and len(groups) > 1:
        with concurrent.futures.ThreadPoolExecutor(len(groups), thread_name_prefix="matrix") as pool:
            for observed in pool.map(run_group, list(groups)):
                results.update((o.cell, o) for o in observed)
    else:
        for name in groups:
            results.update((o.cell, o) for o in run_group(name))
    return results
