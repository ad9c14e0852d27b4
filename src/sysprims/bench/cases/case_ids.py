"""Snowflake IDs and the URL shortener against the seed's own classes, uuid4
and a plain dict, on the same data in the same run."""

from __future__ import annotations

import uuid

import numpy as np

from ..seed_baselines import SeedSnowflakeID, SeedURLShortener

NAME = "ids"
TITLE = "Snowflake IDs and URL shortener"
ORDER = 40
REQUIRES = ("sysprims.ids", "sysprims.shortener")


def _unique(ids) -> dict[str, float]:
    arr = np.asarray(ids) if not isinstance(ids, list) else ids
    n = len(arr)
    return {"unique": float(len(set(arr.tolist() if hasattr(arr, "tolist") else arr))) / max(n, 1)}


def run(ctx) -> None:
    from ...ids import SnowflakeID
    from ...shortener import URLShortener, encode_base62_many

    n, ns = ctx.n, ctx.n_slow
    case = "generate n IDs"
    ctx.measure(case, "sysprims SnowflakeID.generate_many", "sysprims",
                lambda: SnowflakeID(1).generate_many(n), n, accuracy=_unique,
                note="ceiling: 4096 IDs per ms = 244 ns/ID")
    ctx.measure(case, "sysprims SnowflakeID.generate loop", "sysprims",
                lambda g: [g.generate() for _ in range(ns)], ns, setup=lambda: (SnowflakeID(2),), accuracy=_unique)
    ctx.measure(case, "seed SnowflakeID.generate loop", "seed",
                lambda g: [g.generate() for _ in range(ns)], ns, setup=lambda: (SeedSnowflakeID(3),), accuracy=_unique)
    ctx.measure(case, "uuid.uuid4 loop", "python", lambda: [uuid.uuid4() for _ in range(ns)], ns,
                accuracy=_unique, note="128-bit random, not time-ordered")

    case = "base62 encode n counters"
    vals = list(range(100_000, 100_000 + n))
    ctx.measure(case, "sysprims encode_base62_many", "sysprims", lambda: encode_base62_many(vals), n)
    enc = SeedURLShortener()._encode_base62
    vl = vals[: ctx.n_loop]
    ctx.measure(case, "seed _encode_base62 loop", "seed", lambda: [enc(v) for v in vl], len(vl),
                note=ctx.loop_note(len(vl)))

    case = "shorten n URLs (memory)"
    m = min(n, 1_000_000)
    urls = [f"https://example.com/articles/{i:09d}?utm_source=bench" for i in range(m)]
    ctx.measure(case, "sysprims URLShortener.shorten_many", "sysprims", lambda: URLShortener().shorten_many(urls), m,
                accuracy=_unique)

    def seed_short():
        s = SeedURLShortener()
        return [s.shorten_counter_based(u) for u in urls]

    ctx.measure(case, "seed URLShortener loop", "seed", seed_short, m, accuracy=_unique)
