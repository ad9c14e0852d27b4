"""Rate limiting on Redis: sysprims' Lua scripts vs ``limits`` with its Redis
storage, on the same redis-server (started here on a free loopback port) in the
same run, with the same Zipf trace of string keys (limit 100 per second).

* "single calls": one decision per call (sysprims ``RateLimiter.allow(key)`` with
  the server's time, ``limits`` ``hit(item, key)``);
* "batch": sysprims ``allow_many(keys)`` (one script call per 1,000 decisions) vs
  the same ``limits`` loop, which has no batch API.

* "cluster vs single": sysprims ``allow_many`` on a 3-master Redis Cluster
  (redis-server processes started here, ``redis.cluster.RedisCluster`` client)
  against the single server, alternating batch by batch in one timing loop.

``extra_info["decisions_per_s"]`` is the throughput; the summary test records
sysprims / limits ratios (the issue's goals: single calls >= 1x, ``allow_many``
>= 10x per decision) and cluster / single ratios.
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
    _record_interleaved(benchmark, algorithm, spent, rounds * len(keys), "sysprims", "limits", "interleaved")


def _record_interleaved(benchmark, algorithm, spent, n, a, b, label):
    """Rates of two contenders timed in one loop (``spent``: seconds of each), as
    ``<a>_per_s``, ``<b>_per_s`` and ``ratio`` (a / b) in extra_info and in _RESULTS."""
    ra, rb = n / spent[a], n / spent[b]
    benchmark.extra_info.update({"n": n, f"{a}_per_s": ra, f"{b}_per_s": rb, "ratio": round(ra / rb, 2)})
    _RESULTS[(f"{label} {a}", algorithm)] = ra
    _RESULTS[(f"{label} {b}", algorithm)] = rb


@pytest.fixture(scope="module")
def cluster():
    """A 3-master Redis Cluster (the test suite's helper), one per module."""
    import shutil

    binary, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    if binary is None or cli is None:
        pytest.skip("redis-server/redis-cli are not installed (apt-get install -y redis-server)")
    from tests.conftest import RedisClusterServers

    servers = RedisClusterServers(binary, cli)
    servers.start()
    yield servers
    servers.stop()


@pytest.mark.parametrize("algorithm", list(PAIRS))
def test_allow_many_cluster_vs_single_interleaved(benchmark, redis_url, cluster, keys, algorithm):
    """allow_many on the Cluster and on the single server, alternating batch by batch
    inside one timing loop (both see the same machine load); records both rates."""
    import redis

    from sysprims.backends.redis_ratelimit import RedisRateLimitBackend
    from sysprims.ratelimit import algorithms as A

    benchmark.group = "ratelimit redis: allow_many cluster vs single"
    single = _limiter(redis_url, algorithm, namespace="vs-cluster")
    spec = A.SPECS[algorithm]
    client = cluster.client()
    backend = RedisRateLimitBackend(spec, A.check_params(spec, *PARAMS[algorithm].values()), 0, client)
    on_cluster = RateLimiter(algorithm, backend=backend, **PARAMS[algorithm])
    assert isinstance(client, redis.cluster.RedisCluster) and backend.batch == "pipeline"
    spent = {"single": 0.0, "cluster": 0.0}
    ts = np.full(len(keys), 1_700_000_000.0)
    state = {"t": 0.0}

    def run():
        state["t"] += 2.0  # a fresh window per round: both see the same decisions
        now = ts + state["t"]
        t0 = time.perf_counter()
        a = single.allow_many(keys, now)
        t1 = time.perf_counter()
        b = on_cluster.allow_many(keys, now)
        spent["single"] += t1 - t0
        spent["cluster"] += time.perf_counter() - t1
        assert np.array_equal(a, b)

    run()  # warm-up (scripts loaded on every node, kernels compiled), not counted
    spent.update(single=0.0, cluster=0.0)
    rounds = 5
    benchmark.pedantic(run, rounds=rounds, iterations=1)
    client.close()
    _record_interleaved(benchmark, algorithm, spent, rounds * len(keys), "cluster", "single", "allow_many")


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
    for algorithm in PAIRS:
        a, b = _RESULTS.get(("allow_many cluster", algorithm)), _RESULTS.get(("allow_many single", algorithm))
        if a and b:
            benchmark.extra_info[f"allow_many cluster / single {algorithm}"] = round(a / b, 2)
    for what, algorithm in sorted(_RESULTS):
        benchmark.extra_info[f"decisions/s {what} {algorithm}"] = round(_RESULTS[(what, algorithm)])
    for k, v in sorted(benchmark.extra_info.items()):
        print(f"{k}: {v}")
