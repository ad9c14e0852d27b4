"""Idempotency records in one SQLite table: durable, shared by threads and processes.

Built on :class:`sysprims.backends.sqlite.SQLiteDB` (WAL, busy timeout,
reconnect after ``fork``, every failure a :class:`~sysprims.errors.BackendError`).
Results are the bytes the manager's serializer made (JSON by default).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from .._html import html_table
from .._validate import check_number
from ..errors import InvalidParameterError
from ..idempotency.stores import RUNNING, Record
from . import sqlite as _sqlite

__all__ = ["SQLiteStore"]


class SQLiteStore:
    """One SQLite table: durable, shared by threads and processes.

    Claims run in ``BEGIN IMMEDIATE`` transactions, so exactly one of several
    threads or processes racing on a key wins it. Cache hits read without a
    write lock. The connection is reopened after ``fork``. The first claim
    after ``sweep_interval`` seconds (of the manager's clock) have passed since
    the last sweep deletes every expired row (``None``: only
    :meth:`cleanup` does).
    """

    persistent = True

    def __init__(self, path: str | os.PathLike[str], *, table: str = "sysprims_idempotency", timeout: float = 30.0,
                 sweep_interval: float | None = 60.0):
        t = self.table = _sqlite.check_identifier("table", table)
        if not isinstance(path, (str, os.PathLike)):
            raise InvalidParameterError(f"path must be a file path or sqlite:/// URL, got {type(path).__name__}")
        self.timeout = float(timeout)
        if sweep_interval is not None:
            sweep_interval = check_number("sweep_interval", sweep_interval, min=0.0)
        self.sweep_interval = sweep_interval
        self._next_sweep = float("-inf")
        self._q_get = f"SELECT state, fingerprint, payload, created_at, completed_at, expires_at FROM {t} WHERE key = ?"
        # one atomic statement claims a free or expired key; a live record is left alone
        self._q_claim = (
            f"INSERT INTO {t} (key, state, fingerprint, token, created_at, completed_at, expires_at, payload) "
            "VALUES (?, 'running', ?, ?, ?, NULL, ?, NULL) ON CONFLICT(key) DO UPDATE SET state = 'running', "
            "fingerprint = excluded.fingerprint, token = excluded.token, created_at = excluded.created_at, "
            f"completed_at = NULL, expires_at = excluded.expires_at, payload = NULL WHERE {t}.expires_at <= excluded.created_at"
        )
        self._q_done = f"UPDATE {t} SET state = ?, payload = ?, completed_at = ?, expires_at = ? WHERE key = ? AND token = ? AND state = 'running'"
        self._q_release = f"DELETE FROM {t} WHERE key = ? AND token = ? AND state = 'running'"

        def setup(conn: Any) -> None:
            # no index on expires_at: it would cost every claim and completion a second
            # B-tree write; cleanup() (rare) scans the table instead
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {t} (key TEXT PRIMARY KEY, state TEXT NOT NULL, "
                "fingerprint TEXT, token TEXT, created_at REAL NOT NULL, completed_at REAL, "
                "expires_at REAL NOT NULL, payload BLOB) WITHOUT ROWID"
            )

        self._db = _sqlite.SQLiteDB(path, timeout=self.timeout, setup=setup)
        self.path = self._db.path
        self._run = self._db.run

    def _row(self, key: str, row: Any) -> Record:
        payload = row[2]
        return Record(key, row[0], row[1], bytes(payload) if payload is not None else None, row[3], row[4], row[5])

    def begin(self, key: str, token: str, fingerprint: str | None, now: float, lock_expires_at: float):
        def txn(conn: Any):
            row = conn.execute(self._q_get, (key,)).fetchone()
            if row is not None and row[5] > now and row[0] != RUNNING:
                return False, self._row(key, row)  # a live result: no write lock needed
            while True:
                if conn.execute(self._q_claim, (key, fingerprint, token, now, lock_expires_at)).rowcount == 1:
                    return True, None
                row = conn.execute(self._q_get, (key,)).fetchone()
                if row is not None:  # else deleted in between: try again
                    return False, self._row(key, row)

        if self.sweep_interval is not None and now >= self._next_sweep:
            self._next_sweep = now + self.sweep_interval
            self.cleanup(now)
        return self._run(txn)

    def complete(self, key: str, token: str, state: str, payload: Any, now: float, expires_at: float) -> bool:
        def txn(conn: Any) -> bool:
            cur = conn.execute(self._q_done, (state, payload, now, expires_at, key, token))
            return cur.rowcount == 1

        return self._run(txn)

    def release(self, key: str, token: str) -> bool:
        return self._run(lambda conn: conn.execute(self._q_release, (key, token)).rowcount == 1)

    def get(self, key: str, now: float) -> Record | None:
        row = self._run(lambda conn: conn.execute(self._q_get, (key,)).fetchone())
        if row is None or row[5] <= now:
            return None
        return self._row(key, row)

    def delete(self, key: str) -> bool:
        return self._run(lambda conn: conn.execute(f"DELETE FROM {self.table} WHERE key = ?", (key,)).rowcount == 1)

    def cleanup(self, now: float) -> int:
        return self._run(lambda conn: conn.execute(f"DELETE FROM {self.table} WHERE expires_at <= ?", (now,)).rowcount)

    def clear(self) -> None:
        self._run(lambda conn: conn.execute(f"DELETE FROM {self.table}"))

    def records(self, now: float) -> Iterator[Record]:
        rows = self._run(
            lambda conn: conn.execute(
                f"SELECT key, state, fingerprint, payload, created_at, completed_at, expires_at FROM {self.table} WHERE expires_at > ?",
                (now,),
            ).fetchall()
        )
        for r in rows:
            yield self._row(r[0], r[1:])

    def count(self) -> int:
        return self._run(lambda conn: conn.execute(f"SELECT COUNT(*) FROM {self.table}").fetchone()[0])

    def close(self) -> None:
        self._db.close()

    def __getstate__(self) -> dict[str, Any]:  # picklable for multiprocessing: reconnects on the other side
        return {"path": self.path, "table": self.table, "timeout": self.timeout, "sweep_interval": self.sweep_interval}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"], table=state["table"], timeout=state["timeout"],  # type: ignore[misc]
                      sweep_interval=state.get("sweep_interval", 60.0))

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r}, table={self.table!r})"

    def _repr_html_(self) -> str:
        return html_table("SQLiteStore", [("path", self.path), ("table", self.table)])
