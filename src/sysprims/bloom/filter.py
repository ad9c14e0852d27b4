"""The Bloom filter: the classic primer API's ``BloomFilter(size, num_hash_functions)`` over a
packed ``uint64`` bit array, with batch twins, a blocked layout, set algebra and
persistence."""

from __future__ import annotations

import math
from typing import Any

import mmh3
import numpy as np

from .._format import Container, Persistable
from .._html import html_table
from .._validate import check_int, check_probability
from ..errors import IncompatibleError, InvalidParameterError, SerializationError
from ..hashing import check_seed
from ..keys import key_to_bytes
from . import _sizing
from ._common import (
    ReadOnlyFilterError,
    batch_call,
    param,
    popcount,
)

__all__ = ["BloomFilter"]

_K: Any = None


def _kernels() -> Any:
    """The kernel module, imported on first use (keeps ``import sysprims`` light)."""
    global _K
    if _K is None:
        from .._kernels import bloom

        _K = bloom
    return _K


class BloomFilter(Persistable):
    """Probabilistic set membership over ``size`` bits with ``num_hash_functions`` probes.

    No false negatives: after ``add(x)``, ``contains(x)`` is always True.
    ``contains`` of a key never added is True with probability about
    ``false_positive_rate(n)`` after ``n`` additions.

    Keys follow :mod:`sysprims.keys` (``str`` as UTF-8, bytes as is, ints as 8
    little-endian bytes); probes are double hashing of MurmurHash3_x64_128's
    halves in 64-bit arithmetic (see :mod:`sysprims._kernels.bloom`). With
    ``blocked=True`` all probes of a key fall in one 512-bit block (one cache
    line); ``size`` must then be a multiple of 512.
    """

    _KIND = "bloom"

    def __init__(self, size: int, num_hash_functions: int, *, seed: int = 0, blocked: bool = False):
        size = check_int("size", size, min=1)
        k = check_int("num_hash_functions", num_hash_functions, min=1, max=1024)
        seed = check_seed(seed)
        blocked = bool(blocked)
        if blocked and size % _sizing.BLOCK_BITS:
            raise InvalidParameterError(
                f"size must be a multiple of {_sizing.BLOCK_BITS} with blocked=True, got {size}"
            )
        self._init(size, k, seed, blocked, np.zeros(-(-size // 64), dtype=np.uint64))

    def _init(self, size: int, k: int, seed: int, blocked: bool, bits: np.ndarray) -> None:
        self.size = size
        self.num_hash_functions = k
        self.seed = seed
        self.blocked = blocked
        self.capacity: int | None = None
        self.target_false_positive_rate: float | None = None
        self._bits = bits
        self._add_one: Any = None  # scalar entry points, bound on first use
        self._contains_one: Any = None
        self._marg = size // _sizing.BLOCK_BITS if blocked else size
        self._writable = bool(bits.flags.writeable)
        self._k = np.int64(k)
        self._mu = np.uint64(self._marg)
        self._b = np.int64(blocked)

    @classmethod
    def _empty(cls, size: int, k: int, seed: int, blocked: bool, bits: np.ndarray) -> BloomFilter:
        obj = cls.__new__(cls)
        obj._init(size, k, seed, blocked, bits)
        return obj

    # ------------------------------------------------------------ construction

    @classmethod
    def for_capacity(
        cls, capacity: int, false_positive_rate: float, *, seed: int = 0, blocked: bool = False
    ) -> BloomFilter:
        """A filter for ``capacity`` keys at ``false_positive_rate``.

        Standard layout: m = -n ln p / (ln 2)^2 bits (rounded up to whole
        64-bit words) and k = round(m/n ln 2). Blocked layout: the fewest
        512-bit blocks (and the best k) whose exact expected rate at capacity is
        at most 95% of the target.
        """
        capacity = check_int("capacity", capacity, min=1)
        p = check_probability("false_positive_rate", false_positive_rate)
        if blocked:
            nblocks, k = _sizing.blocked_size(capacity, p)
            bf = cls(nblocks * _sizing.BLOCK_BITS, k, seed=seed, blocked=True)
        else:
            m = _sizing.optimal_bits(capacity, p)
            bf = cls(m, _sizing.optimal_hashes(m, capacity), seed=seed)
        bf.capacity = capacity
        bf.target_false_positive_rate = p
        return bf

    # ------------------------------------------------------------ scalar API

    def _probe_add(self, h1: int, h2: int) -> None:
        """Set the probes of signed (int64) hash halves ``h1``, ``h2``."""
        _kernels().bloom_add_one(h1, h2, self._k, self._mu, self._b, self._bits)

    def _probe_contains(self, h1: int, h2: int) -> bool:
        return _kernels().bloom_contains_one(h1, h2, self._k, self._mu, self._b, self._bits)

    def _check_writable(self) -> None:
        if not self._writable:
            raise ReadOnlyFilterError(
                "this BloomFilter views read-only memory (loaded with mmap=True); use .copy() to modify it"
            )

    def add(self, item: Any) -> None:
        """Add ``item`` (str, bytes or int) to the filter."""
        if not self._writable:
            self._check_writable()
        h1, h2 = mmh3.hash64(key_to_bytes(item), self.seed)
        add_one = self._add_one
        if add_one is None:  # compiled entry point for this filter's argument types
            from .._jit import fast_entry

            add_one = self._add_one = fast_entry(_kernels().bloom_add_one, h1, h2, self._k, self._mu, self._b, self._bits)
        add_one(h1, h2, self._k, self._mu, self._b, self._bits)

    def contains(self, item: Any) -> bool:
        """True if ``item`` may be in the set; False means definitely not."""
        h1, h2 = mmh3.hash64(key_to_bytes(item), self.seed)
        contains_one = self._contains_one
        if contains_one is None:
            from .._jit import fast_entry

            contains_one = self._contains_one = fast_entry(
                _kernels().bloom_contains_one, h1, h2, self._k, self._mu, self._b, self._bits
            )
        return contains_one(h1, h2, self._k, self._mu, self._b, self._bits)

    __contains__ = contains

    def false_positive_rate(self, n: int) -> float:
        """Theoretical false-positive rate after ``n`` additions.

        Standard layout: (1 - e^(-kn/m))^k. Blocked layout: the exact expected
        rate of Poisson-loaded 512-bit blocks.
        """
        n = check_int("n", n, min=0)
        if self.blocked:
            return _sizing.blocked_fpr(n, self._marg, self.num_hash_functions) if n else 0.0
        return _sizing.standard_fpr(self.size, self.num_hash_functions, n)

    # ------------------------------------------------------------ batch API

    def add_many(self, keys: Any) -> None:
        """Add every key of a batch (any key form, or :class:`~sysprims.hashing.HashedKeys`).

        Identical to calling :meth:`add` on each key in order.
        """
        from .._kernels import bloom as K

        self._check_writable()
        k, m, b, bits = np.int64(self.num_hash_functions), np.uint64(self._marg), np.int64(self.blocked), self._bits
        seed = np.uint64(self.seed)
        batch_call(
            keys, self.seed, "BloomFilter",
            lambda h: K.bloom_add_hashes(h, k, m, b, bits),
            lambda d, s, e: K.bloom_add_var(d, s, e, seed, k, m, b, bits),
            lambda v: K.bloom_add_u64(v, seed, k, m, b, bits),
        )

    def contains_many(self, keys: Any) -> np.ndarray:
        """``contains`` of every key of a batch, as a bool array."""
        from .._kernels import bloom as K
        from ._common import batch_len

        keys, n = batch_len(keys)
        out = np.zeros(n, dtype=np.bool_)
        k, m, b, bits = np.int64(self.num_hash_functions), np.uint64(self._marg), np.int64(self.blocked), self._bits
        seed = np.uint64(self.seed)
        batch_call(
            keys, self.seed, "BloomFilter",
            lambda h: K.bloom_contains_hashes(h, k, m, b, bits, out),
            lambda d, s, e: K.bloom_contains_var(d, s, e, seed, k, m, b, bits, out),
            lambda v: K.bloom_contains_u64(v, seed, k, m, b, bits, out),
        )
        return out

    def _contains_hashes(self, hashes: np.ndarray) -> np.ndarray:
        from .._kernels import bloom as K

        out = np.zeros(hashes.shape[0], dtype=np.bool_)
        if hashes.shape[0]:
            K.bloom_contains_hashes(
                hashes, np.int64(self.num_hash_functions), np.uint64(self._marg),
                np.int64(self.blocked), self._bits, out,
            )
        return out

    # ------------------------------------------------------------ introspection

    @property
    def bits(self) -> np.ndarray:
        """The packed bit array (bit ``p`` is bit ``p % 64`` of word ``p // 64``)."""
        return self._bits

    @property
    def nbytes(self) -> int:
        return int(self._bits.nbytes)

    def bit_count(self) -> int:
        """Number of set bits."""
        return popcount(self._bits)

    @property
    def fill_ratio(self) -> float:
        """Fraction of bits set."""
        return self.bit_count() / self.size

    def approx_count(self) -> float:
        """Swamidass-Baldi estimate of the number of distinct keys added:
        ``-(m/k) ln(1 - X/m)`` for X set bits (``inf`` when every bit is set)."""
        x = self.bit_count()
        if x >= self.size:
            return math.inf
        return -self.size / self.num_hash_functions * math.log1p(-x / self.size)

    def estimated_false_positive_rate(self) -> float:
        """The false-positive rate of the filter as it is now, from its bits:
        ``fill^k`` (standard) or the mean of ``fill_block^k`` over blocks (blocked)."""
        k = self.num_hash_functions
        if self.blocked:
            words = self._bits.reshape(-1, 8)
            per_block = np.bitwise_count(words).sum(axis=1, dtype=np.int64) / _sizing.BLOCK_BITS
            return float(np.mean(per_block**k))
        return self.fill_ratio**k

    # ------------------------------------------------------------ set algebra

    def _check_compatible(self, other: Any) -> BloomFilter:
        if not isinstance(other, BloomFilter):
            raise IncompatibleError(f"cannot combine a BloomFilter with {type(other).__name__}")
        mine = (self.size, self.num_hash_functions, self.seed, self.blocked)
        theirs = (other.size, other.num_hash_functions, other.seed, other.blocked)
        if mine != theirs:
            raise IncompatibleError(
                "Bloom filters combine only with equal (size, num_hash_functions, seed, blocked): "
                f"{mine} vs {theirs}"
            )
        return other

    def copy(self) -> BloomFilter:
        """An independent (writable) copy."""
        bf = self._empty(self.size, self.num_hash_functions, self.seed, self.blocked, self._bits.copy())
        bf.capacity = self.capacity
        bf.target_false_positive_rate = self.target_false_positive_rate
        return bf

    def clear(self) -> None:
        """Remove every key."""
        self._check_writable()
        self._bits[:] = 0

    def union(self, other: BloomFilter) -> BloomFilter:
        """A filter of keys in either (equals adding both key sets to one filter)."""
        out = self.copy()
        out.update(other)
        return out

    def intersection(self, other: BloomFilter) -> BloomFilter:
        """Bitwise AND: contains every key added to both (its false-positive
        rate is at most either operand's)."""
        out = self.copy()
        out.intersection_update(other)
        return out

    def update(self, other: BloomFilter) -> None:
        """In-place union."""
        self._check_compatible(other)
        self._check_writable()
        np.bitwise_or(self._bits, other._bits, out=self._bits)

    def intersection_update(self, other: BloomFilter) -> None:
        self._check_compatible(other)
        self._check_writable()
        np.bitwise_and(self._bits, other._bits, out=self._bits)

    def __or__(self, other: BloomFilter) -> BloomFilter:
        return self.union(other)

    def __and__(self, other: BloomFilter) -> BloomFilter:
        return self.intersection(other)

    def __ior__(self, other: BloomFilter) -> BloomFilter:
        self.update(other)
        return self

    def __iand__(self, other: BloomFilter) -> BloomFilter:
        self.intersection_update(other)
        return self

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BloomFilter):
            return NotImplemented
        return (self.size, self.num_hash_functions, self.seed, self.blocked) == (
            other.size, other.num_hash_functions, other.seed, other.blocked,
        ) and bool(np.array_equal(self._bits, other._bits))

    __hash__ = None  # type: ignore[assignment]

    # ------------------------------------------------------------ display

    def _summary(self) -> list[tuple[str, Any]]:
        fill = self.fill_ratio
        rows: list[tuple[str, Any]] = [
            ("size (bits)", f"{self.size:,}"),
            ("num_hash_functions", self.num_hash_functions),
            ("layout", "blocked (512-bit)" if self.blocked else "standard"),
            ("seed", self.seed),
            ("memory", f"{self.nbytes:,} bytes"),
            ("fill ratio", f"{fill:.4f}"),
            ("approx. count", f"{self.approx_count():,.0f}"),
            ("est. false-positive rate", f"{self.estimated_false_positive_rate():.3g}"),
        ]
        if self.capacity is not None:
            rows.insert(0, ("capacity", f"{self.capacity:,} at {self.target_false_positive_rate:g}"))
        return rows

    def __repr__(self) -> str:
        extra = "" if self.capacity is None else f", capacity={self.capacity}"
        return (
            f"BloomFilter(size={self.size}, num_hash_functions={self.num_hash_functions}, "
            f"seed={self.seed}, blocked={self.blocked}{extra}, fill_ratio={self.fill_ratio:.4f}, "
            f"approx_count={self.approx_count():.0f})"
        )

    def _repr_html_(self) -> str:
        return html_table("BloomFilter", self._summary())

    # ------------------------------------------------------------ persistence

    def _to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray], int]:
        params = {
            "size": self.size,
            "num_hash_functions": self.num_hash_functions,
            "blocked": self.blocked,
            "capacity": self.capacity,
            "target_false_positive_rate": self.target_false_positive_rate,
        }
        return params, {"bits": self._bits}, self.seed

    @classmethod
    def _from_state(cls, container: Container) -> BloomFilter:
        return cls._from_parts(container.params, container.arrays, container.seed, "bits")

    @classmethod
    def _from_parts(cls, params: dict, arrays: dict, seed: int, name: str) -> BloomFilter:
        size = param(params, "size", int)
        k = param(params, "num_hash_functions", int)
        blocked = param(params, "blocked", bool)
        capacity = params.get("capacity")
        target = params.get("target_false_positive_rate")
        bits = arrays.get(name)
        if (
            size < 1 or not 1 <= k <= 1024
            or (blocked and size % _sizing.BLOCK_BITS)
            or bits is None or bits.dtype != np.uint64 or bits.shape != (-(-size // 64),)
            or not (capacity is None or (isinstance(capacity, int) and capacity >= 1))
            or not (target is None or (isinstance(target, float) and 0 < target < 1))
        ):
            raise SerializationError("the Bloom filter parameters or bit array are inconsistent")
        bf = cls._empty(size, k, seed, blocked, bits)
        bf.capacity = capacity
        bf.target_false_positive_rate = target
        return bf

