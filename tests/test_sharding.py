"""Sharding: the classic primer API, fixes, references, batch == loop."""

from __future__ import annotations

import pickle

import mmh3
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sysprims.errors import InvalidParameterError, KeyTypeError, NotFoundError, SerializationError
from sysprims.hashing import hash_keys
from sysprims.sharding import (
    ConsistentHashRing,
    GeoBasedSharding,
    HashBasedSharding,
    JumpHashSharding,
    NoShardError,
    RangeBasedSharding,
    RendezvousSharding,
    ShardedDatabase,
    ShardingStrategy,
    jump_consistent_hash,
    movement_report,
)
from tests.reference import sharding as ref

# ------------------------------------------------------ the classic primer API


def test_users_spread_over_shards_with_the_classic_primer_api():
    """``ShardedDatabase(num_shards, strategy)`` with ``put`` / ``get`` / ``get_shard_stats``."""
    db = ShardedDatabase(num_shards=4, strategy=HashBasedSharding(num_shards=4))
    users = [f"user_{i}" for i in range(100)]
    for user in users:
        db.put(user, {"name": user, "email": f"{user}@example.com"})
    # expected distribution from mmh3 itself, not from sysprims
    counts = [0, 0, 0, 0]
    for user in users:
        counts[mmh3.hash64(user.encode(), 0, signed=False)[0] % 4] += 1
    assert db.get_shard_stats() == counts and sum(counts) == 100
    assert db.get("user_7") == {"name": "user_7", "email": "user_7@example.com"}
    assert db.get("nobody") is None

    ranges = [(0, 25, 0), (25, 50, 1), (50, 75, 2), (75, 100, 3)]
    db_range = ShardedDatabase(num_shards=4, strategy=RangeBasedSharding(ranges))
    for i in range(100):
        db_range.put(str(i), f"user_{i}")
    assert db_range.get_shard_stats() == [25, 25, 25, 25]
    assert db_range.get("42") == "user_42"


def test_base_class_is_abstract_and_loops():
    class FirstChar(ShardingStrategy):
        def get_shard(self, key):
            return ord(key[0]) % 3

    with pytest.raises(NotImplementedError):
        ShardingStrategy().get_shard("x")
    keys = ["apple", "kiwi", "zebra", "apple"]
    assert FirstChar().get_shards(keys).tolist() == [FirstChar().get_shard(k) for k in keys]
    db = ShardedDatabase(3, FirstChar())
    db.put("apple", 1)
    assert db.get("apple") == 1


def test_range_fixes():
    with pytest.raises(InvalidParameterError, match="overlap"):
        RangeBasedSharding([(0, 30, 0), (25, 50, 1)])
    with pytest.raises(InvalidParameterError, match="sorted"):
        RangeBasedSharding([(25, 50, 1), (0, 25, 0)])
    with pytest.raises(InvalidParameterError, match="min < max"):
        RangeBasedSharding([(5, 5, 0)])
    with pytest.raises(InvalidParameterError):
        RangeBasedSharding([])
    r = RangeBasedSharding([(0, 25, 0), (30, 50, 1)])
    assert r.get_shard("24") == 0 and r.get_shard(30) == 1 and r.get_shard("49") == 1
    for outside in ("25", 29, "50", -1, 2**64 - 1, 10**30):
        with pytest.raises(NoShardError):
            r.get_shard(outside)
    with pytest.raises(NoShardError, match=r"keys\[1\]"):
        r.get_shards(np.array([1, 27]))
    assert isinstance(NoShardError("x"), NotFoundError)
    rf = RangeBasedSharding([(0, 25, 0), (30, 50, 1)], fallback=7)
    assert rf.get_shard("27") == 7 and rf.get_shards(["27", "3", "-5"]).tolist() == [7, 0, 7]
    with pytest.raises(KeyTypeError):
        r.get_shard("abc")
    with pytest.raises(KeyTypeError):
        r.get_shard(1.5)
    assert r.shard_ids() == [0, 1] and rf.shard_ids() == [0, 1, 7]


def test_geo_fixes():
    g = GeoBasedSharding({"US": 0, "EU": 1, "ASIA": 2})
    assert g.get_shard("user_EU_1") == 1 and g.get_shard(b"user_ASIA_9") == 2
    with pytest.raises(NoShardError, match="unknown region 'MARS'"):
        g.get_shard("user_MARS_1")
    with pytest.raises(NoShardError, match="no region"):
        g.get_shard("user1")
    with pytest.raises(KeyTypeError):
        g.get_shard(5)
    g2 = GeoBasedSharding({"US": 0, "EU": 1}, fallback=3, default_region="US")
    assert g2.get_shard("user1") == 0 and g2.get_shard("user_MARS_1") == 3
    keys = ["user_EU_1", "user_MARS_2", "x", "user_US_3"]
    assert g2.get_shards(keys).tolist() == [g2.get_shard(k) for k in keys] == [1, 3, 0, 0]
    with pytest.raises(NoShardError, match=r"keys\[1\]"):
        g.get_shards(["user_EU_1", "user_MARS_2"])
    with pytest.raises(KeyTypeError):
        g.get_shards(hash_keys(["a"]))


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "4"])
def test_hash_validation(bad):
    with pytest.raises(InvalidParameterError):
        HashBasedSharding(bad)


# ------------------------------------------------------------------ references


def test_jump_matches_paper_loop_on_random_uint64():
    rng = np.random.default_rng(1)
    keys = rng.integers(0, 2**64, size=3000, dtype=np.uint64)
    keys[:4] = [0, 1, 2**63, 2**64 - 1]
    for n in (1, 2, 3, 10, 1000, 2**31 - 1):
        got = jump_consistent_hash(keys, n)
        assert got.dtype == np.int64
        expected = [ref.jump(int(k), n) for k in keys[:600]]
        assert got[:600].tolist() == expected
        assert jump_consistent_hash(int(keys[5]), n) == ref.jump(int(keys[5]), n)
    # negative ints are their two's complement; strings go through murmur3 h1
    assert jump_consistent_hash(-1, 77) == ref.jump(2**64 - 1, 77)
    assert jump_consistent_hash(["abc"], 77).tolist() == [ref.jump(ref.h1("abc"), 77)] == [jump_consistent_hash("abc", 77)]
    with pytest.raises(InvalidParameterError):
        jump_consistent_hash(keys, 0)


# Outputs of the paper's reference C++ code for num_buckets = 1, 2, ...,
# as published in the test suite of github.com/dgryski/go-jump (jump_test.go).
JUMP_VECTORS = {
    0: [0] * 20,
    1: [0, 0, 0, 0, 0, 0, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 17, 17],
    0xDEADBEEF: [0, 1, 2, 3, 3, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 16, 16, 16],
    0x0DDC0FFEEBADF00D: [0, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 15, 15, 15, 15],
}


@pytest.mark.parametrize("key", sorted(JUMP_VECTORS))
def test_jump_published_vectors(key):
    want = JUMP_VECTORS[key]
    keys = np.full(1, key, dtype=np.uint64)
    assert [int(jump_consistent_hash(keys, n + 1)[0]) for n in range(len(want))] == want
    assert [jump_consistent_hash(key, n + 1) for n in range(len(want))] == want


def test_hash_mod_matches_mmh3():
    keys = [f"k{i}" for i in range(500)] + ["", "é", "x" * 40]
    s = HashBasedSharding(7, seed=99)
    assert s.get_shards(keys).tolist() == [ref.hash_mod(k, 7, 99) for k in keys]
    ints = np.array([0, -1, 2**62, 5], dtype=np.int64)
    assert s.get_shards(ints).tolist() == [ref.hash_mod(int(k), 7, 99) for k in ints]


def test_ring_matches_bisect_reference():
    nodes = ["a", "b", "c", "d", "e"]
    ring = ConsistentHashRing(nodes, vnodes=20, weights=[1, 1, 2, 0.5, 1], seed=3)
    pts = ref.ring_points(list(zip(nodes, range(5), strict=True)), 20, 3, [1, 1, 2, 0.5, 1])
    assert ring.num_points == len(pts) == 20 + 20 + 40 + 10 + 20
    keys = [f"key{i}" for i in range(2000)]
    assert ring.get_shards(keys).tolist() == [ref.ring_lookup(pts, k, 3) for k in keys]
    assert [ring.get_node(k) for k in keys[:10]] == [nodes[ref.ring_lookup(pts, k, 3)] for k in keys[:10]]


def test_ring_wraps_and_edges():
    ring = ConsistentHashRing([7, 9], vnodes=1)
    pts = ref.ring_points([(7, 7), (9, 9)], 1)
    # a key hashing past the last point wraps to the first
    keys = [f"w{i}" for i in range(400)]
    hs = [ref.h1(k) for k in keys]
    assert any(h > pts[-1][0] for h in hs) and any(h <= pts[0][0] for h in hs)
    assert ring.get_shards(keys).tolist() == [ref.ring_lookup(pts, k) for k in keys]
    assert ring.shard_ids() == [7, 9]


def test_rendezvous_matches_reference():
    nodes = ["n0", "n1", "n2", "n3"]
    keys = [f"key{i}" for i in range(1500)]
    ids = list(zip(nodes, range(4), strict=True))
    plain = RendezvousSharding(nodes, seed=5)
    assert plain.get_shards(keys).tolist() == [ref.rendezvous(k, ids, 5) for k in keys]
    w = [1.0, 2.0, 3.0, 4.0]
    weighted = RendezvousSharding(nodes, weights=w, seed=5)
    assert weighted.get_shards(keys).tolist() == [ref.rendezvous(k, ids, 5, w) for k in keys]


# ------------------------------------------------------------------ batch == loop


def _strategies():
    return [
        HashBasedSharding(5, seed=1),
        ConsistentHashRing(["a", "b", "c"], vnodes=16, seed=1),
        JumpHashSharding(6, seed=1),
        RendezvousSharding(4, seed=1),
        RendezvousSharding(["x", "y", "z"], weights=[1, 3, 0.5], seed=1),
    ]


keys_st = st.one_of(
    st.lists(st.text(max_size=12), max_size=40),
    st.lists(st.binary(max_size=24), max_size=40),
    st.lists(st.integers(min_value=-(2**63), max_value=2**64 - 1), max_size=40),
)


@settings(max_examples=60, deadline=None)
@given(keys=keys_st)
def test_batch_equals_loop_hashed(keys):
    for s in _strategies():
        loop = [s.get_shard(k) for k in keys]
        assert s.get_shards(keys).tolist() == loop
        assert s.get_shards(hash_keys(keys, seed=1)).tolist() == loop


def test_batch_forms_agree():
    pa = pytest.importorskip("pyarrow")
    words = [f"user_{i}" for i in range(300)] + ["user_1", "user_1"]
    ints = list(range(-5, 295)) + [3, 3]
    for s in _strategies():
        loop = [s.get_shard(w) for w in words]
        for form in (words, tuple(words), np.array(words), np.array(words, dtype=object),
                     np.array([w.encode() for w in words]), pa.array(words), pa.chunked_array([words[:7], words[7:]])):
            assert s.get_shards(form).tolist() == loop
        iloop = [s.get_shard(i) for i in ints]
        for form in (ints, np.array(ints), np.array(ints, dtype=np.int32), pa.array(ints, type=pa.int64())):
            assert s.get_shards(form).tolist() == iloop
        with pytest.raises(Exception, match="seed"):
            s.get_shards(hash_keys(words, seed=2))


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.integers(min_value=-(2**65), max_value=2**65), max_size=40), fb=st.booleans())
def test_range_batch_equals_loop(values, fb):
    r = RangeBasedSharding([(-100, 0, 2), (0, 10, 0), (20, 2**62, 1)], fallback=5 if fb else None)

    def one(v):
        try:
            return r.get_shard(v)
        except NoShardError:
            return None

    loop = [one(v) for v in values]
    if None in loop:
        with pytest.raises(NoShardError):
            r.get_shards(values)
        return
    assert r.get_shards(values).tolist() == loop
    assert r.get_shards([str(v) for v in values]).tolist() == loop
    if all(-(2**63) <= v < 2**63 for v in values):
        assert r.get_shards(np.array(values, dtype=np.int64)).tolist() == loop
    if all(0 <= v < 2**64 for v in values):
        assert r.get_shards(np.array(values, dtype=np.uint64)).tolist() == loop


def test_empty_batches():
    for s in _strategies() + [RangeBasedSharding([(0, 1, 0)]), GeoBasedSharding({"US": 0})]:
        out = s.get_shards([])
        assert out.dtype == np.int64 and out.shape == (0,)


# ------------------------------------------------------------------ movement


def test_movement_hash_mod_vs_jump_vs_ring():
    keys = np.arange(40_000, dtype=np.int64)
    n = 8
    hm = movement_report(HashBasedSharding(n), HashBasedSharding(n + 1), keys)
    jp = movement_report(JumpHashSharding(n), JumpHashSharding(n + 1), keys)
    # Exact expectations: hash-mod moves a key unless h%8 == h%9, i.e. 1 - 8/72*... ;
    # over uniform h the stay probability is 1/(n+1) (residues mod 72 with equal
    # remainders: 8 of 72), so moved ~ n/(n+1); jump moves exactly the keys
    # that land in the new bucket, expectation 1/(n+1).
    sd = (0.25 / keys.size) ** 0.5  # binomial standard deviation bound
    assert abs(hm.moved_fraction - n / (n + 1)) < 6 * sd
    assert abs(jp.moved_fraction - 1 / (n + 1)) < 6 * sd
    # jump: every moved key moved to the new bucket
    a, b = JumpHashSharding(n).get_shards(keys), JumpHashSharding(n + 1).get_shards(keys)
    assert set(b[a != b].tolist()) == {n}
    r0 = ConsistentHashRing(n, vnodes=160)
    r1 = ConsistentHashRing(n, vnodes=160)
    r1.add_node(n)
    rr = movement_report(r0, r1, keys)
    ra, rb = r0.get_shards(keys), r1.get_shards(keys)
    assert set(rb[ra != rb].tolist()) == {n}  # only keys the new node takes move
    # the moved fraction is the new node's ownership of the ring, within sampling error
    assert abs(rr.moved_fraction - r1.ownership()[n]) < 6 * sd
    assert rr.loads_after.keys() == set(range(n + 1))
    assert sum(rr.loads_after.values()) == keys.size
    assert "MovementReport" in rr._repr_html_() and "moved" in repr(rr)


def test_ring_balance_theory():
    ring = ConsistentHashRing(10, vnodes=160)
    own = ring.ownership()
    assert abs(sum(own.values()) - 1.0) < 1e-9
    # each node's share is a sum of 160 arcs: its std is about 1/(n*sqrt(vnodes)) = 0.0079
    assert max(own.values()) < 0.1 + 5 * 0.1 / 160**0.5
    keys = np.arange(200_000)
    counts = np.bincount(ring.get_shards(keys), minlength=10)
    expected = np.array([own[i] for i in range(10)]) * keys.size
    # observed counts match the ring's ownership within binomial error
    assert np.all(np.abs(counts - expected) < 6 * np.sqrt(expected))


def test_rendezvous_removal_moves_only_its_keys_and_weights_share():
    keys = np.arange(30_000)
    hrw = RendezvousSharding(["a", "b", "c", "d"])
    before = hrw.get_shards(keys)
    hrw.remove_node("c")
    after = hrw.get_shards(keys)
    assert np.array_equal(before[before != 2], after[before != 2])
    assert 2 not in set(after.tolist())
    w = RendezvousSharding(["a", "b"], weights=[1.0, 3.0])
    share = np.mean(w.get_shards(keys) == 1)
    assert abs(share - 0.75) < 6 * (0.75 * 0.25 / keys.size) ** 0.5


def test_jump_table_retires_any_node():
    keys = np.arange(50_000)
    j = JumpHashSharding(5)
    before = j.get_shards(keys)
    j.remove_node(1)  # not the last bucket
    after = j.get_shards(keys)
    assert 1 not in set(after.tolist())
    assert j.table.tolist() == [0, 4, 2, 3]
    moved = before != after
    # only keys of node 1 and of the last node (4) move
    assert set(before[moved].tolist()) <= {1, 4}
    assert np.all(moved[before == 1])
    nid = j.add_node()
    assert nid == 5 and j.num_shards == 5
    with pytest.raises(NotFoundError):
        j.remove_node(1)
    named = JumpHashSharding(nodes=["x", "y", "z"])
    assert named.get_shards(["k"]).tolist()[0] in (0, 1, 2)
    with pytest.raises(InvalidParameterError):
        named.add_node()


def test_node_validation_and_ids():
    ring = ConsistentHashRing(["a", "b"])
    assert ring.add_node("c") == 2 and ring.remove_node("a") == 0
    assert ring.add_node("d") == 3 and ring.node_id("d") == 3 and ring.nodes == ["b", "c", "d"]
    with pytest.raises(InvalidParameterError, match="already"):
        ring.add_node("b")
    with pytest.raises(InvalidParameterError, match="all be str"):
        ring.add_node(5)
    with pytest.raises(NotFoundError):
        ring.remove_node("zz")
    with pytest.raises(InvalidParameterError):
        ConsistentHashRing(["a"], weights=[0])
    with pytest.raises(InvalidParameterError):
        ConsistentHashRing(["a", "b"], weights=[1])
    with pytest.raises(InvalidParameterError):
        ConsistentHashRing([])
    with pytest.raises(InvalidParameterError):
        ConsistentHashRing(["a"], vnodes=0)
    with pytest.raises(InvalidParameterError, match="last node"):
        ConsistentHashRing(["a"]).remove_node("a")


def test_ring_independent_of_insertion_order():
    keys = [f"k{i}" for i in range(2000)]
    a = ConsistentHashRing([1, 2, 3])
    b = ConsistentHashRing([3, 1])
    b.add_node(2)
    assert a.get_shards(keys).tolist() == b.get_shards(keys).tolist()


# ------------------------------------------------------------------ persistence


@pytest.mark.parametrize(
    "make",
    [
        lambda: ConsistentHashRing(["a", "b", "c"], vnodes=32, weights=[1, 2, 1], seed=4),
        lambda: JumpHashSharding(7, seed=4),
        lambda: RendezvousSharding(["a", "b", "c"], weights=[1, 2, 1], seed=4),
    ],
)
def test_round_trip(make, tmp_path):
    s = make()
    s.remove_node(s.nodes[0])
    keys = [f"k{i}" for i in range(500)]
    blob = s.to_bytes()
    for back in (type(s).from_bytes(blob), pickle.loads(pickle.dumps(s))):
        assert back.get_shards(keys).tolist() == s.get_shards(keys).tolist()
        assert back.nodes == s.nodes and back.shard_ids() == s.shard_ids()
    s.save(tmp_path / "s.bin")
    assert type(s).load(tmp_path / "s.bin", mmap=True).get_shards(keys).tolist() == s.get_shards(keys).tolist()
    with pytest.raises(SerializationError):
        type(s).from_bytes(blob[:-9])
    bad = bytearray(blob)
    bad[len(bad) // 2] ^= 0xFF
    with pytest.raises(SerializationError):
        type(s).from_bytes(bytes(bad))


def test_reprs():
    for s in _strategies() + [RangeBasedSharding([(0, 1, 0)]), GeoBasedSharding({"US": 0})]:
        assert type(s).__name__ in repr(s) and type(s).__name__ in s._repr_html_()


def test_jump_consistent_hash_hashed_and_string_forms():
    words = [f"w{i}" for i in range(300)]
    want = [ref.jump(ref.h1(w), 50) for w in words]
    assert jump_consistent_hash(words, 50).tolist() == want
    assert jump_consistent_hash(hash_keys(words), 50).tolist() == want
    assert jump_consistent_hash(np.array(words), 50).tolist() == want


def test_range_and_geo_numpy_forms():
    r = RangeBasedSharding([(0, 50, 0), (50, 100, 1)])
    vals = [str(i) for i in range(0, 100, 7)]
    loop = [r.get_shard(v) for v in vals]
    assert r.get_shards(np.array(vals)).tolist() == loop
    assert r.get_shards(np.array([v.encode() for v in vals])).tolist() == loop
    g = GeoBasedSharding({"US": 0, "EU": 1})
    keys = ["u_US_1", "u_EU_2", "u_EU_3"]
    assert g.get_shards(np.array(keys)).tolist() == g.get_shards(np.array(keys, dtype=object)).tolist() == [0, 1, 1]
    with pytest.raises(KeyTypeError):
        r.get_shards(np.array([1.5]))
    with pytest.raises(KeyTypeError):
        r.get_shards("12")


# ------------------------------------------------------------- threads=


def _all_routers():
    nodes = [f"node-{i}" for i in range(7)]
    return [
        HashBasedSharding(64, seed=3),  # a power of two: routed by a mask
        HashBasedSharding(10, seed=3),
        JumpHashSharding(11, seed=3),
        ConsistentHashRing(nodes, vnodes=20, seed=3),
        RendezvousSharding(nodes, seed=3),
        RendezvousSharding(nodes[:3], weights=[1.0, 2.5, 0.5], seed=3),
    ]


@settings(max_examples=40, deadline=None)
@given(
    keys=st.lists(st.text(max_size=12), min_size=1, max_size=50),
    threads=st.integers(1, 4),
)
def test_threaded_get_shards_equals_serial_and_the_scalar_loop(keys, threads):
    import pyarrow as pa  # a dev dependency of the main suite, where this file runs

    import sysprims._threads as threads_mod

    ints = np.arange(len(keys), dtype=np.int64) * 7919 - 5
    old = threads_mod.MIN_KEYS_PER_THREAD
    threads_mod.MIN_KEYS_PER_THREAD = 1  # split even these small batches
    try:
        for s in _all_routers():
            loop = np.array([s.get_shard(k) for k in keys], dtype=np.int64)
            for batch in (keys, tuple(keys), pa.array(keys), hash_keys(keys, 3)):
                assert np.array_equal(s.get_shards(batch, threads=threads), loop), (s, type(batch))
            serial = s.get_shards(ints)
            assert np.array_equal(s.get_shards(ints, threads=threads), serial)
            assert serial.tolist() == [s.get_shard(int(v)) for v in ints]
    finally:
        threads_mod.MIN_KEYS_PER_THREAD = old


@pytest.mark.parametrize("num_shards", [1, 2, 64, 1 << 40, 3, 1000])
def test_hash_mod_batch_equals_the_mmh3_reference_for_powers_of_two_and_others(num_shards):
    keys = [f"user:{i}" for i in range(500)]
    s = HashBasedSharding(num_shards, seed=11)
    expect = [mmh3.hash64(k.encode(), 11, signed=False)[0] % num_shards for k in keys]
    assert s.get_shards(keys).tolist() == expect
    assert [s.get_shard(k) for k in keys] == expect


@pytest.mark.parametrize("threads", [0, True, 2.0, None, 257])
def test_get_shards_rejects_bad_threads(threads):
    for s in _all_routers():
        with pytest.raises(InvalidParameterError, match="threads must be an int from 1 to 256"):
            s.get_shards(["a", "b"], threads=threads)
