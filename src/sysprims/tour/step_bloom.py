"""Tour step: Bloom filter batch build and query against rbloom (or a Python set)."""

from __future__ import annotations

import numpy as np

from ..bloom import BloomFilter
from . import Row, timed

NAME = "bloom"
ORDER = 10


def run(size: int, rng: np.random.Generator) -> list[Row]:
    ids = rng.integers(0, 2**62, size=size, dtype=np.int64)
    words = [f"user:{i:015d}" for i in ids.tolist()]
    others = [f"anon:{i:015d}" for i in ids.tolist()]
    bf = BloomFilter.for_capacity(size, 0.01)
    t_add, _ = timed(lambda: bf.add_many(words))
    t_q, hits = timed(lambda: bf.contains_many(others))
    fpr = float(hits.mean())
    note = f"{bf.size / size:.2f} bits/key, measured FPR {fpr:.4f} (target 0.01)"
    try:
        import rbloom

        rb = rbloom.Bloom(size, 0.01)
        base_add, _ = timed(lambda: rb.update(words))
        sample = others[: min(size, 200_000)]
        base_q, _ = timed(lambda: [k in rb for k in sample])
        base_q *= size / len(sample)
        label = "rbloom"
    except ImportError:
        s: set = set()
        base_add, _ = timed(lambda: s.update(words))
        base_q, _ = timed(lambda: [k in s for k in others])
        label = "Python set"
    return [
        Row(NAME, "BloomFilter.add_many(list of str)", size, t_add, note, base_add, label),
        Row(NAME, "BloomFilter.contains_many(list of str)", size, t_q, "", base_q, label),
    ]
