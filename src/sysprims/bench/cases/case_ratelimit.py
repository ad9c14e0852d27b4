"""Rate limiting: sysprims against limits (memory storage), pyrate-limiter, a
plain-Python dict token bucket and the seed's TokenBucket, on the same Zipf
request trace (limit 100 per second per key, 20,000 requests per second)."""

from __future__ import annotations

import numpy as np

from ..seed_baselines import SeedTokenBucket

NAME = "ratelimit"
TITLE = "Rate limiting (100 requests/s per key)"
ORDER = 30
REQUIRES = ("sysprims.ratelimit",)
LIMIT = 100
N_USERS = 10_000

ALGOS = {
    "token_bucket": {"capacity": LIMIT, "refill_rate": float(LIMIT)},
    "sliding_window_counter": {"max_requests": LIMIT, "window_seconds": 1.0},
    "fixed_window": {"max_requests": LIMIT, "window_seconds": 1.0},
    "sliding_window_log": {"max_requests": LIMIT, "window_seconds": 1.0},
}



def run(ctx) -> None:
    from ...ratelimit import RateLimiter

    n, ns = ctx.n, ctx.n_slow
    rng = ctx.rng(42)
    ids = (rng.zipf(1.2, n) - 1) % N_USERS
    ts = np.sort(rng.uniform(0.0, n / 20_000, n)) + 1.7e9
    keys = [f"user:{i:08d}" for i in ids.tolist()]
    case = "decide (Zipf trace, str keys)"
    note_slow = f"per-call loop on the first {ns:,} requests"

    def frac(count, total):
        return {"admitted": float(count) / total}

    for algo, params in ALGOS.items():
        ctx.measure(case, f"sysprims allow_many {algo}", "sysprims",
                    lambda a=algo, p=params: RateLimiter(a, **p).allow_many(keys, ts), n,
                    accuracy=lambda out: frac(np.sum(out), n))
    tl = ts.tolist()

    def loop():
        allow = RateLimiter("token_bucket", **ALGOS["token_bucket"]).allow
        return sum(bool(allow(k, t)) for k, t in zip(keys[:ns], tl[:ns], strict=True))

    ctx.measure(case, "sysprims allow() loop token_bucket", "sysprims", loop, ns,
                accuracy=lambda c: frac(c, ns), note=note_slow)

    limits = ctx.peer("limits", case)
    if limits is not None:
        from limits.storage import MemoryStorage

        item = limits.RateLimitItemPerSecond(LIMIT)
        for strategy in ("FixedWindowRateLimiter", "MovingWindowRateLimiter", "SlidingWindowCounterRateLimiter"):
            def lim_run(s=strategy):
                hit = getattr(limits.strategies, s)(MemoryStorage()).hit
                return sum(bool(hit(item, k)) for k in keys[:ns])

            ctx.measure(case, f"limits {strategy.replace('RateLimiter', '')}", "limits", lim_run, ns,
                        accuracy=lambda c: frac(c, ns), note=note_slow + "; real clock")
    pl = ctx.peer("pyrate_limiter", case, "pyrate-limiter")
    if pl is not None:
        def pl_run():
            acquire = pl.Limiter(pl.Rate(LIMIT, pl.Duration.SECOND)).try_acquire
            return sum(bool(acquire(k, blocking=False)) for k in keys[:ns])

        ctx.measure(case, "pyrate-limiter Limiter", "pyrate-limiter", pl_run, ns,
                    accuracy=lambda c: frac(c, ns), note=note_slow + "; real clock")

    cap = rate = float(LIMIT)

    nl = ctx.n_loop

    def dict_bucket():
        buckets: dict[str, list[float]] = {}
        count = 0
        for k, now in zip(keys[:nl], tl[:nl], strict=True):
            b = buckets.get(k)
            if b is None:
                b = buckets[k] = [cap, now]
            tokens = min(cap, b[0] + (now - b[1]) * rate)
            b[1] = now
            if tokens >= 1.0:
                b[0] = tokens - 1.0
                count += 1
            else:
                b[0] = tokens
        return count

    ctx.measure(case, "dict token bucket (plain Python)", "python", dict_bucket, nl,
                accuracy=lambda c: frac(c, nl), note=ctx.loop_note(nl))

    def seed_run():
        buckets: dict[str, SeedTokenBucket] = {}
        count = 0
        for k in keys[:ns]:
            b = buckets.get(k)
            if b is None:
                b = buckets[k] = SeedTokenBucket(LIMIT, float(LIMIT))
            count += b.allow_request()
        return count

    ctx.measure(case, "seed TokenBucket per key", "seed", seed_run, ns, accuracy=lambda c: frac(c, ns),
                note=note_slow + "; real clock")
