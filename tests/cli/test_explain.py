"""`sockwise explain` from the command line: output, languages, JSON, exit codes, bad input."""

from __future__ import annotations

import io
import json
import re

import pytest
from click.testing import CliRunner

from sockwise.cli._explain import explain, print_rich
from sockwise.cli._status import ExitStatus
from sockwise.explain import explain as explain_query

_CJK = re.compile(r"[\u4e00-\u9fff]")
_NEUTRAL_LOCALE = {"LC_ALL": "", "LC_MESSAGES": "", "LANG": "C.UTF-8"}


def _run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(explain, list(args), env={**_NEUTRAL_LOCALE, **(env or {})})
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    "args", [["ECONNRESET"], ["104"], ["Connection reset by peer"], ["Connection", "reset", "by", "peer"]]
)
def test_explains_a_code_a_number_and_a_message(args: list[str]) -> None:
    """A code, an errno and a message (quoted or as several words) all print the ECONNRESET entry, exit 0."""
    code, out, err = _run(*args)
    assert code == ExitStatus.OK
    assert err == ""
    assert out.splitlines()[0] == "ECONNRESET — Connection reset by peer"
    assert "What happens on the wire" in out


def test_negative_numbers_go_after_a_double_dash() -> None:
    """Node's negated errno works when given after '--'."""
    code, out, _ = _run("--", "-104")
    assert code == ExitStatus.OK
    assert out.startswith("ECONNRESET — ")


def test_curl_exit_code_shows_what_sockwise_calls_it() -> None:
    """'curl 52' prints UNEXPECTED_EOF with a note naming curl's code."""
    code, out, _ = _run("curl", "52")
    assert code == ExitStatus.OK
    lines = out.splitlines()
    assert lines[0] == "UNEXPECTED_EOF — Connection closed before a complete response"
    assert (
        lines[1]
        == '(curl CURLE_GOT_NOTHING (exit code 52) "Empty reply from server" is what sockwise calls UNEXPECTED_EOF.)'
    )


def test_unknown_code_prints_one_line_with_suggestions_and_exits_2() -> None:
    """A typo gives exactly one line on stderr with the closest codes, nothing on stdout, exit 2."""
    code, out, err = _run("ECONNRSET")
    assert code == ExitStatus.BAD_INPUT == 2
    assert out == ""
    assert err == "unknown code 'ECONNRSET'; did you mean: ECONNRESET, ECONNREFUSED?\n"


def test_ambiguous_query_exits_2_and_lists_the_candidates() -> None:
    """A word in two codes' names is refused with both offered."""
    code, out, err = _run("refused")
    assert code == ExitStatus.BAD_INPUT
    assert out == ""
    assert err == "'refused' matches several codes; did you mean: ECONNREFUSED, PROXY_REFUSED?\n"


def test_missing_query_is_a_usage_error() -> None:
    """No query at all is a usage error, exit 2."""
    code, out, err = _run()
    assert code == 2
    assert out == ""
    assert "Missing argument 'QUERY...'" in err


def test_bad_language_is_a_usage_error() -> None:
    """--lang accepts only en and zh."""
    code, _, err = _run("--lang", "fr", "EPIPE")
    assert code == 2
    assert "'fr' is not one of 'en', 'zh'" in err


def test_lang_zh_prints_chinese() -> None:
    """--lang zh prints the Chinese entry."""
    code, out, _ = _run("--lang", "zh", "EPIPE")
    assert code == ExitStatus.OK
    assert out.splitlines()[0] == "EPIPE — 管道破裂"
    assert "TCP 层面发生了什么" in out


@pytest.mark.parametrize(
    ("env", "args", "chinese"),
    [
        ({"LANG": "zh_CN.UTF-8"}, ["EPIPE"], True),
        ({"LC_ALL": "zh_TW.UTF-8", "LANG": "en_US.UTF-8"}, ["EPIPE"], True),
        ({"LC_ALL": "en_US.UTF-8", "LANG": "zh_CN.UTF-8"}, ["EPIPE"], False),
        ({"LANG": "zh_CN.UTF-8"}, ["--lang", "en", "EPIPE"], False),
        ({"LANG": "en_US.UTF-8"}, ["--lang", "ZH", "EPIPE"], True),
    ],
)
def test_language_defaults_to_the_locale_and_lang_overrides_it(
    env: dict[str, str], args: list[str], chinese: bool
) -> None:
    """Without --lang the locale decides (LC_ALL first); --lang always wins."""
    code, out, _ = _run(*args, env=env)
    assert code == ExitStatus.OK
    assert bool(_CJK.search(out.splitlines()[0])) is chinese


def test_json_output_has_the_documented_shape() -> None:
    """--json prints one JSON object with exactly the entry's keys and the matched alias."""
    code, out, err = _run("--json", "socket hang up")
    assert code == ExitStatus.OK
    assert err == ""
    data = json.loads(out)
    assert set(data) == {
        "code",
        "lang",
        "title",
        "meaning",
        "tcp_story",
        "causes_direct",
        "causes_proxy",
        "sockwise_does",
        "what_to_do",
        "related",
        "aliases",
        "matched",
    }
    assert data["code"] == "UNEXPECTED_EOF"
    assert data["lang"] == "en"
    assert data["matched"] == {"stack": "node", "name": "ECONNRESET", "number": None, "message": "socket hang up"}
    assert all(set(alias) == {"stack", "name", "number", "message"} for alias in data["aliases"])
    assert all(isinstance(item, str) and item for item in data["causes_proxy"])


def test_json_in_chinese_is_utf8_not_escaped() -> None:
    """--json --lang zh writes Chinese characters as they are, not as \\u escapes."""
    code, out, _ = _run("--json", "--lang", "zh", "EPIPE")
    assert code == ExitStatus.OK
    assert json.loads(out)["title"] == "管道破裂"
    assert "管道破裂" in out
    assert "\\u" not in out


def test_json_with_unknown_code_still_exits_2_without_stdout() -> None:
    """--json does not change the bad-input contract: stderr line, empty stdout, exit 2."""
    code, out, err = _run("--json", "ECONNRSET")
    assert code == ExitStatus.BAD_INPUT
    assert out == ""
    assert err.count("\n") == 1


def test_output_to_a_pipe_is_plain_text() -> None:
    """When stdout is not a terminal (as under CliRunner) the output is plain: no ANSI escapes."""
    _, out, _ = _run("ETIMEDOUT")
    assert "\x1b[" not in out


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_rich_output_keeps_brackets_and_fits_the_terminal(lang: str) -> None:
    """The TTY renderer prints bracketed text literally (no markup) and wraps to the console width."""
    buffer = io.StringIO()
    from rich.console import Console

    console = Console(file=buffer, force_terminal=True, width=60, color_system=None)
    print_rich(explain_query("[Errno 104] Connection reset by peer", lang=lang), console)
    text = buffer.getvalue()
    assert text.splitlines()[0].startswith("ECONNRESET — ")
    assert "ECONNRESET (104)" in text
    assert "•" in text
    from rich.cells import cell_len

    assert max(cell_len(line) for line in text.splitlines()) <= 60
