"""The exception a requests user catches when retries end: requests' own type, with ``.sockwise``."""

from __future__ import annotations

import requests

from sockwise._exceptions import RequestFailed, SockwiseError, request_failed
from sockwise._model import Blame, ErrorCode

__all__ = ["library_error", "request_failed"]


def library_error(failed: RequestFailed, request: requests.PreparedRequest) -> BaseException:
    """The exception to raise for a request that failed for good.

    The last attempt's requests exception type is kept (``except requests.ConnectTimeout``,
    ``except requests.exceptions.ProxyError``, ``except requests.RequestException`` all still
    work), with the one-line story as its message, ``.request``/``.response`` as requests set
    them, and the :class:`~sockwise.RequestFailed` as ``.sockwise``. An ``OSError`` that requests
    did not wrap becomes a ``requests.ConnectionError`` (still an ``OSError``).

    A failure sockwise cannot name (``UNKNOWN``) or a local one (a bad URL, a missing CA bundle)
    has no retry story worth more than its own words: that exception itself is returned, with
    ``.sockwise`` attached. So are sockwise's own errors and anything that is not an I/O error (a
    bug, a bad argument).

    Args:
        failed: the runner's verdict.
        request: the request that failed.

    Returns:
        The exception; the caller raises it ``from`` the last attempt's exception.
    """
    failure = failed.failure
    cause = failure.exception
    if isinstance(cause, SockwiseError):
        return cause
    error: BaseException
    if cause is not None and (failure.code is ErrorCode.UNKNOWN or failure.blame is Blame.LOCAL):
        error = cause
    elif isinstance(cause, requests.RequestException):
        try:
            error = type(cause)(str(failed), request=cause.request or request, response=cause.response)
        except TypeError:  # a subclass with a constructor of its own
            error = requests.ConnectionError(str(failed), request=request, response=cause.response)
    elif isinstance(cause, OSError) or cause is None:
        error = requests.ConnectionError(str(failed), request=request)
    else:
        error = cause
    error.sockwise = failed  # type: ignore[attr-defined]
    return error
