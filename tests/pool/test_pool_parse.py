"""Proxy list parsing: every format, every error with its line number, no password ever shown."""

from __future__ import annotations

import json

import pytest

from sockwise import ConfigError, Proxy, ProxyParseError
from sockwise.pool import ParseResult, parse_proxies, parse_proxy

SECRET = "s3cr3t-Pw"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10.0.0.1:8080", Proxy("http", "10.0.0.1", 8080)),
        ("proxy.example.com:3128", Proxy("http", "proxy.example.com", 3128)),
        ("socks5://10.0.0.1:1080", Proxy("socks5", "10.0.0.1", 1080)),
        ("SOCKS5H://Proxy.Example.com:1080", Proxy("socks5h", "proxy.example.com", 1080)),
        ("socks4://10.0.0.1:1080", Proxy("socks4", "10.0.0.1", 1080)),
        ("https://u:p@10.0.0.1:443", Proxy("https", "10.0.0.1", 443, "u", "p")),
        ("http://u:p@10.0.0.1:8080/", Proxy("http", "10.0.0.1", 8080, "u", "p")),
        ("http://user@10.0.0.1:8080", Proxy("http", "10.0.0.1", 8080, "user", None)),
        ("http://u:p%40ss%3Aw@10.0.0.1:8080", Proxy("http", "10.0.0.1", 8080, "u", "p@ss:w")),
        ("http://u:p@ss@10.0.0.1:8080", Proxy("http", "10.0.0.1", 8080, "u", "p@ss")),
        ("u:p@10.0.0.1:8080", Proxy("http", "10.0.0.1", 8080, "u", "p")),
        ("10.0.0.1:8080:user:pass", Proxy("http", "10.0.0.1", 8080, "user", "pass")),
        ("10.0.0.1:8080:user:pa:ss", Proxy("http", "10.0.0.1", 8080, "user", "pa:ss")),
        ("10.0.0.1:8080:user:p%41", Proxy("http", "10.0.0.1", 8080, "user", "p%41")),
        ("user:pass:10.0.0.1:8080", Proxy("http", "10.0.0.1", 8080, "user", "pass")),
        ("[::1]:8080", Proxy("http", "::1", 8080)),
        ("[2001:DB8::1]:3128", Proxy("http", "2001:db8::1", 3128)),
        ("socks5://u:p@[::1]:1080", Proxy("socks5", "::1", 1080, "u", "p")),
        ("[::1]:8080:user:pass", Proxy("http", "::1", 8080, "user", "pass")),
        ("u:p@[::1]:8080", Proxy("http", "::1", 8080, "u", "p")),
    ],
)
def test_parse_proxy_formats(text: str, expected: Proxy) -> None:
    """Each accepted line format gives exactly this proxy (scheme, host, port, login, password)."""
    assert parse_proxy(text) == expected


def test_default_scheme_applies_to_bare_entries_only() -> None:
    """default_scheme fills in entries without a scheme and leaves explicit schemes alone."""
    result = parse_proxies("10.0.0.1:1080\nhttp://10.0.0.2:8080\n", default_scheme="socks5")
    assert [p.scheme for p in result.proxies] == ["socks5", "http"]


def test_unknown_default_scheme_is_a_config_error() -> None:
    """A default scheme that is no proxy scheme is refused with the list of good ones."""
    with pytest.raises(ConfigError, match="use one of http, https, socks4, socks5, socks5h"):
        parse_proxies("10.0.0.1:80", default_scheme="ftp")


def test_comments_blank_lines_and_order() -> None:
    """Comments (whole-line and after whitespace) and blank lines are skipped; order is kept."""
    text = "# my proxies\n\n  10.0.0.2:80   # fast one\n10.0.0.1:80\n\t\n10.0.0.3:80:u:pa#ss\n"
    result = parse_proxies(text)
    assert [p.host for p in result.proxies] == ["10.0.0.2", "10.0.0.1", "10.0.0.3"]
    assert result.proxies[2].password == "pa#ss"
    assert result.errors == ()


def test_crlf_and_bom() -> None:
    """Windows line ends and a UTF-8 byte-order mark do not break parsing."""
    result = parse_proxies("\ufeff10.0.0.1:80\r\n10.0.0.2:81\r\n")
    assert [(p.host, p.port) for p in result.proxies] == [("10.0.0.1", 80), ("10.0.0.2", 81)]


def test_duplicates_dropped_by_key_first_kept() -> None:
    """A repeated proxy is dropped (first kept, counted); another login on the same host:port is kept."""
    text = "10.0.0.1:80\nhttp://10.0.0.1:80\n10.0.0.1:80:a:1\n10.0.0.1:80:b:1\n10.0.0.1:80:a:1\n"
    result = parse_proxies(text)
    assert [(p.username, p.password) for p in result.proxies] == [(None, None), ("a", "1"), ("b", "1")]
    assert result.duplicates == 2


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("10.0.0.1", "the port is missing"),
        ("10.0.0.1:", "the port is missing"),
        ("10.0.0.1:http", "the port is not a number"),
        ("10.0.0.1:0", "the port is out of range 1-65535"),
        ("10.0.0.1:65536", "the port is out of range 1-65535"),
        ("300.0.0.1:80", "the IPv4 address is not valid"),
        ("bad_host!:80", "the host is not a valid host name or IP address"),
        (":80", "the host is empty"),
        ("ftp://10.0.0.1:21", "scheme 'ftp' is not supported"),
        ("http://10.0.0.1:80/path", "a proxy URL has no path or query"),
        ("::1:8080", "an IPv6 address needs brackets"),
        ("2001:db8::1", "an IPv6 address needs brackets"),
        ("[::1:8080", "is not closed with ']'"),
        ("[::1]", "the port is missing after the IPv6 address"),
        ("[::zz]:80", "the IPv6 address is not valid"),
        ("10.0.0.1 8080", "the entry holds whitespace"),
        ("10.0.0.1:80:user", "unexpected number of ':'-separated fields"),
        (":pass@10.0.0.1:80", "the username before '@' is empty"),
    ],
)
def test_bad_lines_name_line_number_and_reason(line: str, why: str) -> None:
    """A bad line raises ProxyParseError with its 1-based line number and the reason."""
    text = "# header\n10.0.0.9:80\n" + line + "\n"
    with pytest.raises(ProxyParseError) as info:
        parse_proxies(text)
    assert info.value.lineno == 3
    assert str(info.value).startswith("line 3: ")
    assert why in str(info.value)
    assert isinstance(info.value, ConfigError)


@pytest.mark.parametrize(
    "line",
    [
        f"http://user:{SECRET}@10.0.0.1",  # no port
        f"http://user:{SECRET}@10.0.0.1:99999",
        f"http://user:{SECRET}@10.0.0.1:80/x",
        f"ftp://user:{SECRET}@10.0.0.1:80",
        f"user:{SECRET}@300.1.1.1:80",
        f"10.0.0.1:80:user:{SECRET} extra",
        f"10.0.0.1:x:user:{SECRET}",
        f"user:{SECRET}",  # forgot the host: the password sits where a port should be
        f"user:{SECRET}:10.0.0.1",
        f"[::1]:x:user:{SECRET}",
        f"[::1:80:user:{SECRET}",
        "user:12345678",  # an all-digit password in the port's place
    ],
)
def test_password_never_in_error(line: str) -> None:
    """No error message, masked line or repr holds the password of the bad line."""
    secret = "12345678" if line == "user:12345678" else SECRET
    with pytest.raises(ProxyParseError) as info:
        parse_proxies(line)
    error = info.value
    for shown in (str(error), repr(error), error.line, repr(error.args)):
        assert secret not in shown, shown
    assert error.lineno == 1


def test_skip_invalid_collects_errors_and_goes_on() -> None:
    """skip_invalid returns the good proxies and one error per bad line, with line numbers."""
    text = "10.0.0.1:80\nnonsense\n10.0.0.2:80\n10.0.0.3:99999\n[::1]:81\n"
    result = parse_proxies(text, skip_invalid=True)
    assert [p.host for p in result.proxies] == ["10.0.0.1", "10.0.0.2", "::1"]
    assert [e.lineno for e in result.errors] == [2, 4]
    assert "the port is missing" in str(result.errors[0])
    assert "out of range" in str(result.errors[1])


def test_without_skip_invalid_first_error_raises() -> None:
    """Without skip_invalid the first bad line stops parsing."""
    with pytest.raises(ProxyParseError) as info:
        parse_proxies("10.0.0.1:80\nbad\nworse:x\n")
    assert info.value.lineno == 2


def test_masked_line_keeps_what_helps() -> None:
    """The masked line keeps scheme, user, host and port so the user can find it."""
    with pytest.raises(ProxyParseError) as info:
        parse_proxy(f"http://alice:{SECRET}@10.0.0.1:99999")
    assert info.value.line == "http://alice:***@10.0.0.1:99999"
    assert info.value.lineno is None


def test_json_list_of_strings_with_line_numbers() -> None:
    """A JSON list of strings parses each one; an error names the line its item starts on."""
    text = '[\n  "10.0.0.1:80",\n  "socks5://u:p@10.0.0.2:1080",\n  "oops"\n]'
    with pytest.raises(ProxyParseError) as info:
        parse_proxies(text)
    assert info.value.lineno == 4
    result = parse_proxies(text, skip_invalid=True)
    assert result.proxies == (Proxy("http", "10.0.0.1", 80), Proxy("socks5", "10.0.0.2", 1080, "u", "p"))
    assert [e.lineno for e in result.errors] == [4]


def test_json_list_of_objects() -> None:
    """JSON objects with host/port/user/pass/scheme fields (and common aliases) parse."""
    items = [
        {"host": "10.0.0.1", "port": 8080},
        {"host": "10.0.0.2", "port": "1080", "scheme": "socks5", "user": "u", "pass": "p"},
        {"ip": "10.0.0.3", "port": 80, "username": "v", "password": "q", "protocol": "HTTPS"},
        {"host": "[::1]", "port": 81},
        {"host": "10.0.0.4", "port": 1080, "type": "socks5"},
    ]
    result = parse_proxies(json.dumps(items))
    assert result.proxies == (
        Proxy("http", "10.0.0.1", 8080),
        Proxy("socks5", "10.0.0.2", 1080, "u", "p"),
        Proxy("https", "10.0.0.3", 80, "v", "q"),
        Proxy("http", "::1", 81),
        Proxy("socks5", "10.0.0.4", 1080),
    )


def test_proxy_pool_all_output() -> None:
    """proxy_pool's /all output parses; its "https": true (tunnels to https) does not change the scheme."""
    body = json.dumps(
        [
            {
                "proxy": "183.236.232.160:8080",
                "https": True,
                "fail_count": 0,
                "region": "",
                "anonymous": "",
                "source": "freeProxy11",
                "check_count": 12,
                "last_status": True,
                "last_time": "2024-05-01 10:00:00",
            },
            {"proxy": "47.92.152.43:3128", "https": False, "fail_count": 1, "type": "elite"},
        ],
        indent=4,
    )
    result = parse_proxies(body)
    assert result.proxies == (Proxy("http", "183.236.232.160", 8080), Proxy("http", "47.92.152.43", 3128))


def test_proxy_pool_get_single_object() -> None:
    """proxy_pool's /get output (one object) parses as a list of one."""
    result = parse_proxies('{"proxy": "10.0.0.1:8080", "https": false}')
    assert result.proxies == (Proxy("http", "10.0.0.1", 8080),)


@pytest.mark.parametrize(
    ("text", "lineno", "why"),
    [
        ('[\n  "10.0.0.1:80",\n  {"host": "10.0.0.2"}\n]', 3, 'no "port" field'),
        ('[\n  {"port": 80}\n]', 2, 'no "host" (or "proxy") field'),
        ("[\n  42\n]", 2, "a JSON int is not a proxy"),
        ('[\n  {"host": "h", "port": true}\n]', 2, "the port field is not a number"),
        ('[\n  {"host": "h", "port": 80, "scheme": "gopher"}\n]', 2, "scheme 'gopher' is not supported"),
        ('[\n  "10.0.0.1:80",\n  "10.0.0.2:80"\n  "10.0.0.3:80"\n]', 4, "lacks a ','"),
        ('[\n  "10.0.0.1:80",\n  {"host": \n]', 4, "the JSON does not parse"),
        ('{"proxy": "10.0.0.1:80"} trailing', 1, "extra text after the JSON object"),
    ],
)
def test_json_errors(text: str, lineno: int, why: str) -> None:
    """Bad JSON items and broken JSON name the line and the reason."""
    with pytest.raises(ProxyParseError) as info:
        parse_proxies(text)
    assert info.value.lineno == lineno
    assert why in str(info.value)


def test_json_password_never_in_error() -> None:
    """A bad JSON object's password is never shown."""
    text = json.dumps([{"host": "10.0.0.1", "port": "x", "user": "u", "password": SECRET}])
    with pytest.raises(ProxyParseError) as info:
        parse_proxies(text)
    assert SECRET not in str(info.value)
    assert SECRET not in info.value.line


def test_empty_json_list_and_empty_text() -> None:
    """An empty list and an empty file give no proxies and no errors."""
    assert parse_proxies("[]") == ParseResult(())
    assert parse_proxies("  \n# nothing\n") == ParseResult(())


def test_bracketed_ipv6_line_is_not_mistaken_for_json() -> None:
    """A list whose first line is "[::1]:8080" is read as lines, not JSON."""
    result = parse_proxies("[::1]:8080\n[2001:db8::2]:81\n")
    assert [p.host for p in result.proxies] == ["::1", "2001:db8::2"]


def test_parsed_proxy_repr_hides_password() -> None:
    """The parsed proxy's repr and str never show the password; its key does not either."""
    proxy = parse_proxy(f"10.0.0.1:80:user:{SECRET}")
    assert SECRET not in repr(proxy)
    assert SECRET not in str(proxy)
    assert SECRET not in proxy.key
