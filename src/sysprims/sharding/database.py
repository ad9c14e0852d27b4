"""ShardedDatabase over real stores, safe resharding, and movement reports."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .._html import html_table
from .._validate import check_choice, check_int
from ..errors import BackendError, InvalidParameterError, KeyTypeError
from ._common import ShardingStrategy

__all__ = ["MovementReport", "ReshardReport", "ShardStore", "ShardedDatabase", "movement_report"]


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


@runtime_checkable
class ShardStore(Protocol):
    """What one shard's store must do: a dict's item methods (a ``dict`` is the
    memory store; :class:`~sysprims.backends.shard_sqlite.SqliteShard` the SQLite one)."""

    def get(self, key: Any, default: Any = None) -> Any: ...

    def __getitem__(self, key: Any) -> Any: ...

    def __setitem__(self, key: Any, value: Any) -> None: ...

    def __delitem__(self, key: Any) -> None: ...

    def __contains__(self, key: Any) -> bool: ...

    def __len__(self) -> int: ...

    def keys(self) -> Any: ...


def __getattr__(name: str) -> Any:  # the SQLite shard lives in sysprims.backends
    if name == "SqliteShard":
        from ..backends.registry import engine

        return engine("shard", "sqlite")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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

    ``store=None`` (or ``"memory"``) keeps each shard in a dict (``db.shards`` is
    the list of dicts, as in the classic primer API); ``store="sqlite:///folder"``
    or a folder path keeps shard ``i`` in ``folder/shard_0000i.sqlite`` so the
    data outlives the process. Values in SQLite are stored in a safe typed
    encoding (:mod:`sysprims.backends.codec`), never pickled unless
    ``allow_pickle=True`` (only for files nobody else can write to: unpickling
    runs code). ``backend="sqlite", path=folder`` is the older spelling.
    """

    def __init__(self, num_shards: int, strategy: ShardingStrategy, *, store: Any = None,
                 backend: str | None = None, path: str | os.PathLike[str] | None = None,
                 allow_pickle: bool = False):
        self.num_shards = check_int("num_shards", num_shards, min=1)
        if not isinstance(strategy, ShardingStrategy):
            raise InvalidParameterError(f"strategy must be a ShardingStrategy, got {type(strategy).__name__}")
        from ..backends.registry import spec_kind, sqlite_path

        if backend is not None or path is not None:  # the older spelling
            if store is not None:
                raise InvalidParameterError("pass store= or the older backend=/path=, not both")
            if check_choice("backend", backend or "memory", ("memory", "sqlite")) == "sqlite":
                if path is None:
                    raise InvalidParameterError("backend='sqlite' needs path= (a folder for one file per shard)")
                store = os.fspath(path)
        kind = spec_kind(store)
        if kind not in ("memory", "sqlite"):
            raise InvalidParameterError(
                f"ShardedDatabase store must be None, 'memory', 'sqlite:///folder' or a folder path, got {store!r:.80}"
            )
        self.backend = kind
        self.allow_pickle = bool(allow_pickle)
        if kind == "sqlite":
            self.path: Path | None = Path(sqlite_path(store))
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
        from ..backends.registry import open_store

        if self.path is None:
            return open_store("shard", None)
        return open_store("shard", str(self.path / f"shard_{i:05d}.sqlite"), seq=self._seq, allow_pickle=self.allow_pickle)

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
        if hasattr(s, "items_for") and hasattr(d, "put_raw"):
            rows = s.items_for(keys)
            d.put_raw(rows)  # a newer row already in ``d`` (written after a crash) wins
            s.delete_copied(rows)
        else:
            for k in keys:
                d[k] = s[k]
            for k in keys:
                del s[k]

    def rewrite_safe(self) -> int:
        """Re-encode pickled values (files of sysprims 0.1) in the safe encoding; needs
        ``allow_pickle=True`` to read them. Returns how many rows were rewritten."""
        return sum(shard.rewrite_safe() for shard in self.shards if hasattr(shard, "rewrite_safe"))

    def close(self) -> None:
        for shard in self.shards:
            if hasattr(shard, "close"):
                shard.close()

    def __enter__(self) -> ShardedDatabase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
