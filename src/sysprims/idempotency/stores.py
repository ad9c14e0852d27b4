"""Where idempotency records live: memory, SQLite, Redis.

Every store implements the same five atomic steps on one record per key
(``Record``: state ``running`` / ``done`` / ``error``, fingerprint, payload,
times, and the claim token of whoever is running it):

* ``begin(key, token, fingerprint, now, lock_expires_at)`` -> ``(True, None)``
  when the caller now owns the key (it was free or its record had expired), or
  ``(False, record)`` with the live record that holds it;
* ``complete(key, token, state, payload, now, expires_at) -> bool`` stores the
  outcome only if ``token`` still owns the claim;
* ``release(key, token) -> bool`` frees the key only if ``token`` owns it;
* ``get(key, now)`` reads the live record (or None); ``cleanup(now)`` deletes
  expired records and returns how many.

Times are seconds from the manager's clock, so ``ManualClock`` drives expiry on
every store. Expired records also go away by themselves: Redis gives every
record a native expiry; the memory store drops a few expired records on each
write (from FIFOs of writes, one per power-of-two lifetime), and the SQLite store deletes the expired rows
once per ``sweep_interval`` seconds of that clock, on the next claim.
"""

from __future__ import annotations

import math
import os
import re
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .._html import html_table
from .._validate import check_number
from ..errors import BackendError, InvalidParameterError

__all__ = ["MemoryStore", "Record", "RedisStore", "SQLiteStore", "open_store"]

RUNNING = "running"
DONE = "done"
ERROR = "error"


@dataclass(frozen=True)
class Record:
    """One key's record as a store returns it."""

    key: str
    state: str
    fingerprint: str | None
    payload: Any
    created_at: float
    completed_at: float | None
    expires_at: float


class _Entry:
    __slots__ = ("state", "fingerprint", "payload", "created_at", "completed_at", "expires_at", "token")

    def __init__(self, state, fingerprint, payload, created_at, completed_at, expires_at, token):
        self.state = state
        self.fingerprint = fingerprint
        self.payload = payload
        self.created_at = created_at
        self.completed_at = completed_at
        self.expires_at = expires_at
        self.token = token

    def record(self, key: str) -> Record:
        return Record(key, self.state, self.fingerprint, self.payload, self.created_at, self.completed_at, self.expires_at)


class MemoryStore:
    """A dict behind a lock: thread-safe within one process, lost on exit.

    Results are kept as the Python objects the operation returned (no
    serialization), so every replay returns the same object. Every write also
    removes up to ``_SWEEP`` expired records, found at the heads of FIFOs of
    writes (one per power-of-two lifetime), so expired records never pile up:
    a record goes at most about its own lifetime after it expired, while
    writes continue.
    """

    persistent = False
    _SWEEP = 8  # expired records removed per write: more than a write adds, so a backlog drains

    def __init__(self) -> None:
        self._data: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        self._fifos: dict[int, deque[tuple[float, str]]] = {}  # lifetime band -> (expires_at, key) of writes

    def _put(self, key: str, entry: _Entry, now: float) -> None:
        """Store ``entry``, queue its expiry and sweep; caller holds the lock."""
        data = self._data
        data[key] = entry
        exp = entry.expires_at
        # one FIFO per power-of-two lifetime: with a clock that does not go back,
        # a FIFO is in expiry order to within its lifetime band, so its head is
        # (nearly) the next record to expire
        band = math.frexp(exp - now)[1] if exp > now else 0
        fifo = self._fifos.get(band)
        if fifo is None:
            fifo = self._fifos[band] = deque()
        fifo.append((exp, key))
        budget = self._SWEEP
        for fifo in self._fifos.values():
            while fifo and fifo[0][0] <= now:
                k = fifo.popleft()[1]
                e = data.get(k)
                if e is not None and e.expires_at <= now:  # else rewritten or deleted since
                    del data[k]
                budget -= 1
                if not budget:
                    return

    def begin(self, key: str, token: str, fingerprint: str | None, now: float, lock_expires_at: float):
        with self._lock:
            e = self._data.get(key)
            if e is not None and e.expires_at > now:
                return False, e.record(key)
            # entries are replaced, never mutated, so lock-free readers see whole records
            self._put(key, _Entry(RUNNING, fingerprint, None, now, None, lock_expires_at, token), now)
            return True, None

    def complete(self, key: str, token: str, state: str, payload: Any, now: float, expires_at: float) -> bool:
        with self._lock:
            e = self._data.get(key)
            if e is None or e.state != RUNNING or e.token != token:
                return False
            self._put(key, _Entry(state, e.fingerprint, payload, e.created_at, now, expires_at, token), now)
            return True

    def release(self, key: str, token: str) -> bool:
        with self._lock:
            e = self._data.get(key)
            if e is None or e.state != RUNNING or e.token != token:
                return False
            del self._data[key]
            return True

    def get(self, key: str, now: float) -> Record | None:
        e = self._data.get(key)
        if e is None or e.expires_at <= now:
            return None
        return e.record(key)

    def delete(self, key: str) -> bool:
        with self._lock:
            return self._data.pop(key, None) is not None

    def cleanup(self, now: float) -> int:
        with self._lock:
            dead = [k for k, e in self._data.items() if e.expires_at <= now]
            for k in dead:
                del self._data[k]
            fifos: dict[int, list[tuple[float, str]]] = {}  # the live records' expiries, queued again
            for k, e in self._data.items():
                fifos.setdefault(math.frexp(e.expires_at - now)[1], []).append((e.expires_at, k))
            self._fifos = {band: deque(sorted(items)) for band, items in fifos.items()}
            return len(dead)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._fifos = {}

    def records(self, now: float) -> Iterator[Record]:
        with self._lock:
            items = list(self._data.items())
        for k, e in items:
            if e.expires_at > now:
                yield e.record(k)

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"MemoryStore(records={len(self._data)})"

    def _repr_html_(self) -> str:
        return html_table("MemoryStore", [("records (incl. expired)", len(self._data))])


_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


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
        from ..backends.sqlite import path_from_url

        if not isinstance(table, str) or not _IDENT.match(table):
            raise InvalidParameterError(f"table must be an SQL identifier (letters, digits, _), got {table!r}")
        self.path = path_from_url(os.fspath(path)) if isinstance(path, (str, os.PathLike)) else path
        if not isinstance(self.path, str):
            raise InvalidParameterError(f"path must be a file path or sqlite:/// URL, got {type(path).__name__}")
        self.table = table
        self.timeout = float(timeout)
        if sweep_interval is not None:
            sweep_interval = check_number("sweep_interval", sweep_interval, min=0.0)
        self.sweep_interval = sweep_interval
        self._next_sweep = float("-inf")
        self._lock = threading.Lock()
        self._pid = -1
        self._conn: Any = None
        t = table
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
        with self._lock:
            self._connection()

    def _connection(self) -> Any:
        pid = os.getpid()
        if self._conn is None or self._pid != pid:
            import sqlite3

            from ..backends.sqlite import connect

            self._conn = conn = connect(self.path, timeout=self.timeout)
            self._pid = pid
            try:
                conn.execute(
                    f"CREATE TABLE IF NOT EXISTS {self.table} (key TEXT PRIMARY KEY, state TEXT NOT NULL, "
                    "fingerprint TEXT, token TEXT, created_at REAL NOT NULL, completed_at REAL, "
                    "expires_at REAL NOT NULL, payload BLOB) WITHOUT ROWID"
                )
                # no index on expires_at: it would cost every claim and completion a second
                # B-tree write; cleanup_expired() (rare) scans the table instead
            except sqlite3.DatabaseError as exc:
                raise BackendError(f"cannot prepare SQLite table {self.table} in {self.path}: {exc}") from exc
        return self._conn

    def _row(self, key: str, row: Any) -> Record:
        payload = row[2]
        return Record(key, row[0], row[1], bytes(payload) if payload is not None else None, row[3], row[4], row[5])

    def _run(self, fn: Any) -> Any:
        import sqlite3

        with self._lock:
            conn = self._connection()
            try:
                return fn(conn)
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise BackendError(f"SQLite store {self.path} failed: {exc}") from exc

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
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    def __getstate__(self) -> dict[str, Any]:  # picklable for multiprocessing: reconnects on the other side
        return {"path": self.path, "table": self.table, "timeout": self.timeout, "sweep_interval": self.sweep_interval}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"], table=state["table"], timeout=state["timeout"],  # type: ignore[misc]
                      sweep_interval=state.get("sweep_interval", 60.0))

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r}, table={self.table!r})"

    def _repr_html_(self) -> str:
        return html_table("SQLiteStore", [("path", self.path), ("table", self.table)])


def _s(v: Any) -> str:
    return v.decode("utf-8") if isinstance(v, bytes) else str(v)


class RedisStore:
    """Redis: each key is one hash, claimed and completed by Lua scripts.

    The claim is atomic (``idempotency_begin.lua``) and carries an expiry both
    as a field checked against the caller's clock and as a native ``PEXPIRE``
    (a backstop, so a crashed client's claim disappears even if nobody calls
    ``cleanup``).
    """

    persistent = True

    def __init__(self, redis: Any, *, namespace: str = "sysprims", scope: str = "default"):
        from ..backends import redis as layer

        if not isinstance(namespace, str) or not namespace or "{" in namespace or "}" in namespace:
            raise InvalidParameterError(f"namespace must be a non-empty str without braces, got {namespace!r}")
        if not isinstance(scope, str) or not scope:
            raise InvalidParameterError(f"scope must be a non-empty str, got {scope!r}")
        self._layer = layer
        self._url = redis if isinstance(redis, str) else None
        self.client = layer.connect(redis)
        self.namespace = namespace
        self.scope = scope
        self._begin = layer.LuaScript("idempotency_begin.lua")
        self._complete = layer.LuaScript("idempotency_complete.lua")
        self._release = layer.LuaScript("idempotency_release.lua")
        self._expire = layer.LuaScript("idempotency_expire.lua")
        # 'ns:v2:idem:{<scope>:' - scope and key are escaped, so no other scope's keys start so
        self._prefix = layer.key(namespace, "idem", (scope, ""))[:-1]

    def _key(self, key: str) -> str:
        return self._layer.key(self.namespace, "idem", (self.scope, key))

    def _unkey(self, rkey: str) -> str:
        return self._layer.unescape(rkey[len(self._prefix) : -1])

    @staticmethod
    def _ms(seconds: float) -> int:
        return max(1, int(seconds * 1000) + 1000)

    def begin(self, key: str, token: str, fingerprint: str | None, now: float, lock_expires_at: float):
        r = self._begin(self.client, [self._key(key)], [repr(now), token, fingerprint or "", repr(lock_expires_at), self._ms(lock_expires_at - now)])
        if len(r) == 1:
            return True, None
        return False, self._record(key, r)

    @staticmethod
    def _record(key: str, r: list[Any]) -> Record:
        fp = _s(r[1])
        payload = r[2] if isinstance(r[2], bytes) else _s(r[2]).encode("utf-8")
        completed = _s(r[4])
        return Record(key, _s(r[0]), fp or None, payload or None, float(_s(r[3])), float(completed) if completed else None, float(_s(r[5])))

    def complete(self, key: str, token: str, state: str, payload: Any, now: float, expires_at: float) -> bool:
        return bool(self._complete(self.client, [self._key(key)], [token, state, payload, repr(now), repr(expires_at), self._ms(expires_at - now)]))

    def release(self, key: str, token: str) -> bool:
        return bool(self._release(self.client, [self._key(key)], [token]))

    def _call(self, fn: Any) -> Any:
        try:
            return fn()
        except self._layer.redis_errors() as exc:
            raise BackendError(f"Redis store failed: {exc}") from exc

    def _hget(self, rkey: str) -> list[Any]:
        return self._call(lambda: self.client.hmget(rkey, "state", "fp", "payload", "created", "completed", "exp"))

    def get(self, key: str, now: float) -> Record | None:
        r = self._hget(self._key(key))
        if r[0] is None or float(_s(r[5])) <= now:
            return None
        return self._record(key, [v if v is not None else b"" for v in r])

    def delete(self, key: str) -> bool:
        return bool(self._call(lambda: self.client.delete(self._key(key))))

    def _scan(self) -> list[str]:
        pattern = self._layer.scan_pattern(self._prefix)
        return [_s(k) for k in self._call(lambda: list(self.client.scan_iter(match=pattern, count=1000)))]

    def cleanup(self, now: float) -> int:
        keys = self._scan()
        if not keys:
            return 0

        def run() -> int:  # one key per call, pipelined per node: Cluster-safe
            return int(sum(self._expire.run_many(self.client, [([k], [repr(now)]) for k in keys])))

        return self._call(run)

    def clear(self) -> None:
        keys = self._scan()
        if keys:
            self._call(lambda: self.client.delete(*keys))

    def records(self, now: float) -> Iterator[Record]:
        for rk in self._scan():
            r = self._hget(rk)
            if r[0] is not None and float(_s(r[5])) > now:
                yield self._record(self._unkey(rk), [v if v is not None else b"" for v in r])

    def close(self) -> None:
        if self._url is not None:
            self.client.close()

    def __getstate__(self) -> dict[str, Any]:
        if self._url is None:
            raise BackendError("a RedisStore built from a client cannot be pickled; build it from a URL")
        return {"url": self._url, "namespace": self.namespace, "scope": self.scope}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["url"], namespace=state["namespace"], scope=state["scope"])  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"RedisStore(namespace={self.namespace!r}, scope={self.scope!r})"

    def _repr_html_(self) -> str:
        return html_table("RedisStore", [("namespace", self.namespace), ("scope", self.scope)])


def open_store(store: Any) -> Any:
    """``None``/``"memory"`` -> MemoryStore; ``redis://...`` -> RedisStore;
    any other str or path (or ``sqlite:///...``) -> SQLiteStore; a store object as is."""
    if store is None or store == "memory":
        return MemoryStore()
    if isinstance(store, str) and store.startswith(("redis://", "rediss://", "unix://")):
        return RedisStore(store)
    if isinstance(store, (str, os.PathLike)):
        return SQLiteStore(store)
    for attr in ("begin", "complete", "release", "get", "cleanup"):
        if not callable(getattr(store, attr, None)):
            raise InvalidParameterError(
                f"store must be 'memory', a SQLite path, a redis:// URL or a store object with begin/complete/"
                f"release/get/cleanup, got {type(store).__name__}"
            )
    return store
