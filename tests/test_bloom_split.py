"""The pipelined batch kernels and the split-block layout against the plain-Python
reference (``tests/reference/bloom.py``), threaded queries against serial ones,
and the split-block format's layout id."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sysprims as sp
from sysprims._format import unpack
from sysprims.bloom import _sizing
from sysprims.errors import IncompatibleError, InvalidParameterError, SerializationError
from sysprims.hashing import hash_keys
from tests.reference.bloom import ReferenceBloom, hash_pair, positions
from tests.test_hashing import small_chunks

LAYOUTS = ["standard", "blocked", "split_block"]
REF = {"standard": False, "blocked": True, "split_block": "split_block"}

keys_st = st.lists(st.text(max_size=12), max_size=120)  # > 7 blocks of 16 keys


def _filter(layout: str, seed: int = 0) -> sp.BloomFilter:
    k = 8 if layout == "split_block" else 5
    return sp.BloomFilter(4096, k, seed=seed, layout=layout)


@pytest.mark.parametrize("layout", LAYOUTS)
@settings(max_examples=25, deadline=None)
@given(keys=keys_st, seed=st.integers(0, 2**32 - 1))
def test_pipelined_add_many_sets_exactly_the_reference_bits(layout, keys, seed):
    bf = _filter(layout, seed)
    ref = ReferenceBloom(bf.size, bf.num_hash_functions, seed, REF[layout])
    for key in keys:
        ref.add(key)
    bf.add_many(keys)
    assert bf.bits.tolist() == ref.words()
    # the same batch as bytes (fused hash) and as HashedKeys gives the same bits
    for form in (pa.array(keys, pa.string()), hash_keys(keys, seed)):
        other = _filter(layout, seed)
        other.add_many(form)
        assert other == bf


@pytest.mark.parametrize("layout", LAYOUTS)
@settings(max_examples=20, deadline=None)
@given(
    keys=st.lists(st.binary(max_size=70), min_size=1, max_size=90),
    cut=st.integers(0, 90),
    seed=st.integers(0, 2**32 - 1),
)
def test_fused_hash_of_every_key_length_matches_mmh3_even_at_the_buffer_end(layout, keys, cut, seed):
    # Arrow binary keys are hashed inside the kernel, reading tail words whole
    # where 16 bytes fit in the buffer: a slice ending early leaves bytes past
    # its last key (the whole-word path), the full array ends at its last key.
    arr = pa.array(keys + [bytes(range(40))] * 3, pa.binary())
    for part in (arr, arr.slice(0, min(cut, len(keys))), arr.slice(cut % len(keys))):
        bf = _filter(layout, seed)
        ref = ReferenceBloom(bf.size, bf.num_hash_functions, seed, REF[layout])
        for key in part.to_pylist():
            ref.add(key)
        bf.add_many(part)
        assert bf.bits.tolist() == ref.words()
        probe = pa.concat_arrays([part, pa.array([b"x" * n for n in range(33)], pa.binary())])
        assert bf.contains_many(probe).tolist() == [ref.contains(k) for k in probe.to_pylist()]


def test_fused_hash_of_lengths_0_to_64_equals_mmh3_hashes():
    keys = [bytes((7 * i + j) % 256 for j in range(n)) for i in range(3) for n in range(65)]
    for layout in LAYOUTS:
        bf = _filter(layout, 11)
        bf.add_many(pa.array(keys, pa.binary()))
        other = _filter(layout, 11)
        other.add_many(hash_keys(keys, 11))  # hashed by the object reader
        assert other == bf
        ref = ReferenceBloom(bf.size, bf.num_hash_functions, 11, REF[layout])
        for key in keys:
            ref.add(key)
        assert bf.bits.tolist() == ref.words()


@pytest.mark.parametrize("layout", LAYOUTS)
@settings(max_examples=25, deadline=None)
@given(ints=st.lists(st.integers(-(2**63), 2**63 - 1), max_size=80), queried=st.lists(st.integers(-(2**63), 2**63 - 1), max_size=80))
def test_int_keys_match_the_reference_and_the_scalar_loop(layout, ints, queried):
    bf = _filter(layout, 3)
    ref = ReferenceBloom(bf.size, bf.num_hash_functions, 3, REF[layout])
    for v in ints:
        ref.add(v)
    bf.add_many(np.array(ints, dtype=np.int64))
    assert bf.bits.tolist() == ref.words()
    got = bf.contains_many(np.array(queried + ints, dtype=np.int64))
    assert got.tolist() == [ref.contains(v) for v in queried + ints]
    assert got.tolist() == [bf.contains(v) for v in queried + ints]


@pytest.mark.parametrize("layout", LAYOUTS)
@settings(max_examples=25, deadline=None)
@given(added=keys_st, queried=keys_st, threads=st.integers(2, 5))
def test_threaded_contains_many_equals_serial(layout, added, queried, threads):
    bf = _filter(layout)
    bf.add_many(added)
    batch = queried + added
    serial = bf.contains_many(batch)
    assert serial.tolist() == [bf.contains(k) for k in batch]
    with small_chunks():  # split even these small batches
        for form in (batch, pa.array(batch, pa.string()), hash_keys(batch, 0)):
            assert np.array_equal(bf.contains_many(form, threads=threads), serial)


def test_threaded_contains_many_on_a_large_batch_of_each_form():
    bf = sp.BloomFilter.for_capacity(20_000, 0.01, layout="split_block")
    bf.add_many(np.arange(0, 40_000, 2, dtype=np.int64))
    q = np.arange(40_000, dtype=np.int64)
    serial = bf.contains_many(q)
    assert serial[::2].all()  # no false negatives
    assert np.array_equal(bf.contains_many(q, threads=2), serial)
    strs = pa.array([str(i) for i in range(5000)])
    with small_chunks():
        assert np.array_equal(bf.contains_many(strs, threads=3), bf.contains_many(strs))


def test_split_block_positions_are_one_bit_per_word_of_one_block():
    from sysprims._kernels.bloom import bloom_positions

    bf = _filter("split_block")
    keys = [f"u{i}" for i in range(300)]
    h = hash_keys(keys, 0).hashes
    out = np.zeros((len(keys), 8), dtype=np.uint64)
    bloom_positions(h, np.int64(8), np.uint64(bf.size // 512), np.int64(2), out)
    for row, key in zip(out.tolist(), keys, strict=True):
        assert row == positions(*hash_pair(key, 0), 8, bf.size, "split_block")
        assert len({p // 512 for p in row}) == 1
        assert [(p % 512) // 64 for p in row] == list(range(8))


def test_split_block_no_false_negatives_and_rate_at_or_under_target():
    n, p = 50_000, 0.01
    bf = sp.BloomFilter.for_capacity(n, p, layout="split_block", seed=5)
    bf.add_many(np.arange(n, dtype=np.int64))
    assert bf.contains_many(np.arange(n, dtype=np.int64)).all()
    trials = 400_000
    fp = int(bf.contains_many(np.arange(n, n + trials, dtype=np.int64)).sum())
    # the sizing model's rate (95% of target), and the measured rate within its
    # binomial 4-sigma band and at or under the target
    q = bf.false_positive_rate(n)
    assert q <= 0.95 * p
    sigma = math.sqrt(trials * q * (1 - q))
    assert abs(fp - trials * q) <= 4 * sigma
    assert fp / trials <= p
    assert abs(bf.estimated_false_positive_rate() - q) < 0.15 * q


def test_split_block_sizing_and_parameters():
    bf = sp.BloomFilter.for_capacity(1_000_000, 0.01, layout="split_block")
    assert bf.num_hash_functions == 8 and bf.size % 512 == 0 and bf.blocked
    assert 10.0 < bf.size / 1_000_000 < 10.4  # stated in docs/bloom.md: 10.2 bits/key at 1%
    assert _sizing.split_fpr(1_000_000, bf.size // 512) <= 0.0095
    assert _sizing.split_fpr(1_000_000, bf.size // 512 - 1) > 0.0095  # the fewest blocks
    with pytest.raises(InvalidParameterError, match="must be 8"):
        sp.BloomFilter(1024, 7, layout="split_block")
    with pytest.raises(InvalidParameterError, match="multiple of 512"):
        sp.BloomFilter(1000, 8, layout="split_block")
    with pytest.raises(InvalidParameterError, match="layout"):
        sp.BloomFilter(1024, 8, layout="sbbf")
    with pytest.raises(InvalidParameterError, match="contradicts"):
        sp.BloomFilter(1024, 8, blocked=True, layout="standard")
    with pytest.raises(InvalidParameterError, match="threads"):
        bf.contains_many(["a"], threads=0)


def test_standard_memory_is_within_two_percent_of_9_585_bits_per_key():
    bf = sp.BloomFilter.for_capacity(1_000_000, 0.01)
    assert abs(bf.size / 1_000_000 - 9.585) / 9.585 < 0.02


def test_split_block_files_carry_a_new_layout_id(tmp_path):
    bf = _filter("split_block")
    bf.add_many([f"k{i}" for i in range(50)])
    data = bf.to_bytes()
    c = unpack(data)
    assert c.params["layout"] == "split_block"
    assert "bits" not in c.arrays  # a reader that predates the layout refuses the file
    back = sp.BloomFilter.from_bytes(data)
    assert back == bf and back.layout == "split_block"
    bf.save(tmp_path / "f.bloom")
    assert sp.BloomFilter.load(tmp_path / "f.bloom", mmap=True) == bf
    old = _filter("blocked")
    assert "layout" not in unpack(old.to_bytes()).params  # the old layouts' bytes are unchanged
    with pytest.raises(IncompatibleError):
        bf.merge(sp.BloomFilter(4096, 8, layout="blocked"))


def test_a_crafted_layout_id_is_refused():
    from sysprims._format import pack

    bf = _filter("split_block")
    c = unpack(bf.to_bytes())
    bad = dict(c.params, layout="nope")
    with pytest.raises(SerializationError):
        sp.BloomFilter.from_bytes(pack("bloom", bad, {"split_block_bits": bf.bits}, seed=0))
    with pytest.raises(SerializationError):  # split-block bits under the old name
        sp.BloomFilter.from_bytes(pack("bloom", c.params, {"bits": bf.bits}, seed=0))
