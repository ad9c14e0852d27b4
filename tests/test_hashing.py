"""MurmurHash3 batches are bit-exact with mmh3 and with the plain-Python twin."""

from __future__ import annotations

import contextlib

import mmh3
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sysprims import (
    HashedKeys,
    IncompatibleError,
    InvalidParameterError,
    hash_keys,
    murmur3_32,
    murmur3_128,
)
from sysprims.hashing import hash128, hashes_for
from tests.reference.murmur3 import murmur3_x64_128, murmur3_x86_32

SEEDS = [0, 1, 2**32 - 1]
EVERY_LENGTH = [bytes((i * 37 + j) % 256 for j in range(i)) for i in range(0, 65)]


def as_pairs(arr: np.ndarray) -> list[tuple[int, int]]:
    return [tuple(row) for row in arr.tolist()]


@pytest.mark.parametrize("seed", SEEDS)
def test_every_length_0_to_64_matches_mmh3_and_reference(seed):
    got = murmur3_128(EVERY_LENGTH, seed)
    expected = [mmh3.hash64(k, seed, signed=False) for k in EVERY_LENGTH]
    assert as_pairs(got) == expected
    assert [murmur3_x64_128(k, seed) for k in EVERY_LENGTH] == expected
    got32 = murmur3_32(EVERY_LENGTH, seed)
    expected32 = [mmh3.hash(k, seed, signed=False) for k in EVERY_LENGTH]
    assert got32.dtype == np.uint32
    assert got32.tolist() == expected32
    assert [murmur3_x86_32(k, seed) for k in EVERY_LENGTH] == expected32


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=80), max_size=30), st.sampled_from(SEEDS + [12345]))
def test_random_binary_keys_match_mmh3(keys, seed):
    got = murmur3_128(keys, seed)
    assert got.shape == (len(keys), 2) and got.dtype == np.uint64
    assert as_pairs(got) == [mmh3.hash64(k, seed, signed=False) for k in keys]
    assert murmur3_32(keys, seed).tolist() == [mmh3.hash(k, seed, signed=False) for k in keys]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(max_size=30), max_size=30))
def test_unicode_strings_hash_as_utf8(keys):
    keys = [k for k in keys if not any(0xD800 <= ord(c) <= 0xDFFF for c in k)]
    got = murmur3_128(keys, 7)
    assert as_pairs(got) == [mmh3.hash64(k.encode("utf-8"), 7, signed=False) for k in keys]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(min_value=-(2**63), max_value=2**64 - 1), min_size=1, max_size=30))
def test_python_ints_hash_as_8_byte_little_endian(keys):
    expected = [mmh3.hash64((k % 2**64).to_bytes(8, "little"), 3, signed=False) for k in keys]
    assert as_pairs(murmur3_128(keys, 3)) == expected
    expected32 = [mmh3.hash((k % 2**64).to_bytes(8, "little"), 3, signed=False) for k in keys]
    assert murmur3_32(keys, 3).tolist() == expected32


@pytest.mark.parametrize("value", [0, 1, 2**63, 2**64 - 1, -1, -(2**63)])
def test_integer_edge_values(value):
    raw = (value % 2**64).to_bytes(8, "little")
    assert as_pairs(murmur3_128([value])) == [mmh3.hash64(raw, 0, signed=False)]
    assert hash128(value) == mmh3.hash64(raw, 0, signed=False)


def test_empty_key_and_empty_batch():
    assert as_pairs(murmur3_128([b""], 5)) == [mmh3.hash64(b"", 5, signed=False)]
    assert as_pairs(murmur3_128([""], 5)) == [mmh3.hash64(b"", 5, signed=False)]
    assert murmur3_128([]).shape == (0, 2)
    assert murmur3_32([]).shape == (0,)


def test_scalar_twin_matches_batch():
    keys = ["alice", b"bob", 42, "ünïcødé", b""]
    batch = [murmur3_128([k], 9)[0].tolist() for k in keys]
    assert [list(hash128(k, 9)) for k in keys] == batch


@pytest.mark.parametrize("seed", [-1, 2**32, 1.5, "0", True, None])
def test_bad_seeds_are_rejected(seed):
    with pytest.raises(InvalidParameterError, match="seed must be an int in"):
        murmur3_128(["a"], seed)
    with pytest.raises(InvalidParameterError):
        hash_keys(["a"], seed)


def test_hashed_keys_carry_their_seed():
    hk = hash_keys(["a", "b", "c"], seed=11)
    assert isinstance(hk, HashedKeys) and len(hk) == 3 and hk.seed == 11
    assert np.array_equal(hk.hashes, murmur3_128(["a", "b", "c"], 11))
    assert np.array_equal(hk.h1, hk.hashes[:, 0]) and np.array_equal(hk.h2, hk.hashes[:, 1])
    assert hash_keys(hk, 11) is hk
    assert np.array_equal(hashes_for(hk, 11), hk.hashes)
    with pytest.raises(IncompatibleError, match="seed 11"):
        hashes_for(hk, 12)
    with pytest.raises(IncompatibleError):
        hash_keys(hk, 0)
    assert len(hk[1:]) == 2 and hk[np.array([True, False, True])].seed == 11


def test_hashed_keys_rejects_bad_arrays():
    with pytest.raises(InvalidParameterError, match=r"\(n, 2\) uint64"):
        HashedKeys(np.zeros((3, 3), dtype=np.uint64), 0)
    with pytest.raises(InvalidParameterError):
        HashedKeys(np.zeros((3, 2), dtype=np.int64), 0)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_scalar_fmix64_matches_the_reference_finaliser(k):
    from sysprims.hashing import fmix64
    from tests.reference.murmur3 import _fmix64

    assert fmix64(k) == _fmix64(k)


# ------------------------------------------------------------- threads=


@contextlib.contextmanager
def small_chunks():
    """Let a threaded call split even a small batch (the real floor is
    MIN_KEYS_PER_THREAD keys per chunk)."""
    import sysprims._threads as threads

    old = threads.MIN_KEYS_PER_THREAD
    threads.MIN_KEYS_PER_THREAD = 1
    try:
        yield
    finally:
        threads.MIN_KEYS_PER_THREAD = old


@settings(max_examples=60, deadline=None)
@given(
    keys=st.lists(st.binary(max_size=40), max_size=60),
    seed=st.integers(0, 2**32 - 1),
    threads=st.integers(1, 5),
)
def test_threaded_hashing_equals_serial_on_every_form(keys, seed, threads):
    expect = np.array([mmh3.hash64(k, seed, signed=False) for k in keys], dtype=np.uint64).reshape(-1, 2)
    ints = np.array([int.from_bytes(k[:8].ljust(8, b"\0"), "little") for k in keys], dtype=np.uint64)
    int_expect = np.array([mmh3.hash64(int(v).to_bytes(8, "little"), seed, signed=False) for v in ints],
                          dtype=np.uint64).reshape(-1, 2)
    with small_chunks():
        for batch in (keys, *_arrow_binary(keys), np.array(keys + [b"x"], dtype=object)[:-1]):
            assert np.array_equal(murmur3_128(batch, seed, threads=threads), expect)
            assert np.array_equal(hash_keys(batch, seed, threads=threads).hashes, expect)
        assert np.array_equal(murmur3_128(ints, seed, threads=threads), int_expect)


def _arrow_binary(keys):
    """The keys as an Arrow binary array, when pyarrow is installed (the
    other-interpreter CI venvs may lack it)."""
    try:
        import pyarrow as pa
    except ImportError:
        return ()
    return (pa.array(keys, type=pa.binary()),)


def test_threaded_hashing_really_splits_and_agrees_at_the_real_floor():
    pa = pytest.importorskip("pyarrow")

    from sysprims.hashing import MIN_KEYS_PER_THREAD, chunks_for

    n = 2 * MIN_KEYS_PER_THREAD + 7
    assert chunks_for(n, 2) == 2 and chunks_for(n, 8) == 2 and chunks_for(n - 8, 2) == 1
    keys = [f"key:{i}".encode() for i in range(n)]
    arr = pa.array(keys, type=pa.binary())
    assert np.array_equal(murmur3_128(arr, 9, threads=2), murmur3_128(keys, 9))
    assert np.array_equal(murmur3_128(np.arange(n), 9, threads=2), murmur3_128(np.arange(n), 9))


@pytest.mark.parametrize("threads", [0, -1, True, 1.5, "2", None, 257])
def test_bad_threads_are_rejected(threads):
    with pytest.raises(InvalidParameterError, match="threads must be an int from 1 to 256"):
        murmur3_128(["a"], threads=threads)
    with pytest.raises(InvalidParameterError, match="threads must be an int from 1 to 256"):
        hash_keys(["a"], threads=threads)


def test_h1_only_key_path_gives_h1_and_refuses_pairs():
    from sysprims import _pyobj
    from sysprims.hashing import H1, kernel_keys

    keys = ["a", "bc", "caf\xe9", ""]
    kk = kernel_keys(keys, 5, h1_only=True)
    assert kk.h1().tolist() == [mmh3.hash64(k.encode(), 5, signed=False)[0] for k in keys]
    if _pyobj.disabled_reason() is not None:  # the safe path (SYSPRIMS_SAFE_KEYS=1): the bytes form
        assert kk.kind == "bytes"
        return
    assert kk.kind == H1 and kk.mode == 0
    with pytest.raises(InvalidParameterError, match="h1 only"):
        kk.all_hashes()
