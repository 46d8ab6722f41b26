"""``sockwise probe URL``: run one request phase by phase and explain the verdict."""

from __future__ import annotations

import ssl
import sys
from pathlib import Path

import click

from sockwise.cli._output import echo_json, user_errors
from sockwise.cli._status import ExitStatus

__all__ = ["probe"]


def _explanation(result_failure: object, lang: str) -> str:
    from sockwise._model import Failure

    if not isinstance(result_failure, Failure):
        return ""
    try:
        from sockwise.explain import explain

        entry = explain(result_failure.code, lang=lang)
    except Exception:  # an explanation is a courtesy; the verdict stands without it
        return result_failure.summary()
    return f"{result_failure.summary()}: {entry.meaning}"


@click.command()
@click.argument("url")
@click.option(
    "--proxy", "proxy_line", metavar="PROXY", help="scheme://[user:pass@]host:port (http, https, socks4/5/5h)."
)
@click.option("--timeout", default=10.0, show_default=True, type=click.FloatRange(min=0.001), help="Per-step timeout.")
@click.option("--cafile", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Trust this CA for TLS.")
@click.option("--lang", type=click.Choice(["en", "zh"]), default=None, help="Language of the explanation.")
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
@user_errors
def probe(
    url: str, proxy_line: str | None, timeout: float, cafile: Path | None, lang: str | None, as_json: bool
) -> None:
    """Run one request to URL step by step and say where and why it failed (exit 1) or that it worked."""
    from sockwise.probe import probe as run_probe

    proxy = None
    if proxy_line:
        from sockwise.pool import parse_proxy

        proxy = parse_proxy(proxy_line)
    if lang is None:
        try:
            from sockwise.explain import default_lang

            lang = default_lang()
        except ImportError:
            lang = "en"
    context = ssl.create_default_context(cafile=str(cafile)) if cafile else None
    result = run_probe(url, proxy=proxy, timeout=timeout, ssl_context=context)
    explanation = _explanation(result.failure, lang)
    if as_json:
        echo_json(result.as_dict(explanation))
    else:
        for phase in result.phases:
            mark = "ok " if phase.ok else "FAIL"
            click.echo(f"  {mark} {phase.name:18} {phase.ms:9.1f} ms")
        if result.ok:
            click.echo(f"ok: {result.status}, {result.body_bytes} bytes")
        else:
            click.echo(f"failed: {explanation or (result.failure.summary() if result.failure else '')}")
    sys.exit(ExitStatus.OK if result.ok else ExitStatus.FAILURE)
