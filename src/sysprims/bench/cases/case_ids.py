"""Snowflake IDs and the URL shortener against naive plain-Python versions, uuid4
and a plain dict, on the same data in the same run."""

from __future__ import annotations

import uuid

import numpy as np

from ..naive import NaiveShortener, NaiveSnowflake, base62

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
                lambda g: [g.generate() for _ in range(ns)], ns, setup=lambda: (SnowflakeID(2),), accuracy=_unique,
                shape="single")
    ctx.measure(case, "naive Snowflake generate loop", "naive",
                lambda g: [g.generate() for _ in range(ns)], ns, setup=lambda: (NaiveSnowflake(3),), accuracy=_unique,
                shape="single")
    ctx.measure(case, "uuid.uuid4 loop", "python", lambda: [uuid.uuid4() for _ in range(ns)], ns,
                accuracy=_unique, note="128-bit random, not time-ordered", shape="single")

    case = "base62 encode n counters"
    vals = list(range(100_000, 100_000 + n))
    ctx.measure(case, "sysprims encode_base62_many", "sysprims", lambda: encode_base62_many(vals), n)
    vl = vals[: ctx.n_loop]
    ctx.measure(case, "naive base62 loop", "naive", lambda: [base62(v) for v in vl], len(vl),
                note=ctx.loop_note(len(vl)), shape="single")

    case = "shorten n URLs (memory)"
    m = min(n, 1_000_000)
    urls = [f"https://example.com/articles/{i:09d}?utm_source=bench" for i in range(m)]
    ctx.measure(case, "sysprims URLShortener.shorten_many", "sysprims", lambda: URLShortener().shorten_many(urls), m,
                accuracy=_unique)

    def naive_short():
        s = NaiveShortener()
        return [s.shorten(u) for u in urls]

    ctx.measure(case, "naive counter + two dicts loop", "naive", naive_short, m, accuracy=_unique, shape="single")
