"""Tunnel relay throughput of the lab proxy: bytes through its CONNECT / SOCKS5 tunnels vs direct.

Run: ``python -m bench proxy_relay`` or ``python bench/proxy_relay.py [--mib 256] [--rounds 5]``.

A source process streams N MiB to whoever connects; the client reads them directly, through a
healthy lab proxy's CONNECT and SOCKS5 tunnels, and through the peer: the plain asyncio-streams
CONNECT relay anyone would write first (read / write / drain, 256 KiB reads), on its own loop
thread as the lab's proxy is. Ways are interleaved round by round; ratios are medians of per-round
ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable

from sockwise.lab import Lab

_SOURCE = r"""
import socket, sys
total = int(sys.argv[1])
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(8)
print(srv.getsockname()[1], flush=True)
block = memoryview(b"x" * (1 << 20))
while True:
    conn, _ = srv.accept()
    left = total
    while left:
        n = min(left, len(block))
        conn.sendall(block[:n])
        left -= n
    conn.close()
"""


def _drain(sock: socket.socket, total: int) -> float:
    view = memoryview(bytearray(1 << 20))
    got = 0
    start = time.perf_counter()
    while got < total:
        n = sock.recv_into(view)
        if not n:
            raise RuntimeError(f"stream ended after {got} of {total} bytes")
        got += n
    elapsed = time.perf_counter() - start
    sock.close()
    return elapsed


def _connect_tunnel(proxy_port: int, port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", proxy_port), timeout=30)
    sock.sendall(f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        head += sock.recv(1)
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"CONNECT refused: {head!r}")
    return sock


def _socks5_tunnel(proxy_port: int, port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", proxy_port), timeout=30)
    sock.sendall(b"\x05\x01\x00")
    if sock.recv(2) != b"\x05\x00":
        raise RuntimeError("SOCKS5 greeting refused")
    sock.sendall(b"\x05\x01\x00\x01" + socket.inet_aton("127.0.0.1") + struct.pack("!H", port))
    reply = b""
    while len(reply) < 10:
        reply += sock.recv(10 - len(reply))
    if reply[1] != 0:
        raise RuntimeError(f"SOCKS5 CONNECT refused: {reply!r}")
    return sock


class _StreamsRelay:
    """The peer: a CONNECT proxy relaying with asyncio streams, on its own loop thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _StreamsRelay:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()

    def _run(self) -> None:
        server = self.loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self.loop.run_forever()
        server.close()
        self.loop.run_until_complete(server.wait_closed())
        self.loop.close()

    @staticmethod
    async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(262144):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        host, port = head.split()[1].decode().rsplit(":", 1)
        up_reader, up_writer = await asyncio.open_connection(host, int(port))
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer), return_exceptions=True)


def main(argv: list[str] | None = None) -> None:
    """Interleave direct, lab CONNECT, lab SOCKS5 and peer rounds; print MiB/s and ratios."""
    parser = argparse.ArgumentParser(description="lab proxy tunnel relay throughput")
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv or [])
    total = args.mib << 20
    source = subprocess.Popen([sys.executable, "-c", _SOURCE, str(total)], stdout=subprocess.PIPE, text=True)
    try:
        assert source.stdout is not None
        port = int(source.stdout.readline())
        with Lab(tls=False) as lab, _StreamsRelay() as peer:
            proxy = lab.add_proxy("healthy")
            ways: dict[str, Callable[[], socket.socket]] = {
                "direct": lambda: socket.create_connection(("127.0.0.1", port), timeout=30),
                "lab CONNECT": lambda: _connect_tunnel(proxy.port, port),
                "lab SOCKS5": lambda: _socks5_tunnel(proxy.port, port),
                "streams relay (peer)": lambda: _connect_tunnel(peer.port, port),
            }
            times: dict[str, list[float]] = {name: [] for name in ways}
            for _ in range(args.rounds):
                for name, opener in ways.items():
                    times[name].append(_drain(opener(), total))
            if lab.errors:
                raise RuntimeError(f"the lab failed while serving: {lab.errors!r}")
    finally:
        source.kill()
        source.wait()
    print(f"proxy_relay: {args.mib} MiB x {args.rounds} rounds, Python {sys.version.split()[0]}")
    print(f"  {'way':22s} {'MiB/s':>7s}  {'/direct':>8s}  {'/peer':>6s}")
    for name, values in times.items():
        vs_direct = statistics.median(d / t for d, t in zip(times["direct"], values, strict=True))
        vs_peer = statistics.median(p / t for p, t in zip(times["streams relay (peer)"], values, strict=True))
        rate = args.mib / statistics.median(values)
        print(f"  {name:22s} {rate:7.0f}  {vs_direct:7.2f}x  {vs_peer:5.2f}x")


if __name__ == "__main__":
    main(sys.argv[1:])
