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

import math
import threading
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from .._jit import fast_entry
from .._kernels.context import boosted_top, boosted_top_static, find_many, work_size
from .._validate import check_int
from ..errors import InvalidParameterError
from ._arrays import _readonly, _u8
from ._index import Autocomplete
from ._profiles import _SET_CHARS, _boost, _Plan, _Profile, _Weight

__all__ = ["ContextualAutocomplete"]

_SHORT = 2  # boosted answers of prefixes up to this many characters are kept
_CACHE_MAX = 4096  # kept answers (cleared when full)
_FEW = 32  # at most this many profile words under a prefix: each is scored directly
_KERNEL_K = 64  # answers up to this many rows come from one kernel call
_NONE = (0, 0)  # no profile word under the prefix
# a profile as the kernel takes it: its sorted words' bytes, ``meta`` (row 0 the words'
# offsets, row 1 their static ids, -1 where absent) and their boosts
_EMPTY_PACK = (
    _readonly(np.frombuffer(b"", dtype=np.uint8)),
    np.array([[0], [-1]], dtype=np.int64),
    np.zeros(0, dtype=np.float64),
)


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
        self._epoch = 0  # bumped by every change of a profile or a weight (plans follow it)
        self._uw = self._rw = self._tw = 0.0
        self.user_weight = user_weight  # checked; read back as self._uw (and _rw, _tw)
        self.region_weight = region_weight
        self.trending_weight = trending_weight
        self._users: dict[Any, _Profile] = {}
        self._regions: dict[Any, _Profile] = {}
        self._trending = _Profile()
        # the kernel's work arrays (scores, ids), sized for (k, prefix bytes) up to _room
        self._outs = (np.empty(0, np.float64), np.empty(work_size(0, 0), np.int64))
        self._room = (0, 0)
        self._wbuf = np.empty(0, np.uint8)  # room for the words of every profile in use
        self._lock = threading.Lock()
        self._plans: dict[tuple[Any, Any], _Plan] = {}
        self._kept = 0  # answers kept across plans (at most _CACHE_MAX)

    def __getstate__(self) -> dict[str, Any]:
        # the lock, and the plans (compiled entry points and kept answers: a cache rebuilt
        # on demand), do not travel
        state = self.__dict__.copy()
        del state["_lock"]
        state["_plans"], state["_kept"] = {}, 0
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    user_weight = _Weight()
    region_weight = _Weight()
    trending_weight = _Weight()

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
        self._epoch += 1

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
        self._epoch += 1

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
        self._epoch += 1

    def forget_user(self, user: Any) -> None:
        self._users.pop(user, None)
        self._epoch += 1

    # ------------------------------------------------------------ queries

    def _plan(self, user: Any, region: Any) -> _Plan:
        """The plan of ``(user, region)``: the profiles in use (a weight > 0, not empty),
        made again after any change of a profile or a weight."""
        plan = self._plans.get((user, region))
        if plan is not None and plan.epoch == self._epoch and plan.index is self.index:
            return plan
        u = self._users.get(user) if user is not None and self._uw else None
        r = self._regions.get(region) if region is not None and self._rw else None
        t = self._trending if self._tw else None
        u, r, t = (x if x is not None and x.scores else None for x in (u, r, t))
        if len(self._plans) >= _CACHE_MAX:
            self._plans.clear()
            self._kept = 0
        plan = self._plans[(user, region)] = _Plan(self._epoch, self.index, (u, r, t))
        return plan

    def _answer(self, prefix: str, k: int, user: Any, region: Any, scores: bool) -> Any:
        """The boosted answer (words, or (word, score) rows when ``scores``), or None when
        no profile in use has a word under the prefix (the index's own answer is it)."""
        if type(k) is not int or k < 0:
            k = check_int("k", k, min=0)
        plan = self._plans.get((user, region))
        if plan is None or plan.epoch != self._epoch or plan.index is not self.index:
            plan = self._plan(user, region)
        if k == 0 or plan.active is None:
            return None
        index = self.index
        if type(prefix) is not str:
            index._clean_prefix(prefix)  # raises the index's error
        p = index._fold(prefix)  # a lone surrogate: the index raises when asked
        # the positions of the profile words under the prefix, in each profile
        if len(p) <= _SET_CHARS:
            ru, rr, rt = plan.ranges
            spans = (ru.get(p, _NONE), rr.get(p, _NONE), rt.get(p, _NONE))
        else:
            pu, pr, pt = (prof.range(p) if prof is not None else _NONE for prof in plan.profiles)
            spans = (pu, pr, pt)
        if spans[0][0] == spans[0][1] and spans[1][0] == spans[1][1] and spans[2][0] == spans[2][1]:
            return None
        if len(p) > _SHORT:
            words, values = self._solve(prefix, p, k, plan, spans, scores)
            return list(zip(words, values, strict=True)) if scores else words
        # a short prefix has many profile words under it: its answer is kept while the
        # plan (profiles in use, weights) and the index's version hold
        if plan.version != index.version:
            plan.answers.clear()
            plan.version = index.version
        hit = plan.answers.get((p, k))
        if hit is None:
            self._kept += 1
            if self._kept > _CACHE_MAX:  # bounded across plans: forget every kept answer
                self._forget_answers()
                self._kept = 1
            hit = plan.answers[(p, k)] = self._solve(prefix, p, k, plan, spans, True)
        return list(zip(*hit, strict=True)) if scores else list(hit[0])

    def _forget_answers(self) -> None:
        """Drop every kept short-prefix answer (a benchmark's cold queries)."""
        for plan in self._plans.values():
            plan.answers.clear()
        self._kept = 0

    def suggest_with_scores(
        self, prefix: str, k: int = 10, *, user: Any = None, region: Any = None
    ) -> list[tuple[str, float]]:
        """The ``k`` best completions of ``prefix`` for ``user`` in ``region`` with
        their combined scores, best first, ties by word: exactly a filter-and-sort
        of every word (index and profiles in use) by the combined score."""
        rows = self._answer(prefix, k, user, region, True)
        return self.index.suggest_with_scores(prefix, k) if rows is None else rows

    def suggest(
        self, prefix: str, k: int = 10, *, user: Any = None, region: Any = None
    ) -> list[str]:
        """Like :meth:`suggest_with_scores`, words only."""
        words = self._answer(prefix, k, user, region, False)
        return self.index.suggest(prefix, k) if words is None else words

    def _solve(
        self, prefix: str, p: str, k: int, plan: _Plan, spans: tuple[tuple[int, int], ...], scores: bool
    ) -> tuple[list[str], list[float]]:
        """The boosted answer, words and (when ``scores``) scores: one kernel call over an
        :class:`Autocomplete` (every profile word under the prefix scored there), else
        the pruned search in Python. ``spans``: the positions of the profile words under
        the prefix in each profile."""
        index = self.index
        if plan.python or k > _KERNEL_K:
            rows = self._boosted(prefix, p, k, plan.profiles)
            return [w for w, _ in rows], [sc for _, sc in rows]
        try:
            key = _u8(p.encode("utf-8"))
        except UnicodeEncodeError:
            key = _u8(index._clean_prefix(prefix))  # raises the index's error
        with self._lock:  # the work arrays are shared and the kernel releases the GIL
            return self._solve_kernel(key, k, plan, spans, scores)

    def _solve_kernel(
        self, key: np.ndarray, k: int, plan: _Plan, spans: tuple[tuple[int, int], ...], scores: bool
    ) -> tuple[list[str], list[float]]:
        index = self.index
        if index._dirty:
            index._sync_delta()
        st = index._static
        if plan.static is not st or plan.delta is not (index._delta if index._pending else None):
            self._arm(plan, st, index._delta if index._pending else None)
        if k > self._room[0] or key.shape[0] > self._room[1]:
            self._grow(k, key.shape[0])
        out, ids = self._outs
        (u0, u1), (r0, r1), (t0, t1) = spans
        c = plan.fn(*plan.head, key, k, u0, u1, r0, r1, t0, t1, out, ids, self._wbuf)
        if c >= 0:  # every answer a static word: decoded as the plain answers are
            return st.words(ids[:c]), out[:c].tolist() if scores else []
        c = -1 - c
        ns = len(st)
        words = []
        for g in ids[:c].tolist():
            if g >= 0:
                words.append(st.word(g) if g < ns else index._delta.word(g - ns))
            else:  # -1 - (3 * position + profile): a word only a profile holds
                h = -1 - g
                prof = plan.profiles[h % 3]
                assert prof is not None
                words.append(prof.arrays()[0][h // 3])
        return words, out[:c].tolist() if scores else []

    def _grow(self, k: int, nq: int) -> None:
        """Work arrays for ``k`` answers and prefixes of ``nq`` bytes (and all smaller)."""
        k, nq = max(k, self._room[0]), max(nq, 64, self._room[1])
        self._outs = (np.empty(2 * k, np.float64), np.empty(work_size(nq, k), np.int64))
        self._room = (k, nq)

    def _arm(self, plan: _Plan, st: Any, d: Any) -> None:
        """The kernel and its leading arguments for the index's static arrays ``st`` and
        delta ``d`` (None: nothing pending), the profiles packed against ``st``."""
        packs = [self._packed(prof, st) if prof is not None else _EMPTY_PACK for prof in plan.profiles]
        weights = (float(self._uw), float(self._rw), float(self._tw))
        profs = (*packs[0], *packs[1], *packs[2])
        if d is not None:
            head = (*st.args, *d.args, *profs, *weights)
            name, dispatcher = "boosted", boosted_top
        else:  # nothing pending: the kernel that takes no delta (fewer arguments to convert)
            head = (*st.args, *profs, *weights)
            name, dispatcher = "boosted_static", boosted_top_static
        room = sum(pack[0].shape[0] for pack in packs)
        if self._wbuf.shape[0] < room:
            self._wbuf = np.empty(room, np.uint8)
        fn = st.entries.get(name)
        if fn is None:
            key = _u8(b"")
            fn = st.entries[name] = fast_entry(dispatcher, *head, key, 1, *[0] * 6, *self._outs, self._wbuf)
        plan.static, plan.delta, plan.head, plan.fn = st, d, head, fn

    def _packed(self, prof: _Profile, st: Any) -> tuple[np.ndarray, ...]:
        """``prof`` as the kernel takes it, rebuilt when the profile or the static index changes."""
        c = prof.packed
        if c is None or c[0] != st.serial or c[1] != prof.version:
            words, vals = prof.arrays()
            encoded = [w.encode("utf-8") for w in words]
            n = len(encoded)
            meta = np.full((2, n + 1), -1, dtype=np.int64)
            meta[0, 0] = 0
            np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=n), out=meta[0, 1:])
            meta[1, :n] = self._static_ids(words)
            data = _readonly(np.frombuffer(b"".join(encoded), dtype=np.uint8))
            c = prof.packed = (st.serial, prof.version, (data, meta, vals))
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

