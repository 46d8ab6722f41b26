"""The retry policy: what may be retried, when, how often, for how long, and how many in total.

Layer ``retry``: imports the model only, and is pure. :func:`decide` takes the request's
:class:`RetryState`, an attempt's :class:`Outcome` and the time, and returns a typed
:data:`Decision` (:class:`Retry`, :class:`SwitchRoute`, :class:`GiveUp`, :class:`Done`); the
runner sleeps, never the policy. :class:`RetryBudget` is the one stateful piece, with time passed in.
"""

from sockwise.retry._backoff import Backoff
from sockwise.retry._budget import RetryBudget
from sockwise.retry._decide import STALE_RACE_CODES, Outcome, RetryState, attempt_timeout, decide
from sockwise.retry._decision import Decision, Done, GiveUp, GiveUpReason, Retry, SwitchRoute
from sockwise.retry._message import failure_message
from sockwise.retry._policy import (
    DEFAULT_IDEMPOTENT_METHODS,
    DEFAULT_RETRY_CODES,
    DEFAULT_RETRY_STATUSES,
    DEFAULT_SWITCH_CODES,
    DEFAULT_SWITCH_STATUSES,
    NEVER_RETRIED,
    RetryPolicy,
)
from sockwise.retry._retry_after import parse_retry_after

__all__ = [
    "DEFAULT_IDEMPOTENT_METHODS",
    "DEFAULT_RETRY_CODES",
    "DEFAULT_RETRY_STATUSES",
    "DEFAULT_SWITCH_CODES",
    "DEFAULT_SWITCH_STATUSES",
    "NEVER_RETRIED",
    "STALE_RACE_CODES",
    "Backoff",
    "Decision",
    "Done",
    "GiveUp",
    "GiveUpReason",
    "Outcome",
    "Retry",
    "RetryBudget",
    "RetryPolicy",
    "RetryState",
    "SwitchRoute",
    "attempt_timeout",
    "decide",
    "failure_message",
    "parse_retry_after",
]
