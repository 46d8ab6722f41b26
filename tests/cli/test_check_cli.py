"""`sockwise check` from the command line: a lab farm's true profiles in every output, the list's sources,
exit codes, bad input in one line, and no password anywhere."""

from __future__ import annotations

import base64
import csv
import http.server
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sockwise import Blame, ErrorCode, Phase, Proxy
from sockwise.check import DEFAULT_TARGET
from sockwise.cli._check import check
from sockwise.lab import Lab
from sockwise.lab._farm import Farm
from sockwise.pool import parse_proxy

E, P, B = ErrorCode, Phase, Blame
MIX = "healthy=4,slow=2,refuse=2,blackhole=2,reset-after-connect=3,auth=3,connect-502=2,ban:403=2"
WRONG = "wrong-pw-7731"
TIMEOUT = "1.0"
TUNNEL = {
    "healthy": ("", "", ""),
    "slow": ("", "", ""),
    "refuse": ("ECONNREFUSED", "proxy_connect", "proxy"),
    "blackhole": ("ETIMEDOUT", "proxy_handshake", "proxy"),
    "reset-after-connect": ("ECONNRESET", "proxy_handshake", "proxy"),
    "auth": ("PROXY_AUTH", "proxy_handshake", "proxy"),
    "connect-502": ("PROXY_REFUSED", "proxy_handshake", "proxy"),
    "ban:403": ("HTTP_STATUS", "wait", "origin"),
}
FORWARD = {
    **TUNNEL,
    "blackhole": ("ETIMEDOUT", "wait", "proxy"),
    "reset-after-connect": ("ECONNRESET", "wait", "proxy"),
    "auth": ("PROXY_AUTH", "wait", "proxy"),
    "connect-502": ("PROXY_REFUSED", "wait", "proxy"),
}


@pytest.fixture
def farm(sockwise_farm: Callable[..., Farm]) -> Farm:
    """A 20-proxy farm holding every profile the check must tell apart."""
    return sockwise_farm(size=20, mix=MIX, seed=3)


@pytest.fixture(autouse=True)
def no_env_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """No *_proxy variable may send a loopback list fetch anywhere, nor a target from the environment."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("SOCKWISE_CHECK_TARGET", raising=False)


def list_lines(farm: Farm, scheme: str = "http", *, with_scheme: bool = True) -> str:
    """The farm as a list file's text; auth proxies carry a wrong password, so they must answer PROXY_AUTH."""
    lines = []
    for member in farm:
        proxy = member.as_scheme(scheme)
        if member.profile == "auth":
            proxy = Proxy(scheme, proxy.host, proxy.port, "lab", WRONG)
        url = proxy.url
        lines.append(url if with_scheme else url.split("://", 1)[1])
    return "# a farm\n" + "\n".join(lines) + "\n"


def secrets_of(farm: Farm) -> list[str]:
    """Every string that would betray a password: the wrong one, the farm's own, their Basic tokens."""
    found = [WRONG, base64.b64encode(f"lab:{WRONG}".encode()).decode()]
    for member in farm.by_profile("auth"):
        assert member.spec.password
        found += [member.spec.password, base64.b64encode(f"lab:{member.spec.password}".encode()).decode()]
    return found


def run(*args: str, stdin: str | None = None) -> Result:
    """Invoke `sockwise check` with separate stdout and stderr."""
    return CliRunner().invoke(check, list(args), input=stdin)


def by_profile(farm: Farm, rows: list[dict[str, str]]) -> dict[str, set[tuple[str, str, str]]]:
    """(code, phase, blame) seen per profile, from output rows naming redacted proxies."""
    seen: dict[str, set[tuple[str, str, str]]] = {}
    for row in rows:
        profile = farm.profile_of(parse_proxy(row["proxy"]))
        seen.setdefault(profile, set()).add((row["code"] or "", row["phase"] or "", row["blame"] or ""))
    return seen


def assert_no_secret(farm: Farm, *texts: str) -> None:
    """None of the texts holds a password or a Basic token."""
    for secret in secrets_of(farm):
        for text in texts:
            assert secret not in text


@pytest.fixture
def serve_text() -> Iterator[Callable[[str], str]]:
    """A loopback http.server serving a text at /list.txt; yields a function that starts one and gives its URL."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(text: str) -> str:
        body = text.encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
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


# -- the farm's truth, through each output ---------------------------------------------------------------------------
def test_connect_check_writes_each_true_profile_to_csv(sockwise_lab: Lab, farm: Farm, tmp_path: Path) -> None:
    """An https target through the farm (CONNECT): the CSV row of each proxy holds its profile's code/phase/blame."""
    listing = tmp_path / "proxies.txt"
    listing.write_text(list_lines(farm))
    out = tmp_path / "out.csv"
    result = run(
        str(listing),
        "--target", sockwise_lab.url("ok", tls=True),
        "--cafile", str(sockwise_lab.ca_file),
        "--timeout", TIMEOUT,
        "--concurrency", "20",
        "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    with out.open(newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == 20
    assert by_profile(farm, rows) == {profile: {truth} for profile, truth in TUNNEL.items()}
    assert {row["protocol"] for row in rows} == {"http-connect"}
    statuses = {farm.profile_of(parse_proxy(r["proxy"])): r["status"] for r in rows}
    assert (statuses["auth"], statuses["connect-502"], statuses["ban:403"], statuses["healthy"]) == (
        "407",
        "502",
        "403",
        "200",
    )
    for row in rows:  # the per-proxy table shows the same verdict
        line = next(line for line in result.stdout.splitlines() if f" {row['proxy']} " in line)
        code_cell = " ".join(filter(None, (row["code"], row["status"])))
        expected = [row["outcome"], *code_cell.split(), row["phase"], row["blame"]]
        *cells, latency = line.split()[1:]
        assert cells == [cell for cell in expected if cell]
        # The table rounds the latency to whole ms, the CSV to 3 decimals: 4.5004 is "5" there and
        # "4.5" here (which rounds to 4 again), so compare within the rounding.
        assert abs(int(latency) - float(row["latency_ms"])) <= 0.5005
    port = sockwise_lab.port("origin-tls")
    assert f"checked 20 proxies against https://127.0.0.1:{port}/fault/ok in " in result.stdout
    assert ": 6 ok, median " in result.stdout
    assert "│ proxy   │ 12 " in result.stdout  # the outcome table
    assert "│ ECONNRESET    │ proxy  │ 3 " in result.stdout  # the failures by code
    assert "checked 20/20, 6 ok" in result.stderr  # plain progress when stderr is not a terminal
    assert f"wrote 20 results to {out}" in result.stderr
    assert_no_secret(farm, result.stdout, result.stderr, out.read_text())


def test_stdin_list_without_schemes_checked_as_socks5_in_json(sockwise_lab: Lab, farm: Farm) -> None:
    """`-` reads stdin; --scheme socks5 applies to host:port lines; --json holds the summary and every result."""
    result = run(
        "-", "--scheme", "socks5", "--json", "--timeout", TIMEOUT, "--concurrency", "20",
        "--target", sockwise_lab.url("ok", tls=True), "--cafile", str(sockwise_lab.ca_file),
        stdin=list_lines(farm, "socks5", with_scheme=False),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["summary"]["by_outcome"] == {"ok": 6, "proxy": 12, "blocked": 2}
    assert report["summary"]["total"] == 20
    assert {r["protocol"] for r in report["results"]} == {"socks5"}
    truth = {**TUNNEL}
    assert by_profile(farm, report["results"]) == {profile: {truth[profile]} for profile in TUNNEL}
    assert_no_secret(farm, result.stdout, result.stderr)


def test_list_from_a_loopback_url_checked_absolute_form_to_jsonl(
    sockwise_lab: Lab, farm: Farm, tmp_path: Path, serve_text: Callable[[str], str]
) -> None:
    """A list served over http, an http target (absolute-form): each JSONL record holds its profile's truth."""
    out = tmp_path / "out.jsonl"
    result = run(
        serve_text(list_lines(farm)), "--target", sockwise_lab.url("ok"), "--timeout", TIMEOUT,
        "--concurrency", "20", "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 20
    assert by_profile(farm, records) == {profile: {truth} for profile, truth in FORWARD.items()}
    assert {r["protocol"] for r in records} == {"http-forward"}
    ok = [r for r in records if r["ok"]]
    assert all(r["phases_ms"]["body"] >= 0 and r["latency_ms"] > 0 for r in ok)
    assert_no_secret(farm, result.stdout, result.stderr, out.read_text())


def test_no_password_in_any_output_when_credentials_work(
    sockwise_lab: Lab, sockwise_farm: Callable[..., Farm], tmp_path: Path
) -> None:
    """Auth proxies listed with their real passwords work; stdout, stderr, CSV and JSONL never show a password."""
    small = sockwise_farm(size=4, mix="auth=2,healthy=1,refuse=1", seed=1)
    listing = small.write_list(tmp_path / "creds.txt")
    bad_line = "http://lab:LEAKY-secret-99@127.0.0.1:notaport"
    listing.write_text(listing.read_text() + bad_line + "\n")
    outputs = []
    for name in ("out.csv", "out.jsonl"):
        result = run(
            str(listing), "--target", sockwise_lab.url("ok"), "--timeout", TIMEOUT, "--skip-invalid",
            "--out", str(tmp_path / name), *(["--json"] if name.endswith("jsonl") else []),
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        outputs += [result.stdout, result.stderr, (tmp_path / name).read_text()]
    joined = "\n".join(outputs)
    assert joined.count("http://lab:***@127.0.0.1:") >= 4  # the auth proxies, shown redacted
    assert "skipped in" in joined
    assert "line 5:" in joined
    assert "LEAKY-secret-99" not in joined
    assert_no_secret(small, *outputs)
    records = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert sorted(r["outcome"] for r in records) == ["ok", "ok", "ok", "proxy"]


# -- exit codes and bad input ----------------------------------------------------------------------------------------
def test_exit_1_when_no_proxy_works(sockwise_lab: Lab, tmp_path: Path) -> None:
    """The check ran but every proxy failed: exit 1, the summary still printed."""
    listing = tmp_path / "dead.txt"
    listing.write_text("".join(sockwise_lab.add_proxy("refuse").proxy.url + "\n" for _ in range(2)))
    result = run(str(listing), "--target", sockwise_lab.url("ok"), "--timeout", TIMEOUT)
    assert result.exit_code == 1, result.output
    assert ": 0 ok" in result.stdout
    assert "│ ECONNREFUSED │ proxy │ 2 " in result.stdout


def one_line_exit_2(result: Result) -> str:
    """The result is exit 2 with exactly one `sockwise: ...` line on stderr, nothing on stdout, no traceback."""
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("sockwise: ")
    assert "Traceback" not in result.output
    return lines[0]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("# nothing here\n\n", "holds no proxy; write one proxy a line, e.g. http://127.0.0.1:8080"),
        (
            "127.0.0.1:8080\n# ok so far\nhttp://u:hunter22@127.0.0.1:99999\n",
            ": line 3: ",
        ),
    ],
    ids=["empty", "malformed-line"],
)
def test_bad_list_content_is_one_line_exit_2(sockwise_lab: Lab, tmp_path: Path, content: str, message: str) -> None:
    """An empty list or a bad line (named by its number, its password masked) ends before any probe."""
    listing = tmp_path / "list.txt"
    listing.write_text(content)
    line = one_line_exit_2(run(str(listing), "--target", sockwise_lab.url("ok")))
    assert message in line
    assert f"proxy list {listing}" in line
    assert "hunter22" not in line


def test_skip_invalid_checks_the_rest(sockwise_lab: Lab, tmp_path: Path) -> None:
    """--skip-invalid reports each bad line by number on stderr and checks the good ones."""
    healthy = sockwise_lab.add_proxy("healthy")
    listing = tmp_path / "list.txt"
    listing.write_text(f"not a proxy\n{healthy.proxy.url}\n127.0.0.1:0\n")
    result = run(str(listing), "--target", sockwise_lab.url("ok"), "--skip-invalid", "--json")
    assert result.exit_code == 0, result.output
    skipped = [line for line in result.stderr.splitlines() if line.startswith("sockwise: skipped in")]
    assert [s.split(": ")[2] for s in skipped] == ["line 1", "line 3"]
    report = json.loads(result.stdout)
    assert report["skipped_lines"] == [1, 3]
    assert [r["proxy"] for r in report["results"]] == [healthy.proxy.redacted]
    assert healthy.connections == 1


def test_skip_invalid_with_nothing_valid_is_exit_2(tmp_path: Path) -> None:
    """When every line is bad, --skip-invalid still ends with one line and exit 2."""
    listing = tmp_path / "list.txt"
    listing.write_text("nope\nstill nope\n")
    result = run(str(listing), "--target", "http://127.0.0.1:9/", "--skip-invalid")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1].endswith(
        "holds no valid proxy; write one proxy a line, e.g. http://127.0.0.1:8080"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.txt"], "proxy list 'missing.txt': no such file; give a file, - for standard input, or an http"),
        (["example.com/proxies.txt"], "no such file; give a file, - for standard input, or an http:// or https:// URL"),
        (["ftp://example.com/list"], "cannot read a proxy list from a ftp:// URL"),
        (["LIST", "--target", "example.com/ok"], "target 'example.com/ok' needs an http:// or https:// scheme"),
        (["LIST", "--out", "results.txt"], "cannot tell the format of 'results.txt' from its extension '.txt'"),
        (
            ["LIST", "--out", "no/such/dir/results.csv"],
            "cannot write --out 'no/such/dir/results.csv': 'no/such/dir' is",
        ),
    ],
    ids=["missing-file", "url-without-scheme", "other-scheme", "target-without-scheme", "out-extension", "out-dir"],
)
def test_bad_arguments_are_one_line_exit_2(
    sockwise_lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    """Bad PROXIES, --target or --out: one line naming it and the fix, exit 2, and no proxy probed."""
    monkeypatch.chdir(tmp_path)
    proxy = sockwise_lab.add_proxy("healthy")
    Path("LIST").write_text(proxy.proxy.url + "\n")
    args = list(args)
    if "--target" not in args:
        args += ["--target", sockwise_lab.url("ok")]
    assert message in one_line_exit_2(run(*args))
    assert proxy.connections == 0
    assert not Path("results.txt").exists()


def test_a_cafile_that_is_not_pem_is_one_line_exit_2(tmp_path: Path) -> None:
    """--cafile pointing at a file that holds no certificate: one line naming it, exit 2."""
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate\n")
    listing = tmp_path / "list.txt"
    listing.write_text("127.0.0.1:8080\n")
    line = one_line_exit_2(run(str(listing), "--cafile", str(bad), "--target", "https://127.0.0.1:9/"))
    assert f"--cafile {str(bad)!r} is not a PEM file of CA certificates" in line


def test_help_documents_the_default_target_and_exit_codes() -> None:
    """--help names the default target and what exit 0, 1 and 2 mean."""
    result = run("--help")
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    assert DEFAULT_TARGET in text
    assert "Exit status: 0 when the check ran and at least one proxy works, 1 when none does, 2 on bad input" in text
