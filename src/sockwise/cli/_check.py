"""``sockwise check PROXIES``: check a proxy list against a target and say what each proxy does."""

from __future__ import annotations

import contextlib
import os
import ssl
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click

from sockwise.cli._output import echo_json, user_errors
from sockwise.cli._status import ExitStatus

if TYPE_CHECKING:
    from rich.console import Console

    from sockwise.check import CheckResult, CheckSummary

__all__ = ["check"]

_SCHEMES = ("http", "https", "socks4", "socks5", "socks5h")
_TABLE_LIMIT = 50  # more proxies than this: the summary only (each proxy's row goes to --out / --json)
_SKIPPED_SHOWN = 20  # bad lines reported one by one under --skip-invalid, then a count


@click.command()
@click.argument("source", metavar="PROXIES")
@click.option(
    "--target",
    metavar="URL",
    envvar="SOCKWISE_CHECK_TARGET",
    help="The URL requested through each proxy. Default: $SOCKWISE_CHECK_TARGET, else "
    "https://www.gstatic.com/generate_204 (tiny, fast, answers 204). An https target makes HTTP proxies "
    "open a CONNECT tunnel; an http one sends them the request itself (absolute-form).",
)
@click.option(
    "--concurrency",
    default=50,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="Proxies checked at the same time.",
)
@click.option(
    "--timeout",
    default=5.0,
    show_default=True,
    type=click.FloatRange(min=0.001, max=300),
    help="Seconds each step (connect, handshake, TLS, headers, ...) may wait; a whole check of one proxy "
    "gets 7 times this. Also bounds fetching PROXIES from a URL.",
)
@click.option(
    "--scheme",
    "default_scheme",
    default="http",
    show_default=True,
    type=click.Choice(_SCHEMES),
    help="The scheme of list lines that name none (host:port, host:port:user:pass).",
)
@click.option(
    "--cafile",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Trust this CA (PEM) for TLS to the target.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write every proxy's result to this file: .csv or .jsonl, by extension.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary and every result as one JSON object.")
@click.option("--skip-invalid", is_flag=True, help="Report bad list lines and check the rest (default: stop).")
@user_errors
def check(
    source: str,
    target: str | None,
    concurrency: int,
    timeout: float,
    default_scheme: str,
    cafile: Path | None,
    out: Path | None,
    as_json: bool,
    skip_invalid: bool,
) -> None:
    """Check every proxy in PROXIES by requesting a target through it, several at a time.

    PROXIES is a file, - for standard input, or an http(s) URL serving the list. Any list format
    works: scheme://user:pass@host:port, host:port, host:port:user:pass, JSON, proxy_pool's /all.

    Each proxy's failure is classified where it was seen: its code (ECONNREFUSED, ETIMEDOUT,
    PROXY_AUTH, ...), the phase and who is to blame. Passwords never appear in any output.

    Exit status: 0 when the check ran and at least one proxy works, 1 when none does, 2 on bad
    input (a missing file, an empty list, a bad line without --skip-invalid, a bad URL).
    """
    from sockwise import ConfigError, ProxyParseError
    from sockwise.check import DEFAULT_TARGET, check_proxies, check_target, output_format, read_proxy_list, shown_url
    from sockwise.pool import parse_proxies

    target = check_target(target or DEFAULT_TARGET)
    if out is not None:  # a bad --out fails now, not after a long check
        output_format(out)
        folder = out.parent if str(out.parent) else Path(".")
        if not folder.is_dir() or not os.access(folder, os.W_OK):
            raise ConfigError(f"cannot write --out {str(out)!r}: {str(folder)!r} is not a writable directory")
    context = None
    if cafile is not None:
        try:
            context = ssl.create_default_context(cafile=str(cafile))
        except (ssl.SSLError, OSError) as exc:
            raise ConfigError(f"--cafile {str(cafile)!r} is not a PEM file of CA certificates ({exc})") from None

    text, name = read_proxy_list(source, timeout=timeout)
    try:
        parsed = parse_proxies(text, default_scheme=default_scheme, skip_invalid=skip_invalid)
    except ProxyParseError as exc:
        raise ConfigError(f"proxy list {name}: {exc}; fix it or pass --skip-invalid to check the rest") from None
    for error in parsed.errors[:_SKIPPED_SHOWN]:
        click.echo(f"sockwise: skipped in {name}: {error}", err=True)
    if len(parsed.errors) > _SKIPPED_SHOWN:
        click.echo(f"sockwise: skipped {len(parsed.errors) - _SKIPPED_SHOWN} more bad lines in {name}", err=True)
    if not parsed.proxies:
        what = "no valid proxy" if parsed.errors else "no proxy"
        raise ConfigError(f"proxy list {name} holds {what}; write one proxy a line, e.g. http://127.0.0.1:8080")

    started = time.monotonic()
    with _progress(len(parsed.proxies)) as on_result:
        results = check_proxies(
            parsed.proxies,
            target=target,
            concurrency=concurrency,
            timeout=timeout,
            ssl_context=context,
            on_result=on_result,
        )
    elapsed = time.monotonic() - started

    from sockwise.check import summarize, write_results

    summary = summarize(results)
    if as_json:
        echo_json(
            {
                "target": shown_url(target),
                "elapsed_s": round(elapsed, 3),
                "summary": summary.as_dict(),
                "skipped_lines": [e.lineno for e in parsed.errors],
                "results": [r.as_dict() for r in results],
            }
        )
    else:
        _render(results, summary, shown_url(target), elapsed)
    if out is not None:  # after the report is out, so a failing write loses nothing already printed
        write_results(out, results)
        click.echo(f"wrote {len(results)} results to {out}", err=True)
    sys.exit(ExitStatus.OK if summary.ok else ExitStatus.FAILURE)


@contextlib.contextmanager
def _progress(total: int) -> Iterator[Callable[[CheckResult], None]]:
    """Progress on stderr: a rich bar on a terminal, else a line per tenth of the list."""
    counts = {"done": 0, "ok": 0}
    if not sys.stderr.isatty():
        step = max(1, total // 10)

        def plain(result: CheckResult) -> None:
            counts["done"] += 1
            counts["ok"] += result.ok
            if counts["done"] % step == 0 or counts["done"] == total:
                click.echo(f"checked {counts['done']}/{total}, {counts['ok']} ok", err=True)

        yield plain
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("checking"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[ok]} ok"))
    with Progress(*columns, TimeElapsedColumn(), console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("check", total=total, ok=0)

        def advance(result: CheckResult) -> None:
            counts["ok"] += result.ok
            bar.update(task, advance=1, ok=counts["ok"])

        yield advance


def _console() -> Console:
    from rich.console import Console

    return Console(file=sys.stdout, width=None if sys.stdout.isatty() else 160)


def _render(results: list[CheckResult], summary: CheckSummary, target: str, elapsed: float) -> None:
    from rich import box
    from rich.table import Table

    console = _console()
    if len(results) <= _TABLE_LIMIT:
        protocols = sorted({r.protocol for r in results})
        table = Table(title=f"proxies ({', '.join(protocols)})", box=box.SIMPLE_HEAD)
        table.add_column("proxy", no_wrap=True)  # the one column that must stay whole on a narrow terminal
        columns = ("protocol", "outcome", "code", "phase", "blame", "ms") if len(protocols) > 1 else None
        for name in columns or ("outcome", "code", "phase", "blame", "ms"):
            table.add_column(name, overflow="fold", justify="right" if name == "ms" else "left")
        for r in results:
            code = "" if r.code is None else str(r.code) + ("" if r.status is None else f" {r.status}")
            if r.code is None and r.status is not None:
                code = str(r.status)
            cells = [
                str(r.outcome),
                code,
                "" if r.phase is None else str(r.phase),
                "" if r.blame is None else str(r.blame),
                f"{r.latency_ms:.0f}",
            ]
            table.add_row(r.proxy.redacted, *([r.protocol] if columns else []), *cells)
        console.print(table)
    outcomes = Table("outcome", "proxies", title="by outcome")
    for outcome, count in summary.by_outcome:
        outcomes.add_row(str(outcome), str(count))
    console.print(outcomes)
    if summary.by_failure:
        failures = Table("code", "blame", "proxies", title="failures by code")
        for code, blame, count in summary.by_failure:
            failures.add_row(str(code), str(blame), str(count))
        console.print(failures)
    median = "" if summary.median_ok_ms is None else f", median {summary.median_ok_ms:.0f} ms"
    click.echo(f"checked {summary.total} proxies against {target} in {elapsed:.2f} s: {summary.ok} ok{median}")
