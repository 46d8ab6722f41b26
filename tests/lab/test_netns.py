"""Failures only a private network namespace can make, as stdlib socket / http.client sees them on Linux."""

from __future__ import annotations

import gc
import http.client
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sockwise import ConfigError
from sockwise.lab import scenario_names
from sockwise.lab._netns import _SETUPS, Netns, NetnsError, SockOpt, _missing_reason, netns_available

REQUEST = b"GET / HTTP/1.1\r\nHost: lab\r\n\r\n"
# Dead-peer detection after idle 1 s + 2 unanswered probes 1 s apart: about 3 s.
KEEPALIVE: tuple[SockOpt, ...] = (
    (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1),
    (socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1),
    (socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1),
    (socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 2),
)
KERNEL_BOUND = 20.0  # far below any fallback (socket timeouts of 20 s+, kernel defaults of minutes)


def _require_netns() -> None:
    ok, reason = netns_available()
    if not ok:
        pytest.skip(reason)


@pytest.fixture
def ns(sockwise_netns: Netns) -> Netns:
    """The plugin's namespace: retransmissions bounded to seconds (tcp_retries2=3) so nothing waits minutes."""
    return sockwise_netns


def _netns_list() -> str:
    ip = shutil.which("ip", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])) or "ip"
    return subprocess.run([ip, "netns", "list"], capture_output=True, text=True, timeout=10, check=True).stdout


def _send_until_it_fails(sock: socket.socket) -> None:
    chunk = b"x" * 65536
    for _ in range(2000):  # at most 128 MiB: far more than both socket buffers hold
        sock.sendall(chunk)


def _elapsed(since: float) -> float:
    return time.monotonic() - since


# -- availability and the catalogue (no namespace needed) -----------------------------------------
def test_missing_reason_names_what_is_missing() -> None:
    """The skip reason names the platform or the missing iproute2 tools; None when all is there."""
    assert _missing_reason("darwin", []) == "network namespaces are Linux-only (this is darwin)"
    assert _missing_reason("linux", ["ss", "ip"]) == (
        "iproute2 is needed for network namespaces: ip, ss not found (apt-get install iproute2)"
    )
    assert _missing_reason("linux", []) is None


def test_every_netns_scenario_has_a_setup() -> None:
    """The catalogue's netns scenarios and the setups that build them are the same eight names."""
    assert scenario_names("netns") == [
        "host-unreachable",
        "net-unreachable",
        "route-prohibited",
        "route-blackhole",
        "syn-dropped",
        "peer-vanishes",
        "conn-aborted",
        "zero-window",
    ]
    assert sorted(_SETUPS) == sorted(scenario_names("netns"))


def test_unknown_scenario_and_bad_sysctl_are_config_errors() -> None:
    """An unknown scenario name or a sysctl outside net.* is a ConfigError naming it, before any namespace."""
    with pytest.raises(ConfigError, match="unknown lab netns scenario 'host-unreachabel'; did you mean host-unr"):
        Netns().scenario("host-unreachabel")
    with pytest.raises(ConfigError, match=r"sysctl 'kernel\.pid_max' is not a net\.\* key"):
        Netns(sysctls={"kernel.pid_max": 1})
    with pytest.raises(ConfigError, match="netns mode 'root' is not one of auto, named, anonymous"):
        Netns(mode="root")


def test_not_running_namespace_runs_nothing() -> None:
    """A Netns that was never started (or is closed) refuses to run code or commands anywhere."""
    with pytest.raises(NetnsError, match="is not running"):
        Netns().ip("route", "add", "unreachable", "127.0.0.2/32")


@pytest.mark.netns
@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv")
def test_without_cap_sys_admin_availability_says_why() -> None:
    """A root process without CAP_SYS_ADMIN gets (False, reason) naming CAP_SYS_ADMIN, not an exception."""
    code = "from sockwise.lab._netns import netns_available; print(netns_available())"
    src = str(Path(__file__).resolve().parents[2] / "src")
    done = subprocess.run(
        ["setpriv", "--bounding-set=-sys_admin", "--inh-caps=-sys_admin", sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={**os.environ, "PYTHONPATH": src},
    )
    assert done.stdout.startswith(
        "(False, 'network namespaces need CAP_SYS_ADMIN: run as root, or in a container that grants it ("
    ), done.stdout


# -- the namespace itself -------------------------------------------------------------------------
@pytest.mark.netns
def test_close_deletes_namespace_and_stops_every_thread() -> None:
    """While open the namespace is in `ip netns list`; after close it is gone, with its threads and fds."""
    _require_netns()
    gc.collect()  # an object an earlier test dropped must not close its fd mid-test
    fds = set(os.listdir("/proc/self/fd"))
    with Netns() as netns:
        assert netns.named
        assert netns.name in _netns_list().split()
        netns.scenario("zero-window")
        netns.scenario("peer-vanishes")
        held = netns.create_connection(netns.scenario("zero-window"), timeout=5)
        assert any(t.name.startswith(netns.name) for t in threading.enumerate())
    held.close()
    assert netns.name not in _netns_list().split()
    assert [t.name for t in threading.enumerate() if t.name.startswith(netns.name)] == []
    gc.collect()
    assert set(os.listdir("/proc/self/fd")) - fds == set()
    netns.close()  # idempotent


@pytest.mark.netns
def test_closed_namespace_restarts_empty() -> None:
    """A closed Netns starts again as a new, empty namespace, and its scenarios are set up afresh."""
    _require_netns()
    netns = Netns()
    for _ in range(2):
        with netns:
            assert "127.0.0.2" not in netns.ip("route", "show")
            with pytest.raises(OSError, match=r"\[Errno 113\] No route to host"):
                netns.create_connection(netns.scenario("host-unreachable"), timeout=5)
    assert netns.name not in _netns_list().split()


@pytest.mark.netns
def test_anonymous_namespace_works_without_a_name() -> None:
    """mode='anonymous' (unshare in the worker thread) needs no /run/netns and makes the same failures."""
    _require_netns()
    with Netns(mode="anonymous") as netns:
        assert not netns.named
        assert netns.name not in _netns_list().split()
        with pytest.raises(OSError, match=r"\[Errno 113\] No route to host") as info:
            netns.create_connection(netns.scenario("host-unreachable"), timeout=5)
        assert info.value.errno == 113
    assert [t.name for t in threading.enumerate() if t.name.startswith(netns.name)] == []


@pytest.mark.netns
def test_sysctls_and_routes_stay_inside(ns: Netns) -> None:
    """Per-namespace sysctls and routes change the namespace, never the host's."""
    with open("/proc/sys/net/ipv4/tcp_retries2", encoding="ascii") as f:
        host_retries2 = f.read().strip()
    assert ns.sysctl("net.ipv4.tcp_retries2") == "3"
    assert host_retries2 != "3"
    ns.scenario("host-unreachable")
    assert "unreachable 127.0.0.2" in ns.ip("route", "show")
    assert ns.ip("-o", "link", "show").count(": <") == 1  # only lo: no packet can leave
    assert ns.inside() is False
    assert ns.run(ns.inside) is True


@pytest.mark.netns
def test_run_returns_raises_and_bounds(ns: Netns) -> None:
    """run() returns fn's result, re-raises fn's own exception, and gives up after its timeout."""
    assert ns.run(lambda a, b: a + b, 2, b=3) == 5
    with pytest.raises(ZeroDivisionError):
        ns.run(lambda: 1 // 0)
    gate = threading.Event()
    try:
        with pytest.raises(NetnsError, match=r"did not finish within 0\.2 s"):
            ns.run(gate.wait, 10, timeout=0.2)
    finally:
        gate.set()


# -- route failures: connect fails at once, no packet sent ----------------------------------------
@pytest.mark.netns
@pytest.mark.parametrize(
    ("scenario", "exc_type", "errno"),
    [
        ("host-unreachable", OSError, 113),  # EHOSTUNREACH: a plain OSError, no subclass
        ("net-unreachable", OSError, 101),  # ENETUNREACH
        ("route-prohibited", PermissionError, 13),  # EACCES
        ("route-blackhole", OSError, 22),  # EINVAL
    ],
)
def test_route_scenarios_fail_connect(ns: Netns, scenario: str, exc_type: type[OSError], errno: int) -> None:
    """connect() to a route scenario raises exactly this type and errno."""
    with pytest.raises(OSError, match=rf"^\[Errno {errno}\] ") as info:
        ns.create_connection(ns.scenario(scenario), timeout=5)
    assert type(info.value) is exc_type
    assert info.value.errno == errno


@pytest.mark.netns
def test_host_unreachable_http_client(ns: Netns) -> None:
    """http.client: request() (which connects) raises OSError errno 113, and no sock is left."""
    conn = ns.http_connection(ns.scenario("host-unreachable"), timeout=5)
    with pytest.raises(OSError, match=r"\[Errno 113\] No route to host") as info:
        conn.request("GET", "/")
    assert type(info.value) is OSError
    assert info.value.errno == 113
    assert conn.sock is None


# -- a SYN that is never answered -----------------------------------------------------------------
@pytest.mark.netns
def test_syn_dropped_socket_timeout(ns: Netns) -> None:
    """connect() with a 1 s timeout: TimeoutError with errno None, after the timeout."""
    start = time.monotonic()
    with pytest.raises(TimeoutError) as info:
        ns.create_connection(ns.scenario("syn-dropped"), timeout=1.0)
    assert info.value.errno is None
    assert _elapsed(start) >= 0.9


@pytest.mark.netns
def test_syn_dropped_kernel_timeout(ns: Netns) -> None:
    """A blocking connect() with TCP_SYNCNT=1: the kernel gives up, TimeoutError errno 110 after ~3 s."""
    start = time.monotonic()
    with pytest.raises(TimeoutError) as info:
        ns.create_connection(ns.scenario("syn-dropped"), None, options=[(socket.IPPROTO_TCP, socket.TCP_SYNCNT, 1)])
    assert info.value.errno == 110
    assert 2.5 <= _elapsed(start) < KERNEL_BOUND  # SYN at 0 s, again at 1 s, give up at 3 s


# -- a peer that vanishes mid-connection ----------------------------------------------------------
@pytest.mark.netns
def test_peer_vanishes_keepalive_detects(ns: Netns) -> None:
    """Keepalive (1, 1, 2) on an idle connection whose peer vanished: recv TimeoutError errno 110."""
    sock = ns.create_connection(ns.scenario("peer-vanishes"), timeout=KERNEL_BOUND, options=KEEPALIVE)
    with sock:
        sock.sendall(REQUEST)
        start = time.monotonic()
        with pytest.raises(TimeoutError) as info:
            sock.recv(1024)
    assert info.value.errno == 110
    assert 2.0 <= _elapsed(start) < KERNEL_BOUND


@pytest.mark.netns
def test_peer_vanishes_without_keepalive_only_the_timeout_fires(ns: Netns) -> None:
    """Without keepalive or a user timeout nothing notices: recv ends by the socket timeout, errno None."""
    sock = ns.create_connection(ns.scenario("peer-vanishes"), timeout=1.5)
    with sock:
        sock.sendall(REQUEST)
        with pytest.raises(TimeoutError) as info:
            sock.recv(1024)
    assert info.value.errno is None


@pytest.mark.netns
def test_silent_but_alive_peer_is_not_a_dead_peer(ns: Netns) -> None:
    """Control: the same keepalive against a peer that is alive but silent never fires (errno None at 4 s)."""
    sock = ns.create_connection(ns.scenario("zero-window"), timeout=4.0, options=KEEPALIVE)
    with sock, pytest.raises(TimeoutError) as info:
        sock.recv(1024)
    assert info.value.errno is None


@pytest.mark.netns
def test_peer_vanishes_http_client_keepalive(ns: Netns) -> None:
    """http.client with keepalive sockets: getresponse() raises TimeoutError errno 110 within seconds."""
    conn = ns.http_connection(ns.scenario("peer-vanishes"), timeout=KERNEL_BOUND, options=KEEPALIVE)
    try:
        conn.request("GET", "/")
        start = time.monotonic()
        with pytest.raises(TimeoutError) as info:
            conn.getresponse()
    finally:
        conn.close()
    assert info.value.errno == 110
    assert _elapsed(start) < KERNEL_BOUND


@pytest.mark.netns
def test_peer_vanishes_http_client_user_timeout_on_reused_connection(ns: Netns) -> None:
    """A kept-alive connection whose peer vanished: with TCP_USER_TIMEOUT the next getresponse() gets 110."""
    address = ns.scenario("peer-vanishes", cut_on_request=False)
    conn = ns.http_connection(
        address, timeout=KERNEL_BOUND, options=[(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, 1500)]
    )
    try:
        conn.request("GET", "/")
        first = conn.getresponse()
        assert (first.status, first.read()) == (200, b"ok")
        ns.drop_from(address[1])
        start = time.monotonic()
        conn.request("GET", "/")  # buffered, never acknowledged
        with pytest.raises(TimeoutError) as info:
            conn.getresponse()
    finally:
        conn.close()
    assert info.value.errno == 110
    assert 1.4 <= _elapsed(start) < KERNEL_BOUND


# -- ECONNABORTED ---------------------------------------------------------------------------------
@pytest.mark.netns
def test_conn_aborted_socket(ns: Netns) -> None:
    """The client socket destroyed by ss -K: recv ConnectionAbortedError 103, then EPIPE, then EOF."""
    sock = ns.create_connection(ns.scenario("conn-aborted"), timeout=5)
    with sock:
        sock.sendall(REQUEST)
        with pytest.raises(ConnectionAbortedError) as info:
            sock.recv(1024)
        assert info.value.errno == 103
        with pytest.raises(BrokenPipeError) as then:
            sock.send(b"x")
        assert then.value.errno == 32
        assert sock.recv(1024) == b""


@pytest.mark.netns
def test_conn_aborted_http_client(ns: Netns) -> None:
    """http.client: getresponse() raises ConnectionAbortedError errno 103."""
    conn = ns.http_connection(ns.scenario("conn-aborted"), timeout=5)
    try:
        conn.request("GET", "/")
        with pytest.raises(ConnectionAbortedError) as info:
            conn.getresponse()
    finally:
        conn.close()
    assert info.value.errno == 103


# -- zero window ----------------------------------------------------------------------------------
@pytest.mark.netns
@pytest.mark.parametrize(("user_timeout_ms", "errno"), [(1000, 110), (0, None)])
def test_zero_window_send(ns: Netns, user_timeout_ms: int, errno: int | None) -> None:
    """Sending to a peer that never reads: TCP_USER_TIMEOUT ends it with 110, else the 1 s socket timeout."""
    options = [(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, user_timeout_ms)] if user_timeout_ms else []
    timeout = KERNEL_BOUND if user_timeout_ms else 1.0
    sock = ns.create_connection(ns.scenario("zero-window"), timeout=timeout, options=options)
    with sock, pytest.raises(TimeoutError) as info:
        _send_until_it_fails(sock)
    assert info.value.errno == errno


def test_http_connection_is_stdlib() -> None:
    """ns.http_connection() gives a real http.client.HTTPConnection (no namespace needed to build one)."""
    conn = Netns().http_connection(("127.0.0.1", 80), timeout=1)
    assert isinstance(conn, http.client.HTTPConnection)
    assert (conn.host, conn.port, conn.timeout) == ("127.0.0.1", 80, 1)
