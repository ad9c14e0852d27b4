"""The pipelined Count-Min and top-K batch kernels against the plain-Python
reference (``tests/reference/countmin.py``) on batches that cross several
16-key blocks, on tables small and beyond the prefetch threshold, and threaded
``query_many`` against the serial one."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sysprims as sp
from sysprims.errors import InvalidParameterError
from sysprims.hashing import hash_keys
from tests.reference.countmin import ReferenceCMS, ReferenceTopK, positions
from tests.test_hashing import small_chunks

keys_st = st.lists(st.text(alphabet="abcdef", max_size=3), max_size=120)


@pytest.mark.parametrize("width", [7, 1 << 17])  # 3 x 2**17 counters: prefetched
@pytest.mark.parametrize("conservative", [False, True])
@settings(max_examples=15, deadline=None)
@given(keys=keys_st, seed=st.integers(0, 2**32 - 1), data=st.data())
def test_pipelined_update_many_equals_the_reference(width, conservative, keys, seed, data):
    counts = data.draw(st.lists(st.integers(0, 50), min_size=len(keys), max_size=len(keys)))
    cms = sp.CountMinSketch(width, 3, seed=seed, conservative=conservative)
    ref = ReferenceCMS(width, 3, seed, conservative=conservative)
    for key, c in zip(keys, counts, strict=True):
        ref.update(key, c)
    cms.update_many(pa.array(keys, pa.string()), np.array(counts, dtype=np.uint64))
    assert [cms.query(k) for k in keys] == [ref.query(k) for k in keys]
    assert cms.query_many(keys).tolist() == [ref.query(k) for k in keys]
    again = sp.CountMinSketch(width, 3, seed=seed, conservative=conservative)
    again.update_many(hash_keys(keys, seed), np.array(counts, dtype=np.uint64))
    assert np.array_equal(again.table, cms.table)


@settings(max_examples=25, deadline=None)
@given(added=st.lists(st.integers(-50, 50), max_size=150), queried=st.lists(st.integers(-60, 60), max_size=150),
       threads=st.integers(2, 5))
def test_threaded_query_many_equals_serial(added, queried, threads):
    cms = sp.CountMinSketch(11, 4, seed=1)
    cms.update_many(np.array(added, dtype=np.int64))
    q = np.array(queried + added, dtype=np.int64)
    serial = cms.query_many(q)
    assert serial.tolist() == [cms.query(int(v)) for v in q]
    with small_chunks():  # split even these small batches
        for form in (q, pa.array(q), hash_keys(q, 1), [str(v) for v in q.tolist()]):
            expected = serial if not isinstance(form, list) else cms.query_many(form)
            assert np.array_equal(cms.query_many(form, threads=threads), expected)


def test_threaded_query_many_on_a_large_batch():
    cms = sp.CountMinSketch(1 << 17, 4, dtype="uint64")
    rng = np.random.default_rng(3)
    stream = rng.zipf(1.3, 50_000).astype(np.int64)
    cms.update_many(stream)
    serial = cms.query_many(stream)
    assert serial.dtype == np.uint64 and (serial >= 1).all()
    assert np.array_equal(cms.query_many(stream, threads=2), serial)
    with pytest.raises(InvalidParameterError, match="threads"):
        cms.query_many(stream, threads=0)


@settings(max_examples=20, deadline=None)
@given(stream=st.lists(st.sampled_from([f"k{i}" for i in range(30)]), max_size=200))
def test_pipelined_topk_equals_the_reference(stream):
    tk = sp.TopK(5, 64, 3, seed=4, candidates=8)
    ref = ReferenceTopK(8, 64, 3, seed=4)
    for key in stream:
        ref.update(key)
    tk.update_many(stream)
    assert tk.top(8) == ref.top(8)
    assert tk.total == len(stream)


def test_one_multiply_mulhi_equals_the_32_bit_one():
    import numba

    from sysprims._kernels.machine import mulhi
    from sysprims._kernels.murmur3 import mulhi64

    @numba.njit
    def both(a, b, out):
        for i in range(a.shape[0]):
            out[i, 0] = mulhi(a[i], b[i])
            out[i, 1] = mulhi64(a[i], b[i])

    rng = np.random.default_rng(0)
    edge = np.array([0, 1, 2**32 - 1, 2**32, 2**63, 2**64 - 1], dtype=np.uint64)
    a = np.concatenate([rng.integers(0, 2**64 - 1, 5000, dtype=np.uint64, endpoint=True), np.repeat(edge, 6)])
    b = np.concatenate([rng.integers(0, 2**64 - 1, 5000, dtype=np.uint64, endpoint=True), np.tile(edge, 6)])
    out = np.zeros((a.shape[0], 2), dtype=np.uint64)
    both(a, b, out)
    assert np.array_equal(out[:, 0], out[:, 1])
    assert out[:, 0].tolist() == [(int(x) * int(y)) >> 64 for x, y in zip(a.tolist(), b.tolist(), strict=True)]


def test_narrow_mulhi_equals_the_full_product_below_2_32():
    import numba

    from sysprims._kernels.countmin import mulhi_narrow

    @numba.njit
    def narrow(a, w, out):
        for i in range(a.shape[0]):
            out[i] = mulhi_narrow(a[i], w[i])

    rng = np.random.default_rng(1)
    edge_x = np.array([0, 1, 2**32 - 1, 2**32, 2**63, 2**64 - 1], dtype=np.uint64)
    edge_w = np.array([1, 2, 3, 2**31, 2**32 - 2, 2**32 - 1], dtype=np.uint64)
    x = np.concatenate([rng.integers(0, 2**64 - 1, 5000, dtype=np.uint64, endpoint=True), np.repeat(edge_x, 6)])
    w = np.concatenate([rng.integers(1, 2**32 - 1, 5000, dtype=np.uint64, endpoint=True), np.tile(edge_w, 6)])
    out = np.zeros(x.shape[0], dtype=np.uint64)
    narrow(x, w, out)
    assert out.tolist() == [(int(a) * int(b)) >> 64 for a, b in zip(x.tolist(), w.tolist(), strict=True)]


@pytest.mark.parametrize("width", [1, 7, 2**32 - 1, 2**32, 2**33 + 5, 2**40])
def test_staged_columns_are_the_documented_positions(width):
    """The blocked kernels' column stage (SIMD-friendly below 2**32 columns, one
    128-bit product above) against the reference rule; wide widths are checked
    on the stage itself, since a table that wide does not fit in memory."""
    from sysprims._kernels.countmin import B, _buffers, _stage

    rng = np.random.default_rng(width % 1000)
    hashes = rng.integers(0, 2**64 - 1, (B, 2), dtype=np.uint64, endpoint=True)
    depth = 5
    _d, _w, _f, scr, hsh, cols = _buffers(np.zeros((depth, 4), np.uint32))
    e64, ei, eb = np.zeros(0, np.uint64), np.zeros(0, np.int64), np.zeros(0, np.uint8)
    _stage(np.int64(0), 0, B, hashes, e64, eb, ei, ei, np.uint64(0), np.zeros(4, np.uint32), depth,
           np.uint64(width), scr, hsh[0], cols[0])
    for j, (h1, h2) in enumerate(hashes.tolist()):
        got = [int(cols[0, r * B + j]) - r * width for r in range(depth)]
        assert got == positions(h1, h2, depth, width)


# every length from 0 to 80 bytes: no body block, one (the SIMD lane), several
# (the scalar prefix), and tails of every size, some at the very end of the buffer
bytes_st = st.lists(st.binary(max_size=80), min_size=1, max_size=90)


@pytest.mark.parametrize("conservative", [False, True])
@settings(max_examples=25, deadline=None)
@given(keys=bytes_st, seed=st.integers(0, 2**32 - 1), cut=st.integers(0, 5), data=st.data())
def test_blocked_bytes_keys_equal_the_reference_at_every_length(conservative, keys, seed, cut, data):
    counts = data.draw(st.lists(st.integers(0, 9), min_size=len(keys), max_size=len(keys)))
    # a slice of a larger array: starts past 0, the last key ends at the end of its data
    arr = pa.array([b"x" * 40] * cut + keys, pa.binary()).slice(cut)
    cms = sp.CountMinSketch(61, 4, seed=seed, conservative=conservative)
    ref = ReferenceCMS(61, 4, seed, conservative=conservative)
    for key, c in zip(keys, counts, strict=True):
        ref.update(key, c)
    cms.update_many(arr, np.array(counts, dtype=np.uint64))
    assert cms.table.tolist() == ref.table
    assert cms.query_many(arr).tolist() == [ref.query(k) for k in keys]
    unit = sp.CountMinSketch(61, 4, seed=seed, conservative=conservative)
    unit.update_many(keys)
    once = ReferenceCMS(61, 4, seed, conservative=conservative)
    for key in keys:
        once.update(key)
    assert unit.table.tolist() == once.table


@settings(max_examples=20, deadline=None)
@given(keys=bytes_st, stream=st.lists(st.integers(0, 89), max_size=300))
def test_blocked_topk_on_bytes_keys_of_every_length_equals_the_reference(keys, stream):
    items = [keys[i % len(keys)] for i in stream]
    tk = sp.TopK(4, 64, 3, seed=9, candidates=6)
    ref = ReferenceTopK(6, 64, 3, seed=9)
    for key in items:
        ref.update(key)
    tk.update_many(pa.array(items, pa.binary()))
    assert tk.top(6) == ref.top(6)
    ints = np.array(stream, dtype=np.int64)
    tki = sp.TopK(4, 64, 3, seed=9, candidates=6)
    refi = ReferenceTopK(6, 64, 3, seed=9)
    for v in stream:
        refi.update(v)
    tki.update_many(ints)
    assert [(int(k), e) for k, e in tki.top(6)] == refi.top(6)
