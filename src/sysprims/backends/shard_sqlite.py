"""One shard of a :class:`~sysprims.sharding.ShardedDatabase` in its own SQLite file.

Built on :class:`sysprims.backends.sqlite.SQLiteDB`. Values are stored in the
safe typed encoding of :mod:`sysprims.backends.codec` (JSON with tags for
bytes, tuples and non-string dict keys), never pickled unless the shard is
opened with ``allow_pickle=True``: a shard file that came from somewhere else
cannot run code when read. Files written by sysprims 0.1 hold pickled values;
reading one raises :class:`~sysprims.errors.SerializationError` saying how to
convert it (open it once with ``allow_pickle=True`` if you trust it, and
:meth:`SqliteShard.rewrite_safe`).
"""

from __future__ import annotations

import os
import pickle
from typing import Any

import numpy as np

from ..errors import KeyTypeError, SerializationError
from . import codec
from . import sqlite as _sqlite

__all__ = ["SqliteShard"]


def _setup(conn: Any) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS kv (k PRIMARY KEY, v BLOB NOT NULL, ver INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID")
    if "ver" not in [r[1] for r in conn.execute("PRAGMA table_info(kv)")]:
        # a shard written by sysprims 0.1: its rows count as older than any new write
        conn.execute("ALTER TABLE kv ADD COLUMN ver INTEGER NOT NULL DEFAULT 0")


class SqliteShard:
    """One shard in its own SQLite file; a small dict-like store.

    Keys are str, bytes or int (int64). Every row holds a version (the number
    of the write that stored it, shared by the shards of one database through
    ``seq``); :meth:`put_raw` keeps whichever of two rows is newer.
    """

    def __init__(self, path: str | os.PathLike[str], seq: Any = None, *, allow_pickle: bool = False,
                 timeout: float = 30.0):
        self._db = _sqlite.SQLiteDB(path, timeout=timeout, setup=_setup)
        self.path = self._db.path
        self.allow_pickle = bool(allow_pickle)
        if seq is None:  # a shard used alone: a sequence of its own
            from ..sharding.database import _WriteSeq

            seq = _WriteSeq()
        self._seq = seq
        self._seq.observe(int(self._db.query("SELECT COALESCE(MAX(ver), 0) FROM kv")[0][0]))

    @staticmethod
    def _key(key: Any) -> Any:
        if isinstance(key, (str, bytes)):
            return key
        if isinstance(key, (bytearray, memoryview)):
            return bytes(key)
        if isinstance(key, (int, np.integer)) and not isinstance(key, (bool, np.bool_)):
            k = int(key)
            if not -(1 << 63) <= k < 1 << 63:
                raise KeyTypeError(f"SQLite shards store int keys in [-2**63, 2**63), got {k}")
            return k
        raise KeyTypeError(f"key must be str, bytes or int, got {type(key).__name__}: {key!r}")

    def _encode(self, value: Any) -> bytes:
        try:
            return codec.dumps(value)
        except SerializationError:
            if not self.allow_pickle:
                raise
            return pickle.dumps(value, 5)

    def _decode(self, key: Any, data: bytes) -> Any:
        data = bytes(data)
        if codec.is_pickle(data):
            if not self.allow_pickle:
                raise SerializationError(
                    f"the value of {key!r} in {self.path} was pickled (a shard written by sysprims 0.1, or with "
                    "allow_pickle=True); it is not unpickled by default because unpickling a file runs its code. "
                    "If you trust this file, open the database once with ShardedDatabase(..., allow_pickle=True) "
                    "and call its rewrite_safe() to convert it; otherwise discard it"
                )
            return pickle.loads(data)  # noqa: S301 - explicit opt-in, documented
        return codec.loads(data)

    def _row(self, key: Any) -> Any:
        rows = self._db.query("SELECT v FROM kv WHERE k = ?", (self._key(key),))
        return rows[0][0] if rows else None

    def get(self, key: Any, default: Any = None) -> Any:
        raw = self._row(key)
        return default if raw is None else self._decode(key, raw)

    def __getitem__(self, key: Any) -> Any:
        raw = self._row(key)
        if raw is None:
            raise KeyError(key)
        return self._decode(key, raw)

    def __setitem__(self, key: Any, value: Any) -> None:
        k, v = self._key(key), self._encode(value)
        self._db.execute("INSERT OR REPLACE INTO kv (k, v, ver) VALUES (?, ?, ?)", (k, v, self._seq.next()))

    def __delitem__(self, key: Any) -> None:
        self._db.execute("DELETE FROM kv WHERE k = ?", (self._key(key),))

    def pop(self, key: Any, default: Any = None) -> Any:
        value = self.get(key, default)
        del self[key]
        return value

    def __contains__(self, key: Any) -> bool:
        return bool(self._db.query("SELECT 1 FROM kv WHERE k = ?", (self._key(key),)))

    def __len__(self) -> int:
        return int(self._db.query("SELECT COUNT(*) FROM kv")[0][0])

    def keys(self) -> list[Any]:
        return [r[0] for r in self._db.query("SELECT k FROM kv")]

    def items_for(self, keys: list[Any]) -> list[tuple[Any, bytes, int]]:
        """``(key, stored value bytes, version)`` of the keys present."""
        def run(conn: Any) -> list[tuple[Any, bytes, int]]:
            out = []
            for k in keys:
                row = conn.execute("SELECT v, ver FROM kv WHERE k = ?", (self._key(k),)).fetchone()
                if row is not None:
                    out.append((k, row[0], int(row[1])))
            return out

        return self._db.run(run)

    def put_raw(self, items: list[tuple[Any, bytes, int]]) -> None:
        """Write already-encoded ``(key, value, version)`` rows in one transaction;
        a row already here with the same or a newer version is kept."""
        rows = [(self._key(k), v, ver) for k, v, ver in items]
        self._db.tx(lambda conn: conn.executemany(
            "INSERT INTO kv (k, v, ver) VALUES (?, ?, ?) ON CONFLICT(k) DO UPDATE "
            "SET v = excluded.v, ver = excluded.ver WHERE excluded.ver > kv.ver", rows))

    def delete_copied(self, items: list[tuple[Any, bytes, int]]) -> None:
        """Delete the rows that :meth:`items_for` returned, unless rewritten since."""
        rows = [(self._key(k), ver) for k, _, ver in items]
        self._db.tx(lambda conn: conn.executemany("DELETE FROM kv WHERE k = ? AND ver <= ?", rows))

    def rewrite_safe(self) -> int:
        """Re-encode every pickled row in the safe encoding (needs ``allow_pickle=True``
        to read them); returns how many rows were rewritten. A value with no safe
        encoding raises :class:`SerializationError` and nothing is rewritten."""
        def run(conn: Any) -> int:
            rows = conn.execute("SELECT k, v FROM kv").fetchall()
            new = [(codec.dumps(self._decode(k, v)), k) for k, v in rows if codec.is_pickle(bytes(v))]
            conn.executemany("UPDATE kv SET v = ? WHERE k = ?", new)
            return len(new)

        return int(self._db.tx(run))

    def close(self) -> None:
        self._db.close()

    def __repr__(self) -> str:
        return f"SqliteShard({self.path!r}, n={len(self)})"
