"""Turning an Explanation into something to read: a layout of blocks, and plain text.

:func:`layout` decides what is shown and in which order; :func:`render_text` prints it for
terminals and pipes, and the CLI styles the same blocks with rich when it writes to a TTY.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from sockwise.explain._kb import Alias, Explanation, _language

__all__ = ["Block", "layout", "render_text"]

# Chinese line-breaking rules, kept simple: closing punctuation never starts a line and
# opening punctuation never ends one. Latin words break only at spaces.
_NO_BREAK_BEFORE = frozenset("，。、；：？！）」』】》〉”’,.;:?!)]}%")
_NO_BREAK_AFTER = frozenset("（「『【《〈“‘([{")
_TEXT_INDENT = 2
_ITEM_INDENT = 4


@dataclass(frozen=True, slots=True)
class Block:
    """One piece of a rendered explanation.

    Attributes:
        kind: ``title`` (code and title), ``note`` (how the query was matched), ``heading``
            (a section name), ``text`` (a paragraph) or ``item`` (one entry of a list).
        text: the text, without bullet or indentation; when :func:`layout` was given a
            width, paragraphs and items are already wrapped into lines joined by ``\\n``.
    """

    kind: str
    text: str


def _is_wide(char: str) -> bool:
    return unicodedata.east_asian_width(char) in ("W", "F")


def _cells(text: str) -> int:
    return sum(2 if _is_wide(char) else 1 for char in text)


def _pieces(text: str) -> list[str]:
    """Split text into the pieces a line may not break inside."""
    pieces: list[str] = []
    for char in " ".join(text.split()):
        last = pieces[-1] if pieces else ""
        if char == " ":
            pieces.append(char)
        elif last and last != " " and (char in _NO_BREAK_BEFORE or last[-1] in _NO_BREAK_AFTER):
            pieces[-1] = last + char
        elif last and last != " " and not _is_wide(char) and not _is_wide(last[-1]):
            pieces[-1] = last + char  # a Latin word, a number, a path: one piece
        else:
            pieces.append(char)
    return pieces


def _wrap(text: str, width: int) -> list[str]:
    """Lines of at most ``width`` terminal cells (CJK characters count two)."""
    width = max(width, 8)
    lines: list[str] = []
    line, used = "", 0
    for piece in _pieces(text):
        if piece == " ":
            if line:
                line, used = line + " ", used + 1
            continue
        rest, size = piece, _cells(piece)
        if used + size > width and line.strip():
            lines.append(line.rstrip())
            line, used = "", 0
        while size > width:  # a piece wider than a line (a long URL): cut it
            cut, taken = "", 0
            for char in rest:
                if taken + _cells(char) > width:
                    break
                cut, taken = cut + char, taken + _cells(char)
            while len(cut) > 1 and rest[len(cut)] in _NO_BREAK_BEFORE:
                cut, taken = cut[:-1], taken - _cells(cut[-1])
            lines.append(cut)
            rest, size = rest[len(cut) :], size - taken
        line, used = line + rest, used + size
    if line.strip():
        lines.append(line.rstrip())
    return lines


def _describe(alias: Alias, labels: dict[str, str]) -> str:
    """``WSAECONNRESET (10054) "An existing connection..."``, ``CURLE_GOT_NOTHING (exit code 52)``."""
    parts: list[str] = []
    if alias.name is not None:
        parts.append(alias.name)
    if alias.number is not None:
        if alias.stack == "curl":
            parts.append(f"({labels['exit']} {alias.number})")
        elif alias.name is not None:
            parts.append(f"({alias.number})")
        else:
            parts.append(str(alias.number))
    if alias.message is not None:
        parts.append(f'"{alias.message}"')
    return " ".join(parts)


def layout(explanation: Explanation, *, width: int | None = None) -> tuple[Block, ...]:
    """The blocks an explanation is shown as, in order, with headings in its language.

    Args:
        explanation: what :func:`explain` returned.
        width: when given, wrap paragraphs and list items so that, indented as
            :func:`render_text` indents them, no line is wider than this many terminal
            cells (a Chinese character takes two). None leaves every block on one line.

    Returns:
        The blocks: the title, a note when the query was another stack's name for the
        code, then one heading per
        section (meaning, the wire, causes without and with a proxy, what sockwise does,
        what you can do, related codes, names in other stacks) followed by its text or items.
    """
    language = _language(explanation.lang)
    labels = dict(language.labels)
    stacks = language.stacks
    colon = labels["colon"]
    blocks = [Block("title", f"{explanation.code} — {explanation.title}")]
    matched = explanation.matched
    # The note adds nothing when the other stack uses the very same name (Linux's ECONNRESET).
    if matched is not None and (matched.name or "").upper() != explanation.code.value:
        label = stacks.get(matched.stack, matched.stack)
        described = f"{label} {_describe(matched, labels)}"
        blocks.append(Block("note", labels["matched"].format(alias=described, code=explanation.code)))

    def fit(text: str, indent: int) -> str:
        return text if width is None else "\n".join(_wrap(text, width - indent))

    def section(key: str, body: str | tuple[str, ...]) -> None:
        blocks.append(Block("heading", labels[key]))
        if isinstance(body, str):
            blocks.append(Block("text", fit(body, _TEXT_INDENT)))
        else:
            blocks.extend(Block("item", fit(item, _ITEM_INDENT)) for item in body)

    section("meaning", explanation.meaning)
    section("tcp_story", explanation.tcp_story)
    section("causes_direct", explanation.causes_direct)
    section("causes_proxy", explanation.causes_proxy)
    section("sockwise_does", explanation.sockwise_does)
    section("what_to_do", explanation.what_to_do)
    related = tuple(
        f"{code}{colon}{language.codes[code].title}" if code in language.codes else str(code)
        for code in explanation.related
    )
    section("related", related)
    by_stack: dict[str, list[str]] = {}
    for alias in explanation.aliases:
        by_stack.setdefault(alias.stack, []).append(_describe(alias, labels))
    section(
        "aliases", tuple(f"{stacks.get(stack, stack)}{colon}{'; '.join(names)}" for stack, names in by_stack.items())
    )
    return tuple(blocks)


def render_text(explanation: Explanation, *, width: int | None = None) -> str:
    """The explanation as plain text for a terminal or a pipe (no colour).

    Args:
        explanation: what :func:`explain` returned.
        width: wrap to this many terminal cells; None (the default) keeps each paragraph
            and item on one line, which suits pipes and ``grep``.

    Returns:
        Lines separated by ``\\n``, ending without a newline: the title, then each section
        under its heading, paragraphs indented by two spaces and list items as ``  - item``.
    """
    lines: list[str] = []
    for block in layout(explanation, width=width):
        if block.kind == "title":
            lines.append(block.text)
        elif block.kind == "note":
            lines.append(f"({block.text})")
        elif block.kind == "heading":
            lines.extend(("", block.text))
        elif block.kind == "item":
            first, *rest = block.text.split("\n")
            lines.append(f"  - {first}")
            lines.extend(f"    {line}" for line in rest)
        else:
            lines.extend(f"  {line}" for line in block.text.split("\n"))
    return "\n".join(lines)
