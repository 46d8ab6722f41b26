"""The SQLite store: one file, several processes on one machine, survives restarts.

``sqlite:///health.db`` (relative) or ``sqlite:////var/lib/sockwise/health.db`` (absolute),
the SQLAlchemy convention. The file runs in WAL mode (readers never wait for the writer) with
a busy timeout, and every update is one ``BEGIN IMMEDIATE`` transaction: a process killed in
the middle of one leaves the file as it was before it. WAL needs a local file system: do not
share the file over NFS; use Redis to share health between machines.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from sockwise._exceptions import ConfigError, StoreUnavailable
from sockwise.pool._health import ProxyHealth, decode_health, encode_health
from sockwise.pool._store import Ban

__all__ = ["SQLiteStore"]

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS health (key TEXT PRIMARY KEY, data TEXT NOT NULL, updated REAL)",
    "CREATE TABLE IF NOT EXISTS bans (site TEXT NOT NULL, key TEXT NOT NULL, until REAL NOT NULL,"
    " PRIMARY KEY (site, key))",
    "CREATE INDEX IF NOT EXISTS bans_until ON bans (until)",
)
_CHUNK = 500  # well under SQLite's limit on bound parameters

# (SQLite error name, words in the message on Python < 3.11, why, what to do), most specific first.
_ERRORS: tuple[tuple[str, str, str, str], ...] = (
    ("SQLITE_FULL", "disk is full", "the disk (or the database's size limit) is full", "free space on that disk"),
    (
        "SQLITE_READONLY",
        "readonly database",
        "the file or its directory is read-only",
        "make both writable by this user, or point the store at a writable path",
    ),
    (
        "SQLITE_CANTOPEN",
        "unable to open",
        "the file cannot be opened or created",
        "check that its directory exists and is writable",
    ),
    (
        "SQLITE_BUSY",
        "database is locked",
        "another process held the database locked for longer than the busy timeout",
        "raise ?timeout= or find the process that holds it",
    ),
    (
        "SQLITE_NOTADB",
        "not a database",
        "the file is not a SQLite database",
        "point the store at another path or remove that file",
    ),
    (
        "SQLITE_CORRUPT",
        "malformed",
        "the database file is damaged",
        "move it aside; sockwise starts a new one (health is relearned)",
    ),
    ("SQLITE_IOERR", "disk i/o error", "the disk reported an I/O error", "check the disk and its free space"),
)


def _why(exc: sqlite3.Error) -> tuple[str, str]:
    name = getattr(exc, "sqlite_errorname", "")
    text = str(exc).lower()
    for error_name, words, why, fix in _ERRORS:
        if name.startswith(error_name) or words in text:
            return why, fix
    return f"SQLite failed ({exc})", "check the path and the disk"


class SQLiteStore:
    """Health and bans in a SQLite file (WAL), shared by processes on one machine.

    Args:
        path: the database file; created with its tables when missing.
        busy_timeout: seconds to wait for another process's write lock before giving up.

    Raises:
        StoreUnavailable: the file cannot be opened, created or written (the message names
            the path, why and what to do).
    """

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = 10.0) -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self._url = f"sqlite:///{self.path}"
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        with self._guard():
            self._connect()

    @classmethod
    def from_url(cls, url: str) -> SQLiteStore:
        """Open ``sqlite:///relative/path`` or ``sqlite:////absolute/path`` (``?timeout=`` seconds).

        Raises:
            ConfigError: no path in the URL or a bad timeout.
            StoreUnavailable: the file cannot be used.
        """
        parts = urlsplit(url)
        if parts.netloc:
            raise ConfigError(
                f"store URL {url!r} has a host part; write sqlite:///relative.db or sqlite:////absolute/path.db"
            )
        raw = unquote(parts.path)
        path = raw[1:] if raw.startswith("/") else raw
        if not path or path == ":memory:":
            raise ConfigError(
                f"store URL {url!r} names no file; write sqlite:///relative.db or sqlite:////absolute/path.db"
            )
        query = parse_qs(parts.query)
        timeout = 10.0
        if "timeout" in query:
            try:
                timeout = float(query["timeout"][-1])
            except ValueError:
                raise ConfigError(f"store URL {url!r}: timeout must be a number of seconds") from None
        return cls(path, busy_timeout=timeout)

    @property
    def url(self) -> str:
        """``sqlite:///`` and the path."""
        return self._url

    def _connect(self) -> sqlite3.Connection:
        # A connection must not cross a fork: a child opens its own.
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        conn = sqlite3.connect(str(self.path), timeout=self.busy_timeout, isolation_level=None, check_same_thread=False)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            conn.execute("PRAGMA journal_mode = WAL")
            # NORMAL in WAL mode: a commit survives a killed process; only power loss may lose the last ones.
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA:
                conn.execute(statement)
            conn.execute("COMMIT")
        except BaseException:
            conn.close()
            raise
        self._conn, self._pid = conn, os.getpid()
        return conn

    @contextmanager
    def _guard(self) -> Iterator[None]:
        with self._lock:
            try:
                yield
            except sqlite3.Error as exc:
                why, fix = _why(exc)
                raise StoreUnavailable(f"SQLite store {self._url}: {why}; {fix}", url=self._url) from exc

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._guard():
            conn = self._connect()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def update(self, key: str, step: Callable[[ProxyHealth], ProxyHealth]) -> ProxyHealth:
        """Replace a proxy's health by ``step(current)`` in one write transaction."""
        with self._transaction() as conn:
            row = conn.execute("SELECT data FROM health WHERE key = ?", (key,)).fetchone()
            new = step(decode_health(row[0] if row else None))
            conn.execute(
                "INSERT INTO health (key, data, updated) VALUES (?, ?, ?)"
                " ON CONFLICT (key) DO UPDATE SET data = excluded.data, updated = excluded.updated",
                (key, encode_health(new), new.updated_at),
            )
        return new

    def read_many(self, keys: Sequence[str]) -> dict[str, ProxyHealth]:
        """The recorded health of the given proxies."""
        found: dict[str, ProxyHealth] = {}
        with self._guard():
            conn = self._connect()
            for start in range(0, len(keys), _CHUNK):
                chunk = list(keys[start : start + _CHUNK])
                marks = ",".join("?" * len(chunk))
                for key, data in conn.execute(f"SELECT key, data FROM health WHERE key IN ({marks})", chunk):
                    found[key] = decode_health(data)
        return found

    def set_ban(self, key: str, site: str, until: float, *, now: float) -> None:
        """Ban a proxy from a site until ``until``, keeping a longer ban; drops expired bans."""
        with self._transaction() as conn:
            conn.execute("DELETE FROM bans WHERE until <= ?", (now,))
            conn.execute(
                "INSERT INTO bans (site, key, until) VALUES (?, ?, ?)"
                " ON CONFLICT (site, key) DO UPDATE SET until = max(until, excluded.until)",
                (site, key, until),
            )

    def clear_ban(self, key: str, site: str) -> None:
        """Lift a ban."""
        with self._transaction() as conn:
            conn.execute("DELETE FROM bans WHERE site = ? AND key = ?", (site, key))

    def bans(self, site: str, *, now: float) -> dict[str, float]:
        """Proxies banned from ``site`` at ``now``."""
        with self._guard():
            rows = self._connect().execute("SELECT key, until FROM bans WHERE site = ? AND until > ?", (site, now))
            return dict(rows)

    def list_health(self) -> dict[str, ProxyHealth]:
        """Every recorded health."""
        with self._guard():
            rows = self._connect().execute("SELECT key, data FROM health ORDER BY key")
            return {key: decode_health(data) for key, data in rows}

    def list_bans(self, *, now: float) -> list[Ban]:
        """Every ban in force."""
        with self._guard():
            rows = self._connect().execute(
                "SELECT key, site, until FROM bans WHERE until > ? ORDER BY site, key", (now,)
            )
            return sorted(Ban(key, site, until) for key, site, until in rows)

    def clear(self) -> None:
        """Forget everything in the file."""
        with self._transaction() as conn:
            conn.execute("DELETE FROM health")
            conn.execute("DELETE FROM bans")

    def close(self) -> None:
        """Close the connection (the file stays)."""
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None
