"""One runner per HTTP client: perform a cell's request(s) the way a plain user of that library would.

Every runner takes a :class:`Plan` and returns an :class:`Outcome`: the exception the library raised (or
None) and the last status it saw. Runners read the whole body (a mid-body failure must surface), call
``raise_for_status()`` where the library has one (what a user who counts 4xx/5xx as failures does), use
the library's defaults except for what the matrix pins (urllib3 ``retries=False``; requests'
``max_retries=0`` is its default), and close everything they open: no socket outlives its cell.
"""

from __future__ import annotations

import asyncio
import http.client
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import httpx

__all__ = ["CLIENTS", "RUNNERS", "Outcome", "Plan", "client_versions"]


@dataclass(frozen=True, slots=True)
class Plan:
    """What one cell asks a client to do.

    Attributes:
        urls: the URLs to GET in order, on one client (two for a stale keep-alive connection).
        proxy: an ``http://host:port`` forward proxy, or None for direct.
        ca_file: the PEM of the CA to trust for https.
        connect_timeout: seconds for the TCP connect (and, where the library counts it so, TLS).
        read_timeout: seconds of read inactivity.
    """

    urls: tuple[str, ...]
    proxy: str | None
    ca_file: str
    connect_timeout: float
    read_timeout: float

    def context(self) -> ssl.SSLContext:
        """A client SSL context trusting the lab's CA."""
        return ssl.create_default_context(cafile=self.ca_file)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the client produced: the exception it raised (None when it returned) and the last status."""

    exception: BaseException | None
    status: int | None


def _http_client(plan: Plan) -> Outcome:
    # One timeout for everything: the smaller of the two, so a stall is cut where the cell wants it.
    timeout = min(plan.connect_timeout, plan.read_timeout)
    first = urlsplit(plan.urls[0])
    host, port = first.hostname or "", first.port or (443 if first.scheme == "https" else 80)
    conn: http.client.HTTPConnection
    if plan.proxy is None:
        if first.scheme == "https":
            conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=plan.context())
        else:
            conn = http.client.HTTPConnection(host, port, timeout=timeout)
    else:
        proxy = urlsplit(plan.proxy)
        if first.scheme == "https":
            conn = http.client.HTTPSConnection(
                proxy.hostname or "", proxy.port, timeout=timeout, context=plan.context()
            )
            conn.set_tunnel(host, port)
        else:
            conn = http.client.HTTPConnection(proxy.hostname or "", proxy.port, timeout=timeout)
    status = None
    try:
        for url in plan.urls:
            parts = urlsplit(url)
            if plan.proxy is not None and parts.scheme == "http":
                target = url  # absolute-form: the proxy forwards it
            else:
                target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            conn.request("GET", target)
            resp = conn.getresponse()
            status = resp.status
            resp.read()
    except Exception as exc:
        return Outcome(exc, status)
    finally:
        conn.close()
    return Outcome(None, status)


def _urllib3(plan: Plan) -> Outcome:
    import urllib3

    timeout = urllib3.Timeout(connect=plan.connect_timeout, read=plan.read_timeout)
    pool: urllib3.PoolManager
    if plan.proxy is None:
        pool = urllib3.PoolManager(retries=False, timeout=timeout, ca_certs=plan.ca_file)
    else:
        pool = urllib3.ProxyManager(plan.proxy, retries=False, timeout=timeout, ca_certs=plan.ca_file)
    status = None
    try:
        for url in plan.urls:
            resp = pool.request("GET", url, retries=False)
            status = resp.status
    except Exception as exc:
        return Outcome(exc, status)
    finally:
        pool.clear()
    return Outcome(None, status)


def _requests(plan: Plan) -> Outcome:
    import requests

    proxies = {"http": plan.proxy, "https": plan.proxy} if plan.proxy else {}
    status = None
    with requests.Session() as session:
        session.trust_env = False  # no proxy or CA from the environment: the cell says which
        try:
            for url in plan.urls:
                resp = session.get(
                    url,
                    timeout=(plan.connect_timeout, plan.read_timeout),
                    verify=plan.ca_file,
                    proxies=proxies,
                )
                status = resp.status_code
                resp.raise_for_status()
        except Exception as exc:
            return Outcome(exc, status)
    return Outcome(None, status)


def _httpx_timeout(plan: Plan) -> httpx.Timeout:
    import httpx

    return httpx.Timeout(plan.read_timeout, connect=plan.connect_timeout, pool=5.0)


def _httpx(plan: Plan) -> Outcome:
    import httpx

    status = None
    with httpx.Client(verify=plan.context(), proxy=plan.proxy, timeout=_httpx_timeout(plan), trust_env=False) as client:
        try:
            for url in plan.urls:
                resp = client.get(url)
                status = resp.status_code
                resp.raise_for_status()
        except Exception as exc:
            return Outcome(exc, status)
    return Outcome(None, status)


def _httpx_async(plan: Plan) -> Outcome:
    import httpx

    async def main() -> Outcome:
        status = None
        async with httpx.AsyncClient(
            verify=plan.context(), proxy=plan.proxy, timeout=_httpx_timeout(plan), trust_env=False
        ) as client:
            try:
                for url in plan.urls:
                    resp = await client.get(url)
                    status = resp.status_code
                    resp.raise_for_status()
            except Exception as exc:
                return Outcome(exc, status)
        return Outcome(None, status)

    return asyncio.run(main())


def _aiohttp(plan: Plan) -> Outcome:
    import aiohttp

    async def main() -> Outcome:
        status = None
        # ``connect`` too: aiohttp's sock_read does not cover the proxy's CONNECT reply (a blackhole proxy
        # would hang the request forever); ``connect`` bounds the whole connection setup, CONNECT included.
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=plan.connect_timeout,
            sock_connect=plan.connect_timeout,
            sock_read=plan.read_timeout,
        )
        connector = aiohttp.TCPConnector(ssl=plan.context())
        async with aiohttp.ClientSession(timeout=timeout, connector=connector, trust_env=False) as session:
            try:
                for url in plan.urls:
                    async with session.get(url, proxy=plan.proxy) as resp:
                        status = resp.status
                        await resp.read()
                        resp.raise_for_status()
            except Exception as exc:
                return Outcome(exc, status)
        return Outcome(None, status)

    return asyncio.run(main())


#: client name -> runner, in the order of the matrix's tables.
RUNNERS: dict[str, Callable[[Plan], Outcome]] = {
    "http.client": _http_client,
    "urllib3": _urllib3,
    "requests": _requests,
    "httpx": _httpx,
    "httpx-async": _httpx_async,
    "aiohttp": _aiohttp,
}
CLIENTS: tuple[str, ...] = tuple(RUNNERS)


def client_versions() -> dict[str, str]:
    """The version of Python, OpenSSL and each library the matrix ran with."""
    import platform
    from importlib.metadata import version

    out = {"Python": platform.python_version(), "OpenSSL": ssl.OPENSSL_VERSION.split()[1]}
    for dist in ("urllib3", "requests", "httpx", "httpcore", "aiohttp"):
        out[dist] = version(dist)
    return out
