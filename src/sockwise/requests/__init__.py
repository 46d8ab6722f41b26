"""sockwise for requests: an adapter that retries only what is safe, never past a deadline, never into a storm.

::

    from sockwise import RetryPolicy
    from sockwise.requests import Session

    with Session(RetryPolicy(attempts=4, deadline=10.0)) as session:
        session.get("https://example.org/", sockwise={"retry": 5, "retry_delay": 1.0})

:class:`RetryAdapter` mounts on any ``requests.Session`` (per-request overrides then come from
:func:`overrides`, a context manager); :class:`Session` is a ``requests.Session`` with one mounted
and a ``sockwise=`` keyword on every call. When retries end, requests' usual exception is raised
with the one-line story as its message and the :class:`~sockwise.RequestFailed` as ``.sockwise``
(:func:`request_failed`). SOCKS proxies go through python-socks. Needs the ``requests`` extra:
``pip install 'sockwise[requests]'``.
"""

from sockwise.requests._adapter import RetryAdapter
from sockwise.requests._errors import request_failed
from sockwise.requests._options import overrides
from sockwise.requests._session import Session

__all__ = ["RetryAdapter", "Session", "overrides", "request_failed"]
