"""Tour step: Count-Min Sketch and top-K heavy hitters on a Zipf(1.1) stream."""

from __future__ import annotations

import hashlib
from collections import Counter

import numpy as np

from ..countmin import CountMinSketch, TopK
from . import Row, timed

NAME = "countmin"
ORDER = 20

_SEED_SAMPLE = 20_000
_MAX_ITEMS = 1_000_000  # sample down: building the str stream dominates otherwise


class _SeedCountMin:
    """The textbook pure-Python sketch (md5 per row), the baseline."""

    def __init__(self, width: int, depth: int):
        self.width, self.depth = width, depth
        self.table = [[0] * width for _ in range(depth)]

    def update(self, item: str) -> None:
        for i in range(self.depth):
            h = int(hashlib.md5(f"{item}{i}".encode()).hexdigest(), 16) % self.width
            self.table[i][h] += 1


def run(size: int, rng: np.random.Generator) -> list[Row]:
    size = min(size, _MAX_ITEMS)
    n_keys = max(size // 10, 10)
    p = 1.0 / np.arange(1, n_keys + 1) ** 1.1
    p /= p.sum()
    ids = rng.choice(n_keys, size=size, p=p)
    words = [f"user:{i:012d}" for i in ids.tolist()]

    sample = words[:_SEED_SAMPLE]
    seed_sk = _SeedCountMin(2719, 5)
    seed_s, _ = timed(lambda: [seed_sk.update(w) for w in sample])  # type: ignore[func-returns-value]
    seed_s *= size / len(sample)

    warm = TopK(2, 16, 2)  # load the kernels before timing (the tour warms up too)
    warm.update_many(words[:10])
    warm.query_many(words[:10])
    CountMinSketch(16, 2).update_many(words[:10])

    cms = CountMinSketch.from_error(0.001, 0.01)
    t, _ = timed(lambda: cms.update_many(words))
    counter_s, truth = timed(lambda: Counter(words))
    distinct = list(truth)
    est = cms.query_many(distinct)
    exact = np.fromiter((truth[w] for w in distinct), dtype=np.int64, count=len(distinct))
    ok = bool((est >= exact).all())
    over = float(np.mean(est - exact > cms.epsilon * cms.total))
    note = f"never under: {ok}; keys over eps*N: {over:.4%} (delta {cms.delta:.2%})"
    rows = [Row(NAME, "CountMinSketch.update_many(list of str)", size, t, note, seed_s, "textbook md5 loop")]

    qt, _ = timed(lambda: cms.query_many(distinct), repeat=2)
    rows.append(Row(NAME, "CountMinSketch.query_many(list of str)", len(distinct), qt, f"{cms.table.nbytes:,} B table"))

    def track() -> TopK:
        tk = TopK(100, 2719, 5)
        tk.update_many(words)
        return tk

    tt, tk = timed(track)
    true_top = {w for w, _ in truth.most_common(100)}
    recall = len(true_top & {k for k, _ in tk.top()}) / len(true_top)
    rows.append(Row(NAME, "TopK(100).update_many(list of str)", size, tt, f"recall {recall:.2f}", counter_s, "Counter (exact)"))
    return rows
