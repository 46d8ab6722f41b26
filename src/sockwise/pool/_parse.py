"""Proxy lists in every format users have, parsed into :class:`sockwise.Proxy` values.

Accepted, one proxy a line (``#`` starts a comment, blank lines are skipped)::

    socks5://user:pass@10.0.0.1:1080     scheme://[user[:pass]@]host:port
    user:pass@10.0.0.1:8080              [user[:pass]@]host:port (the default scheme)
    10.0.0.1:8080                        host:port
    10.0.0.1:8080:user:pass              host:port:user:pass (vendor lists)
    user:pass:10.0.0.1:8080              user:pass:host:port (vendor lists, when the 2nd field is no port)
    [2001:db8::1]:8080                   IPv6 in brackets, in any of the forms above

or a JSON document: a list of such strings, a list of objects (``host``/``port``/``username``/
``password``/``scheme`` and common aliases), or proxy_pool's ``/all`` output (objects with a
``"proxy": "host:port"`` field; its ``"https": true`` means the proxy can tunnel to https
sites, not that it speaks TLS itself, so the scheme stays the default).

Credentials are percent-decoded in the URL forms (``Proxy.url`` encodes them back) and taken
verbatim in the colon-separated vendor forms. No error message ever quotes a password.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from sockwise._exceptions import ProxyParseError
from sockwise._model import Proxy

__all__ = ["ParseResult", "parse_proxies", "parse_proxy"]

SCHEMES = ("http", "https", "socks4", "socks5", "socks5h")
_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
# RFC 1123 labels plus "_", which some internal DNS names carry.
_HOSTNAME_RE = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$"
)
_FORMATS_HINT = "write scheme://user:pass@host:port, host:port or host:port:user:pass"


@dataclass(frozen=True, slots=True)
class ParseResult:
    """What a proxy list held.

    Attributes:
        proxies: the proxies, in file order, without duplicates (same ``Proxy.key``).
        errors: one :class:`ProxyParseError` per bad entry (only with ``skip_invalid=True``).
        duplicates: how many entries repeated an earlier proxy and were dropped.
    """

    proxies: tuple[Proxy, ...]
    errors: tuple[ProxyParseError, ...] = ()
    duplicates: int = 0


class _Bad(Exception):
    """Internal: why one entry does not parse (the message never holds a password)."""


def parse_proxy(text: str, *, default_scheme: str = "http") -> Proxy:
    """Parse one proxy in any of the line formats.

    Args:
        text: one entry, e.g. ``socks5://user:pass@10.0.0.1:1080`` or ``10.0.0.1:8080:user:pass``.
        default_scheme: the scheme for entries that do not name one.

    Returns:
        The proxy.

    Raises:
        ProxyParseError: the entry does not parse; the message says why and never holds a password.
        ConfigError: ``default_scheme`` is not a proxy scheme (ProxyParseError is a ConfigError too).
    """
    _check_scheme(default_scheme)
    try:
        return _parse_line(text.strip(), default_scheme)
    except _Bad as exc:
        raise ProxyParseError(f"{exc}; {_FORMATS_HINT}", line=_mask(text.strip())) from None


def parse_proxies(text: str, *, default_scheme: str = "http", skip_invalid: bool = False) -> ParseResult:
    """Parse a proxy list: lines in any format, or a JSON document.

    Args:
        text: the whole list (a file's content, a URL's body, stdin).
        default_scheme: the scheme for entries that do not name one (``http`` unless told).
        skip_invalid: collect bad entries in ``errors`` and go on, instead of raising on the first.

    Returns:
        The proxies in order, deduplicated by ``Proxy.key``, and the errors met.

    Raises:
        ProxyParseError: a bad entry, with its line number (only without ``skip_invalid``).
        ConfigError: ``default_scheme`` is not a proxy scheme.
    """
    _check_scheme(default_scheme)
    entries: Iterable[tuple[int, Any]]
    body = text.lstrip("\ufeff")
    # A document that is not JSON has no entries to go on with: it raises even with skip_invalid.
    entries = _json_entries(body) if _looks_like_json(body) else _line_entries(body)
    proxies: dict[str, Proxy] = {}
    errors: list[ProxyParseError] = []
    duplicates = 0
    for lineno, entry in entries:
        try:
            proxy = _parse_entry(entry, default_scheme)
        except _Bad as exc:
            shown = _mask(entry) if isinstance(entry, str) else ""
            error = ProxyParseError(f"{exc}; {_FORMATS_HINT}", lineno=lineno, line=shown)
            if not skip_invalid:
                raise error from None
            errors.append(error)
            continue
        if proxy.key in proxies:
            duplicates += 1
        else:
            proxies[proxy.key] = proxy
    return ParseResult(tuple(proxies.values()), tuple(errors), duplicates)


def _check_scheme(scheme: str) -> None:
    if scheme not in SCHEMES:
        raise ProxyParseError(f"default scheme {scheme!r} is not a proxy scheme; use one of {', '.join(SCHEMES)}")


def _line_entries(text: str) -> Iterable[tuple[int, Any]]:
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = _strip_comment(raw).strip()
        if line:
            yield lineno, line


def _strip_comment(line: str) -> str:
    # "#" opens a comment at the start of a line or after whitespace: a password may hold "#".
    if line.lstrip().startswith("#"):
        return ""
    match = re.search(r"\s#", line)
    return line[: match.start()] if match else line


def _looks_like_json(text: str) -> bool:
    stripped = text.lstrip()
    if stripped.startswith("{"):
        return True
    # "[::1]:8080" starts with "[" too; a JSON list goes on with whitespace, a string, an object or "]".
    return bool(re.match(r"\[(?:\s|[\"{\]]|$)", stripped))


def _json_entries(text: str) -> list[tuple[int, Any]]:
    """The items of a JSON list (or a single object) with the line each starts on."""
    decoder = json.JSONDecoder()

    def lineno_at(pos: int) -> int:
        return text.count("\n", 0, pos) + 1

    def fail(exc: json.JSONDecodeError) -> ProxyParseError:
        return ProxyParseError(
            f"the JSON does not parse ({exc.msg}, column {exc.colno}); fix it, or give one proxy a line",
            lineno=exc.lineno,
        )

    start = len(text) - len(text.lstrip())
    if text[start] == "{":
        try:
            obj, end = decoder.raw_decode(text, start)
        except json.JSONDecodeError as exc:
            raise fail(exc) from None
        if text[end:].strip():
            raise ProxyParseError("extra text after the JSON object", lineno=lineno_at(end))
        return [(lineno_at(start), obj)]
    entries: list[tuple[int, Any]] = []
    pos = start + 1
    ws = re.compile(r"\s*")

    def skip(p: int) -> int:
        match = ws.match(text, p)
        return match.end() if match else p

    pos = skip(pos)
    if pos < len(text) and text[pos] == "]":
        pos += 1
    else:
        while True:
            try:
                item, end = decoder.raw_decode(text, pos)
            except json.JSONDecodeError as exc:
                raise fail(exc) from None
            entries.append((lineno_at(pos), item))
            pos = skip(end)
            if pos < len(text) and text[pos] == ",":
                pos = skip(pos + 1)
                continue
            if pos < len(text) and text[pos] == "]":
                pos += 1
                break
            raise ProxyParseError("the JSON list is not closed with ']' or lacks a ','", lineno=lineno_at(pos))
    if text[pos:].strip():
        raise ProxyParseError("extra text after the JSON list", lineno=lineno_at(pos))
    return entries


def _parse_entry(entry: Any, default_scheme: str) -> Proxy:
    if isinstance(entry, str):
        line = _strip_comment(entry).strip()
        if not line:
            raise _Bad("empty entry")
        return _parse_line(line, default_scheme)
    if isinstance(entry, Mapping):
        return _parse_object(entry, default_scheme)
    raise _Bad(f"a JSON {type(entry).__name__} is not a proxy; give a string or an object with host and port")


_HOST_FIELDS = ("host", "ip", "address", "proxy_address", "server", "hostname")
_PORT_FIELDS = ("port", "proxy_port")
_USER_FIELDS = ("username", "user", "login")
_PASS_FIELDS = ("password", "pass", "pwd")
_SCHEME_FIELDS = ("scheme", "protocol", "type")


def _first(obj: Mapping[str, Any], names: tuple[str, ...]) -> Any:
    for name in names:
        value = obj.get(name)
        if value is not None and value != "":
            return value
    return None


def _parse_object(obj: Mapping[str, Any], default_scheme: str) -> Proxy:
    scheme = default_scheme
    named = _first(obj, ("scheme", "protocol"))
    if named is not None:
        if not isinstance(named, str) or named.lower() not in SCHEMES:
            raise _Bad(f"scheme {str(named)[:20]!r} is not supported; use one of {', '.join(SCHEMES)}")
        scheme = named.lower()
    elif isinstance(obj.get("type"), str) and obj["type"].lower() in SCHEMES:
        # Some lists say "type": "socks5"; proxy_pool uses "type" for anonymity, which is no scheme.
        scheme = obj["type"].lower()
    user = _first(obj, _USER_FIELDS)
    password = _first(obj, _PASS_FIELDS)
    if user is not None and not isinstance(user, str):
        raise _Bad("the username field is not a string")
    if password is not None and not isinstance(password, str):
        raise _Bad("the password field is not a string")
    proxy_field = obj.get("proxy")
    if isinstance(proxy_field, str) and proxy_field.strip():
        proxy = _parse_line(proxy_field.strip(), scheme)
        if user is None and password is None:
            return proxy
        return Proxy(proxy.scheme, proxy.host, proxy.port, user, password)
    host = _first(obj, _HOST_FIELDS)
    port = _first(obj, _PORT_FIELDS)
    if host is None:
        raise _Bad('the object has no "host" (or "proxy") field')
    if not isinstance(host, str):
        raise _Bad("the host field is not a string")
    if port is None:
        raise _Bad('the object has no "port" field')
    if isinstance(port, bool) or not isinstance(port, int | str):
        raise _Bad("the port field is not a number")
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    return _build(scheme, _parse_host(bare), str(port), user, password)


def _parse_line(line: str, default_scheme: str) -> Proxy:
    if any(ch.isspace() for ch in line):
        raise _Bad("the entry holds whitespace")
    scheme = default_scheme
    match = _SCHEME_RE.match(line)
    url_form = bool(match)
    if match:
        scheme = match.group(1).lower()
        if scheme not in SCHEMES:
            raise _Bad(f"scheme {scheme[:20]!r} is not supported; use one of {', '.join(SCHEMES)}")
        line = line[match.end() :]
        # A trailing "/" (copied from a browser) is harmless; a path is not.
        if line.endswith("/"):
            line = line[:-1]
        if "/" in line.rpartition("@")[2] or "?" in line.rpartition("@")[2]:
            raise _Bad("a proxy URL has no path or query")
    if "@" in line:
        userinfo, _, hostport = line.rpartition("@")
        user, sep, password = userinfo.partition(":")
        if not user:
            raise _Bad("the username before '@' is empty")
        host, port = _split_hostport(hostport)
        return _build(scheme, host, port, unquote(user), unquote(password) if sep else None)
    if url_form:
        host, port = _split_hostport(line)
        return _build(scheme, host, port, None, None)
    return _parse_bare(line, scheme)


def _parse_bare(line: str, scheme: str) -> Proxy:
    """host:port, host:port:user:pass or user:pass:host:port (IPv6 only in brackets)."""
    if line.startswith("["):
        close = line.find("]")
        if close < 0:
            raise _Bad("an IPv6 address opened with '[' is not closed with ']'")
        host = _parse_host(line[1:close])
        rest = line[close + 1 :]
        if not rest.startswith(":"):
            raise _Bad("the port is missing after the IPv6 address")
        fields = rest[1:].split(":", 2)
        if len(fields) == 1:
            return _build(scheme, host, fields[0], None, None)
        if len(fields) == 3:
            return _build(scheme, host, fields[0], fields[1], fields[2])
        raise _Bad("after host:port come user:pass, two fields")
    if _is_ipv6(line) or _is_ipv6(line.rpartition(":")[0]):
        raise _Bad("an IPv6 address needs brackets: [2001:db8::1]:8080")
    fields = line.split(":")
    if len(fields) == 1:
        raise _Bad("the port is missing")
    if len(fields) == 2:
        return _build(scheme, _parse_host(fields[0]), fields[1], None, None)
    if len(fields) >= 4 and fields[1].isdigit():
        return _build(scheme, _parse_host(fields[0]), fields[1], fields[2], ":".join(fields[3:]))
    if len(fields) == 4 and fields[3].isdigit():
        return _build(scheme, _parse_host(fields[2]), fields[3], fields[0], fields[1])
    raise _Bad("the entry has an unexpected number of ':'-separated fields")


def _is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def _split_hostport(hostport: str) -> tuple[str, str]:
    if hostport.startswith("["):
        close = hostport.find("]")
        if close < 0:
            raise _Bad("an IPv6 address opened with '[' is not closed with ']'")
        host = _parse_host(hostport[1:close])
        rest = hostport[close + 1 :]
        if not rest.startswith(":") or not rest[1:]:
            raise _Bad("the port is missing after the IPv6 address")
        return host, rest[1:]
    host, sep, port = hostport.rpartition(":")
    if not sep:
        raise _Bad("the port is missing")
    if ":" in host:
        raise _Bad("an IPv6 address needs brackets: [2001:db8::1]:8080")
    return _parse_host(host), port


def _parse_host(host: str) -> str:
    if not host:
        raise _Bad("the host is empty")
    if ":" in host:
        try:
            return str(ipaddress.IPv6Address(host))
        except ValueError:
            raise _Bad("the IPv6 address is not valid") from None
    if re.fullmatch(r"[0-9.]+", host):
        try:
            return str(ipaddress.IPv4Address(host))
        except ValueError:
            raise _Bad("the IPv4 address is not valid") from None
    if not _HOSTNAME_RE.match(host):
        raise _Bad("the host is not a valid host name or IP address")
    return host.lower().rstrip(".")


def _build(scheme: str, host: str, port_text: str, user: str | None, password: str | None) -> Proxy:
    port_text = port_text.strip()
    if not port_text:
        raise _Bad("the port is missing")
    if not port_text.isdigit():
        raise _Bad("the port is not a number")
    port = int(port_text)
    if not 0 < port < 65536:
        raise _Bad("the port is out of range 1-65535")
    if user == "":
        raise _Bad("the username is empty")
    return Proxy(scheme, host, port, user, password)


def _mask(line: str) -> str:
    """The entry with anything that may be a secret replaced by ``***``.

    Only a scheme, a user name, a host and an all-digit port survive: a line that does not parse
    may hold a password anywhere else.
    """
    match = _SCHEME_RE.match(line)
    prefix, rest = (line[: match.end()], line[match.end() :]) if match else ("", line)
    if "@" in rest:
        userinfo, _, hostport = rest.rpartition("@")
        user, sep, _ = userinfo.partition(":")
        return f"{prefix}{user}{':***' if sep else ''}@{_mask_fields(hostport)}"
    return prefix + _mask_fields(rest)


def _mask_fields(text: str) -> str:
    if text.startswith("[") and "]" in text:
        close = text.index("]")
        head, tail = text[: close + 1], text[close + 1 :]
        fields = tail[1:].split(":") if tail.startswith(":") else ([tail] if tail else [])
    else:
        head, *fields = text.split(":")
    shown = [head]
    for position, value in enumerate(fields):
        # A port has at most 5 digits; a longer number in its place may be a password.
        shown.append(value if position == 0 and value.isdigit() and len(value) <= 5 else "***")
    return ":".join(shown)
