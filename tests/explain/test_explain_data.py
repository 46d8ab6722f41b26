"""The knowledge-base data: complete for every code in both languages, and its numbers right."""

from __future__ import annotations

import errno
import json
import os
import re
import socket
import sys
from importlib.resources import files

import pytest

from sockwise import ErrorCode
from sockwise.explain import Alias, explain

_CJK = re.compile(r"[\u4e00-\u9fff]")
_TEXT_FIELDS = ("title", "meaning", "tcp_story", "sockwise_does")
_LIST_FIELDS = ("causes_direct", "causes_proxy", "what_to_do")
_KB = files("sockwise.explain").joinpath("kb")


def _document(name: str) -> dict[str, object]:
    loaded = json.loads(_KB.joinpath(name).read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _aliases(code: ErrorCode) -> list[Alias]:
    # Both languages together: every alias, including those shown only in Chinese output.
    return list(dict.fromkeys([*explain(code, lang="en").aliases, *explain(code, lang="zh").aliases]))


@pytest.mark.parametrize("name", ["codes.json", "en.json", "zh.json"])
def test_data_files_cover_exactly_the_error_codes(name: str) -> None:
    """Each data file has an entry for every ErrorCode member and for nothing else."""
    codes = _document(name)["codes"]
    assert isinstance(codes, dict)
    assert set(codes) == {code.value for code in ErrorCode}


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("code", list(ErrorCode))
def test_every_code_has_a_complete_entry(code: ErrorCode, lang: str) -> None:
    """Every field of every entry is filled: no empty text, no empty list, no empty item."""
    entry = explain(code, lang=lang)
    assert entry.code is code
    assert entry.lang == lang
    for field in _TEXT_FIELDS:
        value = getattr(entry, field)
        assert isinstance(value, str)
        assert value.strip(), field
    for field in _LIST_FIELDS:
        items = getattr(entry, field)
        assert items, field
        assert all(item.strip() for item in items), field
    assert entry.related
    assert entry.aliases


@pytest.mark.parametrize("code", list(ErrorCode))
def test_chinese_entries_are_written_in_chinese(code: ErrorCode) -> None:
    """Every text and list item of a zh entry contains Chinese characters; no en entry does."""
    zh = explain(code, lang="zh")
    en = explain(code, lang="en")
    for field in _TEXT_FIELDS:
        assert _CJK.search(getattr(zh, field)), field
        assert not _CJK.search(getattr(en, field)), field
    for field in _LIST_FIELDS:
        assert all(_CJK.search(item) for item in getattr(zh, field)), field
        assert not any(_CJK.search(item) for item in getattr(en, field)), field


@pytest.mark.parametrize("code", list(ErrorCode))
def test_both_languages_have_the_same_shape(code: ErrorCode) -> None:
    """A translation is not missing items: the zh entry has as many causes and tips as the en one."""
    zh = explain(code, lang="zh")
    en = explain(code, lang="en")
    for field in _LIST_FIELDS:
        assert len(getattr(zh, field)) == len(getattr(en, field)), field


@pytest.mark.parametrize("code", list(ErrorCode))
def test_related_codes_are_other_codes(code: ErrorCode) -> None:
    """Related codes are ErrorCode members, never the code itself, never repeated."""
    related = explain(code).related
    assert all(isinstance(other, ErrorCode) for other in related)
    assert code not in related
    assert len(set(related)) == len(related)


def test_errno_named_codes_resolve_from_the_stdlib_numbers() -> None:
    """Every code named after an errno resolves from this platform's errno number, as int and as text."""
    errno_codes = [code for code in ErrorCode if hasattr(errno, code.value)]
    assert len(errno_codes) == 10
    for code in errno_codes:
        number = getattr(errno, code.value)
        assert explain(number).code is code
        assert explain(str(number)).code is code


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux errno numbers and messages")
def test_linux_aliases_match_the_stdlib_errno_table() -> None:
    """Every Linux errno alias has the number and strerror() message the C library gives that name."""
    checked = 0
    for code in ErrorCode:
        for alias in _aliases(code):
            if alias.stack != "linux" or alias.number is None or alias.number < 0:
                continue
            assert alias.name is not None
            assert errno.errorcode[alias.number] == alias.name
            assert os.strerror(alias.number) == alias.message
            checked += 1
    assert checked == 14


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc getaddrinfo codes")
def test_resolver_aliases_match_the_socket_module() -> None:
    """The negative getaddrinfo codes in the data are the socket module's EAI_* constants."""
    checked = 0
    for code in (ErrorCode.EAI_NONAME, ErrorCode.EAI_AGAIN):
        for alias in _aliases(code):
            if alias.stack == "linux" and alias.number is not None:
                assert alias.name is not None
                assert getattr(socket, alias.name) == alias.number
                assert explain(alias.number).code is code
                checked += 1
    assert checked == 3


def test_winsock_numbers_are_ten_thousand_plus_the_bsd_errno() -> None:
    """Each WSAE* number is 10000 plus the BSD errno of the same name (listed under macOS)."""
    checked = 0
    for code in ErrorCode:
        aliases = _aliases(code)
        bsd = {alias.name: alias.number for alias in aliases if alias.stack == "macos" and alias.number is not None}
        for alias in aliases:
            if alias.stack == "windows" and alias.name is not None and alias.name.startswith("WSAE"):
                assert alias.number is not None
                assert alias.number == 10000 + bsd[alias.name[3:]], alias.name
                if hasattr(errno, alias.name):  # only on Windows
                    assert getattr(errno, alias.name) == alias.number
                checked += 1
    assert checked == 11


@pytest.mark.parametrize("code", list(ErrorCode))
def test_every_alias_resolves_to_its_own_code(code: ErrorCode) -> None:
    """Each alias's name, number (with its stack) and message leads back to the entry it is listed under."""
    stack_word = {"linux": "errno", "macos": "macos", "windows": "winerror", "curl": "curl", "http": "http"}
    for alias in _aliases(code):
        if alias.name is not None and alias.name not in ErrorCode.__members__:
            assert explain(alias.name).code is code, alias
        if alias.number is not None:
            assert explain(f"{stack_word[alias.stack]} {alias.number}").code is code, alias
        if alias.message is not None:
            assert explain(alias.message.replace("*", "5000")).code is code, alias


def test_a_code_name_used_by_another_stack_keeps_meaning_its_own_code() -> None:
    """axios calls its timeout ECONNABORTED, but the name ECONNABORTED still means ECONNABORTED."""
    timeout = explain("ETIMEDOUT").aliases
    assert Alias("axios", "ECONNABORTED", None, "timeout of *ms exceeded") in timeout
    assert explain("ECONNABORTED").code is ErrorCode.ECONNABORTED
    assert explain("timeout of 30000ms exceeded").code is ErrorCode.ETIMEDOUT


def test_chinese_windows_messages_show_only_in_chinese() -> None:
    """A Windows message in Chinese is listed in the zh entry, not the en one, and finds its code either way."""
    message = "远程主机强迫关闭了一个现有的连接。"
    assert message in [alias.message for alias in explain("ECONNRESET", lang="zh").aliases]
    assert message not in [alias.message for alias in explain("ECONNRESET", lang="en").aliases]
    assert explain(f"[WinError 10054] {message}", lang="en").code is ErrorCode.ECONNRESET


def test_sockwise_does_matches_the_retry_defaults() -> None:
    """What each entry says sockwise does agrees with the retry policy's default code sets."""
    from sockwise.retry import DEFAULT_RETRY_CODES, DEFAULT_RETRY_STATUSES, DEFAULT_SWITCH_CODES, NEVER_RETRIED

    for code in ErrorCode:
        en = explain(code, lang="en").sockwise_does
        zh = explain(code, lang="zh").sockwise_does
        if code is ErrorCode.HTTP_STATUS:
            for status in DEFAULT_RETRY_STATUSES:
                assert str(status) in en
                assert str(status) in zh
        elif code in DEFAULT_SWITCH_CODES:
            assert "another proxy" in en, code
            assert "另一个代理" in zh, code
            assert "single proxy" in en, code
            assert "只有一个代理" in zh, code
        elif code in NEVER_RETRIED:
            assert en.startswith("Never retried"), code
            assert zh.startswith("永不重试"), code
        elif code in DEFAULT_RETRY_CODES:
            assert "retried" in en, code
            assert "Not retried" not in en, code
            assert "默认不重试" not in zh, code
        else:
            assert "Not retried by default" in en, code
            assert "默认不重试" in zh, code
