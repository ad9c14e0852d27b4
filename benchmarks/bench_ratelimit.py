"""Rate limiting: sysprims vs limits (memory storage), pyrate-limiter and a plain
dict token bucket, on the same Zipf request trace (limit 100 per second).

Every benchmark decides the same ``N`` requests, so medians compare directly;
``extra_info["ns_per_decision"]`` records the per-decision cost.
"""

from __future__ import annotations

import numpy as np
import pytest

from peers import peer
from sysprims.ratelimit import RateLimiter

LIMIT = 100
N_KEYS = 10_000


@pytest.fixture(scope="module")
def n_requests(request) -> int:
    cfg = request.config
    disabled = cfg.getoption("benchmark_disable", False) and not cfg.getoption(
        "benchmark_enable", False
    )
    return 5_000 if disabled else 100_000


@pytest.fixture(scope="module")
def trace(n_requests):
    rng = np.random.default_rng(42)
    ids = (rng.zipf(1.2, n_requests) - 1) % N_KEYS
    ts = np.sort(rng.uniform(0.0, n_requests / 20_000, n_requests)) + 1.7e9  # 20k req/s
    return ids.astype(np.int64), [f"user:{i:08d}" for i in ids.tolist()], ts


def _info(benchmark, n, what):
    benchmark.extra_info["n"] = n
    benchmark.extra_info["what"] = what
    stats = getattr(benchmark, "stats", None)
    if stats is not None and getattr(stats, "stats", None) is not None:
        benchmark.extra_info["ns_per_decision"] = stats.stats.median / n * 1e9


ALGOS = {
    "fixed_window": {"max_requests": LIMIT, "window_seconds": 1.0},
    "sliding_window_counter": {"max_requests": LIMIT, "window_seconds": 1.0},
    "sliding_window_log": {"max_requests": LIMIT, "window_seconds": 1.0},
    "token_bucket": {"capacity": LIMIT, "refill_rate": float(LIMIT)},
}


@pytest.mark.parametrize("algorithm", list(ALGOS))
def test_sysprims_allow_many_str(benchmark, trace, algorithm):
    benchmark.group = "ratelimit: batch decisions"
    _, keys, ts = trace
    out = benchmark(lambda: RateLimiter(algorithm, **ALGOS[algorithm]).allow_many(keys, ts))
    assert 0 < out.sum() <= len(keys)
    _info(benchmark, len(keys), f"allow_many str keys {algorithm}")


@pytest.mark.parametrize("algorithm", list(ALGOS))
def test_sysprims_allow_many_int(benchmark, trace, algorithm):
    benchmark.group = "ratelimit: batch decisions"
    ids, _, ts = trace
    out = benchmark(lambda: RateLimiter(algorithm, **ALGOS[algorithm]).allow_many(ids, ts))
    assert 0 < out.sum() <= len(ids)
    _info(benchmark, len(ids), f"allow_many int keys {algorithm}")


@pytest.mark.parametrize("algorithm", ["fixed_window", "sliding_window_counter", "token_bucket"])
def test_sysprims_allow_loop(benchmark, trace, algorithm):
    benchmark.group = "ratelimit: one call per decision"
    _, keys, ts = trace
    tl = ts.tolist()

    def run():
        rl = RateLimiter(algorithm, **ALGOS[algorithm])
        allow = rl.allow
        return sum(allow(k, t) for k, t in zip(keys, tl, strict=True))

    assert benchmark(run) > 0
    _info(benchmark, len(keys), f"allow(key, now) loop {algorithm}")


@pytest.mark.parametrize(
    "strategy",
    ["FixedWindowRateLimiter", "MovingWindowRateLimiter", "SlidingWindowCounterRateLimiter"],
)
def test_limits_memory(benchmark, trace, strategy):
    limits = peer("limits")
    from limits.storage import MemoryStorage

    benchmark.group = "ratelimit: one call per decision"
    _, keys, _ = trace
    item = limits.RateLimitItemPerSecond(LIMIT)

    def run():
        lim = getattr(limits.strategies, strategy)(MemoryStorage())
        hit = lim.hit
        return sum(hit(item, k) for k in keys)

    assert benchmark.pedantic(run, rounds=3, iterations=1) > 0
    _info(benchmark, len(keys), f"limits {strategy} + MemoryStorage")


def test_pyrate_limiter(benchmark, trace):
    pl = peer("pyrate_limiter")
    benchmark.group = "ratelimit: one call per decision"
    _, keys, _ = trace

    def run():
        limiter = pl.Limiter(pl.Rate(LIMIT, pl.Duration.SECOND))
        acquire = limiter.try_acquire
        return sum(bool(acquire(k, blocking=False)) for k in keys)

    assert benchmark.pedantic(run, rounds=3, iterations=1) > 0
    _info(benchmark, len(keys), "pyrate_limiter Limiter(Rate) in-memory")


def test_plain_python_dict_token_bucket(benchmark, trace):
    benchmark.group = "ratelimit: one call per decision"
    _, keys, ts = trace
    tl = ts.tolist()
    cap = rate = float(LIMIT)

    def run():
        buckets: dict[str, list[float]] = {}
        n = 0
        for k, now in zip(keys, tl, strict=True):
            b = buckets.get(k)
            if b is None:
                b = buckets[k] = [cap, now]
            tokens = min(cap, b[0] + (now - b[1]) * rate)
            b[1] = now
            if tokens >= 1.0:
                b[0] = tokens - 1.0
                n += 1
            else:
                b[0] = tokens
        return n

    assert benchmark(run) > 0
    _info(benchmark, len(keys), "plain Python dict token bucket")
