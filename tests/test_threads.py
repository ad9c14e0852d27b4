"""The threaded read paths (``threads=``): ``BloomFilter.contains_many``,
``CountMinSketch.query_many``, every strategy's ``get_shards`` and
``murmur3_128`` equal their serial calls, on every key form; the shared runner
(:func:`sysprims._threads.run_sliced`) really splits, covers every key
once, propagates errors and survives a fork; bad ``threads`` values raise."""

from __future__ import annotations

import multiprocessing
import threading

import mmh3
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sysprims as sp
import sysprims.hashing as hashing
from sysprims import _threads
from sysprims.errors import InvalidParameterError
from sysprims.hashing import hash_keys, murmur3_128
from sysprims.sharding import (
    ConsistentHashRing,
    HashBasedSharding,
    JumpHashSharding,
    RendezvousSharding,
)
from tests.test_hashing import small_chunks as small_slices  # MIN_KEYS_PER_THREAD = 1 inside

THREADS = (2, 3, 7)
SEED = 5


def forms(keys: list[str], seed: int = SEED) -> list:
    """The batch in every form a read path takes."""
    ints = np.array([mmh3.hash(k, 1, signed=True) for k in keys], dtype=np.int64)
    return [keys, pa.array(keys, pa.string()), np.array(keys, dtype=object), ints, hash_keys(keys, seed)]  # ints: 3


def strategies() -> list:
    nodes = [f"node-{i}" for i in range(5)]
    return [
        HashBasedSharding(7, seed=SEED),
        HashBasedSharding(8, seed=SEED),  # the power-of-two mask path
        JumpHashSharding(9, seed=SEED),
        ConsistentHashRing(nodes, vnodes=20, seed=SEED),
        RendezvousSharding(nodes, seed=SEED),
        RendezvousSharding(nodes, weights=[1, 2, 3, 1, 0.5], seed=SEED),
    ]


def readers(added: list[str]) -> list:
    """(name, call(batch, threads)) of every threaded read path, over structures built from ``added``."""
    out = []
    for layout in ("standard", "blocked", "split_block"):
        bf = sp.BloomFilter.for_capacity(300, 0.01, layout=layout, seed=SEED)
        bf.add_many(added)
        out.append((f"bloom {layout}", lambda b, t, bf=bf: bf.contains_many(b, threads=t)))
    for dtype in ("uint32", "uint64"):
        cms = sp.CountMinSketch(13, 4, seed=SEED, dtype=dtype)
        cms.update_many(added)
        out.append((f"countmin {dtype}", lambda b, t, c=cms: c.query_many(b, threads=t)))
    for s in strategies():
        out.append((repr(s), lambda b, t, s=s: s.get_shards(b, threads=t)))
    return out


keys_st = st.lists(st.text(max_size=12), max_size=80)


@settings(max_examples=30, deadline=None)
@given(added=keys_st, queried=keys_st)
def test_every_threaded_read_path_equals_its_serial_call(added, queried):
    batch = queried + added
    with small_slices():
        for name, call in readers(added):
            as_list = call(batch, 1)
            for i, form in enumerate(forms(batch)):
                serial = call(form, 1)
                assert serial.shape == (len(batch),)
                if i != 3:  # every form of the same str keys (3: other, int64 keys) gets one answer
                    assert np.array_equal(serial, as_list), (name, type(form))
                for t in THREADS:
                    got = call(form, t)
                    assert got.dtype == serial.dtype and np.array_equal(got, serial), (name, type(form), t)


@settings(max_examples=30, deadline=None)
@given(keys=st.lists(st.binary(max_size=40), max_size=80), seed=st.integers(0, 2**32 - 1))
def test_threaded_murmur3_128_equals_serial_and_mmh3(keys, seed):
    expect = np.array([mmh3.hash64(k, seed, signed=False) for k in keys], dtype=np.uint64).reshape(-1, 2)
    ints = np.array([int.from_bytes(k[:8].ljust(8, b"\0"), "little") for k in keys], dtype=np.uint64)
    with small_slices():
        for form in (pa.array(keys, pa.binary()), keys):
            for t in THREADS:
                assert np.array_equal(murmur3_128(form, seed, threads=t), expect)
                assert np.array_equal(hash_keys(form, seed, threads=t).hashes, expect)
        for t in THREADS:
            assert np.array_equal(murmur3_128(ints, seed, threads=t), murmur3_128(ints, seed))


@pytest.mark.parametrize("n", [0, 1, 2, 63, 64, 65])
def test_empty_and_tiny_batches(n):
    keys = [f"k{i}" for i in range(n)]
    added = keys[::2]
    with small_slices():
        for name, call in readers(added):
            for form in forms(keys):
                serial = call(form, 1)
                assert serial.shape == (n,), name
                for t in THREADS:
                    got = call(form, t)
                    assert got.dtype == serial.dtype and np.array_equal(got, serial), (name, n, t)
        for t in THREADS:
            assert murmur3_128(keys, threads=t).shape == (n, 2)
            assert np.array_equal(murmur3_128(pa.array(keys, pa.string()), threads=t), murmur3_128(keys))


def test_a_batch_above_the_real_floor_is_split_and_agrees():
    n = 3 * hashing.MIN_KEYS_PER_THREAD + 11
    keys = pa.array([f"user:{i}" for i in range(n)])
    ints = np.arange(n, dtype=np.int64)
    assert hashing.chunks_for(n, 2) == 2 and hashing.chunks_for(n, 7) == 3
    for name, call in readers([f"user:{i}" for i in range(0, n, 3)]):
        for form in (keys, ints):
            serial = call(form, 1)
            for t in (2, 7):
                assert np.array_equal(call(form, t), serial), (name, t)
    for form in (keys, ints):
        assert np.array_equal(murmur3_128(form, threads=2), murmur3_128(form))


# above 256 too: every read path caps threads the same way (get_shards and
# murmur3_128 accepted any count before, while Bloom and Count-Min refused 257)
bad_threads = [0, -1, True, False, 1.5, 2.0, "2", None, 257, 10**9]


@pytest.mark.parametrize("threads", bad_threads)
def test_bad_threads_raise_for_every_read_path(threads):
    for _name, call in readers(["a", "b"]):
        with pytest.raises(InvalidParameterError, match="threads"):
            call(["a", "b"], threads)
    with pytest.raises(InvalidParameterError, match="threads"):
        murmur3_128(["a", "b"], threads=threads)


# ------------------------------------------------------------- the runner


def _recording_kernel(calls: list):
    """A Python stand-in for a kernel: ``out = 2 * a + b`` (``b`` passed whole),
    recording which thread ran which slice."""

    def kernel(a, b, out):
        calls.append((threading.get_ident(), len(a)))
        out[:] = 2 * a + b

    return kernel


@pytest.mark.parametrize("n,threads,parts", [(1000, 2, 2), (1000, 3, 3), (1000, 7, 7), (100, 7, 2), (40, 3, 1),
                                             (0, 2, 1)])
def test_run_sliced_splits_covers_every_key_once_and_runs_one_slice_itself(n, threads, parts):
    old = _threads.MIN_KEYS_PER_THREAD
    _threads.MIN_KEYS_PER_THREAD = 50
    try:
        calls: list = []
        a = np.arange(n, dtype=np.int64)
        out = np.full(n, -1, dtype=np.int64)
        _threads.run_sliced(_recording_kernel(calls), (a, np.int64(3)), (True, False), out, threads)
    finally:
        _threads.MIN_KEYS_PER_THREAD = old
    assert np.array_equal(out, 2 * a + 3)
    assert len(calls) == parts and sum(k for _, k in calls) == n
    assert threading.get_ident() in {t for t, _ in calls}  # the caller reads a slice itself
    if parts > 1:  # the other slices ran on the pool's workers (one may run several)
        assert len({t for t, _ in calls}) >= 2


@pytest.mark.parametrize("n", [1, 5, 63, 64, 1000, 4097])
@pytest.mark.parametrize("parts", [1, 2, 3, 7])
def test_slices_are_contiguous_aligned_and_balanced(n, parts):
    got = _threads.slices(n, parts, 64)
    assert got[0][0] == 0 and got[-1][1] == n
    assert all(hi == lo2 for (_, hi), (lo2, _) in zip(got, got[1:], strict=False))
    assert all(lo < hi for lo, hi in got)
    assert all(hi % 64 == 0 for _, hi in got[:-1])
    if n >= 64 * parts * 4:
        sizes = [hi - lo for lo, hi in got]
        assert len(got) == parts and max(sizes) - min(sizes) <= 2 * 64


def test_an_error_in_a_slice_reaches_the_caller_and_the_pool_still_works():
    def kernel(a, out):
        if a[-1] == 999:  # the last slice, on a worker
            raise ValueError("slice failed")
        out[:] = a

    a = np.arange(1000, dtype=np.int64)
    with small_slices(), pytest.raises(ValueError, match="slice failed"):
        _threads.run_sliced(kernel, (a,), (True,), np.empty(1000, np.int64), 2)
    calls: list = []
    out = np.empty(1000, np.int64)
    with small_slices():
        _threads.run_sliced(_recording_kernel(calls), (a, np.int64(0)), (True, False), out, 2)
    assert np.array_equal(out, 2 * a) and len(calls) == 2


def test_concurrent_callers_share_the_pool_and_get_the_serial_answers():
    keys = pa.array([f"k{i}" for i in range(5000)])
    bf = sp.BloomFilter.for_capacity(5000, 0.01, layout="split_block")
    bf.add_many(keys.slice(0, 2500))
    cms = sp.CountMinSketch(64, 4)
    cms.update_many(keys.slice(0, 3000))
    ring = ConsistentHashRing([f"n{i}" for i in range(6)])
    want = (bf.contains_many(keys), cms.query_many(keys), ring.get_shards(keys), murmur3_128(keys))
    bad: list = []

    def client() -> None:
        for _ in range(5):
            got = (bf.contains_many(keys, threads=3), cms.query_many(keys, threads=2),
                   ring.get_shards(keys, threads=2), murmur3_128(keys, threads=3))
            bad.extend(i for i, (g, w) in enumerate(zip(got, want, strict=True)) if not np.array_equal(g, w))

    with small_slices():
        th = [threading.Thread(target=client) for _ in range(4)]
        for x in th:
            x.start()
        for x in th:
            x.join()
    assert bad == []


def _child_query(q) -> None:
    _threads.MIN_KEYS_PER_THREAD = 1
    cms = sp.CountMinSketch(32, 3)
    cms.update_many(np.arange(100))
    q.put(cms.query_many(np.arange(200), threads=2).tolist() == cms.query_many(np.arange(200)).tolist())


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")
def test_a_forked_child_gets_its_own_pool():
    """The parent's pool threads do not exist in a forked child; a child that
    reused the parent's pool object would wait for them forever."""
    with small_slices():
        murmur3_128(np.arange(100), threads=2)  # the parent's pool is running
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child_query, args=(q,))
    p.start()
    p.join(60)
    alive = p.is_alive()
    if alive:
        p.kill()
    assert not alive and q.get(timeout=5) is True
