"""Tour step: replay a request log through RateLimiter.allow_many vs a dict token bucket."""

from __future__ import annotations

import numpy as np

from ..ratelimit import RateLimiter, accuracy_report
from . import Row, timed

NAME = "ratelimit"
ORDER = 40


def run(size: int, rng: np.random.Generator) -> list[Row]:
    n = min(size, 1_000_000)
    ids = ((rng.zipf(1.2, n) - 1) % 10_000).astype(np.int64)
    ts = np.sort(rng.uniform(0.0, n / 20_000, n)) + 1.7e9
    m = min(n, 100_000)  # the Python baseline runs on a sample, scaled
    sample_keys = [f"user:{i}" for i in ids[:m].tolist()]
    tl = ts[:m].tolist()

    def dict_bucket() -> int:
        buckets: dict[str, list[float]] = {}
        allowed = 0
        for k, now in zip(sample_keys, tl, strict=True):
            b = buckets.get(k)
            if b is None:
                b = buckets[k] = [100.0, now]
            tokens = min(100.0, b[0] + (now - b[1]) * 100.0)
            b[1] = now
            if tokens >= 1.0:
                b[0] = tokens - 1.0
                allowed += 1
            else:
                b[0] = tokens
        return allowed

    base_s, base_allowed = timed(dict_bucket)
    base_s *= n / m
    rows = []
    t, out = timed(
        lambda: RateLimiter("token_bucket", capacity=100, refill_rate=100.0).allow_many(ids, ts),
        repeat=2,
    )
    check = RateLimiter("token_bucket", capacity=100, refill_rate=100.0).allow_many(
        sample_keys, ts[:m]
    )
    note = f"{out.mean():.1%} allowed; " + (
        "same decisions" if int(check.sum()) == base_allowed else "MISMATCH"
    )
    rows.append(
        Row(NAME, "allow_many token bucket (int keys)", n, t, note, base_s, "dict token bucket")
    )
    t, out = timed(
        lambda: RateLimiter("sliding_window_log", max_requests=100, window_seconds=1.0).allow_many(
            ids, ts
        ),
        repeat=2,
    )
    rows.append(
        Row(
            NAME,
            "allow_many sliding log (int keys)",
            n,
            t,
            f"{out.mean():.1%} allowed",
            base_s,
            "dict token bucket",
        )
    )
    rep = accuracy_report(ids, ts, max_requests=100, window_seconds=1.0)
    rows.append(
        Row(
            NAME,
            "sliding counter vs exact log",
            n,
            0.0,
            f"{rep['wrong_fraction']:.4%} of decisions differ (trace mostly over the limit)",
        )
    )
    return rows
