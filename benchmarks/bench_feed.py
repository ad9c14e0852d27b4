"""News-feed fan-out: sysprims against a naive dict-of-lists feed
(``sysprims.bench.naive.NaiveFeed``) on the same graph and post stream.

The naive feed stamps posts from an injected clock (here a counter, one tick
per post), so the order a read returns never depends on the resolution of
the machine's clock.

Goals (issue #11): push fan-out >= 50M timeline writes/s; newest 20 of a
timeline < 5 us; pull merge across 500 followed authors < 100 us.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from sysprims.bench.naive import NaiveFeed
from sysprims.feed import FanoutService, FeedStore, power_law_graph

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
def naive_feed(workload):
    svc = NaiveFeed()
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
def test_naive_post_fan_out_on_write(benchmark, workload, naive_feed):
    authors = workload["authors"].tolist()[: max(1, len(workload["authors"]) // 10)]  # naive is slow: a tenth
    counter = itertools.count(1)

    def run():
        return sum(naive_feed.post(a, next(counter)) for a in authors)

    writes = benchmark.pedantic(run, rounds=1 if workload["smoke"] else 3, iterations=1)
    if benchmark.stats:
        benchmark.extra_info.update(writes_per_s=writes / benchmark.stats.stats.median, posts=len(authors))


# ---------------------------------------------------------------- reads


@pytest.fixture(scope="module")
def posted(workload):
    """A push store with the workload's posts."""
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
    """The naive feed and sysprims' classic-primer-API service with the same small graph and posts."""
    n = 1_000
    rng = np.random.default_rng(3)
    naive, ours = NaiveFeed(), FanoutService(celebrity_threshold=None)
    for u, v in rng.integers(0, n, (10 * n, 2)).tolist():
        if u != v:
            naive.follow(u, v)
            ours.follow(u, v)
    for i, a in enumerate(rng.integers(0, n, 10 * n).tolist()):
        naive.post(a, i)
        ours.post_fan_out_on_write(a, "x", i)
    u = max(naive.timelines, key=lambda k: len(naive.timelines[k]))
    return naive, ours, u


@pytest.mark.benchmark(group="feed: classic primer API push read, limit 20")
def test_sysprims_get_feed_push_model(benchmark, feed_services):
    naive, ours, u = feed_services
    got = benchmark(ours.get_feed_push_model, u, 20)
    assert [p.post_id for p in got] == naive.push_feed(u, 20)


@pytest.mark.benchmark(group="feed: classic primer API push read, limit 20")
def test_naive_push_feed(benchmark, feed_services):
    naive, _, u = feed_services
    assert len(benchmark(naive.push_feed, u, 20)) == 20


@pytest.fixture(scope="module")
def pull_500():
    """One reader following 500 authors with 40 posts each (20,000 posts, interleaved)."""
    store = FeedStore(501, capacity=800)
    store.follow_many(np.zeros(500, dtype=np.int64), np.arange(1, 501))
    rng = np.random.default_rng(4)
    authors = rng.integers(1, 501, 20_000)
    store.post_many(authors, np.arange(20_000, dtype=np.float64))
    naive = NaiveFeed()  # stamped by its counter clock: the order is the posting order, whatever the machine clock
    for a in range(1, 501):
        naive.follow(0, a)
    for i, a in enumerate(authors.tolist()):
        naive.post(a, i)
    return store, naive


@pytest.mark.benchmark(group="feed: pull merge across 500 authors, limit 20")
def test_sysprims_pull_500(benchmark, pull_500):
    store, _ = pull_500
    out = benchmark(store.feed, 0, 20, "pull")
    assert out.tolist() == list(range(19_999, 19_979, -1))
    benchmark.extra_info.update(goal_us=100.0)


@pytest.mark.benchmark(group="feed: pull merge across 500 authors, limit 20")
def test_naive_pull_500(benchmark, pull_500):
    _, naive = pull_500
    out = benchmark(naive.pull_feed, 0, 20)
    assert out == list(range(19_999, 19_979, -1))


@pytest.mark.benchmark(group="feed: hybrid read, limit 20")
def test_sysprims_hybrid_read(benchmark, workload):
    store = _store(workload, threshold=1_000)
    store.post_many(workload["authors"], 0.0)
    users = np.random.default_rng(5).integers(0, store.n_users, 1_000).tolist()
    it = itertools.cycle(users)
    benchmark(lambda: store.feed(next(it), 20, "hybrid"))
