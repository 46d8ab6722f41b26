"""The ``sockwise`` command: a thin client of the public API (needs the ``cli`` extra)."""

from __future__ import annotations

import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    """Run the ``sockwise`` command and exit with its status."""
    try:
        from sockwise.cli._main import cli
    except ImportError as exc:  # click or rich missing
        print(
            f"sockwise: the command line needs the 'cli' extra ({exc}); run: pip install 'sockwise[cli]'",
            file=sys.stderr,
        )
        raise SystemExit(2) from None
    cli.main(args=argv, prog_name="sockwise")
