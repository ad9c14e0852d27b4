"""SQLite helpers shared by every embedded store."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from ..errors import BackendError, InvalidParameterError

__all__ = ["connect", "path_from_url"]


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
