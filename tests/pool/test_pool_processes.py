"""Stores shared by real processes: ejections seen across processes, kill -9 mid-update is harmless."""

from __future__ import annotations

import os
import selectors
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from sockwise import Proxy
from sockwise.pool import HealthPolicy, HealthState, ProxyPool, SQLiteStore, store_from_url

PROXIES = [Proxy("http", f"10.0.0.{i}", 8080) for i in range(1, 5)]

EJECT_CHILD = """
import sys
from sockwise import Blame, ErrorCode, Failure, Phase, Proxy
from sockwise.pool import HealthPolicy, ProxyPool
refused = Failure(ErrorCode.ECONNREFUSED, Phase.PROXY_CONNECT, Blame.PROXY, request_sent=False, errno=111)
proxies = [Proxy("http", f"10.0.0.{i}", 8080) for i in range(1, 5)]
pool = ProxyPool(proxies, store=sys.argv[1], policy=HealthPolicy(ejection_jitter=0.0))
for _ in range(3):
    pool.report(proxies[0], "a.example", refused, 0.1)
pool.store.close()
"""

UPDATE_CHILD = """
import sys, time
from sockwise.pool import HealthPolicy, SQLiteStore, record
store = SQLiteStore(sys.argv[1])
policy = HealthPolicy()
deadline = time.monotonic() + 30
count = 0
while count < 200_000 and time.monotonic() < deadline:
    now = time.time()
    store.update(f"k{count % 5}", lambda h: record(h, None, 0.01, now=now, policy=policy, rand=0.0))
    if count % 7 == 0:
        store.set_ban(f"k{count % 5}", f"site{count % 3}", now + 600, now=now)
    count += 1
    if count % 50 == 0:
        print(count, flush=True)
"""


def run_child(script: str, *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", script, *args], check=False, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


def test_ejection_in_another_process_seen_at_next_lease(shared_url: str) -> None:
    """A proxy ejected by another process is never leased here from the very next lease on."""
    pool = ProxyPool(PROXIES, store=store_from_url(shared_url), policy=HealthPolicy(ejection_jitter=0.0))
    assert pool.lease("a.example") in PROXIES
    run_child(EJECT_CHILD, shared_url)
    assert pool.status()[0].state is HealthState.EJECTED
    assert PROXIES[0] not in {pool.lease("a.example") for _ in range(20)}
    pool.store.clear()
    pool.store.close()


def _read_progress(proc: subprocess.Popen[str], at_least: int, timeout: float) -> int:
    """The last count the child printed, once it is at least ``at_least`` (bounded in time)."""
    assert proc.stdout is not None
    last = 0
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while last < at_least:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"the child reached only {last} updates"
            if sel.select(timeout=remaining):
                line = proc.stdout.readline()
                assert line, "the child exited early"
                last = int(line)
    return last


def test_kill_9_mid_update_leaves_sqlite_consistent(tmp_path: Path) -> None:
    """A process killed with SIGKILL while updating leaves a file that passes integrity_check and loses no commit."""
    path = tmp_path / "health.db"
    SQLiteStore(path).close()
    committed = 0
    for target in (100, 300):
        proc = subprocess.Popen(
            [sys.executable, "-c", UPDATE_CHILD, str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            committed += _read_progress(proc, target, timeout=60)
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            assert proc.stdout is not None
            assert proc.stderr is not None
            proc.stdout.close()
            proc.stderr.close()
        assert proc.returncode == -signal.SIGKILL
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        store = SQLiteStore(path)
        healths = store.list_health()
        total = sum(h.total_successes for h in healths.values())
        # Every update the children reported is there: commits survive SIGKILL in WAL mode.
        assert sorted(healths) == ["k0", "k1", "k2", "k3", "k4"]
        assert total >= committed
        assert all(h.window_start is not None and h.consecutive_failures == 0 for h in healths.values())
        assert len(store.list_bans(now=time.time())) > 0
        store.update("k0", lambda h: h)  # and it takes writes again
        store.close()
