"""News-feed fan-out: sysprims against the seed's own ``FanoutService`` (the
baseline, copied verbatim below) on the same graph and post stream.

Goals (issue #11): push fan-out >= 50M timeline writes/s; newest 20 of a
timeline < 5 us; pull merge across 500 followed authors < 100 us.
"""

from __future__ import annotations

import heapq  # noqa: F401  (the seed imports it)
import itertools

import numpy as np
import pytest

from sysprims.bench.seed_baselines import SeedFanoutService
from sysprims.feed import FanoutService, FeedStore, power_law_graph

# the seed's FanoutService, verbatim, is the baseline
# ---------------------------------------------------------------- workload


def _smoke(config) -> bool:
    return config.getoption("benchmark_disable", False) and not config.getoption("benchmark_enable", False)


@pytest.fixture(scope="module")
def workload(request):
    """Power-law graph (followers up to tens of thousands at full size) and a post stream."""
    smoke = _smoke(request.config)
    n_users = 5_000 if smoke else 100_000
    n_posts = 2_000 if smoke else 50_000
    src, dst = power_law_graph(n_users, mean_following=20, seed=0)
    rng = np.random.default_rng(1)
    fol = np.bincount(dst, minlength=n_users).astype(np.float64)
    w = np.sqrt(fol + 1.0)
    authors = rng.choice(n_users, size=n_posts, p=w / w.sum()).astype(np.int64)
    return {"n_users": n_users, "src": src, "dst": dst, "authors": authors, "smoke": smoke}


@pytest.fixture(scope="module")
def seed_service(workload):
    svc = SeedFanoutService()
    for u, v in zip(workload["src"].tolist(), workload["dst"].tolist(), strict=True):
        svc.follow(u, v)
    return svc


def _store(workload, threshold=None, capacity=800):
    s = FeedStore(workload["n_users"], capacity=capacity, celebrity_threshold=threshold)
    s.follow_many(workload["src"], workload["dst"])
    return s


# ---------------------------------------------------------------- fan-out


@pytest.mark.benchmark(group="feed: push fan-out (timeline writes)")
def test_sysprims_post_many_push(benchmark, workload):
    store = _store(workload)
    authors = workload["authors"]
    store.post_many(authors[:1], 0.0)  # compile/load and first-touch outside the timing
    clock = [1.0]

    def run():
        before = store.timeline_writes
        store.post_many(authors, clock[0])
        clock[0] += 1.0
        return store.timeline_writes - before

    writes = benchmark.pedantic(run, rounds=1 if workload["smoke"] else 5, iterations=1, warmup_rounds=0 if workload["smoke"] else 1)
    assert writes >= len(authors)
    if benchmark.stats:
        rate = writes / benchmark.stats.stats.median
        benchmark.extra_info.update(writes_per_post=writes / len(authors), writes_per_s=rate, goal_writes_per_s=50e6)


@pytest.mark.benchmark(group="feed: push fan-out (timeline writes)")
def test_seed_post_fan_out_on_write(benchmark, workload, seed_service):
    authors = workload["authors"].tolist()[: max(1, len(workload["authors"]) // 10)]  # the seed is slow: a tenth
    counter = [0]

    def run():
        writes = 0
        for a in authors:
            counter[0] += 1
            seed_service.post_fan_out_on_write(a, "", counter[0])
            writes += len(seed_service.followers.get(a, ())) + 1
        return writes

    writes = benchmark.pedantic(run, rounds=1 if workload["smoke"] else 3, iterations=1)
    if benchmark.stats:
        benchmark.extra_info.update(writes_per_s=writes / benchmark.stats.stats.median, posts=len(authors))


# ---------------------------------------------------------------- reads


@pytest.fixture(scope="module")
def posted(workload):
    """Push store, seed service and sysprims service with the same posts."""
    store = _store(workload)
    store.post_many(workload["authors"], 0.0)
    return store


def _busiest(store):
    return int(np.argmax(store._tl_count[: store.n_users]))


@pytest.mark.benchmark(group="feed: newest 20 of a timeline")
def test_sysprims_timeline_newest_20(benchmark, posted):
    u = _busiest(posted)
    out = benchmark(posted.timeline, u, 20)
    assert out.shape == (20,)
    benchmark.extra_info.update(goal_us=5.0)


@pytest.mark.benchmark(group="feed: newest 20 of a timeline")
def test_sysprims_get_feeds_push_per_user(benchmark, posted):
    users = np.random.default_rng(2).integers(0, posted.n_users, 10_000)
    posts, counts = benchmark(posted.get_feeds, users, 20, "push")
    assert posts.shape == (10_000, 20)
    benchmark.extra_info.update(users_per_call=10_000)


@pytest.fixture(scope="module")
def feed_services(workload):
    """The seed and sysprims services with the same small graph and posts (seed API reads)."""
    n = 1_000
    rng = np.random.default_rng(3)
    seed_svc, ours = SeedFanoutService(), FanoutService(celebrity_threshold=None)
    for u, v in rng.integers(0, n, (10 * n, 2)).tolist():
        if u != v:
            seed_svc.follow(u, v)
            ours.follow(u, v)
    for i, a in enumerate(rng.integers(0, n, 10 * n).tolist()):
        seed_svc.post_fan_out_on_write(a, "x", i)
        ours.post_fan_out_on_write(a, "x", i)
    u = max(seed_svc.user_feeds, key=lambda k: len(seed_svc.user_feeds[k]))
    return seed_svc, ours, u


@pytest.mark.benchmark(group="feed: seed API push read, limit 20")
def test_sysprims_get_feed_push_model(benchmark, feed_services):
    _, ours, u = feed_services
    assert len(benchmark(ours.get_feed_push_model, u, 20)) == 20


@pytest.mark.benchmark(group="feed: seed API push read, limit 20")
def test_seed_get_feed_push_model(benchmark, feed_services):
    seed_svc, _, u = feed_services
    assert len(benchmark(seed_svc.get_feed_push_model, u, 20)) == 20


@pytest.fixture(scope="module")
def pull_500():
    """One reader following 500 authors with 40 posts each (20,000 posts, interleaved)."""
    store = FeedStore(501, capacity=800)
    store.follow_many(np.zeros(500, dtype=np.int64), np.arange(1, 501))
    rng = np.random.default_rng(4)
    authors = rng.integers(1, 501, 20_000)
    store.post_many(authors, np.arange(20_000, dtype=np.float64))
    seed_svc = SeedFanoutService()
    for a in range(1, 501):
        seed_svc.follow(0, a)
    for i, a in enumerate(authors.tolist()):
        seed_svc.post_fan_out_on_write(a, "", i)
    return store, seed_svc


@pytest.mark.benchmark(group="feed: pull merge across 500 authors, limit 20")
def test_sysprims_pull_500(benchmark, pull_500):
    store, _ = pull_500
    out = benchmark(store.feed, 0, 20, "pull")
    assert out.tolist() == list(range(19_999, 19_979, -1))
    benchmark.extra_info.update(goal_us=100.0)


@pytest.mark.benchmark(group="feed: pull merge across 500 authors, limit 20")
def test_seed_pull_500(benchmark, pull_500):
    _, seed_svc = pull_500
    out = benchmark(seed_svc.get_feed_pull_model, 0, 20)
    assert [p.post_id for p in out] == list(range(19_999, 19_979, -1))


@pytest.mark.benchmark(group="feed: hybrid read, limit 20")
def test_sysprims_hybrid_read(benchmark, workload):
    store = _store(workload, threshold=1_000)
    store.post_many(workload["authors"], 0.0)
    users = np.random.default_rng(5).integers(0, store.n_users, 1_000).tolist()
    it = itertools.cycle(users)
    benchmark(lambda: store.feed(next(it), 20, "hybrid"))
