"""FeedStore / FollowGraph / kernels against brute force and plain-Python twins."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sysprims._kernels import feed as K
from sysprims.clock import ManualClock
from sysprims.errors import (
    ClockMovedBackwardsError,
    InvalidParameterError,
    KeyTypeError,
    NotFoundError,
)
from sysprims.feed import FanoutService, FeedStore, FollowGraph, power_law_graph, simulate
from tests.reference import feed as ref

N = 6
user = st.integers(0, N - 1)
op = st.one_of(
    st.tuples(st.just("follow"), user, user),
    st.tuples(st.just("unfollow"), user, user),
    st.tuples(st.just("post"), user, st.just(0)),
    st.tuples(st.just("post_many"), st.lists(user, max_size=6), st.just(0)),
    st.tuples(st.just("follow_many"), st.lists(st.tuples(user, user), max_size=5), st.just(0)),
)


def _apply(ops, store, brute, scalar_only=False):
    for kind, a, b in ops:
        if kind == "follow" and a != b:
            assert store.follow(a, b) == (b not in brute.following[a])
            brute.follow(a, b)
        elif kind == "unfollow":
            assert store.unfollow(a, b) == (b in brute.following[a])
            brute.unfollow(a, b)
        elif kind == "post":
            assert store.post(a, timestamp=float(store.n_posts)) == brute.post(a)
        elif kind == "post_many":
            if scalar_only:
                got = [store.post(x, timestamp=float(store.n_posts)) for x in a]
            else:
                got = store.post_many(np.array(a, dtype=np.int64),
                                      np.arange(store.n_posts, store.n_posts + len(a), dtype=np.float64)).tolist()
            assert got == [brute.post(x) for x in a]
        elif kind == "follow_many":
            pairs = [(x, y) for x, y in a if x != y]
            if scalar_only:
                for x, y in pairs:
                    store.follow(x, y)
            else:
                u = np.array([p[0] for p in pairs], dtype=np.int64)
                v = np.array([p[1] for p in pairs], dtype=np.int64)
                new = {(x, y) for x, y in pairs if y not in brute.following[x]}
                assert store.follow_many(u, v) == len(new)
            for x, y in pairs:
                brute.follow(x, y)


@settings(max_examples=120, deadline=None)
@given(ops=st.lists(op, max_size=40), capacity=st.integers(1, 6),
       threshold=st.one_of(st.none(), st.integers(0, 3)), limit=st.integers(0, 9))
def test_push_pull_hybrid_match_brute_force(ops, capacity, threshold, limit):
    store = FeedStore(N, capacity=capacity, celebrity_threshold=threshold)
    brute = ref.BruteFeed(N, capacity, threshold)
    _apply(ops, store, brute)
    users = np.arange(N)
    for model in ("push", "pull", "hybrid"):
        expect = [getattr(brute, model)(u, limit) for u in range(N)]
        assert [store.feed(u, limit, model).tolist() for u in range(N)] == expect
        posts, counts = store.get_feeds(users, limit, model)
        assert [posts[i, : counts[i]].tolist() for i in range(N)] == expect
        assert np.all(posts[np.arange(posts.shape[1])[None, :] >= counts[:, None]] == -1)
    for u in range(N):
        assert sorted(store.following(u).tolist()) == sorted(brute.following[u])
        assert sorted(store.followers(u).tolist()) == sorted(brute.followers(u))
        assert store.follower_count(u) == len(brute.followers(u))


@settings(max_examples=80, deadline=None)
@given(ops=st.lists(op, max_size=40), capacity=st.integers(1, 6), threshold=st.one_of(st.none(), st.integers(0, 3)))
def test_batch_equals_loop(ops, capacity, threshold):
    a = FeedStore(N, capacity=capacity, celebrity_threshold=threshold)
    b = FeedStore(N, capacity=capacity, celebrity_threshold=threshold)
    _apply(ops, a, ref.BruteFeed(N, capacity, threshold))
    _apply(ops, b, ref.BruteFeed(N, capacity, threshold), scalar_only=True)
    assert a.timeline_writes == b.timeline_writes
    for u in range(N):
        for model in ("push", "pull", "hybrid"):
            assert a.feed(u, capacity, model).tolist() == b.feed(u, capacity, model).tolist()
    assert np.array_equal(a.post_author, b.post_author)


@settings(max_examples=150, deadline=None)
@given(n_authors=st.integers(1, 8), posts=st.lists(st.integers(0, 7), max_size=40),
       ring=st.lists(st.booleans(), max_size=40), cap=st.integers(1, 8), limit=st.integers(0, 50),
       extra=st.booleans(), data=st.data())
def test_merge_kernel_matches_twin(n_authors, posts, ring, cap, limit, extra, data):
    heads = np.full(8, -1, dtype=np.int64)
    prev = np.full(max(len(posts), 1), -1, dtype=np.int64)
    in_ring = []
    for p, a in enumerate(posts):  # post p is either in an author's list or in the ring
        if p < len(ring) and ring[p]:
            in_ring.append(p)
        else:
            prev[p] = heads[a]
            heads[a] = p
    ring_arr = np.zeros(cap, dtype=np.int32)
    for j, p in enumerate(in_ring):
        ring_arr[j % cap] = p
    ring_n = min(len(in_ring), cap)
    authors = np.array(data.draw(st.lists(st.integers(0, 7), unique=True, max_size=n_authors)), dtype=np.int64)
    ex = data.draw(st.integers(0, 7).filter(lambda x: x not in authors.tolist())) if extra else -1
    out = np.empty(limit, dtype=np.int64)
    heap = np.empty(len(authors) + 1, dtype=np.int64)
    k = K.merge_one(authors, np.int64(0), np.int64(len(authors)), np.int64(ex), heads, prev, ring_arr,
                    np.int64(ring_n), np.int64(len(in_ring)), np.int64(limit), out, heap)
    assert out[:k].tolist() == ref.merge_one(authors.tolist(), ex, heads.tolist(), prev.tolist(),
                                             ring_arr.tolist(), ring_n, len(in_ring), limit)


def test_unfollow_removes_posts_from_later_pulls():
    s = FeedStore(3, capacity=10)
    s.follow(0, 1)
    s.follow(0, 2)
    s.post_many([1, 2, 1], [1.0, 2.0, 3.0])
    assert s.feed(0, 10, "pull").tolist() == [2, 1, 0]
    assert s.unfollow(0, 1)
    assert s.feed(0, 10, "pull").tolist() == [1]
    assert s.get_feeds([0], 10, "pull")[0][0, :1].tolist() == [1]
    assert s.feed(0, 10, "push").tolist() == [2, 1, 0]  # pushed posts stay (push semantics)
    assert not s.unfollow(0, 1)


def test_follow_after_posting_pull_sees_old_posts_push_does_not():
    s = FeedStore(2)
    s.post(1, 1.0)
    s.follow(0, 1)
    assert s.feed(0, 5, "push").tolist() == []
    assert s.feed(0, 5, "pull").tolist() == [0]
    s.post(1, 2.0)
    assert s.feed(0, 5, "push").tolist() == [1]


def test_graph_buffer_compaction_matches_sets():
    rng = np.random.default_rng(3)
    g = FollowGraph(50)
    truth = set()
    for step in range(12_000):  # crosses the 4096 compaction threshold more than once
        u, v = (int(x) for x in rng.integers(0, 50, 2))
        if rng.random() < 0.7:
            assert g.follow(u, v) == ((u, v) not in truth)
            truth.add((u, v))
        else:
            assert g.unfollow(u, v) == ((u, v) in truth)
            truth.discard((u, v))
        if step % 3000 == 0:
            assert g.n_edges == len(truth)
    assert g.n_edges == len(truth)
    for u in range(50):
        assert sorted(g.following(u).tolist()) == sorted(v for x, v in truth if x == u)
        assert sorted(g.followers(u).tolist()) == sorted(x for x, v in truth if v == u)
    g.compact()
    assert g.pending == 0
    assert np.all(np.diff(g.following_indptr) >= 0)


def test_unfollow_many():
    s = FeedStore(4)
    s.follow_many([0, 0, 1, 2], [1, 2, 2, 3])
    assert s.unfollow_many([0, 2, 3], [1, 3, 0]) == 2
    assert sorted(s.following(0).tolist()) == [2]
    assert s.following(2).tolist() == []


def test_bad_ids_raise_clear_errors():
    s = FeedStore(3)
    with pytest.raises(NotFoundError, match=r"user must be a user id in \[0, 3\), got 3"):
        s.feed(3)
    with pytest.raises(InvalidParameterError, match="user must be >= 0"):
        s.timeline(-1)
    with pytest.raises(InvalidParameterError, match="must be an int"):
        s.feed(1.5)
    with pytest.raises(NotFoundError, match="authors must hold user ids"):
        s.post_many([0, 7])
    with pytest.raises(InvalidParameterError, match="must hold integers"):
        s.get_feeds(np.array([0.5]))
    with pytest.raises(InvalidParameterError, match="cannot follow themselves"):
        s.follow(1, 1)
    with pytest.raises(InvalidParameterError, match="cannot follow themselves"):
        s.follow_many([0, 2], [1, 2])
    with pytest.raises(InvalidParameterError, match="model must be one of"):
        s.feed(0, 5, "firehose")
    with pytest.raises(InvalidParameterError, match="limit must be >= 0"):
        s.feed(0, -1)
    with pytest.raises(InvalidParameterError, match="capacity must be >= 1"):
        FeedStore(2, capacity=0)
    with pytest.raises(InvalidParameterError, match="celebrity_threshold must be >= 0"):
        FeedStore(2, celebrity_threshold=-1)
    svc = FanoutService()
    with pytest.raises(KeyTypeError, match="user_id must be an int or a str, got float"):
        svc.get_feed_push_model(1.5)
    with pytest.raises(KeyTypeError):
        svc.follow(None, 1)
    assert svc.get_feed_pull_model(42) == []  # unknown user: empty feed, as in the seed
    with pytest.raises(NotFoundError, match="unknown user_id"):
        svc.user_index("nobody")


def test_timestamps_must_not_decrease_and_clock_is_used():
    clock = ManualClock(100.0)
    s = FeedStore(2, clock=clock)
    s.post(0)
    clock.advance(5)
    s.post_many([1, 0])
    assert s.post_timestamp.tolist() == [100.0, 105.0, 105.0]
    with pytest.raises(ClockMovedBackwardsError):
        s.post(0, timestamp=50.0)
    with pytest.raises(ClockMovedBackwardsError):
        s.post_many([0, 1], [200.0, 199.0])
    clock.set(10.0)  # a clock step back is clamped, post order is kept
    p = s.post(1)
    assert s.post_timestamp[p] == 105.0
    assert s.n_posts == 4


def test_users_grow_and_service_batch_matches_scalar():
    clock = ManualClock(0.0)
    a, b = FanoutService(celebrity_threshold=2, clock=clock), FanoutService(celebrity_threshold=2, clock=clock)
    rng = np.random.default_rng(7)
    names = [f"u{i}" for i in range(40)]
    for svc in (a, b):
        for x, y in rng.integers(0, 40, (150, 2)).tolist():
            if x != y:
                svc.follow(names[x], names[y])
        rng = np.random.default_rng(7)
    authors = [names[i] for i in np.random.default_rng(8).integers(0, 40, 300)]
    ids = a.post_many(authors, contents=[f"c{i}" for i in range(300)], post_ids=np.arange(1000, 1300))
    for i, au in enumerate(authors):
        b.post_fan_out_on_write(au, f"c{i}", post_id=1000 + i)
    assert ids.tolist() == list(range(1000, 1300))
    for model, fn in (("push", "get_feed_push_model"), ("pull", "get_feed_pull_model"), ("hybrid", "get_feed_hybrid")):
        posts, counts = a.get_feeds(names + ["ghost"], 15, model)
        assert counts[-1] == 0
        for i, name in enumerate(names):
            fa, fb = getattr(a, fn)(name, 15), getattr(b, fn)(name, 15)
            assert [(p.post_id, p.author_id, p.content) for p in fa] == [(p.post_id, p.author_id, p.content) for p in fb]
            assert posts[i, : counts[i]].tolist() == [p.post_id for p in fa]


def test_repr():
    s = FeedStore(2, capacity=8)
    assert "FeedStore(n_users=2, capacity=8" in repr(s)
    assert "<table>" in s._repr_html_()
    svc = FanoutService()
    assert "FanoutService(" in repr(svc) and "<table>" in svc._repr_html_()


def test_power_law_graph_and_small_simulation():
    src, dst = power_law_graph(2_000, mean_following=10, seed=1)
    assert np.all(src != dst)
    keys = src * 2_000 + dst
    assert np.unique(keys).shape == keys.shape
    counts = np.bincount(dst, minlength=2_000)
    assert counts.max() > 20 * counts.mean()  # heavy tail: the top user far above the mean
    rows = simulate(2_000, 3_000, thresholds=(50,), n_reads=50, capacity=50, seed=1, graph=(src, dst))
    by = {r["strategy"]: r for r in rows}
    assert set(by) == {"push", "pull", "hybrid@50"}
    assert by["pull"]["writes_per_post"] == 1.0  # own timeline only
    assert by["push"]["writes_per_post"] > by["hybrid@50"]["writes_per_post"] > 1.0


def test_post_capacity_error(monkeypatch):
    import sysprims.feed.store as store_mod
    from sysprims.errors import CapacityError

    monkeypatch.setattr(store_mod, "MAX_POSTS", 3)
    s = FeedStore(2)
    s.post_many([0, 1, 0], [1.0, 2.0, 3.0])
    with pytest.raises(CapacityError, match="at most 3 posts"):
        s.post(1, 4.0)
    with pytest.raises(CapacityError):
        s.post_many([1], [4.0])
    assert s.n_posts == 3


def _filled_store():
    s = FeedStore(5, capacity=4, celebrity_threshold=1)
    s.follow_many([0, 1, 2, 3], [4, 4, 0, 1])
    s.post_many([4, 0, 1, 4, 2, 3, 0], np.arange(7, dtype=np.float64))
    s.follow(2, 3)  # a pending change: saved after compaction
    return s


def test_feedstore_round_trip(tmp_path):
    s = _filled_store()
    for t in (FeedStore.from_bytes(s.to_bytes()), _pickle_round(s)):
        assert repr(t) == repr(s)
        for model in ("push", "pull", "hybrid"):
            assert [t.feed(u, 4, model).tolist() for u in range(5)] == [s.feed(u, 4, model).tolist() for u in range(5)]
        t.post_many([4, 2], [9.0, 9.0])  # a loaded store keeps working like the original
        s2 = FeedStore.from_bytes(s.to_bytes())
        s2.post_many([4, 2], [9.0, 9.0])
        assert [t.feed(u, 4, "hybrid").tolist() for u in range(5)] == [s2.feed(u, 4, "hybrid").tolist() for u in range(5)]
    s.save(tmp_path / "f.sysp")
    m = FeedStore.load(tmp_path / "f.sysp", mmap=True)
    assert m.get_feeds(np.arange(5), 4, "pull")[0].tolist() == s.get_feeds(np.arange(5), 4, "pull")[0].tolist()
    with pytest.raises(ClockMovedBackwardsError):
        m.post(0, timestamp=1.0)


def _pickle_round(obj):
    import pickle

    return pickle.loads(pickle.dumps(obj))


def test_feedstore_bad_bytes():
    from sysprims.errors import SerializationError

    blob = _filled_store().to_bytes()
    with pytest.raises(SerializationError):
        FeedStore.from_bytes(blob[:-10])
    bad = bytearray(blob)
    bad[len(bad) // 2] ^= 0xFF
    with pytest.raises(SerializationError):
        FeedStore.from_bytes(bytes(bad))


def test_feedstore_inconsistent_arrays_rejected():
    from sysprims._format import pack
    from sysprims.errors import SerializationError

    s = _filled_store()
    params, arrays, seed = s._to_state()
    for name, value in (("post_prev", 999), ("following_indices", 7), ("tl", -5)):
        bad = {k: v.copy() for k, v in arrays.items()}
        bad[name].reshape(-1)[0] = value
        with pytest.raises(SerializationError, match="inconsistent"):
            FeedStore.from_bytes(pack("feedstore", params, bad, seed=seed))
    short = dict(arrays)
    short["tl_count"] = arrays["tl_count"][:2]
    with pytest.raises(SerializationError):
        FeedStore.from_bytes(pack("feedstore", params, short, seed=seed))


def test_service_batch_validates_before_changing_anything():
    svc = FanoutService()
    with pytest.raises(KeyTypeError, match=r"user_ids\[1\] must be an int or a str, got float"):
        svc.post_many(["a", 2.5])
    with pytest.raises(InvalidParameterError, match="contents must be 2 strings"):
        svc.post_many(["a", "b"], contents=["x"])
    assert svc.store.n_users == 0 and svc.store.n_posts == 0
