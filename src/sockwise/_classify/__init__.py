"""Know every failure: turn any HTTP client's exception into a :class:`~sockwise.Failure`.

``classify(exc, phase=..., via_proxy=...)`` reads the exception chain of the standard
library, urllib3, requests, httpx, httpcore, aiohttp, aiohttp-socks and python-socks, and
returns the code (ECONNRESET, UNEXPECTED_EOF, PROXY_AUTH, ...), the phase, who is to blame,
whether the request can have been sent, the OS errno and the status. It is pure and never
imports a client library.
"""

from sockwise._classify._chain import walk_chain
from sockwise._classify._classify import classify, classify_status
from sockwise._classify._redact import redact_credentials

__all__ = ["classify", "classify_status", "redact_credentials", "walk_chain"]
