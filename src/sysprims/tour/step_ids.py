"""Tour step: Snowflake IDs at the layout's ceiling, and batch URL shortening."""

from __future__ import annotations

import time

import numpy as np

from ..ids import SnowflakeID
from ..shortener import URLShortener, encode_base62
from . import Row, timed

NAME = "ids"
ORDER = 50

_CEILING_NS = 1e6 / 4096


def _naive_snowflake(n: int) -> list[int]:
    """The textbook generator inlined: the straightforward Python baseline."""
    seq, last, out = 0, -1, []
    for _ in range(n):
        ts = int(time.time() * 1000)
        if ts == last:
            seq = (seq + 1) & 0xFFF
            if seq == 0:
                while ts <= last:
                    ts = int(time.time() * 1000)
        else:
            seq = 0
        last = ts
        out.append(((ts - 1609459200000) << 22) | (1 << 12) | seq)
    return out


def run(size: int, rng: np.random.Generator) -> list[Row]:
    rows = []
    n_ids = min(size, 1_000_000)
    g = SnowflakeID(1)
    naive_n = min(n_ids, 200_000)
    naive_s, _ = timed(lambda: _naive_snowflake(naive_n))
    naive_s *= n_ids / naive_n
    t, ids = timed(lambda: g.generate_many(n_ids), repeat=2)
    ok = bool(np.all(np.diff(ids) > 0))
    rows.append(
        Row(NAME, "SnowflakeID.generate_many", n_ids, t,
            f"ceiling {_CEILING_NS:.0f} ns/ID; {'increasing' if ok else 'NOT INCREASING'}", naive_s, "textbook loop")
    )
    n_urls = min(size, 100_000)
    urls = [f"https://example.com/p/{i}" for i in rng.permutation(n_urls).tolist()]

    def seed_loop() -> dict:
        d, counter = {}, 100000
        for u in urls:
            if u not in d:
                d[u] = encode_base62(counter)
                counter += 1
        return d

    base_s, _ = timed(seed_loop)
    t, _ = timed(lambda: URLShortener().shorten_many(urls))
    rows.append(Row(NAME, "URLShortener.shorten_many (memory)", n_urls, t, "validated, deduplicated", base_s, "dict loop"))
    t, _ = timed(lambda: URLShortener(strategy="permuted", secret=b"tour").shorten_many(urls))
    rows.append(Row(NAME, "shorten_many (permuted codes)", n_urls, t, "7 chars, not enumerable", base_s, "dict loop"))
    return rows
