"""Finding the entry a query means: names, numbers, curl and Winsock codes, messages, typos."""

from __future__ import annotations

import dataclasses
import errno
import json
import subprocess
import sys

import pytest

from sockwise import ConfigError, ErrorCode
from sockwise.explain import Alias, UnknownQuery, default_lang, explain, lookup


@pytest.mark.parametrize("query", ["ECONNRESET", "econnreset", "EConnReset", " ECONNRESET ", "CONNRESET", "connreset"])
def test_code_names_match_in_any_case_with_or_without_the_leading_e(query: str) -> None:
    """A code name matches case-insensitively, and without its leading E."""
    assert lookup(query) is ErrorCode.ECONNRESET
    assert explain(query).matched is None


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("unexpected eof", ErrorCode.UNEXPECTED_EOF),
        ("tls-cert", ErrorCode.TLS_CERT),
        ("Proxy Auth", ErrorCode.PROXY_AUTH),
        ("ai_again", ErrorCode.EAI_AGAIN),
        (ErrorCode.EPIPE, ErrorCode.EPIPE),
    ],
)
def test_code_names_accept_spaces_and_dashes_for_underscores(query: str, code: ErrorCode) -> None:
    """Spaces and dashes stand for underscores, and an ErrorCode value is taken as is."""
    assert lookup(query) is code


@pytest.mark.parametrize(
    ("query", "code"),
    [
        (errno.ECONNRESET, ErrorCode.ECONNRESET),
        (str(errno.ECONNREFUSED), ErrorCode.ECONNREFUSED),
        (f"errno {errno.ETIMEDOUT}", ErrorCode.ETIMEDOUT),
        (f"[Errno {errno.EPIPE}]", ErrorCode.EPIPE),
        (f"-{errno.ECONNRESET}", ErrorCode.ECONNRESET),  # Node prints errno negated
        (f"errno: -{errno.ECONNREFUSED}", ErrorCode.ECONNREFUSED),
    ],
)
def test_errno_numbers_resolve_in_every_spelling(query: str | int, code: ErrorCode) -> None:
    """An errno resolves as an int, a string, 'errno N', '[Errno N]' and Node's negated '-N'."""
    assert lookup(query) is code


@pytest.mark.parametrize(
    ("number", "code"),
    [
        (10054, ErrorCode.ECONNRESET),
        (10053, ErrorCode.ECONNABORTED),
        (10061, ErrorCode.ECONNREFUSED),
        (10060, ErrorCode.ETIMEDOUT),
        (10065, ErrorCode.EHOSTUNREACH),
        (10051, ErrorCode.ENETUNREACH),
        (10024, ErrorCode.EMFILE),
        (10049, ErrorCode.EADDRNOTAVAIL),
        (11001, ErrorCode.EAI_NONAME),
        (11002, ErrorCode.EAI_AGAIN),
    ],
)
def test_winsock_numbers_resolve(number: int, code: ErrorCode) -> None:
    """Winsock numbers resolve bare, as 'WinError N' and '[WinError N]', and name their WSAE* alias."""
    assert lookup(number) is code
    assert lookup(f"WinError {number}") is code
    assert lookup(f"[WinError {number}] something the system said") is code
    matched = explain(str(number)).matched
    assert matched is not None
    assert matched.stack == "windows"
    assert matched.number == number


def test_winsock_names_resolve() -> None:
    """WSAE* names resolve to their code."""
    assert lookup("WSAECONNRESET") is ErrorCode.ECONNRESET
    assert lookup("wsaeconnaborted") is ErrorCode.ECONNABORTED
    assert lookup("WSAETIMEDOUT") is ErrorCode.ETIMEDOUT


@pytest.mark.parametrize(
    ("exit_code", "code"),
    [
        (5, ErrorCode.EAI_NONAME),
        (6, ErrorCode.EAI_NONAME),
        (7, ErrorCode.ECONNREFUSED),
        (18, ErrorCode.UNEXPECTED_EOF),
        (22, ErrorCode.HTTP_STATUS),
        (28, ErrorCode.ETIMEDOUT),
        (35, ErrorCode.EPROTO),
        (52, ErrorCode.UNEXPECTED_EOF),
        (55, ErrorCode.EPIPE),
        (56, ErrorCode.ECONNRESET),
        (60, ErrorCode.TLS_CERT),
        (97, ErrorCode.PROXY_REFUSED),
    ],
)
@pytest.mark.parametrize("form", ["curl {}", "curl:{}", "CURL: {}", "curl: ({})"])
def test_curl_exit_codes_resolve(exit_code: int, code: ErrorCode, form: str) -> None:
    """curl exit codes resolve as 'curl N', 'curl:N', 'CURL: N' and curl's own 'curl: (N)'."""
    hit = explain(form.format(exit_code))
    assert hit.code is code
    assert hit.matched is not None
    assert hit.matched.stack == "curl"
    assert hit.matched.number == exit_code


def test_curl_numbers_are_not_errno_numbers() -> None:
    """A bare 7 is not curl's exit code 7: numbers without 'curl' are errnos (here unknown)."""
    with pytest.raises(UnknownQuery):
        lookup(7)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Connection reset by peer", ErrorCode.ECONNRESET),
        ("reset by peer", ErrorCode.ECONNRESET),
        ("socket hang up", ErrorCode.UNEXPECTED_EOF),
        ("Remote end closed connection without response", ErrorCode.UNEXPECTED_EOF),
        ("Empty reply from server", ErrorCode.UNEXPECTED_EOF),
        ("server terminated prematurely", ErrorCode.UNEXPECTED_EOF),
        ("Software caused connection abort", ErrorCode.ECONNABORTED),
        ("No route to host", ErrorCode.EHOSTUNREACH),
        ("Temporary failure in name resolution", ErrorCode.EAI_AGAIN),
        ("Name or service not known", ErrorCode.EAI_NONAME),
        ("Too many open files", ErrorCode.EMFILE),
        ("Cannot assign requested address", ErrorCode.EADDRNOTAVAIL),
    ],
)
def test_messages_resolve(text: str, code: ErrorCode) -> None:
    """The messages other stacks print resolve to their code, in any case."""
    assert lookup(text) is code
    assert lookup(text.upper()) is code


@pytest.mark.parametrize(
    ("pasted", "code"),
    [
        # Measured on this machine: curl 7.88.1, Node 20, CPython 3.11 clients against loopback faults.
        ("curl: (56) CONNECT tunnel failed, response 407", ErrorCode.PROXY_AUTH),
        ("curl: (56) CONNECT tunnel failed, response 502", ErrorCode.PROXY_REFUSED),
        ("curl: (56) Recv failure: Connection reset by peer", ErrorCode.ECONNRESET),
        ("curl: (18) transfer closed with 97 bytes remaining to read", ErrorCode.UNEXPECTED_EOF),
        (
            "curl: (7) Failed to connect to 127.0.0.1 port 42241 after 0 ms: Couldn't connect to server",
            ErrorCode.ECONNREFUSED,
        ),
        ("curl: (35) OpenSSL/3.0.19: error:0A00010B:SSL routines::wrong version number", ErrorCode.EPROTO),
        ("Error: read ECONNRESET", ErrorCode.ECONNRESET),
        ("Error: connect ECONNREFUSED 127.0.0.1:42241", ErrorCode.ECONNREFUSED),
        ("Error: socket hang up", ErrorCode.UNEXPECTED_EOF),
        ("TypeError: fetch failed [cause]: SocketError: other side closed", ErrorCode.UNEXPECTED_EOF),
        ("Parse Error: Expected HTTP/, RTSP/ or ICE/", ErrorCode.EPROTO),
        ("AxiosError: timeout of 5000ms exceeded", ErrorCode.ETIMEDOUT),
        ("getaddrinfo ENOTFOUND api.example.invalid", ErrorCode.EAI_NONAME),
        (
            "requests.exceptions.ConnectionError: ('Connection aborted.', "
            "RemoteDisconnected('Remote end closed connection without response'))",
            ErrorCode.UNEXPECTED_EOF,
        ),
        ("ConnectionResetError: [Errno 104] Connection reset by peer", ErrorCode.ECONNRESET),
        ("OSError: Tunnel connection failed: 407 Proxy Authentication Required", ErrorCode.PROXY_AUTH),
        ("OSError: Tunnel connection failed: 503 Service Unavailable", ErrorCode.PROXY_REFUSED),
        ("python_socks._errors.ProxyError: Connection refused by destination host", ErrorCode.PROXY_REFUSED),
        (
            "ssl.SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed",
            ErrorCode.TLS_CERT,
        ),
        ("httpx.ConnectTimeout", ErrorCode.ETIMEDOUT),
        ("aiohttp.client_exceptions.ServerDisconnectedError", ErrorCode.UNEXPECTED_EOF),
        ("read tcp 10.0.0.2:51234->93.184.216.34:443: i/o timeout", ErrorCode.ETIMEDOUT),
    ],
)
def test_pasted_error_lines_resolve(pasted: str, code: ErrorCode) -> None:
    """A whole pasted error line or traceback tail resolves; the most specific message wins."""
    assert lookup(pasted) is code


def test_the_matched_alias_is_reported() -> None:
    """explain() says which alias a query went through, and nothing when it named the code itself."""
    assert explain("socket hang up").matched == Alias("node", "ECONNRESET", None, "socket hang up")
    assert explain("curl 52").matched == Alias("curl", "CURLE_GOT_NOTHING", 52, "Empty reply from server")
    assert explain("UNEXPECTED_EOF").matched is None


@pytest.mark.parametrize(
    ("typo", "first"),
    [
        ("ECONNRSET", ErrorCode.ECONNRESET),
        ("ECONREFUSED", ErrorCode.ECONNREFUSED),
        ("EPIPED", ErrorCode.EPIPE),
        ("EADDRNOTAVIAL", ErrorCode.EADDRNOTAVAIL),
        ("UNEXPECTED_OEF", ErrorCode.UNEXPECTED_EOF),
        ("proxy auth failed", ErrorCode.PROXY_AUTH),
    ],
)
def test_typos_get_the_intended_code_as_first_suggestion(typo: str, first: ErrorCode) -> None:
    """A misspelt code raises UnknownQuery whose first suggestion is the code meant."""
    with pytest.raises(UnknownQuery) as caught:
        lookup(typo)
    assert caught.value.suggestions[0] is first
    assert caught.value.ambiguous is False


def test_unknown_query_message_is_one_line_with_suggestions() -> None:
    """The message names the query and lists the suggestions, exactly, on one line."""
    with pytest.raises(UnknownQuery) as caught:
        lookup("ECONNRSET")
    assert str(caught.value) == "unknown code 'ECONNRSET'; did you mean: ECONNRESET, ECONNREFUSED?"
    assert caught.value.suggestions == (ErrorCode.ECONNRESET, ErrorCode.ECONNREFUSED)
    assert caught.value.query == "ECONNRSET"


def test_unknown_query_is_a_config_error() -> None:
    """UnknownQuery is bad user input: a ConfigError and a ValueError."""
    with pytest.raises(UnknownQuery, match="unknown code") as caught:
        lookup("nothing like a code at all")
    assert isinstance(caught.value, ConfigError)
    assert isinstance(caught.value, ValueError)


def test_a_query_matching_several_codes_is_ambiguous() -> None:
    """'refused' is in ECONNREFUSED and PROXY_REFUSED: the error lists both and says it is ambiguous."""
    with pytest.raises(UnknownQuery) as caught:
        lookup("refused")
    assert caught.value.ambiguous is True
    assert caught.value.suggestions == (ErrorCode.ECONNREFUSED, ErrorCode.PROXY_REFUSED)
    assert str(caught.value) == "'refused' matches several codes; did you mean: ECONNREFUSED, PROXY_REFUSED?"


@pytest.mark.parametrize("query", ["", "   ", "xyzzy", "curl 99999", "123456", True])
def test_nonsense_raises_unknown_query(query: object) -> None:
    """Empty input, gibberish, an unknown curl code, an unknown number and a bool are all refused."""
    with pytest.raises(UnknownQuery):
        lookup(query)  # type: ignore[arg-type]


def test_credentials_in_a_pasted_proxy_url_are_masked_in_the_error() -> None:
    """A password inside a pasted proxy URL never appears in the UnknownQuery message or attribute."""
    with pytest.raises(UnknownQuery) as caught:
        lookup("could not use http://alice:s3cr3t-pw@proxy.example:8080 today")
    assert "s3cr3t-pw" not in str(caught.value)
    assert "s3cr3t-pw" not in caught.value.query
    assert "http://***@proxy.example:8080" in caught.value.query


def test_long_queries_are_shortened_in_the_message() -> None:
    """A long pasted text is cut in the one-line message, not echoed whole."""
    with pytest.raises(UnknownQuery) as caught:
        lookup("q" * 500)
    assert len(str(caught.value)) < 250


@pytest.mark.parametrize(
    ("lang", "expected"), [("en", "en"), ("zh", "zh"), ("zh_CN", "zh"), ("zh-Hans", "zh"), ("EN_us", "en")]
)
def test_language_tags_are_normalised(lang: str, expected: str) -> None:
    """Locale-style tags select the language they start with."""
    assert explain("EPIPE", lang=lang).lang == expected


def test_unsupported_language_is_a_config_error() -> None:
    """An unknown language is refused with a message naming it and the choices."""
    with pytest.raises(ConfigError, match=r"unsupported language 'fr'.*en, zh"):
        explain("EPIPE", lang="fr")


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "en"),
        ({"LANG": "zh_CN.UTF-8"}, "zh"),
        ({"LANG": "zh_TW.UTF-8"}, "zh"),
        ({"LANG": "C.UTF-8"}, "en"),
        ({"LC_MESSAGES": "zh_CN.UTF-8", "LANG": "en_US.UTF-8"}, "zh"),
        ({"LC_ALL": "en_US.UTF-8", "LC_MESSAGES": "zh_CN.UTF-8", "LANG": "zh_CN.UTF-8"}, "en"),
        ({"LC_ALL": "", "LANG": "zh_CN.UTF-8"}, "zh"),
    ],
)
def test_default_lang_follows_posix_precedence(environ: dict[str, str], expected: str) -> None:
    """LC_ALL beats LC_MESSAGES beats LANG; empty ones are skipped; zh* means Chinese."""
    assert default_lang(environ) == expected


def test_explanation_is_frozen() -> None:
    """An Explanation cannot be changed after it is made."""
    entry = explain("EPIPE")
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.title = "changed"  # type: ignore[misc]


def test_as_dict_is_json_with_exact_keys() -> None:
    """as_dict() gives exactly the documented keys, JSON-serialisable, codes as strings."""
    data = explain("curl 52", lang="zh").as_dict()
    assert list(data) == [
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
    ]
    assert data["code"] == "UNEXPECTED_EOF"
    assert data["lang"] == "zh"
    assert data["related"] == ["ECONNRESET", "EPIPE", "PROXY_REFUSED"]
    assert data["matched"] == {
        "stack": "curl",
        "name": "CURLE_GOT_NOTHING",
        "number": 52,
        "message": "Empty reply from server",
    }
    assert json.loads(json.dumps(data, ensure_ascii=False)) == data


def test_importing_reads_no_data_and_no_third_party_module() -> None:
    """Importing sockwise.explain loads no knowledge-base file and imports neither click nor rich."""
    probe = (
        "import sys, sockwise.explain._kb as kb\n"
        "print(kb._entries.cache_info().currsize, kb._index.cache_info().currsize, "
        "'click' in sys.modules, 'rich' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == ["0", "0", "False", "False"]
