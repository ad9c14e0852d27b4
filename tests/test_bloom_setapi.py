"""The Bloom filter's set API (what rbloom and ``set`` users expect), checked
against Python ``set`` semantics and against rbloom on the same input."""

from __future__ import annotations

import numpy as np
import pytest

from sysprims.bloom import BloomFilter, CountingBloomFilter, ScalableBloomFilter
from sysprims.errors import IncompatibleError, InvalidParameterError

rbloom = pytest.importorskip("rbloom")

LAYOUTS = [False, True]
N, P = 2_000, 1e-4
A = [f"a{i}" for i in range(1500)]
B = [f"b{i}" for i in range(1500)]
C = A[:700] + B[:700]  # overlaps both


def new(blocked: bool, seed: int = 0) -> BloomFilter:
    return BloomFilter.for_capacity(N, P, seed=seed, blocked=blocked)


def filled(keys, blocked: bool) -> BloomFilter:
    bf = new(blocked)
    bf.add_many(keys)
    return bf


def rb(keys) -> rbloom.Bloom:
    out = rbloom.Bloom(N, P)
    out.update(keys)
    return out


@pytest.mark.parametrize("blocked", LAYOUTS)
def test_update_takes_iterables_like_add_many(blocked):
    ref = filled(A, blocked)
    for form in (A, tuple(A), iter(A), set(A), (k for k in A), np.array(A)):
        bf = new(blocked)
        bf.update(form)
        assert bf == ref
    bf = new(blocked)
    bf.update(A[:500], A[500:1000], iter(A[1000:]))  # several arguments, as set.update
    assert bf == ref
    r = rbloom.Bloom(N, P)
    r.update(A[:500], A[500:1000], iter(A[1000:]))
    assert all(k in r for k in A) and all(bf.contains_many(A))


@pytest.mark.parametrize("blocked", LAYOUTS)
def test_update_mixes_filters_and_keys_and_checks_filters_first(blocked):
    bf = new(blocked)
    bf.update(filled(A, blocked), B)
    assert bf == filled(A + B, blocked)
    before = bf.copy()
    with pytest.raises(IncompatibleError):
        bf.update(C, new(blocked, seed=1))
    assert bf == before  # nothing applied when an argument is refused


@pytest.mark.parametrize("blocked", LAYOUTS)
def test_union_and_intersection_of_several(blocked):
    a, b, c = filled(A, blocked), filled(B, blocked), filled(C, blocked)
    u = a.union(b, c)
    assert u == filled(A + B + C, blocked)
    assert a.union(B, C) == u  # iterables of keys, as set.union
    assert a.union() == a and a.union() is not a
    inter = a.intersection(c, C)
    expected = set(A) & set(C)
    assert all(inter.contains_many(sorted(expected)))  # no false negatives
    others = sorted(set(A + B + C) - expected)
    assert inter.contains_many(others).mean() < 0.01
    # rbloom on the same input agrees on which keys of the universe survive
    r = rb(A).intersection(rb(C), C)
    assert [k in r for k in sorted(expected)] == [True] * len(expected)
    assert np.mean([k in r for k in others]) < 0.01
    inplace = a.copy()
    inplace.intersection_update(c, C)
    assert inplace == inter
    with pytest.raises(IncompatibleError):
        a.intersection(b, new(blocked, seed=3))


@pytest.mark.parametrize("blocked", LAYOUTS)
def test_subset_superset_and_comparisons_follow_set(blocked):
    cases = [(A[:300], A), (A, A), (A, A[:300]), (A, B), ([], A), (A, [])]
    for x, y in cases:
        fx, fy = filled(x, blocked), filled(y, blocked)
        sx, sy = set(x), set(y)
        rx, ry = rb(x), rb(y)
        assert fx.issubset(fy) == (sx <= sy) == rx.issubset(ry), (len(x), len(y))
        assert fx.issuperset(fy) == (sx >= sy) == rx.issuperset(ry)
        assert (fx <= fy) == (sx <= sy) == (rx <= ry)
        assert (fx >= fy) == (sx >= sy) == (rx >= ry)
        assert (fx < fy) == (sx < sy) == (rx < ry)
        assert (fx > fy) == (sx > sy) == (rx > ry)
    with pytest.raises(IncompatibleError):
        filled(A, blocked).issubset(new(blocked, seed=5))
    with pytest.raises(TypeError):
        _ = filled(A, blocked) <= set(A)


@pytest.mark.parametrize("blocked", LAYOUTS)
def test_empty_filter_is_falsy(blocked):
    bf = new(blocked)
    assert not bf and not rbloom.Bloom(N, P)
    bf.add("x")
    assert bf and rb(["x"])
    bf.clear()
    assert not bf
    assert bool(filled(A, blocked).intersection(filled(B, blocked))) is bool(
        np.any(filled(A, blocked).bits & filled(B, blocked).bits)
    )


@pytest.mark.parametrize("blocked", LAYOUTS)
def test_merge_is_in_place_or(blocked):
    a, b = filled(A, blocked), filled(B, blocked)
    want = np.bitwise_or(a.bits, b.bits)
    assert a.merge(b) is a
    assert np.array_equal(a.bits, want)
    assert a == filled(A + B, blocked)
    with pytest.raises(IncompatibleError, match="seed"):
        a.merge(new(blocked, seed=1))
    with pytest.raises(IncompatibleError):
        a.merge(BloomFilter.for_capacity(N * 2, P, blocked=blocked))
    with pytest.raises(IncompatibleError):
        a.merge(new(not blocked))
    with pytest.raises(IncompatibleError):
        a.merge(set(B))


def test_capacity_call_shape_points_to_for_capacity():
    for cls in (BloomFilter, CountingBloomFilter):
        with pytest.raises(InvalidParameterError, match=rf"{cls.__name__}\.for_capacity\(1000, 0\.01\)"):
            cls(1000, 0.01)
        with pytest.raises(InvalidParameterError, match="must be an int"):
            cls(1000, 2.5)  # not a rate: the plain type error stays
    # the scalable filter already takes (capacity, rate), as rbloom does
    assert ScalableBloomFilter(1000, 0.01).false_positive_rate == 0.01


def test_counting_and_scalable_truthiness_and_merge():
    c = CountingBloomFilter.for_capacity(1000, 0.01)
    assert not c
    d = c.copy()
    d.add_many(A[:100])
    assert d
    assert c.merge(d) is c and c.contains_many(A[:100]).all()
    with pytest.raises(IncompatibleError):
        c.merge(CountingBloomFilter.for_capacity(1000, 0.01, seed=2))
    s = ScalableBloomFilter(100, 0.01)
    assert not s
    s.add_many(A[:500])  # grows several stages
    assert s and len(s.stages) > 1
