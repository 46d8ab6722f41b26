"""The root ``sockwise`` click group; each subcommand lives in its own module."""

from __future__ import annotations

import click

import sockwise

__all__ = ["cli"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(sockwise.__version__, prog_name="sockwise")
def cli() -> None:
    """Know, act on and prove socket failures of HTTP through proxies."""


def _register() -> None:
    # Subcommands import their apps lazily inside their bodies, so `sockwise --help` stays fast.
    from sockwise.cli._check import check
    from sockwise.cli._demo import demo
    from sockwise.cli._explain import explain
    from sockwise.cli._lab import lab
    from sockwise.cli._probe import probe

    for command in (check, demo, explain, lab, probe):
        cli.add_command(command)


_register()
