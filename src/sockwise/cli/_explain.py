"""``sockwise explain QUERY``: what an error code, errno, curl exit code or message means."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import click

from sockwise.cli._status import ExitStatus
from sockwise.explain import Explanation, UnknownQuery, default_lang, layout, render_text
from sockwise.explain import explain as explain_query

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["explain"]


@click.command("explain")
@click.argument("query", nargs=-1, required=True)
@click.option(
    "--lang",
    type=click.Choice(["en", "zh"], case_sensitive=False),
    default=None,
    help="Language of the explanation (default: from LC_ALL / LC_MESSAGES / LANG).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the entry as JSON.")
@click.pass_context
def explain(ctx: click.Context, query: tuple[str, ...], lang: str | None, as_json: bool) -> None:
    """Explain a socket failure: what it means on the wire, its causes, what to do.

    QUERY is a code (ECONNRESET), an errno or Winsock number (104, 10054), a curl exit code
    ("curl 52"), another stack's name (WSAECONNRESET, RemoteDisconnected) or a message,
    even a whole pasted error line ("Connection reset by peer", "socket hang up").

    \b
    Examples:
      sockwise explain ECONNRESET
      sockwise explain 104 --lang zh
      sockwise explain "curl: (52) Empty reply from server"
      sockwise explain --json socket hang up
      sockwise explain -- -104          (Node's negated errno: put it after --)
    """
    text = " ".join(query)
    try:
        explanation = explain_query(text, lang=(lang or default_lang()).lower())
    except UnknownQuery as exc:
        click.echo(str(exc), err=True)
        ctx.exit(int(ExitStatus.BAD_INPUT))
    if as_json:
        click.echo(json.dumps(explanation.as_dict(), ensure_ascii=False, indent=2))
    elif sys.stdout.isatty():
        from rich.console import Console

        print_rich(explanation, Console(file=sys.stdout))
    else:
        click.echo(render_text(explanation))


def print_rich(explanation: Explanation, console: Console) -> None:
    """Print an explanation with rich styling (for a terminal).

    Text is passed as ``rich.text.Text`` objects, never as markup, so brackets in messages
    such as ``[Errno 104]`` or ``[SSL: WRONG_VERSION_NUMBER]`` print as they are.

    Args:
        explanation: what ``sockwise.explain.explain`` returned.
        console: where to print.
    """
    from rich.text import Text

    for block in layout(explanation, width=console.width):
        if block.kind == "title":
            console.print(Text(block.text, style="bold cyan"))
        elif block.kind == "note":
            console.print(Text(block.text, style="italic dim"))
        elif block.kind == "heading":
            console.print()
            console.print(Text(block.text, style="bold"))
        else:
            # layout() wrapped the text for this width (CJK-aware); rich must not wrap again.
            lines = block.text.split("\n")
            for number, line in enumerate(lines):
                out = Text("  ")
                if block.kind == "item":
                    out.append("• " if number == 0 else "  ", style="cyan")
                out.append(line)
                console.print(out, soft_wrap=True)
