"""Idempotency keys: per-call cost of a cache hit, of a first execution and of
a hit with a body fingerprint, per store (memory, SQLite, Redis), against a
naive in-memory dict manager (``sysprims.bench.naive.NaiveIdempotency``: no
maintained Python peer library exists), with floors (one SQLite INSERT
transaction per call, one Redis PING).

Every contender (adapter, call shape, check) comes from the one registry,
``sysprims.bench.cases.case_idempotency``, that ``sysprims bench`` and the
tour use; this file gives its Redis rows a real ``redis-server`` (the
``redis_url`` fixture). Every row is one call at a time; ``extra_info``
carries ns per call. This file adds one sysprims-only group: 8 client threads
on one manager.

Issue goals: memory hit < 2 us; SQLite and Redis >= 5,000 first executions/s.
"""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor

import pytest

from peers import bench_contender, contender_id
from sysprims.bench.cases import case_idempotency as case
from sysprims.bench.registry import missing_needs

N_CALLS = 2_000


@pytest.mark.parametrize("c", case.CONTENDERS, ids=contender_id)
def test_registry(benchmark, request, c):
    d = case.data(N_CALLS)
    for need in c.needs:  # a real server for the Redis rows
        d[need] = request.getfixturevalue(need)
    assert not missing_needs(c, d)
    bench_contender(benchmark, case.NAME, c, d, rounds=3)


THREADS, PER_THREAD = 8, 25


@pytest.mark.parametrize("kind", ["memory", "sqlite", "redis"])
def test_first_execution_8_threads(benchmark, request, kind):
    """Aggregate throughput of first executions with 8 client threads on one
    manager (the Redis and SQLite calls release the GIL while they wait)."""
    label = {"memory": "sysprims memory store", "sqlite": "sysprims SQLite store", "redis": "sysprims Redis store"}
    make = next(s[3] for s in case.STORES if s[0] == label[kind])
    d = case.data(THREADS * PER_THREAD)
    if kind == "redis":
        d["redis_url"] = request.getfixturevalue("redis_url")
    m = make(d)
    execute, counter = m.mgr.execute, itertools.count()

    def one_thread(base):
        for i in range(PER_THREAD):
            execute(f"{base}{i}", m.op)

    with ThreadPoolExecutor(THREADS) as pool:

        def run_batch():
            list(pool.map(one_thread, [f"t{next(counter)}-" for _ in range(THREADS)]))

        benchmark.group = f"idempotency: first execution, {THREADS} threads ({THREADS * PER_THREAD} calls)"
        benchmark.extra_info.update(store=kind, calls=THREADS * PER_THREAD)
        benchmark(run_batch)
    assert m.mgr.execute("t0-0", lambda: None) == case.RESULT
    assert m.runs == PER_THREAD * next(counter)  # one base per thread and batch: every fresh key ran once
    m.close()
