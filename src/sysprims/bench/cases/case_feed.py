"""News-feed fan-out: sysprims FeedStore against a naive dict-of-lists feed on
the same power-law follow graph and post stream."""

from __future__ import annotations

import numpy as np

from ..naive import NaiveFeed

NAME = "feed"
TITLE = "News-feed fan-out (power-law follow graph)"
ORDER = 80
REQUIRES = ("sysprims.feed",)


def run(ctx) -> None:
    from ...feed import FeedStore, power_law_graph

    # the feed issue's sizes: 100k users (20 follows each on average), 50k posts
    n_users = max(1_000, min(ctx.n // 4, 100_000))
    n_posts = max(500, min(ctx.n // 4, 50_000))
    src, dst = power_law_graph(n_users, mean_following=20, seed=0)
    rng = ctx.rng(1)
    fol = np.bincount(dst, minlength=n_users).astype(np.float64)
    w = np.sqrt(fol + 1.0)
    authors = rng.choice(n_users, size=n_posts, p=w / w.sum()).astype(np.int64)
    writes_per_post = float((fol[authors] + 1).mean())
    case = "push fan-out (per timeline write)"

    def store_setup():
        s = FeedStore(n_users, capacity=800, celebrity_threshold=None)
        s.follow_many(src, dst)
        return (s,)

    def post(s):
        before = s.timeline_writes
        s.post_many(authors, 1.0)
        return s.timeline_writes - before

    writes = post(store_setup()[0])
    ctx.measure(case, "sysprims FeedStore.post_many", "sysprims", post, writes, setup=store_setup,
                note=f"{n_users:,} users, {len(src):,} follows, {n_posts:,} posts")
    naive = NaiveFeed()
    for u, v in zip(src.tolist(), dst.tolist(), strict=True):
        naive.follow(u, v)
    sub = authors[: max(1, min(ctx.n_slow, n_posts) // 10)].tolist()
    naive_writes = sum(len(naive.followers.get(a, set()) | {a}) for a in sub)
    counter = iter(range(1, 1 << 62))

    def naive_post():
        return sum(naive.post(a, next(counter)) for a in sub)

    ctx.measure(case, "naive feed post loop", "naive", naive_post, naive_writes, shape="single",
                note=f"{len(sub):,} posts; {writes_per_post:.0f} writes per post on average")

    case = "read newest 20 (push model)"
    store = store_setup()[0]
    store.post_many(authors, np.arange(n_posts, dtype=np.float64))
    users = ctx.rng(2).integers(0, n_users, min(ctx.profile.n_queries, n_users))
    ctx.measure(case, "sysprims FeedStore.get_feeds (batch)", "sysprims",
                lambda: store.get_feeds(users, 20, "push"), len(users))
    ul = users.tolist()
    ctx.measure(case, "sysprims FeedStore.timeline loop", "sysprims",
                lambda: [store.timeline(u, 20) for u in ul], len(ul), shape="single")
    for a in authors[: min(n_posts, 20_000)].tolist():
        naive.post(a, next(counter))
    ctx.measure(case, "naive push_feed loop", "naive",
                lambda: [naive.push_feed(u, 20) for u in ul], len(ul), shape="single",
                note="sorts the whole timeline on every read")
