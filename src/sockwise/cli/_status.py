"""Exit statuses of the ``sockwise`` command."""

from __future__ import annotations

import enum

__all__ = ["ExitStatus"]


class ExitStatus(enum.IntEnum):
    """What the process exit code means, for every subcommand."""

    OK = 0
    FAILURE = 1  # the thing checked failed (a probe's request, a proxy check ...)
    BAD_INPUT = 2  # the user's input was wrong: one line on stderr says which and how to fix it
