"""How every subcommand reports: one line for a user's mistake, JSON or a table otherwise."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any, NoReturn, ParamSpec, TypeVar

import click

from sockwise._exceptions import ConfigError, StoreUnavailable
from sockwise.cli._status import ExitStatus

__all__ = ["bad_input", "echo_json", "user_errors"]

P = ParamSpec("P")
R = TypeVar("R")


def bad_input(message: str) -> NoReturn:
    """Print one line naming the input and the fix to stderr and exit 2."""
    click.echo(f"sockwise: {message}", err=True)
    sys.exit(ExitStatus.BAD_INPUT)


def user_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn the user's mistakes (ConfigError, an unreachable store) into one line and exit 2, no traceback."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except (ConfigError, StoreUnavailable) as exc:
            bad_input(str(exc))

    return wrapper


def echo_json(data: Any) -> None:
    """Print ``data`` as JSON on one line."""
    click.echo(json.dumps(data, ensure_ascii=False, default=str))
