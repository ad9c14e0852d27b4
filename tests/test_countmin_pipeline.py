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
from tests.reference.countmin import ReferenceCMS, ReferenceTopK

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
