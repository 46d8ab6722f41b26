"""Failures loopback cannot make, inside private network namespaces the lab creates and destroys.

On the host's loopback every 127.x address answers, a SYN always meets a SYN-ACK or a RST, and a
peer never vanishes without a trace. In a private network namespace the lab owns ``lo``: it can
route an address to ``unreachable`` (EHOSTUNREACH), ``throw`` (ENETUNREACH), send SYNs nowhere
(a connect that times out), drop a server's return packets with ``htb`` + ``u32`` once a
connection is up (a peer that silently vanishes: keepalive or ``TCP_USER_TIMEOUT`` end it with
ETIMEDOUT), and destroy a client's socket with ``ss -K`` (ECONNABORTED).

Network namespaces belong to threads, not processes: a :class:`Netns` keeps one worker thread
that has joined the namespace (``setns(2)``). Sockets created there live in the namespace for
good, wherever they are used later; threads and processes started from there start inside it.
So ``ns.run(fn)`` runs code in the namespace, ``ns.socket()`` / ``ns.create_connection()`` /
``ns.http_connection()`` give clients whose connects happen in the caller's thread, and
``ns.ip()`` / ``ns.tc()`` / ``ns.ss()`` run iproute2 commands inside it. Nothing ever touches
the host namespace's routes or qdiscs: every command runs in a thread whose namespace is checked
first, and the namespace has no device but its own ``lo``, so no packet leaves it.

Namespaces need root (CAP_SYS_ADMIN): :func:`netns_available` says whether they work here and,
if not, why; tests skip with that reason.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import ctypes
import errno
import functools
import http.client
import itertools
import os
import queue
import re
import shutil
import socket
import subprocess
import sys
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, TypeVar

from sockwise._exceptions import ConfigError, SockwiseError
from sockwise.lab._scenarios import Scenario, get_scenario, register

__all__ = [
    "NETNS_CATALOGUE",
    "Netns",
    "NetnsError",
    "NetnsUnavailable",
    "SockOpt",
    "conn_aborted",
    "host_unreachable",
    "net_unreachable",
    "netns_available",
    "peer_vanishes",
    "route_blackhole",
    "route_prohibited",
    "syn_dropped",
    "zero_window",
]

T = TypeVar("T")

#: ``(level, option, value)`` for ``setsockopt``, applied before connect.
SockOpt = tuple[int, int, int]
_Sock = socket.socket  # Netns.socket() shadows the module inside the class body

_CLONE_NEWNET = 0x40000000
_TOOLS = ("ip", "tc", "ss")
_TOOL_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin", "/usr/bin", "/bin"])
_NETNS_DIRS = ("/run/netns", "/var/run/netns")
_NAME_PREFIX = "sockwise"
_counter = itertools.count(1)
_SYSCTL_KEY = re.compile(r"net(\.[A-Za-z0-9_-]+)+")
_MAX_HEAD = 64 * 1024
_OK_RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"

# Fixed addresses the route scenarios point at; the local table is narrowed to 127.0.0.1/32 first,
# so that these are not local any more and the route type alone decides what connect() sees.
_ROUTES = {
    "host-unreachable": ("unreachable", "127.0.0.2"),
    "net-unreachable": ("throw", "127.0.0.3"),
    "route-prohibited": ("prohibit", "127.0.0.5"),
    "route-blackhole": ("blackhole", "127.0.0.7"),
}
# Routed out of lo but local to nobody: coming back in on lo, a non-local 127.x destination is a
# martian and is dropped, so nothing ever answers the SYN - neither SYN-ACK nor RST.
_SILENT_HOST = "127.0.0.4"
_ROUTE_PORT = 80
# Fast enough never to shape the lab's traffic; an explicit quantum keeps tc from warning.
_HTB_RATE = ("htb", "rate", "10gbit", "quantum", "65536")


class NetnsError(SockwiseError):
    """A namespace operation failed: a command inside it, or code that did not finish in time."""


class NetnsUnavailable(NetnsError):
    """Network namespaces cannot be used here.

    Attributes:
        reason: why, in one line that names what is missing.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# -- availability ---------------------------------------------------------------------------------
def _tool(name: str) -> str | None:
    return shutil.which(name, path=_TOOL_PATH)


def _missing_reason(platform: str, missing_tools: Iterable[str]) -> str | None:
    """Why namespaces cannot even be tried (pure: the platform and the missing tools are inputs)."""
    if not platform.startswith("linux"):
        return f"network namespaces are Linux-only (this is {platform})"
    missing = sorted(missing_tools)
    if missing:
        return f"iproute2 is needed for network namespaces: {', '.join(missing)} not found (apt-get install iproute2)"
    return None


def _has_cap_sys_admin() -> bool:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) & (1 << 21))
    except (OSError, ValueError):
        pass
    return os.geteuid() == 0


@functools.cache
def netns_available() -> tuple[bool, str]:
    """Whether this process can create private network namespaces and run code inside them.

    The first call really creates and destroys one (a few milliseconds); the answer is cached.

    Returns:
        ``(True, "")``, or ``(False, reason)`` where the reason names what is missing: not Linux,
        iproute2 missing, no CAP_SYS_ADMIN (not root), or the kernel/container refusing namespaces.
    """
    try:
        with Netns():
            pass
    except NetnsUnavailable as exc:
        return False, exc.reason
    return True, ""


# -- the namespace --------------------------------------------------------------------------------
def _libc() -> Any:
    return ctypes.CDLL(None, use_errno=True)


def _thread_netns() -> tuple[int, int]:
    st = os.stat(f"/proc/self/task/{threading.get_native_id()}/ns/net")
    return st.st_dev, st.st_ino


def _delete_named(ip: str, name: str) -> None:
    subprocess.run(
        [ip, "netns", "delete", name], stdin=subprocess.DEVNULL, capture_output=True, timeout=30, check=False
    )


class Netns:
    """A private network namespace with only ``lo`` (up), and a thread that runs code inside it.

    Use it as a context manager; leaving it stops the lab's servers inside, the worker thread, and
    deletes the namespace::

        with Netns() as ns:
            sock = ns.create_connection(ns.scenario("host-unreachable"), timeout=5)  # OSError 113

    Args:
        mode: ``named`` (``ip netns add sockwise-<pid>-<n>``: visible to ``ip netns list`` and
            ``ip netns exec`` while it lives), ``anonymous`` (``unshare(CLONE_NEWNET)`` in the worker
            thread: gone with its last socket, needs no /run/netns), or ``auto`` (named when it
            works, else anonymous).
        sysctls: per-namespace ``net.*`` sysctls to set at start, e.g.
            ``{"net.ipv4.tcp_retries2": 3}`` to bound retransmission timeouts to seconds.

    Raises:
        NetnsUnavailable: namespaces cannot be created here (``.reason`` says why).
        ConfigError: a bad mode or sysctl key.
    """

    def __init__(self, *, mode: str = "auto", sysctls: Mapping[str, str | int] | None = None) -> None:
        if mode not in ("auto", "named", "anonymous"):
            raise ConfigError(f"netns mode {mode!r} is not one of auto, named, anonymous")
        self.sysctls = dict(sysctls or {})
        for key in self.sysctls:
            _check_sysctl_key(key)
        self.mode = mode
        self.name = f"{_NAME_PREFIX}-{os.getpid()}-{next(_counter)}"
        self.named = False
        self.errors: list[BaseException] = []
        self._ip = ""
        self._ns_id: tuple[int, int] | None = None
        self._jobs: queue.SimpleQueue[tuple[concurrent.futures.Future[Any], Callable[[], Any]] | None] = (
            queue.SimpleQueue()
        )
        self._worker: threading.Thread | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None
        self._servers: list[_Server] = []
        self._lock = threading.Lock()
        #: Set when the namespace closes: handlers that hold a connection open wait on it.
        self.stopping = threading.Event()
        self._fresh()

    def _fresh(self) -> None:
        # What one life of the namespace set up; a restarted Netns starts from an empty namespace.
        self._ready = threading.Event()
        self._start_error: BaseException | None = None
        self._narrowed = False
        self._drop_ready = False
        self._dropped: set[int] = set()
        self._routes: set[tuple[str, ...]] = set()
        self.stopping.clear()

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> Netns:
        """Create the namespace, join it from the worker thread, set lo up and the sysctls.

        Raises:
            NetnsUnavailable: namespaces cannot be created here.
        """
        if self._worker is not None:
            return self
        reason = _missing_reason(sys.platform, [t for t in _TOOLS if _tool(t) is None])
        if reason:
            raise NetnsUnavailable(reason)
        self._ip = _tool("ip") or "ip"
        self._fresh()
        self.named = False
        named_error = ""
        if self.mode in ("auto", "named"):
            named_error = self._add_named()
            if named_error and self.mode == "named":
                raise NetnsUnavailable(named_error)
        try:
            self._start_worker()
            self.ip("link", "set", "lo", "up")
            for key, value in self.sysctls.items():
                self.sysctl(key, value)
        except BaseException as exc:
            self.close()
            if isinstance(exc, OSError) and exc.errno == errno.EPERM:
                detail = "; ".join(filter(None, [named_error, "unshare(CLONE_NEWNET): Operation not permitted"]))
                if not _has_cap_sys_admin():
                    why = "network namespaces need CAP_SYS_ADMIN: run as root, or in a container that grants it"
                    raise NetnsUnavailable(f"{why} ({detail})") from None
                raise NetnsUnavailable(f"the kernel or container refuses network namespaces ({detail})") from None
            raise
        return self

    def _add_named(self) -> str:
        if os.geteuid() != 0:
            return "ip netns add needs root"
        done = subprocess.run(
            [self._ip, "netns", "add", self.name],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            env={**os.environ, "LC_ALL": "C"},
        )
        if done.returncode != 0:
            return f"ip netns add failed: {done.stderr.strip() or done.returncode}"
        self.named = True
        self._finalizer = weakref.finalize(self, _delete_named, self._ip, self.name)
        return ""

    def _start_worker(self) -> None:
        self._worker = threading.Thread(target=self._work, name=f"{self.name}-worker", daemon=True)
        self._worker.start()
        if not self._ready.wait(30):  # pragma: no cover - only on a wedged machine
            raise NetnsError(f"the worker of namespace {self.name} did not start within 30 s")
        if self._start_error is not None:
            raise self._start_error

    def _work(self) -> None:
        try:
            host = _thread_netns()
            self._enter()
            here = _thread_netns()
            if here == host:  # never run a command against the host's lo
                raise NetnsError(f"joining namespace {self.name} left the thread in the host namespace")
            self._ns_id = here
        except BaseException as exc:
            self._start_error = exc
            self._ready.set()
            return
        self._ready.set()
        while True:
            job = self._jobs.get()
            if job is None:
                return
            future, call = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(call())
            except BaseException as exc:
                future.set_exception(exc)

    def _enter(self) -> None:
        libc = _libc()
        if self.named:
            path = next((f"{d}/{self.name}" for d in _NETNS_DIRS if os.path.exists(f"{d}/{self.name}")), None)
            if path is None:
                raise NetnsError(f"ip netns add created no file for {self.name} in {' or '.join(_NETNS_DIRS)}")
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                rc = libc.setns(fd, _CLONE_NEWNET)
            finally:
                os.close(fd)
        else:
            rc = libc.unshare(_CLONE_NEWNET)
        if rc != 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code))

    def close(self) -> None:
        """Stop the servers inside, the worker thread, and delete the namespace. Idempotent."""
        self.stopping.set()
        for server in self._servers:
            server.stop()
        for server in self._servers:
            server.join(10)
        self._servers.clear()
        worker = self._worker
        if worker is not None:
            if worker.is_alive():
                self._jobs.put(None)
                worker.join(30)
            self._worker = None
        self._ns_id = None
        if self._finalizer is not None:
            self._finalizer()  # runs _delete_named once; also at interpreter exit if close() never ran
            self._finalizer = None

    def __enter__(self) -> Netns:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "running" if self._ns_id is not None else "stopped"
        return f"<Netns {self.name} {'named' if self.named else 'anonymous'} {state}>"

    # -- running code inside ------------------------------------------------------------------
    def inside(self) -> bool:
        """Whether the calling thread is in this namespace."""
        return self._ns_id is not None and _thread_netns() == self._ns_id

    def run(self, fn: Callable[..., T], /, *args: Any, timeout: float = 30.0, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` in the namespace and return its result (or raise its exception).

        Sockets ``fn`` creates live in the namespace; threads and processes it starts start inside it.
        Called from a thread already inside, ``fn`` runs right there. Calls from outside run one at a
        time in the worker thread; one that outlives its ``timeout`` keeps the worker until it returns.

        Args:
            fn: what to run.
            timeout: how long to wait for it.

        Raises:
            NetnsError: the namespace is not running, or ``fn`` did not finish within ``timeout``.
        """
        if self._ns_id is None:
            raise NetnsError(f"namespace {self.name} is not running: use 'with Netns() as ns:'")
        if self.inside():
            return fn(*args, **kwargs)
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._jobs.put((future, lambda: fn(*args, **kwargs)))
        done, _ = concurrent.futures.wait([future], timeout)
        if not done:
            future.cancel()
            raise NetnsError(f"{getattr(fn, '__name__', fn)!s} did not finish within {timeout} s in {self.name}")
        return future.result()

    def exec(self, *argv: str, timeout: float = 10.0, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a command inside the namespace (the child inherits the namespace of the thread starting it).

        Args:
            argv: the command and its arguments.
            timeout: the child is killed (by its PID) after this many seconds.
            check: raise if it exits non-zero.

        Raises:
            NetnsError: it exited non-zero (with ``check``), or timed out; the message holds its stderr.
        """
        return self.run(self._exec, argv, timeout, check, timeout=timeout + 5)

    def _exec(self, argv: tuple[str, ...], timeout: float, check: bool) -> subprocess.CompletedProcess[str]:
        if not self.inside():  # defence in depth: a command must never reach the host namespace
            raise NetnsError(f"refusing to run {argv[0]} outside namespace {self.name}")
        cmd = [_tool(argv[0]) or argv[0], *argv[1:]]
        try:
            done = subprocess.run(
                cmd,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
                env={**os.environ, "LC_ALL": "C"},
            )
        except subprocess.TimeoutExpired:
            raise NetnsError(f"'{' '.join(argv)}' did not finish within {timeout} s in {self.name}") from None
        if check and done.returncode != 0:
            raise NetnsError(
                f"'{' '.join(argv)}' failed in {self.name} (exit {done.returncode}): {done.stderr.strip()}"
            )
        return done

    def ip(self, *args: str, check: bool = True) -> str:
        """Run ``ip ARGS`` inside the namespace; returns its stdout.

        Raises:
            NetnsError: it failed (the message holds its stderr).
        """
        return self.exec("ip", *args, check=check).stdout

    def tc(self, *args: str, check: bool = True) -> str:
        """Run ``tc ARGS`` inside the namespace; returns its stdout.

        Raises:
            NetnsError: it failed (the message holds its stderr).
        """
        return self.exec("tc", *args, check=check).stdout

    def ss(self, *args: str, check: bool = True) -> str:
        """Run ``ss ARGS`` inside the namespace (``ss -K ...`` destroys matching sockets); returns stdout.

        Raises:
            NetnsError: it failed (the message holds its stderr).
        """
        return self.exec("ss", *args, check=check).stdout

    def sysctl(self, key: str, value: str | int | None = None) -> str:
        """Read, or set then read back, a per-namespace ``net.*`` sysctl of this namespace.

        Raises:
            ConfigError: the key is not a ``net.*`` key.
            NetnsError: the key does not exist in a namespace (it is host-wide) or cannot be written.
        """
        _check_sysctl_key(key)
        return self.run(self._sysctl, key, None if value is None else str(value))

    def _sysctl(self, key: str, value: str | None) -> str:
        # /proc/sys/net resolves against the namespace of the thread that opens it.
        path = "/proc/sys/" + key.replace(".", "/")
        try:
            if value is not None:
                with open(path, "w", encoding="ascii") as f:
                    f.write(value)
            with open(path, encoding="ascii") as f:
                return f.read().strip()
        except OSError as exc:
            raise NetnsError(f"sysctl {key} in {self.name}: {exc.strerror} (not a per-namespace key?)") from None

    # -- clients ------------------------------------------------------------------------------
    def socket(self, family: int = socket.AF_INET, type: int = socket.SOCK_STREAM) -> _Sock:
        """A new socket that lives in the namespace (use it from any thread)."""
        return self.run(socket.socket, family, type)

    def create_connection(
        self, address: tuple[str, int], timeout: float | None = None, *, options: Iterable[SockOpt] = ()
    ) -> _Sock:
        """Connect to ``address`` from inside the namespace; the connect runs in the calling thread.

        Args:
            address: ``(host, port)``, an IPv4 address (the namespace has no DNS).
            timeout: the socket timeout (None: blocking, so only the kernel ends a connect).
            options: ``setsockopt`` triples applied before connect (``TCP_SYNCNT``, keepalive, ...).

        Raises:
            OSError: whatever connect raises, unchanged.
        """
        sock = self.socket()
        try:
            for level, option, value in options:
                sock.setsockopt(level, option, value)
            sock.settimeout(timeout)
            sock.connect(address)
        except BaseException:
            sock.close()
            raise
        return sock

    def http_connection(
        self, address: tuple[str, int], timeout: float | None = None, *, options: Iterable[SockOpt] = ()
    ) -> http.client.HTTPConnection:
        """A stdlib :class:`http.client.HTTPConnection` whose socket lives in the namespace.

        Args:
            address: ``(host, port)`` as a scenario returned it.
            timeout: the socket timeout (None: blocking).
            options: ``setsockopt`` triples applied before connect.
        """
        return _NetnsHTTPConnection(self, address, timeout, tuple(options))

    # -- what the scenarios build on ----------------------------------------------------------
    def scenario(self, name: str, **options: Any) -> tuple[str, int]:
        """Set up a namespace scenario by name and return the address to connect to.

        Args:
            name: a ``netns`` scenario of the catalogue (``sockwise lab list``).
            **options: the scenario's options (``cut_on_request=False`` for ``peer-vanishes``).

        Raises:
            ConfigError: no such namespace scenario.
        """
        get_scenario(name, "netns")
        return _SETUPS[name](self, **options)

    def narrow_local_routes(self) -> None:
        """Make 127.0.0.1 the only local address, so other 127.x addresses follow explicit routes."""
        with self._lock:
            if not self._narrowed:
                self.ip("route", "del", "local", "127.0.0.0/8", "dev", "lo", "table", "local")
                self._narrowed = True

    def add_route(self, *route: str) -> None:
        """``ip route add ROUTE`` once (after narrowing the local table); again is a no-op.

        Example: ``ns.add_route("unreachable", "127.0.0.2/32")``.
        """
        self.narrow_local_routes()
        with self._lock:
            if route not in self._routes:
                self.ip("route", "add", *route)
                self._routes.add(route)

    def drop_from(self, port: int) -> None:
        """Drop every IPv4 packet leaving ``port`` inside the namespace from now on: that peer vanishes.

        Only the peer's packets are dropped (``htb`` + ``u32`` on lo's egress, wire-facts §4): dropping
        the prober's own packets looks like local congestion to TCP, and keepalive never fires then.
        """
        with self._lock:
            if not self._drop_ready:
                self.tc("qdisc", "add", "dev", "lo", "root", "handle", "1:", "htb", "default", "10")
                for cls in ("1:10", "1:20"):
                    self.tc("class", "add", "dev", "lo", "parent", "1:", "classid", cls, *_HTB_RATE)
                self.tc("qdisc", "add", "dev", "lo", "parent", "1:20", "handle", "20:", "pfifo", "limit", "0")
                self._drop_ready = True
            if port in self._dropped:
                return
            self.tc(
                "filter", "add", "dev", "lo", "parent", "1:", "protocol", "ip", "prio", "1",
                "u32", "match", "ip", "sport", str(port), "0xffff", "flowid", "1:20",
            )  # fmt: skip
            self._dropped.add(port)

    def abort_connections(self, port: int, *, client_port: int | None = None) -> int:
        """Destroy the client sockets connected to ``port`` (``ss -K``: SOCK_DESTROY, like ``tcp_abort``).

        The destroyed sockets get ECONNABORTED; their peers get a RST.

        Args:
            port: the server port the clients are connected to.
            client_port: only the client socket bound to this port.

        Returns:
            How many sockets were destroyed.
        """
        args = ["-K", "-t", "-n", "-H", "dst", f"127.0.0.1:{port}"]
        if client_port is not None:
            args += ["src", f"127.0.0.1:{client_port}"]
        # ss prints each destroyed socket; "RTNETLINK answers: Invalid argument" on stderr is harmless.
        return len([line for line in self.ss(*args, check=False).splitlines() if line.strip()])

    def serve(self, scenario: str, handler: Callable[[_Sock], None]) -> int:
        """Listen on 127.0.0.1 inside the namespace; each connection runs ``handler(conn)`` in a thread.

        Handlers run inside the namespace and may block until the connection closes; the server and
        its connections stop when the namespace closes. Returns the port.
        """
        server: _Server = self.run(_Server, self, scenario, handler)
        self._servers.append(server)
        return server.port


def _check_sysctl_key(key: str) -> None:
    if not _SYSCTL_KEY.fullmatch(key):
        raise ConfigError(f"sysctl {key!r} is not a net.* key; only per-namespace net.* sysctls can be set here")


class _NetnsHTTPConnection(http.client.HTTPConnection):
    def __init__(
        self, ns: Netns, address: tuple[str, int], timeout: float | None, options: tuple[SockOpt, ...]
    ) -> None:
        super().__init__(address[0], address[1], timeout=timeout)
        self._ns = ns
        self._options = options

    def connect(self) -> None:
        self.sock = self._ns.create_connection((self.host, self.port), self.timeout, options=self._options)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _Server:
    """A listener inside a namespace: one thread accepts, one thread per connection runs the handler."""

    def __init__(self, ns: Netns, scenario: str, handler: Callable[[socket.socket], None]) -> None:
        self._ns = ns
        self._handler = handler
        self._conns: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closed = False
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port: int = self._listener.getsockname()[1]
        self._name = f"{ns.name}-{scenario}-{self.port}"
        # Started from inside the namespace, so the accept thread and its handlers are inside too.
        self._accepter = threading.Thread(target=self._accept, name=self._name, daemon=True)
        self._accepter.start()

    def _accept(self) -> None:
        n = 0
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return  # the listener was shut down by stop()
            with self._lock:
                if self._closed:
                    conn.close()
                    return
                n += 1
                self._conns.add(conn)
                thread = threading.Thread(target=self._serve, args=(conn,), name=f"{self._name}-{n}", daemon=True)
                self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self._handler(conn)
        except OSError:
            pass  # the client reset, was aborted, or stop() shut the connection: what the lab is for
        except Exception as exc:
            self._ns.errors.append(exc)
        finally:
            with self._lock:
                self._conns.discard(conn)
            conn.close()

    def stop(self) -> None:
        with self._lock:
            self._closed = True
            conns = list(self._conns)
        for sock in (self._listener, *conns):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # wakes accept() / recv() in the threads

    def join(self, timeout: float) -> None:
        self._accepter.join(timeout)
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout)
        self._listener.close()


def _read_head(conn: socket.socket) -> bytes | None:
    """Read one request head (up to the blank line); None if the peer closed first."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
        if len(data) > _MAX_HEAD:
            return None
    return data


# -- scenarios ------------------------------------------------------------------------------------
def _route(ns: Netns, scenario: str) -> tuple[str, int]:
    kind, address = _ROUTES[scenario]
    ns.add_route(kind, f"{address}/32")
    return address, _ROUTE_PORT


def host_unreachable(ns: Netns) -> tuple[str, int]:
    """Route 127.0.0.2 to ``unreachable``: connect fails at once with EHOSTUNREACH (113), sending nothing."""
    return _route(ns, "host-unreachable")


def net_unreachable(ns: Netns) -> tuple[str, int]:
    """Route 127.0.0.3 to ``throw``: connect fails at once with ENETUNREACH (101), sending nothing."""
    return _route(ns, "net-unreachable")


def route_prohibited(ns: Netns) -> tuple[str, int]:
    """Route 127.0.0.5 to ``prohibit`` (administratively forbidden): connect gets EACCES (13)."""
    return _route(ns, "route-prohibited")


def route_blackhole(ns: Netns) -> tuple[str, int]:
    """Route 127.0.0.7 to ``blackhole``: connect gets EINVAL (22) at once, not a timeout."""
    return _route(ns, "route-blackhole")


def syn_dropped(ns: Netns) -> tuple[str, int]:
    """Route 127.0.0.4 out of lo to nobody: every SYN is dropped, so connect only ends by a timeout."""
    ns.add_route(f"{_SILENT_HOST}/32", "dev", "lo")
    return _SILENT_HOST, _ROUTE_PORT


def peer_vanishes(ns: Netns, *, cut_on_request: bool = True) -> tuple[str, int]:
    """A server whose return packets are dropped once the connection is up: the peer silently vanishes.

    Args:
        ns: the namespace.
        cut_on_request: the server cuts itself off as the first request head arrives (and never
            answers it). False: it answers every request head ``200 ok`` (bodies are not read) on a
            keep-alive connection until you call ``ns.drop_from(port)``.
    """

    def handler(conn: socket.socket) -> None:
        while _read_head(conn) is not None:
            if cut_on_request:
                # The kernel ACKed the head before we could read it, so the client holds no unacked
                # data: from now on it hears nothing, and only keepalive or a user timeout tell it.
                ns.drop_from(conn.getsockname()[1])
                ns.stopping.wait()
                return
            conn.sendall(_OK_RESPONSE)

    port = ns.serve("peer-vanishes", handler)
    return "127.0.0.1", port


def conn_aborted(ns: Netns) -> tuple[str, int]:
    """A server that, as the first request head arrives, destroys the client's socket with ``ss -K``.

    The client gets ECONNABORTED (103) from its pending or next operation.
    """

    def handler(conn: socket.socket) -> None:
        port, client_port = conn.getsockname()[1], conn.getpeername()[1]
        if _read_head(conn) is None:
            return
        if ns.abort_connections(port, client_port=client_port) != 1:
            raise NetnsError(f"ss -K destroyed no socket 127.0.0.1:{client_port} -> :{port} in {ns.name}")
        conn.recv(1)  # the RST from the destroyed socket ends this (ConnectionResetError)

    port = ns.serve("conn-aborted", handler)
    return "127.0.0.1", port


def zero_window(ns: Netns) -> tuple[str, int]:
    """A server that accepts and never reads: the client's sends fill the window until it is zero.

    With ``TCP_USER_TIMEOUT`` the client's blocked send ends with ETIMEDOUT (110); without, only its
    socket timeout ends it. (This one needs no namespace; it runs in one for a uniform API.)
    """

    def handler(conn: socket.socket) -> None:
        ns.stopping.wait()

    port = ns.serve("zero-window", handler)
    return "127.0.0.1", port


_SETUPS: dict[str, Callable[..., tuple[str, int]]] = {
    "host-unreachable": host_unreachable,
    "net-unreachable": net_unreachable,
    "route-prohibited": route_prohibited,
    "route-blackhole": route_blackhole,
    "syn-dropped": syn_dropped,
    "peer-vanishes": peer_vanishes,
    "conn-aborted": conn_aborted,
    "zero-window": zero_window,
}

NETNS_CATALOGUE = (
    Scenario(
        "host-unreachable",
        "netns",
        "an address routed 'unreachable' in a private namespace",
        "connect(): OSError errno 113 (EHOSTUNREACH) at once; http.client: the same from request()",
    ),
    Scenario(
        "net-unreachable",
        "netns",
        "an address whose route lookup ends in 'throw' (no route) in a private namespace",
        "connect(): OSError errno 101 (ENETUNREACH) at once",
    ),
    Scenario(
        "route-prohibited",
        "netns",
        "an address routed 'prohibit' in a private namespace",
        "connect(): PermissionError errno 13 (EACCES) at once",
    ),
    Scenario(
        "route-blackhole",
        "netns",
        "an address routed 'blackhole' in a private namespace",
        "connect(): OSError errno 22 (EINVAL) at once, not a timeout",
    ),
    Scenario(
        "syn-dropped",
        "netns",
        "an address whose SYNs are dropped: nothing ever answers the connect",
        "connect() with a timeout: TimeoutError errno None; blocking, TCP_SYNCNT=1: TimeoutError errno 110 after ~3 s",
    ),
    Scenario(
        "peer-vanishes",
        "netns",
        "a server that drops all its packets once the request arrives: the peer silently vanishes",
        "recv/getresponse(): TimeoutError errno 110 with keepalive or TCP_USER_TIMEOUT, else errno None at the timeout",
    ),
    Scenario(
        "conn-aborted",
        "netns",
        "a server that destroys the client's socket (ss -K) as the request arrives",
        "recv/getresponse(): ConnectionAbortedError errno 103 (ECONNABORTED)",
    ),
    Scenario(
        "zero-window",
        "netns",
        "a server that never reads: the client's sends meet a zero window",
        "send with TCP_USER_TIMEOUT: TimeoutError errno 110; without it: TimeoutError errno None at the timeout",
    ),
)

for _scenario in NETNS_CATALOGUE:
    register(_scenario)
