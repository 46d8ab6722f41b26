"""Origin scenarios: an HTTP server that fails on purpose at an exact point of the exchange.

Path scenarios live under ``/fault/<name>`` on one port (plain and TLS). Each handler gets the
connection and the parsed request and returns whether the connection may serve another request.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sockwise.lab._http import Request, abort, response_head

__all__ = ["PATH_HANDLERS", "Conn", "Handler", "ok_body"]


@dataclass(slots=True)
class Conn:
    """One accepted connection, as a handler sees it."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    conn_id: int
    served: int = 0  # responses completed on this connection so far
    extra: dict[str, object] = field(default_factory=dict)


Handler = Callable[[Conn, Request], Awaitable[bool]]


def _int(req: Request, name: str, default: int) -> int:
    try:
        return int(req.query.get(name, default))
    except ValueError:
        return default


def _float(req: Request, name: str, default: float) -> float:
    try:
        return float(req.query.get(name, default))
    except ValueError:
        return default


def ok_body(size: int) -> bytes:
    """A body of exactly ``size`` bytes (``ok`` for the default of 2)."""
    if size == 2:
        return b"ok"
    return (b"sockwise-lab " * (size // 13 + 1))[:size]


async def _send(conn: Conn, data: bytes) -> None:
    conn.writer.write(data)
    await conn.writer.drain()


async def _hold(conn: Conn) -> None:
    """Keep the connection open without answering until the client gives up (or the lab stops)."""
    while await conn.reader.read(65536):
        pass


async def ok(conn: Conn, req: Request) -> bool:
    """200 with ``size`` bytes (default 2); keep-alive honoured; ``chunked=1`` for chunked encoding."""
    body = ok_body(_int(req, "size", 2))
    keep = req.keep_alive
    headers = [("Content-Type", "text/plain")]
    if not keep:
        headers.append(("Connection", "close"))
    if req.query.get("chunked") == "1":
        headers.append(("Transfer-Encoding", "chunked"))
        payload = (f"{len(body):x}\r\n".encode() + body + b"\r\n" if body else b"") + b"0\r\n\r\n"
    else:
        headers.append(("Content-Length", str(len(body))))
        payload = body
    await _send(conn, response_head(200, headers) + (payload if req.method != "HEAD" else b""))
    return keep


async def status(conn: Conn, req: Request) -> bool:
    """Any status (``code``, default 503) with optional ``retry_after`` seconds or ``retry_after_date``."""
    code = _int(req, "code", 503)
    body = f"lab status {code}\n".encode()
    headers = [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
    if "retry_after" in req.query:
        headers.append(("Retry-After", req.query["retry_after"]))
    elif "retry_after_date" in req.query:
        when = time.time() + _float(req, "retry_after_date", 0.0)
        headers.append(("Retry-After", email.utils.formatdate(when, usegmt=True)))
    await _send(conn, response_head(code, headers) + body)
    return req.keep_alive


async def reset_after_request(conn: Conn, req: Request) -> bool:
    """Read the request, then RST (SO_LINGER 0)."""
    abort(conn.writer)
    return False


async def empty_reply(conn: Conn, req: Request) -> bool:
    """Read the request, then FIN without a byte of response."""
    conn.writer.close()
    return False


def _partial_head(req: Request, default_size: int) -> tuple[bytes, int]:
    size = _int(req, "size", default_size)
    head = response_head(200, [("Content-Type", "application/octet-stream"), ("Content-Length", str(size))])
    return head, size


async def reset_mid_body(conn: Conn, req: Request) -> bool:
    """Announce ``size`` bytes (default 100000), send ``sent`` (default 1000), then RST."""
    head, size = _partial_head(req, 100_000)
    await _send(conn, head + ok_body(min(_int(req, "sent", 1000), size)))
    abort(conn.writer)
    return False


async def close_mid_body(conn: Conn, req: Request) -> bool:
    """Announce ``size`` bytes (default 100000), send ``sent`` (default 1000), then FIN."""
    head, size = _partial_head(req, 100_000)
    await _send(conn, head + ok_body(min(_int(req, "sent", 1000), size)))
    conn.writer.close()
    return False


async def stall_before_headers(conn: Conn, req: Request) -> bool:
    """Read the request and never answer."""
    await _hold(conn)
    return False


async def stall_mid_body(conn: Conn, req: Request) -> bool:
    """Announce ``size`` bytes (default 10), send ``sent`` (default 2), then never send more."""
    head, size = _partial_head(req, 10)
    await _send(conn, head + ok_body(min(_int(req, "sent", 2), size)))
    await _hold(conn)
    return False


async def trickle(conn: Conn, req: Request) -> bool:
    """Send ``size`` body bytes (default 10) one every ``interval`` seconds (default 0.2)."""
    head, size = _partial_head(req, 10)
    interval = _float(req, "interval", 0.2)
    await _send(conn, head)
    for byte in ok_body(size):
        await asyncio.sleep(interval)
        await _send(conn, bytes([byte]))
    return req.keep_alive


async def garbage(conn: Conn, req: Request) -> bool:
    """Answer with an SSH banner instead of HTTP, then FIN."""
    await _send(conn, b"SSH-2.0-OpenSSH_9.6\r\n")
    conn.writer.close()
    return False


async def stale_keepalive(conn: Conn, req: Request) -> bool:
    """Serve the first request on a connection; close (``mode=fin``, default, or ``rst``) as the next arrives."""
    if conn.served == 0:
        body = b"ok"
        await _send(conn, response_head(200, [("Content-Length", "2"), ("Connection", "keep-alive")]) + body)
        return True
    if req.query.get("mode") == "rst":
        abort(conn.writer)
    else:
        conn.writer.close()
    return False


PATH_HANDLERS: dict[str, Handler] = {
    "close-mid-body": close_mid_body,
    "empty-reply": empty_reply,
    "garbage": garbage,
    "ok": ok,
    "reset-after-request": reset_after_request,
    "reset-mid-body": reset_mid_body,
    "stale-keepalive": stale_keepalive,
    "stall-before-headers": stall_before_headers,
    "stall-mid-body": stall_mid_body,
    "status": status,
    "trickle": trickle,
}
