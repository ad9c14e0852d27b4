"""Every accepted batch form hashes like the list of the same keys; bad input is named."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sysprims import InvalidParameterError, KeyTypeError, murmur3_128
from sysprims.keys import key_to_bytes, normalize_keys

WORDS = ["alice", "bob", "", "ünïcødé ✓", "x" * 40, "with\x00nul", "😀 emoji"]
EXPECTED = murmur3_128([w.encode("utf-8") for w in WORDS])


def same(keys) -> bool:
    return np.array_equal(murmur3_128(keys), EXPECTED)


def test_list_tuple_iterable_of_str():
    assert same(WORDS)
    assert same(tuple(WORDS))
    assert same(iter(WORDS))
    assert same(w for w in WORDS)


def test_bytes_like_forms():
    enc = [w.encode() for w in WORDS]
    assert same(enc)
    assert same([bytearray(b) for b in enc])
    assert same([memoryview(b) for b in enc])
    assert same([enc[0], bytearray(enc[1]), memoryview(enc[2]), *enc[3:]])


def test_fast_and_fallback_paths_agree():
    no_nul = [w for w in WORDS if "\x00" not in w]
    expected = murmur3_128([w.encode() for w in no_nul])
    assert np.array_equal(murmur3_128(no_nul), expected)  # NUL-split fast path
    assert np.array_equal(murmur3_128([w.encode() for w in no_nul]), murmur3_128(list(np.array(no_nul, dtype=object))))
    wide = memoryview(np.array([1, 2], dtype=np.uint32))  # non-byte format: hashed as its raw bytes
    assert np.array_equal(murmur3_128([wide]), murmur3_128([wide.tobytes()]))
    assert np.array_equal(murmur3_128([b"a\x00b", memoryview(b"c")]), murmur3_128([b"a\x00b", b"c"]))


def test_numpy_unicode_object_and_string_dtypes():
    # NumPy's fixed-width unicode drops trailing NULs; our words have none at the end.
    assert same(np.array(WORDS))
    assert same(np.array(WORDS, dtype=object))
    assert same(np.array(WORDS, dtype=np.dtypes.StringDType()))
    assert same(np.array(WORDS)[::-1][::-1].copy())


def test_numpy_unicode_non_contiguous():
    arr = np.array(WORDS * 2)[::2]
    assert np.array_equal(murmur3_128(arr), murmur3_128(list(arr)))


def test_numpy_fixed_bytes():
    enc = [w.encode() for w in WORDS]
    assert same(np.array(enc, dtype=object))
    arr = np.array(enc)  # dtype S..
    assert arr.dtype.kind == "S"
    assert same(arr)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64])
def test_every_integer_dtype(dtype):
    info = np.iinfo(dtype)
    values = [0, 1, int(info.max), int(info.min), 7]
    arr = np.array(values, dtype=dtype)
    assert np.array_equal(murmur3_128(arr), murmur3_128(values))


def test_integer_lists_with_uint64_range():
    values = [2**64 - 1, 2**63, 5]
    assert np.array_equal(murmur3_128(values), murmur3_128(np.array(values, dtype=np.uint64)))
    assert np.array_equal(murmur3_128([-1]), murmur3_128([2**64 - 1]))
    assert np.array_equal(murmur3_128([np.int64(3), 4]), murmur3_128([3, 4]))


def test_pyarrow_forms_are_equal_and_zero_copy():
    pa = pytest.importorskip("pyarrow")
    for typ in (pa.string(), pa.large_string()):
        arr = pa.array(WORDS, type=typ)
        assert same(arr)
        batch = normalize_keys(arr)
        assert np.shares_memory(batch.data, np.frombuffer(arr.buffers()[2], dtype=np.uint8))
    enc = [w.encode() for w in WORDS]
    assert same(pa.array(enc, type=pa.binary()))
    assert same(pa.array(enc, type=pa.large_binary()))
    assert same(pa.chunked_array([WORDS[:3], WORDS[3:]]))
    assert same(pa.array(["pad"] + WORDS).slice(1))
    assert same(pa.array(WORDS).dictionary_encode())
    if hasattr(pa, "string_view"):
        assert same(pa.array(WORDS, type=pa.string_view()))
    ints = [0, 5, -1, 2**40]
    assert np.array_equal(murmur3_128(pa.array(ints, type=pa.int64())), murmur3_128(ints))
    assert np.array_equal(murmur3_128(pa.array([1, 2], type=pa.uint8())), murmur3_128([1, 2]))


def test_pandas_series():
    pd = pytest.importorskip("pandas")
    assert same(pd.Series(WORDS))
    assert np.array_equal(murmur3_128(pd.Series([1, 2, 3])), murmur3_128([1, 2, 3]))


@pytest.mark.parametrize(
    "keys, position, typename",
    [
        (["a", None], 1, "NoneType"),
        (["a", "b", 1.5], 2, "float"),
        (["a", b"b"], 1, "bytes"),
        ([b"a", "b"], 1, "str"),
        ([1, "a"], 1, "str"),
        ([1, 2, True], 2, "bool"),
        ([["a"], "b"], 0, "list"),
        ([None], 0, "NoneType"),
        ([1.0], 0, "float"),
        ([1, 2.5], 1, "float"),
    ],
)
def test_bad_elements_name_position_and_type(keys, position, typename):
    with pytest.raises(KeyTypeError, match=rf"keys\[{position}\].*{typename}"):
        murmur3_128(keys)


def test_bad_batches():
    with pytest.raises(KeyTypeError, match="single str"):
        murmur3_128("alice")
    with pytest.raises(KeyTypeError, match="single bytes"):
        murmur3_128(b"alice")
    with pytest.raises(KeyTypeError, match="dtype float64"):
        murmur3_128(np.array([1.0, 2.0]))
    with pytest.raises(KeyTypeError, match="dtype bool"):
        murmur3_128(np.array([True, False]))
    with pytest.raises(KeyTypeError, match="1-D"):
        murmur3_128(np.zeros((2, 2), dtype=np.int64))
    with pytest.raises(KeyTypeError, match="not a key type|must be a batch"):
        murmur3_128(3.5)
    with pytest.raises(InvalidParameterError, match=r"keys\[1\] must be an int in"):
        murmur3_128([1, 2**64])
    with pytest.raises(KeyTypeError, match=r"keys\[1\].*surrogate"):
        murmur3_128(["ok", "bad\ud800"])
    with pytest.raises(KeyTypeError, match=r"keys\[0\] is not valid Unicode"):
        murmur3_128(np.array(["\ud800"]))


def test_arrow_nulls_and_bad_types():
    pa = pytest.importorskip("pyarrow")
    with pytest.raises(KeyTypeError, match=r"keys\[1\] is null"):
        murmur3_128(pa.array(["a", None, "c"]))
    with pytest.raises(KeyTypeError, match="double"):
        murmur3_128(pa.array([1.5, 2.5]))


def test_key_to_bytes():
    assert key_to_bytes("é") == "é".encode()
    assert key_to_bytes(b"x") == b"x"
    assert key_to_bytes(bytearray(b"x")) == b"x"
    assert key_to_bytes(-1) == b"\xff" * 8
    assert key_to_bytes(np.uint64(2**64 - 1)) == b"\xff" * 8
    for bad in (None, 1.5, True, ["a"]):
        with pytest.raises(KeyTypeError):
            key_to_bytes(bad)
    with pytest.raises(InvalidParameterError):
        key_to_bytes(2**64)


def test_key_batch_accessors():
    b = normalize_keys(["ab", "", "é"])
    assert [b.key_bytes(i) for i in range(3)] == [b"ab", b"", "é".encode()]
    assert b.lengths().tolist() == [2, 0, 2]
    ib = normalize_keys([1, -1])
    assert ib.key_bytes(1) == b"\xff" * 8 and ib.lengths().tolist() == [8, 8]
    assert normalize_keys(b) is b


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=25), min_size=1, max_size=12))
def test_split_nul_kernel_equals_bytes_split(keys):
    from sysprims._kernels.keybuf import split_nul

    data = np.frombuffer(b"\x00".join(keys), dtype=np.uint8)
    n = len(keys)
    starts, ends = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
    got = split_nul(data, starts, ends)
    parts = bytes(data).split(b"\x00")
    if len(parts) == n:  # no key holds a NUL: the spans are exactly the keys
        assert got == n
        assert [bytes(data[a:b]) for a, b in zip(starts.tolist(), ends.tolist(), strict=True)] == keys
    else:  # more separators than keys: reported, so the caller falls back
        assert got == -1


# ------------------------------------------- hand-built batches (issue #17, item 3)


def _crash_free(code: str):
    """Run ``code`` in a fresh interpreter (a wild read may kill it) and return it."""
    import os
    import subprocess
    import sys
    import textwrap
    from pathlib import Path

    import sysprims

    src = str(Path(sysprims.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=env, timeout=600)


def test_key_batch_with_spans_outside_its_data_never_reaches_a_kernel():
    res = _crash_free("""
        import numpy as np
        from sysprims import BloomFilter, CountMinSketch, InvalidParameterError, murmur3_128
        from sysprims.keys import KeyBatch
        from sysprims.sharding import HashBasedSharding
        data = np.zeros(16, dtype=np.uint8)
        bad = [
            KeyBatch("bytes", 2, data=data, starts=np.array([0, 4]), ends=np.array([4, 1 << 40])),
            KeyBatch("bytes", 1, data=data, starts=np.array([-(1 << 40)]), ends=np.array([4])),
            KeyBatch("bytes", 1, data=data, starts=np.array([8]), ends=np.array([4])),
        ]
        calls = [murmur3_128, BloomFilter(1024, 3).add_many, CountMinSketch(64, 3).update_many,
                 HashBasedSharding(4).get_shards]
        for batch in bad:
            for call in calls:
                try:
                    call(batch)
                except InvalidParameterError as exc:
                    assert "outside its data" in str(exc), exc
                else:
                    raise SystemExit(f"{call} accepted {batch}")
        print("refused")
    """)
    assert res.returncode == 0 and res.stdout.strip() == "refused", (res.returncode, res.stdout, res.stderr[-2000:])


def test_key_batch_with_wrong_dtypes_or_shapes_cannot_be_built():
    from sysprims.keys import KeyBatch

    data, z2 = np.zeros(8, dtype=np.uint8), np.zeros(2, dtype=np.int64)
    bad = [
        dict(kind="bytes", n=2, data=data.astype(np.float64), starts=z2, ends=z2),
        dict(kind="bytes", n=2, data=data, starts=z2.astype(np.int32), ends=z2),
        dict(kind="bytes", n=3, data=data, starts=z2, ends=z2),
        dict(kind="bytes", n=2, data=np.zeros((2, 4), dtype=np.uint8), starts=z2, ends=z2),
        dict(kind="bytes", n=2, data=np.zeros(16, dtype=np.uint8)[::2], starts=z2, ends=z2),
        dict(kind="bytes", n=2, data=None, starts=z2, ends=z2),
        dict(kind="int", n=2, ints=np.zeros(2, dtype=np.int64)),
        dict(kind="int", n=3, ints=np.zeros(2, dtype=np.uint64)),
        dict(kind="str", n=0),
        dict(kind="int", n=-1, ints=np.zeros(0, dtype=np.uint64)),
    ]
    for fields in bad:
        with pytest.raises(InvalidParameterError, match="KeyBatch"):
            KeyBatch(**fields)
    ok = KeyBatch("bytes", 2, data=data, starts=z2, ends=z2 + 3)
    assert np.array_equal(murmur3_128(ok), murmur3_128([b"\x00" * 3] * 2))


def test_key_batch_altered_after_it_was_built_is_checked_again():
    res = _crash_free("""
        import numpy as np
        from sysprims import InvalidParameterError, murmur3_128
        from sysprims.keys import normalize_keys
        batch = normalize_keys(["abc", "de"])
        batch.ends[1] = 10**9  # arrays stay writable: the spans are checked on entry
        try:
            murmur3_128(batch)
        except InvalidParameterError as exc:
            print(exc)
        object.__setattr__(batch, "ints", None)
        object.__setattr__(batch, "kind", "int")
        try:
            murmur3_128(batch)
        except InvalidParameterError as exc:
            print(exc)
    """)
    assert res.returncode == 0, (res.returncode, res.stderr[-2000:])
    lines = res.stdout.splitlines()
    assert len(lines) == 2 and "key 1 spans [4, 1000000000)" in lines[0] and "KeyBatch of kind 'int'" in lines[1], lines


def test_altered_hashed_keys_never_reach_a_kernel():
    from sysprims import BloomFilter, CountMinSketch, hash_keys
    from sysprims.sharding import HashBasedSharding

    calls = [BloomFilter(1024, 3).contains_many, CountMinSketch(64, 3).query_many, HashBasedSharding(4).get_shards]
    hk = hash_keys(["a", "b", "c"])
    with pytest.raises(AttributeError):
        hk.hashes = np.zeros((3, 1), dtype=np.uint64)
    with pytest.raises(AttributeError):
        hk.seed = 2**40
    import warnings

    with warnings.catch_warnings():  # NumPy 2.5 deprecates setting .shape; it still works
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            hk.hashes.shape = (6, 1)  # an ndarray's shape can change in place
        except AttributeError:  # a NumPy that no longer allows it
            hk = None
    for call in calls if hk is not None else []:
        with pytest.raises(InvalidParameterError, match="altered"):
            call(hk)
    hk2 = hash_keys(["a", "b"])
    object.__setattr__(hk2, "_hashes", np.zeros((2, 2), dtype=np.float64))
    for call in calls:
        with pytest.raises(InvalidParameterError, match="altered"):
            call(hk2)
