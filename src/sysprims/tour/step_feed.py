"""Tour step: jitted push fan-out and feed reads against the textbook per-follower loop."""

from __future__ import annotations

import time

import numpy as np

from ..feed import FeedStore, power_law_graph
from . import Row, timed

NAME = "feed"
ORDER = 90


def run(size: int, rng: np.random.Generator) -> list[Row]:
    n_users = int(min(max(size // 100, 1_000), 20_000))
    n_posts = int(min(max(size // 200, 1_000), 10_000))
    src, dst = power_law_graph(n_users, mean_following=20, seed=int(rng.integers(0, 2**31)))
    fol = np.bincount(dst, minlength=n_users).astype(np.float64)
    w = np.sqrt(fol + 1.0)
    authors = rng.choice(n_users, size=n_posts, p=w / w.sum()).astype(np.int64)
    store = FeedStore(n_users, capacity=200)
    store.follow_many(src, dst)
    store.post_many(authors, 0.0)  # compile, first-touch the timelines
    before = store.timeline_writes
    t, _ = timed(lambda: store.post_many(authors, 1.0))
    writes = store.timeline_writes - before
    # the textbook fan-out: a Python loop appending to per-follower lists, on a sample of posts
    order = np.argsort(dst, kind="stable")
    starts = np.searchsorted(dst[order], np.arange(n_users + 1))
    sample = authors[:1_000].tolist()
    fsets = {a: set(src[order[starts[a]:starts[a + 1]]].tolist()) for a in set(sample)}
    feeds: dict[int, list[int]] = {}
    loop_writes = 0
    start = time.perf_counter()
    for i, a in enumerate(sample):
        for f in fsets[a]:
            if f not in feeds:
                feeds[f] = []
            feeds[f].append(i)
        loop_writes += len(fsets[a])
    loop_s = (time.perf_counter() - start) / max(loop_writes, 1) * writes
    rows = [Row(NAME, "post_many push fan-out (per timeline write)", writes, t,
                f"{writes / max(t, 1e-12) / 1e6:.0f}M writes/s", loop_s, "textbook loop")]
    users = rng.integers(0, n_users, 5_000)
    hybrid = FeedStore(n_users, capacity=200, celebrity_threshold=1_000)
    hybrid.follow_many(src, dst)
    hybrid.post_many(authors, 1.0)
    for model, st in (("push", store), ("hybrid", hybrid), ("pull", store)):
        t, _ = timed(lambda m=model, s=st: s.get_feeds(users, 20, m), repeat=2)  # type: ignore[misc]
        rows.append(Row(NAME, f"get_feeds {model}, newest 20 (per user)", len(users), t))
    return rows
