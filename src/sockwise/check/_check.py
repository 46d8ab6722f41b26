"""Check many proxies at once: one observed probe per proxy, run concurrently, judged together.

Each proxy gets one :func:`sockwise.probe.probe` of the target: connect, proxy handshake
(CONNECT, SOCKS or the absolute-form request itself), TLS, request, headers, body — every step
timed, a failure classified with the phase it was *seen* in. The probes are blocking sockets, so
they run on a thread pool bounded by ``concurrency``.

Why threads and not asyncio: the probe is written once, on blocking stdlib sockets, so that every
phase is observed rather than inferred; an asyncio checker would need a second copy of it
(convention 6 forbids that). A probe spends its life waiting on a socket with the GIL released, so
threads cost a stack each and nothing more at the concurrency a checker uses (tens to a few
hundred); the file-descriptor limit binds long before threads do. Asyncio would win only at
thousands of probes in flight, which a proxy list's owner seldom wants against one target.
"""

from __future__ import annotations

import enum
import ipaddress
import math
import ssl
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote, urlsplit

from sockwise import Blame, ConfigError, ErrorCode, Failure, FailureFields, Phase, Proxy, redact_credentials
from sockwise.probe import ProbeResult, probe

__all__ = [
    "DEFAULT_TARGET",
    "MAX_CONCURRENCY",
    "PROBE_STEPS",
    "CheckResult",
    "Outcome",
    "check_proxies",
    "check_target",
    "judge_by_target",
    "protocol_of",
    "result_of",
]

#: A small, fast, highly available HTTPS URL answering 204 with no body (what many proxy clients
#: use as a connectivity check). HTTPS makes an HTTP proxy open a CONNECT tunnel, where every
#: failure of the proxy is observed in its own phase. Tests and offline users pass ``target``.
DEFAULT_TARGET = "https://www.gstatic.com/generate_204"
#: Probes in flight at most: each holds a socket (two through a TLS proxy) and a thread.
MAX_CONCURRENCY = 1000
#: A probe's deadline is ``timeout × PROBE_STEPS``: the socket steps a probe can take (connect,
#: TLS to an https proxy, proxy handshake, TLS, send, wait for headers, body). A probe whose every
#: step runs to its timeout fits; a trickling body or a stalled relay does not hold a slot longer.
PROBE_STEPS = 7
#: Statuses a gateway sends about its upstream (RFC 9110 §15.6.3, §15.6.5).
_GATEWAY_STATUSES = frozenset({502, 504})


class Outcome(str, enum.Enum):
    """What a check concluded about one proxy, for the summary.

    ``ok``: the target answered through it. ``proxy``: the proxy failed (refused, reset, timed out,
    wants credentials, refused the tunnel). ``blocked``: the target answered through it with a
    failing status (403, 429, ...): the route works but this site refuses this proxy. ``target``:
    the target or the path beyond the proxy failed: this says little about the proxy. ``local``:
    this machine failed (out of file descriptors, ...). ``unknown``: no one to blame.
    """

    OK = "ok"
    PROXY = "proxy"
    BLOCKED = "blocked"
    TARGET = "target"
    LOCAL = "local"
    UNKNOWN = "unknown"

    def __str__(self) -> str:
        return str(self.value)


@dataclass(frozen=True, slots=True)
class CheckResult(FailureFields):
    """The check of one proxy.

    Attributes:
        proxy: the proxy checked; its repr hides the password, and every output shows
            ``proxy.redacted``.
        protocol: what was spoken to it: ``http-connect`` / ``https-connect`` (a CONNECT tunnel, for
            https targets), ``http-forward`` / ``https-forward`` (absolute-form, for http targets),
            ``socks4``, ``socks4a``, ``socks5`` or ``socks5h``.
        target: the URL requested through it.
        ok: True when the target answered with a status that is not a failure.
        outcome: the check's conclusion (see :class:`Outcome`).
        status: the HTTP status received, if any (the CONNECT reply's for a refused tunnel).
        latency_ms: the time of every step together, in milliseconds.
        phases_ms: each step's phase and milliseconds, in order (several steps may share a phase:
            TLS to an https proxy and its CONNECT are both ``proxy_handshake``).
        failure: the classified failure (without the exception), or None.
        body_bytes: how many body bytes arrived.
    """

    proxy: Proxy
    protocol: str
    target: str
    ok: bool
    outcome: Outcome
    status: int | None
    latency_ms: float
    phases_ms: tuple[tuple[Phase, float], ...] = ()
    failure: Failure | None = None
    body_bytes: int = 0

    def __post_init__(self) -> None:
        # A failure's text may quote what a server echoed: keep the password out of it for good.
        if self.failure is not None and self.proxy.password:
            detail = _scrub(self.failure.detail, self.proxy)
            if detail != self.failure.detail:
                object.__setattr__(self, "failure", replace(self.failure, detail=detail))

    @property
    def detail(self) -> str:
        """One line about the failure for a person (credentials masked); empty for a success."""
        return "" if self.failure is None else self.failure.detail

    def phase_ms(self, phase: Phase) -> float | None:
        """Milliseconds spent in ``phase`` (summed over its steps), or None when it was not reached."""
        times = [ms for p, ms in self.phases_ms if p is phase]
        return sum(times) if times else None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready record; the proxy appears redacted, its password nowhere."""
        return {
            "proxy": self.proxy.redacted,
            "protocol": self.protocol,
            "target": redact_credentials(self.target),
            "ok": self.ok,
            "outcome": str(self.outcome),
            "status": self.status,
            "latency_ms": round(self.latency_ms, 3),
            "phases_ms": {str(p): round(ms, 3) for p, ms in _merged(self.phases_ms)},
            "code": None if self.code is None else str(self.code),
            "phase": None if self.phase is None else str(self.phase),
            "blame": None if self.blame is None else str(self.blame),
            "errno": self.errno,
            "request_sent": self.failure.request_sent if self.failure else True,
            "body_bytes": self.body_bytes,
            "detail": self.detail,
        }


def _merged(phases_ms: Iterable[tuple[Phase, float]]) -> list[tuple[Phase, float]]:
    out: dict[Phase, float] = {}
    for phase, ms in phases_ms:
        out[phase] = out.get(phase, 0.0) + ms
    return list(out.items())


def _scrub(text: str, proxy: Proxy) -> str:
    """Mask the proxy's password wherever it might hide in a text (classify masks URLs already)."""
    for secret in (proxy.password, quote(proxy.password or "", safe="")):
        if secret and secret in text:  # even a short one: a mangled detail beats a leaked password
            text = text.replace(secret, "***")
    return text


def protocol_of(proxy: Proxy, target: str) -> str:
    """The protocol a probe speaks to ``proxy`` for ``target`` (see :attr:`CheckResult.protocol`)."""
    if proxy.scheme in ("http", "https"):
        mode = "connect" if urlsplit(target).scheme == "https" else "forward"
        return f"{proxy.scheme}-{mode}"
    if proxy.scheme == "socks4":
        host = urlsplit(target).hostname or ""
        return "socks4" if _is_ipv4(host) else "socks4a"
    return proxy.scheme


def _is_ipv4(host: str) -> bool:
    try:
        return isinstance(ipaddress.ip_address(host), ipaddress.IPv4Address)
    except ValueError:
        return False


def _outcome(ok: bool, failure: Failure | None) -> Outcome:
    if ok or failure is None:
        return Outcome.OK
    if failure.blame is Blame.PROXY:
        return Outcome.PROXY
    if failure.blame is Blame.LOCAL:
        return Outcome.LOCAL
    if failure.code is ErrorCode.HTTP_STATUS and failure.blame is Blame.ORIGIN:
        return Outcome.BLOCKED
    if failure.blame in (Blame.ORIGIN, Blame.NETWORK):
        return Outcome.TARGET
    return Outcome.UNKNOWN


def result_of(proxy: Proxy, target: str, probed: ProbeResult) -> CheckResult:
    """Turn a probe's verdict into a check result (the failure loses its exception and traceback)."""
    failure = replace(probed.failure, exception=None) if probed.failure is not None else None
    phases = tuple((p.phase, p.ms) for p in probed.phases)
    return CheckResult(
        proxy=proxy,
        protocol=protocol_of(proxy, target),
        target=target,
        ok=probed.ok,
        outcome=_outcome(probed.ok, failure),
        status=probed.status if probed.status is not None else (failure.status if failure else None),
        latency_ms=sum(ms for _, ms in phases),
        phases_ms=phases,
        failure=failure,
        body_bytes=probed.body_bytes,
    )


def judge_by_target(results: Sequence[CheckResult]) -> list[CheckResult]:
    """Settle what one absolute-form request cannot tell, with what the whole check saw.

    Through an HTTP proxy, a request for an ``http://`` target *is* the proxy's handshake: a
    timeout waiting for the headers, or a 502/504 page, may be the proxy's or the target's, and
    classify (seeing one request) blames nobody (a timeout) or the target (a page). When the
    same target answered through another proxy of this check, the target is up, and the check
    blames the proxy: the timeout stays ETIMEDOUT in ``wait``, blamed on the proxy; the gateway
    page becomes PROXY_REFUSED with its status. Nothing else changes, and nothing changes when
    no proxy reached the target.

    Args:
        results: every result of one check (one target).

    Returns:
        The results, in the same order, with those failures re-blamed.
    """
    targets_up = {r.target for r in results if r.ok}
    return [_judged(r) if r.target in targets_up else r for r in results]


_UNSETTLED = frozenset({Blame.ORIGIN, Blame.UNKNOWN})


def _judged(result: CheckResult) -> CheckResult:
    failure = result.failure
    if failure is None or not result.protocol.endswith("-forward") or failure.blame not in _UNSETTLED:
        return result
    why = "the target answered through other proxies of this check"
    if failure.code is ErrorCode.ETIMEDOUT and failure.phase is Phase.WAIT:
        judged = replace(failure, blame=Blame.PROXY, detail=f"{failure.detail}; {why}")
    elif failure.code is ErrorCode.HTTP_STATUS and failure.status in _GATEWAY_STATUSES:
        judged = replace(
            failure,
            code=ErrorCode.PROXY_REFUSED,
            blame=Blame.PROXY,
            request_sent=None,  # the proxy may have tried the target and failed
            detail=f"{failure.detail}; {why}: the proxy answered it",
        )
    else:
        return result
    return replace(result, failure=judged, outcome=_outcome(False, judged))


def check_target(target: str) -> str:
    """Check a target URL before any probe runs.

    Returns:
        The URL, stripped.

    Raises:
        ConfigError: no http/https scheme, no host or a bad port; the message says how to write it.
    """
    text = target.strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https"):
        raise ConfigError(
            f"target {target!r} needs an http:// or https:// scheme, e.g. https://{text.split('://')[-1] or 'host/'}"
        )
    if not parts.hostname:
        raise ConfigError(f"target {target!r} has no host; write e.g. https://example.com/")
    try:
        _ = parts.port
    except ValueError:
        raise ConfigError(f"target {target!r}: the port is not a number in 1-65535") from None
    return text


def check_proxies(
    proxies: Iterable[Proxy],
    *,
    target: str = DEFAULT_TARGET,
    concurrency: int = 50,
    timeout: float = 5.0,
    ssl_context: ssl.SSLContext | None = None,
    on_result: Callable[[CheckResult], None] | None = None,
) -> list[CheckResult]:
    """Check every proxy by requesting ``target`` through it, ``concurrency`` at a time.

    Bounded: each probe waits at most ``timeout`` for any socket step and ``timeout × PROBE_STEPS``
    in all, so the check ends within ``ceil(len(proxies) / concurrency) × timeout × PROBE_STEPS``
    (plus name resolution of proxies given by host name, which the system resolver bounds).

    Args:
        proxies: the proxies (each is probed once, in this order of submission).
        target: an ``http://`` or ``https://`` URL. HTTP proxies open a CONNECT tunnel to an https
            target and send an absolute-form request for an http one; SOCKS proxies tunnel either.
        concurrency: probes in flight at most (1..MAX_CONCURRENCY).
        timeout: seconds each socket step may wait.
        ssl_context: TLS settings for the target (e.g. a CA to trust); the system's by default.
        on_result: called in the calling thread with each result as its probe ends, before the
            check's final judgement (see :func:`judge_by_target`); for progress displays.

    Returns:
        One result per proxy, in input order, judged together.

    Raises:
        ConfigError: a bad target, concurrency or timeout.
    """
    target = check_target(target)
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or not 1 <= concurrency <= MAX_CONCURRENCY:
        raise ConfigError(f"concurrency must be an integer from 1 to {MAX_CONCURRENCY}, not {concurrency!r}")
    if not isinstance(timeout, (int, float)) or not math.isfinite(timeout) or timeout <= 0:
        raise ConfigError(f"timeout must be a number of seconds > 0, not {timeout!r}")
    todo = list(proxies)
    if not todo:
        return []
    deadline = timeout * PROBE_STEPS
    results: dict[int, CheckResult] = {}

    def run(proxy: Proxy) -> CheckResult:
        probed = probe(target, proxy=proxy, timeout=timeout, ssl_context=ssl_context, deadline=deadline)
        return result_of(proxy, target, probed)

    pool = ThreadPoolExecutor(max_workers=min(concurrency, len(todo)), thread_name_prefix="sockwise-check")
    in_flight: dict[Future[CheckResult], int] = {}
    submitted = 0
    try:
        # At most `concurrency` futures exist at once, so a list of 100 000 proxies costs no more.
        while len(results) < len(todo):
            while submitted < len(todo) and len(in_flight) < concurrency:
                in_flight[pool.submit(run, todo[submitted])] = submitted
                submitted += 1
            finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in finished:
                index = in_flight.pop(future)
                result = future.result()
                results[index] = result
                if on_result is not None:
                    on_result(result)
    finally:
        # On an error or Ctrl-C: drop what has not started; running probes end within their deadline.
        pool.shutdown(wait=False, cancel_futures=True)
    return judge_by_target([results[i] for i in range(len(todo))])
