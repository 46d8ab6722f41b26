"""The public surface of sockwise.retry and sockwise.runner: complete and sorted __all__."""

from __future__ import annotations

import types

import pytest

import sockwise.retry
import sockwise.runner


def ruff_order(name: str) -> tuple[int, str]:
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


@pytest.mark.parametrize("module", [sockwise.retry, sockwise.runner])
def test_all_is_complete_and_sorted(module: types.ModuleType) -> None:
    """Every public name is in __all__, nothing else is, and it is sorted as ruff sorts it."""
    public = {n for n, v in vars(module).items() if not n.startswith("_") and not isinstance(v, types.ModuleType)}
    assert set(module.__all__) == public
    assert list(module.__all__) == sorted(module.__all__, key=ruff_order)
