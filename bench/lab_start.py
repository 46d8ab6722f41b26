"""How long the lab takes to start and stop, and how many fds it holds (target: start < 1 s).

Peer: a bare ``asyncio.start_server`` on one port in its own thread — the least any lab can do.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import threading
import time

from sockwise.lab import Lab

ROUNDS = 15


def _bare_server() -> tuple[float, float]:
    ready = threading.Event()
    holder: dict[str, asyncio.AbstractEventLoop] = {}

    def run() -> None:
        loop = asyncio.new_event_loop()
        holder["loop"] = loop

        async def start() -> asyncio.AbstractServer:
            return await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)

        server = loop.run_until_complete(start())
        ready.set()
        loop.run_forever()
        server.close()
        loop.run_until_complete(server.wait_closed())
        loop.close()

    t0 = time.perf_counter()
    thread = threading.Thread(target=run)
    thread.start()
    ready.wait()
    t1 = time.perf_counter()
    holder["loop"].call_soon_threadsafe(holder["loop"].stop)
    thread.join()
    return t1 - t0, time.perf_counter() - t1


def _lab() -> tuple[float, float, int]:
    t0 = time.perf_counter()
    lab = Lab().start()
    t1 = time.perf_counter()
    fds = len(os.listdir("/proc/self/fd"))
    lab.stop()
    return t1 - t0, time.perf_counter() - t1, fds


def main() -> None:
    """Interleave lab and bare-server rounds; print medians and the ratio."""
    base_fds = len(os.listdir("/proc/self/fd"))
    lab_start, lab_stop, bare_start, bare_stop, fds = [], [], [], [], []
    for _ in range(ROUNDS):
        s, t, f = _lab()
        lab_start.append(s)
        lab_stop.append(t)
        fds.append(f - base_fds)
        s, t = _bare_server()
        bare_start.append(s)
        bare_stop.append(t)
    after_fds = len(os.listdir("/proc/self/fd")) - base_fds
    print("## lab start/stop (ms, median of", ROUNDS, "interleaved rounds)")
    print("| what | start ms | stop ms | fds while up |")
    print("|---|---|---|---|")
    print(
        f"| sockwise Lab (every origin listener, TLS certs made) | {statistics.median(lab_start) * 1000:.1f} "
        f"(max {max(lab_start) * 1000:.1f}) | {statistics.median(lab_stop) * 1000:.1f} | {statistics.median(fds):.0f} |"
    )
    print(
        f"| bare asyncio.start_server in a thread | {statistics.median(bare_start) * 1000:.1f} | "
        f"{statistics.median(bare_stop) * 1000:.1f} | - |"
    )
    print(f"fds left after {ROUNDS} start/stop cycles: {after_fds}")


if __name__ == "__main__":
    main()
