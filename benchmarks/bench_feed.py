"""News-feed fan-out: sysprims against a naive dict-of-lists feed
(``sysprims.bench.naive.NaiveFeed``) on the same power-law graph and post
stream, with NumPy scatter/gather floors of the same sizes.

Every contender (adapter, call shape, check) comes from the one registry,
``sysprims.bench.cases.case_feed``, that ``sysprims bench`` and the tour use:
push fan-out per timeline write, the newest 20 of a timeline, a pull merge
across 500 followed authors and the classic primer API's push read. The naive
feed is stamped by a counter, so the order a read returns never depends on
the resolution of the machine's clock. This file adds one sysprims-only
group: the hybrid read.

Goals (issue #11): push fan-out >= 50M timeline writes/s (20 ns a write);
newest 20 of a timeline < 5 us; pull merge across 500 followed authors < 100 us.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from peers import registry_test
from sysprims.bench.cases import case_feed

test_registry = registry_test(case_feed, case_feed.data, rounds=3)


@pytest.mark.benchmark(group="feed: hybrid read, limit 20 (sysprims only)")
def test_sysprims_hybrid_read(benchmark, n_keys):
    from sysprims.feed import FeedStore

    d = test_registry.data(n_keys)
    store = FeedStore(d["n_users"], capacity=case_feed.CAPACITY, celebrity_threshold=1_000)
    store.follow_many(*d["graph"])
    store.post_many(d["authors"], 0.0)
    users = np.random.default_rng(5).integers(0, store.n_users, 1_000).tolist()
    it = itertools.cycle(users)
    out = benchmark(lambda: store.feed(next(it), 20, "hybrid"))
    assert len(out) <= 20
