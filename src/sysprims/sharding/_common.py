"""Shared pieces of the sharding package: the base class, errors, key helpers."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import KeyTypeError, NoShardError
from ..hashing import H1, HASHES, HashedKeys, check_threads, hash128, kernel_keys

__all__ = ["NoShardError", "ShardingStrategy"]


class ShardingStrategy:
    """Base class for sharding strategies.

    A subclass implements :meth:`get_shard`; the default :meth:`get_shards`
    loops over it, so any strategy routes batches. Built-in strategies
    override :meth:`get_shards` with array code that returns exactly what the
    loop returns.
    """

    def get_shard(self, key: str) -> int:
        raise NotImplementedError

    def get_shards(self, keys: Any, threads: int = 1) -> np.ndarray:
        """Shard of every key as an int64 array (the :meth:`get_shard` loop;
        ``threads`` is accepted for a uniform signature and checked, but a
        Python loop runs serially)."""
        check_threads(threads)
        values = key_values(keys, type(self).__name__)
        return np.fromiter((self.get_shard(k) for k in values), dtype=np.int64, count=len(values))

    def shard_ids(self) -> list[int] | None:
        """Every shard id this strategy can return, or ``None`` if unknown."""
        return None


class _HashedStrategy(ShardingStrategy):
    """A strategy that routes on MurmurHash3_x64_128 ``h1`` of the key under ``seed``."""

    seed: int

    def _h1(self, key: Any) -> int:
        return hash128(key, self.seed)[0]

    def _key_args(self, keys: Any, column: bool = True) -> tuple:
        """``(mode, h1, ints, data, starts, ends, seed)`` for the fused routing kernels
        (lists of str/bytes are read in place for ``h1`` alone). ``column=False``
        leaves ``HashedKeys`` as their ``(n, 2)`` hashes in the ``h1`` place."""
        kk = kernel_keys(keys, self.seed, type(self).__name__, h1_only=True)
        if kk.kind == H1:
            h1 = kk.h1s
        elif kk.kind == HASHES:
            h1 = np.ascontiguousarray(kk.hashes[:, 0]) if column else kk.hashes
        else:
            h1 = _E64
        return (kk.mode, h1, kk.ints, kk.data, kk.starts, kk.ends, np.uint64(self.seed))

    def _shards(self, keys: Any, threads: Any, serial: Any, *tables: Any) -> np.ndarray:
        """Route a batch with ``serial`` (a router kernel taking ``tables``), on
        ``threads`` threads over slices of the batch (the shared read runner,
        :func:`sysprims._threads.run_sliced`: the serial kernel per slice)."""
        from .._threads import key_slicing, run_sliced

        threads = check_threads(threads)
        args = self._key_args(keys, column=False)
        out = self._out(args)
        if out.shape[0]:
            kernel = serial if args[1].ndim == 1 else _on_h1_column(serial)
            run_sliced(kernel, (*args, *tables), key_slicing(int(args[0]), len(tables)), out, threads)
        return out

    def _one_key_args(self, h1: int) -> tuple:
        """The routers' arguments for one key given its ``h1`` (scalar calls)."""
        return (0, np.array([h1], dtype=np.uint64), _E64, _EB, _EI, _EI, np.uint64(self.seed))

    @staticmethod
    def _out(args: tuple) -> np.ndarray:
        mode = args[0]
        n = args[1].shape[0] if mode == 0 else args[2].shape[0] if mode == 1 else args[4].shape[0]
        return np.empty(n, dtype=np.int64)


def _on_h1_column(serial: Any) -> Any:
    """``serial`` taking ``(n, 2)`` hashes in its ``h1`` place: each slice copies
    its own ``h1`` column (in the thread that routes it) before routing."""

    def kernel(mode: Any, hashes: np.ndarray, *rest: Any) -> None:
        serial(mode, np.ascontiguousarray(hashes[:, 0]), *rest)

    return kernel


_E64 = np.zeros(0, dtype=np.uint64)
_EI = np.zeros(0, dtype=np.int64)
_EB = np.zeros(0, dtype=np.uint8)


def key_values(keys: Any, owner: str) -> list:
    """The keys of a batch as Python objects (for strategies that read keys, not hashes)."""
    if isinstance(keys, HashedKeys):
        raise KeyTypeError(
            f"{owner} routes on the key itself, not on its hash; pass the keys, not HashedKeys"
        )
    if isinstance(keys, np.ndarray):
        if keys.ndim != 1:
            raise KeyTypeError(f"keys must be a 1-D array, got an array of shape {keys.shape}")
        if keys.dtype.kind not in "iuUSOT":
            raise KeyTypeError(f"keys has dtype {keys.dtype}, which is not a key type")
        return keys.tolist()
    module = type(keys).__module__
    if module.startswith("pyarrow"):
        import pyarrow as pa

        if isinstance(keys, (pa.Array, pa.ChunkedArray)) and keys.null_count:
            raise KeyTypeError("keys holds nulls; keys cannot be null")
        return keys.to_pylist()
    if module.startswith("pandas"):
        return keys.to_numpy().tolist()
    if isinstance(keys, (str, bytes, bytearray, memoryview, int)):
        raise KeyTypeError(
            f"keys must be a batch of keys, got a single {type(keys).__name__}; wrap it in a list"
        )
    return list(keys)



