"""TrendingTopK: the sliding-window estimates against a textbook twin and brute
force, batch == loop, merge == one stream, clock injected as timestamps."""

from __future__ import annotations

import pickle
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sysprims import hash_keys
from sysprims.countmin import TrendingTopK
from sysprims.errors import IncompatibleError, InvalidParameterError, KeyTypeError
from tests.reference.trending import ReferenceSlidingCMS

KEYS = st.sampled_from(["a", "b", "c", "d", "e", "f", "g", "h"])
# events: (key, time step); times are made non-decreasing with a few late events
EVENTS = st.lists(st.tuples(KEYS, st.integers(0, 3), st.integers(0, 5), st.booleans()), max_size=80)


def _stream(events):
    keys, ts, counts = [], [], []
    t = 0.0
    for key, step, count, late in events:
        t += step * 0.75
        keys.append(key)
        ts.append(t - 2.0 if late else t)
        counts.append(count)
    return keys, ts, counts


@settings(max_examples=60, deadline=None)
@given(events=EVENTS, width=st.integers(1, 20), depth=st.integers(1, 3), window=st.integers(1, 4),
       extra=st.integers(1, 4), cuts=st.lists(st.integers(0, 80), max_size=4))  # fmt: skip
def test_window_estimates_equal_the_textbook_design_and_never_undercount(
    events, width, depth, window, extra, cuts
):
    keys, ts, counts = _stream(events)
    history = window + extra
    tr = TrendingTopK(2, width, depth, interval=1.5, window=window, history=history, seed=5)
    ref = ReferenceSlidingCMS(width, depth, 1.5, window, history, seed=5)
    bounds = sorted({0, len(keys), *[min(c, len(keys)) for c in cuts]})
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        tr.update_many(keys[lo:hi], ts[lo:hi], counts[lo:hi])
        for i in range(lo, hi):
            ref.update(keys[i], ts[i], counts[i])
        probe = ["a", "b", "c", "d", "e", "f", "g", "h", "zz"]
        got = tr.query_many(probe).tolist()
        assert got == [ref.query(k) for k in probe]
        assert tr.baseline_many(probe).tolist() == [ref.baseline(k) for k in probe]
        for k, est in zip(probe, got, strict=True):
            assert est >= ref.true_window_count(k)
        for key, est in tr.top(8):  # reported counts: upper bounds, never above the sketch
            assert ref.true_window_count(key) <= est <= ref.query(key)


@settings(max_examples=40, deadline=None)
@given(
    events=EVENTS,
    k=st.integers(1, 3),
    extra=st.integers(0, 3),
    cuts=st.lists(st.integers(0, 80), max_size=3),
)
def test_batch_equals_loop(events, k, extra, cuts):
    keys, ts, counts = _stream(events)
    args = dict(interval=1.0, window=2, history=5, seed=1, candidates=k + extra)
    loop, batch = TrendingTopK(k, 16, 2, **args), TrendingTopK(k, 16, 2, **args)
    for key, t, c in zip(keys, ts, counts, strict=True):
        loop.update(key, t, c)
    bounds = sorted({0, len(keys), *[min(c, len(keys)) for c in cuts]})
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        batch.update_many(
            np.array(keys[lo:hi], dtype=object),
            np.array(ts[lo:hi]),
            np.array(counts[lo:hi], np.int64),
        )
    assert loop.to_bytes() == batch.to_bytes()
    assert loop.top(k + extra) == batch.top(k + extra)


def test_exact_when_the_table_is_wide_and_candidates_hold_every_key():
    rng = np.random.default_rng(3)
    n = 3000
    keys = [f"k{v}" for v in rng.zipf(1.5, n) % 50]
    ts = np.sort(rng.uniform(0, 100, n))
    tr = TrendingTopK(10, 1 << 14, 4, interval=5, window=3, history=8, candidates=64)
    tr.update_many(keys, ts)
    cur = int(ts[-1] // 5)
    truth = Counter(k for k, t in zip(keys, ts, strict=True) if cur - 2 <= t // 5 <= cur)
    expect = sorted(truth.items(), key=lambda kv: -kv[1])[:10]
    got = tr.top(10)
    assert [c for _k, c in got] == [c for _k, c in expect]
    assert all(truth[k] == c for k, c in got)


def test_a_burst_is_reported_as_trending_and_a_steady_heavy_key_is_not():
    rng = np.random.default_rng(7)
    n = 60_000
    ts = np.sort(rng.uniform(0, 600, n))
    keys = np.array([f"q{v}" for v in rng.zipf(1.3, n) % 5000], dtype=object)
    burst = (ts >= 570) & (rng.random(n) < 0.2)
    keys[burst] = "breaking-news"
    tr = TrendingTopK(5, 4096, 4, interval=10, window=3, history=30, seed=2)
    tr.update_many(keys, ts)
    rising = tr.trending(5)
    assert rising[0].key == "breaking-news" and rising[0].ratio > 50
    steady = Counter(keys[ts < 570].tolist()).most_common(1)[0][0]  # the heaviest key all along
    assert steady in [k for k, _ in tr.top(5)]
    assert all(t.ratio < 2 for t in tr.trending(50) if t.key == steady)
    tr.advance(900.0)  # the window slides past the burst: counts fall, candidates drop out
    assert tr.query("breaking-news") == 0 and tr.window_total() == 0 and tr.top() == []


def test_timestamps_as_datetime64_and_hashed_keys():
    t0 = np.datetime64("2026-01-01T00:00:00", "ns")
    ts = t0 + np.array([0, 1, 2, 61, 62], dtype="timedelta64[s]")
    keys = ["a", "b", "a", "a", "c"]
    a = TrendingTopK(3, 64, 3, interval=60, window=1, history=3, seed=9)
    a.update_many(keys, ts, hashed=hash_keys(keys, 9))
    b = TrendingTopK(3, 64, 3, interval=60, window=1, history=3, seed=9)
    b.update_many(keys, (ts - np.datetime64("1970-01-01", "ns")) / np.timedelta64(1, "s"))
    assert a.to_bytes() == b.to_bytes()
    assert a.top() == [("a", 1), ("c", 1)] or a.top() == [("c", 1), ("a", 1)]
    assert a.baseline_many(["a", "b"]).tolist() == [2, 1]
    with pytest.raises(KeyTypeError):
        a.update_many(hash_keys(keys, 9), ts)


def _stream_for_merge(seed, n=4000):
    rng = np.random.default_rng(seed)
    ts = np.sort(rng.uniform(0, 200, n))
    keys = [f"u{v}" for v in rng.zipf(1.4, n) % 300]
    return keys, ts


def test_merge_of_partitions_equals_one_stream():
    keys, ts = _stream_for_merge(1)
    args = dict(interval=4, window=5, history=20, seed=3)
    whole = TrendingTopK(5, 512, 3, **args)
    whole.update_many(keys, ts)
    parts = [TrendingTopK(5, 512, 3, **args) for _ in range(3)]
    idx = np.random.default_rng(2).integers(
        0, 3, len(keys)
    )  # interleaved in time, each part sorted
    for p, part in enumerate(parts):
        sel = np.flatnonzero(idx == p)
        part.update_many([keys[i] for i in sel], ts[sel])
    merged = parts[0] + parts[1]
    merged.merge(parts[2])
    probe = sorted(set(keys))
    np.testing.assert_array_equal(merged.query_many(probe), whole.query_many(probe))
    np.testing.assert_array_equal(merged.baseline_many(probe), whole.baseline_many(probe))
    assert merged.total == whole.total and merged.window_total() == whole.window_total()
    assert [k for k, _ in merged.top(3)] == [k for k, _ in whole.top(3)]
    # an empty tracker is the identity on either side
    empty = TrendingTopK(5, 512, 3, **args)
    assert (empty + whole).to_bytes() == whole.to_bytes() == (whole + empty).to_bytes()
    with pytest.raises(IncompatibleError):
        whole.merge(TrendingTopK(5, 512, 3, interval=4, window=5, history=21, seed=3))
    with pytest.raises(IncompatibleError):
        whole.merge(object())


def test_round_trip_pickle_and_save(tmp_path):
    keys, ts = _stream_for_merge(4, 500)
    tr = TrendingTopK(4, 128, 3, interval=2, window=3, history=9)
    tr.update_many(keys, ts)
    tr.update(7, ts[-1], 3)
    tr.update(b"\xff", ts[-1], 2)
    assert {7, b"\xff"} <= {k for k, _ in tr.top(16)}
    back = pickle.loads(pickle.dumps(tr))
    assert (
        back.to_bytes() == tr.to_bytes()
        and back.top() == tr.top()
        and back.trending() == tr.trending()
    )
    tr.save(tmp_path / "t.bin")
    loaded = TrendingTopK.load(tmp_path / "t.bin", mmap=True)
    assert loaded.top(16) == tr.top(16)
    loaded.update_many(["x"], [ts[-1]])  # a mapped file is never written through
    assert TrendingTopK.load(tmp_path / "t.bin").to_bytes() == tr.to_bytes()


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(k=0), dict(width=0), dict(depth=0), dict(interval=0), dict(interval=float("nan")),
        dict(window=0), dict(window=5, history=5), dict(dtype="float32"), dict(k=5, candidates=4),
        dict(width=1 << 20, history=5000),
    ],
)  # fmt: skip
def test_parameters_are_validated(kwargs):
    base = dict(k=2, width=8, depth=2, window=2, history=4)
    base.update(kwargs)
    k, w, d = base.pop("k"), base.pop("width"), base.pop("depth")
    with pytest.raises(InvalidParameterError):
        TrendingTopK(k, w, d, **base)


def test_bad_batches_are_rejected_before_any_change():
    tr = TrendingTopK(2, 8, 2, window=2, history=4)
    tr.update("a", 1.0)
    before = tr.to_bytes()
    for keys, ts, counts in [
        (["a", "b"], [1.0], None),
        (["a"], [float("nan")], None),
        (["a"], [float("inf")], None),
        (["a"], ["x"], None),
        (["a"], [1e300], None),
        (["a"], [1.0], [-1]),
        (["a"], [1.0], [2**40]),
        ([1.5], [1.0], None),
    ]:
        with pytest.raises((InvalidParameterError, TypeError)):
            tr.update_many(keys, ts, counts)
        assert tr.to_bytes() == before
    with pytest.raises(InvalidParameterError, match="uint64"):
        tr.update_many(["a", "b"], [2.0, 2.0], [2**32 - 2, 2])
    big = TrendingTopK(2, 8, 2, window=2, history=4, dtype="uint64")
    big.update_many(["a", "b"], [2.0, 2.0], [2**32 - 2, 2])
    assert big.query("a") >= 2**32 - 2


def test_trending_options_and_repr():
    tr = TrendingTopK(3, 256, 3, interval=1, window=2, history=10)
    tr.update_many(["s"] * 80 + ["b"] * 30, list(np.linspace(0, 7.9, 80)) + [8.5] * 30)
    rows = tr.trending(min_count=5)
    assert rows[0].key == "b" and rows[0].expected == 0
    assert all(r.recent >= 5 for r in rows)
    assert tr.trending(by="ratio")[0].key == "b"
    with pytest.raises(InvalidParameterError):
        tr.trending(by="speed")
    assert "TrendingTopK" in repr(tr) and "rising" in tr._repr_html_()


def test_every_trending_kernel_compiles_from_its_warmup_arguments():
    from sysprims import _jit
    from sysprims._kernels import trending  # noqa: F401  (registers the kernels)

    names = [n for n in _jit._REGISTRY if n.startswith("trending.")]
    assert {"trending.trend_update", "trending.trend_query"} <= set(names)
    for name in names:
        dispatcher, factory = _jit._REGISTRY[name]
        for args in factory():
            dispatcher(*args)


@pytest.mark.parametrize("interval", [1.0, 0.1, 3.7, 1e-3, 86400.0])
def test_bucket_boundaries_match_floor_division(interval):
    from sysprims._kernels.trending import _boundary

    rng = np.random.default_rng(1)
    for b in rng.integers(-(10**6), 10**6, 50).tolist():
        t = _boundary(b, interval)
        assert np.floor(t / interval) >= b > np.floor(np.nextafter(t, -np.inf) / interval)


def test_merge_refuses_to_wrap_uint32_counters():
    a = TrendingTopK(2, 8, 2, window=2, history=4)
    b = TrendingTopK(2, 8, 2, window=2, history=4)
    a.update_many(["x"], [1.0], [2**31])
    b.update_many(["x"], [1.0], [2**31])
    with pytest.raises(InvalidParameterError, match="uint64"):
        a.merge(b)
    assert a.query("x") == 2**31  # unchanged
