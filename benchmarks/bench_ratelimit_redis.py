"""Rate limiting on Redis: sysprims' Lua scripts vs ``limits`` with its Redis
storage, on the same redis-server (started here on a free loopback port) in the
same run, with the same Zipf trace of string keys (limit 100 per second).

* "single calls": one decision per call (sysprims ``RateLimiter.allow(key)`` with
  the server's time, ``limits`` ``hit(item, key)``);
* "batch": sysprims ``allow_many(keys)`` (one script call per 1,000 decisions) vs
  the same ``limits`` loop, which has no batch API.

``extra_info["decisions_per_s"]`` is the throughput; the summary test records
sysprims / limits ratios (the issue's goals: single calls >= 1x, ``allow_many``
>= 10x per decision).
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from peers import peer
from sysprims.ratelimit import RateLimiter

LIMIT = 100
N_KEYS = 10_000
# sysprims algorithm -> the limits strategy of the same algorithm
PAIRS = {
    "fixed_window": "FixedWindowRateLimiter",
    "sliding_window_log": "MovingWindowRateLimiter",
    "sliding_window_counter": "SlidingWindowCounterRateLimiter",
    "token_bucket": None,  # limits has no token bucket
}
PARAMS = {
    "fixed_window": {"max_requests": LIMIT, "window_seconds": 1.0},
    "sliding_window_log": {"max_requests": LIMIT, "window_seconds": 1.0},
    "sliding_window_counter": {"max_requests": LIMIT, "window_seconds": 1.0},
    "token_bucket": {"capacity": LIMIT, "refill_rate": float(LIMIT)},
}
_RESULTS: dict[tuple[str, str], float] = {}  # (what, algorithm) -> decisions per second


@pytest.fixture(scope="module")
def keys(request) -> list[str]:
    cfg = request.config
    disabled = cfg.getoption("benchmark_disable", False) and not cfg.getoption(
        "benchmark_enable", False
    )
    n = 300 if disabled else 5_000
    rng = np.random.default_rng(42)
    ids = (rng.zipf(1.2, n) - 1) % N_KEYS
    return [f"user:{i:08d}" for i in ids.tolist()]


def _record(benchmark, what, algorithm, n):
    benchmark.extra_info["n"] = n
    stats = getattr(benchmark, "stats", None)
    if stats is not None and getattr(stats, "stats", None) is not None:
        rate = n / stats.stats.median
        benchmark.extra_info["decisions_per_s"] = rate
        _RESULTS[(what, algorithm)] = rate


def _limiter(url, algorithm, **options):
    return RateLimiter(algorithm, backend=url, backend_options=options, **PARAMS[algorithm])


@pytest.mark.parametrize("algorithm", list(PAIRS))
def test_sysprims_single_calls(benchmark, redis_url, keys, algorithm):
    benchmark.group = "ratelimit redis: single calls"
    rl = _limiter(redis_url, algorithm, namespace="single")
    allow = rl.allow
    out = benchmark.pedantic(lambda: sum(allow(k) for k in keys), rounds=3, iterations=1)
    assert 0 < out <= len(keys)
    _record(benchmark, "sysprims single", algorithm, len(keys))


@pytest.mark.parametrize("algorithm", list(PAIRS))
def test_sysprims_allow_many(benchmark, redis_url, keys, algorithm):
    benchmark.group = "ratelimit redis: batch"
    rl = _limiter(redis_url, algorithm, namespace="batch")
    out = benchmark.pedantic(lambda: rl.allow_many(keys), rounds=5, iterations=1)
    assert 0 < out.sum() <= len(keys)
    _record(benchmark, "sysprims allow_many", algorithm, len(keys))


@pytest.mark.parametrize("algorithm", [a for a, s in PAIRS.items() if s])
def test_limits_redis_storage(benchmark, redis_url, keys, algorithm):
    limits = peer("limits")
    from limits.storage import RedisStorage

    benchmark.group = "ratelimit redis: single calls"
    db = list(PAIRS).index(algorithm) + 1  # one database per strategy: their keys collide
    storage = RedisStorage(redis_url.rsplit("/", 1)[0] + f"/{db}")
    lim = getattr(limits.strategies, PAIRS[algorithm])(storage)
    item = limits.RateLimitItemPerSecond(LIMIT)
    hit = lim.hit
    out = benchmark.pedantic(lambda: sum(hit(item, k) for k in keys), rounds=3, iterations=1)
    assert 0 < out <= len(keys)
    _record(benchmark, "limits", algorithm, len(keys))


@pytest.mark.parametrize("algorithm", [a for a, s in PAIRS.items() if s])
def test_interleaved_single_calls(benchmark, redis_url, keys, algorithm):
    """sysprims and limits alternating in blocks of 100 calls inside one timing loop, so
    both see the same machine load (this machine is shared); records both rates."""
    limits = peer("limits")
    from limits.storage import RedisStorage

    benchmark.group = "ratelimit redis: interleaved single calls"
    rl = _limiter(redis_url, algorithm, namespace="interleaved")
    db = list(PAIRS).index(algorithm) + 5
    lim = getattr(limits.strategies, PAIRS[algorithm])(
        RedisStorage(redis_url.rsplit("/", 1)[0] + f"/{db}")
    )
    item = limits.RateLimitItemPerSecond(LIMIT)
    allow, hit = rl.allow, lim.hit
    spent = {"sysprims": 0.0, "limits": 0.0}

    def run():
        for i in range(0, len(keys), 100):
            block = keys[i : i + 100]
            t0 = time.perf_counter()
            for k in block:
                allow(k)
            t1 = time.perf_counter()
            for k in block:
                hit(item, k)
            spent["sysprims"] += t1 - t0
            spent["limits"] += time.perf_counter() - t1

    rounds = 3
    benchmark.pedantic(run, rounds=rounds, iterations=1)
    n = rounds * len(keys)
    ours, theirs = n / spent["sysprims"], n / spent["limits"]
    benchmark.extra_info.update(
        n=n, sysprims_per_s=ours, limits_per_s=theirs, ratio=round(ours / theirs, 2)
    )
    _RESULTS[("interleaved sysprims", algorithm)] = ours
    _RESULTS[("interleaved limits", algorithm)] = theirs


def test_summary_ratios(benchmark):
    """sysprims / limits throughput ratios of the run (recorded in extra_info)."""
    benchmark.group = "ratelimit redis: summary"
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    for algorithm, strategy in PAIRS.items():
        base = _RESULTS.get(("limits", algorithm))
        if not strategy or not base:
            continue
        for what in ("sysprims single", "sysprims allow_many"):
            if (what, algorithm) in _RESULTS:
                ratio = _RESULTS[(what, algorithm)] / base
                benchmark.extra_info[f"{what} / limits {strategy}"] = round(ratio, 2)
        a, b = (
            _RESULTS.get(("interleaved sysprims", algorithm)),
            _RESULTS.get(("interleaved limits", algorithm)),
        )
        if a and b:
            benchmark.extra_info[f"interleaved single / limits {strategy}"] = round(a / b, 2)
            benchmark.extra_info[f"interleaved decisions/s sysprims|limits {algorithm}"] = (
                f"{a:,.0f} | {b:,.0f}"
            )
    for what, algorithm in sorted(_RESULTS):
        benchmark.extra_info[f"decisions/s {what} {algorithm}"] = round(_RESULTS[(what, algorithm)])
    for k, v in sorted(benchmark.extra_info.items()):
        print(f"{k}: {v}")
