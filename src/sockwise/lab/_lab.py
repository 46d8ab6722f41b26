"""The lab: every origin scenario on loopback, in one object that starts and stops in one line."""

from __future__ import annotations

import asyncio
import errno
import socket
import ssl as ssl_module
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlencode

from sockwise._exceptions import ConfigError
from sockwise.lab._http import BadRequest, Request, abort, read_body, read_head, response_head
from sockwise.lab._origin import PATH_HANDLERS, Conn
from sockwise.lab._scenarios import get_scenario, scenario_names
from sockwise.lab._serve import Record, Tracker, bind_socket

if TYPE_CHECKING:
    import ssl

    from sockwise.lab._proxy import LabProxy
    from sockwise.lab._tls import LabCerts

__all__ = ["Lab"]

T = TypeVar("T")

_HEAD_IDLE = 60.0  # a client that opens and never sends is dropped after this, to bound what it holds


class Lab:
    """A fault lab on loopback: origin scenarios by path or port, TLS, and forward proxies.

    Use it as a context manager (sync or async); it runs its own event loop in a thread, so
    blocking clients and asyncio clients in the caller's loop can both talk to it::

        with Lab() as lab:
            urllib.request.urlopen(lab.url("reset-after-request"))   # ConnectionResetError

    Args:
        host: the address to listen on; loopback by default.
        port: the port of the plain origin (0 = a free one).
        tls: serve the TLS scenarios (needs trustme, the ``lab`` extra); None = when available.

    Raises:
        ConfigError: the port is in use, or tls=True without trustme.
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, tls: bool | None = None) -> None:
        self.host = host
        self._want_port = port
        self._want_tls = tls
        self.tracker = Tracker()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._start_errors: list[BaseException] = []
        self._servers: list[asyncio.AbstractServer] = []
        self._held: list[socket.socket] = []  # sockets that must stay open for a scenario to hold
        self._ports: dict[str, int] = {}
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.certs: LabCerts | None = None
        self.proxies: list[LabProxy] = []

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> Lab:
        """Start every listener; returns once all of them accept."""
        if self._thread is not None:
            return self
        self._ready = threading.Event()
        self._start_errors = []
        self._ports = {}
        self.proxies = []
        self._thread = threading.Thread(target=self._run, name="sockwise-lab", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout=30):  # pragma: no cover - only on a wedged machine
            raise RuntimeError("the lab did not start within 30 s")
        if self._start_errors:
            self._thread.join()
            self._thread = None
            raise self._start_errors[0]
        return self

    def stop(self) -> None:
        """Close every listener and connection and stop the lab's thread."""
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        self._thread = None

    def __enter__(self) -> Lab:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    async def __aenter__(self) -> Lab:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.stop)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        loop.set_exception_handler(self._on_loop_error)
        self._loop = loop
        try:
            loop.run_until_complete(self._astart())
        except BaseException as exc:
            self._start_errors.append(exc)
            loop.run_until_complete(self._astop())
            loop.close()
            self._ready.set()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._astop())
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def _on_loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        # Failed TLS handshakes and peers that vanish are the lab's business, not its errors.
        if isinstance(exc, (ConnectionError, TimeoutError, ssl_module.SSLError)):
            return
        self.tracker.errors.append(exc if isinstance(exc, BaseException) else RuntimeError(context.get("message")))

    async def _astart(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="sockwise-lab-")
        tls = self._want_tls
        if tls is not False:
            try:
                from sockwise.lab._tls import make_certs

                self.certs = make_certs(Path(self._tmp.name))
            except ImportError:
                if tls:
                    raise ConfigError("TLS scenarios need trustme: pip install 'sockwise[lab]'") from None
        await self._listen("origin", self._origin_handler, self._want_port)
        self._ports["tls-to-plain"] = self._ports["origin"]
        await self._listen("reset-on-accept", self._reset_on_accept)
        self._reserve("refused")
        self._backlog_full()
        if self.certs is not None:
            await self._listen("origin-tls", self._origin_handler, ssl=self.certs.server)
            await self._listen("tls-stall", self._never_answer)
            await self._listen("bad-cert", self._origin_handler, ssl=self.certs.untrusted)
            await self._listen("wrong-host", self._origin_handler, ssl=self.certs.wrong_host)

    async def _astop(self) -> None:
        for server in self._servers:
            server.close()
        await self.tracker.close_all()
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()
        for sock in self._held:
            sock.close()
        self._held.clear()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    # -- listeners ---------------------------------------------------------------------------------
    def _bind(self, name: str, port: int = 0) -> socket.socket:
        try:
            return bind_socket(self.host, port)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(
                    f"port {port} on {self.host} is in use (lab {name}); choose another port, or 0 for a free one"
                ) from None
            if exc.errno == errno.EADDRNOTAVAIL:
                raise ConfigError(f"cannot listen on {self.host}: not an address of this machine") from None
            raise

    async def _listen(
        self,
        name: str,
        handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Coroutine[Any, Any, None]],
        port: int = 0,
        *,
        ssl: ssl.SSLContext | None = None,
    ) -> int:
        sock = self._bind(name, port)
        server = await asyncio.start_server(
            self.tracker.wrap(name, handler), sock=sock, ssl=ssl, backlog=512, limit=128 * 1024
        )
        self._servers.append(server)
        self._ports[name] = sock.getsockname()[1]
        return self._ports[name]

    def _reserve(self, name: str) -> None:
        sock = self._bind(name)
        self._held.append(sock)
        self._ports[name] = sock.getsockname()[1]

    def _backlog_full(self) -> None:
        # listen(0) admits one connection to the accept queue; with it taken, Linux drops new SYNs.
        sock = self._bind("backlog-full")
        sock.listen(0)
        self._held.append(sock)
        port = sock.getsockname()[1]
        filler = socket.create_connection((self.host, port), timeout=5)
        self._held.append(filler)
        self._ports["backlog-full"] = port

    # -- connection handlers -----------------------------------------------------------------------
    async def _origin_handler(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, conn_id: int) -> None:
        conn = Conn(reader, writer, conn_id)
        while True:
            try:
                req = await asyncio.wait_for(read_head(reader), _HEAD_IDLE if conn.served == 0 else None)
            except BadRequest:
                # e.g. a TLS ClientHello on the plain port: answer like a plain server would.
                writer.write(response_head(400, [("Content-Length", "0"), ("Connection", "close")]))
                await writer.drain()
                writer.close()
                return
            if req is None:
                return
            name = _scenario_of(req)
            self.tracker.record(
                Record(
                    name, req.method, req.target, conn_id, conn.served + 1, time.monotonic(), time.time(), req.headers
                )
            )
            await read_body(reader, req)
            handler = PATH_HANDLERS.get(name)
            if handler is None:
                body = f"unknown lab scenario {name!r}; try one of: {', '.join(PATH_HANDLERS)}\n".encode()
                writer.write(response_head(404, [("Content-Length", str(len(body)))]) + body)
                await writer.drain()
                keep = req.keep_alive
            else:
                keep = await handler(conn, req)
            conn.served += 1
            if not keep or writer.transport.is_closing():
                if not writer.transport.is_closing():
                    writer.close()
                return

    async def _reset_on_accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, conn_id: int) -> None:
        abort(writer)

    async def _never_answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, conn_id: int) -> None:
        while await reader.read(65536):
            pass

    # -- what tests and users ask for --------------------------------------------------------------
    def port(self, name: str) -> int:
        """The port of a listener: ``origin``, ``origin-tls`` or a port scenario's name."""
        self._check_started()
        if name not in self._ports:
            if name in scenario_names("port") or name == "origin-tls":
                raise ConfigError(f"lab scenario {name!r} needs TLS: install trustme (pip install 'sockwise[lab]')")
            get_scenario(name, "port")
        return self._ports[name]

    def address(self, scenario: str) -> tuple[str, int]:
        """``(host, port)`` where a port scenario (or ``origin``) listens."""
        return self.host, self.port(scenario)

    def url(self, scenario: str, *, tls: bool = False, path: str | None = None, **params: object) -> str:
        """The URL that triggers a scenario.

        Args:
            scenario: a path or port scenario name.
            tls: for path scenarios, use the TLS origin (``https``).
            path: for port scenarios, the path to request (default ``/``).
            **params: query parameters of path scenarios (``size=``, ``code=``, ``retry_after=`` ...).

        Raises:
            ConfigError: unknown scenario.
        """
        self._check_started()
        spec = get_scenario(scenario)
        query = ("?" + urlencode({k: str(v) for k, v in params.items()})) if params else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        if spec.kind == "path":
            port = self.port("origin-tls" if tls else "origin")
            return f"{'https' if tls else 'http'}://{host}:{port}/fault/{scenario}{query}"
        if spec.kind != "port":
            raise ConfigError(f"lab scenario {scenario!r} is a {spec.kind} scenario, not reached by URL")
        scheme = "https" if scenario in _TLS_PORT_SCENARIOS else "http"
        target = path if path is not None else ("/fault/ok" if scenario in _SERVES_PATHS else "/")
        return f"{scheme}://{host}:{self.port(scenario)}{target}{query}"

    @property
    def ca_file(self) -> Path:
        """The PEM file of the lab's CA (for ``verify=`` / ``cafile=``)."""
        if self.certs is None:
            raise ConfigError("this lab has no TLS: install trustme (pip install 'sockwise[lab]')")
        return self.certs.ca_file

    def client_ssl_context(self) -> ssl.SSLContext:
        """An SSL context that trusts the lab's CA."""
        if self.certs is None:
            raise ConfigError("this lab has no TLS: install trustme (pip install 'sockwise[lab]')")
        return self.certs.client_context()

    def records(self, scenario: str | None = None) -> list[Record]:
        """Requests the lab's listeners received, in order (optionally of one scenario)."""
        return self.tracker.records(scenario)

    def accepted(self, listener: str) -> int:
        """Connections accepted by a listener (``origin``, ``origin-tls``, a port scenario, a proxy)."""
        return self.tracker.accepted(listener)

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Block until ``predicate()`` holds, re-checked on every request or accept; False on timeout."""
        return self.tracker.wait_for(predicate, timeout)

    @property
    def errors(self) -> list[BaseException]:
        """Unexpected exceptions inside the lab's handlers (a bug of the lab if not empty)."""
        return list(self.tracker.errors)

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run a coroutine on the lab's loop from another thread and return its result."""
        self._check_started()
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def add_proxy(self, profile: str = "healthy", **options: Any) -> LabProxy:
        """Start a forward proxy (HTTP CONNECT / absolute-form and SOCKS5 on one port) of a profile.

        Args:
            profile: ``healthy``, ``refuse``, ``blackhole``, ``auth``, ``connect-502``, ``connect-403``,
                ``reset-after-connect``, ``slow``, ``upstream-dead`` or ``ban:<status>``.
            **options: profile options (credentials for ``auth``, ``latency`` for ``slow``, ``site`` for bans).

        Raises:
            ConfigError: unknown profile or bad options.
        """
        from sockwise.lab._proxy import parse_profile, start_proxy

        spec = parse_profile(profile, **options)
        proxy = self.call(start_proxy(self, spec))
        self.proxies.append(proxy)
        return proxy

    def _check_started(self) -> None:
        if self._thread is None:
            raise RuntimeError("the lab is not running: use 'with Lab() as lab:' or call lab.start()")

    # Used by proxies started on this lab.
    async def listen(
        self,
        name: str,
        handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Coroutine[Any, Any, None]],
        port: int = 0,
        *,
        ssl: ssl.SSLContext | None = None,
    ) -> int:
        """Start a tracked listener on the lab's loop (TLS with ``ssl``); returns its port (for proxies, extensions)."""
        return await self._listen(name, handler, port, ssl=ssl)

    def reserve(self, name: str) -> int:
        """Bind a port without listening (connections to it are refused); returns the port."""
        self._reserve(name)
        return self._ports[name]

    def hold(self, sock: socket.socket) -> None:
        """Keep a socket open until the lab stops."""
        self._held.append(sock)


_TLS_PORT_SCENARIOS = frozenset({"tls-to-plain", "tls-stall", "bad-cert", "wrong-host"})
_SERVES_PATHS = frozenset({"tls-to-plain", "bad-cert", "wrong-host"})


def _scenario_of(req: Request) -> str:
    parts = req.path.split("/")
    if len(parts) >= 3 and parts[1] == "fault":
        return parts[2]
    return "ok" if req.path in ("/", "") else req.path.strip("/")
