"""A fast HTTP/1.1 origin for benchmarks: a raw asyncio Protocol answering one fixed keep-alive response.

Shared by every client benchmark (``bench/overhead_*.py``). It runs in its own process, pinned with
``taskset`` to the core the load generator does not use, so the clients under test (not the server)
are the bottleneck; uvloop is used when installed. Usage::

    from bench._fast_origin import fast_origin, pin_client

    pin_client()                      # the load generator on core 0
    with fast_origin() as (host, port):   # the origin on core 1
        ...  # GET http://{host}:{port}/ -> 200 "ok", keep-alive

The server reads each request to its end (headers, plus a ``Content-Length`` body when one is sent;
pipelined requests are answered in order) and answers every one with the same bytes. It never closes
a connection first. It is stopped by PID when the ``with`` block ends, and it also exits by itself when
its parent goes away (its stdin closes).

Run alone: ``python bench/_fast_origin.py [--body-size N] [--no-uvloop]`` prints the port, serves
until stdin closes or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import selectors
import shutil
import subprocess
import sys
from collections.abc import Iterator

__all__ = ["CLIENT_CPU", "ORIGIN_CPU", "fast_origin", "pin_client"]

#: The core the load generator (the client under test) runs on.
CLIENT_CPU = 0
#: The core the origin process is pinned to.
ORIGIN_CPU = 1

_HOST = "127.0.0.1"
_START_TIMEOUT = 10.0


def _response(body_size: int) -> bytes:
    body = b"ok" if body_size == 2 else b"x" * body_size
    head = (
        f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\nContent-Type: text/plain\r\nConnection: keep-alive\r\n\r\n"
    )
    return head.encode("ascii") + body


class _Origin(asyncio.Protocol):
    """Answers each complete request on the connection with the fixed response."""

    __slots__ = ("_buf", "_response", "_transport")

    def __init__(self, response: bytes) -> None:
        self._response = response
        self._buf = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses; both have write().
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        buf = self._buf + data if self._buf else data
        answers = 0
        start = 0
        while True:
            end = buf.find(b"\r\n\r\n", start)
            if end < 0:
                break
            head = buf[start:end]
            stop = end + 4
            # Only requests with a body pay for parsing; benchmark GETs take the fast path.
            if b"ength:" in head or b"ENGTH:" in head:
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value.strip())
                if len(buf) < stop + length:
                    break
                stop += length
            answers += 1
            start = stop
        self._buf = buf[start:]
        if answers and self._transport is not None:
            self._transport.write(self._response * answers)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None


async def _serve(port: int, response: bytes) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Origin(response), _HOST, port, backlog=4096, reuse_address=True)
    bound = server.sockets[0].getsockname()[1]
    print(bound, flush=True)
    stop = loop.create_future()

    def stdin_ready() -> None:
        # The parent holds our stdin; EOF means it is gone (or asked us to stop).
        if not os.read(sys.stdin.fileno(), 4096) and not stop.done():
            stop.set_result(None)

    loop.add_reader(sys.stdin.fileno(), stdin_ready)
    try:
        await stop
    finally:
        loop.remove_reader(sys.stdin.fileno())
        server.close()


def _main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--body-size", type=int, default=2)
    parser.add_argument("--no-uvloop", action="store_true")
    args = parser.parse_args(argv)
    response = _response(args.body_size)
    if not args.no_uvloop:
        try:
            import uvloop  # optional: the origin is faster with it

            uvloop.install()
        except ImportError:
            pass
    asyncio.run(_serve(args.port, response))


def pin_client(cpu: int = CLIENT_CPU) -> None:
    """Pin the calling process (the load generator) to ``cpu`` when the machine has more than one core."""
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {cpu})


@contextlib.contextmanager
def fast_origin(*, body_size: int = 2, cpu: int | None = ORIGIN_CPU, uvloop: bool = True) -> Iterator[tuple[str, int]]:
    """Run the fast origin in a subprocess for the ``with`` block.

    Args:
        body_size: bytes of response body (default 2: ``ok``).
        cpu: the core to pin the origin to with ``taskset`` (None: not pinned; also not pinned on a
            one-core machine or without ``taskset``).
        uvloop: use uvloop in the origin when it is installed.

    Yields:
        ``(host, port)`` of the origin, listening on loopback.

    Raises:
        RuntimeError: the origin did not print its port within 10 s.
    """
    cmd = [sys.executable, os.path.abspath(__file__), "--body-size", str(body_size)]
    if not uvloop:
        cmd.append("--no-uvloop")
    taskset = shutil.which("taskset")
    if cpu is not None and taskset and (os.cpu_count() or 1) > cpu:
        cmd = [taskset, "-c", str(cpu), *cmd]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            if not sel.select(_START_TIMEOUT):
                raise RuntimeError(f"fast origin did not start within {_START_TIMEOUT:.0f} s")
        line = proc.stdout.readline().strip()
        if not line.isdigit():
            raise RuntimeError(f"fast origin failed to start (printed {line!r}, exit {proc.poll()})")
        yield _HOST, int(line)
    finally:
        # Stop by PID: closing stdin asks politely, SIGTERM then SIGKILL make sure.
        with contextlib.suppress(OSError):
            if proc.stdin is not None:
                proc.stdin.close()
        try:
            proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


if __name__ == "__main__":
    _main()
