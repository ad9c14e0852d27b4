"""Durable link stores for the URL shortener: SQLite (the embedded default) and Redis.

Both implement :class:`sysprims.shortener.LinkStore`:

* SQLite: one table of links (code primary key, so a code is stored at most
  once), a table of counters bumped inside ``BEGIN IMMEDIATE`` transactions
  (safe across threads and processes), WAL journal; batches are written with
  ``executemany`` in one transaction per chunk.
* Redis: one hash per link, a url index hash, a counter per strategy, zsets
  for expiry and clicks; every write is one Lua script (atomic). Keys are
  ``namespace:v2:short:{name}:...`` (:func:`sysprims.backends.redis.key`:
  injective, so two store names never share keys) and one store lives in one
  Cluster slot. A store that finds links written by sysprims 0.1 under the old
  layout ``namespace:short:{name}:...`` (and none under the new one) refuses to
  run until :meth:`RedisLinkStore.migrate_from_v01` has moved them.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import BackendError, InvalidParameterError
from ..hashing import murmur3_128
from ..shortener._store import LinkInfo, LinkStore
from . import sqlite as _sqlite

__all__ = ["RedisLinkStore", "SQLiteLinkStore"]

_IN_CHUNK = 500  # bound variables per IN (...) query


def _url_hashes(urls: Sequence[str]) -> list[int]:
    if not urls:
        return []
    return murmur3_128(list(urls), 0)[:, 0].view(np.int64).tolist()


class SQLiteLinkStore(LinkStore):
    """Links in a SQLite file (``sqlite:///path.db``, a path, or ``:memory:``)."""

    def __init__(self, path: str | os.PathLike[str] = ":memory:", *, table: str = "shortener", timeout: float = 30.0):
        if not table.isidentifier():
            raise InvalidParameterError(f"table must be an SQL identifier, got {table!r}")
        self.path = _sqlite.path_from_url(os.fspath(path))
        self.table = table
        self._conn = _sqlite.connect(self.path, timeout=timeout)
        self._conn.execute("PRAGMA cache_size=-65536")  # 64 MiB page cache for bulk inserts
        self._lock = threading.RLock()
        t = table
        self._links, self._counters = f"{t}_links", f"{t}_counters"
        self._exec_script(
            f"""
            CREATE TABLE IF NOT EXISTS {t}_links (
                code TEXT PRIMARY KEY, url TEXT NOT NULL, url_hash INTEGER NOT NULL,
                strategy TEXT NOT NULL, created_ms INTEGER NOT NULL, expires_ms INTEGER,
                clicks INTEGER NOT NULL DEFAULT 0
            ) WITHOUT ROWID;
            CREATE INDEX IF NOT EXISTS {t}_links_url ON {t}_links (url_hash) WHERE expires_ms IS NULL;
            CREATE INDEX IF NOT EXISTS {t}_links_exp ON {t}_links (expires_ms) WHERE expires_ms IS NOT NULL;
            CREATE TABLE IF NOT EXISTS {t}_counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
            """
        )

    def _exec_script(self, script: str) -> None:
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                for stmt in script.split(";"):
                    if stmt.strip():
                        self._conn.execute(stmt)
                self._conn.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                self._rollback()
                raise BackendError(f"SQLite store {self.path}: {exc}") from exc

    def _rollback(self) -> None:
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")

    def _tx(self, func: Any) -> Any:
        """Run ``func(conn)`` inside BEGIN IMMEDIATE ... COMMIT; errors -> BackendError."""
        with self._lock:
            conn = self._conn
            try:
                conn.execute("BEGIN IMMEDIATE")
                result = func(conn)
                if conn.in_transaction:
                    conn.execute("COMMIT")
                return result
            except sqlite3.DatabaseError as exc:
                self._rollback()
                raise BackendError(f"SQLite store {self.path}: {exc}") from exc
            except BaseException:
                self._rollback()
                raise

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.DatabaseError as exc:
                raise BackendError(f"SQLite store {self.path}: {exc}") from exc

    # -- LinkStore -----------------------------------------------------------
    def reserve_counter(self, name: str, n: int, start: int) -> int:
        def run(conn: sqlite3.Connection) -> int:
            conn.execute(f"INSERT OR IGNORE INTO {self._counters} (name, value) VALUES (?, ?)", (name, start))
            row = conn.execute(
                f"UPDATE {self._counters} SET value = value + ? WHERE name = ? RETURNING value", (n, name)
            ).fetchone()
            return int(row[0]) - n

        return self._tx(run)

    def create(self, code, url, strategy, created_ms, expires_ms, now_ms):
        def run(conn: sqlite3.Connection) -> bool:
            row = conn.execute(f"SELECT expires_ms FROM {self._links} WHERE code = ?", (code,)).fetchone()
            if row is not None:
                if row[0] is None or row[0] > now_ms:
                    return False
                conn.execute(f"DELETE FROM {self._links} WHERE code = ?", (code,))
            conn.execute(
                f"INSERT INTO {self._links} (code, url, url_hash, strategy, created_ms, expires_ms) VALUES (?,?,?,?,?,?)",
                (code, url, _url_hashes([url])[0], strategy, created_ms, expires_ms),
            )
            return True

        return self._tx(run)

    def create_many(self, codes, urls, strategy, created_ms, expires_ms):
        hashes = _url_hashes(urls)
        # in key order: B-tree appends instead of random page splits
        rows = sorted(zip(codes, urls, hashes, strict=False))

        def run(conn: sqlite3.Connection) -> bool:
            before = conn.total_changes
            conn.executemany(
                f"INSERT OR IGNORE INTO {self._links} (code, url, url_hash, strategy, created_ms, expires_ms) "
                "VALUES (?,?,?,?,?,?)",
                ((c, u, h, strategy, created_ms, expires_ms) for c, u, h in rows),
            )
            if conn.total_changes - before != len(codes):
                conn.execute("ROLLBACK")
                return False
            return True

        return self._tx(run)

    def find_codes(self, urls, strategy):
        urls = list(urls)
        hashes = _url_hashes(urls)
        wanted = set(urls)
        out: dict[str, str] = {}
        for lo in range(0, len(urls), _IN_CHUNK):
            part = hashes[lo : lo + _IN_CHUNK]
            rows = self._query(
                f"SELECT url, code FROM {self._links} WHERE expires_ms IS NULL AND strategy = ? "
                f"AND url_hash IN ({','.join('?' * len(part))})",
                [strategy, *part],
            )
            for url, code in rows:
                if url in wanted and url not in out:
                    out[url] = code
        return out

    def resolve(self, code, now_ms, count_click=False):
        if count_click:
            rows = self._tx(
                lambda conn: conn.execute(
                    f"UPDATE {self._links} SET clicks = clicks + 1 WHERE code = ? "
                    "AND (expires_ms IS NULL OR expires_ms > ?) RETURNING url",
                    (code, now_ms),
                ).fetchall()
            )
        else:
            rows = self._query(
                f"SELECT url FROM {self._links} WHERE code = ? AND (expires_ms IS NULL OR expires_ms > ?)",
                (code, now_ms),
            )
        return rows[0][0] if rows else None

    def resolve_many(self, codes, now_ms):
        codes = list(codes)
        found: dict[str, str] = {}
        for lo in range(0, len(codes), _IN_CHUNK):
            part = codes[lo : lo + _IN_CHUNK]
            rows = self._query(
                f"SELECT code, url FROM {self._links} WHERE (expires_ms IS NULL OR expires_ms > ?) "
                f"AND code IN ({','.join('?' * len(part))})",
                [now_ms, *part],
            )
            found.update(rows)
        return [found.get(c) for c in codes]

    def info(self, code, now_ms):
        rows = self._query(
            f"SELECT code, url, strategy, created_ms, expires_ms, clicks FROM {self._links} "
            "WHERE code = ? AND (expires_ms IS NULL OR expires_ms > ?)",
            (code, now_ms),
        )
        return LinkInfo(*rows[0]) if rows else None

    def top(self, n, now_ms):
        rows = self._query(
            f"SELECT code, url, strategy, created_ms, expires_ms, clicks FROM {self._links} "
            "WHERE clicks > 0 AND (expires_ms IS NULL OR expires_ms > ?) ORDER BY clicks DESC, code LIMIT ?",
            (now_ms, n),
        )
        return [LinkInfo(*r) for r in rows]

    def delete(self, code):
        return self._tx(lambda conn: conn.execute(f"DELETE FROM {self._links} WHERE code = ?", (code,)).rowcount) > 0

    def purge_expired(self, now_ms):
        return self._tx(
            lambda conn: conn.execute(
                f"DELETE FROM {self._links} WHERE expires_ms IS NOT NULL AND expires_ms <= ?", (now_ms,)
            ).rowcount
        )

    def __len__(self):
        return int(self._query(f"SELECT COUNT(*) FROM {self._links}")[0][0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __repr__(self) -> str:
        return f"SQLiteLinkStore(path={self.path!r}, table={self.table!r})"


class RedisLinkStore(LinkStore):
    """Links in Redis; every write is an atomic Lua script."""

    def __init__(self, redis: Any, *, name: str = "links", namespace: str = "sysprims"):
        from . import redis as _redis

        self._r = _redis
        self.client = _redis.connect(redis)
        self.name = name
        self.namespace = namespace
        k = lambda *parts: _redis.key(namespace, "short", name, *parts)  # noqa: E731
        self._k = k
        self._index, self._count, self._expz, self._top = k("urls"), k("count"), k("expiry"), k("clicks")
        LS = _redis.LuaScript
        self._reserve = LS("shortener_reserve.lua")
        self._create = LS("shortener_create.lua")
        self._create_many = LS("shortener_create_many.lua")
        self._resolve = LS("shortener_resolve.lua")
        self._delete = LS("shortener_delete.lua")
        self._layout_checked = False

    @staticmethod
    def _v01_prefix(namespace: str, name: str) -> str:
        """Where sysprims 0.1 kept this store (braces were rewritten as parentheses)."""
        return f"{namespace}:short:{{{name.replace('{', '(').replace('}', ')')}}}"

    def _ready(self) -> None:
        """Refuse (once per store, on first use) to run over links of the 0.1 layout."""
        if self._layout_checked:
            return
        old = self._v01_prefix(self.namespace, self.name)
        if self._call(self.client.exists, f"{old}:count", f"{old}:urls") and not self._call(
            self.client.exists, self._count, self._index
        ):
            raise BackendError(
                f"Redis holds links written by sysprims 0.1 under {old}:* (the 0.1 key layout); this "
                f"version keeps them under {self._count[: -len(':count')]}:*. Move them once with "
                f"RedisLinkStore.migrate_from_v01(redis, name={self.name!r}, namespace={self.namespace!r}), "
                "or keep running sysprims 0.1"
            )
        self._layout_checked = True

    @classmethod
    def migrate_from_v01(cls, redis: Any, *, name: str = "links", namespace: str = "sysprims") -> int:
        """Move a link store written by sysprims 0.1 to this version's key layout;
        returns the number of Redis keys moved. In 0.1, names that differ only by
        ``{}`` versus ``()`` shared one store: it moves to the ``name`` given."""
        store = cls(redis, name=name, namespace=namespace)
        store._layout_checked = True
        client = store.client
        if store._call(client.exists, store._count, store._index):
            raise BackendError(f"link store {name!r} already holds links in the new layout; not migrating over them")
        old = cls._v01_prefix(namespace, name) + ":"
        moved = 0
        for raw in store._call(lambda: list(client.scan_iter(match=store._r.scan_pattern(old), count=1000))):
            src = raw.decode("utf-8") if isinstance(raw, bytes) else raw
            tail = src[len(old) :]
            kind, sep, rest = tail.partition(":")
            dst = store._k(kind, rest) if sep else store._k(tail)
            try:
                store._call(client.rename, src, dst)
            except BackendError:  # another Cluster slot: copy, then delete
                ttl = store._call(client.pttl, src)
                store._call(client.restore, dst, max(ttl, 0), store._call(client.dump, src))
                store._call(client.delete, src)
            moved += 1
        return moved

    def _link(self, code: str) -> str:
        return self._k("l", code)

    def _call(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except self._r.redis_errors() as exc:
            raise BackendError(f"Redis link store: {exc}") from exc

    def reserve_counter(self, name, n, start):
        self._ready()
        return int(self._reserve(self.client, [self._k("counter", name)], [n, start]))

    def create(self, code, url, strategy, created_ms, expires_ms, now_ms):
        self._ready()
        keys = [self._link(code), self._index, self._count, self._expz, self._top]
        exp = "" if expires_ms is None else int(expires_ms)
        return bool(self._create(self.client, keys, [code, url, strategy, int(created_ms), exp, int(now_ms)]))

    def create_many(self, codes, urls, strategy, created_ms, expires_ms):
        self._ready()
        keys = [self._index, self._count, self._expz, *[self._link(c) for c in codes]]
        args: list[Any] = [strategy, int(created_ms), "" if expires_ms is None else int(expires_ms)]
        for c, u in zip(codes, urls, strict=False):
            args.append(c)
            args.append(u)
        return bool(self._create_many(self.client, keys, args))

    def find_codes(self, urls, strategy):
        self._ready()
        urls = list(urls)
        out: dict[str, str] = {}
        for lo in range(0, len(urls), 10000):
            part = urls[lo : lo + 10000]
            vals = self._call(self.client.hmget, self._index, [f"{strategy}\0{u}" for u in part])
            for u, v in zip(part, vals, strict=False):
                if v is not None:
                    out[u] = v.decode("utf-8")
        return out

    def resolve(self, code, now_ms, count_click=False):
        self._ready()
        v = self._resolve(self.client, [self._link(code), self._top], [code, int(now_ms), "1" if count_click else "0"])
        return None if v is None else v.decode("utf-8")

    def _fetch(self, codes: Sequence[str]) -> list[list]:
        self._ready()
        def run() -> list:
            pipe = self.client.pipeline(transaction=False)
            for c in codes:
                pipe.hmget(self._link(c), "u", "s", "c", "e", "k")
            return pipe.execute()

        return self._call(run)

    @staticmethod
    def _live(row: list, now_ms: int) -> bool:
        return row[0] is not None and (not row[3] or int(row[3]) > now_ms)

    def resolve_many(self, codes, now_ms):
        codes = list(codes)
        out: list[str | None] = []
        for lo in range(0, len(codes), 10000):
            for row in self._fetch(codes[lo : lo + 10000]):
                out.append(row[0].decode("utf-8") if self._live(row, now_ms) else None)
        return out

    def _info(self, code: str, row: list) -> LinkInfo:
        return LinkInfo(
            code, row[0].decode("utf-8"), row[1].decode("utf-8"), int(row[2]),
            int(row[3]) if row[3] else None, int(row[4] or 0),
        )

    def info(self, code, now_ms):
        row = self._fetch([code])[0]
        return self._info(code, row) if self._live(row, now_ms) else None

    def top(self, n, now_ms):
        self._ready()
        if n == 0:
            return []
        window = n
        while True:
            ranked = self._call(self.client.zrevrange, self._top, 0, window - 1, withscores=True)
            if not ranked:
                return []
            # everything tied with the last score, so ties can be broken by code
            tied = self._call(self.client.zrangebyscore, self._top, ranked[-1][1], "+inf", withscores=True)
            codes = [c.decode("utf-8") for c, _ in tied]
            infos = [self._info(c, row) for c, row in zip(codes, self._fetch(codes), strict=False) if self._live(row, now_ms)]
            infos.sort(key=lambda i: (-i.clicks, i.code))
            total = self._call(self.client.zcard, self._top)
            if len(infos) >= n or len(tied) >= total:
                return infos[:n]
            window = min(total, window * 2 + len(tied) - len(infos))

    def delete(self, code):
        self._ready()
        keys = [self._link(code), self._index, self._count, self._expz, self._top]
        return bool(self._delete(self.client, keys, [code, ""]))

    def purge_expired(self, now_ms):
        self._ready()
        codes = self._call(self.client.zrangebyscore, self._expz, "-inf", int(now_ms))
        removed = 0
        for c in codes:
            code = c.decode("utf-8")
            keys = [self._link(code), self._index, self._count, self._expz, self._top]
            removed += int(self._delete(self.client, keys, [code, int(now_ms)]))
        return removed

    def __len__(self):
        self._ready()
        v = self._call(self.client.get, self._count)
        return int(v or 0)

    def close(self) -> None:
        try:
            self.client.close()
        except Exception:  # pragma: no cover - closing is best effort
            pass

    def __repr__(self) -> str:
        return f"RedisLinkStore(name={self.name!r}, namespace={self.namespace!r})"
