"""The public surface: every package's __all__ is sorted, complete, and resolves."""

from __future__ import annotations

import importlib
import types

import pytest

PACKAGES = [
    "sockwise",
    "sockwise._classify",
    "sockwise.aiohttp",
    "sockwise.check",
    "sockwise.explain",
    "sockwise.httpx",
    "sockwise.lab",
    "sockwise.pool",
    "sockwise.probe",
    "sockwise.requests",
    "sockwise.retry",
    "sockwise.runner",
]


def _isort_key(name: str) -> tuple[int, str]:
    # The order ruff's RUF022 keeps: CONSTANTS, then Classes, then functions/variables.
    if name.isupper() or (name.upper() == name and "_" in name):
        return (0, name)
    if name[:1].isupper():
        return (1, name)
    return (2, name)


@pytest.mark.parametrize("package", PACKAGES)
def test_all_is_sorted_and_resolves(package: str) -> None:
    """__all__ is in isort order and every name in it exists."""
    module = importlib.import_module(package)
    names = list(module.__all__)
    assert names == sorted(names, key=_isort_key)
    for name in names:
        assert hasattr(module, name), f"{package}.{name} is in __all__ but missing"


@pytest.mark.parametrize("package", PACKAGES)
def test_all_is_complete(package: str) -> None:
    """Every public name a package binds (other than its submodules and __future__) is in __all__."""
    module = importlib.import_module(package)
    public = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType) and name != "annotations"
    }
    assert public <= set(module.__all__), f"missing from {package}.__all__: {sorted(public - set(module.__all__))}"


def test_core_imports_no_third_party_client() -> None:
    """Importing sockwise (and its cores) loads none of httpx, aiohttp, requests, urllib3, redis, click, rich."""
    import subprocess
    import sys

    code = (
        "import sys, sockwise, sockwise._classify, sockwise.retry, sockwise.runner, sockwise.pool, sockwise.lab;"
        "heavy = ('httpx', 'aiohttp', 'requests', 'urllib3', 'redis', 'click', 'rich', 'trustme');"
        "bad = [m for m in heavy if m in sys.modules];"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == ""
