"""Sharding: batch routing throughput per strategy against per-key Python peers.

The contenders on str and int keys (sysprims' strategies, a naive per-key
md5 routing, an ``mmh3`` hash-mod loop and an ``mmh3`` + ``bisect`` ring in
plain Python) come from the one registry, ``sysprims.bench.cases.case_sharding``,
that ``sysprims bench`` and the tour use. This file adds 10M int keys per
strategy, raw jump hash, ``HashedKeys`` routing and the movement table
(n -> n+1 shards) for hash-mod, jump and ring.
"""

from __future__ import annotations

import numpy as np
import pytest

from peers import registry_test
from sysprims.bench.cases import case_sharding
from sysprims.hashing import hash_keys
from sysprims.sharding import (
    ConsistentHashRing,
    HashBasedSharding,
    JumpHashSharding,
    RendezvousSharding,
    jump_consistent_hash,
    movement_report,
)


@pytest.fixture(scope="module")
def big_int_keys(n_keys):
    """10M integer keys when measuring, small in smoke mode."""
    n = 10_000_000 if n_keys >= 200_000 else n_keys
    return np.random.default_rng(11).integers(0, 2**63 - 1, size=n, dtype=np.int64)


def _strategies():
    return {
        "hash_mod": HashBasedSharding(64),
        "jump": JumpHashSharding(64),
        "ring_1000x160": ConsistentHashRing(1000, vnodes=160),
        "rendezvous_16": RendezvousSharding(16),
    }


def _rate(benchmark, n):
    stats = getattr(benchmark, "stats", None)
    if stats is None or not getattr(stats, "stats", None):
        return None
    return n / stats.stats.median


@pytest.mark.parametrize("name", list(_strategies()))
def test_get_shards_int(benchmark, big_int_keys, name):
    s = _strategies()[name]
    s.get_shards(big_int_keys[:10])  # compile outside the timing
    benchmark.group = "get_shards int keys (10M)"
    out = benchmark.pedantic(s.get_shards, args=(big_int_keys,), rounds=3, iterations=1)
    assert out.shape == big_int_keys.shape
    benchmark.extra_info["keys_per_s"] = _rate(benchmark, big_int_keys.size)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("name", ["hash_mod", "jump"])
def test_get_shards_int_threads(benchmark, big_int_keys, name, threads):
    """``threads=`` (issue #24 item 5): compare the two rows of a group (wall
    clock; a second thread only helps when a core is free)."""
    s = _strategies()[name]
    s.get_shards(big_int_keys[:100_000], threads=threads)  # compile outside the timing
    benchmark.group = f"get_shards int keys (10M), {name}, threads"
    out = benchmark.pedantic(s.get_shards, args=(big_int_keys,), kwargs={"threads": threads}, rounds=3, iterations=1)
    assert np.array_equal(out[:1000], s.get_shards(big_int_keys[:1000]))
    benchmark.extra_info["keys_per_s"] = _rate(benchmark, big_int_keys.size)


def test_jump_consistent_hash_raw_u64(benchmark, big_int_keys):
    u = big_int_keys.view(np.uint64)
    jump_consistent_hash(u[:10], 64)
    benchmark.group = "get_shards int keys (10M)"
    benchmark.pedantic(jump_consistent_hash, args=(u, 64), rounds=3, iterations=1)
    benchmark.extra_info["keys_per_s"] = _rate(benchmark, u.size)


test_registry = registry_test(case_sharding, case_sharding.data, rounds=3)


def test_get_shards_hashed_keys(benchmark, str_keys):
    hk = hash_keys(str_keys)
    s = ConsistentHashRing(1000, vnodes=160)
    s.get_shards(hk[:10])
    benchmark.group = "get_shards str keys"
    benchmark(s.get_shards, hk)
    benchmark.extra_info["keys_per_s"] = _rate(benchmark, len(str_keys))


def test_movement_table(benchmark, int_keys):
    """n -> n+1 shards: fraction of keys that move (hash-mod vs jump vs ring)."""
    ns = [4, 8, 16, 32, 64] if int_keys.size >= 200_000 else [4, 8]
    keys = int_keys

    def table():
        rows = {}
        for n in ns:
            r1 = ConsistentHashRing(n)
            r1.add_node(n)
            rows[n] = {
                "hash_mod": movement_report(HashBasedSharding(n), HashBasedSharding(n + 1), keys).moved_fraction,
                "jump": movement_report(JumpHashSharding(n), JumpHashSharding(n + 1), keys).moved_fraction,
                "ring": movement_report(ConsistentHashRing(n), r1, keys).moved_fraction,
                "ideal": 1 / (n + 1),
            }
        return rows

    benchmark.group = "movement"
    rows = benchmark.pedantic(table, rounds=1, iterations=1)
    for n, row in rows.items():
        assert row["hash_mod"] > 0.5 and row["jump"] < 2.5 / (n + 1)
    benchmark.extra_info["movement"] = {str(n): {k: round(v, 4) for k, v in r.items()} for n, r in rows.items()}
    ring = ConsistentHashRing(10, vnodes=160)
    loads = np.bincount(ring.get_shards(keys), minlength=10)
    benchmark.extra_info["ring_10x160_max_over_mean"] = float(loads.max() / loads.mean())
