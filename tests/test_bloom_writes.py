"""Partitioned parallel writes (``add_many(threads=)``) and the bucketed kernel of
the standard layout against the serial pipelined kernel and the plain-Python
reference (``tests/reference/bloom.py``), for every layout and key form."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sysprims as sp
from sysprims._kernels import bloom as K
from sysprims.bloom import _writes
from sysprims.errors import InvalidParameterError
from sysprims.hashing import hash_keys
from tests.reference.bloom import ReferenceBloom

LAYOUTS = ["standard", "blocked", "split_block"]
REF = {"standard": False, "blocked": True, "split_block": "split_block"}
# 3.5 regions of the bucketed kernel (2**20 bits each): probes land in several
# regions and the last one is partial; 448 KiB, small enough for Python's reference.
BIG = 7 << (K.RADIX_BITS - 1)


def _filter(layout: str, size: int, seed: int) -> sp.BloomFilter:
    return sp.BloomFilter(size, 8 if layout == "split_block" else 5, seed=seed, layout=layout)


def _forms(keys: list[str], seed: int) -> list:
    """The same batch as a list, Arrow strings (hashed in the kernel) and HashedKeys."""
    return [keys, pa.array(keys, pa.string()), hash_keys(keys, seed)]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("threads", [2, 3])
@settings(max_examples=15, deadline=None)
@given(keys=st.lists(st.text(max_size=10), max_size=150), seed=st.integers(0, 2**32 - 1),
       size=st.sampled_from([4096, 4608, BIG]))
def test_threaded_add_many_sets_exactly_the_serial_and_reference_bits(layout, threads, keys, seed, size):
    serial = _filter(layout, size, seed)
    serial.add_many(keys)
    ref = ReferenceBloom(serial.size, serial.num_hash_functions, seed, REF[layout])
    for key in keys:
        ref.add(key)
    assert serial.bits.tolist() == ref.words()
    for form in _forms(keys, seed):
        bf = _filter(layout, size, seed)
        bf.add_many(form, threads=threads)
        assert bf == serial


@pytest.mark.parametrize("layout", LAYOUTS)
def test_threaded_int_keys_equal_the_scalar_loop(layout):
    ints = np.random.default_rng(3).integers(-(2**63), 2**63 - 1, size=3000, dtype=np.int64)
    loop = _filter(layout, BIG, 5)
    for x in ints.tolist():
        loop.add(x)
    bf = _filter(layout, BIG, 5)
    bf.add_many(ints, threads=2)
    assert bf == loop


@settings(max_examples=20, deadline=None)
@given(keys=st.lists(st.binary(max_size=40), max_size=200), seed=st.integers(0, 2**32 - 1),
       chunk=st.integers(1, 64), parts=st.integers(1, 5))
def test_bucketed_kernel_parts_together_set_the_serial_bits(keys, seed, chunk, parts):
    # every chunk size (chunks end inside the batch) and every part count, over
    # the three key forms of the kernel: the parts' bits are disjoint and their
    # union is the pipelined kernel's
    serial = _filter("standard", BIG, seed)
    serial.add_many(keys)
    k, m = serial._k, serial._mu
    for kk in (sp.hashing.kernel_keys(hash_keys(keys, seed), seed),
               sp.hashing.kernel_keys(pa.array(keys, pa.binary()), seed),
               sp.hashing.kernel_keys(keys, seed)):
        args = (np.int64(kk.mode), kk.hashes, kk.ints, kk.data, kk.starts, kk.ends, np.uint64(seed), k, m)
        union = np.zeros_like(serial.bits)
        for t in range(parts):
            bits = np.zeros_like(serial.bits)
            K.bloom_add_bucketed(*args, bits, np.int64(chunk), np.int64(t), np.int64(parts))
            assert not np.any((bits != 0) & (union != 0))  # no word written by two parts
            union |= bits
        assert union.tolist() == serial.bits.tolist()


def test_bucketed_int_keys_equal_the_reference():
    ints = list(range(-500, 500)) + [2**63 - 1, -(2**63)]
    bf = _filter("standard", BIG, 9)
    ref = ReferenceBloom(bf.size, bf.num_hash_functions, 9, False)
    for x in ints:
        ref.add(x)
    kk = sp.hashing.kernel_keys(np.array(ints, dtype=np.int64), 9)
    K.bloom_add_bucketed(np.int64(kk.mode), kk.hashes, kk.ints, kk.data, kk.starts, kk.ends, np.uint64(9),
                         bf._k, bf._mu, bf.bits, np.int64(100), np.int64(0), np.int64(1))
    assert bf.bits.tolist() == ref.words()


@pytest.mark.parametrize("threads", [1, 2])
def test_add_many_takes_the_bucketed_kernel_where_it_pays_and_sets_the_same_bits(monkeypatch, threads):
    keys = [f"user:{i}" for i in range(20000)]
    direct = _filter("standard", BIG, 1)
    direct.add_many(keys)
    calls = []
    real = K.bloom_add_bucketed
    monkeypatch.setattr(_writes, "BUCKETED_MIN_BYTES", 0)
    monkeypatch.setattr(K, "bloom_add_bucketed", lambda *a: calls.append(a[-1]) or real(*a))
    bf = _filter("standard", BIG, 1)
    bf.add_many(keys, threads=threads)
    assert calls == [threads] * threads  # each part ran the bucketed kernel
    assert bf == direct


def test_bucketed_only_for_the_standard_layout_beyond_the_cache_with_enough_probes():
    big = _writes.BUCKETED_MIN_BYTES
    assert _writes.use_bucketed("standard", big, 1 << 20, 7)
    assert not _writes.use_bucketed("standard", big // 2, 1 << 20, 7)  # within the cache
    assert not _writes.use_bucketed("standard", big, 1000, 7)  # a few probes per line
    assert not _writes.use_bucketed("blocked", big, 1 << 20, 7)


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2"])
def test_threads_is_checked(bad):
    with pytest.raises(InvalidParameterError):
        sp.BloomFilter(4096, 3).add_many(["a"], threads=bad)


def test_threaded_add_many_of_an_empty_batch_sets_nothing():
    bf = sp.BloomFilter(4096, 3)
    bf.add_many([], threads=2)
    assert not bf


@pytest.mark.parametrize("layout", LAYOUTS)
@settings(max_examples=10, deadline=None)
@given(keys=st.lists(st.text(max_size=10), min_size=150, max_size=200), parts=st.integers(2, 5),
       size=st.sampled_from([4096, 4608]))
def test_partitioned_kernel_parts_are_disjoint_and_cover_the_serial_bits(layout, keys, parts, size):
    # the property that makes threads safe: no word is written by two parts (a
    # small filter, so every word, boundaries included, gets probes)
    serial = _filter(layout, size, 4)
    serial.add_many(keys)
    kk = sp.hashing.kernel_keys(keys, 4)
    args = (np.int64(kk.mode), kk.hashes, kk.ints, kk.data, kk.starts, kk.ends, np.uint64(4),
            serial._k, serial._mu, serial._b)
    union = np.zeros_like(serial.bits)
    for t in range(parts):
        bits = np.zeros_like(serial.bits)
        K.bloom_add_part(*args, bits, np.int64(t), np.int64(parts))
        assert not np.any((bits != 0) & (union != 0))
        union |= bits
    assert union.tolist() == serial.bits.tolist()
