"""Streaming top-K heavy hitters over a Count-Min sketch."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from .._format import Container, Persistable
from .._html import html_table
from .._loadcheck import get_array, get_int, refusing, require, require_budget
from .._memory import check_fits
from .._validate import check_int
from ..errors import IncompatibleError, InvalidParameterError, KeyTypeError
from ..hashing import HASHES, HashedKeys, KernelKeys, hash128, kernel_keys, murmur3_128
from ..keys import key_to_bytes
from ._candidates import candidate_arrays
from ._keycodec import decode_keys, encode_keys
from .sketch import CountMinSketch, prepare_counts

__all__ = ["HeavyHitters", "TopK"]


class TopK(Persistable):
    """The ``k`` heaviest keys of a stream, tracked over a Count-Min sketch.

    Every key updates the sketch; a key whose estimate beats the smallest of
    the current candidates (``candidates``, default ``2 * k``: the extra ones
    keep keys near the k-th place counted exactly) replaces it (a min-heap plus a hash index keep
    that O(log k)). A candidate's estimate is the sketch's estimate when it
    entered plus its exact count since, so keys that entered early are counted
    nearly exactly. Because the sketch keeps counting evicted keys, a heavy key
    that arrives late or is evicted early re-enters with its full estimate. Keys come back as the user gave them (the first object seen
    since the key last entered the candidate set).

    Candidates are identified by their 128-bit MurmurHash3, so ``"a"`` and
    ``b"a"`` are one key, as everywhere in sysprims.
    """

    _KIND: ClassVar[str] = "top_k"

    def __init__(
        self,
        k: int,
        width: int,
        depth: int,
        *,
        seed: int = 0,
        dtype: Any = "uint32",
        candidates: int | None = None,
    ):
        self.k = check_int("k", k, min=1, max=1 << 24)
        if candidates is None:
            candidates = 2 * self.k
        self.capacity = check_int("candidates", candidates, min=self.k, max=1 << 25)
        check_fits(f"a TopK of candidates={self.capacity}", 96 * self.capacity)
        self.sketch = CountMinSketch(width, depth, seed=seed, dtype=dtype)
        self._reset([], [], [], [])

    @classmethod
    def from_error(
        cls,
        k: int,
        epsilon: float,
        delta: float,
        *,
        seed: int = 0,
        dtype: Any = "uint32",
        candidates: int | None = None,
    ) -> TopK:
        """Size the sketch as :meth:`CountMinSketch.from_error` does."""
        sk = CountMinSketch.from_error(epsilon, delta, seed=seed, dtype=dtype)
        return cls(k, sk.width, sk.depth, seed=seed, dtype=dtype, candidates=candidates)

    @property
    def seed(self) -> int:
        return self.sketch.seed

    @property
    def total(self) -> int:
        return self.sketch.total

    # ------------------------------------------------------------------ state

    def _reset(self, h1s: list[int], h2s: list[int], ests: list[int], keys: list[Any]) -> None:
        """Rebuild the candidate arrays with candidate ``i`` in slot ``i``."""
        self._h1, self._h2, self._est, self._src, self._heap, self._pos, self._index = candidate_arrays(
            self.capacity, h1s, h2s, ests
        )
        m = len(h1s)
        # A list sorted by (est, slot) is a valid min-heap for that order.
        order = sorted(range(m), key=lambda s: (ests[s], s))
        self._heap[:m] = order
        for i, s in enumerate(order):
            self._pos[s] = i
        mask = self._index.shape[0] - 1
        for s in range(m):
            p = h1s[s] & mask
            while self._index[p] != 0:
                p = (p + 1) & mask
            self._index[p] = s + 1
        self._meta = np.array([m], dtype=np.int64)
        self._keys: list[Any] = list(keys) + [None] * (self.capacity - m)

    def _state_args(self) -> tuple:
        return (self._h1, self._h2, self._est, self._src, self._heap, self._pos, self._index, self._meta)

    def __len__(self) -> int:
        return int(self._meta[0])

    # ----------------------------------------------------------------- updates

    def update(self, key: Any, count: int = 1) -> None:
        """Count ``key`` ``count`` times (an int >= 0)."""
        count = check_int("count", count, min=0)
        h1, h2 = hash128(key, self.seed)
        c = np.array([min(count, (1 << 64) - 1)], dtype=np.uint64)
        self._run(KernelKeys(HASHES, 1, self.seed, hashes=np.array([[h1, h2]], dtype=np.uint64)), c, [key])
        self.sketch.total += count

    def update_many(self, keys: Any, counts: Any = None, *, hashed: HashedKeys | None = None) -> None:
        """Count every key (``counts[i]`` times, or once); exactly the loop of
        :meth:`update`. ``hashed`` may carry the keys' :func:`~sysprims.hash_keys`
        to skip hashing; the keys themselves are still needed, to be returned."""
        if isinstance(keys, HashedKeys):
            raise KeyTypeError(
                "TopK returns keys as you gave them, so it needs the keys: "
                "call update_many(keys, hashed=hash_keys(keys, seed))"
            )
        if not isinstance(keys, (list, tuple, np.ndarray)) and not type(keys).__module__.startswith(
            ("pyarrow", "pandas")
        ):
            keys = list(keys)  # an iterator would be consumed by hashing
        if hashed is not None:
            if not isinstance(hashed, HashedKeys):
                raise InvalidParameterError(f"hashed must be HashedKeys, got {type(hashed).__name__}")
            if len(hashed) != len(keys):
                raise InvalidParameterError(
                    f"hashed holds {len(hashed)} hashes but keys holds {len(keys)} keys"
                )
        kk = kernel_keys(keys if hashed is None else hashed, self.seed, "top-K tracker")
        c, total = prepare_counts(counts, kk.n)
        if kk.n == 0:
            return
        self._run(kk, c, keys)
        self.sketch.total += total

    def _run(self, kk: Any, counts: np.ndarray, keys: Any) -> None:
        from .._kernels.countmin import topk_update

        sk = self.sketch
        sk._writable()
        topk_update(
            np.int64(kk.mode), kk.hashes, kk.ints, kk.data, kk.starts, kk.ends, np.uint64(sk.seed),
            sk.table, counts, np.uint64(sk._cap), *self._state_args(),
        )
        entered = np.flatnonzero(self._src >= 0)
        if entered.size:
            for s, i in zip(entered.tolist(), self._src[entered].tolist(), strict=True):
                self._keys[s] = _pick(keys, i)
            self._src[entered] = -1

    # ----------------------------------------------------------------- answers

    def _ranked(self) -> list[tuple[int, int, int, int]]:
        """(value, h1, h2, slot) of the candidates, heaviest first, ties by hash."""
        m = len(self)
        rows = zip(self._est[:m].tolist(), self._h1[:m].tolist(), self._h2[:m].tolist(), range(m), strict=True)
        return sorted(rows, key=lambda r: (-r[0], r[1], r[2]))

    def top(self, n: int | None = None) -> list[tuple[Any, int]]:
        """The ``n`` (default ``k``) heaviest candidates as ``(key, estimate)``
        pairs, heaviest first (ties by hash); ``n`` may go up to ``candidates``.

        A candidate's estimate is the sketch's estimate when it last entered the
        candidate set plus its exact count since: never below the true count,
        never above :meth:`query`, and nearly exact for keys that entered early."""
        n = self.k if n is None else check_int("n", n, min=0)
        return [(self._keys[s], est) for est, _h1, _h2, s in self._ranked()[:n]]

    def query(self, key: Any) -> int:
        """The sketch's estimate of any key (candidate or not)."""
        return self.sketch.query(key)

    def query_many(self, keys: Any) -> np.ndarray:
        return self.sketch.query_many(keys)

    # ------------------------------------------------------------------ merge

    def merge(self, other: TopK) -> TopK:
        """Combine another tracker's counts and candidates (in place); returns self.

        The sketches add; the candidates are the union of both sets, re-ranked
        by the merged sketch's estimates, the ``k`` heaviest kept."""
        if not isinstance(other, TopK):
            raise IncompatibleError(f"can only merge a TopK, got {type(other).__name__}")
        if (self.k, self.capacity) != (other.k, other.capacity):
            raise IncompatibleError(
                f"trackers differ in (k, candidates): {(self.k, self.capacity)} vs "
                f"{(other.k, other.capacity)}"
            )
        self.sketch._check_compatible(other.sketch)
        sides = []
        cands: dict[tuple[int, int], Any] = {}
        for src in (self, other):
            m = len(src)
            pairs = list(zip(src._h1[:m].tolist(), src._h2[:m].tolist(), strict=True))
            sides.append(dict(zip(pairs, src._est[:m].tolist(), strict=True)))
            for pair, key in zip(pairs, src._keys[:m], strict=True):
                cands.setdefault(pair, key)
        pairs = list(cands)
        hashed = HashedKeys(np.array(pairs, dtype=np.uint64).reshape(-1, 2), self.seed)
        # each side contributes its candidate value, or else its sketch estimate:
        # both bound that side's true count from above, so their sum does too
        parts = [
            [side.get(p, int(e)) for p, e in zip(pairs, src.sketch.query_many(hashed).tolist(), strict=True)]
            for side, src in zip(sides, (self, other), strict=True)
        ]
        self.sketch.merge(other.sketch)
        merged_est = self.sketch.query_many(hashed).tolist()
        values = [min(a + b, e) for a, b, e in zip(parts[0], parts[1], merged_est, strict=True)]
        ranked = sorted(zip(values, pairs, strict=True), key=lambda r: (-r[0], r[1]))[: self.capacity]
        self._reset(
            [p[0] for _v, p in ranked],
            [p[1] for _v, p in ranked],
            [v for v, _p in ranked],
            [cands[p] for _v, p in ranked],
        )
        return self

    def copy(self) -> TopK:
        return type(self).from_bytes(self.to_bytes())

    def __add__(self, other: Any) -> TopK:
        if not isinstance(other, TopK):
            return NotImplemented
        return self.copy().merge(other)

    def __iadd__(self, other: Any) -> TopK:
        if not isinstance(other, TopK):
            return NotImplemented
        return self.merge(other)

    # ------------------------------------------------------------ persistence

    def _to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray], int]:
        m = len(self)
        params = dict(self.sketch._params())
        params["k"] = self.k
        params["candidates"] = self.capacity
        arrays: dict[str, np.ndarray] = {
            "table": self.sketch.table,
            "h1": self._h1[:m],
            "h2": self._h2[:m],
            "est": self._est[:m],
            **encode_keys(self._keys[:m]),
        }
        return params, arrays, self.seed

    @classmethod
    def _from_state(cls, container: Container) -> TopK:
        params, arrays = container.params, container.arrays
        with refusing("topk state"):
            sketch = CountMinSketch._restore(params, arrays.get("table"), container.seed)
            k = get_int(params, "k", min=1, max=1 << 24)
            capacity = get_int(params, "candidates", min=k, max=1 << 25)
            require_budget(f"a TopK of candidates={capacity}", 96 * capacity, arrays)
            h1 = get_array(arrays, "h1", np.uint64, (None,))
            m = h1.shape[0]
            h2 = get_array(arrays, "h2", np.uint64, (m,))
            est = get_array(arrays, "est", np.uint64, (m,))
            require(m <= capacity, f"the topk holds {m} candidates, more than its capacity {capacity}")
            require(len(set(zip(h1.tolist(), h2.tolist(), strict=True))) == m, "the topk candidates are not unique")
            keys = decode_keys(arrays, m, "topk")
            if m:
                hashed = murmur3_128([key_to_bytes(key) for key in keys], sketch.seed)
                require(
                    np.array_equal(hashed[:, 0], h1) and np.array_equal(hashed[:, 1], h2),
                    "the topk candidates' hashes are not the hashes of their keys",
                )
                bound = sketch.query_many(HashedKeys(np.ascontiguousarray(hashed), sketch.seed))
                require(bool(np.all(est <= bound.astype(np.uint64))), "a topk candidate's count exceeds its sketch estimate")
        new = cls.__new__(cls)
        new.k = k
        new.capacity = capacity
        new.sketch = sketch
        new._reset(h1.tolist(), h2.tolist(), est.tolist(), keys)
        return new

    # ----------------------------------------------------------------- display

    def __repr__(self) -> str:
        sk = self.sketch
        return (
            f"TopK(k={self.k}, width={sk.width}, depth={sk.depth}, seed={sk.seed}, "
            f"candidates={self.capacity}; "
            f"{len(self)} tracked, total={sk.total})"
        )

    def _repr_html_(self) -> str:
        sk = self.sketch
        rows: list[tuple[str, Any]] = [
            ("k", self.k),
            ("candidates tracked", f"{len(self)} of {self.capacity}"),
            ("sketch", f"{sk.width} x {sk.depth} {sk.dtype}, seed {sk.seed}"),
            ("total (N)", f"{sk.total:,}"),
            ("error bound (epsilon N)", f"{sk.error_bound():,.1f} with prob. {1 - sk.delta:.4g}"),
        ]
        rows += [(f"#{i + 1} {key!r}", f"~{est:,}") for i, (key, est) in enumerate(self.top(10))]
        return html_table("TopK heavy hitters", rows)


HeavyHitters = TopK


def _pick(keys: Any, i: int) -> Any:
    """Element ``i`` of a batch, as the user gave it."""
    module = type(keys).__module__
    if module.startswith("pyarrow"):
        return keys[i].as_py()
    if module.startswith("pandas"):
        return keys.iloc[i]
    return keys[i]

