"""SQLite helpers shared by every embedded store."""

from __future__ import annotations

import os
import sqlite3
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
        if target != ":memory:":
            conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
    except sqlite3.DatabaseError as exc:
        raise BackendError(f"cannot open SQLite database {target}: {exc}") from exc
    return conn
