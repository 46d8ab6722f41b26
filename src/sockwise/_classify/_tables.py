"""Which tables read an exception, loaded on first need.

A table is consulted only for an exception whose class (or a base class) comes from that
table's library, so its library is necessarily imported already: classifying never imports
a third-party client. The order below is the priority when several apply (a library's
subclass of a stdlib type is read by the library's table first); it is a tuple, so the
priority is written down, not left to the order of a dict.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from sockwise._classify._rules import Clue, Table

__all__ = ["TABLE_ORDER", "clue_for", "load_table", "tables_for"]


def _aiohttp_socks() -> Table:
    from sockwise._classify._aiohttp import build_aiohttp_socks_table

    return build_aiohttp_socks_table()


def _python_socks() -> Table:
    from sockwise._classify._aiohttp import build_python_socks_table

    return build_python_socks_table()


def _aiohttp() -> Table:
    from sockwise._classify._aiohttp import build_aiohttp_table

    return build_aiohttp_table()


def _httpx() -> Table:
    from sockwise._classify._httpx import build_httpx_table

    return build_httpx_table()


def _httpcore() -> Table:
    from sockwise._classify._httpx import build_httpcore_table

    return build_httpcore_table()


def _requests() -> Table:
    from sockwise._classify._urllib3 import build_requests_table

    return build_requests_table()


def _urllib3() -> Table:
    from sockwise._classify._urllib3 import build_urllib3_table

    return build_urllib3_table()


def _ssl() -> Table:
    from sockwise._classify._stdlib import build_ssl_table

    return build_ssl_table()


def _socket() -> Table:
    from sockwise._classify._stdlib import build_socket_table

    return build_socket_table()


def _http() -> Table:
    from sockwise._classify._stdlib import build_http_table

    return build_http_table()


def _urllib() -> Table:
    from sockwise._classify._stdlib import build_urllib_table

    return build_urllib_table()


def _asyncio() -> Table:
    from sockwise._classify._stdlib import build_asyncio_table

    return build_asyncio_table()


def _builtins() -> Table:
    from sockwise._classify._stdlib import build_builtins_table

    return build_builtins_table()


#: (top-level module of an exception class, its table's loader), highest priority first.
TABLE_ORDER: tuple[tuple[str, Callable[[], Table]], ...] = (
    ("aiohttp_socks", _aiohttp_socks),
    ("python_socks", _python_socks),
    ("aiohttp", _aiohttp),
    ("httpx", _httpx),
    ("httpcore", _httpcore),
    ("requests", _requests),
    ("urllib3", _urllib3),
    ("ssl", _ssl),
    ("socket", _socket),
    ("http", _http),
    ("urllib", _urllib),
    ("asyncio", _asyncio),
    ("concurrent", _asyncio),
    ("builtins", _builtins),
)
_PRIORITY = {name: index for index, (name, _) in enumerate(TABLE_ORDER)}

_lock = threading.Lock()
_loaded: dict[str, Table] = {}
# exception class -> names of the tables that read it, in priority order. Bounded: cleared
# when it grows past the limit (only dynamically created classes could make it grow).
_by_type: dict[type, tuple[str, ...]] = {}
_BY_TYPE_LIMIT = 1024


def load_table(name: str) -> Table:
    """The table named ``name`` (a key of :data:`TABLE_ORDER`), built once.

    Raises:
        KeyError: for an unknown name.
    """
    table = _loaded.get(name)
    if table is None:
        loader = dict(TABLE_ORDER)[name]
        with _lock:
            table = _loaded.get(name)
            if table is None:
                table = loader()
                _loaded[name] = table
    return table


def tables_for(cls: type) -> tuple[str, ...]:
    """Names of the tables that read exceptions of class ``cls``, highest priority first."""
    names = _by_type.get(cls)
    if names is None:
        tops = {getattr(base, "__module__", "").partition(".")[0] for base in cls.__mro__}
        names = tuple(sorted((top for top in tops if top in _PRIORITY), key=_PRIORITY.__getitem__))
        if len(_by_type) >= _BY_TYPE_LIMIT:
            _by_type.clear()
        _by_type[cls] = names
    return names


def clue_for(exc: BaseException) -> Clue | None:
    """The clue of the first table (by priority) with a rule matching ``exc``, or None."""
    for name in tables_for(type(exc)):
        clue = load_table(name).match(exc)
        if clue is not None:
            return clue
    return None
