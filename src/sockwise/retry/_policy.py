"""RetryPolicy: what may be retried, how often, how long to wait and for how long in total."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from sockwise._exceptions import ConfigError
from sockwise._model import Blame, ErrorCode, Failure, Phase
from sockwise.retry._backoff import Backoff
from sockwise.retry._budget import RetryBudget

__all__ = [
    "DEFAULT_IDEMPOTENT_METHODS",
    "DEFAULT_RETRY_CODES",
    "DEFAULT_RETRY_STATUSES",
    "DEFAULT_SWITCH_CODES",
    "DEFAULT_SWITCH_STATUSES",
    "NEVER_RETRIED",
    "RetryPolicy",
]

DEFAULT_RETRY_CODES: frozenset[ErrorCode] = frozenset(
    {
        ErrorCode.ECONNRESET,
        ErrorCode.ECONNABORTED,
        ErrorCode.ECONNREFUSED,
        ErrorCode.EPIPE,
        ErrorCode.ETIMEDOUT,
        ErrorCode.EHOSTUNREACH,
        ErrorCode.ENETUNREACH,
        ErrorCode.UNEXPECTED_EOF,
        ErrorCode.EAI_AGAIN,
    }
)
"""Connection-level failures that may pass on their own: retried on the same route (if safe)."""

DEFAULT_SWITCH_CODES: frozenset[ErrorCode] = frozenset(
    {ErrorCode.PROXY_AUTH, ErrorCode.PROXY_REFUSED, ErrorCode.EPROTO}
)
"""Failures of the route, not of the moment: the same route would fail the same way, so they are
retried only on another route (a proxy pool), never on the same one. A 407 from one proxy of a
pool says nothing about the next; a protocol error (TLS spoken to a plain port, garbage instead
of HTTP) is usually a broken or intercepting proxy."""

NEVER_RETRIED: frozenset[ErrorCode] = frozenset({ErrorCode.TLS_CERT, ErrorCode.PROXY_AUTH})
"""Codes no policy may retry on the same route: a certificate failure is a security signal for a
person, and repeating a rejected proxy login only risks a lockout. (``RetryPolicy`` rejects them
in ``retry_codes``; ``PROXY_AUTH`` may still switch route.)

Not retried by default but allowed by an explicit opt-in: EMFILE (this process is out of file
descriptors; retrying adds sockets to the shortage), EADDRNOTAVAIL (no local port or address:
a configuration error or ephemeral-port exhaustion, which lasts TIME_WAIT, not milliseconds),
EAI_NONAME (the name does not exist) and UNKNOWN."""

DEFAULT_RETRY_STATUSES: frozenset[int] = frozenset({408, 425, 429, 500, 502, 503, 504})
"""Responses worth another try: timeouts, too early, rate limits and transient server errors."""

DEFAULT_SWITCH_STATUSES: frozenset[int] = frozenset({403, 429})
"""Responses that refuse the route rather than the request: a site that bans a proxy's address
answers 403, one that rate-limits it 429. Through a proxy, when the route provider has another
route, they switch route (and the pool bans that proxy for the site); otherwise a 403 is returned
as an answer and a 429 is retried on the same route after its ``Retry-After``, as without a pool."""

DEFAULT_IDEMPOTENT_METHODS: frozenset[str] = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
"""Methods RFC 9110 §9.2.2 defines as idempotent: repeating them is safe once the request was sent."""

_OVERRIDE_KEYS = (
    "attempts",
    "backoff",
    "deadline",
    "free_switches",
    "idempotent",
    "max_retry_after",
    "retry",
    "retry_codes",
    "retry_delay",
    "retry_statuses",
    "switch_statuses",
    "timeout",
)

_PROXY_PASSED_ON = frozenset({502, 503, 504})


def _optional_seconds(name: str, value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{name} must be a number of seconds > 0 (or None for no limit), got {value!r}")
    return float(value)


def _codes(name: str, value: object) -> frozenset[ErrorCode]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ConfigError(f"{name} must be a collection of error codes such as {{'ECONNRESET'}}, got {value!r}")
    out = set()
    for item in value:
        try:
            out.add(ErrorCode(item.upper() if isinstance(item, str) else item))
        except ValueError:
            names = ", ".join(c.value for c in ErrorCode)
            raise ConfigError(f"{name}: unknown error code {item!r}; use one of {names}") from None
    return frozenset(out)


def _check_attempts(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"attempts must be an int >= 1 (the first try counts), got {value!r}")
    return value


def _check_backoff(value: object) -> Backoff:
    if not isinstance(value, Backoff):
        raise ConfigError(f"backoff must be a sockwise.retry.Backoff, got {value!r}")
    return value


def _check_retry_codes(value: object) -> frozenset[ErrorCode]:
    codes = _codes("retry_codes", value)
    never = codes & NEVER_RETRIED
    if never:
        names = ", ".join(sorted(never))
        raise ConfigError(
            f"retry_codes may not contain {names}: a certificate failure or a rejected proxy login is never "
            "retried on the same route (PROXY_AUTH belongs in switch_codes)"
        )
    if ErrorCode.HTTP_STATUS in codes:
        raise ConfigError("retry_codes may not contain HTTP_STATUS; list the statuses in retry_statuses")
    return codes


def _check_statuses(name: str, value: object) -> frozenset[int]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ConfigError(f"{name} must be a collection of HTTP statuses such as {{503}}, got {value!r}")
    for status in value:
        if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
            raise ConfigError(f"{name}: {status!r} is not an HTTP status (100-599)")
    return frozenset(value)


def _check_methods(value: object) -> frozenset[str]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ConfigError(f"idempotent_methods must be a collection of methods such as {{'GET'}}, got {value!r}")
    return frozenset(str(m).upper() for m in value)


def _check_idempotent(value: object) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise ConfigError(f"idempotent must be True, False or None, got {value!r}")
    return value


def _check_max_retry_after(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ConfigError(f"max_retry_after must be a number of seconds >= 0, got {value!r}")
    return float(value)


def _check_free_switches(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"free_switches must be an int >= 0 (0: every switch uses an attempt), got {value!r}")
    return value


def _check_budget(value: object) -> RetryBudget | None:
    if value is not None and not isinstance(value, RetryBudget):
        raise ConfigError(f"budget must be a sockwise.retry.RetryBudget or None, got {value!r}")
    return value


# One check per field: __post_init__ runs them all, with_overrides only those of the changed fields.
_CHECKS: dict[str, Callable[[object], object]] = {
    "attempts": _check_attempts,
    "backoff": _check_backoff,
    "deadline": lambda value: _optional_seconds("deadline", value),
    "timeout": lambda value: _optional_seconds("timeout", value),
    "retry_codes": _check_retry_codes,
    "switch_codes": lambda value: _codes("switch_codes", value),
    "retry_statuses": lambda value: _check_statuses("retry_statuses", value),
    "switch_statuses": lambda value: _check_statuses("switch_statuses", value),
    "idempotent_methods": _check_methods,
    "idempotent": _check_idempotent,
    "max_retry_after": _check_max_retry_after,
    "free_switches": _check_free_switches,
    "budget": _check_budget,
}


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """A retry policy: a frozen value; derive variants with :meth:`with_overrides`.

    Attributes:
        attempts: tries in total, the first included (3 = two retries). The seed's axios
            ``retry: N`` is ``attempts=N + 1`` (or the ``"retry"`` override).
        backoff: the wait between tries (exponential with full jitter by default).
        deadline: seconds for the whole request, sleeps included; no sleep starts that would
            cross it and each try's timeout is cut to what is left. None: no deadline.
        timeout: seconds per try (handed to the integration, bounded by the deadline). None:
            the client's own timeouts.
        retry_codes: failures retried on the same route. TLS_CERT and PROXY_AUTH are refused here.
        switch_codes: failures retried only on another route, when the route provider has one.
        retry_statuses: HTTP statuses retried.
        switch_statuses: HTTP statuses that, through a proxy, switch route when the route
            provider has another (a site banning or rate-limiting that proxy: 403, 429). Without
            another route a status here is judged by ``retry_statuses`` alone (a 429 is retried on
            the same route, a 403 returned). Direct responses are not affected.
        idempotent_methods: methods retried after the request was sent.
        idempotent: a per-request verdict: True says this request is safe to repeat even
            though its method is not idempotent (a POST with an idempotency key); False
            forbids retries after sending; None decides by method.
        max_retry_after: the longest ``Retry-After`` honoured, in seconds; a longer one ends the
            request (reason ``retry_after_too_long``) or switches route.
        free_switches: switches to another proxy that do not use up an attempt, per request: after
            a failure blamed on the proxy that provably never reached the origin (refused,
            reset or timed out on the proxy hop, a CONNECT or SOCKS refusal, a 407), a pool
            tries another proxy without counting it against ``attempts``, up to this many times.
            A pool starting with several dead proxies then does not fail requests that never
            reached the site. The deadline and the retry budget still bound them; 0 counts
            every switch.
        budget: the shared retry budget (None: unlimited). Derived policies share it, so make a
            policy once per client, not per request.

    Raises:
        ConfigError: a value out of range, naming the field and the fix.
    """

    attempts: int = 3
    backoff: Backoff = field(default_factory=Backoff)
    deadline: float | None = None
    timeout: float | None = None
    retry_codes: frozenset[ErrorCode] = DEFAULT_RETRY_CODES
    switch_codes: frozenset[ErrorCode] = DEFAULT_SWITCH_CODES
    retry_statuses: frozenset[int] = DEFAULT_RETRY_STATUSES
    switch_statuses: frozenset[int] = DEFAULT_SWITCH_STATUSES
    idempotent_methods: frozenset[str] = DEFAULT_IDEMPOTENT_METHODS
    idempotent: bool | None = None
    max_retry_after: float = 60.0
    free_switches: int = 5
    budget: RetryBudget | None = field(default_factory=RetryBudget, compare=False)
    failing_statuses: frozenset[int] = field(init=False, repr=False, compare=False)
    """The statuses :meth:`failure_for_status` may turn into a failure (any other is an answer)."""

    def __post_init__(self) -> None:
        for name, check in _CHECKS.items():
            object.__setattr__(self, name, check(getattr(self, name)))
        _set_failing_statuses(self)

    def is_idempotent(self, method: str) -> bool:
        """Whether a request with ``method`` may be repeated after it was sent."""
        if self.idempotent is not None:
            return self.idempotent
        return method.upper() in self.idempotent_methods

    def failure_for_status(self, status: int | None, *, proxied: bool = False) -> Failure | None:
        """The Failure a response status stands for, or None when the status is not retried.

        Args:
            status: the response status (None: no status known, a success).
            proxied: the response came through a proxy, which may itself have made a 502/503/504.

        Returns:
            An ``HTTP_STATUS`` failure (request sent, while waiting) for a status in
            :attr:`retry_statuses`, or in :attr:`switch_statuses` through a proxy (blamed on the
            origin: the site refused that proxy, so the proxy's health is not hurt, but a pool
            bans it for the site); a ``PROXY_AUTH`` failure (not sent, the proxy's) for a 407
            through a proxy; None otherwise (a 404 is an answer, not a failure). A 502/503/504
            through a proxy is blamed ``unknown``: the proxy may have made it itself.
        """
        if status == 407 and proxied:
            # A forward proxy answering the request itself: the origin never saw it.
            return Failure(
                code=ErrorCode.PROXY_AUTH,
                phase=Phase.WAIT,
                blame=Blame.PROXY,
                request_sent=False,
                status=status,
                detail="HTTP 407 from the proxy",
            )
        if status is None or (status not in self.retry_statuses and not (proxied and status in self.switch_statuses)):
            return None
        blame = Blame.UNKNOWN if proxied and status in _PROXY_PASSED_ON else Blame.ORIGIN
        return Failure(
            code=ErrorCode.HTTP_STATUS,
            phase=Phase.WAIT,
            blame=blame,
            request_sent=True,
            status=status,
            detail=f"HTTP {status}",
        )

    def with_overrides(self, overrides: Mapping[str, object] | None) -> RetryPolicy:
        """This policy with per-request overrides merged over it.

        Keys: ``retry`` (retries after the first try: attempts = retry + 1), ``attempts``,
        ``retry_delay`` (a fixed wait in seconds, like the seed's axios ``retryDelay`` but in
        seconds), ``backoff`` (a :class:`Backoff`), ``deadline``, ``timeout``, ``idempotent``,
        ``max_retry_after``, ``retry_statuses``, ``switch_statuses``, ``retry_codes``. The budget
        stays shared.

        Args:
            overrides: the mapping, e.g. ``{"retry": 5, "retry_delay": 1.0, "idempotent": True}``;
                None or empty returns this policy.

        Returns:
            A new policy (or this one when there is nothing to override).

        Raises:
            ConfigError: an unknown key (named, with the valid ones), ``retry`` together with
                ``attempts``, or a value out of range.
        """
        if not overrides:
            return self
        if not isinstance(overrides, Mapping):
            raise ConfigError(f"retry overrides must be a mapping such as {{'retry': 3}}, got {overrides!r}")
        changes: dict[str, object] = {}
        for key, value in overrides.items():
            if key not in _OVERRIDE_KEYS:
                raise ConfigError(f"unknown retry override {key!r}; use one of {', '.join(_OVERRIDE_KEYS)}")
            if key == "retry":
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise ConfigError(f"retry override must be an int >= 0 (retries after the first), got {value!r}")
                if "attempts" in overrides:
                    raise ConfigError("give either 'retry' or 'attempts' in retry overrides, not both")
                changes["attempts"] = value + 1
            elif key == "retry_delay":
                if "backoff" in overrides:
                    raise ConfigError("give either 'retry_delay' or 'backoff' in retry overrides, not both")
                changes["backoff"] = Backoff.fixed(value)  # type: ignore[arg-type]  # validated inside
            else:
                changes[key] = value
        # Copy, then check only what changed: per-request overrides sit on the request path.
        new = object.__new__(RetryPolicy)
        for name, check in _CHECKS.items():
            value = check(changes[name]) if name in changes else getattr(self, name)
            object.__setattr__(new, name, value)
        _set_failing_statuses(new)
        return new


def _set_failing_statuses(policy: RetryPolicy) -> None:
    # Read once per response by the runner, before it calls failure_for_status (407: a proxy's).
    object.__setattr__(policy, "failing_statuses", policy.retry_statuses | policy.switch_statuses | {407})
