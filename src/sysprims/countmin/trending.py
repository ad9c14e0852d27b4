"""Trending heavy hitters: a sliding-window Count-Min sketch with windowed top-K.

:class:`TrendingTopK` counts ``(key, timestamp)`` events in time buckets of
``interval`` seconds. It answers, for the last ``window`` buckets (the *recent
window*), how often a key occurred, which keys occurred most, and which keys
are *rising*: counted far more in the recent window than their rate over the
``history - window`` buckets before it (the *baseline*) predicts.

Design: one Count-Min table counts the recent window's events, and a ring of
``history`` snapshots holds the table of *all* events (``cum``) as it was when
each of the last buckets began. The counters of any span of recent buckets are
a difference of two tables, itself a Count-Min table of exactly those events.
Memory is fixed: ``(history + 1) * depth * width`` counters plus the candidates.

Guarantee: for every key, :meth:`query` (and the counts :meth:`top` reports)
is never below the true number of events of that key whose bucket lies in the
recent window, and exceeds it by at most ``e / width`` times the window's total
with probability ``1 - exp(-depth)``, the usual Count-Min bound, but over the
window's events only. Events whose timestamp falls in a bucket before the current
one (late events) count in the current bucket: the windowed estimates stay upper
bounds, the baseline may then miss them. Counters wrap modulo ``2**32`` for
``dtype="uint32"``, so at most ``2**32 - 1`` events may fall within the ring's
``history`` buckets (checked before each batch; use ``dtype="uint64"`` beyond).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, NamedTuple

import numpy as np

from .._format import Container, Persistable
from .._html import html_table
from .._validate import check_choice, check_int, check_number
from ..errors import InvalidParameterError, KeyTypeError
from ..hashing import HashedKeys, check_seed, hashes_for, kernel_keys
from ._candidates import candidate_arrays
from ._keycodec import encode_keys
from ._trending_time import bucket_times
from .sketch import CountMinSketch, prepare_counts
from .topk import _pick

__all__ = ["Trend", "TrendingTopK"]

_MASKS = {"uint32": (1 << 32) - 1, "uint64": (1 << 64) - 1}


class Trend(NamedTuple):
    """One row of :meth:`TrendingTopK.trending`."""

    key: Any
    recent: int  # estimated events in the recent window (never below the truth)
    expected: float  # the window's count at the key's baseline rate
    ratio: float  # (count + 1) / (expected + 1)
    score: float  # (count - expected) / sqrt(expected + 1): a Poisson z-score


class TrendingTopK(Persistable):
    """The heaviest and the fastest-rising keys of a timestamped stream.

    Parameters
    ----------
    k:
        How many keys :meth:`top` and :meth:`trending` return by default.
    width, depth:
        Count-Min table shape (``epsilon = e / width``, ``delta = exp(-depth)``).
    interval:
        Seconds per bucket (timestamps are seconds; ``datetime64`` arrays also work).
    window:
        Buckets in the recent window (``window * interval`` seconds).
    history:
        Buckets kept in the ring, recent window included (> ``window``); the
        baseline is the ``history - window`` buckets before the window.
    candidates:
        Keys tracked by recent-window count (default ``4 * k``); trending keys are
        ranked among them.
    """

    _KIND: ClassVar[str] = "trending"

    def __init__(
        self,
        k: int,
        width: int,
        depth: int,
        *,
        interval: float = 1.0,
        window: int = 60,
        history: int = 600,
        seed: int = 0,
        dtype: Any = "uint32",
        candidates: int | None = None,
    ):
        self.k = check_int("k", k, min=1, max=1 << 20)
        self.capacity = check_int(
            "candidates", 4 * self.k if candidates is None else candidates, min=self.k, max=1 << 22
        )
        self.width = check_int("width", width, min=1, max=1 << 30)
        self.depth = check_int("depth", depth, min=1, max=64)
        self.interval = check_number("interval", interval, min=0.0, min_inclusive=False)
        self.window = check_int("window", window, min=1, max=1 << 16)
        self.history = check_int("history", history, min=self.window + 1, max=1 << 16)
        self.seed = check_seed(seed)
        self.dtype = check_choice(
            "dtype", np.dtype(dtype).name if _is_dtype(dtype) else str(dtype), ("uint32", "uint64")
        )
        cells = (self.history + 1) * self.depth * self.width
        if cells > 1 << 31:
            raise InvalidParameterError(
                f"(history + 1) * depth * width must be <= 2**31 counters, got {cells}"
            )
        dt = np.dtype(self.dtype)
        self._win = np.zeros((self.depth, self.width), dt)
        self._snaps = np.zeros((self.history, self.depth, self.width), dt)
        self._snap_tot = np.zeros(self.history, np.uint64)
        self._tot = np.zeros(1, np.uint64)
        self._set_candidates([], [], [], [], current=0, first=0, started=False)

    @classmethod
    def from_error(cls, k: int, epsilon: float, delta: float, **kwargs: Any) -> TrendingTopK:
        """Size the table as :meth:`CountMinSketch.from_error` does."""
        sk = CountMinSketch.from_error(epsilon, delta)
        return cls(k, sk.width, sk.depth, **kwargs)

    # ------------------------------------------------------------------ state

    @property
    def _mask(self) -> np.uint64:
        return np.uint64(_MASKS[self.dtype])

    def _set_candidates(
        self, h1s, h2s, ests, keys, *, current: int, first: int, started: bool
    ) -> None:
        m = len(h1s)
        self._h1, self._h2, self._est, self._ref, self._heap, self._pos, self._index = (
            candidate_arrays(self.capacity, h1s, h2s, ests)
        )
        self._meta = np.array([m, current, first, int(started)], dtype=np.int64)
        self._keys: list[Any] = list(keys)
        self._revalue()

    def _tables(self) -> tuple:
        return (
            self._win,
            self._snaps,
            self._snap_tot,
            self._tot,
            self._mask,
            np.int64(self.window),
        )

    def _cands(self) -> tuple:
        return (
            self._h1,
            self._h2,
            self._est,
            self._ref,
            self._heap,
            self._pos,
            self._index,
            self._meta,
        )

    def _revalue(self) -> None:
        """Re-value the candidates from the window table and rebuild heap and index."""
        from .._kernels.trending import trend_rebuild

        m = len(self)
        self._ref[:m] = -1 - np.arange(m)
        trend_rebuild(self._win, *self._cands())
        self._collect([])

    def _collect(self, batch: Any) -> None:
        """Reorder the Python keys after a kernel moved, dropped or replaced slots."""
        m = len(self)
        old = self._keys
        refs = self._ref[:m].tolist()
        self._keys = [old[-1 - r] if r < 0 else _pick(batch, r) for r in refs]

    def _slot(self, buckets_back: int) -> int:
        """Snapshot slot of the bucket ``buckets_back - 1`` before the current one."""
        return (self.current_bucket - buckets_back + 1) % self.history

    def __len__(self) -> int:
        return int(self._meta[0])

    @property
    def current_bucket(self) -> int:
        return int(self._meta[1])

    @property
    def started(self) -> bool:
        return bool(self._meta[3])

    @property
    def total(self) -> int:
        """Events counted since the start (all buckets)."""
        return int(self._tot[0])

    def window_total(self) -> int:
        """Events in the recent window."""
        return (int(self._tot[0]) - int(self._snap_tot[self._slot(self.window)])) & ((1 << 64) - 1)

    def baseline_buckets(self) -> int:
        """Buckets of the baseline that the stream has reached (0 .. history - window)."""
        if not self.started:
            return 0
        return max(
            0,
            min(
                self.history - self.window,
                self.current_bucket - self.window + 1 - int(self._meta[2]),
            ),
        )

    # ----------------------------------------------------------------- updates

    def _times(self, timestamps: Any, n: int) -> tuple[np.ndarray, float]:
        return bucket_times(timestamps, n, self.interval)

    def update(self, key: Any, timestamp: Any, count: int = 1) -> None:
        """Count ``key`` ``count`` times at ``timestamp`` (seconds)."""
        self.update_many([key], [timestamp], [check_int("count", count, min=0)])

    def update_many(
        self, keys: Any, timestamps: Any, counts: Any = None, *, hashed: HashedKeys | None = None
    ) -> None:
        """Count event ``i`` (key ``keys[i]`` at ``timestamps[i]``, ``counts[i]`` times
        or once): exactly the loop of :meth:`update`. ``hashed`` may carry the keys'
        :func:`~sysprims.hash_keys` to skip hashing."""
        from .._kernels import trending as _k

        if isinstance(keys, HashedKeys):
            raise KeyTypeError(
                "TrendingTopK returns keys as you gave them: pass the keys, and hashed=hash_keys(keys, seed)"
            )
        if not isinstance(keys, (list, tuple, np.ndarray)) and not type(keys).__module__.startswith(
            ("pyarrow", "pandas")
        ):
            keys = list(keys)
        source = keys if hashed is None else hashed
        if hashed is not None and (not isinstance(hashed, HashedKeys) or len(hashed) != len(keys)):
            raise InvalidParameterError("hashed must be the HashedKeys of exactly these keys")
        kk = kernel_keys(source, self.seed, "trending tracker")
        n = kk.n
        times, divisor = self._times(timestamps, n)
        c, total = prepare_counts(counts, n)
        if n == 0:
            return
        self._check_room(c, total)
        m = len(self)
        self._ref[:m] = -1 - np.arange(m)
        tail = (times, divisor, c, *self._cands())
        # hashing fused into the loop for the int and bytes forms (as the top-K kernels do)
        _k.trend_update(*self._tables(), np.int64(kk.mode), kk.hashes, kk.ints, kk.data, kk.starts, kk.ends,
                        np.uint64(self.seed), *tail)
        self._collect(keys)

    def _check_room(self, counts: np.ndarray, total: int) -> None:
        mask = _MASKS[self.dtype]
        if counts.shape[0] and int(counts.max()) > mask:
            raise InvalidParameterError(f"counts must be <= {mask} for dtype={self.dtype}")
        ring = self.total - int(self._snap_tot[self._slot(self.history)]) if self.started else 0
        if ring + total > mask:
            raise InvalidParameterError(
                f"more than {mask} events would fall within the ring's {self.history} buckets; "
                "the uint32 counters would wrap: use dtype='uint64'"
            )

    def advance(self, timestamp: Any) -> None:
        """Move the clock to ``timestamp`` without an event (a quiet stream's window
        still slides); earlier timestamps change nothing."""
        times, divisor = self._times([timestamp], 1)
        self._advance_to(math.floor(times[0] / divisor))

    def _advance_to(self, bucket: int) -> None:
        from .._kernels.trending import trend_advance

        m = len(self)
        self._ref[:m] = -1 - np.arange(m)
        trend_advance(*self._tables(), np.int64(bucket), *self._cands())
        self._collect([])

    # ----------------------------------------------------------------- answers

    def _table_query(self, keys: Any, top_back: int | None, bottom_back: int) -> np.ndarray:
        """Row minima of (the table of all events before bucket ``top_back - 1``
        back, or of all events so far when None) minus (that before ``bottom_back - 1``)."""
        from .._kernels.trending import trend_query

        hashes = hashes_for(keys, self.seed, "trending tracker")
        out = np.empty(hashes.shape[0], np.uint64)
        if top_back is None:  # cum = win + the window's first snapshot (numpy wraps unsigned)
            top = self._win + self._snaps[self._slot(self.window)]
        else:
            top = self._snaps[self._slot(top_back)]
        trend_query(top, self._snaps[self._slot(bottom_back)], self._mask, hashes, out)
        return out

    def _window_query(self, keys: Any) -> np.ndarray:
        from .._kernels.countmin import cms_query_hashes

        hashes = hashes_for(keys, self.seed, "trending tracker")
        out = np.empty(hashes.shape[0], np.int64 if self.dtype == "uint32" else np.uint64)
        cms_query_hashes(self._win, hashes, out)
        return out.astype(np.uint64)

    def query(self, key: Any) -> int:
        """Estimated events of ``key`` in the recent window (never below the truth)."""
        return int(self.query_many([key])[0])

    def query_many(self, keys: Any) -> np.ndarray:
        """:meth:`query` for every key (uint64)."""
        return self._window_query(keys)

    def count_many(self, keys: Any, buckets: int) -> np.ndarray:
        """Estimated events of every key in the last ``buckets`` buckets (1 .. history)."""
        return self._table_query(keys, None, check_int("buckets", buckets, min=1, max=self.history))

    def baseline_many(self, keys: Any) -> np.ndarray:
        """Estimated events of every key in the baseline buckets (before the window)."""
        return self._table_query(keys, self.window, self.history)

    def top(self, n: int | None = None) -> list[tuple[Any, int]]:
        """The ``n`` (default ``k``) heaviest candidates of the recent window as
        ``(key, count)``, heaviest first (ties by hash); counts never undercount."""
        n = self.k if n is None else check_int("n", n, min=0)
        m = len(self)
        rows = sorted(zip(self._est[:m].tolist(), self._h1[:m].tolist(), self._h2[:m].tolist(), range(m), strict=True),
                      key=lambda r: (-r[0], r[1], r[2]))  # fmt: skip
        return [(self._keys[s], est) for est, _a, _b, s in rows[:n]]

    def trending(
        self, n: int | None = None, *, min_count: int = 1, by: str = "score"
    ) -> list[Trend]:
        """The ``n`` (default ``k``) candidates rising fastest, as :class:`Trend` rows.

        ``expected`` is the key's baseline count scaled to the window's length,
        ``ratio = (count + 1) / (expected + 1)`` and ``score = (count - expected) /
        sqrt(expected + 1)``; rows are ranked by ``by`` (``"score"`` or ``"ratio"``),
        ties by key hash, keeping keys with ``count >= min_count`` and ``count > expected``.
        Before any baseline bucket has passed, ``expected`` is 0."""
        n = self.k if n is None else check_int("n", n, min=0)
        min_count = check_int("min_count", min_count, min=0)
        by = check_choice("by", by, ("score", "ratio"))
        m = len(self)
        if m == 0 or n == 0:
            return []
        hashed = HashedKeys(np.stack([self._h1[:m], self._h2[:m]], axis=1), self.seed)
        counts = self.query_many(hashed).tolist()
        span = self.baseline_buckets()
        base = self.baseline_many(hashed).tolist() if span else [0] * m
        rows = []
        for s in range(m):
            c = counts[s]
            exp = base[s] * self.window / span if span else 0.0
            if c >= min_count and c > exp:
                ratio = (c + 1) / (exp + 1)
                score = (c - exp) / math.sqrt(exp + 1)
                rows.append((score if by == "score" else ratio, int(self._h1[s]), int(self._h2[s]),
                             Trend(self._keys[s], c, exp, ratio, score)))  # fmt: skip
        rows.sort(key=lambda r: (-r[0], r[1], r[2]))
        return [r[3] for r in rows[:n]]

    # ------------------------------------------------------------------ merge

    def _params_tuple(self) -> tuple:
        return (
            self.k,
            self.capacity,
            self.width,
            self.depth,
            self.interval,
            self.window,
            self.history,
            self.seed,
            self.dtype,
        )

    def merge(self, other: TrendingTopK) -> TrendingTopK:
        """Add another tracker's events (in place); returns self.

        Both are first moved to the later current bucket; the tables then add, so
        the result's tables equal one tracker fed both streams in time order.
        Candidates are the union, re-valued on the merged window table."""
        from ._trending_merge import merge_into

        return merge_into(self, other)

    def copy(self) -> TrendingTopK:
        return type(self).from_bytes(self.to_bytes())

    def __add__(self, other: Any) -> TrendingTopK:
        return self.copy().merge(other) if isinstance(other, TrendingTopK) else NotImplemented

    # ------------------------------------------------------------ persistence

    def _to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray], int]:
        m = len(self)
        params = {
            "k": self.k, "candidates": self.capacity, "width": self.width, "depth": self.depth,
            "interval": self.interval, "window": self.window, "history": self.history, "dtype": self.dtype,
            "current": self.current_bucket, "first": int(self._meta[2]), "started": self.started,
        }  # fmt: skip
        arrays = {"window_table": self._win, "snaps": self._snaps, "snap_tot": self._snap_tot, "tot": self._tot,
                  "h1": self._h1[:m], "h2": self._h2[:m], "est": self._est[:m], **encode_keys(self._keys)}  # fmt: skip
        return params, arrays, self.seed

    @classmethod
    def _from_state(cls, container: Container) -> TrendingTopK:
        from ._trending_state import restore

        return restore(cls, container)

    # ----------------------------------------------------------------- display

    def nbytes(self) -> int:
        return sum(x.nbytes for x in (self._win, self._snaps, self._snap_tot, self._h1, self._h2, self._est,
                                      self._ref, self._heap, self._pos, self._index))  # fmt: skip

    def __repr__(self) -> str:
        return (
            f"TrendingTopK(k={self.k}, width={self.width}, depth={self.depth}, interval={self.interval:g}, "
            f"window={self.window}, history={self.history}, seed={self.seed}; {len(self)} tracked, "
            f"window total={self.window_total()}, total={self.total})"
        )

    def _repr_html_(self) -> str:
        rows: list[tuple[str, Any]] = [
            ("k / candidates", f"{self.k} / {len(self)} of {self.capacity}"),
            ("table", f"{self.depth} x {self.width} {self.dtype}, seed {self.seed}"),
            ("recent window", f"{self.window} x {self.interval:g} s"),
            ("baseline", f"{self.baseline_buckets()} of {self.history - self.window} buckets"),
            ("window total", f"{self.window_total():,}"),
            (
                "error bound (e/width x window total)",
                f"{math.e / self.width * self.window_total():,.1f}",
            ),
            ("memory", f"{self.nbytes():,} bytes"),
        ]
        rows += [
            (f"rising #{i + 1} {t.key!r}", f"{t.recent:,} vs {t.expected:,.1f} expected")
            for i, t in enumerate(self.trending(5))
        ]
        return html_table("TrendingTopK", rows)


def _is_dtype(dtype: Any) -> bool:
    try:
        np.dtype(dtype)
    except TypeError:
        return False
    return True
