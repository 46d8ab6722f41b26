"""What stdlib http.client and a raw SOCKS client observe through every lab proxy profile, on real sockets."""

from __future__ import annotations

import base64
import gc
import http.client
import ipaddress
import os
import socket
import ssl
import struct
import threading
import time

import pytest

from sockwise import ConfigError, Proxy
from sockwise.lab import Lab, get_scenario
from sockwise.lab._origin import ok_body
from sockwise.lab._proxy import PROFILES, LabProxy, ProxyStats, Site, parse_profile, route_target

TIMEOUT = 5.0
SHORT = 0.5  # a client timeout for what never answers


# -- helpers --------------------------------------------------------------------------------------------------------
def _basic(username: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Proxy-Authorization": f"Basic {token}"}


def _tunnel(
    proxy: LabProxy,
    host: str,
    port: int,
    *,
    headers: dict[str, str] | None = None,
    timeout: float = TIMEOUT,
) -> http.client.HTTPConnection:
    conn = http.client.HTTPConnection(proxy.host, proxy.port, timeout=timeout)
    conn.set_tunnel(host, port, headers=headers)
    return conn


def _tunnel_get(lab: Lab, proxy: LabProxy, path: str = "/fault/ok", **kw: object) -> tuple[int, bytes]:
    conn = _tunnel(proxy, lab.host, lab.port("origin"), **kw)  # type: ignore[arg-type]
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def _absolute(
    proxy: LabProxy, url: str, *, headers: dict[str, str] | None = None, timeout: float = TIMEOUT
) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection(proxy.host, proxy.port, timeout=timeout)
    conn.request("GET", url, headers=headers or {})
    return conn.getresponse()


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def _socks5_request(host: str, port: int) -> bytes:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return b"\x05\x01\x00\x03" + bytes([len(host)]) + host.encode() + struct.pack("!H", port)
    atyp = b"\x01" if ip.version == 4 else b"\x04"
    return b"\x05\x01\x00" + atyp + ip.packed + struct.pack("!H", port)


def _socks5(proxy: LabProxy, host: str, port: int, *, timeout: float = TIMEOUT) -> tuple[socket.socket, bytes]:
    """Greet (no auth), ask to connect; returns the socket and the 10-byte reply (or what came)."""
    sock = socket.create_connection((proxy.host, proxy.port), timeout=timeout)
    sock.sendall(b"\x05\x01\x00")
    assert _recv_exactly(sock, 2) == b"\x05\x00"
    sock.sendall(_socks5_request(host, port))
    return sock, _recv_exactly(sock, 10)


def _socks4(proxy: LabProxy, host: str, port: int, *, user: bytes = b"lab") -> tuple[socket.socket, bytes]:
    sock = socket.create_connection((proxy.host, proxy.port), timeout=TIMEOUT)
    try:
        packed, name = ipaddress.IPv4Address(host).packed, b""
    except ValueError:
        packed, name = b"\0\0\0\x01", host.encode() + b"\0"
    sock.sendall(b"\x04\x01" + struct.pack("!H", port) + packed + user + b"\0" + name)
    return sock, _recv_exactly(sock, 8)


def _http_over(sock: socket.socket, path: str = "/fault/ok") -> bytes:
    """One GET with Connection: close over an established tunnel; the whole raw response."""
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n".encode())
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    sock.close()
    return data


# -- parsing --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("profile", "options", "message"),
    [
        ("helthy", {}, "unknown lab proxy profile 'helthy'; did you mean healthy? profiles: healthy, refuse,"),
        ("ban", {}, "lab proxy profile 'ban' needs a status: write ban:403 or ban:429"),
        ("ban:abc", {}, "lab proxy profile 'ban:abc': the ban status must be 400-599, e.g. ban:403"),
        ("ban:200", {}, "lab proxy profile 'ban:200': the ban status must be 400-599, e.g. ban:403"),
        ("healthy:1", {}, "unknown lab proxy profile 'healthy:1';"),
        ("healthy", {"latency": 1}, "lab proxy profile 'healthy' takes no option 'latency'; it takes: port, hosts,"),
        ("slow", {"latency": "soon"}, "lab proxy profile 'slow': latency must be a number from 0 to 60, not 'soon'"),
        ("slow", {"latency": -1}, "lab proxy profile 'slow': latency must be a number from 0 to 60, not -1"),
        ("healthy", {"port": 70000}, "lab proxy profile 'healthy': port must be an integer from 0 to 65535"),
        ("auth", {"username": "a:b"}, "lab proxy profile 'auth': username must not contain ':' (Basic auth)"),
        ("auth", {"password": ""}, "lab proxy profile 'auth': password must be a non-empty one-line string"),
        ("ban:403", {"site": "host:notaport"}, "lab proxy profile 'ban:403': bad site 'host:notaport'"),
        (
            "healthy",
            {"hosts": {"outside.test": "192.0.2.1"}},
            "hosts maps 'outside.test' to '192.0.2.1'; a lab proxy reaches only loopback addresses",
        ),
        ("healthy", {"hosts": "nothing"}, "bad hosts entry 'nothing'; write name=127.0.0.2"),
    ],
)
def test_parse_profile_rejects_bad_input(profile: str, options: dict[str, object], message: str) -> None:
    """Unknown profiles and bad options raise ConfigError naming the input and the fix."""
    with pytest.raises(ConfigError) as info:
        parse_profile(profile, **options)
    assert message in str(info.value)


def test_parse_profile_values() -> None:
    """Profiles parse into their kind, status and options; strings from a command line are accepted."""
    assert parse_profile("ban:429", site="a.test,127.0.0.1:8080", retry_after=7).sites == (
        Site("a.test"),
        Site("127.0.0.1", 8080),
    )
    assert parse_profile("ban:429", retry_after=7).retry_after == "7"
    assert (parse_profile("connect-502").kind, parse_profile("connect-502").status) == ("connect-502", 502)
    assert parse_profile("slow").latency == 0.2
    assert parse_profile("slow", latency="0.5", port="0").latency == 0.5
    assert parse_profile("healthy", hosts="A.test=127.0.0.2, b.test=::1").hosts == (
        ("a.test", "127.0.0.2"),
        ("b.test", "::1"),
    )
    spec = parse_profile("auth")
    assert spec.username == "lab"
    assert spec.password is not None
    assert len(spec.password) == 16
    assert spec.password not in repr(spec)
    assert parse_profile("auth").password != spec.password  # generated afresh


def test_route_target_never_resolves() -> None:
    """Targets resolve through IP literals and the static map only; other addresses are refused."""
    assert route_target("127.0.0.5") == "127.0.0.5"
    assert route_target("::1") == "::1"
    assert route_target("LOCALHOST.") == "127.0.0.1"
    assert route_target("site.test", {"site.test": "127.0.0.9"}) == "127.0.0.9"
    assert route_target("example.invalid") is None
    assert route_target("127.1") is None  # not an IP literal to ipaddress: a name nobody mapped
    for outside in ("192.0.2.1", "2001:db8::1", "0.0.0.0", "::ffff:127.0.0.1"):
        with pytest.raises(PermissionError):
            route_target(outside)


def test_every_profile_is_in_the_catalogue() -> None:
    """Each profile is registered as a proxy scenario with what stdlib sees."""
    for name in PROFILES:
        assert get_scenario(name, "proxy").kind == "proxy"
    assert "Tunnel connection failed: 502 Bad Gateway" in get_scenario("connect-502").observed
    assert "ConnectionRefusedError errno 111" in get_scenario("refuse").observed


# -- the LabProxy object --------------------------------------------------------------------------------------------
def test_lab_proxy_identity(sockwise_lab: Lab) -> None:
    """Names are unique per lab; .proxy is http, .as_scheme swaps the scheme and keeps the credentials."""
    healthy = sockwise_lab.add_proxy("healthy")
    auth = sockwise_lab.add_proxy("auth", username="u", password="secret-pw")
    assert (healthy.name, auth.name) == ("proxy-1-healthy", "proxy-2-auth")
    assert healthy.proxy == Proxy("http", "127.0.0.1", healthy.port)
    assert auth.as_scheme("socks5") == Proxy("socks5", "127.0.0.1", auth.port, "u", "secret-pw")
    assert "secret-pw" not in repr(auth)
    assert sockwise_lab.proxies == [healthy, auth]
    with pytest.raises(ConfigError, match="not 'https'"):
        healthy.as_scheme("https")
    with pytest.raises(ConfigError, match="unknown lab proxy profile 'nope'"):
        sockwise_lab.add_proxy("nope")


# -- healthy --------------------------------------------------------------------------------------------------------
def test_healthy_connect_tunnel(sockwise_lab: Lab) -> None:
    """healthy: set_tunnel (CONNECT) reaches the origin; one CONNECT record, one tunnel."""
    proxy = sockwise_lab.add_proxy("healthy")
    assert _tunnel_get(sockwise_lab, proxy) == (200, b"ok")
    origin = sockwise_lab.port("origin")
    [record] = sockwise_lab.records(proxy.name)
    assert (record.method, record.target, record.nth) == ("CONNECT", f"127.0.0.1:{origin}", 1)
    assert sockwise_lab.wait_for(lambda: proxy.stats().tunnels == 1)
    assert proxy.stats() == ProxyStats(connections=1, handshakes=1, tunnels=1)
    assert sockwise_lab.accepted(proxy.name) == 1


def test_healthy_tunnel_keeps_alive_and_relays_big_bodies(sockwise_lab: Lab) -> None:
    """Several requests, one of 5 MB, run over one tunnel to one origin connection, byte for byte."""
    proxy = sockwise_lab.add_proxy("healthy")
    conn = _tunnel(proxy, sockwise_lab.host, sockwise_lab.port("origin"))
    for size in (2, 5_000_000, 10):
        conn.request("GET", f"/fault/ok?size={size}")
        resp = conn.getresponse()
        assert (resp.status, resp.read()) == (200, ok_body(size))
    conn.close()
    assert sockwise_lab.accepted("origin") == 1
    assert [r.nth for r in sockwise_lab.records("ok")] == [1, 2, 3]


def test_healthy_tls_through_connect(sockwise_lab: Lab) -> None:
    """TLS inside a CONNECT tunnel to the TLS origin verifies against the lab's CA."""
    proxy = sockwise_lab.add_proxy("healthy")
    conn = http.client.HTTPSConnection(
        proxy.host, proxy.port, timeout=TIMEOUT, context=sockwise_lab.client_ssl_context()
    )
    conn.set_tunnel("127.0.0.1", sockwise_lab.port("origin-tls"))
    conn.request("GET", "/fault/ok")
    resp = conn.getresponse()
    assert (resp.status, resp.read()) == (200, b"ok")
    conn.close()


def test_healthy_absolute_form_keeps_alive_both_ways(sockwise_lab: Lab) -> None:
    """Absolute-form GETs on one client connection reuse one upstream connection; bodies and chunks pass."""
    proxy = sockwise_lab.add_proxy("healthy")
    conn = http.client.HTTPConnection(proxy.host, proxy.port, timeout=TIMEOUT)
    for query in ("size=70000", "size=5000&chunked=1", "size=2"):
        conn.request("GET", sockwise_lab.url("ok") + "?" + query)
        resp = conn.getresponse()
        assert (resp.status, len(resp.read())) == (200, int(query.split("&")[0].split("=")[1]))
    conn.request("POST", sockwise_lab.url("ok"), body=b"x" * 3000)
    assert conn.getresponse().read() == b"ok"
    conn.close()
    assert proxy.stats() == ProxyStats(connections=1, handshakes=4, forwarded=4)
    assert sockwise_lab.accepted("origin") == 1
    assert [(r.method, r.nth) for r in sockwise_lab.records("ok")] == [("GET", 1), ("GET", 2), ("GET", 3), ("POST", 4)]
    assert [r.method for r in sockwise_lab.records(proxy.name)] == ["GET", "GET", "GET", "POST"]


def test_healthy_socks5_every_address_type(sockwise_lab: Lab) -> None:
    """SOCKS5 CONNECT by IPv4 and by domain reply 0x00 and tunnel; IPv6 ::1 (nothing listens) gets 0x05."""
    proxy = sockwise_lab.add_proxy("healthy")
    origin = sockwise_lab.port("origin")
    for host in ("127.0.0.1", "localhost"):
        sock, reply = _socks5(proxy, host, origin)
        assert reply[:4] == b"\x05\x00\x00\x01"
        assert reply[4:8] == socket.inet_aton("127.0.0.1")  # the upstream socket's own address
        assert _http_over(sock).endswith(b"\r\n\r\nok")
    sock, reply = _socks5(proxy, "::1", origin)
    assert reply == b"\x05\x05\x00\x01" + b"\0" * 6  # connection refused
    assert sock.recv(1) == b""
    sock.close()
    assert [r.target for r in sockwise_lab.records(proxy.name)] == [
        f"127.0.0.1:{origin}",
        f"localhost:{origin}",
        f"[::1]:{origin}",
    ]


def test_healthy_socks5_takes_any_login_and_rejects_other_commands(sockwise_lab: Lab) -> None:
    """Without auth, a client offering only user/pass is let in; BIND gets 0x07 (command not supported)."""
    proxy = sockwise_lab.add_proxy("healthy")
    sock = socket.create_connection((proxy.host, proxy.port), timeout=TIMEOUT)
    sock.sendall(b"\x05\x01\x02")
    assert _recv_exactly(sock, 2) == b"\x05\x02"
    sock.sendall(b"\x01\x01u\x01p")
    assert _recv_exactly(sock, 2) == b"\x01\x00"
    sock.sendall(b"\x05\x02\x00\x01" + socket.inet_aton("127.0.0.1") + struct.pack("!H", 80))
    assert _recv_exactly(sock, 10) == b"\x05\x07\x00\x01" + b"\0" * 6
    sock.close()


def test_healthy_socks4_and_4a(sockwise_lab: Lab) -> None:
    """SOCKS4 (IPv4) and SOCKS4a (a name) reply 0x5A and tunnel to the origin."""
    proxy = sockwise_lab.add_proxy("healthy")
    origin = sockwise_lab.port("origin")
    for host in ("127.0.0.1", "localhost"):
        sock, reply = _socks4(proxy, host, origin)
        assert reply[:2] == b"\x00\x5a"
        assert _http_over(sock).endswith(b"\r\n\r\nok")
    assert [(r.method, r.target) for r in sockwise_lab.records(proxy.name)] == [
        ("SOCKS4", f"127.0.0.1:{origin}"),
        ("SOCKS4", f"localhost:{origin}"),
    ]


def test_healthy_relays_bytes_pipelined_behind_connect(sockwise_lab: Lab) -> None:
    """A request sent in the same packet as the CONNECT is not lost at the handover to the relay."""
    proxy = sockwise_lab.add_proxy("healthy")
    origin = sockwise_lab.port("origin")
    sock = socket.create_connection((proxy.host, proxy.port), timeout=TIMEOUT)
    connect = f"CONNECT 127.0.0.1:{origin} HTTP/1.1\r\n\r\n"
    sock.sendall(connect.encode() + b"GET /fault/ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    sock.close()
    assert data.startswith(b"HTTP/1.1 200 Connection established\r\n\r\nHTTP/1.1 200 OK\r\n")
    assert data.endswith(b"\r\n\r\nok")


def test_tunnel_passes_half_close(sockwise_lab: Lab) -> None:
    """A client that shuts down its sending side still gets the whole response, then EOF."""
    proxy = sockwise_lab.add_proxy("healthy")
    sock, reply = _socks5(proxy, "127.0.0.1", sockwise_lab.port("origin"))
    assert reply[1] == 0
    sock.sendall(b"GET /fault/ok?size=100000 HTTP/1.1\r\nHost: x\r\n\r\n")
    sock.shutdown(socket.SHUT_WR)
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    sock.close()
    assert data.endswith(b"\r\n\r\n" + ok_body(100_000))


def test_tunnel_mirrors_origin_reset_and_fin(sockwise_lab: Lab) -> None:
    """Through a tunnel, an origin RST reaches the client as ECONNRESET and an empty reply as RemoteDisconnected."""
    proxy = sockwise_lab.add_proxy("healthy")
    with pytest.raises(ConnectionResetError) as reset:
        _tunnel_get(sockwise_lab, proxy, "/fault/reset-after-request")
    assert reset.value.errno == 104
    with pytest.raises(http.client.RemoteDisconnected) as fin:
        _tunnel_get(sockwise_lab, proxy, "/fault/empty-reply")
    assert (fin.value.errno, str(fin.value)) == (None, "Remote end closed connection without response")


def test_upstream_failures(sockwise_lab: Lab) -> None:
    """An upstream that refuses gets CONNECT 502 / SOCKS5 0x05; absolute-form answers 502 when the origin fails."""
    proxy = sockwise_lab.add_proxy("healthy")
    refused = sockwise_lab.port("refused")
    conn = _tunnel(proxy, "127.0.0.1", refused)
    with pytest.raises(OSError, match=r"^Tunnel connection failed: 502 Bad Gateway$") as info:
        conn.connect()
    assert info.value.errno is None
    sock, reply = _socks5(proxy, "127.0.0.1", refused)
    assert reply[1] == 0x05
    sock.close()
    for url in (
        f"http://127.0.0.1:{refused}/",
        sockwise_lab.url("reset-after-request"),
        sockwise_lab.url("empty-reply"),
    ):
        resp = _absolute(proxy, url)
        assert resp.status == 502, url
        assert b"lab proxy" in resp.read()
    # once the response started, a mid-body reset is mirrored
    resp = _absolute(proxy, sockwise_lab.url("reset-mid-body"))
    assert resp.status == 200
    with pytest.raises(ConnectionResetError):
        resp.read()


# -- safety ---------------------------------------------------------------------------------------------------------
@pytest.fixture
def no_dns(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Make any name lookup (not an IP literal) fail loudly and remember it, in every thread."""
    asked: list[object] = []
    real = socket.getaddrinfo

    def spy(host: object, *args: object, **kwargs: object) -> object:
        text = host.decode() if isinstance(host, bytes) else host
        try:
            ipaddress.ip_address(str(text).split("%")[0])
        except ValueError:
            asked.append(host)
            raise socket.gaierror(socket.EAI_NONAME, "DNS is forbidden in this test") from None
        return real(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", spy)
    return asked


def test_refuses_unknown_names_and_outside_addresses_without_dns(sockwise_lab: Lab, no_dns: list[object]) -> None:
    """Unknown names get 502 / SOCKS 0x04, non-loopback addresses 403 / SOCKS 0x02, with no DNS query and no connect."""
    proxy = sockwise_lab.add_proxy("healthy")
    for host, port, status in (
        ("example.invalid", 80, 502),
        ("192.0.2.1", 80, 403),
        ("2001:db8::1", 443, 403),
        ("0.0.0.0", sockwise_lab.port("origin"), 403),
    ):
        conn = _tunnel(proxy, host, port)
        with pytest.raises(OSError, match=rf"^Tunnel connection failed: {status} ") as info:
            conn.connect()
        assert info.value.errno is None
        conn.close()
    assert _absolute(proxy, "http://example.invalid/x").status == 502
    assert _absolute(proxy, "http://192.0.2.1/x").status == 403
    for host, code in (("example.invalid", 0x04), ("192.0.2.1", 0x02), ("2001:db8::1", 0x02)):
        sock, reply = _socks5(proxy, host, 80)
        assert reply == bytes([5, code, 0, 1, 0, 0, 0, 0, 0, 0]), host
        sock.close()
    sock, reply = _socks4(proxy, "example.invalid", 80)
    assert reply[:2] == b"\x00\x5b"
    sock.close()
    assert no_dns == []
    stats = proxy.stats()
    assert (stats.denied, stats.tunnels, stats.forwarded) == (10, 0, 0)


def test_hosts_option_maps_names_to_loopback(sockwise_lab: Lab, no_dns: list[object]) -> None:
    """A name given in hosts= is reached through its loopback address, by CONNECT, absolute-form and SOCKS5."""
    proxy = sockwise_lab.add_proxy("healthy", hosts={"shop.test": "127.0.0.1"})
    origin = sockwise_lab.port("origin")
    conn = _tunnel(proxy, "shop.test", origin)
    conn.request("GET", "/fault/ok")
    assert conn.getresponse().read() == b"ok"
    conn.close()
    assert _absolute(proxy, f"http://shop.test:{origin}/fault/ok").read() == b"ok"
    sock, reply = _socks5(proxy, "shop.test", origin)
    assert reply[1] == 0
    assert _http_over(sock).endswith(b"ok")
    assert no_dns == []


# -- fault profiles -------------------------------------------------------------------------------------------------
def test_refuse(sockwise_lab: Lab) -> None:
    """refuse: connecting to the proxy raises ConnectionRefusedError errno 111, before any CONNECT."""
    proxy = sockwise_lab.add_proxy("refuse")
    conn = _tunnel(proxy, sockwise_lab.host, sockwise_lab.port("origin"))
    with pytest.raises(ConnectionRefusedError) as info:
        conn.connect()
    assert info.value.errno == 111
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((proxy.host, proxy.port), timeout=TIMEOUT)
    assert sockwise_lab.records(proxy.name) == []


def test_blackhole(sockwise_lab: Lab) -> None:
    """blackhole: CONNECT, absolute-form and SOCKS5 all end in TimeoutError('timed out') with no errno."""
    proxy = sockwise_lab.add_proxy("blackhole")
    conn = _tunnel(proxy, sockwise_lab.host, sockwise_lab.port("origin"), timeout=SHORT)
    with pytest.raises(TimeoutError) as info:
        conn.connect()  # the CONNECT is sent; reading its answer times out
    assert (info.value.errno, str(info.value)) == (None, "timed out")
    conn.close()
    conn = http.client.HTTPConnection(proxy.host, proxy.port, timeout=SHORT)
    conn.request("GET", sockwise_lab.url("ok"))  # sending works
    with pytest.raises(TimeoutError):
        conn.getresponse()
    conn.close()
    sock = socket.create_connection((proxy.host, proxy.port), timeout=SHORT)
    sock.sendall(b"\x05\x01\x00")
    with pytest.raises(TimeoutError):
        sock.recv(2)
    sock.close()
    assert sockwise_lab.accepted(proxy.name) == 3
    assert sockwise_lab.records(proxy.name) == []


def test_auth_http(sockwise_lab: Lab) -> None:
    """auth: CONNECT without or with wrong credentials fails with 407; right ones tunnel; absolute-form too."""
    proxy = sockwise_lab.add_proxy("auth", username="user", password="right-pw")
    for headers in (None, _basic("user", "wrong-pw")):
        conn = _tunnel(proxy, sockwise_lab.host, sockwise_lab.port("origin"), headers=headers)
        with pytest.raises(OSError, match=r"^Tunnel connection failed: 407 Proxy Authentication Required$") as info:
            conn.connect()
        assert info.value.errno is None
        conn.close()
    assert _tunnel_get(sockwise_lab, proxy, headers=_basic("user", "right-pw")) == (200, b"ok")
    resp = _absolute(proxy, sockwise_lab.url("ok"))
    assert (resp.status, resp.getheader("Proxy-Authenticate")) == (407, 'Basic realm="sockwise-lab"')
    assert _absolute(proxy, sockwise_lab.url("ok"), headers=_basic("user", "right-pw")).read() == b"ok"
    # the credentials never reach a record
    assert all(
        "right-pw" not in str(r) and base64.b64encode(b"user:right-pw").decode() not in str(r)
        for r in sockwise_lab.records()
    )
    assert ("Proxy-Authorization", "Basic ***") in sockwise_lab.records(proxy.name)[-1].headers


def test_auth_socks(sockwise_lab: Lab) -> None:
    """auth over SOCKS5: no user/pass offered → 0xFF; wrong password → status 0x01; right → tunnel; SOCKS4 → 0x5B."""
    proxy = sockwise_lab.add_proxy("auth", username="user", password="right-pw")
    sock = socket.create_connection((proxy.host, proxy.port), timeout=TIMEOUT)
    sock.sendall(b"\x05\x01\x00")
    assert _recv_exactly(sock, 3) == b"\x05\xff"  # then EOF
    sock.close()
    for password, status in ((b"wrong-pw", b"\x01\x01"), (b"right-pw", b"\x01\x00")):
        sock = socket.create_connection((proxy.host, proxy.port), timeout=TIMEOUT)
        sock.sendall(b"\x05\x02\x00\x02")
        assert _recv_exactly(sock, 2) == b"\x05\x02"
        sock.sendall(b"\x01\x04user" + bytes([len(password)]) + password)
        assert _recv_exactly(sock, 2) == status
        if password == b"wrong-pw":
            assert sock.recv(1) == b""
            sock.close()
    sock.sendall(_socks5_request("127.0.0.1", sockwise_lab.port("origin")))
    assert _recv_exactly(sock, 10)[1] == 0
    assert _http_over(sock).endswith(b"ok")
    sock, reply = _socks4(proxy, "127.0.0.1", sockwise_lab.port("origin"), user=b"user")
    assert reply[:2] == b"\x00\x5b"
    sock.close()


def test_auth_default_credentials(sockwise_lab: Lab) -> None:
    """auth without options makes its own credentials, carried by .proxy."""
    proxy = sockwise_lab.add_proxy("auth")
    assert proxy.proxy.username == "lab"
    assert proxy.proxy.password == proxy.spec.password
    assert proxy.spec.password is not None
    assert _tunnel_get(sockwise_lab, proxy, headers=_basic("lab", proxy.spec.password)) == (200, b"ok")


@pytest.mark.parametrize(
    ("profile", "status", "reason", "socks5"),
    [("connect-502", 502, "Bad Gateway", 5), ("connect-403", 403, "Forbidden", 2)],
)
def test_connect_refused_by_profile(sockwise_lab: Lab, profile: str, status: int, reason: str, socks5: int) -> None:
    """connect-502 / connect-403: CONNECT fails with that status, absolute-form gets it, SOCKS5 its reply code."""
    proxy = sockwise_lab.add_proxy(profile)
    conn = _tunnel(proxy, sockwise_lab.host, sockwise_lab.port("origin"))
    with pytest.raises(OSError, match=rf"^Tunnel connection failed: {status} {reason}$") as info:
        conn.connect()
    assert info.value.errno is None
    conn.close()
    assert _absolute(proxy, sockwise_lab.url("ok")).status == status
    sock, reply = _socks5(proxy, "127.0.0.1", sockwise_lab.port("origin"))
    assert reply == bytes([5, socks5, 0, 1, 0, 0, 0, 0, 0, 0])
    assert sock.recv(1) == b""
    sock.close()
    sock, reply = _socks4(proxy, "127.0.0.1", sockwise_lab.port("origin"))
    assert reply[:2] == b"\x00\x5b"
    sock.close()
    assert sockwise_lab.accepted("origin") == 0


def test_reset_after_connect(sockwise_lab: Lab) -> None:
    """reset-after-connect: CONNECT and absolute-form answers are ECONNRESET 104; SOCKS5 gets a reset for its reply."""
    proxy = sockwise_lab.add_proxy("reset-after-connect")
    conn = _tunnel(proxy, sockwise_lab.host, sockwise_lab.port("origin"))
    with pytest.raises(ConnectionResetError) as info:
        conn.connect()
    assert info.value.errno == 104
    conn.close()
    conn = http.client.HTTPConnection(proxy.host, proxy.port, timeout=TIMEOUT)
    conn.request("GET", sockwise_lab.url("ok"))
    with pytest.raises(ConnectionResetError) as info:
        conn.getresponse()
    assert info.value.errno == 104
    conn.close()
    sock = socket.create_connection((proxy.host, proxy.port), timeout=TIMEOUT)
    sock.sendall(b"\x05\x01\x00")
    assert _recv_exactly(sock, 2) == b"\x05\x00"
    sock.sendall(_socks5_request("127.0.0.1", sockwise_lab.port("origin")))
    with pytest.raises(ConnectionResetError) as info:
        sock.recv(10)
    assert info.value.errno == 104
    sock.close()
    assert [r.method for r in sockwise_lab.records(proxy.name)] == ["CONNECT", "GET", "SOCKS5"]


def test_upstream_dead(sockwise_lab: Lab) -> None:
    """upstream-dead: CONNECT and absolute-form see RemoteDisconnected (errno None); SOCKS5 sees EOF."""
    proxy = sockwise_lab.add_proxy("upstream-dead")
    conn = _tunnel(proxy, sockwise_lab.host, sockwise_lab.port("origin"))
    with pytest.raises(http.client.RemoteDisconnected) as info:
        conn.connect()
    assert (info.value.errno, str(info.value)) == (None, "Remote end closed connection without response")
    conn.close()
    conn = http.client.HTTPConnection(proxy.host, proxy.port, timeout=TIMEOUT)
    conn.request("GET", sockwise_lab.url("ok"))
    with pytest.raises(http.client.RemoteDisconnected):
        conn.getresponse()
    conn.close()
    sock, reply = _socks5(proxy, "127.0.0.1", sockwise_lab.port("origin"))
    assert reply == b""
    sock.close()
    assert sockwise_lab.accepted("origin") == 0


def test_slow_adds_latency(sockwise_lab: Lab) -> None:
    """slow: the CONNECT answer, the first response bytes, absolute-form and SOCKS5 answers each wait >= latency."""
    latency = 0.2
    proxy = sockwise_lab.add_proxy("slow", latency=latency)
    conn = _tunnel(proxy, sockwise_lab.host, sockwise_lab.port("origin"))
    start = time.monotonic()
    conn.connect()
    connected = time.monotonic()
    conn.request("GET", "/fault/ok")
    assert conn.getresponse().read() == b"ok"
    done = time.monotonic()
    conn.close()
    assert connected - start >= latency
    assert done - connected >= latency
    start = time.monotonic()
    assert _absolute(proxy, sockwise_lab.url("ok")).read() == b"ok"
    assert time.monotonic() - start >= latency
    start = time.monotonic()
    sock, reply = _socks5(proxy, "127.0.0.1", sockwise_lab.port("origin"))
    assert reply[1] == 0
    assert time.monotonic() - start >= latency
    sock.close()


# -- bans -----------------------------------------------------------------------------------------------------------
def test_ban_default_site_is_the_lab_origin(sockwise_lab: Lab) -> None:
    """ban:403 answers the origin's requests with 403 through absolute-form, CONNECT, TLS and SOCKS5."""
    proxy = sockwise_lab.add_proxy("ban:403")
    resp = _absolute(proxy, sockwise_lab.url("ok"))
    assert (resp.status, resp.reason) == (403, "Forbidden")
    assert b"lab ban" in resp.read()
    assert _tunnel_get(sockwise_lab, proxy)[0] == 403
    tls = http.client.HTTPSConnection(
        proxy.host, proxy.port, timeout=TIMEOUT, context=sockwise_lab.client_ssl_context()
    )
    tls.set_tunnel("127.0.0.1", sockwise_lab.port("origin-tls"))
    tls.request("GET", "/fault/ok")
    assert tls.getresponse().status == 403
    tls.close()
    sock, reply = _socks5(proxy, "localhost", sockwise_lab.port("origin"))  # the site is its address: names too
    assert reply[1] == 0
    assert _http_over(sock).startswith(b"HTTP/1.1 403 Forbidden\r\n")
    assert sockwise_lab.records("ok") == []
    assert proxy.stats().banned == 4


def test_ban_hits_only_the_banned_site(sockwise_lab: Lab) -> None:
    """ban:429 with site=banned.test: that site gets 429 + Retry-After; another name for the same origin gets 200."""
    proxy = sockwise_lab.add_proxy(
        "ban:429",
        site="banned.test",
        retry_after=30,
        hosts={"banned.test": "127.0.0.1", "fine.test": "127.0.0.1"},
    )
    origin = sockwise_lab.port("origin")
    resp = _absolute(proxy, f"http://banned.test:{origin}/fault/ok")
    assert (resp.status, resp.getheader("Retry-After")) == (429, "30")
    assert _absolute(proxy, f"http://fine.test:{origin}/fault/ok").read() == b"ok"
    assert _absolute(proxy, sockwise_lab.url("ok")).read() == b"ok"
    conn = _tunnel(proxy, "banned.test", origin)
    conn.request("GET", "/fault/ok")
    assert conn.getresponse().status == 429
    conn.close()
    conn = _tunnel(proxy, "fine.test", origin)
    conn.request("GET", "/fault/ok")
    assert conn.getresponse().read() == b"ok"
    conn.close()
    assert len(sockwise_lab.records("ok")) == 3


# -- lifecycle ------------------------------------------------------------------------------------------------------
def test_stop_with_open_tunnels_leaves_nothing() -> None:
    """Stopping the lab closes proxies, their open tunnels and upstream sockets: no fd or thread left."""
    gc.collect()  # an object an earlier test dropped must not close its fd mid-test
    before_fds, before_threads = set(os.listdir("/proc/self/fd")), threading.active_count()
    lab = Lab().start()
    healthy = lab.add_proxy("healthy")
    lab.add_proxy("ban:403")
    lab.add_proxy("refuse")
    conn = _tunnel(healthy, lab.host, lab.port("origin"))
    conn.request("GET", "/fault/ok")
    assert conn.getresponse().read() == b"ok"  # the tunnel stays open
    stalled = _tunnel(healthy, lab.host, lab.port("origin"), timeout=TIMEOUT)
    stalled.request("GET", "/fault/stall-before-headers")
    assert lab.wait_for(lambda: len(lab.records("stall-before-headers")) == 1)
    lab.stop()
    conn.close()
    stalled.close()
    gc.collect()
    assert set(os.listdir("/proc/self/fd")) - before_fds == set()
    assert threading.active_count() == before_threads
    assert lab.errors == []


def test_tls_client_hello_to_the_proxy_port(sockwise_lab: Lab) -> None:
    """A client that speaks TLS to the proxy port (an https:// proxy) gets a 400: ssl WRONG_VERSION_NUMBER."""
    proxy = sockwise_lab.add_proxy("healthy")
    ctx = ssl.create_default_context()
    raw = socket.create_connection((proxy.host, proxy.port), timeout=TIMEOUT)
    with pytest.raises(ssl.SSLError) as info:
        ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    assert info.value.reason == "WRONG_VERSION_NUMBER"
    raw.close()
