"""News-feed fan-out: sysprims FeedStore against the seed's FanoutService on
the same power-law follow graph and post stream."""

from __future__ import annotations

import numpy as np

from ..seed_baselines import SeedFanoutService

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
    seed_svc = SeedFanoutService()
    for u, v in zip(src.tolist(), dst.tolist(), strict=True):
        seed_svc.follow(u, v)
    sub = authors[: max(1, min(ctx.n_slow, n_posts) // 10)].tolist()
    seed_writes = sum(len(seed_svc.followers.get(a, ())) + 1 for a in sub)
    counter = [0]

    def seed_post():
        for a in sub:
            counter[0] += 1
            seed_svc.post_fan_out_on_write(a, "", counter[0])

    ctx.measure(case, "seed FanoutService.post_fan_out_on_write", "seed", seed_post, seed_writes,
                note=f"{len(sub):,} posts; {writes_per_post:.0f} writes per post on average")

    case = "read newest 20 (push model)"
    store = store_setup()[0]
    store.post_many(authors, np.arange(n_posts, dtype=np.float64))
    users = ctx.rng(2).integers(0, n_users, min(ctx.profile.n_queries, n_users))
    ctx.measure(case, "sysprims FeedStore.get_feeds (batch)", "sysprims",
                lambda: store.get_feeds(users, 20, "push"), len(users))
    ul = users.tolist()
    ctx.measure(case, "sysprims FeedStore.timeline loop", "sysprims",
                lambda: [store.timeline(u, 20) for u in ul], len(ul))
    for i, a in enumerate(authors[: min(n_posts, 20_000)].tolist()):
        seed_svc.post_fan_out_on_write(a, "", 10**9 + i)
    ctx.measure(case, "seed get_feed_push_model loop", "seed",
                lambda: [seed_svc.get_feed_push_model(u, 20) for u in ul], len(ul),
                note="sorts the whole timeline on every read")
