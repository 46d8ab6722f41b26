"""sockwise: HTTP through proxy IPs on a network that misbehaves.

Knows what a socket failure means (code, phase, blame, whether the request was sent), acts on
it (retry, switch proxy, quarantine, back off, fail fast) and proves it against a fault lab.
The core uses the standard library only; integrations and tools sit behind extras.

The top level holds the everyday names; the subpackages hold the rest: ``sockwise.retry``,
``sockwise.runner``, ``sockwise.pool``, ``sockwise.explain``, ``sockwise.probe``, ``sockwise.check``,
``sockwise.lab`` and ``sockwise.testing``; the integrations are ``sockwise.httpx``,
``sockwise.aiohttp`` and ``sockwise.requests``.
"""

from sockwise._classify import classify, classify_status, redact_credentials
from sockwise._exceptions import ConfigError, ProxyParseError, RequestFailed, SockwiseError, StoreUnavailable
from sockwise._model import Attempt, Blame, ErrorCode, Failure, FailureFields, Phase, Proxy
from sockwise.pool import ProxyPool, parse_proxies, parse_proxy, store_from_url
from sockwise.retry import Backoff, Done, GiveUp, Retry, RetryBudget, RetryPolicy, SwitchRoute
from sockwise.runner import DirectRoutes, FixedProxyRoutes, PoolRoutes, Runner, RunResult

__version__ = "0.1.0.dev0"

__all__ = [
    "Attempt",
    "Backoff",
    "Blame",
    "ConfigError",
    "DirectRoutes",
    "Done",
    "ErrorCode",
    "Failure",
    "FailureFields",
    "FixedProxyRoutes",
    "GiveUp",
    "Phase",
    "PoolRoutes",
    "Proxy",
    "ProxyParseError",
    "ProxyPool",
    "RequestFailed",
    "Retry",
    "RetryBudget",
    "RetryPolicy",
    "RunResult",
    "Runner",
    "SockwiseError",
    "StoreUnavailable",
    "SwitchRoute",
    "__version__",
    "classify",
    "classify_status",
    "parse_proxies",
    "parse_proxy",
    "redact_credentials",
    "store_from_url",
]
