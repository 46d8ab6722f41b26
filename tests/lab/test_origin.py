"""What stdlib http.client and socket observe for every origin scenario of the lab, on real sockets."""

from __future__ import annotations

import email.utils
import http.client
import socket
import ssl
import time

import pytest

from sockwise.lab import Lab
from sockwise.lab._origin import ok_body


def _conn(lab: Lab, timeout: float = 5.0) -> http.client.HTTPConnection:
    return http.client.HTTPConnection(lab.host, lab.port("origin"), timeout=timeout)


def _get(lab: Lab, scenario: str, timeout: float = 5.0, **params: object) -> http.client.HTTPResponse:
    url = lab.url(scenario, **params)
    conn = _conn(lab, timeout)
    conn.request("GET", url.split(str(lab.port("origin")), 1)[1])
    return conn.getresponse()


def test_ok_serves_size_and_keeps_alive(sockwise_lab: Lab) -> None:
    """`ok` answers 200 with exactly ?size= bytes and serves several requests on one connection."""
    conn = _conn(sockwise_lab)
    for size in (2, 1, 70_000):
        conn.request("GET", f"/fault/ok?size={size}")
        resp = conn.getresponse()
        assert (resp.status, resp.read()) == (200, ok_body(size))
    assert sockwise_lab.accepted("origin") == 1
    assert [r.nth for r in sockwise_lab.records("ok")] == [1, 2, 3]


def test_ok_chunked(sockwise_lab: Lab) -> None:
    """`ok?chunked=1` frames the body with chunked encoding."""
    resp = _get(sockwise_lab, "ok", size=100, chunked=1)
    assert resp.getheader("Transfer-Encoding") == "chunked"
    assert resp.read() == ok_body(100)


def test_ok_reads_request_bodies(sockwise_lab: Lab) -> None:
    """A POST body is read (so the next request on the connection parses) and recorded."""
    conn = _conn(sockwise_lab)
    conn.request("POST", "/fault/ok", body=b"x" * 5000)
    assert conn.getresponse().read() == b"ok"
    conn.request("GET", "/fault/ok")
    assert conn.getresponse().read() == b"ok"
    assert [r.method for r in sockwise_lab.records("ok")] == ["POST", "GET"]


def test_status_with_retry_after_seconds(sockwise_lab: Lab) -> None:
    """`status` answers the chosen code and echoes Retry-After in seconds."""
    resp = _get(sockwise_lab, "status", code=429, retry_after=3)
    assert (resp.status, resp.getheader("Retry-After")) == (429, "3")


def test_status_with_retry_after_date(sockwise_lab: Lab) -> None:
    """`retry_after_date=S` sends an HTTP-date S seconds from now."""
    before = time.time()
    resp = _get(sockwise_lab, "status", code=503, retry_after_date=30)
    assert resp.status == 503
    when = email.utils.parsedate_to_datetime(resp.getheader("Retry-After") or "").timestamp()
    assert before + 29 <= when <= time.time() + 31


def test_reset_after_request(sockwise_lab: Lab) -> None:
    """`reset-after-request`: getresponse() raises ConnectionResetError errno 104."""
    with pytest.raises(ConnectionResetError) as info:
        _get(sockwise_lab, "reset-after-request")
    assert info.value.errno == 104
    assert len(sockwise_lab.records("reset-after-request")) == 1


def test_empty_reply(sockwise_lab: Lab) -> None:
    """`empty-reply`: getresponse() raises RemoteDisconnected with no errno."""
    with pytest.raises(http.client.RemoteDisconnected) as info:
        _get(sockwise_lab, "empty-reply")
    assert info.value.errno is None


def test_reset_mid_body(sockwise_lab: Lab) -> None:
    """`reset-mid-body`: headers and 1000 bytes arrive, then read() raises ConnectionResetError 104."""
    resp = _get(sockwise_lab, "reset-mid-body")
    assert (resp.status, resp.getheader("Content-Length")) == (200, "100000")
    assert resp.read(1000) == ok_body(1000)
    with pytest.raises(ConnectionResetError) as info:
        resp.read()
    assert info.value.errno == 104


def test_close_mid_body(sockwise_lab: Lab) -> None:
    """`close-mid-body`: read() raises IncompleteRead after exactly the bytes sent."""
    resp = _get(sockwise_lab, "close-mid-body", size=5000, sent=300)
    with pytest.raises(http.client.IncompleteRead) as info:
        resp.read()
    assert (len(info.value.partial), info.value.expected) == (300, 4700)


def test_stall_before_headers(sockwise_lab: Lab) -> None:
    """`stall-before-headers`: the request arrives, and getresponse() times out with errno None."""
    with pytest.raises(TimeoutError) as info:
        _get(sockwise_lab, "stall-before-headers", timeout=0.3)
    assert info.value.errno is None
    assert len(sockwise_lab.records("stall-before-headers")) == 1


def test_stall_mid_body(sockwise_lab: Lab) -> None:
    """`stall-mid-body`: the headers arrive, then read() times out with errno None."""
    resp = _get(sockwise_lab, "stall-mid-body", timeout=0.3)
    assert resp.status == 200
    with pytest.raises(TimeoutError) as info:
        resp.read()
    assert info.value.errno is None


def test_trickle_defeats_per_read_timeouts(sockwise_lab: Lab) -> None:
    """`trickle`: a body slower than the timeout in total still arrives, since each read is quick."""
    start = time.monotonic()
    resp = _get(sockwise_lab, "trickle", timeout=0.5, size=6, interval=0.1)
    assert resp.read() == ok_body(6)
    assert time.monotonic() - start >= 0.6  # longer in total than the 0.5 s per-read timeout


def test_garbage(sockwise_lab: Lab) -> None:
    """`garbage`: getresponse() raises BadStatusLine carrying the SSH banner."""
    with pytest.raises(http.client.BadStatusLine) as info:
        _get(sockwise_lab, "garbage")
    assert "SSH-2.0-OpenSSH_9.6" in str(info.value)


@pytest.mark.parametrize(
    ("mode", "error", "errno"),
    [("fin", http.client.RemoteDisconnected, None), ("rst", ConnectionResetError, 104)],
)
def test_stale_keepalive(sockwise_lab: Lab, mode: str, error: type[Exception], errno: int | None) -> None:
    """`stale-keepalive`: the reused connection fails as the second request arrives."""
    conn = _conn(sockwise_lab)
    conn.request("GET", f"/fault/stale-keepalive?mode={mode}")
    assert conn.getresponse().read() == b"ok"
    conn.request("GET", f"/fault/stale-keepalive?mode={mode}")
    with pytest.raises(error) as info:
        conn.getresponse()
    assert info.value.errno == errno  # type: ignore[attr-defined]
    assert [r.nth for r in sockwise_lab.records("stale-keepalive")] == [1, 2]
    assert sockwise_lab.accepted("origin") == 1


def test_unknown_path_scenario_is_404(sockwise_lab: Lab) -> None:
    """An unknown /fault/<name> answers 404 and names the scenarios that exist."""
    conn = _conn(sockwise_lab)
    conn.request("GET", "/fault/no-such-thing")
    resp = conn.getresponse()
    assert resp.status == 404
    assert b"reset-after-request" in resp.read()


def test_refused(sockwise_lab: Lab) -> None:
    """`refused`: connect() raises ConnectionRefusedError errno 111."""
    with pytest.raises(ConnectionRefusedError) as info:
        socket.create_connection(sockwise_lab.address("refused"), timeout=2)
    assert info.value.errno == 111


def test_reset_on_accept(sockwise_lab: Lab) -> None:
    """`reset-on-accept`: connect() succeeds; recv() raises ECONNRESET, then send() EPIPE."""
    # A blocking connect: one with a timeout polls and then reads SO_ERROR, where an RST that came
    # in meanwhile surfaces as connect()'s own ECONNRESET (a race, seen in CI). Blocking, connect()
    # returns at the handshake and the RST waits for the next call, which is what this pins.
    with socket.create_connection(sockwise_lab.address("reset-on-accept")) as sock:
        sock.settimeout(5)
        with pytest.raises(ConnectionResetError) as info:
            sock.recv(1)
        assert info.value.errno == 104
        with pytest.raises(BrokenPipeError) as pipe:
            sock.sendall(b"GET / HTTP/1.1\r\n\r\n")
        assert pipe.value.errno == 32


def test_backlog_full(sockwise_lab: Lab) -> None:
    """`backlog-full`: SYNs are dropped, so connect() with a timeout raises TimeoutError (errno None)."""
    with pytest.raises(TimeoutError) as info:
        socket.create_connection(sockwise_lab.address("backlog-full"), timeout=0.3)
    assert info.value.errno is None


def _handshake(lab: Lab, scenario: str, *, timeout: float = 5.0, verify: bool = True) -> ssl.SSLSocket:
    ctx = lab.client_ssl_context()
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    sock = socket.create_connection(lab.address(scenario), timeout=timeout)
    try:
        return ctx.wrap_socket(sock, server_hostname=lab.host)
    except BaseException:
        sock.close()
        raise


def test_tls_to_plain(sockwise_lab: Lab) -> None:
    """`tls-to-plain`: the handshake fails with SSLError WRONG_VERSION_NUMBER (its errno is an SSL code)."""
    with pytest.raises(ssl.SSLError) as info:
        _handshake(sockwise_lab, "tls-to-plain")
    assert info.value.reason == "WRONG_VERSION_NUMBER"
    assert info.value.errno == ssl.SSL_ERROR_SSL


def test_tls_stall(sockwise_lab: Lab) -> None:
    """`tls-stall`: the handshake times out with TimeoutError and no errno."""
    with pytest.raises(TimeoutError) as info:
        _handshake(sockwise_lab, "tls-stall", timeout=0.3)
    assert "handshake operation timed out" in str(info.value)
    assert info.value.errno is None


def test_bad_cert(sockwise_lab: Lab) -> None:
    """`bad-cert`: verification fails with 'unable to get local issuer certificate' (X509 code 20)."""
    with pytest.raises(ssl.SSLCertVerificationError) as info:
        _handshake(sockwise_lab, "bad-cert")
    assert info.value.verify_code == 20


def test_wrong_host(sockwise_lab: Lab) -> None:
    """`wrong-host`: a trusted certificate for another name fails with a mismatch (X509 code 64)."""
    with pytest.raises(ssl.SSLCertVerificationError) as info:
        _handshake(sockwise_lab, "wrong-host")
    assert info.value.verify_code == 64
    assert "mismatch" in info.value.verify_message


def test_bad_cert_serves_when_unverified(sockwise_lab: Lab) -> None:
    """`bad-cert` is a working HTTPS server once verification is off: only the certificate is wrong."""
    with _handshake(sockwise_lab, "bad-cert", verify=False) as tls:
        tls.sendall(b"GET /fault/ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := tls.recv(4096):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200 OK")
    assert data.endswith(b"\r\n\r\nok")


@pytest.mark.parametrize("scenario", ["ok", "reset-after-request", "empty-reply", "garbage"])
def test_tls_origin_serves_path_scenarios(sockwise_lab: Lab, scenario: str) -> None:
    """Every path scenario is also served over TLS, failing the same way (a TLS RST reads as EOF on 3.11)."""
    url = sockwise_lab.url(scenario, tls=True)
    conn = http.client.HTTPSConnection(
        sockwise_lab.host, sockwise_lab.port("origin-tls"), timeout=5, context=sockwise_lab.client_ssl_context()
    )
    conn.request("GET", url.split(str(sockwise_lab.port("origin-tls")), 1)[1])
    if scenario == "ok":
        assert conn.getresponse().read() == b"ok"
    elif scenario == "garbage":
        with pytest.raises(http.client.BadStatusLine):
            conn.getresponse()
    else:
        # CPython 3.11 turns a post-handshake RST into EOF (gh-115627); newer ones raise ECONNRESET.
        with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
            conn.getresponse()
    assert len(sockwise_lab.records(scenario)) == 1


def test_url_of_unknown_scenario_suggests(sockwise_lab: Lab) -> None:
    """Asking for an unknown scenario raises ConfigError with the closest names."""
    from sockwise import ConfigError

    with pytest.raises(ConfigError, match="did you mean reset-after-request"):
        sockwise_lab.url("reset-after-requst")
