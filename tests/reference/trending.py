"""Plain-Python twin of the sliding-window Count-Min (``sysprims.countmin.trending``).

The textbook design, not ours: one Count-Min table per bucket, kept for the
last ``history`` buckets; a span's estimate is the row minimum of the sum of
its buckets' tables. Late events (an earlier bucket than the newest seen) count
in the newest bucket. Hashes come from ``mmh3`` (via ``reference.countmin``).
"""

from __future__ import annotations

import math
from collections import Counter

from tests.reference.countmin import hash_pair, positions


class ReferenceSlidingCMS:
    def __init__(
        self, width: int, depth: int, interval: float, window: int, history: int, seed: int = 0
    ):
        self.width, self.depth, self.seed = width, depth, seed
        self.interval, self.window, self.history = interval, window, history
        self.tables: dict[int, list[list[int]]] = {}
        self.current: int | None = None
        self.truth: Counter = Counter()  # (bucket, key bytes) -> exact count

    def bucket(self, ts: float) -> int:
        return math.floor(ts / self.interval)

    def update(self, key, ts: float, count: int = 1) -> None:
        b = self.bucket(ts)
        if self.current is None or b > self.current:
            self.current = b
        b = self.current
        for old in [x for x in self.tables if x <= b - self.history]:
            del self.tables[old]
        table = self.tables.setdefault(b, [[0] * self.width for _ in range(self.depth)])
        for r, j in enumerate(positions(*hash_pair(key, self.seed), self.depth, self.width)):
            table[r][j] += count
        self.truth[(b, _kb(key))] += count

    def _span(self, key, lo: int, hi: int) -> int:
        """Estimate over buckets lo..hi (inclusive)."""
        cols = positions(*hash_pair(key, self.seed), self.depth, self.width)
        tables = [t for b, t in self.tables.items() if lo <= b <= hi]
        return min(sum(t[r][j] for t in tables) for r, j in enumerate(cols))

    def query(self, key) -> int:
        if self.current is None:
            return 0
        return self._span(key, self.current - self.window + 1, self.current)

    def baseline(self, key) -> int:
        if self.current is None:
            return 0
        return self._span(key, self.current - self.history + 1, self.current - self.window)

    def true_window_count(self, key) -> int:
        if self.current is None:
            return 0
        lo = self.current - self.window + 1
        kb = _kb(key)
        return sum(c for (b, k), c in self.truth.items() if k == kb and lo <= b <= self.current)


def _kb(key) -> bytes:
    from tests.reference.countmin import key_bytes

    return key_bytes(key)
