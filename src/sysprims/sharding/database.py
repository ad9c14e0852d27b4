"""ShardedDatabase over real stores, safe resharding, and movement reports."""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._html import html_table
from .._validate import check_choice, check_int
from ..errors import BackendError, InvalidParameterError, KeyTypeError
from ._common import ShardingStrategy

__all__ = ["MovementReport", "ReshardReport", "ShardedDatabase", "movement_report"]


class _WriteSeq:
    """The database-wide write sequence: every stored row carries the number of
    the write that produced it, so a copy never replaces a newer row."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0

    def observe(self, version: int) -> None:
        self.value = max(self.value, version)

    def next(self) -> int:
        self.value += 1
        return self.value


class SqliteShard:
    """One shard in its own SQLite file; a small dict-like store.

    Keys are str, bytes or int (int64); values are pickled, so open only
    databases you wrote yourself. Every row holds a version (the number of the
    write that stored it, shared by the shards of one database through
    ``seq``); :meth:`put_raw` keeps whichever of two rows is newer.
    """

    def __init__(self, path: str | os.PathLike[str], seq: _WriteSeq | None = None):
        from ..backends.sqlite import connect

        self.path = str(path)
        self._conn = connect(self.path)
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS kv (k PRIMARY KEY, v BLOB NOT NULL, ver INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID"
        )
        if "ver" not in [r[1] for r in self._conn.execute("PRAGMA table_info(kv)")]:
            # a shard written by sysprims 0.1: its rows count as older than any new write
            self._conn.execute("ALTER TABLE kv ADD COLUMN ver INTEGER NOT NULL DEFAULT 0")
        self._seq = _WriteSeq() if seq is None else seq
        self._seq.observe(int(self._conn.execute("SELECT COALESCE(MAX(ver), 0) FROM kv").fetchone()[0]))

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

    def get(self, key: Any, default: Any = None) -> Any:
        row = self._conn.execute("SELECT v FROM kv WHERE k = ?", (self._key(key),)).fetchone()
        return default if row is None else pickle.loads(row[0])

    def __getitem__(self, key: Any) -> Any:
        row = self._conn.execute("SELECT v FROM kv WHERE k = ?", (self._key(key),)).fetchone()
        if row is None:
            raise KeyError(key)
        return pickle.loads(row[0])

    def __setitem__(self, key: Any, value: Any) -> None:
        self._conn.execute(
            "INSERT OR REPLACE INTO kv (k, v, ver) VALUES (?, ?, ?)", (self._key(key), pickle.dumps(value, 5), self._seq.next())
        )

    def __delitem__(self, key: Any) -> None:
        self._conn.execute("DELETE FROM kv WHERE k = ?", (self._key(key),))

    def pop(self, key: Any, default: Any = None) -> Any:
        value = self.get(key, default)
        del self[key]
        return value

    def __contains__(self, key: Any) -> bool:
        return self._conn.execute("SELECT 1 FROM kv WHERE k = ?", (self._key(key),)).fetchone() is not None

    def __len__(self) -> int:
        return int(self._conn.execute("SELECT COUNT(*) FROM kv").fetchone()[0])

    def keys(self) -> list[Any]:
        return [r[0] for r in self._conn.execute("SELECT k FROM kv")]

    def items_for(self, keys: list[Any]) -> list[tuple[Any, bytes, int]]:
        """``(key, pickled value, version)`` of the keys present."""
        out = []
        for k in keys:
            row = self._conn.execute("SELECT v, ver FROM kv WHERE k = ?", (self._key(k),)).fetchone()
            if row is not None:
                out.append((k, row[0], int(row[1])))
        return out

    def put_raw(self, items: list[tuple[Any, bytes, int]]) -> None:
        """Write already-pickled ``(key, value, version)`` rows in one transaction;
        a row already here with the same or a newer version is kept."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            self._conn.executemany(
                "INSERT INTO kv (k, v, ver) VALUES (?, ?, ?) ON CONFLICT(k) DO UPDATE "
                "SET v = excluded.v, ver = excluded.ver WHERE excluded.ver > kv.ver",
                [(self._key(k), v, ver) for k, v, ver in items],
            )
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise

    def delete_copied(self, items: list[tuple[Any, bytes, int]]) -> None:
        """Delete the rows that :meth:`items_for` returned, unless rewritten since."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            self._conn.executemany("DELETE FROM kv WHERE k = ? AND ver <= ?", [(self._key(k), ver) for k, _, ver in items])
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self._conn.close()

    def __repr__(self) -> str:
        return f"SqliteShard({self.path!r}, n={len(self)})"


@dataclass
class ReshardReport:
    """What :meth:`ShardedDatabase.reshard` did."""

    total: int
    moved: int

    @property
    def moved_fraction(self) -> float:
        return self.moved / self.total if self.total else 0.0


class ShardedDatabase:
    """A sharded key-value database: ``num_shards`` stores routed by ``strategy``.

    ``backend="memory"`` keeps each shard in a dict (``db.shards`` is the list
    of dicts, as in the classic primer API); ``backend="sqlite"`` keeps shard ``i`` in
    ``path/shard_0000i.sqlite`` so the data outlives the process.
    """

    def __init__(self, num_shards: int, strategy: ShardingStrategy, *, backend: str = "memory", path: str | os.PathLike[str] | None = None):
        self.num_shards = check_int("num_shards", num_shards, min=1)
        if not isinstance(strategy, ShardingStrategy):
            raise InvalidParameterError(f"strategy must be a ShardingStrategy, got {type(strategy).__name__}")
        self.backend = check_choice("backend", backend, ("memory", "sqlite"))
        if self.backend == "sqlite":
            if path is None:
                raise InvalidParameterError("backend='sqlite' needs path= (a folder for one file per shard)")
            self.path: Path | None = Path(path)
            if not self.path.is_dir():
                raise BackendError(f"path {self.path} is not an existing folder")
        else:
            self.path = None
        self.strategy = strategy
        self._pending: ShardingStrategy | None = None
        self._seq = _WriteSeq()
        self.shards: list[Any] = [self._open(i) for i in range(self.num_shards)]
        self._check_ids(strategy)

    def _open(self, i: int) -> Any:
        if self.backend == "memory":
            return {}
        assert self.path is not None  # set in __init__ for sqlite (not input validation)
        return SqliteShard(self.path / f"shard_{i:05d}.sqlite", self._seq)

    def _check_ids(self, strategy: ShardingStrategy) -> None:
        ids = strategy.shard_ids()
        if ids is not None and ids and (min(ids) < 0 or max(ids) >= len(self.shards)):
            raise InvalidParameterError(
                f"strategy routes to shard ids {ids[:8]}{'...' if len(ids) > 8 else ''} but the database has shards 0..{len(self.shards) - 1}"
            )

    def _shard(self, strategy: ShardingStrategy, key: Any) -> int:
        sid = strategy.get_shard(key)
        if not 0 <= sid < len(self.shards):
            raise InvalidParameterError(f"strategy sent key {key!r} to shard {sid}, but the database has shards 0..{len(self.shards) - 1}")
        return sid

    def put(self, key: Any, value: Any) -> None:
        """Store key-value in the appropriate shard."""
        sid = self._shard(self._pending or self.strategy, key)
        self.shards[sid][key] = value
        if self._pending is not None:
            old = self._shard(self.strategy, key)
            if old != sid and key in self.shards[old]:
                del self.shards[old][key]

    def get(self, key: Any) -> Any:
        """Retrieve the value from the appropriate shard (``None`` if absent)."""
        if self._pending is not None:
            sid = self._shard(self._pending, key)
            if key in self.shards[sid]:
                return self.shards[sid][key]
        return self.shards[self._shard(self.strategy, key)].get(key)

    def get_shard_stats(self) -> list[int]:
        """Number of items in each shard."""
        return [len(shard) for shard in self.shards]

    def reshard(self, new_strategy: ShardingStrategy, num_shards: int | None = None) -> ReshardReport:
        """Move every key whose shard changes under ``new_strategy``; nothing else moves.

        Each batch is copied to its new shard first, then deleted from the old
        one, so an interruption leaves at worst two copies; calling
        ``reshard(new_strategy)`` again (in this process or after reopening
        the database) finishes the job, and never copies a row over a newer
        one (rows carry write versions). Reads and writes during an interrupted
        reshard in this process see the new placement first.
        """
        if not isinstance(new_strategy, ShardingStrategy):
            raise InvalidParameterError(f"new_strategy must be a ShardingStrategy, got {type(new_strategy).__name__}")
        if num_shards is not None:
            num_shards = check_int("num_shards", num_shards, min=len(self.shards))
            while len(self.shards) < num_shards:
                self.shards.append(self._open(len(self.shards)))
            self.num_shards = num_shards
        self._check_ids(new_strategy)
        self._pending = new_strategy
        snapshot = [list(shard.keys()) for shard in self.shards]
        total = sum(map(len, snapshot))
        moved = 0
        for src, keys in enumerate(snapshot):
            if not keys:
                continue
            try:
                targets = new_strategy.get_shards(keys)
            except KeyTypeError:  # a shard holding keys of mixed types
                targets = np.array([new_strategy.get_shard(k) for k in keys], dtype=np.int64)
            for dst in np.unique(targets).tolist():
                if dst == src:
                    continue
                if not 0 <= dst < len(self.shards):
                    raise InvalidParameterError(f"new_strategy routes keys to shard {dst}; pass num_shards={dst + 1} or more")
                batch = [k for k, t in zip(keys, targets.tolist(), strict=True) if t == dst]
                self._move_batch(src, dst, batch)
                moved += len(batch)
        self.strategy = new_strategy
        self._pending = None
        return ReshardReport(total=total, moved=moved)

    def _move_batch(self, src: int, dst: int, keys: list[Any]) -> None:
        """Copy ``keys`` from shard ``src`` to ``dst``, then delete them from ``src``."""
        s, d = self.shards[src], self.shards[dst]
        if self.backend == "sqlite":
            rows = s.items_for(keys)
            d.put_raw(rows)  # a newer row already in ``d`` (written after a crash) wins
            s.delete_copied(rows)
        else:
            for k in keys:
                d[k] = s[k]
            for k in keys:
                del s[k]

    def close(self) -> None:
        for shard in self.shards:
            if hasattr(shard, "close"):
                shard.close()

    def __repr__(self) -> str:
        return f"ShardedDatabase(num_shards={len(self.shards)}, strategy={self.strategy!r}, backend={self.backend!r})"

    def _repr_html_(self) -> str:
        return html_table("ShardedDatabase", [("shards", len(self.shards)), ("strategy", repr(self.strategy)), ("backend", self.backend), ("items per shard", self.get_shard_stats())])


@dataclass
class MovementReport:
    """What changing the strategy from ``before`` to ``after`` does to ``n`` keys."""

    n: int
    moved: int
    loads_before: dict[int, int] = field(repr=False)
    loads_after: dict[int, int] = field(repr=False)

    @property
    def moved_fraction(self) -> float:
        return self.moved / self.n if self.n else 0.0

    @staticmethod
    def _imbalance(loads: dict[int, int]) -> tuple[int, float, float]:
        vals = np.array(list(loads.values()), dtype=np.float64)
        mean = float(vals.mean()) if vals.size else 0.0
        mx = int(vals.max()) if vals.size else 0
        return mx, mean, (mx / mean if mean else 0.0)

    @property
    def max_over_mean_before(self) -> float:
        return self._imbalance(self.loads_before)[2]

    @property
    def max_over_mean_after(self) -> float:
        return self._imbalance(self.loads_after)[2]

    def __repr__(self) -> str:
        return (
            f"MovementReport(n={self.n}, moved={self.moved} ({self.moved_fraction:.2%}), "
            f"shards {len(self.loads_before)} -> {len(self.loads_after)}, "
            f"max/mean load {self.max_over_mean_before:.3f} -> {self.max_over_mean_after:.3f})"
        )

    def _repr_html_(self) -> str:
        b, a = self._imbalance(self.loads_before), self._imbalance(self.loads_after)
        return html_table(
            "MovementReport",
            [
                ("keys", self.n),
                ("moved", f"{self.moved} ({self.moved_fraction:.2%})"),
                ("shards", f"{len(self.loads_before)} -> {len(self.loads_after)}"),
                ("max load", f"{b[0]} -> {a[0]}"),
                ("mean load", f"{b[1]:.1f} -> {a[1]:.1f}"),
                ("max/mean", f"{b[2]:.3f} -> {a[2]:.3f}"),
            ],
        )


def _loads(strategy: ShardingStrategy, shards: np.ndarray) -> dict[int, int]:
    ids = strategy.shard_ids()
    uniq, counts = np.unique(shards, return_counts=True)
    loads = {int(i): 0 for i in ids} if ids is not None else {}
    for u, c in zip(uniq.tolist(), counts.tolist(), strict=True):
        loads[u] = c
    return dict(sorted(loads.items()))


def movement_report(before: ShardingStrategy, after: ShardingStrategy, keys: Any) -> MovementReport:
    """Route ``keys`` with both strategies: the fraction that moves and the
    per-shard loads (every shard the strategy can route to counts, empty or not)."""
    for name, s in (("before", before), ("after", after)):
        if not isinstance(s, ShardingStrategy):
            raise InvalidParameterError(f"{name} must be a ShardingStrategy, got {type(s).__name__}")
    a = before.get_shards(keys)
    b = after.get_shards(keys)
    return MovementReport(n=int(a.shape[0]), moved=int(np.count_nonzero(a != b)), loads_before=_loads(before, a), loads_after=_loads(after, b))
