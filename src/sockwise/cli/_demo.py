"""``sockwise demo``: the main job on embedded defaults (for now, a tour of the fault lab)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from sockwise.lab._tour import Sighting

__all__ = ["demo"]


def _verdict(seen: Sighting) -> str:
    if seen.failure is None:
        return seen.detail
    f = seen.failure
    sent = {True: "sent", False: "not sent", None: "sent?"}[f.request_sent]
    return f"{f.code} / {f.phase} / {f.blame} ({sent})"


@click.command()
@click.option("--timeout", default=0.5, show_default=True, type=float, help="Client socket timeout in seconds.")
@click.option("--no-proxies", is_flag=True, help="Skip the forward-proxy profiles.")
def demo(timeout: float, no_proxies: bool) -> None:
    """Start the fault lab, trigger each fault with a plain client and print what it saw."""
    from rich.console import Console
    from rich.table import Table

    from sockwise.lab import Lab
    from sockwise.lab._tour import tour

    console = Console(width=None if sys.stdout.isatty() else 160)
    with Lab() as lab:
        console.print(f"[bold]sockwise lab[/] on {lab.host}: origin :{lab.port('origin')}, every fault on loopback")
        table = Table("scenario", "step", "what http.client saw", "errno", "sockwise says (code / phase / blame)", "s")
        for seen in tour(lab, timeout=timeout, proxies=not no_proxies):
            style = "green" if seen.outcome == "ok" else "red"
            table.add_row(
                seen.scenario,
                seen.step,
                f"[{style}]{seen.outcome}[/]",
                "" if seen.errno is None else str(seen.errno),
                _verdict(seen),
                f"{seen.seconds:.2f}",
            )
        console.print(table)
    console.print("Next: `sockwise lab list` for the catalogue, `sockwise lab serve` to point your own client at it.")
