"""check_proxies on a lab farm: each proxy's true profile as (code, phase, blame), through CONNECT, absolute-form
and SOCKS5; the judgement of absolute-form ambiguities; bounds; summary; results files; where lists come from."""

from __future__ import annotations

import csv
import http.server
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sockwise import Blame, ConfigError, ErrorCode, Failure, Phase, Proxy
from sockwise.check import (
    CSV_COLUMNS,
    CheckResult,
    Outcome,
    check_proxies,
    judge_by_target,
    read_proxy_list,
    summarize,
    write_results,
)
from sockwise.lab import Lab
from sockwise.lab._farm import Farm

E, P, B = ErrorCode, Phase, Blame
MIX = "healthy=4,slow=2,refuse=2,blackhole=2,reset-after-connect=3,auth=3,connect-502=2,ban:403=2"
TIMEOUT = 1.0  # per step: blackholes cost this once per mode; healthy steps take milliseconds

# (code, phase, blame, status, errno) per profile; None = the proxy works.
Truth = dict[str, "tuple[ErrorCode, Phase, Blame, int | None, int | None] | None"]
TUNNEL: Truth = {
    "healthy": None,
    "slow": None,
    "refuse": (E.ECONNREFUSED, P.PROXY_CONNECT, B.PROXY, None, 111),
    "blackhole": (E.ETIMEDOUT, P.PROXY_HANDSHAKE, B.PROXY, None, None),
    "reset-after-connect": (E.ECONNRESET, P.PROXY_HANDSHAKE, B.PROXY, None, 104),
    "auth": (E.PROXY_AUTH, P.PROXY_HANDSHAKE, B.PROXY, 407, None),
    "connect-502": (E.PROXY_REFUSED, P.PROXY_HANDSHAKE, B.PROXY, 502, None),
    "ban:403": (E.HTTP_STATUS, P.WAIT, B.ORIGIN, 403, None),
}
# Absolute-form: the request is the handshake, so failures show in `wait`; the timeout and the 502 page are
# the proxy's because the target answered through the healthy proxies (judge_by_target).
FORWARD: Truth = {
    **TUNNEL,
    "blackhole": (E.ETIMEDOUT, P.WAIT, B.PROXY, None, None),
    "reset-after-connect": (E.ECONNRESET, P.WAIT, B.PROXY, None, 104),
    "auth": (E.PROXY_AUTH, P.WAIT, B.PROXY, 407, None),
    "connect-502": (E.PROXY_REFUSED, P.WAIT, B.PROXY, 502, None),
}
# SOCKS5 replies carry no HTTP status: the method refusal / RFC 1929 failure is PROXY_AUTH (as a 407).
SOCKS5: Truth = {**TUNNEL, "connect-502": (E.PROXY_REFUSED, P.PROXY_HANDSHAKE, B.PROXY, None, None)}
OUTCOME = {"healthy": "ok", "slow": "ok", "ban:403": "blocked"}


def listed(farm: Farm, scheme: str, wrong_password: str = "wrong-password-0451") -> list[Proxy]:
    """The farm as a user's list: auth proxies with a wrong password (the first one with no credentials)."""
    proxies = []
    first_auth = True
    for member in farm:
        proxy = member.as_scheme(scheme)
        if member.profile == "auth":
            proxy = (
                Proxy(scheme, proxy.host, proxy.port)
                if first_auth
                else Proxy(scheme, proxy.host, proxy.port, "lab", wrong_password)
            )
            first_auth = False
        proxies.append(proxy)
    return proxies


def shape(result: CheckResult) -> tuple[ErrorCode, Phase, Blame, int | None, int | None] | None:
    """What a result says about its proxy, comparable to a truth table."""
    if result.failure is None:
        return None
    return (result.failure.code, result.failure.phase, result.failure.blame, result.status, result.errno)


@pytest.fixture
def farm(sockwise_farm: Callable[..., Farm]) -> Farm:
    """A 20-proxy farm holding every profile the check must tell apart."""
    return sockwise_farm(size=20, mix=MIX, seed=7)


@pytest.mark.parametrize(
    ("scheme", "tls", "truth", "protocol"),
    [
        ("http", True, TUNNEL, "http-connect"),
        ("http", False, FORWARD, "http-forward"),
        ("socks5", True, SOCKS5, "socks5"),
    ],
    ids=["connect", "absolute-form", "socks5"],
)
def test_check_reports_each_proxys_true_profile(
    sockwise_lab: Lab, farm: Farm, scheme: str, tls: bool, truth: Truth, protocol: str
) -> None:
    """Every proxy of the farm gets exactly its profile's (code, phase, blame, status, errno) and outcome."""
    proxies = listed(farm, scheme)
    results = check_proxies(
        proxies,
        target=sockwise_lab.url("ok", tls=tls),
        concurrency=20,
        timeout=TIMEOUT,
        ssl_context=sockwise_lab.client_ssl_context(),
    )
    assert [r.proxy for r in results] == proxies
    assert {r.protocol for r in results} == {protocol}
    assert [shape(r) for r in results] == [truth[p] for p in farm.order]
    assert [str(r.outcome) for r in results] == [OUTCOME.get(p, "proxy") for p in farm.order]
    for result, profile in zip(results, farm.order, strict=True):
        assert result.ok is (truth[profile] is None)
        if result.ok:
            assert result.status == 200
            assert result.body_bytes == 2
            assert result.failure is not None or result.phase_ms(P.BODY) is not None
        if profile == "slow":  # latency before the handshake answer and before the response: a lower bound
            assert result.latency_ms >= 200
    summary = summarize(results)
    assert summary.total == 20
    assert dict(summary.by_outcome) == {Outcome.OK: 6, Outcome.PROXY: 12, Outcome.BLOCKED: 2}


def test_check_of_a_20_proxy_farm_is_bounded_by_one_timeout(sockwise_lab: Lab, farm: Farm) -> None:
    """With one slot per proxy the whole check takes about one step timeout (the blackholes), not their sum."""
    started = time.monotonic()
    check_proxies(listed(farm, "http"), target=sockwise_lab.url("ok"), concurrency=20, timeout=0.5)
    elapsed = time.monotonic() - started
    assert 0.5 <= elapsed < 0.5 * 2 + 1.0


def test_concurrency_bounds_probes_in_flight(sockwise_proxy: Callable[..., object], sockwise_lab: Lab) -> None:
    """Four blackholes, two at a time: two waves of one timeout each, every proxy probed exactly once."""
    holes = [sockwise_lab.add_proxy("blackhole") for _ in range(4)]
    started = time.monotonic()
    results = check_proxies([h.proxy for h in holes], target=sockwise_lab.url("ok"), concurrency=2, timeout=0.3)
    assert time.monotonic() - started >= 2 * 0.3
    assert [r.code for r in results] == [E.ETIMEDOUT] * 4
    assert [h.connections for h in holes] == [1, 1, 1, 1]


def test_on_result_runs_in_the_calling_thread_once_per_proxy(sockwise_lab: Lab) -> None:
    """on_result sees every result once, in the caller's thread, before the check returns."""
    proxies = [sockwise_lab.add_proxy(p).proxy for p in ("healthy", "refuse", "healthy")]
    seen: list[tuple[str, bool]] = []
    main = threading.current_thread()

    def record(result: CheckResult) -> None:
        assert threading.current_thread() is main
        seen.append((result.proxy.key, result.ok))

    results = check_proxies(proxies, target=sockwise_lab.url("ok"), concurrency=3, timeout=2, on_result=record)
    assert sorted(seen) == sorted((r.proxy.key, r.ok) for r in results)
    assert [r.ok for r in results] == [True, False, True]


def test_a_trickling_target_cannot_hold_a_slot_past_the_probe_deadline(sockwise_lab: Lab) -> None:
    """A body of 100 bytes at 0.05 s each (5 s) ends ETIMEDOUT in body at timeout × PROBE_STEPS (1.4 s)."""
    proxy = sockwise_lab.add_proxy("healthy").as_scheme("socks5")
    started = time.monotonic()
    (result,) = check_proxies(
        [proxy], target=sockwise_lab.url("trickle", size=100, interval=0.05), concurrency=1, timeout=0.2
    )
    elapsed = time.monotonic() - started
    assert shape(result) == (E.ETIMEDOUT, P.BODY, B.ORIGIN, 200, None)
    assert str(result.outcome) == "target"
    assert result.body_bytes > 0
    assert 1.4 <= elapsed < 1.4 + 1.0


def test_no_proxies_means_no_results(sockwise_lab: Lab) -> None:
    """An empty list checks nothing and returns an empty list."""
    assert check_proxies([], target=sockwise_lab.url("ok")) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target": "example.com/ok"}, "target 'example.com/ok' needs an http:// or https:// scheme"),
        ({"target": "ftp://example.com/"}, "needs an http:// or https:// scheme"),
        ({"target": "http:///path"}, "has no host"),
        ({"target": "http://127.0.0.1:99999/"}, "the port is not a number in 1-65535"),
        ({"concurrency": 0}, "concurrency must be an integer from 1 to 1000, not 0"),
        ({"concurrency": 1001}, "concurrency must be an integer from 1 to 1000"),
        ({"timeout": 0}, "timeout must be a number of seconds > 0, not 0"),
        ({"timeout": float("nan")}, "timeout must be a number of seconds > 0"),
    ],
)
def test_bad_arguments_are_config_errors(kwargs: dict[str, object], message: str) -> None:
    """A bad target, concurrency or timeout fails before any probe with a message saying what to write."""
    args: dict[str, object] = {"target": "http://127.0.0.1/", **kwargs}
    with pytest.raises(ConfigError) as info:
        check_proxies([Proxy("http", "127.0.0.1", 9)], **args)  # type: ignore[arg-type]
    assert message in str(info.value)


# -- judgement and summary (no sockets) ------------------------------------------------------------------------------
TARGET = "http://198.51.100.7/"


def made(
    code: ErrorCode | None,
    blame: Blame = B.ORIGIN,
    *,
    protocol: str = "http-forward",
    status: int | None = None,
    phase: Phase = P.WAIT,
    port: int = 8080,
) -> CheckResult:
    """A result as a probe would leave it (outcome from the blame, like result_of)."""
    failure = None if code is None else Failure(code, phase, blame, True, None, status, f"{code} detail")
    outcome = Outcome.OK if failure is None else Outcome.PROXY if blame is B.PROXY else Outcome.TARGET
    if code is E.HTTP_STATUS and blame is B.ORIGIN:
        outcome = Outcome.BLOCKED
    return CheckResult(
        proxy=Proxy("http", "192.0.2.1", port),
        protocol=protocol,
        target=TARGET,
        ok=failure is None,
        outcome=outcome,
        status=status if failure else 200,
        latency_ms=12.5,
        failure=failure,
    )


def test_judge_blames_the_proxy_for_a_forward_timeout_when_the_target_answered_elsewhere() -> None:
    """Absolute-form ETIMEDOUT in wait becomes the proxy's once another proxy reached the same target."""
    ok, timeout = made(None), made(E.ETIMEDOUT)
    judged = judge_by_target([timeout, ok])
    assert (judged[0].code, judged[0].phase, judged[0].blame, judged[0].outcome) == (
        E.ETIMEDOUT,
        P.WAIT,
        B.PROXY,
        Outcome.PROXY,
    )
    assert judged[0].detail.endswith("the target answered through other proxies of this check")
    assert judged[1] == ok


@pytest.mark.parametrize("status", [502, 504])
def test_judge_makes_a_forward_gateway_page_a_proxy_refusal(status: int) -> None:
    """A 502/504 page through an absolute-form proxy is PROXY_REFUSED when the target is known up."""
    (judged, _) = judge_by_target([made(E.HTTP_STATUS, status=status), made(None)])
    assert (judged.code, judged.blame, judged.status, judged.outcome) == (
        E.PROXY_REFUSED,
        B.PROXY,
        status,
        Outcome.PROXY,
    )


@pytest.mark.parametrize(
    "result",
    [
        made(E.ETIMEDOUT, protocol="http-connect"),  # a tunnel was up: the target was slow
        made(E.ETIMEDOUT, protocol="socks5"),
        made(E.ETIMEDOUT, phase=P.BODY),  # headers came: the proxy forwarded
        made(E.HTTP_STATUS, status=503),  # not a gateway status
        made(E.HTTP_STATUS, status=403),  # a site's ban stays the site's
        made(E.ECONNRESET, B.PROXY),
    ],
    ids=["connect", "socks5", "body", "503", "403", "already-proxy"],
)
def test_judge_leaves_what_is_not_ambiguous(result: CheckResult) -> None:
    """Only absolute-form timeouts in wait and gateway pages blamed on the origin are re-judged."""
    assert judge_by_target([result, made(None, port=1)])[0] == result


def test_judge_changes_nothing_when_no_proxy_reached_the_target() -> None:
    """With no working proxy the target may be down: the timeout stays the origin's."""
    results = [made(E.ETIMEDOUT), made(E.HTTP_STATUS, status=502)]
    assert judge_by_target(results) == results


def test_summarize_counts_by_outcome_and_code_blame() -> None:
    """The summary counts outcomes in Outcome order and failures most frequent first, with the median ok latency."""
    results = [
        made(None),
        made(None),
        made(E.ECONNREFUSED, B.PROXY),
        made(E.ECONNREFUSED, B.PROXY),
        made(E.ETIMEDOUT, B.PROXY),
        made(E.HTTP_STATUS, status=403),
    ]
    summary = summarize(results)
    assert summary.total == 6
    assert summary.ok == 2
    assert summary.by_outcome == ((Outcome.OK, 2), (Outcome.PROXY, 3), (Outcome.BLOCKED, 1))
    assert summary.by_failure == (
        (E.ECONNREFUSED, B.PROXY, 2),
        (E.ETIMEDOUT, B.PROXY, 1),
        (E.HTTP_STATUS, B.ORIGIN, 1),
    )
    assert summary.median_ok_ms == 12.5
    assert summary.as_dict()["by_outcome"] == {"ok": 2, "proxy": 3, "blocked": 1}
    assert summarize([]).median_ok_ms is None


def test_a_result_never_shows_the_password() -> None:
    """repr, as_dict and detail mask the proxy's password, even one a failure's text quoted."""
    proxy = Proxy("http", "192.0.2.1", 8080, "alice", "s3cr#t pw")
    failure = Failure(E.PROXY_AUTH, P.WAIT, B.PROXY, False, None, 407, "rejected alice:s3cr#t pw and s3cr%23t%20pw")
    result = CheckResult(proxy, "http-forward", TARGET, False, Outcome.PROXY, 407, 3.0, failure=failure)
    text = repr(result) + json.dumps(result.as_dict()) + result.detail
    assert "s3cr" not in text
    assert result.as_dict()["proxy"] == "http://alice:***@192.0.2.1:8080"


# -- results files ---------------------------------------------------------------------------------------------------
def test_write_results_csv(tmp_path: Path) -> None:
    """The CSV has the documented header and one row per result, in order, empty cells for what is absent."""
    results = [made(None), made(E.ECONNREFUSED, B.PROXY, phase=P.PROXY_CONNECT)]
    path = write_results(tmp_path / "out.csv", results)
    with path.open(newline="", encoding="utf-8") as stream:
        reader = csv.DictReader(stream)
        rows = list(reader)
    assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
    assert [(r["ok"], r["outcome"], r["code"], r["phase"], r["blame"], r["status"]) for r in rows] == [
        ("true", "ok", "", "", "", "200"),
        ("false", "proxy", "ECONNREFUSED", "proxy_connect", "proxy", ""),
    ]
    assert rows[1]["proxy"] == "http://192.0.2.1:8080"


def test_write_results_jsonl(tmp_path: Path) -> None:
    """The JSONL holds one as_dict() object a line."""
    results = [made(None), made(E.ETIMEDOUT, B.PROXY)]
    path = write_results(tmp_path / "out.jsonl", results)
    assert [json.loads(line) for line in path.read_text().splitlines()] == [r.as_dict() for r in results]


def test_write_results_rejects_an_unknown_extension(tmp_path: Path) -> None:
    """An extension that is neither .csv nor .jsonl is a ConfigError naming the ones that work."""
    with pytest.raises(ConfigError, match=r"from its extension '\.txt'; name it \.csv or \.jsonl"):
        write_results(tmp_path / "out.txt", [])
    assert not (tmp_path / "out.txt").exists()


# -- where lists come from -------------------------------------------------------------------------------------------
@pytest.fixture
def serve_list() -> Iterator[Callable[[bytes, int], str]]:
    """A loopback http.server answering every GET with a given body and status; yields a URL factory."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(body: bytes, status: int = 200) -> str:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/list.txt"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def no_env_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fetch lists directly: no *_proxy variable may send a loopback fetch elsewhere."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


def test_read_a_list_from_a_file(tmp_path: Path) -> None:
    """A file's text comes back (BOM dropped) with its path as the name."""
    path = tmp_path / "list.txt"
    path.write_bytes(b"\xef\xbb\xbf127.0.0.1:8080\n")
    assert read_proxy_list(str(path)) == ("127.0.0.1:8080\n", str(path))


@pytest.mark.usefixtures("no_env_proxy")
def test_read_a_list_from_a_loopback_url(serve_list: Callable[[bytes, int], str]) -> None:
    """An http URL is fetched; its name keeps the path and hides the query (where API keys go)."""
    url = serve_list(b"socks5://127.0.0.1:1080\n", 200)
    assert read_proxy_list(url + "?key=SECRET", timeout=5) == (
        "socks5://127.0.0.1:1080\n",
        url + "?…",
    )


@pytest.mark.usefixtures("no_env_proxy")
def test_a_url_answering_404_is_a_config_error(serve_list: Callable[[bytes, int], str]) -> None:
    """A list URL that does not answer 200 names the status."""
    url = serve_list(b"gone", 404)
    with pytest.raises(ConfigError, match=r"fetching the proxy list from http://127\.0\.0\.1:\d+/list\.txt failed: "):
        read_proxy_list(url, timeout=5)


@pytest.mark.usefixtures("no_env_proxy")
def test_a_refused_url_is_a_config_error_without_its_credentials() -> None:
    """A list URL nobody listens on fails in one line that shows neither its userinfo nor its query."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))  # bound, never listening: connecting is refused
    port = holder.getsockname()[1]
    try:
        with pytest.raises(ConfigError) as info:
            read_proxy_list(f"http://127.0.0.1:{port}/l.txt?token=TOPSECRET", timeout=5)
    finally:
        holder.close()
    message = str(info.value)
    assert message.startswith(f"fetching the proxy list from http://127.0.0.1:{port}/l.txt?… failed: ")
    assert "Connection refused" in message
    assert "TOPSECRET" not in message


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("missing.txt", "proxy list 'missing.txt': no such file; give a file, - for standard input, or an http"),
        ("example.com/proxies.txt", "no such file; give a file, - for standard input, or an http:// or https:// URL"),
        ("ftp://example.com/list", "cannot read a proxy list from a ftp:// URL"),
    ],
)
def test_bad_sources_are_config_errors(
    source: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A missing file, a URL without its scheme, or another scheme: one message with the fix."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        read_proxy_list(source)
    assert message in str(info.value)


def test_a_directory_a_huge_list_and_non_utf8_are_config_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A directory, a list over MAX_LIST_BYTES and bytes that are not UTF-8 each get their own message."""
    with pytest.raises(ConfigError, match="is a directory"):
        read_proxy_list(str(tmp_path))
    big = tmp_path / "big.txt"
    big.write_bytes(b"127.0.0.1:8080\n" * 10)
    monkeypatch.setattr("sockwise.check._source.MAX_LIST_BYTES", 100)
    with pytest.raises(ConfigError, match="is larger than 0 MiB; split it into parts"):
        read_proxy_list(str(big))
    latin = tmp_path / "latin.txt"
    latin.write_bytes(b"caf\xe9:8080\n")
    with pytest.raises(ConfigError, match=r"is not UTF-8 text \(byte 3\); save it as UTF-8"):
        read_proxy_list(str(latin))
