"""``probe`` against every lab scenario: the matrix's verdict, with the phase the probe *saw*; and ``sockwise probe``.

The probe runs each step itself on stdlib sockets, so it classifies with the exact phase as a hint. Its
(code, blame) must agree with the classification matrix's ``http.client`` column (the same stdlib stack)
wherever the matrix knows them, and its phase must be at least as precise: equal where the matrix's is
certain, anything observed where the matrix had to guess. Its ``phases`` end at the failing step.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from click.testing import CliRunner
from tests.matrix.expected import EXPECTED, alternatives

from sockwise import Blame, ErrorCode, Phase, Proxy
from sockwise.cli._main import cli
from sockwise.lab import Lab, get_scenario
from sockwise.lab._proxy import LabProxy
from sockwise.probe import ProbeResult, probe

E, P, B = ErrorCode, Phase, Blame
LONG, STALL = 5.0, 0.5

Verdict = tuple[ErrorCode, Phase, Blame, "bool | None"] | None  # None: the probe succeeds


def v(code: ErrorCode, phase: Phase, blame: Blame, sent: bool | None) -> Verdict:
    return (code, phase, blame, sent)


RESET_WAIT = v(E.ECONNRESET, P.WAIT, B.ORIGIN, True)
EOF_WAIT = v(E.UNEXPECTED_EOF, P.WAIT, B.ORIGIN, True)
EOF_BODY = v(E.UNEXPECTED_EOF, P.BODY, B.ORIGIN, True)
CERT = v(E.TLS_CERT, P.TLS, B.ORIGIN, False)

#: (scenario, route) -> the probe's verdict, or the set of legal verdicts of a race. Routes: direct,
#: direct-tls, and for proxy profiles proxy-connect (CONNECT, https target), proxy-absolute (http target)
#: and socks5 (https target through the profile's SOCKS5 side).
PROBE: dict[tuple[str, str], Verdict | frozenset[Verdict]] = {
    ("ok", "direct"): None,
    ("ok", "direct-tls"): None,
    ("status", "direct"): v(E.HTTP_STATUS, P.WAIT, B.ORIGIN, True),
    ("status", "direct-tls"): v(E.HTTP_STATUS, P.WAIT, B.ORIGIN, True),
    ("reset-after-request", "direct"): RESET_WAIT,
    # CPython 3.11's ssl module reports a RST after the handshake as a clean EOF (gh-115627).
    ("reset-after-request", "direct-tls"): EOF_WAIT,
    ("empty-reply", "direct"): EOF_WAIT,
    ("empty-reply", "direct-tls"): EOF_WAIT,
    ("reset-mid-body", "direct"): v(E.ECONNRESET, P.BODY, B.ORIGIN, True),
    ("reset-mid-body", "direct-tls"): EOF_BODY,
    ("close-mid-body", "direct"): EOF_BODY,
    ("close-mid-body", "direct-tls"): EOF_BODY,
    ("stall-before-headers", "direct"): v(E.ETIMEDOUT, P.WAIT, B.ORIGIN, True),
    ("stall-before-headers", "direct-tls"): v(E.ETIMEDOUT, P.WAIT, B.ORIGIN, True),
    ("stall-mid-body", "direct"): v(E.ETIMEDOUT, P.BODY, B.ORIGIN, True),
    ("stall-mid-body", "direct-tls"): v(E.ETIMEDOUT, P.BODY, B.ORIGIN, True),
    ("trickle", "direct"): None,
    ("garbage", "direct"): v(E.EPROTO, P.WAIT, B.ORIGIN, True),
    ("garbage", "direct-tls"): v(E.EPROTO, P.WAIT, B.ORIGIN, True),
    ("refused", "direct"): v(E.ECONNREFUSED, P.CONNECT, B.ORIGIN, False),
    # RACE: the RST lands in connect() (a connect with a timeout reads SO_ERROR), in the send, or in
    # the wait for headers; the probe names whichever step it was.
    ("reset-on-accept", "direct"): frozenset(
        {
            v(E.ECONNRESET, P.CONNECT, B.ORIGIN, False),
            v(E.ECONNRESET, P.SEND, B.ORIGIN, None),
            RESET_WAIT,
        }
    ),
    ("backlog-full", "direct"): v(E.ETIMEDOUT, P.CONNECT, B.NETWORK, False),
    ("tls-to-plain", "direct"): v(E.EPROTO, P.TLS, B.ORIGIN, False),
    ("tls-stall", "direct"): v(E.ETIMEDOUT, P.TLS, B.ORIGIN, False),
    ("bad-cert", "direct"): CERT,
    ("wrong-host", "direct"): CERT,
    # -- proxy profiles ----------------------------------------------------------------------------------------------
    ("refuse", "proxy-connect"): v(E.ECONNREFUSED, P.PROXY_CONNECT, B.PROXY, False),
    ("refuse", "proxy-absolute"): v(E.ECONNREFUSED, P.PROXY_CONNECT, B.PROXY, False),
    ("refuse", "socks5"): v(E.ECONNREFUSED, P.PROXY_CONNECT, B.PROXY, False),
    ("blackhole", "proxy-connect"): v(E.ETIMEDOUT, P.PROXY_HANDSHAKE, B.PROXY, False),
    # Absolute-form: the request is all the proxy sees; waiting for its answer is `wait`, and one request
    # cannot tell a stalling proxy from a stalling origin: nobody is blamed (sockwise check and the pool
    # settle it across proxies).
    ("blackhole", "proxy-absolute"): v(E.ETIMEDOUT, P.WAIT, B.UNKNOWN, True),
    ("blackhole", "socks5"): v(E.ETIMEDOUT, P.PROXY_HANDSHAKE, B.PROXY, False),
    ("auth", "proxy-connect"): v(E.PROXY_AUTH, P.PROXY_HANDSHAKE, B.PROXY, False),
    ("auth", "proxy-absolute"): v(E.PROXY_AUTH, P.WAIT, B.PROXY, False),
    ("auth", "socks5"): v(E.PROXY_AUTH, P.PROXY_HANDSHAKE, B.PROXY, False),
    ("connect-502", "proxy-connect"): v(E.PROXY_REFUSED, P.PROXY_HANDSHAKE, B.PROXY, False),
    # A 502 page from a forwarding proxy looks like the origin's (see tests/matrix/expected.py).
    ("connect-502", "proxy-absolute"): v(E.HTTP_STATUS, P.WAIT, B.ORIGIN, True),
    ("connect-502", "socks5"): v(E.PROXY_REFUSED, P.PROXY_HANDSHAKE, B.PROXY, False),
    ("connect-403", "proxy-connect"): v(E.PROXY_REFUSED, P.PROXY_HANDSHAKE, B.PROXY, False),
    ("connect-403", "proxy-absolute"): v(E.HTTP_STATUS, P.WAIT, B.ORIGIN, True),
    ("connect-403", "socks5"): v(E.PROXY_REFUSED, P.PROXY_HANDSHAKE, B.PROXY, False),
    ("reset-after-connect", "proxy-connect"): v(E.ECONNRESET, P.PROXY_HANDSHAKE, B.PROXY, False),
    ("reset-after-connect", "proxy-absolute"): v(E.ECONNRESET, P.WAIT, B.PROXY, True),
    ("reset-after-connect", "socks5"): v(E.ECONNRESET, P.PROXY_HANDSHAKE, B.PROXY, False),
    ("upstream-dead", "proxy-connect"): v(E.UNEXPECTED_EOF, P.PROXY_HANDSHAKE, B.PROXY, False),
    ("upstream-dead", "proxy-absolute"): v(E.UNEXPECTED_EOF, P.WAIT, B.PROXY, True),
    ("upstream-dead", "socks5"): v(E.UNEXPECTED_EOF, P.PROXY_HANDSHAKE, B.PROXY, False),
}

#: Where the matrix's phase is a library's guess that happens to be certain about request_sent, so the
#: probe's observed phase may differ: (scenario, route) -> why.
MATRIX_GUESSES = {
    ("stall-mid-body", "direct-tls"): "ssl's 'The read operation timed out' says a read, not headers or body",
}
#: The probe's routes, and the matrix route (same proxy hop) its verdict is compared with.
MATRIX_ROUTE = {
    "direct": "direct",
    "direct-tls": "direct-tls",
    "proxy-connect": "proxy-connect",
    "proxy-absolute": "proxy-absolute",
    "socks5": "proxy-connect",
}
#: Scenarios whose stall needs a short step timeout.
STALLS = frozenset({"stall-before-headers", "stall-mid-body", "backlog-full", "tls-stall", "blackhole"})
PARAMS = {"status": {"code": "503"}, "trickle": {"size": "4", "interval": "0.15"}}


@dataclass(frozen=True, slots=True)
class Site:
    """The session's lab and one proxy per profile."""

    lab: Lab
    proxies: dict[str, LabProxy]


@pytest.fixture(scope="module")
def site(sockwise_lab_session: Lab) -> Site:
    """The shared lab, with one proxy of each profile the probe table uses."""
    lab = sockwise_lab_session
    profiles = {row for row, route in PROBE if route in ("proxy-connect", "proxy-absolute", "socks5")}
    return Site(lab, {profile: lab.add_proxy(profile) for profile in sorted(profiles)})


def run_probe(site: Site, row: str, route: str) -> ProbeResult:
    lab = site.lab
    timeout = STALL if row in STALLS else LONG
    ctx = lab.client_ssl_context()
    if route in ("direct", "direct-tls"):
        if get_scenario(row).kind == "path":
            url = lab.url(row, tls=route == "direct-tls", **PARAMS.get(row, {}))
        else:  # a port scenario: its own port, its own scheme
            url = lab.url(row)
        return probe(url, timeout=timeout, ssl_context=ctx)
    lab_proxy = site.proxies[row]
    scheme = "socks5" if route == "socks5" else "http"
    proxy = Proxy(scheme, lab_proxy.host, lab_proxy.port)  # no credentials: for `auth` that is the point
    return probe(lab.url("ok", tls=route != "proxy-absolute"), proxy=proxy, timeout=timeout, ssl_context=ctx)


def verdict_of(result: ProbeResult) -> Verdict:
    f = result.failure
    return None if f is None else (f.code, f.phase, f.blame, f.request_sent)


@pytest.mark.parametrize(("row", "route"), list(PROBE), ids=[f"{row}:{route}" for row, route in PROBE])
def test_probe_verdict_and_phases(site: Site, row: str, route: str) -> None:
    """The probe's exact verdict on a lab scenario, and its phases list ending at the step that failed."""
    result = run_probe(site, row, route)
    expected = PROBE[(row, route)]
    legal = expected if isinstance(expected, frozenset) else frozenset({expected})
    assert verdict_of(result) in legal, f"{row} {route}: {result.failure} phases={result.phases}"
    assert result.ok is (result.failure is None)
    assert result.phases, "the probe records at least its first step"
    failure = result.failure
    if failure is None:
        assert [p.ok for p in result.phases] == [True] * len(result.phases)
        assert result.phases[-1].phase is P.BODY
    elif result.status is not None and failure.code in (E.HTTP_STATUS, E.PROXY_AUTH) and failure.phase is P.WAIT:
        # A failing status: every step completed; the verdict is the response's.
        assert [p.ok for p in result.phases] == [True] * len(result.phases)
        assert failure.status == result.status
    else:
        *before, last = result.phases
        assert [p.ok for p in before] == [True] * len(before)
        assert (last.ok, last.phase) == (False, failure.phase), f"{row} {route}: {result.phases}"


@pytest.mark.parametrize(("row", "route"), list(PROBE), ids=[f"{row}:{route}" for row, route in PROBE])
def test_probe_table_agrees_with_the_matrix(row: str, route: str) -> None:
    """The probe's expected (code, blame) is the matrix's http.client verdict, and its phase at least as precise."""
    matrix = alternatives(EXPECTED[(row, "http.client", MATRIX_ROUTE[route])])
    expected = PROBE[(row, route)]
    for verdict in expected if isinstance(expected, frozenset) else (expected,):
        assert any(_agrees(verdict, m, (row, route)) for m in matrix), f"{row} {route}: {verdict} vs {matrix}"


def _agrees(verdict: Verdict, matrix: object, key: tuple[str, str]) -> bool:
    code, phase, blame, sent = verdict if verdict is not None else (None, None, None, None)
    m_code, m_phase, m_blame, m_sent = (getattr(matrix, name) for name in ("code", "phase", "blame", "request_sent"))
    if code != m_code:
        return False
    if verdict is None:
        return True
    if m_blame is not B.UNKNOWN and blame != m_blame:
        return False
    if m_sent is not None and sent != m_sent:
        return False
    guessed = m_phase is P.UNKNOWN or m_sent is None or key in MATRIX_GUESSES
    return guessed or phase == m_phase


# -- the CLI: sockwise probe URL --json ----------------------------------------------------------------------------
TOP_KEYS = {"ok", "url", "proxy", "status", "failure", "phases", "explanation"}
FAILURE_KEYS = {"code", "phase", "blame", "request_sent", "errno", "status", "detail"}
PHASE_KEYS = {"name", "ms", "ok"}


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["probe", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_cli_json_success_exits_0(site: Site) -> None:
    """`sockwise probe URL --json` on a healthy origin: exit 0, ok true, no failure, every step ok."""
    code, out, _ = invoke(site.lab.url("ok"), "--json", "--lang", "en")
    assert code == 0
    data = json.loads(out)
    assert set(data) == TOP_KEYS
    assert (data["ok"], data["status"], data["failure"], data["proxy"], data["explanation"]) == (
        True,
        200,
        None,
        None,
        "",
    )
    assert [set(p) for p in data["phases"]] == [PHASE_KEYS] * len(data["phases"])
    assert [p["name"] for p in data["phases"]] == ["resolve", "connect", "send", "wait for headers", "body"]
    assert all(p["ok"] is True and p["ms"] >= 0 for p in data["phases"])


def test_cli_json_failure_exits_1(site: Site) -> None:
    """A classified failure: exit 1; the failure's fields, the failing step last, and an explanation."""
    code, out, _ = invoke(site.lab.url("reset-after-request"), "--json", "--lang", "en", "--timeout", "5")
    assert code == 1
    data = json.loads(out)
    assert set(data) == TOP_KEYS
    assert set(data["failure"]) == FAILURE_KEYS
    failure = data["failure"]
    assert (failure["code"], failure["phase"], failure["blame"], failure["request_sent"], failure["errno"]) == (
        "ECONNRESET",
        "wait",
        "origin",
        True,
        104,
    )
    assert data["ok"] is False
    assert (data["phases"][-1]["name"], data["phases"][-1]["ok"]) == ("wait for headers", False)
    assert data["explanation"].startswith("ECONNRESET while waiting for headers from origin: ")


def test_cli_proxy_credentials_stay_out_of_the_output(site: Site) -> None:
    """Through an auth proxy with a wrong password: exit 1, PROXY_AUTH, and the password nowhere in the output."""
    proxy = site.proxies["auth"]
    secret = "wrong-pw-5521"
    code, out, err = invoke(
        site.lab.url("ok"), "--proxy", f"http://lab:{secret}@{proxy.host}:{proxy.port}", "--json", "--lang", "en"
    )
    assert code == 1
    data = json.loads(out)
    assert (data["failure"]["code"], data["failure"]["status"]) == ("PROXY_AUTH", 407)
    assert data["proxy"] == f"http://lab:***@{proxy.host}:{proxy.port}"
    assert secret not in out + err


def test_cli_text_output_exits_1_on_failure(site: Site) -> None:
    """Without --json: one line per step and a 'failed:' verdict line; exit 1."""
    code, out, _ = invoke(site.lab.url("refused"), "--lang", "en")
    assert code == 1
    lines = out.splitlines()
    assert lines[-1].startswith("failed: ECONNREFUSED while connecting from origin: ")
    assert "FAIL connect" in out


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("127.0.0.1:9/x",), "needs an http:// or https:// scheme"),
        (("http://127.0.0.1:9/", "--proxy", "ftp://127.0.0.1:21"), "ftp"),
    ],
    ids=["url-without-scheme", "unknown-proxy-scheme"],
)
def test_cli_bad_input_exits_2_with_one_line(args: tuple[str, ...], needle: str) -> None:
    """Bad input: exit 2, one line on stderr naming it, nothing on stdout, no traceback."""
    code, out, err = invoke(*args, "--json")
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("sockwise: ")
    assert needle in err
    assert "Traceback" not in err
