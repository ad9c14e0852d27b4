"""Batch MurmurHash3 against per-key loops of mmh3 and xxhash, same keys, same run.

Goals (issue #2), as ratios to the ``mmh3.hash64`` per-key loop:
list of str >= 1.4x (conversion included); pyarrow strings or pre-encoded
bytes >= 4x; NumPy integer array >= 10x.
"""

from __future__ import annotations

import numpy as np
import pytest

from peers import peer
from sysprims import murmur3_128


@pytest.fixture(scope="module")
def encoded(str_keys):
    return [k.encode() for k in str_keys]


@pytest.fixture(scope="module")
def arrow_keys(str_keys):
    pa = peer("pyarrow")
    return pa.array(str_keys, type=pa.string())


# ---- list of str


@pytest.mark.benchmark(group="hash: list of str")
def test_sysprims_list_of_str(benchmark, str_keys):
    out = benchmark(murmur3_128, str_keys)
    assert out.shape == (len(str_keys), 2)


@pytest.mark.benchmark(group="hash: list of str")
def test_mmh3_loop_list_of_str(benchmark, str_keys):
    mmh3 = peer("mmh3")
    h = mmh3.hash64
    out = benchmark(lambda: [h(k, 0, signed=False) for k in str_keys])
    assert len(out) == len(str_keys)


@pytest.mark.benchmark(group="hash: list of str")
def test_xxhash_loop_list_of_str(benchmark, str_keys):
    xxhash = peer("xxhash")
    h = xxhash.xxh3_128_intdigest
    out = benchmark(lambda: [h(k.encode()) for k in str_keys])
    assert len(out) == len(str_keys)


# ---- pre-encoded / arrow


@pytest.mark.benchmark(group="hash: bytes / arrow")
def test_sysprims_arrow_strings(benchmark, arrow_keys):
    out = benchmark(murmur3_128, arrow_keys)
    assert out.shape == (len(arrow_keys), 2)


@pytest.mark.benchmark(group="hash: bytes / arrow")
def test_sysprims_list_of_bytes(benchmark, encoded):
    out = benchmark(murmur3_128, encoded)
    assert out.shape == (len(encoded), 2)


@pytest.mark.benchmark(group="hash: bytes / arrow")
def test_mmh3_loop_bytes(benchmark, encoded):
    mmh3 = peer("mmh3")
    h = mmh3.hash64
    out = benchmark(lambda: [h(k, 0, signed=False) for k in encoded])
    assert len(out) == len(encoded)


# ---- integers


@pytest.mark.benchmark(group="hash: uint64 array")
def test_sysprims_uint64_array(benchmark, int_keys):
    keys = int_keys.astype(np.uint64)
    out = benchmark(murmur3_128, keys)
    assert out.shape == (len(keys), 2)


@pytest.mark.benchmark(group="hash: uint64 array")
def test_mmh3_loop_ints(benchmark, int_keys):
    mmh3 = peer("mmh3")
    h = mmh3.hash64
    ints = int_keys.tolist()
    out = benchmark(lambda: [h(i.to_bytes(8, "little"), 0, signed=False) for i in ints])
    assert len(out) == len(ints)


def test_bit_exact_with_mmh3_on_benchmark_keys(str_keys):
    mmh3 = peer("mmh3")
    got = murmur3_128(str_keys[:2000]).tolist()
    assert [tuple(r) for r in got] == [mmh3.hash64(k, 0, signed=False) for k in str_keys[:2000]]
