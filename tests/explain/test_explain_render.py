"""Rendering an explanation: the layout, plain text, and CJK-aware wrapping."""

from __future__ import annotations

import unicodedata

import pytest

from sockwise import ErrorCode
from sockwise.explain import Block, explain, layout, render_text


def _cells(line: str) -> int:
    return sum(2 if unicodedata.east_asian_width(char) in ("W", "F") else 1 for char in line)


def test_layout_orders_the_sections() -> None:
    """The layout is the title, then eight sections in a fixed order, each heading followed by its content."""
    blocks = layout(explain("EPIPE"))
    assert blocks[0] == Block("title", "EPIPE — Broken pipe")
    headings = [block.text for block in blocks if block.kind == "heading"]
    assert headings == [
        "Meaning",
        "What happens on the wire",
        "Typical causes without a proxy",
        "Typical causes through a proxy",
        "What sockwise does",
        "What you can do",
        "Related codes",
        "Names in other stacks",
    ]


def test_plain_text_contains_every_part_of_the_entry() -> None:
    """render_text shows the title, every paragraph and every list item of the entry."""
    entry = explain("ECONNREFUSED")
    text = render_text(entry)
    assert text.splitlines()[0] == "ECONNREFUSED — Connection refused"
    for paragraph in (entry.meaning, entry.tcp_story, entry.sockwise_does):
        assert f"  {paragraph}" in text.splitlines()
    for item in (*entry.causes_direct, *entry.causes_proxy, *entry.what_to_do):
        assert f"  - {item}" in text.splitlines()
    assert "  - ECONNREFUSED" not in text  # related lists the others, not itself
    assert "  - ETIMEDOUT: Connection timed out" in text.splitlines()
    assert "\x1b[" not in text


def test_aliases_are_grouped_by_stack_with_numbers() -> None:
    """The alias section has one line per stack with names, numbers and messages."""
    lines = render_text(explain("ECONNRESET")).splitlines()
    assert '  - Linux errno: ECONNRESET (104) "Connection reset by peer"' in lines
    assert (
        '  - Windows (Winsock): WSAECONNRESET (10054) "An existing connection was forcibly closed by the remote host"'
        in lines
    )
    assert (
        '  - curl: CURLE_RECV_ERROR (exit code 56) "Recv failure"; "Failure when receiving data from the peer"' in lines
    )


def test_a_note_says_which_alias_the_query_was() -> None:
    """Asking by another stack's name shows what sockwise calls it; asking by the code's own name does not."""
    text = render_text(explain("socket hang up"))
    assert text.splitlines()[1] == '(Node.js ECONNRESET "socket hang up" is what sockwise calls UNEXPECTED_EOF.)'
    assert "what sockwise calls" not in render_text(explain("UNEXPECTED_EOF"))
    assert "what sockwise calls" not in render_text(explain(104))  # Linux uses the same name


def test_chinese_rendering_uses_chinese_headings_and_punctuation() -> None:
    """The zh text has Chinese headings, Chinese stack labels and full-width colons."""
    text = render_text(explain("curl 52", lang="zh"))
    lines = text.splitlines()
    assert lines[0] == "UNEXPECTED_EOF — 响应还没收完连接就关了"
    assert (
        lines[1] == '(curl CURLE_GOT_NOTHING (退出码 52) "Empty reply from server" 在 sockwise 里对应 UNEXPECTED_EOF。)'
    )
    for heading in (
        "含义",
        "TCP 层面发生了什么",
        "常见原因（直连）",
        "常见原因（走代理）",
        "sockwise 怎么处理",
        "你可以怎么做",
    ):
        assert heading in lines
    assert "  - ECONNRESET：连接被对端重置" in lines


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("width", [40, 72, 100])
@pytest.mark.parametrize("code", [ErrorCode.ETIMEDOUT, ErrorCode.UNEXPECTED_EOF, ErrorCode.EADDRNOTAVAIL])
def test_wrapped_text_fits_the_width_and_loses_nothing(code: ErrorCode, lang: str, width: int) -> None:
    """With a width, no paragraph or item line is wider (CJK counts two cells); nothing is lost or added."""
    entry = explain(code, lang=lang)
    wrapped = render_text(entry, width=width)
    content = [line for line in wrapped.splitlines() if line.startswith("  ")]
    assert len(content) > len(entry.causes_direct) + len(entry.causes_proxy)
    for line in content:
        assert _cells(line) <= width, line
    # Joining the wrapped lines back gives the same characters, spaces aside.
    assert "".join(render_text(entry).split()) == "".join(wrapped.split())


def test_wrapping_never_starts_a_line_with_closing_punctuation() -> None:
    """Chinese closing punctuation stays on the line of the character before it."""
    for code in ErrorCode:
        for line in render_text(explain(code, lang="zh"), width=30).splitlines():
            stripped = line.lstrip(" -")
            assert not stripped.startswith(tuple("，。、；：？！）”")), line


def test_wrapping_keeps_latin_words_whole() -> None:
    """English is broken at spaces only: every wrapped word is a word of the original."""
    entry = explain("EPROTO")
    words = set(render_text(entry).split())
    assert set(render_text(entry, width=50).split()) <= words
