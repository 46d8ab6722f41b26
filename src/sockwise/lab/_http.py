"""Just enough HTTP/1.1 for the lab: read one request head (and body) from a stream.

The lab must misbehave on purpose at exact points, so it speaks HTTP by hand on raw streams
instead of through a framework that would hide those points.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

__all__ = ["MAX_HEAD", "BadRequest", "Request", "abort", "read_body", "read_head", "response_head"]

MAX_HEAD = 64 * 1024

_REASONS = {
    200: "OK",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    407: "Proxy Authentication Required",
    408: "Request Timeout",
    425: "Too Early",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class BadRequest(Exception):
    """The peer sent something that is not an HTTP/1.x request head."""


@dataclass(frozen=True, slots=True)
class Request:
    """One parsed request head."""

    method: str
    target: str
    version: str
    headers: tuple[tuple[str, str], ...]
    path: str = ""
    query: dict[str, str] = field(default_factory=dict)

    def header(self, name: str, default: str | None = None) -> str | None:
        """The first value of a header, case-insensitively."""
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return default

    @property
    def keep_alive(self) -> bool:
        """Whether the client allows another request on this connection."""
        conn = (self.header("connection") or "").lower()
        if self.version == "HTTP/1.0":
            return "keep-alive" in conn
        return "close" not in conn


def parse_head(raw: bytes) -> Request:
    """Parse a request head (without the final blank line's bytes mattering).

    Raises:
        BadRequest: the bytes are not an HTTP/1.x request head.
    """
    try:
        text = raw.decode("latin-1")
    except UnicodeDecodeError as exc:  # pragma: no cover - latin-1 decodes every byte
        raise BadRequest("undecodable head") from exc
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise BadRequest(f"bad request line {lines[0][:60]!r}")
    method, target, version = parts
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise BadRequest(f"bad header line {line[:60]!r}")
        headers.append((name, value.strip()))
    split = urlsplit(target)
    path = split.path if target.startswith(("/", "http://", "https://")) else target
    return Request(method, target, version, tuple(headers), path, dict(parse_qsl(split.query)))


async def read_head(reader: asyncio.StreamReader) -> Request | None:
    """Read one request head; None when the peer closed before sending anything.

    Raises:
        BadRequest: the peer sent something else (a TLS ClientHello, garbage, a huge head).
        ConnectionError: the peer reset the connection.
    """
    first = await reader.read(1)
    if not first:
        return None
    if first[0] < 0x20 or first[0] >= 0x7F:  # a TLS ClientHello starts with 0x16
        raise BadRequest(f"not HTTP: first byte 0x{first[0]:02x}")
    try:
        rest = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    except asyncio.LimitOverrunError as exc:
        raise BadRequest("request head too large") from exc
    return parse_head(first + rest[:-4])


async def read_body(reader: asyncio.StreamReader, request: Request) -> bytes:
    """Read the request body announced by Content-Length or chunked encoding."""
    if (request.header("transfer-encoding") or "").lower() == "chunked":
        chunks: list[bytes] = []
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                await reader.readuntil(b"\r\n")  # trailers end with an empty line
                return b"".join(chunks)
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
    length = int(request.header("content-length") or "0")
    return await reader.readexactly(length) if length else b""


def response_head(status: int, headers: list[tuple[str, str]] | None = None, *, reason: str | None = None) -> bytes:
    """Encode a response status line and headers, ending with the blank line."""
    lines = [f"HTTP/1.1 {status} {reason or _REASONS.get(status, 'Status')}"]
    lines.extend(f"{k}: {v}" for k, v in headers or [])
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def abort(writer: asyncio.StreamWriter) -> None:
    """Close with RST: SO_LINGER 0 makes close() discard the send queue and reset the peer."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed by the peer's reset
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
