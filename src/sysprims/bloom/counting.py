"""A counting Bloom filter: 8-bit saturating counters instead of bits, so keys
can be removed."""

from __future__ import annotations

import math
from typing import Any

import mmh3
import numpy as np

from .._format import Container, Persistable
from .._html import html_table
from .._loadcheck import get_array, get_float, get_int
from .._memory import zeros
from .._validate import check_int, check_probability
from ..errors import IncompatibleError
from ..hashing import check_seed
from ..keys import key_to_bytes
from . import _sizing
from ._common import (
    ReadOnlyFilterError,
    hashes_for_batch,
    standard_positions,
)

__all__ = ["CountingBloomFilter"]

SATURATED = 255


class CountingBloomFilter(Persistable):
    """A Bloom filter of ``size`` uint8 counters (standard layout probes).

    ``remove(item)`` decrements the item's counters only if every one of them
    holds at least the number of its probes that hit it; otherwise the item was
    certainly never added and nothing changes (returns False). Counters that
    reach 255 saturate and are never decremented again, so they can never
    cause a false negative. Removing a key that was never added but tests
    positive (a false positive) cannot be detected and may cause false
    negatives for other keys: remove only keys you added.
    """

    _KIND = "bloom_counting"

    def __init__(self, size: int, num_hash_functions: int, *, seed: int = 0):
        _sizing.capacity_call_hint("CountingBloomFilter", size, num_hash_functions)
        size = check_int("size", size, min=1)
        k = check_int("num_hash_functions", num_hash_functions, min=1, max=1024)
        self._init(size, k, check_seed(seed), zeros(f"a CountingBloomFilter of size={size} counters", size, np.uint8))

    def _init(self, size: int, k: int, seed: int, counters: np.ndarray) -> None:
        self.size = size
        self.num_hash_functions = k
        self.seed = seed
        self.capacity: int | None = None
        self.target_false_positive_rate: float | None = None
        self._counters = counters
        self._mv = memoryview(counters)  # type: ignore[arg-type]  # ndarray is a buffer

    @classmethod
    def for_capacity(cls, capacity: int, false_positive_rate: float, *, seed: int = 0) -> CountingBloomFilter:
        capacity = check_int("capacity", capacity, min=1)
        p = check_probability("false_positive_rate", false_positive_rate)
        m = _sizing.optimal_bits(capacity, p)
        out = cls(m, _sizing.optimal_hashes(m, capacity), seed=seed)
        out.capacity = capacity
        out.target_false_positive_rate = p
        return out

    def _positions(self, item: Any) -> list[int]:
        h1, h2 = mmh3.hash64(key_to_bytes(item), self.seed, signed=False)
        return standard_positions(h1, h2, self.num_hash_functions, self.size)

    def _check_writable(self) -> None:
        if not self._counters.flags.writeable:
            raise ReadOnlyFilterError("this filter views read-only memory (mmap); use .copy() to modify it")

    # ------------------------------------------------------------ scalar API

    def add(self, item: Any) -> None:
        self._check_writable()
        mv = self._mv
        for p in self._positions(item):
            if mv[p] < SATURATED:
                mv[p] += 1

    def contains(self, item: Any) -> bool:
        mv = self._mv
        return all(mv[p] for p in self._positions(item))

    __contains__ = contains

    def remove(self, item: Any) -> bool:
        """Remove one occurrence of ``item``; False (and no change) if it was never added."""
        self._check_writable()
        mv = self._mv
        pos = self._positions(item)
        for p in set(pos):
            c = mv[p]
            if c != SATURATED and c < pos.count(p):
                return False
        for p in pos:
            if mv[p] != SATURATED:
                mv[p] -= 1
        return True

    def false_positive_rate(self, n: int) -> float:
        n = check_int("n", n, min=0)
        return _sizing.standard_fpr(self.size, self.num_hash_functions, n)

    # ------------------------------------------------------------ batch API

    def _args(self):
        return np.int64(self.num_hash_functions), np.uint64(self.size), self._counters

    def add_many(self, keys: Any) -> None:
        from .._kernels.bloom import counting_add_hashes

        self._check_writable()
        hashes = hashes_for_batch(keys, self.seed, "CountingBloomFilter")
        if hashes.shape[0]:
            counting_add_hashes(hashes, *self._args())

    def contains_many(self, keys: Any) -> np.ndarray:
        from .._kernels.bloom import counting_contains_hashes

        hashes = hashes_for_batch(keys, self.seed, "CountingBloomFilter")
        out = np.zeros(hashes.shape[0], dtype=np.bool_)
        if hashes.shape[0]:
            counting_contains_hashes(hashes, *self._args(), out)
        return out

    def remove_many(self, keys: Any) -> np.ndarray:
        """``remove`` of every key in order; returns what each call returns."""
        from .._kernels.bloom import counting_remove_hashes

        self._check_writable()
        hashes = hashes_for_batch(keys, self.seed, "CountingBloomFilter")
        out = np.zeros(hashes.shape[0], dtype=np.bool_)
        if hashes.shape[0]:
            counting_remove_hashes(hashes, *self._args(), out)
        return out

    # ------------------------------------------------------------ introspection

    @property
    def counters(self) -> np.ndarray:
        return self._counters

    @property
    def nbytes(self) -> int:
        return int(self._counters.nbytes)

    @property
    def fill_ratio(self) -> float:
        return int(np.count_nonzero(self._counters)) / self.size

    def approx_count(self) -> float:
        x = int(np.count_nonzero(self._counters))
        if x >= self.size:
            return math.inf
        if x == 0:
            return 0.0  # not -0.0
        return -self.size / self.num_hash_functions * math.log1p(-x / self.size)

    def estimated_false_positive_rate(self) -> float:
        return self.fill_ratio**self.num_hash_functions

    def saturated(self) -> int:
        """Number of saturated counters."""
        return int(np.count_nonzero(self._counters == SATURATED))

    def copy(self) -> CountingBloomFilter:
        out = type(self).__new__(type(self))
        out._init(self.size, self.num_hash_functions, self.seed, self._counters.copy())
        out.capacity = self.capacity
        out.target_false_positive_rate = self.target_false_positive_rate
        return out

    def clear(self) -> None:
        self._check_writable()
        self._counters[:] = 0

    def update(self, other: CountingBloomFilter) -> None:
        """In-place union: counters add, saturating at 255."""
        if not isinstance(other, CountingBloomFilter) or (self.size, self.num_hash_functions, self.seed) != (
            other.size, other.num_hash_functions, other.seed,
        ):
            raise IncompatibleError("counting filters merge only with equal (size, num_hash_functions, seed)")
        self._check_writable()
        total = self._counters.astype(np.uint16) + other._counters
        np.minimum(total, SATURATED, out=total)
        self._counters[:] = total

    def merge(self, other: CountingBloomFilter) -> CountingBloomFilter:
        """:meth:`update` (counters add, saturating), returning self, as the
        sketches' ``merge``."""
        self.update(other)
        return self

    def __bool__(self) -> bool:
        """False for an empty filter (every counter zero)."""
        return bool(np.any(self._counters))

    def union(self, other: CountingBloomFilter) -> CountingBloomFilter:
        out = self.copy()
        out.update(other)
        return out

    __or__ = union

    def __ior__(self, other: CountingBloomFilter) -> CountingBloomFilter:  # type: ignore[misc]
        self.update(other)
        return self

    def __repr__(self) -> str:
        return (
            f"CountingBloomFilter(size={self.size}, num_hash_functions={self.num_hash_functions}, "
            f"seed={self.seed}, fill_ratio={self.fill_ratio:.4f}, approx_count={self.approx_count():.0f})"
        )

    def _repr_html_(self) -> str:
        return html_table(
            "CountingBloomFilter",
            [
                ("counters", f"{self.size:,} x uint8"),
                ("num_hash_functions", self.num_hash_functions),
                ("seed", self.seed),
                ("fill ratio", f"{self.fill_ratio:.4f}"),
                ("saturated counters", self.saturated()),
                ("approx. count", f"{self.approx_count():,.0f}"),
                ("est. false-positive rate", f"{self.estimated_false_positive_rate():.3g}"),
            ],
        )

    # ------------------------------------------------------------ persistence

    def _to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray], int]:
        params = {
            "size": self.size,
            "num_hash_functions": self.num_hash_functions,
            "capacity": self.capacity,
            "target_false_positive_rate": self.target_false_positive_rate,
        }
        return params, {"counters": self._counters}, self.seed

    @classmethod
    def _from_state(cls, container: Container) -> CountingBloomFilter:
        p = container.params
        size = get_int(p, "size", min=1)
        k = get_int(p, "num_hash_functions", min=1, max=1024)
        capacity = get_int(p, "capacity", min=1, optional=True)
        target = get_float(
            p, "target_false_positive_rate", min=0.0, max=1.0, min_inclusive=False, max_inclusive=False, optional=True
        )
        counters = get_array(container.arrays, "counters", np.uint8, (size,))
        out = cls.__new__(cls)
        out._init(size, k, container.seed, counters)
        out.capacity = capacity
        out.target_false_positive_rate = target
        return out
