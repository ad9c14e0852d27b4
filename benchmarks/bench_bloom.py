"""Bloom filters: sysprims against rbloom, fastbloom-rs, pybloomfiltermmap3,
pyprobables and a Python set, on the same keys in the same run.

Groups: build / query from a list of str, from pyarrow strings, from
``HashedKeys`` and from a uint64 array; blocked vs standard layout on a filter
larger than the L3 cache; scalar add/contains. ``extra_info`` records ns/key,
memory (bits/key) and measured false-positive rates.
"""

from __future__ import annotations

import numpy as np
import pytest

from peers import peer
from sysprims.bloom import BloomFilter
from sysprims.hashing import hash_keys

P = 0.01
ROUNDS = 5


def _run(benchmark, n, setup, fn, rounds=ROUNDS):
    """Time ``fn(state)`` with a fresh ``setup()`` state per round."""
    result = benchmark.pedantic(lambda s: fn(s), setup=lambda: ((setup(),), {}), rounds=rounds, iterations=1)
    stats = getattr(benchmark, "stats", None)
    if stats is not None and getattr(stats, "stats", None) is not None:
        benchmark.extra_info["ns_per_key"] = round(stats.stats.median / n * 1e9, 1)
    return result


def _fpr(contains_many, other) -> float:
    return float(np.mean(contains_many(other)))


# ----------------------------------------------------------------- build, list of str


@pytest.mark.benchmark(group="bloom build: list of str")
def test_build_str_sysprims(benchmark, str_keys, other_str_keys):
    n = len(str_keys)
    bf = _run(benchmark, n, lambda: BloomFilter.for_capacity(n, P), lambda b: (b.add_many(str_keys), b)[1])
    benchmark.extra_info["bits_per_key"] = round(bf.size / n, 3)
    benchmark.extra_info["fpr"] = _fpr(bf.contains_many, other_str_keys)
    assert bf.contains_many(str_keys).all()


@pytest.mark.benchmark(group="bloom build: list of str")
def test_build_str_sysprims_blocked(benchmark, str_keys):
    n = len(str_keys)
    bf = _run(benchmark, n, lambda: BloomFilter.for_capacity(n, P, blocked=True), lambda b: (b.add_many(str_keys), b)[1])
    benchmark.extra_info["bits_per_key"] = round(bf.size / n, 3)


@pytest.mark.benchmark(group="bloom build: list of str")
def test_build_str_rbloom(benchmark, str_keys, other_str_keys):
    rbloom = peer("rbloom")
    n = len(str_keys)
    bf = _run(benchmark, n, lambda: rbloom.Bloom(n, P), lambda b: (b.update(str_keys), b)[1])
    benchmark.extra_info["bits_per_key"] = round(bf.size_in_bits / n, 3)
    benchmark.extra_info["fpr"] = float(np.mean([k in bf for k in other_str_keys[:50_000]]))


@pytest.mark.benchmark(group="bloom build: list of str")
def test_build_str_fastbloom(benchmark, str_keys):
    fb = peer("fastbloom_rs")
    n = len(str_keys)
    _run(benchmark, n, lambda: fb.FilterBuilder(n, P).build_bloom_filter(), lambda b: b.add_str_batch(str_keys))


@pytest.mark.benchmark(group="bloom build: list of str")
def test_build_str_pybloomfilter(benchmark, str_keys, tmp_path):
    pbf = peer("pybloomfilter")
    n = len(str_keys)
    _run(benchmark, n, lambda: pbf.BloomFilter(n, P), lambda b: b.update(str_keys))


@pytest.mark.benchmark(group="bloom build: list of str")
def test_build_str_probables(benchmark, str_keys):
    probables = peer("probables")
    keys = str_keys[:20_000]  # pure Python: a sample, reported per key
    _run(benchmark, len(keys), lambda: probables.BloomFilter(est_elements=len(keys), false_positive_rate=P),
         lambda b: [b.add(k) for k in keys], rounds=2)


@pytest.mark.benchmark(group="bloom build: list of str")
def test_build_str_python_set(benchmark, str_keys):
    n = len(str_keys)
    _run(benchmark, n, set, lambda s: s.update(str_keys))


# ----------------------------------------------------------------- query, list of str


@pytest.fixture(scope="module")
def built(str_keys):
    rbloom = peer("rbloom")
    n = len(str_keys)
    ours = BloomFilter.for_capacity(n, P)
    ours.add_many(str_keys)
    rb = rbloom.Bloom(n, P)
    rb.update(str_keys)
    return ours, rb


@pytest.mark.benchmark(group="bloom query: list of str")
def test_query_str_sysprims(benchmark, built, other_str_keys):
    ours, _ = built
    out = _run(benchmark, len(other_str_keys), lambda: None, lambda _: ours.contains_many(other_str_keys))
    assert out.mean() < 3 * P


@pytest.mark.benchmark(group="bloom query: list of str")
def test_query_str_rbloom(benchmark, built, other_str_keys):
    _, rb = built
    _run(benchmark, len(other_str_keys), lambda: None, lambda _: [k in rb for k in other_str_keys])


@pytest.mark.benchmark(group="bloom query: list of str")
def test_query_str_fastbloom(benchmark, str_keys, other_str_keys):
    fb = peer("fastbloom_rs")
    b = fb.FilterBuilder(len(str_keys), P).build_bloom_filter()
    b.add_str_batch(str_keys)
    _run(benchmark, len(other_str_keys), lambda: None, lambda _: b.contains_str_batch(other_str_keys))


@pytest.mark.benchmark(group="bloom query: list of str")
def test_query_str_pybloomfilter(benchmark, str_keys, other_str_keys):
    pbf = peer("pybloomfilter")
    b = pbf.BloomFilter(len(str_keys), P)
    b.update(str_keys)
    _run(benchmark, len(other_str_keys), lambda: None, lambda _: [k in b for k in other_str_keys])


@pytest.mark.benchmark(group="bloom query: list of str")
def test_query_str_python_set(benchmark, str_keys, other_str_keys):
    s = set(str_keys)
    _run(benchmark, len(other_str_keys), lambda: None, lambda _: [k in s for k in other_str_keys])


# ----------------------------------------------------------------- other key forms


@pytest.fixture(scope="module")
def forms(str_keys, int_keys):
    pa = pytest.importorskip("pyarrow")
    return {"arrow": pa.array(str_keys, type=pa.string()), "hashed": hash_keys(str_keys), "uint64": int_keys.astype(np.uint64)}


@pytest.mark.parametrize("form", ["arrow", "hashed", "uint64"])
@pytest.mark.benchmark(group="bloom build: arrow / HashedKeys / uint64")
def test_build_forms_sysprims(benchmark, forms, form):
    keys = forms[form]
    n = len(keys)
    _run(benchmark, n, lambda: BloomFilter.for_capacity(n, P), lambda b: b.add_many(keys))


@pytest.mark.parametrize("form", ["arrow", "hashed", "uint64"])
@pytest.mark.benchmark(group="bloom query: arrow / HashedKeys / uint64")
def test_query_forms_sysprims(benchmark, forms, form):
    keys = forms[form]
    n = len(keys)
    bf = BloomFilter.for_capacity(n, P)
    bf.add_many(keys)
    out = _run(benchmark, n, lambda: None, lambda _: bf.contains_many(keys))
    assert out.all()


@pytest.mark.benchmark(group="bloom build: arrow / HashedKeys / uint64")
def test_build_ints_rbloom(benchmark, int_keys):
    rbloom = peer("rbloom")
    ints = int_keys.tolist()
    _run(benchmark, len(ints), lambda: rbloom.Bloom(len(ints), P), lambda b: b.update(ints))


@pytest.mark.benchmark(group="bloom query: arrow / HashedKeys / uint64")
def test_query_ints_rbloom(benchmark, int_keys):
    rbloom = peer("rbloom")
    ints = int_keys.tolist()
    b = rbloom.Bloom(len(ints), P)
    b.update(ints)
    _run(benchmark, len(ints), lambda: None, lambda _: [k in b for k in ints])


# ----------------------------------------------------------------- blocked vs standard (beyond L3)


@pytest.fixture(scope="module")
def big_filters(n_keys, int_keys):
    # a filter for 50M keys (~60 MB, beyond the L3 cache) queried at random
    cap = 50_000_000 if n_keys >= 200_000 else 1_000_000
    std = BloomFilter.for_capacity(cap, P)
    blk = BloomFilter.for_capacity(cap, P, blocked=True)
    keys = int_keys.astype(np.uint64)
    std.add_many(keys)
    blk.add_many(keys)
    return std, blk, hash_keys(keys)


@pytest.mark.parametrize("layout", ["standard", "blocked"])
@pytest.mark.benchmark(group="bloom large filter: query HashedKeys")
def test_large_filter_query(benchmark, big_filters, layout):
    std, blk, hashed = big_filters
    bf = std if layout == "standard" else blk
    benchmark.extra_info["filter_mb"] = round(bf.nbytes / 2**20, 1)
    out = _run(benchmark, len(hashed), lambda: None, lambda _: bf.contains_many(hashed))
    assert out.all()


@pytest.mark.parametrize("layout", ["standard", "blocked"])
@pytest.mark.benchmark(group="bloom large filter: add HashedKeys")
def test_large_filter_add(benchmark, big_filters, layout):
    std, blk, hashed = big_filters
    bf = std if layout == "standard" else blk
    _run(benchmark, len(hashed), lambda: None, lambda _: bf.add_many(hashed))


# ----------------------------------------------------------------- scalar


@pytest.mark.parametrize("op", ["add", "contains"])
@pytest.mark.benchmark(group="bloom scalar: 10k calls")
def test_scalar_sysprims(benchmark, str_keys, op):
    keys = str_keys[:10_000]
    bf = BloomFilter.for_capacity(len(str_keys), P)
    f = bf.add if op == "add" else bf.contains
    _run(benchmark, len(keys), lambda: None, lambda _: [f(k) for k in keys])


@pytest.mark.parametrize("op", ["add", "contains"])
@pytest.mark.benchmark(group="bloom scalar: 10k calls")
def test_scalar_rbloom(benchmark, str_keys, op):
    rbloom = peer("rbloom")
    keys = str_keys[:10_000]
    b = rbloom.Bloom(len(str_keys), P)
    if op == "add":
        _run(benchmark, len(keys), lambda: None, lambda _: [b.add(k) for k in keys])
    else:
        _run(benchmark, len(keys), lambda: None, lambda _: [k in b for k in keys])
