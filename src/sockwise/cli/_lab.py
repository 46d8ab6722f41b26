"""``sockwise lab``: list, serve and farm the fault lab."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

import click

from sockwise.cli._output import echo_json, user_errors

__all__ = ["lab"]


@click.group()
def lab() -> None:
    """The fault lab: every socket failure on loopback, on purpose."""


@lab.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per scenario.")
@click.option("--kind", type=click.Choice(["path", "port", "proxy", "netns"]), help="Only scenarios of one kind.")
def list_(as_json: bool, kind: str | None) -> None:
    """Print every scenario with a one-line description."""
    from sockwise.lab._scenarios import load_all

    items = [s for s in load_all().values() if kind is None or s.kind == kind]
    if as_json:
        echo_json(
            [{"name": s.name, "kind": s.kind, "description": s.description, "observed": s.observed} for s in items]
        )
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("scenario", "kind", "what it does", "what http.client / socket sees on Linux")
    for s in items:
        table.add_row(s.name, s.kind, s.description, s.observed)
    Console(width=200 if not sys.stdout.isatty() else None).print(table)


def _stop_on_interrupt() -> threading.Event:
    # Installed before anything is printed: whoever reads our output and then sends Ctrl-C must
    # find the handler in place, or the signal lands as a KeyboardInterrupt (exit 1).
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


@lab.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=0, type=click.IntRange(0, 65535), help="Port of the plain origin (0 = free).")
@click.option("--proxy", "proxies", multiple=True, metavar="PROFILE", help="Also start a proxy of this profile.")
@click.option("--json", "as_json", is_flag=True, help="Print where each scenario listens as JSON.")
@click.option("--duration", type=float, default=None, hidden=True, help="Stop after this many seconds.")
@user_errors
def serve(host: str, port: int, proxies: tuple[str, ...], as_json: bool, duration: float | None) -> None:
    """Run the lab until Ctrl-C and print where each scenario listens."""
    from sockwise.lab import Lab, scenario_names

    stop = _stop_on_interrupt()
    with Lab(host=host, port=port) as the_lab:
        where: dict[str, str] = {}
        for name in scenario_names("path") + scenario_names("port"):
            try:
                where[name] = the_lab.url(name)
            except Exception:
                continue
        for profile in proxies:
            started = the_lab.add_proxy(profile)
            where[f"proxy:{profile}"] = started.proxy.url
        if as_json:
            echo_json({"ca_file": str(the_lab.ca_file) if the_lab.certs else None, "scenarios": where})
        else:
            for name, url in where.items():
                click.echo(f"{name:24} {url}")
            if the_lab.certs:
                click.echo(f"{'(trust this CA)':24} {the_lab.ca_file}")
            click.echo("serving; Ctrl-C to stop", err=True)
        sys.stdout.flush()
        stop.wait(duration)


@lab.command()
@click.option("--size", default=20, show_default=True, type=click.IntRange(1, 1000), help="How many proxies.")
@click.option(
    "--mix",
    default="healthy=6,refuse=3,blackhole=3,reset-after-connect=3,auth=2,ban:403=3",
    show_default=True,
    help="profile=count,... (counts are scaled to --size).",
)
@click.option("--seed", default=0, show_default=True, type=int, help="Shuffles the profiles reproducibly.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the proxy list here.")
@click.option("--duration", type=float, default=None, hidden=True, help="Stop after this many seconds.")
@user_errors
def farm(size: int, mix: str, seed: int, out: Path | None, duration: float | None) -> None:
    """Start SIZE lab proxies with a mix of profiles and write a proxy list file."""
    from sockwise.lab import Lab
    from sockwise.lab._farm import parse_mix, start_farm

    counts = parse_mix(mix)
    stop = _stop_on_interrupt()
    with Lab() as the_lab:
        started = start_farm(the_lab, size, counts, seed)
        if out is not None:
            started.write_list(out)
            click.echo(f"wrote {size} proxies to {out}", err=True)
        for line in started.lines():
            click.echo(line)
        click.echo(f"origin: {the_lab.url('ok')}", err=True)
        click.echo("serving; Ctrl-C to stop", err=True)
        sys.stdout.flush()
        stop.wait(duration)
