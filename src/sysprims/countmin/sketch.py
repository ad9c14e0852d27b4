"""Count-Min Sketch over a ``depth x width`` NumPy counter table."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from .._format import Container, Persistable
from .._html import html_table
from .._loadcheck import get_bool, get_choice, get_int, require
from .._memory import check_fits
from .._threads import check_threads
from .._validate import check_int, check_probability
from ..errors import IncompatibleError, InvalidParameterError
from ..hashing import check_seed, fmix64, hash128, kernel_keys
from ..keys import key_to_bytes

__all__ = ["CountMinSketch"]

_M64 = (1 << 64) - 1
_DTYPES = {"uint32": np.uint32, "uint64": np.uint64}


def _check_dtype(dtype: Any) -> str:
    try:
        name = np.dtype(dtype).name
    except TypeError:
        name = None
    if name not in _DTYPES:
        raise InvalidParameterError(f"dtype must be one of ['uint32', 'uint64'], got {dtype!r}")
    return name


def _cap(dtype_name: str) -> int:
    return int(np.iinfo(_DTYPES[dtype_name]).max)


def columns(h1: int, h2: int, depth: int, width: int) -> list[int]:
    """Columns of a key's counters, row by row: ``fmix64(h1 + r*h2 mod 2**64) *
    width >> 64``; the scalar twin of the kernels' positions."""
    return [(fmix64((h1 + r * h2) & _M64) * width) >> 64 for r in range(depth)]


def prepare_counts(counts: Any, n: int) -> tuple[np.ndarray, int]:
    """Counts as a uint64 array (empty = one per key) and their exact sum."""
    if counts is None:
        return np.zeros(0, dtype=np.uint64), n
    if isinstance(counts, (int, np.integer)) and not isinstance(counts, (bool, np.bool_)):
        c = check_int("counts", counts, min=0)
        if c > _M64:
            raise InvalidParameterError(f"counts must be <= 2**64 - 1, got {c}")
        return np.full(n, c, dtype=np.uint64), c * n
    arr = np.asarray(counts)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise InvalidParameterError(
            f"counts must be a 1-D array with one count per key ({n}), got shape {arr.shape}"
        )
    if n == 0:
        return np.zeros(0, dtype=np.uint64), 0
    if arr.dtype.kind not in "iu":
        raise InvalidParameterError(f"counts must hold integers, got dtype {arr.dtype}")
    if arr.dtype.kind == "i":
        low = int(arr.min())
        if low < 0:
            i = int(np.argmin(arr))
            raise InvalidParameterError(f"counts must be >= 0, got counts[{i}] = {low}")
    arr = np.ascontiguousarray(arr, dtype=np.uint64)
    top = int(arr.max())
    if top * n <= _M64:
        total = int(arr.sum(dtype=np.uint64))
    else:
        total = sum(int(c) for c in arr.tolist())
    return arr, total


class CountMinSketch(Persistable):
    """Count-Min Sketch: estimates how often each key occurred in a stream.

    ``query`` never underestimates; with probability at least ``1 - delta`` it
    overestimates by at most ``epsilon * total``, where ``epsilon = e / width``
    and ``delta = exp(-depth)``.

    Parameters
    ----------
    width, depth:
        Counters per row and number of rows (hash functions).
    seed:
        uint32 MurmurHash3 seed; sketches merge only with equal seeds.
    dtype:
        ``"uint32"`` (default) or ``"uint64"`` counters; both saturate at their
        maximum instead of wrapping.
    conservative:
        Conservative update: raise only the counters that are below the new
        estimate. Smaller errors, still never an underestimate, but the table is
        no longer a sum of per-partition tables, so it merges only with other
        conservative sketches, never into a standard one.
    """

    _KIND: ClassVar[str] = "count_min"

    def __init__(
        self,
        width: int,
        depth: int,
        *,
        seed: int = 0,
        dtype: Any = "uint32",
        conservative: bool = False,
    ):
        self.width = check_int("width", width, min=1, max=1 << 40)
        self.depth = check_int("depth", depth, min=1, max=4096)
        self.seed = check_seed(seed)
        self.dtype = _check_dtype(dtype)
        if not isinstance(conservative, (bool, np.bool_)):
            raise InvalidParameterError(f"conservative must be a bool, got {conservative!r}")
        self.conservative = bool(conservative)
        check_fits(
            f"a CountMinSketch of width={self.width} x depth={self.depth} {self.dtype} counters",
            self.width * self.depth * np.dtype(_DTYPES[self.dtype]).itemsize,
        )
        self.table = np.zeros((self.depth, self.width), dtype=_DTYPES[self.dtype])
        self.total = 0
        self._cap = _cap(self.dtype)

    # ------------------------------------------------------------ construction

    @classmethod
    def from_error(
        cls,
        epsilon: float,
        delta: float,
        *,
        seed: int = 0,
        dtype: Any = "uint32",
        conservative: bool = False,
    ) -> CountMinSketch:
        """A sketch whose error is at most ``epsilon * total`` with probability
        ``1 - delta``: width = ceil(e / epsilon), depth = ceil(ln(1 / delta))."""
        epsilon = check_probability("epsilon", epsilon)
        delta = check_probability("delta", delta)
        width = math.ceil(math.e / epsilon)
        depth = max(1, math.ceil(math.log(1.0 / delta)))
        return cls(width, depth, seed=seed, dtype=dtype, conservative=conservative)

    def copy(self) -> CountMinSketch:
        new = type(self).__new__(type(self))
        new.__dict__.update(self.__dict__)
        new.table = self.table.copy()
        return new

    # ----------------------------------------------------------------- scalar

    def _columns(self, item: Any) -> list[int]:
        h1, h2 = hash128(item, self.seed)
        return columns(h1, h2, self.depth, self.width)

    def _writable(self) -> None:
        if not self.table.flags.writeable:  # loaded with mmap=True: copy on first write
            self.table = self.table.copy()

    def update(self, item: Any, count: int = 1) -> None:
        """Add ``count`` (an int >= 0) occurrences of ``item``."""
        count = check_int("count", count, min=0)
        cols = self._columns(item)
        self._writable()
        table, cap = self.table, self._cap
        if self.conservative:
            est = min(int(table[r, j]) for r, j in enumerate(cols))
            target = min(est + count, cap)
            for r, j in enumerate(cols):
                if table[r, j] < target:
                    table[r, j] = target
        else:
            for r, j in enumerate(cols):
                table[r, j] = min(int(table[r, j]) + count, cap)
        self.total += count

    def query(self, item: Any) -> int:
        """Estimated count of ``item``: never below the true count."""
        table = self.table
        return min(int(table[r, j]) for r, j in enumerate(self._columns(item)))

    def top_k(self, items: Any, k: int) -> list[tuple[Any, int]]:
        """The ``k`` items of ``items`` with the largest estimates, as
        ``(item, estimate)`` pairs, largest first.

        Duplicates in ``items`` count once (the first occurrence is returned);
        ties keep the order of first occurrence, so the answer is deterministic.
        """
        k = check_int("k", k, min=0)
        unique: dict[bytes, Any] = {}
        for item in items:
            unique.setdefault(key_to_bytes(item), item)
        if not unique:
            return []
        keys = list(unique.values())
        est = self.query_many(list(unique.keys()))
        values = est.tolist()
        order = sorted(range(len(values)), key=lambda i: -values[i])  # stable
        return [(keys[i], values[i]) for i in order[:k]]

    # ------------------------------------------------------------------ batch

    def update_many(self, keys: Any, counts: Any = None) -> None:
        """Add every key (``counts[i]`` times, or once): exactly the loop of
        :meth:`update`, duplicates included. Accepts every key-batch form and
        :class:`~sysprims.HashedKeys`. Serial (parallel counter writes would
        lose updates)."""
        from .._kernels.countmin import cms_update

        kk = kernel_keys(keys, self.seed, "sketch")
        c, total = prepare_counts(counts, kk.n)
        if kk.n == 0:
            return
        self._writable()
        cms_update(
            np.int64(kk.mode), kk.hashes, kk.ints, kk.data, kk.starts, kk.ends, np.uint64(self.seed),
            self.table, c, np.uint64(self._cap), self.conservative,
        )
        self.total += total

    def query_many(self, keys: Any, *, threads: int = 1) -> np.ndarray:
        """Estimates of every key: int64 (uint64 for ``dtype="uint64"``).

        ``threads > 1`` queries that many contiguous slices at once (the kernel
        releases the GIL); the answer is identical to the serial one. It pays
        from about 100k keys."""
        from .._kernels.countmin import cms_query
        from .._threads import run_read_kernel

        threads = check_threads(threads)
        kk = kernel_keys(keys, self.seed, "sketch")
        out = np.empty(kk.n, dtype=np.int64 if self.dtype == "uint32" else np.uint64)
        run_read_kernel(cms_query, kk, out, threads, (self.table,))
        return out

    # ---------------------------------------------------------------- guarantees

    @property
    def epsilon(self) -> float:
        """Relative error: e / width."""
        return math.e / self.width

    @property
    def delta(self) -> float:
        """Failure probability of the bound: exp(-depth)."""
        return math.exp(-self.depth)

    def error_bound(self) -> float:
        """epsilon * total: with probability >= 1 - delta, a key's estimate
        exceeds its true count by at most this much."""
        return self.epsilon * self.total

    # ------------------------------------------------------------------ merge

    def _check_compatible(self, other: Any) -> None:
        if not isinstance(other, CountMinSketch):
            raise IncompatibleError(f"can only merge a CountMinSketch, got {type(other).__name__}")
        mine = (self.width, self.depth, self.seed, self.dtype)
        theirs = (other.width, other.depth, other.seed, other.dtype)
        if mine != theirs:
            raise IncompatibleError(
                "sketches differ in (width, depth, seed, dtype): "
                f"{mine} vs {theirs}; only identical sketches merge"
            )
        if self.conservative != other.conservative:
            raise IncompatibleError(
                "a conservative-update sketch cannot be merged with a standard one "
                "(its counters are not a sum of per-partition counters)"
            )

    def merge(self, other: CountMinSketch) -> CountMinSketch:
        """Add ``other``'s counts into this sketch (in place); returns self."""
        from .._kernels.countmin import cms_add

        self._check_compatible(other)
        self._writable()
        cms_add(self.table, other.table, np.uint64(self._cap))
        self.total += other.total
        return self

    def __add__(self, other: Any) -> CountMinSketch:
        if not isinstance(other, CountMinSketch):
            return NotImplemented
        return self.copy().merge(other)

    def __iadd__(self, other: Any) -> CountMinSketch:
        if not isinstance(other, CountMinSketch):
            return NotImplemented
        return self.merge(other)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CountMinSketch):
            return NotImplemented
        return (
            (self.width, self.depth, self.seed, self.dtype, self.conservative, self.total)
            == (other.width, other.depth, other.seed, other.dtype, other.conservative, other.total)
            and bool(np.array_equal(self.table, other.table))
        )

    __hash__ = None  # type: ignore[assignment]

    # ------------------------------------------------------------ persistence

    def _params(self) -> dict[str, Any]:
        return {
            "width": self.width,
            "depth": self.depth,
            "dtype": self.dtype,
            "conservative": self.conservative,
            "total": self.total,
        }

    def _to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray], int]:
        return self._params(), {"table": self.table}, self.seed

    @classmethod
    def _restore(cls, params: dict[str, Any], table: Any, seed: int) -> CountMinSketch:
        """A sketch from saved parameters and table, checked before anything is allocated."""
        width = get_int(params, "width", min=1, max=1 << 40)
        depth = get_int(params, "depth", min=1, max=4096)
        dtype = get_choice(params, "dtype", tuple(_DTYPES))
        conservative = get_bool(params, "conservative")
        total = get_int(params, "total", min=0)
        require(
            isinstance(table, np.ndarray) and table.shape == (depth, width) and table.dtype == _DTYPES[dtype],
            "the countmin table does not match its parameters",
        )
        sk = cls.__new__(cls)
        sk.width, sk.depth, sk.seed, sk.dtype, sk.conservative = width, depth, check_seed(seed), dtype, conservative
        sk.table = table
        sk.total = total
        sk._cap = _cap(dtype)
        return sk

    @classmethod
    def _from_state(cls, container: Container) -> CountMinSketch:
        return cls._restore(container.params, container.arrays.get("table"), container.seed)

    # ----------------------------------------------------------------- display

    def fill(self) -> float:
        """Fraction of counters that are non-zero."""
        return float(np.count_nonzero(self.table)) / self.table.size

    def __repr__(self) -> str:
        cons = ", conservative=True" if self.conservative else ""
        return (
            f"CountMinSketch(width={self.width}, depth={self.depth}, seed={self.seed}, "
            f"dtype={self.dtype!r}{cons}; total={self.total}, epsilon={self.epsilon:.3g}, "
            f"delta={self.delta:.3g})"
        )

    def _repr_html_(self) -> str:
        return html_table(
            "CountMinSketch",
            [
                ("width x depth", f"{self.width} x {self.depth}"),
                ("counters", f"{self.dtype}, saturating"),
                ("update", "conservative" if self.conservative else "standard"),
                ("seed", self.seed),
                ("total (N)", f"{self.total:,}"),
                ("epsilon = e / width", f"{self.epsilon:.4g}"),
                ("delta = exp(-depth)", f"{self.delta:.4g}"),
                ("error bound (epsilon N)", f"{self.error_bound():,.1f} with prob. {1 - self.delta:.4g}"),
                ("fill", f"{self.fill():.1%}"),
                ("memory", f"{self.table.nbytes:,} bytes"),
            ],
        )

