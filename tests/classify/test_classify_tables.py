"""The tables themselves: most specific first, loaded lazily, never importing a client."""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap

import pytest

from sockwise._classify._rules import Table
from sockwise._classify._tables import TABLE_ORDER, load_table, tables_for

TABLE_NAMES = [name for name, _ in TABLE_ORDER]


@pytest.mark.parametrize("name", TABLE_NAMES)
def test_no_rule_is_shadowed(name: str) -> None:
    """No rule follows an unconditional rule for the same class or a base class (most specific first)."""
    table = load_table(name)
    assert isinstance(table, Table)
    for later_index, later in enumerate(table.rules):
        for earlier in table.rules[:later_index]:
            shadowed = earlier.when is None and issubclass(later.type, earlier.type)
            assert not shadowed, f"{name}: {later.type.__qualname__} is shadowed by {earlier.type.__qualname__}"


@pytest.mark.parametrize("name", TABLE_NAMES)
def test_tables_are_built_once(name: str) -> None:
    """Loading a table twice returns the same object."""
    assert load_table(name) is load_table(name)


def test_library_tables_read_library_subclasses_first() -> None:
    """aiohttp's ClientOSError (an OSError) is read by the aiohttp table before the builtins table."""
    import aiohttp

    assert tables_for(aiohttp.ClientOSError) == ("aiohttp", "builtins")
    assert tables_for(ConnectionResetError) == ("builtins",)


def test_public_names_are_sorted_and_complete() -> None:
    """sockwise._classify exports a sorted __all__ of names that exist."""
    # By module name: once sockwise exports the function ``classify``, the attribute
    # ``sockwise._classify`` is that function, not this package.
    package = importlib.import_module("sockwise._classify")
    names = package.__all__
    assert names == sorted(names)
    assert names == ["classify", "classify_status", "redact_credentials", "walk_chain"]
    for name in names:
        assert callable(getattr(package, name))


def _run(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60, check=True
    )
    return result.stdout.strip()


CLIENTS = ("httpx", "httpcore", "h11", "anyio", "aiohttp", "aiohttp_socks", "python_socks", "requests", "urllib3")


def test_classify_never_imports_a_client() -> None:
    """Classifying stdlib failures imports no HTTP client library."""
    out = _run(
        f"""
        import http.client, socket, sys
        from sockwise._classify import classify
        for exc in (ConnectionResetError(104, "x"), OSError("Tunnel connection failed: 407 X"),
                    TimeoutError("timed out"), socket.gaierror(-2, "x"),
                    http.client.RemoteDisconnected("x"), OSError(113, "x")):
            classify(exc)
        print(sorted(m for m in {CLIENTS!r} if m in sys.modules))
        """
    )
    assert out == "[]"


def test_only_the_raising_librarys_table_loads() -> None:
    """An httpx exception loads the httpx/httpcore tables and no other client's."""
    out = _run(
        """
        import sys
        import httpcore, httpx
        from sockwise._classify import classify
        from sockwise._classify._tables import _loaded
        refused = ConnectionRefusedError(111, "Connection refused")
        inner = httpcore.ConnectError(refused)
        inner.__cause__ = refused
        outer = httpx.ConnectError(str(refused))
        outer.__cause__ = inner
        print(classify(outer).code, sorted(_loaded), "aiohttp" in sys.modules, "requests" in sys.modules)
        """
    )
    assert out == "ECONNREFUSED ['builtins', 'httpcore', 'httpx'] False False"
