"""The sockwise.pool package surface: complete, sorted, and light to import."""

from __future__ import annotations

import subprocess
import sys

import sockwise.pool
from sockwise.pool import _cached, _health, _parse, _pool, _select, _store


def test_all_sorted_and_resolves() -> None:
    """__all__ is sorted and every name in it exists."""
    names = sockwise.pool.__all__
    assert names == sorted(names)
    assert all(hasattr(sockwise.pool, name) for name in names)


def test_all_covers_public_names_of_modules() -> None:
    """Every name a private module exports (but the store codecs and helpers) is re-exported."""
    internal = {"decode_health", "encode_health", "least_bad_order", "redact_url"}
    exported = set(sockwise.pool.__all__)
    for module in (_cached, _health, _parse, _pool, _select, _store):
        missing = set(module.__all__) - exported - internal
        assert not missing, (module.__name__, missing)


def test_import_does_not_load_redis() -> None:
    """Importing sockwise.pool loads no third-party client: redis-py only when a Redis store opens."""
    code = "import sys, sockwise.pool; print(sorted(m for m in sys.modules if m.split('.')[0] in {'redis', 'httpx'}))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]"
