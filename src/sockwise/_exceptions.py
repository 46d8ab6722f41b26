"""The one exception root of sockwise.

::

    SockwiseError
    ├── ConfigError (also ValueError)            bad input from a user: names the input and the fix
    │   └── ProxyParseError                      a proxy line that does not parse (.line, .lineno)
    ├── StoreUnavailable (also ConnectionError)  a health/job store that cannot be reached (.url redacted)
    ├── NetnsError (sockwise.lab)                 a private network namespace could not be made or used
    │   └── NetnsUnavailable                     namespaces are not available here (.reason)
    └── RequestFailed                            retries ended (.failure, .attempts)

Integrations raise their library's own exception types (so ``except httpx.HTTPError`` keeps
working) with the same data attached as ``.sockwise``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sockwise._model import Attempt, Failure

__all__ = ["ConfigError", "ProxyParseError", "RequestFailed", "SockwiseError", "StoreUnavailable", "request_failed"]


class SockwiseError(Exception):
    """Root of every exception sockwise raises itself."""


class ConfigError(SockwiseError, ValueError):
    """Bad input: the message names the input and says how to fix it."""


class ProxyParseError(ConfigError):
    """A proxy line that does not parse.

    Attributes:
        lineno: 1-based line number, or None when not read from a file.
        line: the offending text, with anything that looks like a password masked.
    """

    def __init__(self, message: str, *, lineno: int | None = None, line: str = "") -> None:
        where = f"line {lineno}: " if lineno is not None else ""
        super().__init__(where + message)
        self.lineno = lineno
        self.line = line


class StoreUnavailable(SockwiseError, ConnectionError):
    """A store (SQLite file, Redis server) cannot be used.

    Attributes:
        url: the store URL with any password redacted.
    """

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(message)
        self.url = url


class RequestFailed(SockwiseError):
    """A request failed for good: retries ended or were not allowed.

    Attributes:
        failure: the last classified failure.
        attempts: every attempt made, in order.
        reason: why retrying stopped (``attempts``, ``deadline``, ``budget``, ``not_retryable``,
            ``not_idempotent``, ...).
    """

    def __init__(self, message: str, *, failure: Failure, attempts: Sequence[Attempt] = (), reason: str = "") -> None:
        super().__init__(message)
        self.failure = failure
        self.attempts = tuple(attempts)
        self.reason = reason


def request_failed(exc: BaseException) -> RequestFailed | None:
    """The :class:`RequestFailed` a sockwise integration attached to ``exc`` (its ``.sockwise``).

    Each integration raises its library's own exception type when retries end, so the caller's
    ``except httpx.HTTPError`` / ``aiohttp.ClientError`` / ``requests.RequestException`` still
    catches it; the story rides along as ``.sockwise``.

    Args:
        exc: an exception caught around an httpx, aiohttp or requests call.

    Returns:
        Its ``.sockwise`` (the failure, every attempt and why retrying stopped), or None when
        sockwise did not raise it.
    """
    found = getattr(exc, "sockwise", None)
    return found if isinstance(found, RequestFailed) else None
