"""Python-object keys read in place (issue #22): ``murmur3_128`` and the keyed
structures on fresh lists of ~21-byte ``str``, against today's buffer path and
per-key peer loops, same keys, same run. ``keys_pyobj_ratios.py`` in this folder
prints the same comparisons as interleaved same-run ratios at 1M/10M keys.

Goals (ratios): ``murmur3_128(list[str])`` >= 3x today's path and >= 10x the
``mmh3`` loop; list of bytes >= 5x the ``mmh3`` loop; non-ASCII within 1.5x of
ASCII; Bloom ``add_many`` >= 2x rbloom ``update``, ``contains_many`` >= 2.5x
rbloom's ``in`` loop; Count-Min >= 3x bounter; ``get_shards`` >= 5x an
``mmh3`` loop.
"""

from __future__ import annotations

import numpy as np
import pytest

from keys_pyobj_ratios import fresh_keys
from peers import peer
from sysprims import BloomFilter, CountMinSketch, murmur3_128
from sysprims.hashing import _hash_batch128
from sysprims.keys import normalize_keys
from sysprims.sharding import HashBasedSharding


@pytest.fixture(scope="module")
def fresh(n_keys):
    return fresh_keys(n_keys)


@pytest.fixture(scope="module")
def fresh_non_ascii(n_keys):
    return fresh_keys(n_keys, non_ascii=True)


def _ns(benchmark, n):
    stats = getattr(benchmark, "stats", None)
    if stats is not None and getattr(stats, "stats", None) is not None:
        benchmark.extra_info["ns_per_key"] = round(stats.stats.median / n * 1e9, 1)


# ------------------------------------------------------------------ hashing


@pytest.mark.benchmark(group="pyobj hash: list of str")
def test_in_place_list_of_str(benchmark, fresh):
    out = benchmark(murmur3_128, fresh)
    _ns(benchmark, len(fresh))
    assert out.shape == (len(fresh), 2)


@pytest.mark.benchmark(group="pyobj hash: list of str")
def test_buffer_path_list_of_str(benchmark, fresh):
    out = benchmark(lambda: _hash_batch128(normalize_keys(fresh), 0))
    _ns(benchmark, len(fresh))
    assert np.array_equal(out, murmur3_128(fresh))


@pytest.mark.benchmark(group="pyobj hash: list of str")
def test_mmh3_loop_list_of_str(benchmark, fresh):
    h = peer("mmh3").hash64
    out = benchmark(lambda: [h(k, 0, signed=False) for k in fresh])
    _ns(benchmark, len(fresh))
    assert len(out) == len(fresh)


@pytest.mark.benchmark(group="pyobj hash: list of str")
def test_in_place_non_ascii(benchmark, fresh_non_ascii):
    out = benchmark(murmur3_128, fresh_non_ascii)
    _ns(benchmark, len(fresh_non_ascii))
    mmh3 = peer("mmh3")
    assert [tuple(r) for r in out[:100].tolist()] == [mmh3.hash64(k, 0, signed=False) for k in fresh_non_ascii[:100]]


@pytest.mark.benchmark(group="pyobj hash: list of bytes")
def test_in_place_list_of_bytes(benchmark, fresh):
    blobs = [k.encode() for k in fresh]
    out = benchmark(murmur3_128, blobs)
    _ns(benchmark, len(blobs))
    assert np.array_equal(out, murmur3_128(fresh))


@pytest.mark.benchmark(group="pyobj hash: list of bytes")
def test_mmh3_loop_list_of_bytes(benchmark, fresh):
    h = peer("mmh3").hash64
    blobs = [k.encode() for k in fresh]
    out = benchmark(lambda: [h(k, 0, signed=False) for k in blobs])
    _ns(benchmark, len(blobs))
    assert len(out) == len(blobs)


# --------------------------------------------------------------- structures


@pytest.mark.benchmark(group="pyobj structures: Bloom build")
def test_bloom_add_many_list_of_str(benchmark, fresh):
    n = len(fresh)
    bf = benchmark.pedantic(lambda b: (b.add_many(fresh), b)[1], setup=lambda: ((BloomFilter.for_capacity(n, 0.01),), {}),
                            rounds=3, iterations=1)
    _ns(benchmark, n)
    assert bf.contains_many(fresh).all()


@pytest.mark.benchmark(group="pyobj structures: Bloom build")
def test_rbloom_update_list_of_str(benchmark, fresh):
    rbloom = peer("rbloom")
    n = len(fresh)
    benchmark.pedantic(lambda b: b.update(fresh), setup=lambda: ((rbloom.Bloom(n, 0.01),), {}), rounds=3, iterations=1)
    _ns(benchmark, n)


@pytest.mark.benchmark(group="pyobj structures: Count-Min update")
def test_countmin_update_many_list_of_str(benchmark, fresh):
    n = len(fresh)
    benchmark.pedantic(lambda c: c.update_many(fresh), setup=lambda: ((CountMinSketch(4096, 5),), {}), rounds=3, iterations=1)
    _ns(benchmark, n)


@pytest.mark.benchmark(group="pyobj structures: Count-Min update")
def test_bounter_update_list_of_str(benchmark, fresh):
    bounter = peer("bounter")
    n = len(fresh)
    benchmark.pedantic(lambda c: c.update(fresh), setup=lambda: ((bounter.CountMinSketch(width=4096, depth=5),), {}),
                       rounds=3, iterations=1)
    _ns(benchmark, n)


@pytest.mark.benchmark(group="pyobj structures: get_shards")
def test_get_shards_list_of_str(benchmark, fresh):
    sh = HashBasedSharding(64)
    out = benchmark(sh.get_shards, fresh)
    _ns(benchmark, len(fresh))
    assert out.tolist()[:50] == [sh.get_shard(k) for k in fresh[:50]]


@pytest.mark.benchmark(group="pyobj structures: get_shards")
def test_mmh3_loop_shards(benchmark, fresh):
    h = peer("mmh3").hash64
    out = benchmark(lambda: [h(k, 0, signed=False)[0] % 64 for k in fresh])
    _ns(benchmark, len(fresh))
    assert len(out) == len(fresh)
