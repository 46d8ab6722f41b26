"""Credential redaction for anything sockwise prints."""

from __future__ import annotations

import pytest

from sockwise._classify import classify, redact_credentials


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("http://user:secret@proxy:8080/x", "http://***@proxy:8080/x"),
        ("socks5h://u:p@ss@10.0.0.1:1080", "socks5h://***@10.0.0.1:1080"),
        ("http://token@proxy:3128", "http://***@proxy:3128"),
        ("url='http://u:secret@127.0.0.1:39365'", "url='http://***@127.0.0.1:39365'"),
        ("line 3: user:secret@10.0.0.1:3128 is bad", "line 3: ***@10.0.0.1:3128 is bad"),
        ("Proxy-Authorization: Basic dXNlcjpzZWNyZXQ=", "Proxy-Authorization: Basic ***"),
        ("{'Proxy-Authorization': 'Basic dXNlcjpz'}", "{'Proxy-Authorization': 'Basic ***'}"),
        ("authorization=abc123", "authorization=***"),
    ],
)
def test_credentials_are_masked(text: str, expected: str) -> None:
    """Userinfo in URLs, bare user:password@host and Authorization values become ***."""
    assert redact_credentials(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "HTTPSConnectionPool(host='127.0.0.1', port=443): Max retries exceeded with url: /a?b=c",
        "[Errno 111] Connection refused",
        "mail admin@example.com",
        "http://[::1]:8080/path@v2",
        "",
    ],
)
def test_text_without_credentials_is_unchanged(text: str) -> None:
    """Messages without credentials pass through untouched."""
    assert redact_credentials(text) == text


def test_detail_is_redacted_and_one_line() -> None:
    """classify's detail never shows a proxy password, and is a single line."""
    exc = OSError("Tunnel connection failed: 407 Proxy Authentication Required\nvia http://me:hunter2@proxy:8080")
    detail = classify(exc).detail
    assert "hunter2" not in detail
    assert "\n" not in detail
    assert detail == ("OSError: Tunnel connection failed: 407 Proxy Authentication Required via http://***@proxy:8080")


def test_detail_is_bounded() -> None:
    """A huge message is cut to one short line."""
    assert len(classify(OSError("x" * 10_000)).detail) == 300
