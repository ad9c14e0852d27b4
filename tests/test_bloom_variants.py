"""ScalableBloomFilter and CountingBloomFilter."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sysprims.bloom import CountingBloomFilter, ReadOnlyFilterError, ScalableBloomFilter
from sysprims.errors import IncompatibleError, InvalidParameterError, SerializationError
from sysprims.hashing import hash_keys
from tests.reference.bloom import ReferenceCounting

small_keys = st.lists(st.text(alphabet="abcdef", max_size=4), max_size=80)

# ----------------------------------------------------------------- scalable


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"initial_capacity": 0, "false_positive_rate": 0.01}, "initial_capacity must be >= 1, got 0"),
        ({"initial_capacity": 10, "false_positive_rate": 1.5}, "false_positive_rate must be in (0, 1), got 1.5"),
        ({"initial_capacity": 10, "false_positive_rate": 0.01, "growth": 0.5}, "growth must be >= 1"),
        ({"initial_capacity": 10, "false_positive_rate": 0.01, "tightening": 1.0}, "tightening must be in (0, 1)"),
    ],
)
def test_scalable_bad_parameters(kwargs, fragment):
    with pytest.raises(InvalidParameterError) as info:
        ScalableBloomFilter(**kwargs)
    assert fragment in str(info.value)


@settings(max_examples=40, deadline=None)
@given(keys=small_keys, growth=st.sampled_from([1, 2, 3]), cap=st.integers(1, 6))
def test_scalable_add_many_equals_the_add_loop(keys, growth, cap):
    a = ScalableBloomFilter(cap, 0.2, growth=growth, seed=4)
    loop = [a.add(k) for k in keys]
    b = ScalableBloomFilter(cap, 0.2, growth=growth, seed=4)
    got = b.add_many(keys)
    assert got.tolist() == loop
    assert b._counts == a._counts
    assert len(b.stages) == len(a.stages)
    for sa, sb in zip(a.stages, b.stages, strict=True):
        assert sa == sb
    # split batches (and HashedKeys) give the same too
    c = ScalableBloomFilter(cap, 0.2, growth=growth, seed=4)
    half = len(keys) // 2
    got2 = np.concatenate([c.add_many(keys[:half]), c.add_many(hash_keys(keys[half:], 4))])
    assert got2.tolist() == loop
    assert all(a.contains(k) for k in keys)  # no false negatives
    assert b.contains_many(keys).all()
    assert b.contains_many(keys).tolist() == [b.contains(k) for k in keys]
    assert a.count == sum(loop)


def test_scalable_grows_and_stays_under_target():
    p = 0.01
    sbf = ScalableBloomFilter(1000, p, seed=1)
    keys = [f"in{i}" for i in range(100_000)]
    sbf.add_many(keys)
    assert len(sbf.stages) >= 6
    caps = [s.capacity for s in sbf.stages]
    assert caps == [1000 * 2**i for i in range(len(caps))]
    assert sbf.false_positive_rate_bound() <= p
    assert sbf.contains_many(keys).all()
    measured = sbf.contains_many([f"out{i}" for i in range(400_000)]).mean()
    assert measured <= p
    assert sbf.estimated_false_positive_rate() <= p


def test_scalable_persistence_and_repr(tmp_path):
    sbf = ScalableBloomFilter(100, 0.01, seed=9, blocked=True)
    sbf.add_many([f"k{i}" for i in range(1000)])
    again = ScalableBloomFilter.from_bytes(sbf.to_bytes())
    assert again._counts == sbf._counts and all(a == b for a, b in zip(again.stages, sbf.stages, strict=True))
    assert again.add("new") == sbf.add("new")
    again = pickle.loads(pickle.dumps(sbf))
    assert again.count == sbf.count
    sbf.save(tmp_path / "s.bin")
    mapped = ScalableBloomFilter.load(tmp_path / "s.bin", mmap=True)
    assert mapped.contains("k5")
    with pytest.raises(ReadOnlyFilterError):
        mapped.add("other-new-key")
    assert "ScalableBloomFilter(" in repr(sbf) and "<table>" in sbf._repr_html_()
    blob = sbf.to_bytes()
    with pytest.raises(SerializationError):
        ScalableBloomFilter.from_bytes(blob[:-3])
    cp = sbf.copy()
    cp.clear()
    assert cp.count == 0 and sbf.count > 0 and len(cp.stages) == 1


# ----------------------------------------------------------------- counting


@settings(max_examples=40, deadline=None)
@given(
    ops=st.lists(st.tuples(st.sampled_from(["add", "remove"]), st.text(alphabet="abc", max_size=3)), max_size=80)
)
def test_counting_matches_reference_and_batches_equal_loops(ops):
    ref = ReferenceCounting(64, 3, seed=2)
    cbf = CountingBloomFilter(64, 3, seed=2)
    batch = CountingBloomFilter(64, 3, seed=2)
    for op, key in ops:
        if op == "add":
            ref.add(key)
            cbf.add(key)
        else:
            assert cbf.remove(key) == ref.remove(key)
    assert cbf.counters.tolist() == ref.c
    # the batch twins over runs of equal operations
    i = 0
    while i < len(ops):
        j = i
        while j < len(ops) and ops[j][0] == ops[i][0]:
            j += 1
        keys = [k for _, k in ops[i:j]]
        if ops[i][0] == "add":
            batch.add_many(keys)
        else:
            batch.remove_many(keys)
        i = j
    assert batch.counters.tolist() == ref.c
    probe = ["a", "b", "c", "ab", "zz", ""]
    assert batch.contains_many(probe).tolist() == [ref.contains(k) for k in probe]


def test_counting_remove_semantics():
    cbf = CountingBloomFilter.for_capacity(1000, 0.01, seed=3)
    keys = [f"k{i}" for i in range(1000)]
    cbf.add_many(keys)
    assert cbf.remove_many(keys[:500]).all()
    assert cbf.contains_many(keys[500:]).all()  # no false negatives for the others
    # removed keys are now mostly reported absent
    assert cbf.contains_many(keys[:500]).mean() < 0.05
    # never-added keys are detected (their counters are zero) and change nothing
    before = cbf.counters.copy()
    never = [f"never{i}" for i in range(2000)]
    results = cbf.remove_many(never)
    assert results.mean() < 0.05
    detected = ~results
    assert detected.sum() > 0
    if results.sum() == 0:
        assert np.array_equal(before, cbf.counters)


def test_counting_saturates_and_never_underflows():
    cbf = CountingBloomFilter(8, 1)
    for _ in range(300):
        cbf.add("x")
    assert cbf.counters.max() == 255 and cbf.saturated() == 1
    for _ in range(300):
        assert cbf.remove("x")  # saturated counters stay saturated
    assert cbf.contains("x")
    fresh = CountingBloomFilter(8, 1)
    assert not fresh.remove("x") and fresh.counters.max() == 0


def test_counting_merge_persistence_and_errors(tmp_path):
    a = CountingBloomFilter(256, 3, seed=1)
    b = CountingBloomFilter(256, 3, seed=1)
    a.add_many(["x", "y"])
    b.add_many(["y", "z"])
    both = CountingBloomFilter(256, 3, seed=1)
    both.add_many(["x", "y", "y", "z"])
    assert np.array_equal((a | b).counters, both.counters)
    with pytest.raises(IncompatibleError):
        a | CountingBloomFilter(256, 3, seed=2)
    again = CountingBloomFilter.from_bytes(a.to_bytes())
    assert np.array_equal(again.counters, a.counters) and again.seed == 1
    a.save(tmp_path / "c.bin")
    mapped = CountingBloomFilter.load(tmp_path / "c.bin", mmap=True)
    assert mapped.contains("x")
    with pytest.raises(ReadOnlyFilterError):
        mapped.remove("x")
    with pytest.raises(SerializationError):
        CountingBloomFilter.from_bytes(a.to_bytes()[:-1])
    assert "CountingBloomFilter(" in repr(a) and "<table>" in a._repr_html_()
    assert a.false_positive_rate(10) == pytest.approx((1 - math.exp(-30 / 256)) ** 3)
    with pytest.raises(InvalidParameterError):
        CountingBloomFilter(0, 3)
