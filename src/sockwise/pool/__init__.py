"""The proxy pool: proxy lists, a pure health model, selection strategies and health stores.

Layer ``pool``: imports the model only. The health model (:mod:`._health`) is pure: time and
randomness are arguments. Stores: ``memory://``, ``sqlite:///path``, ``redis://host:port/db``
(redis-py is imported only when a Redis store is opened), any of them behind a
:class:`CachedStore` (``?cache=SECONDS``) for callers that must not block.
"""

from sockwise.pool._cached import CachedStore
from sockwise.pool._health import (
    BanPolicy,
    HealthPolicy,
    HealthState,
    PeerEvidence,
    ProxyHealth,
    Verdict,
    decay_latency,
    ejection_allowed,
    ejection_time,
    judge,
    record,
)
from sockwise.pool._memory import MemoryStore
from sockwise.pool._parse import ParseResult, parse_proxies, parse_proxy
from sockwise.pool._pool import ProxyPool, ProxyStatus
from sockwise.pool._redis import RedisStore
from sockwise.pool._select import (
    Candidate,
    LeastLoaded,
    RandomChoice,
    RoundRobin,
    SamplingStrategy,
    StickySessions,
    Strategy,
    load_cost,
    strategy_from_name,
    typical_latency,
)
from sockwise.pool._sqlite import SQLiteStore
from sockwise.pool._store import Ban, HealthStore, store_from_url

__all__ = [
    "Ban",
    "BanPolicy",
    "CachedStore",
    "Candidate",
    "HealthPolicy",
    "HealthState",
    "HealthStore",
    "LeastLoaded",
    "MemoryStore",
    "ParseResult",
    "PeerEvidence",
    "ProxyHealth",
    "ProxyPool",
    "ProxyStatus",
    "RandomChoice",
    "RedisStore",
    "RoundRobin",
    "SQLiteStore",
    "SamplingStrategy",
    "StickySessions",
    "Strategy",
    "Verdict",
    "decay_latency",
    "ejection_allowed",
    "ejection_time",
    "judge",
    "load_cost",
    "parse_proxies",
    "parse_proxy",
    "record",
    "store_from_url",
    "strategy_from_name",
    "typical_latency",
]
