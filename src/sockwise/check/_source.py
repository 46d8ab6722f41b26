"""Where a proxy list comes from: a file, standard input, or an http(s) URL serving it."""

from __future__ import annotations

import http.client
import sys
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

from sockwise import ConfigError, redact_credentials

__all__ = ["MAX_LIST_BYTES", "read_proxy_list", "shown_url"]

#: The largest proxy list read (about 500 000 lines of ``host:port``): a bound on memory for a URL
#: or a pipe that never ends.
MAX_LIST_BYTES = 16 * 1024 * 1024
_HINT = "give a file, - for standard input, or an http:// or https:// URL"


def shown_url(url: str) -> str:
    """A URL fit to print: no userinfo, and the query (where vendors put API keys) elided."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{host}{port}{parts.path}{'?…' if parts.query else ''}"


def read_proxy_list(source: str, *, timeout: float = 10.0, stdin: BinaryIO | None = None) -> tuple[str, str]:
    """Read a proxy list's text.

    Args:
        source: a file path, ``-`` for standard input, or an ``http://`` / ``https://`` URL (fetched
            with urllib, which honours the ``*_proxy`` environment variables).
        timeout: seconds the URL fetch may wait on its socket.
        stdin: the stream ``-`` reads (default: the process's standard input).

    Returns:
        ``(text, name)``: the list's text and a name fit to print (a URL without its credentials).

    Raises:
        ConfigError: the file does not exist or cannot be read, the URL cannot be fetched or does
            not answer 200, the source has another scheme, the list is larger than MAX_LIST_BYTES
            or is not UTF-8; the message names the source and the fix.
    """
    if source == "-":
        stream = stdin if stdin is not None else sys.stdin.buffer
        return _decode(_read_bounded(stream, "standard input"), "standard input"), "standard input"
    scheme = urlsplit(source).scheme.lower() if "://" in source else ""
    if scheme in ("http", "https"):
        name = shown_url(source)
        return _decode(_fetch(source, name, timeout), name), name
    if scheme:
        raise ConfigError(f"cannot read a proxy list from a {scheme}:// URL; {_HINT}")
    path = Path(source)
    if not path.exists():
        raise ConfigError(f"proxy list {source!r}: no such file; {_HINT}")
    if path.is_dir():
        raise ConfigError(f"proxy list {source!r} is a directory; {_HINT}")
    try:
        with path.open("rb") as stream:
            data = _read_bounded(stream, repr(source))
    except OSError as exc:
        raise ConfigError(f"cannot read the proxy list {source!r}: {exc.strerror or exc}") from None
    return _decode(data, repr(source)), source


def _read_bounded(stream: BinaryIO, name: str) -> bytes:
    data = stream.read(MAX_LIST_BYTES + 1)
    if len(data) > MAX_LIST_BYTES:
        raise ConfigError(
            f"the proxy list from {name} is larger than {MAX_LIST_BYTES // (1024 * 1024)} MiB; split it into parts"
        )
    return data


def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"the proxy list from {name} is not UTF-8 text (byte {exc.start}); save it as UTF-8"
        ) from None


def _fetch(url: str, name: str, timeout: float) -> bytes:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, headers={"User-Agent": "sockwise-check"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return _read_bounded(response, name)
    except urllib.error.HTTPError as exc:
        raise ConfigError(f"fetching the proxy list from {name} failed: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        text = redact_credentials(str(reason)) if str(reason) else type(reason).__name__
        raise ConfigError(f"fetching the proxy list from {name} failed: {text}; check the URL") from None
