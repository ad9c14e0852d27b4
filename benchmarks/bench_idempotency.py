"""Idempotency keys: per-call cost of a cache hit and of a first execution, per store.

Baseline: a naive in-memory dict manager (``sysprims.bench.naive.NaiveIdempotency``),
which is not safe under concurrency. No maintained Python peer library exists
for this pattern, so it is the only baseline. Each "first" round runs ``BATCH``
first executions on fresh keys: divide the time by ``extra_info["calls"]``.

Issue goals: memory hit < 2 us; SQLite and Redis >= 5,000 first executions/s.
"""

from __future__ import annotations

import itertools

import pytest

from sysprims.bench.naive import NaiveIdempotency
from sysprims.idempotency import IdempotencyManager, RedisStore, SQLiteStore

BATCH = 200


_SCOPES = itertools.count()


@pytest.fixture(params=["naive", "memory", "sqlite", "redis"])
def manager(request, tmp_path):
    kind = request.param
    if kind == "naive":
        yield kind, NaiveIdempotency()
        return
    if kind == "memory":
        m = IdempotencyManager()
    elif kind == "sqlite":
        m = IdempotencyManager(store=SQLiteStore(tmp_path / "bench.db"))
    else:
        m = IdempotencyManager(store=RedisStore(request.getfixturevalue("redis_url"), scope=f"bench{next(_SCOPES)}"))
    yield kind, m
    m.close()


RESULT = {"charge_id": "ch_0123456789abcdef", "amount": 100.0, "customer": "customer_123", "status": "succeeded"}


def operation():
    return RESULT


def test_hit(benchmark, manager):
    kind, m = manager
    m.execute("hit-key", operation)
    benchmark.group = "idempotency: cache hit (1 call)"
    benchmark.extra_info.update(store=kind, calls=1)
    assert benchmark(m.execute, "hit-key", operation) == RESULT


def test_redis_round_trip_reference(benchmark, redis_url):
    """One PING: the floor for a Redis hit (1 round trip) and first execution (2)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    benchmark.group = "idempotency: cache hit (1 call)"
    benchmark.extra_info.update(store="redis PING (reference)", calls=1)
    assert benchmark(client.ping)
    client.close()


def test_first_execution(benchmark, manager):
    kind, m = manager
    counter = itertools.count()
    execute = m.execute

    def run_batch():
        base = f"k{next(counter)}-"
        for i in range(BATCH):
            execute(f"{base}{i}", operation)

    benchmark.group = f"idempotency: first execution ({BATCH} calls)"
    benchmark.extra_info.update(store=kind, calls=BATCH)
    benchmark(run_batch)
    assert m.execute("k0-0", lambda: None) == RESULT


def test_hit_with_fingerprint(benchmark, manager):
    kind, m = manager
    if kind == "naive":
        pytest.skip("the naive manager has no fingerprints")
    body = b'{"amount": 100, "customer": "customer_123"}'
    m.execute("fp-key", operation, fingerprint=body)
    benchmark.group = "idempotency: cache hit with a 44-byte body fingerprint (1 call)"
    benchmark.extra_info.update(store=kind, calls=1)
    assert benchmark(m.execute, "fp-key", operation, fingerprint=body) == RESULT


THREADS = 8


def test_first_execution_8_threads(benchmark, manager):
    """Aggregate throughput of first executions with 8 client threads on one manager
    (the Redis and SQLite calls release the GIL while they wait)."""
    from concurrent.futures import ThreadPoolExecutor

    kind, m = manager
    if kind == "naive":
        pytest.skip("the naive manager is not thread-safe")
    counter = itertools.count()
    execute = m.execute
    per_thread = BATCH // THREADS
    pool = ThreadPoolExecutor(THREADS)

    def one_thread(base):
        for i in range(per_thread):
            execute(f"{base}{i}", operation)

    def run_batch():
        bases = [f"t{next(counter)}-" for _ in range(THREADS)]
        list(pool.map(one_thread, bases))

    benchmark.group = f"idempotency: first execution, {THREADS} threads ({per_thread * THREADS} calls)"
    benchmark.extra_info.update(store=kind, calls=per_thread * THREADS)
    benchmark(run_batch)
    pool.shutdown()
    assert m.execute("t0-0", lambda: None) == RESULT
