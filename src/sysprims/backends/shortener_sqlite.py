"""The URL shortener's links in SQLite (the embedded default): a
:class:`sysprims.shortener.LinkStore` on :class:`sysprims.backends.sqlite.SQLiteDB`.

One table of links (code primary key, so a code is stored at most once), a
table of counters bumped inside ``BEGIN IMMEDIATE`` transactions (safe across
threads and processes), WAL journal; batches are written with ``executemany``
in one transaction per chunk.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..hashing import murmur3_128
from ..shortener._store import LinkInfo, LinkStore
from . import sqlite as _sqlite

__all__ = ["SQLiteLinkStore"]

_IN_CHUNK = 500  # bound variables per IN (...) query
_SCHEMA = """
CREATE TABLE IF NOT EXISTS {t}_links (
    code TEXT PRIMARY KEY, url TEXT NOT NULL, url_hash INTEGER NOT NULL,
    strategy TEXT NOT NULL, created_ms INTEGER NOT NULL, expires_ms INTEGER,
    clicks INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS {t}_links_url ON {t}_links (url_hash) WHERE expires_ms IS NULL;
CREATE INDEX IF NOT EXISTS {t}_links_exp ON {t}_links (expires_ms) WHERE expires_ms IS NOT NULL;
CREATE TABLE IF NOT EXISTS {t}_counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)
"""


def _url_hashes(urls: Sequence[str]) -> list[int]:
    if not urls:
        return []
    return murmur3_128(list(urls), 0)[:, 0].view(np.int64).tolist()


class SQLiteLinkStore(LinkStore):
    """Links in a SQLite file (``sqlite:///path.db``, a path, or ``:memory:``)."""

    def __init__(self, path: str | os.PathLike[str] = ":memory:", *, table: str = "shortener", timeout: float = 30.0):
        t = self.table = _sqlite.check_identifier("table", table)
        self._links, self._counters = f"{t}_links", f"{t}_counters"

        def setup(conn: sqlite3.Connection) -> None:
            conn.execute("PRAGMA cache_size=-65536")  # 64 MiB page cache for bulk inserts
            for stmt in _SCHEMA.format(t=t).split(";"):  # each IF NOT EXISTS statement is atomic
                if stmt.strip():
                    conn.execute(stmt)

        self._db = _sqlite.SQLiteDB(path, timeout=timeout, setup=setup)
        self.path = self._db.path
        self._tx = self._db.tx
        self._query = self._db.query

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

    def _rows_in(self, sql: str, head: list[Any], values: Sequence[Any]) -> list[tuple]:
        """``sql`` (ending in ``IN``) for ``values`` in chunks of bound variables."""
        rows: list[tuple] = []
        for lo in range(0, len(values), _IN_CHUNK):
            part = values[lo : lo + _IN_CHUNK]
            rows += self._query(f"{sql} ({','.join('?' * len(part))})", [*head, *part])
        return rows

    def find_codes(self, urls, strategy):
        urls = list(urls)
        wanted = set(urls)
        out: dict[str, str] = {}
        sql = f"SELECT url, code FROM {self._links} WHERE expires_ms IS NULL AND strategy = ? AND url_hash IN"
        for url, code in self._rows_in(sql, [strategy], _url_hashes(urls)):
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
        sql = f"SELECT code, url FROM {self._links} WHERE (expires_ms IS NULL OR expires_ms > ?) AND code IN"
        found = dict(self._rows_in(sql, [now_ms], codes))
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
        self._db.close()

    def __repr__(self) -> str:
        return f"SQLiteLinkStore(path={self.path!r}, table={self.table!r})"
