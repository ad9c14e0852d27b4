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
from .._loadcheck import get_array, get_bool, get_float, get_int, require
from .._memory import CACHE_LINE, aligned_copy, check_fits, count, zeros
from .._threads import check_threads, run_read_kernel
from .._validate import check_int, check_probability
from ..errors import IncompatibleError, InvalidParameterError
from ..hashing import check_seed, kernel_keys
from ..keys import key_to_bytes
from . import _sizing, _writes
from ._common import ReadOnlyFilterError, popcount

__all__ = ["BloomFilter"]

_K: Any = None
_NO_U64 = np.zeros(0, dtype=np.uint64)
_NO_I64 = np.zeros(0, dtype=np.int64)
_NO_U8 = np.zeros(0, dtype=np.uint8)
_LAYOUT_IDS = {"standard": 0, "blocked": 1, "split_block": 2}
_LAYOUT_LABELS = {"standard": "standard", "blocked": "blocked (512-bit)", "split_block": "split-block (8 x 64-bit words)"}


def _layout_of(blocked: Any, layout: Any) -> str:
    """The layout name from the ``blocked`` flag and the ``layout`` argument."""
    if layout is None:
        return "blocked" if blocked else "standard"
    if layout not in _LAYOUT_IDS:
        raise InvalidParameterError(f"layout must be one of {sorted(_LAYOUT_IDS)}, got {layout!r}")
    if blocked and layout == "standard":
        raise InvalidParameterError("blocked=True contradicts layout='standard'")
    return str(layout)


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
    line); ``size`` must then be a multiple of 512. ``layout="split_block"``
    is a split-block filter (as Parquet's SBBF): one 512-bit block per key and
    exactly one bit in each of its eight 64-bit words (``num_hash_functions``
    must be 8); the fastest layout for large filters.
    """

    _KIND = "bloom"

    def __init__(
        self, size: int, num_hash_functions: int, *, seed: int = 0, blocked: bool = False, layout: str | None = None
    ):
        _sizing.capacity_call_hint("BloomFilter", size, num_hash_functions)
        size = check_int("size", size, min=1)
        k = check_int("num_hash_functions", num_hash_functions, min=1, max=1024)
        seed = check_seed(seed)
        layout = _layout_of(blocked, layout)
        if layout != "standard" and size % _sizing.BLOCK_BITS:
            raise InvalidParameterError(
                f"size must be a multiple of {_sizing.BLOCK_BITS} with layout={layout!r}, got {size}"
            )
        if layout == "split_block" and k != _sizing.SPLIT_K:
            raise InvalidParameterError(
                f"a split-block filter sets one bit in each of {_sizing.SPLIT_K} words: "
                f"num_hash_functions must be {_sizing.SPLIT_K}, got {k}"
            )
        bits = zeros(f"a BloomFilter of size={size} bits", -(-size // 64), np.uint64)
        self._init(size, k, seed, layout, bits)

    def _init(self, size: int, k: int, seed: int, layout: str, bits: np.ndarray) -> None:
        self.size = size
        self.num_hash_functions = k
        self.seed = seed
        #: "standard", "blocked" or "split_block"; ``blocked`` is True for both one-block layouts.
        self.layout = layout
        blocked = self.blocked = layout != "standard"
        self.capacity: int | None = None
        self.target_false_positive_rate: float | None = None
        self._bits = bits
        self._add_one: Any = None  # scalar entry points, bound on first use
        self._contains_one: Any = None
        self._marg = size // _sizing.BLOCK_BITS if blocked else size
        self._writable = bool(bits.flags.writeable)
        self._k = np.int64(k)
        self._mu = np.uint64(self._marg)
        self._b = np.int64(_LAYOUT_IDS[layout])

    @classmethod
    def _empty(cls, size: int, k: int, seed: int, layout: str, bits: np.ndarray) -> BloomFilter:
        obj = cls.__new__(cls)
        obj._init(size, k, seed, layout, bits)
        return obj

    # ------------------------------------------------------------ construction

    @classmethod
    def for_capacity(
        cls, capacity: int, false_positive_rate: float, *, seed: int = 0, blocked: bool = False,
        layout: str | None = None,
    ) -> BloomFilter:
        """A filter for ``capacity`` keys at ``false_positive_rate``.

        Standard layout: m = -n ln p / (ln 2)^2 bits (rounded up to whole
        64-bit words) and k = round(m/n ln 2). Blocked layout: the fewest
        512-bit blocks (and the best k) whose exact expected rate at capacity is
        at most 95% of the target. Split-block layout: the fewest 512-bit
        blocks whose exact expected rate (Poisson block loads, one bit per
        64-bit word) is at most 95% of the target.
        """
        capacity = check_int("capacity", capacity, min=1)
        p = check_probability("false_positive_rate", false_positive_rate)
        layout = _layout_of(blocked, layout)
        if layout == "split_block":
            nblocks = _sizing.split_size(capacity, p)
            bf = cls(nblocks * _sizing.BLOCK_BITS, _sizing.SPLIT_K, seed=seed, layout=layout)
        elif layout == "blocked":
            nblocks, k = _sizing.blocked_size(capacity, p)
            bf = cls(nblocks * _sizing.BLOCK_BITS, k, seed=seed, blocked=True)
        else:
            m = _sizing.optimal_bits(capacity, p)
            check_fits(
                f"BloomFilter.for_capacity(capacity={count(capacity)}, false_positive_rate={p}): {count(m)} bits",
                -(-m // 64) * 8,
            )
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
        if self.layout == "split_block":
            return _sizing.split_fpr(n, self._marg) if n else 0.0
        if self.blocked:
            return _sizing.blocked_fpr(n, self._marg, self.num_hash_functions) if n else 0.0
        return _sizing.standard_fpr(self.size, self.num_hash_functions, n)

    # ------------------------------------------------------------ batch API

    def add_many(self, keys: Any, *, threads: int = 1) -> None:
        """Add every key of a batch (any key form, or :class:`~sysprims.hashing.HashedKeys`).

        Identical to calling :meth:`add` on each key in order. ``threads > 1``
        splits the filter, not the batch: each thread owns a contiguous part of
        the filter's words, walks the whole batch and sets only the bits in its
        part, so no word has two writers and no bit is lost (the bits equal the
        serial call's). It pays on a filter beyond the caches with a core to
        spare; each thread hashes the whole batch again unless it comes hashed
        (:class:`~sysprims.hashing.HashedKeys`).
        """
        threads = check_threads(threads)
        self._check_writable()
        kk = kernel_keys(keys, self.seed, "BloomFilter")
        bucketed = _writes.use_bucketed(self.layout, self.nbytes, kk.n, self.num_hash_functions)
        _writes.add_batch(_kernels(), kk, threads, bucketed, (self._k, self._mu, self._b), self._bits)

    def contains_many(self, keys: Any, *, threads: int = 1) -> np.ndarray:
        """``contains`` of every key of a batch, as a bool array.

        ``threads > 1`` splits the batch into that many contiguous slices
        queried at once (the kernel releases the GIL); the answer is identical
        to the serial one. It pays from about 100k keys on a filter beyond the
        caches; below that thread start-up dominates.
        """
        threads = check_threads(threads)
        kk = kernel_keys(keys, self.seed, "BloomFilter")
        out = np.empty(kk.n, dtype=np.bool_)  # the kernel writes every element
        run_read_kernel(
            _kernels().bloom_contains, kk, out, threads,
            (self._k, self._mu, self._b, self._bits),
        )
        return out

    def _contains_hashes(self, hashes: np.ndarray) -> np.ndarray:
        out = np.empty(hashes.shape[0], dtype=np.bool_)
        if hashes.shape[0]:
            _kernels().bloom_contains(
                np.int64(0), hashes, _NO_U64, _NO_U8, _NO_I64, _NO_I64, np.uint64(self.seed),
                self._k, self._mu, self._b, self._bits, out,
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
        if x == 0:
            return 0.0  # not -0.0
        return -self.size / self.num_hash_functions * math.log1p(-x / self.size)

    def estimated_false_positive_rate(self) -> float:
        """The false-positive rate of the filter as it is now, from its bits:
        ``fill^k`` (standard) or the mean of ``fill_block^k`` over blocks (blocked)."""
        k = self.num_hash_functions
        if self.layout == "split_block":  # a query hits one bit in each of 8 words
            fill = np.bitwise_count(self._bits.reshape(-1, 8)) / 64.0
            return float(np.mean(np.prod(fill, axis=1)))
        if self.blocked:
            words = self._bits.reshape(-1, 8)
            per_block = np.bitwise_count(words).sum(axis=1, dtype=np.int64) / _sizing.BLOCK_BITS
            return float(np.mean(per_block**k))
        return self.fill_ratio**k

    # ------------------------------------------------------------ set algebra

    def _check_compatible(self, other: Any) -> BloomFilter:
        if not isinstance(other, BloomFilter):
            raise IncompatibleError(f"cannot combine a BloomFilter with {type(other).__name__}")
        mine = (self.size, self.num_hash_functions, self.seed, self.layout)
        theirs = (other.size, other.num_hash_functions, other.seed, other.layout)
        if mine != theirs:
            raise IncompatibleError(
                "Bloom filters combine only with equal (size, num_hash_functions, seed, layout): "
                f"{mine} vs {theirs}"
            )
        return other

    def copy(self) -> BloomFilter:
        """An independent (writable) copy."""
        bits = aligned_copy(f"a copy of a BloomFilter of size={self.size} bits", self._bits)
        bf = self._empty(self.size, self.num_hash_functions, self.seed, self.layout, bits)
        bf.capacity = self.capacity
        bf.target_false_positive_rate = self.target_false_positive_rate
        return bf

    def clear(self) -> None:
        """Remove every key."""
        self._check_writable()
        self._bits[:] = 0

    # The set API follows Python's ``set`` (and rbloom): ``update``, ``union``,
    # ``intersection`` and their in-place twins take any number of arguments,
    # each a compatible BloomFilter (combined bitwise) or an iterable of keys
    # (added as one batch through ``add_many``).

    def _filters_of(self, others: tuple[Any, ...]) -> list[BloomFilter]:
        """Every argument as a compatible filter (key batches become filters with
        this one's parameters), checked before any is applied."""
        out = []
        for other in others:
            if isinstance(other, BloomFilter):
                out.append(self._check_compatible(other))
            else:
                bits = zeros(f"a BloomFilter of size={self.size} bits", self._bits.shape[0], np.uint64)
                tmp = self._empty(self.size, self.num_hash_functions, self.seed, self.layout, bits)
                tmp.add_many(other)
                out.append(tmp)
        return out

    def update(self, *others: Any) -> None:
        """Add every key of each argument: a compatible BloomFilter is OR-ed in,
        anything else is a batch (or iterable) of keys given to :meth:`add_many`.
        ``bf.update(keys)`` equals ``bf.add_many(keys)``."""
        self._check_writable()
        for other in others:
            if isinstance(other, BloomFilter):
                self._check_compatible(other)
        for other in others:
            if isinstance(other, BloomFilter):
                np.bitwise_or(self._bits, other._bits, out=self._bits)
            else:
                self.add_many(other)

    def merge(self, other: BloomFilter) -> BloomFilter:
        """OR ``other`` into this filter (in place), as the sketches' ``merge``;
        returns self. Raises :class:`~sysprims.errors.IncompatibleError` unless
        size, num_hash_functions, seed and layout are equal."""
        self._check_compatible(other)
        self._check_writable()
        np.bitwise_or(self._bits, other._bits, out=self._bits)
        return self

    def intersection_update(self, *others: Any) -> None:
        """Keep only keys present in every argument (bitwise AND; a key batch is
        first built into a filter with this one's parameters)."""
        filters = self._filters_of(others)
        self._check_writable()
        for other in filters:
            np.bitwise_and(self._bits, other._bits, out=self._bits)

    def union(self, *others: Any) -> BloomFilter:
        """A filter of keys in this one or any argument (equals adding every key
        set to one filter)."""
        out = self.copy()
        out.update(*others)
        return out

    def intersection(self, *others: Any) -> BloomFilter:
        """Bitwise AND with every argument: contains every key added to all (its
        false-positive rate is at most any operand's)."""
        out = self.copy()
        out.intersection_update(*others)
        return out

    def issubset(self, other: BloomFilter) -> bool:
        """True when every bit set here is set in ``other`` (so every key added
        here is reported by ``other``); ``self <= other``."""
        self._check_compatible(other)
        return not bool(np.any(self._bits & ~other._bits))

    def issuperset(self, other: BloomFilter) -> bool:
        """``other.issubset(self)``; ``self >= other``."""
        return self._check_compatible(other).issubset(self)

    def __bool__(self) -> bool:
        """False for an empty filter (no bit set), as an empty ``set``."""
        return bool(np.any(self._bits))

    def __le__(self, other: Any) -> bool:
        return self.issubset(other) if isinstance(other, BloomFilter) else NotImplemented

    def __ge__(self, other: Any) -> bool:
        return self.issuperset(other) if isinstance(other, BloomFilter) else NotImplemented

    def __lt__(self, other: Any) -> bool:
        if not isinstance(other, BloomFilter):
            return NotImplemented
        return self.issubset(other) and not np.array_equal(self._bits, other._bits)

    def __gt__(self, other: Any) -> bool:
        if not isinstance(other, BloomFilter):
            return NotImplemented
        return self.issuperset(other) and not np.array_equal(self._bits, other._bits)

    def __or__(self, other: BloomFilter) -> BloomFilter:
        return self.union(self._check_compatible(other))

    def __and__(self, other: BloomFilter) -> BloomFilter:
        return self.intersection(self._check_compatible(other))

    def __ior__(self, other: BloomFilter) -> BloomFilter:
        self.update(self._check_compatible(other))
        return self

    def __iand__(self, other: BloomFilter) -> BloomFilter:
        self.intersection_update(self._check_compatible(other))
        return self

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BloomFilter):
            return NotImplemented
        return (self.size, self.num_hash_functions, self.seed, self.layout) == (
            other.size, other.num_hash_functions, other.seed, other.layout,
        ) and bool(np.array_equal(self._bits, other._bits))

    __hash__ = None  # type: ignore[assignment]

    # ------------------------------------------------------------ display

    def _summary(self) -> list[tuple[str, Any]]:
        fill = self.fill_ratio
        rows: list[tuple[str, Any]] = [
            ("size (bits)", f"{self.size:,}"),
            ("num_hash_functions", self.num_hash_functions),
            ("layout", _LAYOUT_LABELS[self.layout]),
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
            f"seed={self.seed}, layout={self.layout!r}{extra}, fill_ratio={self.fill_ratio:.4f}, "
            f"approx_count={self.approx_count():.0f})"
        )

    def _repr_html_(self) -> str:
        return html_table("BloomFilter", self._summary())

    # ------------------------------------------------------------ persistence

    def _to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray], int]:
        params: dict[str, Any] = {
            "size": self.size,
            "num_hash_functions": self.num_hash_functions,
            "blocked": self.blocked,
            "capacity": self.capacity,
            "target_false_positive_rate": self.target_false_positive_rate,
        }
        if self.layout == "split_block":
            # A new layout id, and its bits under a new array name, so a reader
            # that predates it refuses the file instead of probing it as "blocked".
            params["layout"] = "split_block"
            return params, {"split_block_bits": self._bits}, self.seed
        return params, {"bits": self._bits}, self.seed

    @classmethod
    def _from_state(cls, container: Container) -> BloomFilter:
        return cls._from_parts(container.params, container.arrays, container.seed, "bits")

    @classmethod
    def _from_parts(cls, params: dict, arrays: dict, seed: int, name: str) -> BloomFilter:
        size = get_int(params, "size", min=1)
        k = get_int(params, "num_hash_functions", min=1, max=1024)
        blocked = get_bool(params, "blocked")
        capacity = get_int(params, "capacity", min=1, optional=True)
        target = get_float(
            params, "target_false_positive_rate", min=0.0, max=1.0, min_inclusive=False, max_inclusive=False,
            optional=True,
        )
        layout = params.get("layout", "blocked" if blocked else "standard")
        require(layout in _LAYOUT_IDS, f"unknown Bloom filter layout {layout!r}")
        require(layout != "split_block" or (blocked and k == _sizing.SPLIT_K),
                "a split-block filter is blocked with num_hash_functions == 8")
        require(not blocked or size % _sizing.BLOCK_BITS == 0, f"a blocked filter's size must be a multiple of 512, got {size}")
        if layout == "split_block":
            name = "split_block_bits" if name == "bits" else f"split_block_{name}"
        bits = get_array(arrays, name, np.uint64, (-(-size // 64),))
        if bits.flags.writeable and bits.ctypes.data % CACHE_LINE:
            # A loaded copy starts where NumPy put it; a block must not straddle
            # two cache lines (a read-only mapped file is aligned by the format).
            bits = aligned_copy(f"a BloomFilter of size={size} bits", bits)
        bf = cls._empty(size, k, seed, layout, bits)
        bf.capacity = capacity
        bf.target_false_positive_rate = target
        return bf
