"""Suggestions in context: a user's own history, a region's words, trending queries.

:class:`ContextualAutocomplete` ranks the completions of a prefix by

    score(w) = base(w) + user_weight * user(w) + region_weight * region(w) + trending_weight * trend(w)

(evaluated left to right in float64), where ``base`` is the frequency in the
shared index and the other terms are sparse, non-negative *profiles*: per-user
counts of past queries, per-region weights, and the current trending keys.
Nothing is rebuilt at query time: the shared index answers its exact top-k, and
only the profile words under the prefix are looked at besides.

Why that is exact: every boost is >= 0, so a word outside the index's top-k and
in no profile scores ``base(w)``, which the k words of the index's top-k already
beat (each of them scores at least its base, and ties go by the word). A
profile word outside the top-k has ``base(w) <= base_k`` (the k-th base score),
so ``base_k + boosts(w)`` bounds its score; its base frequency is looked up
only when that bound could still reach the k-th best score found so far.
Words of a profile in use (its weight > 0) that the index does not hold are
suggested too (base 0).
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from .._jit import fast_entry
from .._kernels.context import boosted_top, boosted_top_static, find_many
from .._validate import check_int, check_number
from ..errors import InvalidParameterError
from ._arrays import _readonly, _u8
from ._index import Autocomplete

__all__ = ["ContextualAutocomplete"]


_VERSIONS = itertools.count(1)
_SET_CHARS = 8  # prefixes up to this many characters are answered from a set
_SHORT = 2  # boosted answers of prefixes up to this many characters are kept
_CACHE_MAX = 4096  # kept answers (cleared when full)
_FEW = 32  # at most this many profile words under a prefix: each is scored directly
_KERNEL_K = 64  # answers up to this many rows come from one kernel call
_EMPTY_PACK = (
    _readonly(np.frombuffer(b"", dtype=np.uint8)),
    _readonly(np.zeros(1, dtype=np.int64)),
    np.zeros(0, dtype=np.float64),
    np.zeros(0, dtype=np.int64),
)


class _Profile:
    """Sparse word -> boost (>= 0); sorted words and their boosts as an array, and
    the set of every short prefix of its words, rebuilt on the first query after a
    change. ``version`` is unique to each state of each profile."""

    __slots__ = ("scores", "_words", "_vals", "_prefixes", "version", "ids", "packed")

    def __init__(self) -> None:
        self.scores: dict[str, float] = {}
        self._words: list[str] | None = []
        self._vals = np.zeros(0)
        self._prefixes: set[str] = set()
        self.version = next(_VERSIONS)
        # (index serial, version, ids of the sorted words in that static index or -1)
        self.ids: tuple[int, int, list[int]] | None = None
        # (index serial, version, (word bytes, offsets, boosts, static ids)) for the kernel
        self.packed: tuple[int, int, tuple[np.ndarray, ...]] | None = None

    def add(self, word: str, by: float) -> None:
        self._words = None
        self.version = next(_VERSIONS)
        self.scores[word] = self.scores.get(word, 0.0) + by

    def arrays(self) -> tuple[list[str], np.ndarray]:
        if self._words is None:
            self._words = sorted(self.scores)
            self._vals = np.array([self.scores[w] for w in self._words], dtype=np.float64)
            self._prefixes = {w[:j] for w in self._words for j in range(min(len(w), _SET_CHARS) + 1)}
        return self._words, self._vals

    def covers(self, prefix: str) -> bool:
        """True when a word of the profile starts with ``prefix``."""
        if len(prefix) <= _SET_CHARS:
            if self._words is None:
                self.arrays()
            return prefix in self._prefixes
        lo, hi = self.range(prefix)
        return lo < hi

    def range(self, prefix: str) -> tuple[int, int]:
        """Positions ``[lo, hi)`` of the sorted words that start with ``prefix``."""
        words, _ = self.arrays()
        lo = bisect.bisect_left(words, prefix)
        if not prefix:
            return lo, len(words)
        last = ord(prefix[-1])
        if last < 0x10FFFF:
            return lo, bisect.bisect_left(words, prefix[:-1] + chr(last + 1), lo)
        hi = lo
        while hi < len(words) and words[hi].startswith(prefix):
            hi += 1
        return lo, hi


def _boost(value: Any, name: str, position: int) -> float:
    v = check_number(name, value)
    if v < 0 or not math.isfinite(v):
        raise InvalidParameterError(
            f"{name} must be finite and >= 0, got {value!r} at position {position}"
        )
    return v


class ContextualAutocomplete:
    """Personalised, regional and trending suggestions over a shared index.

    ``index`` is an :class:`~sysprims.autocomplete.Autocomplete` or a
    :class:`~sysprims.autocomplete.ShardedAutocomplete`; it is never modified or
    rebuilt. Profile words are folded as the index folds its words.
    """

    def __init__(
        self,
        index: Any,
        *,
        user_weight: float = 1.0,
        region_weight: float = 1.0,
        trending_weight: float = 1.0,
    ) -> None:
        for name in ("suggest_with_scores", "frequency", "_clean_word", "_clean_prefix"):
            if not hasattr(index, name):
                raise InvalidParameterError(
                    f"index must be an Autocomplete or ShardedAutocomplete, got {type(index).__name__}"
                )
        self.index = index
        self.user_weight = _weight("user_weight", user_weight)
        self.region_weight = _weight("region_weight", region_weight)
        self.trending_weight = _weight("trending_weight", trending_weight)
        self._users: dict[Any, _Profile] = {}
        self._regions: dict[Any, _Profile] = {}
        self._trending = _Profile()
        self._outs = (np.empty(0, np.float64), np.empty((0, 4), np.int64))
        self._cache: dict[tuple[Any, ...], tuple[tuple[Any, ...], list[tuple[str, float]]]] = {}

    # ------------------------------------------------------------ profiles

    def _feed(self, profile: _Profile, items: Any, by: Any, what: str) -> None:
        if isinstance(items, Mapping):
            pairs = list(items.items())
        else:
            if isinstance(items, (str, bytes)):
                raise InvalidParameterError(
                    f"{what} must be an iterable of str, got a single {type(items).__name__}"
                )
            words = list(items)
            pairs = [(w, by) for w in words]
        cleaned = [
            (self.index._clean_word(w, i), _boost(b, what, i)) for i, (w, b) in enumerate(pairs)
        ]  # validate all before changing anything
        for w, b in cleaned:
            profile.add(w, b)

    def add_history(
        self, user: Any, queries: Iterable[str] | Mapping[str, float], by: float = 1.0
    ) -> None:
        """Record ``user``'s past queries (each adds ``by``; a mapping gives each its own amount)."""
        self._feed(self._users.setdefault(user, _Profile()), queries, by, "history")

    def set_region(self, region: Any, weights: Mapping[str, float]) -> None:
        """Replace ``region``'s word weights (e.g. the region's own query counts)."""
        profile = _Profile()
        self._feed(profile, weights, None, "region weights")
        self._regions[region] = profile

    def set_trending(self, trending: Any, n: int = 100) -> None:
        """Replace the trending boosts: a mapping word -> boost, or a
        :class:`~sysprims.countmin.TrendingTopK` whose ``n`` rising str keys
        boost by their excess over the expected count (``recent - expected``)."""
        from ..countmin.trending import TrendingTopK

        if isinstance(trending, TrendingTopK):
            trending = {
                t.key: t.recent - t.expected
                for t in trending.trending(check_int("n", n, min=0))
                if isinstance(t.key, str)
            }
        profile = _Profile()
        self._feed(profile, trending, None, "trending boosts")
        self._trending = profile

    def forget_user(self, user: Any) -> None:
        self._users.pop(user, None)

    # ------------------------------------------------------------ queries

    def _active(self, user: Any, region: Any) -> tuple[_Profile | None, _Profile | None, _Profile | None]:
        """The user's, region's and trending profiles in use (a weight > 0, not empty)."""
        u = self._users.get(user) if user is not None and self.user_weight else None
        r = self._regions.get(region) if region is not None and self.region_weight else None
        t = self._trending if self.trending_weight else None
        return (
            u if u is not None and u.scores else None,
            r if r is not None and r.scores else None,
            t if t is not None and t.scores else None,
        )

    def _context_rows(self, prefix: str, k: int, user: Any, region: Any) -> list[tuple[str, float]] | None:
        """The boosted answer, or None when no profile in use has a word under the
        prefix (then the index's own answer is the answer)."""
        if type(k) is not int or k < 0:
            k = check_int("k", k, min=0)
        profiles = self._active(user, region)
        if k == 0 or profiles == (None, None, None):
            return None
        index = self.index
        if type(prefix) is not str:
            index._clean_prefix(prefix)  # raises the index's error
        p = index._fold(prefix)  # a lone surrogate: the index raises when asked
        u, r, t = profiles
        if not ((u is not None and u.covers(p)) or (r is not None and r.covers(p)) or (t is not None and t.covers(p))):
            return None
        if len(p) > _SHORT:
            return self._solve(prefix, p, k, profiles)
        # a short prefix has many profile words under it: its answer is kept until the
        # index, a profile in use or a weight changes
        stamp = (
            id(index), index.version, u.version if u else 0, r.version if r else 0, t.version if t else 0,
            self.user_weight, self.region_weight, self.trending_weight,
        )  # fmt: skip
        key = (p, k, user, region)
        hit = self._cache.get(key)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        rows = self._solve(prefix, p, k, profiles)
        if len(self._cache) >= _CACHE_MAX:
            self._cache.clear()
        self._cache[key] = (stamp, rows)
        return rows

    def suggest_with_scores(
        self, prefix: str, k: int = 10, *, user: Any = None, region: Any = None
    ) -> list[tuple[str, float]]:
        """The ``k`` best completions of ``prefix`` for ``user`` in ``region`` with
        their combined scores, best first, ties by word: exactly a filter-and-sort
        of every word (index and profiles in use) by the combined score."""
        rows = self._context_rows(prefix, k, user, region)
        return self.index.suggest_with_scores(prefix, k) if rows is None else list(rows)

    def suggest(
        self, prefix: str, k: int = 10, *, user: Any = None, region: Any = None
    ) -> list[str]:
        """Like :meth:`suggest_with_scores`, words only."""
        rows = self._context_rows(prefix, k, user, region)
        return self.index.suggest(prefix, k) if rows is None else [w for w, _ in rows]

    def _solve(self, prefix: str, p: str, k: int, profiles: Any) -> list[tuple[str, float]]:
        """The boosted answer: one kernel call over an :class:`Autocomplete` (every profile
        word under the prefix scored there), else the pruned search in Python."""
        index = self.index
        if type(index) is not Autocomplete or k > _KERNEL_K:
            return self._boosted(prefix, p, k, profiles)
        try:
            key = _u8(p.encode("utf-8"))
        except UnicodeEncodeError:
            key = _u8(index._clean_prefix(prefix))  # raises the index's error
        if index._dirty:
            index._sync_delta()
        st, d = index._static, index._delta
        packs = [self._packed(prof, st) if prof is not None else _EMPTY_PACK for prof in profiles]
        if self._outs[0].shape[0] < k:
            self._outs = (np.empty(k, np.float64), np.empty((k, 4), np.int64))
        scores, rows_out = self._outs
        weights = (float(self.user_weight), float(self.region_weight), float(self.trending_weight))
        tail = (key, k, *weights, *packs[0], *packs[1], *packs[2], scores, rows_out)
        if index._pending:
            args = (*st.args, *d.args, *tail)
            fn = st.entries.get("boosted")
            if fn is None:
                fn = st.entries["boosted"] = fast_entry(boosted_top, *args)
        else:  # nothing pending: the kernel that takes no delta (fewer arguments to convert)
            args = (*st.args, *tail)
            fn = st.entries.get("boosted_static")
            if fn is None:
                fn = st.entries["boosted_static"] = fast_entry(boosted_top_static, *args)
        c = fn(*args)
        rows = []
        names = st.names
        for sc, (code, _a, _b, i) in zip(scores[:c].tolist(), rows_out[:c].tolist(), strict=True):
            if code == 0:
                w = names[i]
                if w is None:
                    w = st.word(i)
            elif code == 1:
                w = d.word(i)
            else:
                w = profiles[code - 2].arrays()[0][i]
            rows.append((w, sc))
        return rows

    def _packed(self, prof: _Profile, st: Any) -> tuple[np.ndarray, ...]:
        """``prof`` as the kernel takes it, rebuilt when the profile or the static index changes."""
        c = prof.packed
        if c is None or c[0] != st.serial or c[1] != prof.version:
            words, vals = prof.arrays()
            encoded = [w.encode("utf-8") for w in words]
            offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
            np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)), out=offsets[1:])
            data = _readonly(np.frombuffer(b"".join(encoded), dtype=np.uint8))
            ids = np.array(self._static_ids(words), dtype=np.int64).reshape(-1)
            c = prof.packed = (st.serial, prof.version, (data, _readonly(offsets), vals, ids))
        return c[2]

    def _boosted(
        self, prefix: str, p: str, k: int, profiles: tuple[_Profile | None, _Profile | None, _Profile | None]
    ) -> list[tuple[str, float]]:
        index = self.index
        base_rows = index.suggest_with_scores(prefix, k)
        empty: dict[str, float] = {}
        us, rs, ts = (prof.scores if prof is not None else empty for prof in profiles)
        uw, rw, tw = self.user_weight, self.region_weight, self.trending_weight

        def score(w: str, b: float) -> float:  # one expression, one evaluation order
            return b + uw * us.get(w, 0.0) + rw * rs.get(w, 0.0) + tw * ts.get(w, 0.0)

        ranges = []
        for prof, wt in zip(profiles, (uw, rw, tw), strict=True):
            if prof is not None:
                lo, hi = prof.range(p)
                if lo < hi:
                    words, vals = prof.arrays()
                    ranges.append((wt, words, vals[lo:hi], lo, prof))
        if not ranges:  # no boosted word under the prefix: the index's own answer
            return base_rows
        if sum(v.shape[0] for _wt, _w, v, _lo, _p in ranges) <= _FEW:
            return self._few(base_rows, k, ranges, score)
        tops = [wt * float(v.max()) for wt, _w, v, _lo, _p in ranges]
        rows, m = base_rows, k
        while True:
            full = len(rows) == m
            bk = rows[-1][1] if full else 0.0  # bounds the base of every word not in rows
            # rows are (-score, word): a plain sort ranks them; a word in no profile
            # scores its base exactly (b + 0.0 + 0.0 + 0.0 == b)
            neg = [(-(score(w, b) if (w in us or w in rs or w in ts) else b), w) for w, b in rows]
            neg.sort()
            floor = -neg[k - 1][0] - bk if len(neg) >= k else -math.inf
            cand: dict[str, tuple[_Profile, int]] = {}
            for i, (wt, words, vals, lo, prof) in enumerate(ranges):
                # a word whose boost here, plus the most the other profiles could add,
                # cannot lift bk to the k-th score cannot enter (a margin for rounding)
                others = sum(tops) - tops[i]
                need = floor - others - 1e-9 * (abs(floor) + others + abs(bk) + 1.0)
                for j in np.flatnonzero(wt * vals >= need).tolist():
                    cand.setdefault(words[lo + j], (prof, lo + j))
            for w, _b in rows:
                cand.pop(w, None)
            if not full or len(cand) <= 8 * k or m >= 64 * k:
                break
            m *= 4  # a deeper base list: exact bases for more words, a lower bound bk
            rows = index.suggest_with_scores(prefix, m)
        if cand:
            if full:  # only words whose bound can still reach the k-th score need their base
                kth = neg[k - 1] if len(neg) >= k else None
                for w, (prof, j) in cand.items():
                    if kth is None or (-score(w, bk), w) <= kth:
                        neg.append((-score(w, self._base(w, prof, j)), w))
            else:  # the index holds no other word under the prefix: their base is 0
                neg += [(-score(w, 0.0), w) for w in cand]
            neg.sort()
        return [(w, -s) for s, w in neg[:k]]

    def _few(
        self, rows: list[tuple[str, float]], k: int, ranges: list[Any], score: Any
    ) -> list[tuple[str, float]]:
        """A few profile words under the prefix: score them and the index's top k.
        Rows are ``(-score, word)``, so a plain sort ranks them."""
        under: dict[str, tuple[_Profile, int]] = {}
        for _wt, words, vals, lo, prof in ranges:
            for j in range(lo, lo + vals.shape[0]):
                under.setdefault(words[j], (prof, j))
        # a word in no profile scores its base exactly (b + 0.0 + 0.0 + 0.0 == b)
        neg = [(-(score(w, b) if w in under else b), w) for w, b in rows]
        seen = {w for w, _b in rows}
        extra = [w for w in under if w not in seen]
        if extra:
            if len(rows) < k:  # the index holds no other word under the prefix: their base is 0
                neg += [(-score(w, 0.0), w) for w in extra]
            else:  # only words whose bound can still reach the k-th score need their base
                bk = rows[-1][1]  # bounds the base of every word not in rows
                neg.sort()
                kth = neg[k - 1]
                base = self._base
                neg += [
                    (-score(w, base(w, *under[w])), w) for w in extra if (-score(w, bk), w) <= kth
                ]
        neg.sort()
        return [(w, -s) for s, w in neg[:k]]

    def _base(self, w: str, prof: _Profile, j: int) -> float:
        """The index's frequency of ``w``, word ``j`` of ``prof`` (its static id is
        looked up once per profile state and static index)."""
        index = self.index
        if type(index) is not Autocomplete:
            return float(index.frequency(w))
        st = index._static
        ids = prof.ids
        if ids is None or ids[0] != st.serial or ids[1] != prof.version:
            words, _ = prof.arrays()
            ids = prof.ids = (st.serial, prof.version, self._static_ids(words))
        i = ids[2][j]
        return float(st.freq[i]) if i >= 0 else float(index._pending.get(w, 0.0))

    def _static_ids(self, words: list[str]) -> list[int]:
        """Ids of already folded words in the static arrays of the index (-1: not there)."""
        st = self.index._static
        if not len(st) or not words:
            return [-1] * len(words)
        encoded = [w.encode("utf-8") for w in words]
        ends = np.cumsum([len(e) for e in encoded], dtype=np.int64)
        starts = ends - np.array([len(e) for e in encoded], dtype=np.int64)
        out = np.empty(len(words), np.int64)
        q = np.frombuffer(b"".join(encoded), dtype=np.uint8)
        find_many(st.data, st.offsets, q, starts, ends, out)
        return out.tolist()

    def __repr__(self) -> str:
        return (
            f"ContextualAutocomplete({type(self.index).__name__} of {len(self.index):,} words; "
            f"{len(self._users)} users, {len(self._regions)} regions, {len(self._trending.scores)} trending; "
            f"weights user={self.user_weight:g}, region={self.region_weight:g}, trending={self.trending_weight:g})"
        )


def _weight(name: str, value: Any) -> float:
    return check_number(name, value, min=0.0)
