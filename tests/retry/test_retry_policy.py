"""RetryPolicy: defaults, validation with named fields, and per-request overrides."""

from __future__ import annotations

import pytest

from sockwise import Blame, ConfigError, ErrorCode, Phase
from sockwise.retry import (
    DEFAULT_RETRY_CODES,
    DEFAULT_SWITCH_CODES,
    Backoff,
    RetryBudget,
    RetryPolicy,
)


def test_defaults() -> None:
    """The default policy: 3 attempts, jittered backoff, connection codes, the usual statuses."""
    policy = RetryPolicy()
    assert policy.attempts == 3
    assert policy.backoff == Backoff(base=0.1, cap=10.0, multiplier=2.0, jitter=True)
    assert policy.deadline is None
    assert policy.timeout is None
    assert policy.retry_statuses == frozenset({408, 425, 429, 500, 502, 503, 504})
    assert policy.max_retry_after == 60.0
    assert isinstance(policy.budget, RetryBudget)
    assert policy.idempotent_methods == frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})


def test_default_codes_split() -> None:
    """Connection codes retry on the same route; route codes only switch; the rest never retry."""
    assert {
        ErrorCode.ECONNRESET,
        ErrorCode.ECONNABORTED,
        ErrorCode.ECONNREFUSED,
        ErrorCode.EPIPE,
        ErrorCode.ETIMEDOUT,
        ErrorCode.EHOSTUNREACH,
        ErrorCode.ENETUNREACH,
        ErrorCode.UNEXPECTED_EOF,
        ErrorCode.EAI_AGAIN,
    } == DEFAULT_RETRY_CODES
    assert {ErrorCode.PROXY_AUTH, ErrorCode.PROXY_REFUSED, ErrorCode.EPROTO} == DEFAULT_SWITCH_CODES
    for never in (ErrorCode.TLS_CERT, ErrorCode.EMFILE, ErrorCode.EADDRNOTAVAIL, ErrorCode.EAI_NONAME):
        assert never not in DEFAULT_RETRY_CODES | DEFAULT_SWITCH_CODES


def test_collections_are_normalised() -> None:
    """Lists become frozensets, code names become ErrorCodes, methods upper case."""
    policy = RetryPolicy(
        retry_codes=["econnreset", "ETIMEDOUT"],  # type: ignore[arg-type]
        retry_statuses=[503],  # type: ignore[arg-type]
        idempotent_methods=["get"],  # type: ignore[arg-type]
    )
    assert policy.retry_codes == frozenset({ErrorCode.ECONNRESET, ErrorCode.ETIMEDOUT})
    assert policy.retry_statuses == frozenset({503})
    assert policy.idempotent_methods == frozenset({"GET"})


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"attempts": 0}, "attempts must be an int >= 1"),
        ({"attempts": True}, "attempts must be an int >= 1"),
        ({"deadline": 0}, "deadline must be a number of seconds > 0"),
        ({"timeout": -1.0}, "timeout must be a number of seconds > 0"),
        ({"retry_codes": {"TLS_CERT"}}, "retry_codes may not contain TLS_CERT"),
        ({"retry_codes": {"PROXY_AUTH"}}, "retry_codes may not contain PROXY_AUTH"),
        ({"retry_codes": {"HTTP_STATUS"}}, "list the statuses in retry_statuses"),
        ({"retry_codes": {"ECONNRST"}}, "retry_codes: unknown error code 'ECONNRST'"),
        ({"retry_codes": "ECONNRESET"}, "retry_codes must be a collection"),
        ({"retry_statuses": {700}}, "retry_statuses: 700 is not an HTTP status"),
        ({"max_retry_after": -1}, "max_retry_after must be a number of seconds >= 0"),
        ({"idempotent": "yes"}, "idempotent must be True, False or None"),
        ({"budget": 0.2}, "budget must be a sockwise.retry.RetryBudget or None"),
    ],
)
def test_invalid_policy_is_a_config_error(kwargs: dict[str, object], fragment: str) -> None:
    """Each invalid field raises ConfigError naming it."""
    with pytest.raises(ConfigError) as info:
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
    assert fragment in str(info.value)


def test_opt_in_to_local_codes_is_allowed() -> None:
    """EMFILE is not retried by default but a user may opt in explicitly."""
    policy = RetryPolicy(retry_codes=DEFAULT_RETRY_CODES | {ErrorCode.EMFILE})
    assert ErrorCode.EMFILE in policy.retry_codes


def test_is_idempotent_by_method_and_opt_in() -> None:
    """Methods decide unless the request says idempotent=True/False."""
    policy = RetryPolicy()
    assert policy.is_idempotent("get") is True
    assert policy.is_idempotent("POST") is False
    assert RetryPolicy(idempotent=True).is_idempotent("POST") is True
    assert RetryPolicy(idempotent=False).is_idempotent("GET") is False


def test_failure_for_status() -> None:
    """A retried status becomes an HTTP_STATUS failure; others are answers (None)."""
    policy = RetryPolicy()
    failure = policy.failure_for_status(503)
    assert failure is not None
    assert (failure.code, failure.phase, failure.blame, failure.request_sent, failure.status) == (
        ErrorCode.HTTP_STATUS,
        Phase.WAIT,
        Blame.ORIGIN,
        True,
        503,
    )
    assert policy.failure_for_status(404) is None
    assert policy.failure_for_status(None) is None
    proxied = policy.failure_for_status(502, proxied=True)
    assert proxied is not None
    assert proxied.blame is Blame.UNKNOWN
    proxy_auth = policy.failure_for_status(407, proxied=True)
    assert proxy_auth is not None
    assert (proxy_auth.code, proxy_auth.blame, proxy_auth.request_sent) == (ErrorCode.PROXY_AUTH, Blame.PROXY, False)
    assert policy.failure_for_status(407) is None
    proxied_429 = policy.failure_for_status(429, proxied=True)
    assert proxied_429 is not None
    assert proxied_429.blame is Blame.ORIGIN


def test_overrides_win_over_policy() -> None:
    """The seed's {'retry': 5, 'retry_delay': 1.0} maps to 6 attempts with a fixed 1 s wait."""
    base = RetryPolicy(attempts=2, deadline=30.0)
    merged = base.with_overrides({"retry": 5, "retry_delay": 1.0, "deadline": 10, "idempotent": True, "timeout": 2})
    assert merged.attempts == 6
    assert merged.backoff == Backoff.fixed(1.0)
    assert merged.deadline == 10.0
    assert merged.timeout == 2.0
    assert merged.idempotent is True
    assert base.attempts == 2  # the base policy is untouched


def test_overrides_share_the_budget() -> None:
    """A derived policy keeps the same budget object: the budget is per client, not per request."""
    base = RetryPolicy()
    assert base.with_overrides({"retry": 1}).budget is base.budget


def test_empty_overrides_return_same_policy() -> None:
    """None or {} gives the policy itself (no copy on the hot path)."""
    base = RetryPolicy()
    assert base.with_overrides(None) is base
    assert base.with_overrides({}) is base


def test_unknown_override_key_is_named() -> None:
    """An unknown key raises ConfigError naming it and listing the valid ones."""
    with pytest.raises(ConfigError) as info:
        RetryPolicy().with_overrides({"retries": 3})
    message = str(info.value)
    assert "unknown retry override 'retries'" in message
    assert "retry_delay" in message


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"retry": -1}, "retry override must be an int >= 0"),
        ({"retry": 2, "attempts": 3}, "either 'retry' or 'attempts'"),
        ({"retry_delay": 1.0, "backoff": Backoff()}, "either 'retry_delay' or 'backoff'"),
        ({"retry_delay": -2}, "retry_delay must be >= 0 seconds"),
        ({"deadline": "10"}, "deadline must be a number of seconds > 0"),
    ],
)
def test_invalid_override_values(overrides: dict[str, object], fragment: str) -> None:
    """Bad override values raise ConfigError naming the key."""
    with pytest.raises(ConfigError) as info:
        RetryPolicy().with_overrides(overrides)
    assert fragment in str(info.value)


def test_overrides_must_be_a_mapping() -> None:
    """A non-mapping override is rejected with an example."""
    with pytest.raises(ConfigError, match="retry overrides must be a mapping"):
        RetryPolicy().with_overrides([("retry", 1)])  # type: ignore[arg-type]


def test_policy_is_frozen() -> None:
    """The policy is an immutable value."""
    policy = RetryPolicy()
    with pytest.raises(AttributeError):
        policy.attempts = 5  # type: ignore[misc]


def test_overrides_equal_a_full_rebuild() -> None:
    """with_overrides (which checks only changed fields) equals building the policy anew."""
    import dataclasses

    base = RetryPolicy(attempts=2, deadline=30.0, retry_statuses=frozenset({503}))
    merged = base.with_overrides({"retry": 4, "timeout": 2.5, "retry_codes": ["ECONNRESET"]})
    rebuilt = dataclasses.replace(base, attempts=5, timeout=2.5, retry_codes=frozenset({ErrorCode.ECONNRESET}))
    assert merged == rebuilt
    assert merged.retry_statuses == frozenset({503})


def test_every_field_is_checked() -> None:
    """Each RetryPolicy field given to the constructor has its check, so no override escapes validation."""
    import dataclasses

    from sockwise.retry._policy import _CHECKS

    assert list(_CHECKS) == [f.name for f in dataclasses.fields(RetryPolicy) if f.init]


def test_failing_statuses_follow_overrides() -> None:
    """failing_statuses (the runner's quick check) is recomputed for a derived policy."""
    policy = RetryPolicy(retry_statuses={503}, switch_statuses={403})
    assert policy.failing_statuses == {503, 403, 407}
    derived = policy.with_overrides({"retry_statuses": {500}})
    assert derived.failing_statuses == {500, 403, 407}
    for status in range(100, 600):
        if status not in derived.failing_statuses:
            assert derived.failure_for_status(status, proxied=True) is None
