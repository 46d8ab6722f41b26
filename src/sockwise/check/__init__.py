"""``sockwise check``: check a proxy list against a target, every proxy observed phase by phase.

::

    from sockwise.check import check_proxies, summarize
    from sockwise.pool import parse_proxies

    results = check_proxies(parse_proxies(text).proxies, target="https://example.com/", timeout=3)
    working = [r.proxy for r in results if r.ok]
    print(summarize(results).by_failure)

An app: it uses the public API (``sockwise``, ``sockwise.probe``) and the standard library only.
"""

from sockwise.check._check import (
    DEFAULT_TARGET,
    MAX_CONCURRENCY,
    PROBE_STEPS,
    CheckResult,
    Outcome,
    check_proxies,
    check_target,
    judge_by_target,
    protocol_of,
    result_of,
)
from sockwise.check._report import CSV_COLUMNS, output_format, write_results
from sockwise.check._source import MAX_LIST_BYTES, read_proxy_list, shown_url
from sockwise.check._summary import CheckSummary, summarize

__all__ = [
    "CSV_COLUMNS",
    "DEFAULT_TARGET",
    "MAX_CONCURRENCY",
    "MAX_LIST_BYTES",
    "PROBE_STEPS",
    "CheckResult",
    "CheckSummary",
    "Outcome",
    "check_proxies",
    "check_target",
    "judge_by_target",
    "output_format",
    "protocol_of",
    "read_proxy_list",
    "result_of",
    "shown_url",
    "summarize",
    "write_results",
]
