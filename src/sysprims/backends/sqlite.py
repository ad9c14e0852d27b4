"""The one SQLite layer under every embedded store (shortener, idempotency, shards).

:class:`SQLiteDB` holds one connection per process: WAL journal (switched on
with a retry, as several processes may open a new file at once), a busy
timeout, autocommit mode with explicit ``BEGIN IMMEDIATE`` transactions
(:meth:`SQLiteDB.tx`: one writer at a time across threads *and* processes),
a thread lock, and a fresh connection in a child after ``fork`` (a SQLite
connection must not cross a fork). Every SQLite failure comes out as
:class:`~sysprims.errors.BackendError` naming the file.
:func:`check_identifier` vets the table names stores build SQL from.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..errors import BackendError, InvalidParameterError

__all__ = ["SQLiteDB", "check_identifier", "connect", "path_from_url"]

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def check_identifier(what: str, name: Any) -> str:
    """``name`` if it is a plain SQL identifier (letters, digits, ``_``; at most 63)."""
    if not isinstance(name, str) or _IDENT.fullmatch(name) is None:
        raise InvalidParameterError(f"{what} must be an SQL identifier (letters, digits, _), got {name!r}")
    return name


def path_from_url(url: str) -> str:
    """``sqlite:///relative.db``, ``sqlite:////abs/path.db``, ``sqlite://:memory:`` or a path."""
    if url.startswith("sqlite://"):
        rest = url[len("sqlite://") :]
        if rest in ("", "/:memory:", ":memory:"):
            return ":memory:"
        if not rest.startswith("/"):
            raise InvalidParameterError(f"store URL must look like sqlite:///path.db, got {url!r}")
        return rest[1:]
    return url


def connect(path: str | os.PathLike[str], *, timeout: float = 30.0) -> sqlite3.Connection:
    """Open a SQLite database for concurrent use: WAL journal, busy timeout,
    autocommit mode (callers use explicit ``BEGIN IMMEDIATE`` transactions)."""
    target = str(path)
    if target != ":memory:":
        parent = Path(target).parent
        if not parent.exists():
            raise BackendError(f"cannot open SQLite database {target}: folder {parent} does not exist")
    try:
        conn = sqlite3.connect(target, timeout=timeout, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
        if target != ":memory:":
            _enable_wal(conn, timeout)
        conn.execute("PRAGMA synchronous=NORMAL")
    except sqlite3.DatabaseError as exc:
        raise BackendError(f"cannot open SQLite database {target}: {exc}") from exc
    return conn


class SQLiteDB:
    """One SQLite database as a store uses it; see the module docstring.

    ``setup(conn)`` runs on every new connection (``CREATE TABLE IF NOT EXISTS``
    and alike), after ``fork`` too.
    """

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 30.0,
                 setup: Callable[[sqlite3.Connection], None] | None = None):
        self.path = path_from_url(os.fspath(path))
        self.timeout = float(timeout)
        self._setup = setup
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid = -1
        self._closed = False
        with self._lock:
            self.connection()

    def connection(self) -> sqlite3.Connection:
        """This process's connection (opened, or reopened after ``fork``); hold the lock."""
        if self._closed:
            raise BackendError(f"SQLite store {self.path} is closed")
        pid = os.getpid()
        if self._conn is None or self._pid != pid:
            conn = connect(self.path, timeout=self.timeout)
            if self._setup is not None:
                try:
                    self._setup(conn)
                except sqlite3.Error as exc:
                    conn.close()
                    raise BackendError(f"cannot prepare SQLite database {self.path}: {exc}") from exc
            self._conn, self._pid = conn, pid
        return self._conn

    def _fail(self, conn: sqlite3.Connection, exc: sqlite3.Error) -> BackendError:
        try:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        except sqlite3.Error:  # pragma: no cover - the connection is gone
            pass
        return BackendError(f"SQLite store {self.path} failed: {exc}")

    def run(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        """``fn(conn)`` in autocommit mode (each statement atomic by itself)."""
        with self._lock:
            conn = self.connection()
            try:
                return fn(conn)
            except sqlite3.Error as exc:
                raise self._fail(conn, exc) from exc

    def tx(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        """``fn(conn)`` inside ``BEGIN IMMEDIATE ... COMMIT`` (``fn`` may ROLLBACK
        itself to write nothing); any exception rolls back."""
        with self._lock:
            conn = self.connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
                result = fn(conn)
                if conn.in_transaction:
                    conn.execute("COMMIT")
                return result
            except sqlite3.Error as exc:
                raise self._fail(conn, exc) from exc
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """All rows of one statement."""
        return self.run(lambda conn: conn.execute(sql, params).fetchall())

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """One statement in autocommit mode; its ``rowcount``."""
        return self.run(lambda conn: conn.execute(sql, params).rowcount)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None
            self._closed = True

    def reopen(self) -> None:
        """Allow use again after :meth:`close` (the next call connects)."""
        with self._lock:
            self._closed = False

    def __repr__(self) -> str:
        return f"SQLiteDB({self.path!r})"


def _enable_wal(conn: sqlite3.Connection, timeout: float) -> None:
    """Switch to WAL. SQLite can answer "database is locked" at once (without
    its busy handler) while several connections open a new file together, so
    retry until ``timeout``."""
    deadline = time.monotonic() + timeout
    delay = 0.001
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
