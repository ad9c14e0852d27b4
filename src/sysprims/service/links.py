"""What the service knows about its links besides the link store: the order they were
created in (listing with pagination), whether they are disabled, their clicks per
minute and per hour, and the clicks they had before their target changed.

:class:`LinkRegistry` keeps it in the service's own store (process memory, tables
beside the links in the SQLite file, or Redis keys in the service's namespace).
Clicks are buffered in memory and written in one batch per ``flush_every`` clicks
or whenever they are read, so a redirect costs no extra store write.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from typing import Any

__all__ = ["LinkRegistry", "MINUTES", "HOURS"]

MINUTES = 60  # per-minute buckets kept (the last hour)
HOURS = 48  # per-hour buckets kept (the last two days)
_FIELDS = ("url", "strategy", "created_ms", "expires_ms", "disabled", "offset")


class _Memory:
    def __init__(self) -> None:
        self.meta: dict[str, dict[str, Any]] = {}
        self.buckets: dict[str, Counter] = {}

    def put(self, code: str, meta: dict[str, Any]) -> None:
        self.meta[code] = dict(meta)

    def get(self, code: str) -> dict[str, Any] | None:
        m = self.meta.get(code)
        return None if m is None else dict(m)

    def remove(self, code: str) -> None:
        self.meta.pop(code, None)
        self.buckets.pop(code, None)

    def page(self, limit: int, before: tuple[int, str] | None) -> list[tuple[int, str]]:
        keys = sorted(((m["created_ms"], c) for c, m in self.meta.items()), reverse=True)
        if before is not None:
            keys = [k for k in keys if k < before]
        return keys[:limit]

    def add_clicks(self, counts: dict[tuple[str, str], int]) -> None:
        for (code, bucket), n in counts.items():
            if code in self.meta:
                self.buckets.setdefault(code, Counter())[bucket] += n

    def read_buckets(self, code: str) -> dict[str, int]:
        return dict(self.buckets.get(code, {}))

    def close(self) -> None:
        pass


class _SQLite:
    def __init__(self, path: str, table: str) -> None:
        from ..backends.sqlite import SQLiteDB, check_identifier

        self.t_meta, self.t_clicks = f"{check_identifier('table', table)}_registry", f"{table}_clicks"
        self._db = SQLiteDB(path, setup=self._create)

    def _create(self, conn: sqlite3.Connection) -> None:
        conn.execute(f"CREATE TABLE IF NOT EXISTS {self.t_meta} (code TEXT PRIMARY KEY, url TEXT, "
                     "strategy TEXT, created_ms INTEGER, expires_ms INTEGER, disabled INTEGER, offset INTEGER)")
        conn.execute(f"CREATE INDEX IF NOT EXISTS {self.t_meta}_created ON {self.t_meta} (created_ms, code)")
        conn.execute(f"CREATE TABLE IF NOT EXISTS {self.t_clicks} (code TEXT, bucket TEXT, n INTEGER, "
                     "PRIMARY KEY (code, bucket))")

    def put(self, code: str, meta: dict[str, Any]) -> None:
        self._db.execute(f"INSERT OR REPLACE INTO {self.t_meta} VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (code, *(meta[f] for f in _FIELDS)))

    def get(self, code: str) -> dict[str, Any] | None:
        rows = self._db.query(f"SELECT {', '.join(_FIELDS)} FROM {self.t_meta} WHERE code = ?", (code,))
        return dict(zip(_FIELDS, rows[0], strict=True)) if rows else None

    def remove(self, code: str) -> None:
        def run(conn: sqlite3.Connection) -> None:
            conn.execute(f"DELETE FROM {self.t_meta} WHERE code = ?", (code,))
            conn.execute(f"DELETE FROM {self.t_clicks} WHERE code = ?", (code,))

        self._db.tx(run)

    def page(self, limit: int, before: tuple[int, str] | None) -> list[tuple[int, str]]:
        if before is None:
            rows = self._db.query(f"SELECT created_ms, code FROM {self.t_meta} ORDER BY created_ms DESC, "
                                  "code DESC LIMIT ?", (limit,))
        else:
            rows = self._db.query(f"SELECT created_ms, code FROM {self.t_meta} WHERE (created_ms, code) < (?, ?) "
                                  "ORDER BY created_ms DESC, code DESC LIMIT ?", (*before, limit))
        return [(int(a), str(b)) for a, b in rows]

    def add_clicks(self, counts: dict[tuple[str, str], int]) -> None:
        rows = [(c, b, n) for (c, b), n in counts.items()]
        self._db.tx(lambda conn: conn.executemany(
            f"INSERT INTO {self.t_clicks} VALUES (?, ?, ?) ON CONFLICT (code, bucket) DO UPDATE SET n = n + excluded.n",
            rows))

    def read_buckets(self, code: str) -> dict[str, int]:
        rows = self._db.query(f"SELECT bucket, n FROM {self.t_clicks} WHERE code = ?", (code,))
        return {b: int(n) for b, n in rows}

    def close(self) -> None:
        self._db.close()


class _Redis:
    def __init__(self, client: Any, namespace: str, name: str) -> None:
        from ..backends.redis import key

        self.client = client
        self._key = lambda kind, *parts: key(namespace, kind, name, *parts)  # noqa: E731

    def put(self, code: str, meta: dict[str, Any]) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(self._key("linkmeta", code), mapping={f: "" if meta[f] is None else str(meta[f]) for f in _FIELDS})
        pipe.zadd(self._key("linkorder"), {code: int(meta["created_ms"])})
        pipe.execute()

    def get(self, code: str) -> dict[str, Any] | None:
        raw = self.client.hgetall(self._key("linkmeta", code))
        if not raw:
            return None
        m = {k.decode(): v.decode() for k, v in raw.items()}
        return {"url": m["url"], "strategy": m["strategy"], "created_ms": int(m["created_ms"]),
                "expires_ms": int(m["expires_ms"]) if m["expires_ms"] else None,
                "disabled": int(m["disabled"]), "offset": int(m["offset"])}

    def remove(self, code: str) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.delete(self._key("linkmeta", code), self._key("linkclicks", code))
        pipe.zrem(self._key("linkorder"), code)
        pipe.execute()

    def page(self, limit: int, before: tuple[int, str] | None) -> list[tuple[int, str]]:
        key = self._key("linkorder")
        top = "+inf" if before is None else before[0]
        ties = 0 if before is None else int(self.client.zcount(key, before[0], before[0]))  # same ms, any code
        rows = self.client.zrevrangebyscore(key, top, "-inf", start=0, num=limit + ties, withscores=True)
        out = sorted(((int(s), c.decode()) for c, s in rows), reverse=True)
        if before is not None:
            out = [k for k in out if k < before]
        return out[:limit]

    def add_clicks(self, counts: dict[tuple[str, str], int]) -> None:
        pipe = self.client.pipeline(transaction=False)
        for (code, bucket), n in counts.items():
            pipe.hincrby(self._key("linkclicks", code), bucket, n)
            pipe.expire(self._key("linkclicks", code), 3 * 86400)
        pipe.execute()

    def read_buckets(self, code: str) -> dict[str, int]:
        return {k.decode(): int(v) for k, v in self.client.hgetall(self._key("linkclicks", code)).items()}

    def close(self) -> None:
        pass


class LinkRegistry:
    """Listing order, disabled flags and click buckets of the service's links."""

    def __init__(self, kind: str, *, path: str | None = None, table: str = "shortener", client: Any = None,
                 namespace: str = "sysprims", name: str = "shortener", flush_every: int = 512):
        if kind == "sqlite" and path not in (None, ":memory:"):
            self._db: Any = _SQLite(path, table)
        elif kind == "redis":
            self._db = _Redis(client, namespace, name)
        else:
            self._db = _Memory()
        self.flush_every = flush_every
        self._lock = threading.Lock()
        self._pending: Counter = Counter()
        self._npending = 0

    # -- links -------------------------------------------------------------
    def added(self, code: str, url: str, strategy: str, created_ms: int, expires_ms: int | None) -> None:
        self._db.put(code, {"url": url, "strategy": strategy, "created_ms": int(created_ms),
                            "expires_ms": expires_ms, "disabled": 0, "offset": 0})

    def meta(self, code: str) -> dict[str, Any] | None:
        return self._db.get(code)

    def update(self, code: str, **changes: Any) -> dict[str, Any]:
        meta = self._db.get(code)
        if meta is None:
            raise KeyError(code)
        meta.update(changes)
        self._db.put(code, meta)
        return meta

    def removed(self, code: str) -> None:
        self.flush()
        self._db.remove(code)

    def page(self, limit: int, cursor: tuple[int, str] | None = None) -> list[tuple[int, str]]:
        """``(created_ms, code)`` of up to ``limit`` links, newest first, older than ``cursor``."""
        return self._db.page(limit, cursor)

    # -- clicks ------------------------------------------------------------
    def clicked(self, code: str, now: float, flush: bool = True) -> bool:
        """Count one click of ``code`` at ``now``; returns whether the buffer is due to
        be written, and writes it then unless ``flush=False`` (the caller will)."""
        minute = int(now // 60)
        with self._lock:
            self._pending[(code, f"m{minute}")] += 1
            self._pending[(code, f"h{minute // 60}")] += 1
            self._npending += 1
            full = self._npending >= self.flush_every
        if full and flush:
            self.flush()
        return full

    def flush(self) -> None:
        with self._lock:
            pending, self._pending, self._npending = self._pending, Counter(), 0
        if pending:
            self._db.add_clicks(dict(pending))

    def series(self, code: str, now: float) -> dict[str, list[int]]:
        """Clicks of the last :data:`MINUTES` minutes and :data:`HOURS` hours, oldest first
        (the current minute and hour last)."""
        self.flush()
        buckets = self._db.read_buckets(code)
        minute = int(now // 60)
        hour = minute // 60
        return {
            "per_minute": [buckets.get(f"m{m}", 0) for m in range(minute - MINUTES + 1, minute + 1)],
            "per_hour": [buckets.get(f"h{h}", 0) for h in range(hour - HOURS + 1, hour + 1)],
        }

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._db.close()
