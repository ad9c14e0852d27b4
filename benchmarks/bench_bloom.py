"""Bloom filters: sysprims against rbloom, fastbloom-rs, pybloomfiltermmap3,
pyprobables and a Python set, on the same keys in the same run.

The contenders (adapters, call shapes, checks) come from the one registry,
``sysprims.bench.cases.case_bloom``, that ``sysprims bench`` and the tour use.
This file adds sysprims-only groups: other key forms (pyarrow strings,
``HashedKeys``, uint64) and blocked, split-block and standard layouts on a filter larger than
the L3 cache.
"""

from __future__ import annotations

import numpy as np
import pytest

from peers import registry_test
from sysprims.bench.cases import case_bloom
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


# ----------------------------------------------------------------- the registry: every contender, once


test_registry = registry_test(case_bloom, case_bloom.data, rounds=ROUNDS)


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


# ----------------------------------------------------------------- blocked vs standard (beyond L3)


@pytest.fixture(scope="module")
def big_filters(n_keys, int_keys):
    # a filter for 50M keys (~60 MB, beyond the L3 cache) queried at random
    cap = 50_000_000 if n_keys >= 200_000 else 1_000_000
    keys = int_keys.astype(np.uint64)
    filters = {}
    for layout in LAYOUTS:
        filters[layout] = BloomFilter.for_capacity(cap, P, layout=layout)
        filters[layout].add_many(keys)
    return filters, hash_keys(keys)


LAYOUTS = ["standard", "blocked", "split_block"]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.benchmark(group="bloom large filter: query HashedKeys")
def test_large_filter_query(benchmark, big_filters, layout):
    filters, hashed = big_filters
    bf = filters[layout]
    benchmark.extra_info["filter_mb"] = round(bf.nbytes / 2**20, 1)
    out = _run(benchmark, len(hashed), lambda: None, lambda _: bf.contains_many(hashed))
    assert out.all()


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.benchmark(group="bloom large filter: add HashedKeys")
def test_large_filter_add(benchmark, big_filters, layout):
    filters, hashed = big_filters
    bf = filters[layout]
    _run(benchmark, len(hashed), lambda: None, lambda _: bf.add_many(hashed))
