"""News-feed fan-out: sysprims FeedStore against a naive dict-of-lists feed
(``sysprims.bench.naive.NaiveFeed``, stamped by a counter so its order never
depends on the machine clock) on the same power-law follow graph and post
stream, with NumPy scatter/gather floors of the same sizes.

The registry of this component: :func:`data` and ``CONTENDERS`` (each once,
with its adapter, call shape and check); ``sysprims bench``,
``benchmarks/bench_feed.py`` and the tour's feed step use them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..naive import NaiveFeed
from ..registry import BATCH, FLOOR, NAIVE, SINGLE, Contender, clear_memo, measure_all, memo

NAME = "feed"
TITLE = "News-feed fan-out (power-law follow graph)"
ORDER = 80
REQUIRES = ("sysprims.feed",)
FANOUT, READ = "push fan-out (per timeline write)", "read newest 20 (push model)"
PULL, PRIMER = "pull merge across 500 authors (newest 20)", "classic primer API push read (newest 20)"
CAPACITY, LIMIT = 800, 20
READS = 200  # single reads per timed call in the pull and primer-API cases
NAIVE_POSTS = 1_000  # the naive fan-out's posts (each writes to every follower's list)


def data(n: int, seed: int = 42) -> dict[str, Any]:
    """The feed issue's workload scaled to ``n``: ``n // 4`` users (1,000 to
    100,000; 20 follows each on average, power law) and as many posts (500 to
    50,000) by authors drawn by sqrt(followers); ``n`` of the data is the post
    count. Plus the pull case (one reader of 500 authors with 40 posts each)."""
    from ...feed import power_law_graph

    n_users = max(1_000, min(n // 4, 100_000))
    n_posts = max(500, min(n // 4, 50_000))
    src, dst = power_law_graph(n_users, mean_following=20, seed=0)
    rng = np.random.default_rng([seed, 1])
    fol = np.bincount(dst, minlength=n_users)
    w = np.sqrt(fol + 1.0)
    authors = rng.choice(n_users, size=n_posts, p=w / w.sum()).astype(np.int64)
    readers = np.random.default_rng([seed, 2]).integers(0, n_users, min(n_users, max(200, n // 40)))
    pull_authors = np.random.default_rng([seed, 4]).integers(1, 501, 20_000)
    # per-user arrays are wrapped in tuples: only the post stream is sliced to a contender's size
    return {"n": n_posts, "n_users": n_users, "graph": (src, dst), "followers": (fol,), "authors": authors,
            "readers": (readers,), "pull": (pull_authors,)}


def _writes(d: dict[str, Any]) -> int:
    """Timeline writes of ``d``'s posts: each post goes to its author and every follower."""
    return int((d["followers"][0][d["authors"]] + 1).sum())


def _store(d: dict[str, Any]) -> Any:
    from ...feed import FeedStore

    s = FeedStore(d["n_users"], capacity=CAPACITY, celebrity_threshold=None)
    s.follow_many(*d["graph"])
    return s


def _post(s: Any, d: dict[str, Any]) -> int:
    before = s.timeline_writes
    s.post_many(d["authors"], 1.0)
    return s.timeline_writes - before


def _check_writes(writes: int, _state: Any, d: dict[str, Any]) -> dict[str, float]:
    expect = _writes(d)
    assert writes == expect, f"{writes:,} timeline writes, expected {expect:,}"
    return {"writes_per_post": writes / d["n"]}


def _followed(d: dict[str, Any]) -> NaiveFeed:
    def make() -> NaiveFeed:
        f = NaiveFeed()
        for u, v in zip(d["graph"][0].tolist(), d["graph"][1].tolist(), strict=True):
            f.follow(u, v)
        return f

    return memo("naive followed", d, "graph", make)


def _naive_post(f: NaiveFeed, d: dict[str, Any]) -> int:
    return sum(f.post(a, i) for i, a in enumerate(d["authors"].tolist()))


def _scatter_setup(_mod: Any, d: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    table = memo("scatter table", d, "graph", lambda: np.ones(d["n_users"] * CAPACITY, dtype=np.int32))
    idx = np.random.default_rng(6).integers(0, table.size, _writes(d))
    return table, idx, np.arange(idx.size, dtype=np.int32)


def _scatter(st: tuple[np.ndarray, np.ndarray, np.ndarray], _d: dict[str, Any]) -> int:
    table, idx, vals = st
    table[idx] = vals
    return idx.size


# ---------------------------------------------------------------- reads


def _posted(d: dict[str, Any]) -> Any:
    def make() -> Any:
        s = _store(d)
        s.post_many(d["authors"], np.arange(d["n"], dtype=np.float64))
        return s

    return memo("posted", d, "graph", make)


def _naive_posted(d: dict[str, Any]) -> NaiveFeed:
    def make() -> NaiveFeed:
        f = NaiveFeed()
        for u, v in zip(d["graph"][0].tolist(), d["graph"][1].tolist(), strict=True):
            f.follow(u, v)
        for i, a in enumerate(d["authors"][:20_000].tolist()):
            f.post(a, i)
        return f

    return memo("naive posted", d, "graph", make)


def _readers(d: dict[str, Any]) -> np.ndarray:
    return d["readers"][0]


def _reads(d: dict[str, Any]) -> int:
    return len(_readers(d))


def _check_feeds(out: Any, _state: Any, d: dict[str, Any]) -> dict[str, float]:
    """``get_feeds`` rows equal the per-user ``timeline`` calls (on a sample)."""
    posts, counts = out
    store = _posted(d)
    for row, u in enumerate(_readers(d)[:200].tolist()):
        got = posts[row, : counts[row]].tolist()
        assert got == store.timeline(u, LIMIT).tolist(), f"get_feeds row {row} differs from timeline({u})"
    return {"mean_posts": float(np.mean(counts))}


def _gather_setup(_mod: Any, d: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    table = memo("gather table", d, "graph", lambda: np.ones((d["n_users"], CAPACITY), dtype=np.int32))
    return table, _readers(d)


# ---------------------------------------------------------------- one reader of 500 authors (pull)


def _pull_store(d: dict[str, Any]) -> Any:
    from ...feed import FeedStore

    def make() -> Any:
        authors = d["pull"][0]
        s = FeedStore(501, capacity=CAPACITY)
        s.follow_many(np.zeros(500, dtype=np.int64), np.arange(1, 501))
        s.post_many(authors, np.arange(authors.size, dtype=np.float64))
        return s

    return memo("pull store", d, "pull", make)


def _pull_naive(d: dict[str, Any]) -> NaiveFeed:
    def make() -> NaiveFeed:
        f = NaiveFeed()  # stamped by its counter: the order is the posting order, whatever the machine clock
        for a in range(1, 501):
            f.follow(0, a)
        for i, a in enumerate(d["pull"][0].tolist()):
            f.post(a, i)
        return f

    return memo("pull naive", d, "pull", make)


def _newest(d: dict[str, Any]) -> list[int]:
    last = d["pull"][0].size - 1
    return list(range(last, last - LIMIT, -1))


def _check_pull(out: list[Any], _state: Any, d: dict[str, Any]) -> dict[str, float]:
    expect = _newest(d)
    assert all([int(x) for x in o] == expect for o in out), "the pull feed is not the 20 newest posts"
    return {"correct": 1.0}


# ---------------------------------------------------------------- the classic primer API


def _primer_pair(d: dict[str, Any]) -> tuple[Any, NaiveFeed, int]:
    """sysprims' ``FanoutService`` and the naive feed with the same 1,000-user graph and posts."""
    from ...feed import FanoutService

    def make() -> tuple[Any, NaiveFeed, int]:
        rng = np.random.default_rng(3)
        naive, ours = NaiveFeed(), FanoutService(celebrity_threshold=None)
        for u, v in rng.integers(0, 1_000, (10_000, 2)).tolist():
            if u != v:
                naive.follow(u, v)
                ours.follow(u, v)
        for i, a in enumerate(rng.integers(0, 1_000, 10_000).tolist()):
            naive.post(a, i)
            ours.post_fan_out_on_write(a, "x", i)
        u = max(naive.timelines, key=lambda k: len(naive.timelines[k]))
        return ours, naive, u

    return memo("primer pair", d, "pull", make)


def _check_primer(out: list[Any], _state: Any, d: dict[str, Any]) -> dict[str, float]:
    _ours, naive, u = _primer_pair(d)
    expect = naive.push_feed(u, LIMIT)
    got = [[p.post_id if hasattr(p, "post_id") else p for p in o] for o in out]
    assert all(g == expect for g in got), "the push read differs from the naive feed's"
    return {"correct": 1.0}


def _times(f: Any, *args: Any) -> list[Any]:
    return [f(*args) for _ in range(READS)]


def _contenders() -> list[Contender]:
    return [
        Contender(FANOUT, "sysprims FeedStore.post_many", "sysprims", BATCH, setup=lambda _m, d: _store(d),
                  call=_post, count=_writes, check=_check_writes,
                  note="per timeline write; the workload's users, follows and posts"),
        Contender(FANOUT, "naive feed post loop", NAIVE, SINGLE, size=NAIVE_POSTS, count=_writes,
                  setup=lambda _m, d: _followed(d), call=_naive_post, check=_check_writes,
                  note="one post() per post, a list append per follower"),
        Contender(FANOUT, "floor: NumPy random scatter of the same writes", FLOOR, BATCH, count=_writes,
                  setup=_scatter_setup, call=_scatter,
                  note="one int32 written at a random place of a table the size of the timelines, per write"),
        Contender(READ, "sysprims FeedStore.get_feeds (batch)", "sysprims", BATCH, count=_reads,
                  setup=lambda _m, d: _posted(d), call=lambda s, d: s.get_feeds(_readers(d), LIMIT, "push"),
                  check=_check_feeds),
        Contender(READ, "sysprims FeedStore.timeline loop", "sysprims", SINGLE, count=_reads,
                  setup=lambda _m, d: _posted(d), call=lambda s, d: [s.timeline(u, LIMIT) for u in _readers(d).tolist()]),
        Contender(READ, "naive push_feed loop", NAIVE, SINGLE, count=_reads, setup=lambda _m, d: _naive_posted(d),
                  call=lambda f, d: [f.push_feed(u, LIMIT) for u in _readers(d).tolist()],
                  note="sorts the whole timeline on every read"),
        Contender(READ, "floor: NumPy gather of 20 per reader", FLOOR, BATCH, count=_reads, setup=_gather_setup,
                  call=lambda st, d: st[0][st[1], :LIMIT],
                  note="20 int32 read from each reader's row of a table the size of the timelines"),
        Contender(PULL, "sysprims FeedStore.feed(pull) loop", "sysprims", SINGLE, count=lambda d: READS,
                  setup=lambda _m, d: _pull_store(d), call=lambda s, d: _times(s.feed, 0, LIMIT, "pull"),
                  check=_check_pull, note="500 followed authors, 40 posts each, interleaved"),
        Contender(PULL, "naive pull_feed loop", NAIVE, SINGLE, count=lambda d: READS,
                  setup=lambda _m, d: _pull_naive(d), call=lambda f, d: _times(f.pull_feed, 0, LIMIT),
                  check=_check_pull, note="gathers and sorts every followed author's posts"),
        Contender(PRIMER, "sysprims FanoutService.get_feed_push_model loop", "sysprims", SINGLE,
                  count=lambda d: READS, setup=lambda _m, d: _primer_pair(d),
                  call=lambda p, d: _times(p[0].get_feed_push_model, p[2], LIMIT), check=_check_primer),
        Contender(PRIMER, "naive push_feed loop", NAIVE, SINGLE, count=lambda d: READS,
                  setup=lambda _m, d: _primer_pair(d), call=lambda p, d: _times(p[1].push_feed, p[2], LIMIT),
                  check=_check_primer),
    ]


CONTENDERS = _contenders()


def run(ctx) -> None:
    try:
        measure_all(ctx, CONTENDERS, data(ctx.n, ctx.seed))
    finally:
        clear_memo()
