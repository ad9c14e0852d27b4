"""BloomFilter: probe positions against a plain-Python reference on mmh3, batch ==
loop, no false negatives, accuracy, set algebra, introspection, persistence."""

from __future__ import annotations

import math
import pickle
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sysprims.bloom import BloomFilter, ReadOnlyFilterError
from sysprims.errors import (
    IncompatibleError,
    InvalidParameterError,
    KeyTypeError,
    SerializationError,
)
from sysprims.hashing import hash_keys
from tests.reference.bloom import ReferenceBloom, hash_pair, positions

DATA = Path(__file__).resolve().parent / "data"

str_keys = st.lists(st.text(max_size=12), max_size=60)
bytes_keys = st.lists(st.binary(max_size=40), max_size=60)
int_keys = st.lists(st.integers(min_value=-(2**63), max_value=2**64 - 1), max_size=60)
any_keys = st.one_of(str_keys, bytes_keys, int_keys)


def _bits_of(ref: ReferenceBloom) -> np.ndarray:
    return np.array(ref.words(), dtype=np.uint64)


# ----------------------------------------------------------------- parameters


@pytest.mark.parametrize(
    "call, fragment",
    [
        (lambda: BloomFilter(0, 3), "size must be >= 1, got 0"),
        (lambda: BloomFilter(100, 0), "num_hash_functions must be >= 1, got 0"),
        (lambda: BloomFilter(-5, 3), "got -5"),
        (lambda: BloomFilter(1000, 3, blocked=True), "multiple of 512"),
        (lambda: BloomFilter(100, 3, seed=-1), "seed"),
        (lambda: BloomFilter.for_capacity(0, 0.01), "capacity must be >= 1, got 0"),
        (lambda: BloomFilter.for_capacity(-3, 0.01), "got -3"),
        (lambda: BloomFilter.for_capacity(10, 0.0), "false_positive_rate must be in (0, 1), got 0.0"),
        (lambda: BloomFilter.for_capacity(10, 1.0), "got 1.0"),
        (lambda: BloomFilter.for_capacity(10, 1.5), "got 1.5"),
        (lambda: BloomFilter(100, 3).false_positive_rate(-1), "n must be >= 0, got -1"),
    ],
)
def test_bad_parameters_raise_with_the_value(call, fragment):
    with pytest.raises(InvalidParameterError) as info:
        call()
    assert fragment in str(info.value)


def test_bad_keys_raise_key_type_error():
    bf = BloomFilter(1000, 3)
    with pytest.raises(KeyTypeError):
        bf.add(1.5)
    with pytest.raises(KeyTypeError):
        bf.add_many(["a", None])
    with pytest.raises(KeyTypeError):
        bf.contains_many("abc")


def test_for_capacity_uses_the_textbook_formulas():
    for n, p in [(1000, 0.01), (12345, 0.001), (10_000_000, 0.01), (7, 0.3)]:
        bf = BloomFilter.for_capacity(n, p)
        m = math.ceil(-n * math.log(p) / math.log(2) ** 2)
        assert m <= bf.size < m + 64 and bf.size % 64 == 0
        assert bf.num_hash_functions == max(1, round(bf.size / n * math.log(2)))
        assert bf.bits.dtype == np.uint64 and bf.bits.size == bf.size // 64
    big = BloomFilter.for_capacity(10_000_000, 0.01)
    # memory within 2% of the optimal 9.585 bits/key
    assert big.nbytes * 8 / 10_000_000 <= 9.585 * 1.02


# ----------------------------------------------------------------- positions


@pytest.mark.parametrize("blocked", [False, True])
@pytest.mark.parametrize(
    "m", [512, 1024, 64 * 1001 * 8, 2**32 + 512 * 7, 2**40 - 512, 2**63 - 512, 2**64 - 512]
)
def test_kernel_positions_match_reference_even_beyond_2_to_32_bits(m, blocked):
    from sysprims._kernels.bloom import bloom_positions

    rng = np.random.default_rng(m % 1000 + blocked)
    hashes = rng.integers(0, 2**64, size=(200, 2), dtype=np.uint64)
    hashes[0] = [0, 0]
    hashes[1] = [2**64 - 1, 2**64 - 1]
    k = 9
    marg = m // 512 if blocked else m
    out = np.zeros((200, k), dtype=np.uint64)
    bloom_positions(hashes, np.int64(k), np.uint64(marg), np.int64(blocked), out)
    for row, (h1, h2) in zip(out.tolist(), hashes.tolist(), strict=True):
        assert row == positions(h1, h2, k, m, blocked)
        assert max(row) < m


def test_probes_of_large_filters_use_the_high_bits():
    """Filters beyond 2**32 bits must reach positions above 2**32 (no 32-bit truncation)."""
    from sysprims._kernels.bloom import bloom_positions

    m = 2**36
    hashes = np.random.default_rng(3).integers(0, 2**64, size=(2000, 2), dtype=np.uint64)
    out = np.zeros((2000, 7), dtype=np.uint64)
    bloom_positions(hashes, np.int64(7), np.uint64(m), np.int64(0), out)
    assert (out >= 2**32).mean() > 0.9  # 15/16 of a uniform range lies above 2**32


@settings(max_examples=40, deadline=None)
@given(keys=any_keys, blocked=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_scalar_and_batch_set_exactly_the_reference_bits(keys, blocked, seed):
    m, k = (2048, 5) if blocked else (1000, 4)
    ref = ReferenceBloom(m, k, seed, blocked)
    for key in keys:
        ref.add(key)
    a = BloomFilter(m, k, seed=seed, blocked=blocked)
    for key in keys:
        a.add(key)
    b = BloomFilter(m, k, seed=seed, blocked=blocked)
    b.add_many(keys)
    c = BloomFilter(m, k, seed=seed, blocked=blocked)
    c.add_many(hash_keys(keys, seed))
    expected = _bits_of(ref)
    assert np.array_equal(a.bits, expected)
    assert np.array_equal(b.bits, expected)
    assert np.array_equal(c.bits, expected)


@settings(max_examples=40, deadline=None)
@given(added=any_keys, queried=any_keys, blocked=st.booleans())
def test_contains_many_equals_the_contains_loop(added, queried, blocked):
    bf = BloomFilter(1024, 3, seed=11, blocked=blocked)  # small: many false positives
    bf.add_many(added)
    loop = np.array([bf.contains(q) for q in queried], dtype=bool)
    assert np.array_equal(bf.contains_many(queried), loop)
    assert np.array_equal(bf.contains_many(hash_keys(queried, 11)), loop)
    assert [q in bf for q in queried] == loop.tolist()
    ref = ReferenceBloom(1024, 3, 11, blocked)
    for key in added:
        ref.add(key)
    assert loop.tolist() == [ref.contains(q) for q in queried]


@settings(max_examples=30, deadline=None)
@given(keys=any_keys, blocked=st.booleans())
def test_no_false_negatives(keys, blocked):
    bf = BloomFilter.for_capacity(max(1, len(keys)), 0.05, seed=3, blocked=blocked)
    bf.add_many(keys[: len(keys) // 2])
    for key in keys[len(keys) // 2 :]:
        bf.add(key)
    assert all(bf.contains(key) for key in keys)
    assert bf.contains_many(keys).all()


def test_every_key_form_gives_the_same_answer():
    pa = pytest.importorskip("pyarrow")
    words = [f"user{i}" for i in range(500)]
    forms = [
        words,
        tuple(words),
        np.array(words),
        np.array(words, dtype=object),
        [w.encode() for w in words],
        pa.array(words),
        pa.chunked_array([words[:100], words[100:]]),
        hash_keys(words, 5),
    ]
    first = None
    for form in forms:
        bf = BloomFilter(4096, 4, seed=5)
        bf.add_many(form)
        if first is None:
            first = bf
        assert bf == first
        assert bf.contains_many(form).all()
    ints = np.arange(-50, 450, dtype=np.int64)
    a = BloomFilter(4096, 4)
    a.add_many(ints)
    b = BloomFilter(4096, 4)
    b.add_many(pa.array(ints))
    c = BloomFilter(4096, 4)
    for v in ints.tolist():
        c.add(v)
    assert a == b == c
    assert a.contains(-1) == a.contains(2**64 - 1)  # one key, two spellings


def test_hashed_keys_with_another_seed_are_rejected():
    bf = BloomFilter(1000, 3, seed=1)
    with pytest.raises(IncompatibleError):
        bf.add_many(hash_keys(["a"], seed=2))
    with pytest.raises(IncompatibleError):
        bf.contains_many(hash_keys(["a"], seed=2))


def test_empty_batches():
    bf = BloomFilter(1000, 3)
    bf.add_many([])
    assert bf.contains_many([]).shape == (0,)
    assert bf.contains_many(np.array([], dtype=np.int64)).dtype == np.bool_
    assert bf.bit_count() == 0


# ----------------------------------------------------------------- accuracy


def _measured_rate(bf: BloomFilter, n_queries: int, salt: str) -> float:
    return float(bf.contains_many([f"{salt}{i}" for i in range(n_queries)]).mean())


@pytest.mark.parametrize("p", [0.01, 0.001])
def test_standard_rate_within_four_sigma_of_target(p):
    n, q = 50_000, 400_000
    bf = BloomFilter.for_capacity(n, p, seed=7)
    bf.add_many([f"in{i}" for i in range(n)])
    expected = bf.false_positive_rate(n)  # the filter's own m, k
    sigma = math.sqrt(p * (1 - p) / q)
    measured = _measured_rate(bf, q, "out")
    assert abs(measured - p) <= 4 * sigma + abs(expected - p)
    assert abs(measured - expected) <= 4 * math.sqrt(expected * (1 - expected) / q)


@pytest.mark.parametrize("p", [0.01, 0.001])
def test_blocked_rate_at_or_under_target(p):
    n, q = 50_000, 400_000
    bf = BloomFilter.for_capacity(n, p, seed=7, blocked=True)
    bf.add_many([f"in{i}" for i in range(n)])
    assert bf.false_positive_rate(n) <= p
    measured = _measured_rate(bf, q, "out")
    assert measured <= p
    # the sizing model is right, not merely generous: measured within 4 sigma of it
    expected = bf.false_positive_rate(n)
    assert abs(measured - expected) <= 4 * math.sqrt(expected * (1 - expected) / q)


def test_blocked_probes_stay_in_one_block():
    from sysprims._kernels.bloom import bloom_positions

    bf = BloomFilter.for_capacity(10_000, 0.01, blocked=True)
    h = hash_keys([f"k{i}" for i in range(1000)]).hashes
    out = np.zeros((1000, bf.num_hash_functions), dtype=np.uint64)
    bloom_positions(h, np.int64(bf.num_hash_functions), np.uint64(bf.size // 512), np.int64(1), out)
    assert ((out // 512) == (out[:, :1] // 512)).all()


# ----------------------------------------------------------------- introspection


def test_approx_count_and_fill_ratio():
    n = 20_000
    bf = BloomFilter.for_capacity(n, 0.01, seed=2)
    assert bf.approx_count() == 0.0 and bf.fill_ratio == 0.0
    bf.add_many([f"x{i}" for i in range(n)])
    x = int(sum(bin(w).count("1") for w in bf.bits.tolist()))
    assert bf.bit_count() == x
    assert bf.fill_ratio == x / bf.size
    est = -bf.size / bf.num_hash_functions * math.log(1 - x / bf.size)
    assert bf.approx_count() == pytest.approx(est)
    assert abs(bf.approx_count() - n) < 0.02 * n  # Swamidass-Baldi is accurate near capacity
    assert bf.estimated_false_positive_rate() == pytest.approx(bf.fill_ratio**bf.num_hash_functions)
    full = BloomFilter(64, 1)
    full.bits[:] = np.uint64(2**64 - 1)
    assert full.approx_count() == math.inf
    with pytest.raises(TypeError):
        len(bf)  # no faked length


def test_repr_and_html():
    bf = BloomFilter.for_capacity(1000, 0.01)
    bf.add("a")
    r = repr(bf)
    assert "BloomFilter(size=" in r and "capacity=1000" in r and "approx_count=1" in r
    html = bf._repr_html_()
    assert "<table>" in html and "fill ratio" in html


# ----------------------------------------------------------------- set algebra


@settings(max_examples=25, deadline=None)
@given(a=str_keys, b=str_keys, blocked=st.booleans())
def test_union_equals_inserting_both(a, b, blocked):
    fa, fb, both = (BloomFilter(2048, 4, seed=9, blocked=blocked) for _ in range(3))
    fa.add_many(a)
    fb.add_many(b)
    both.add_many(a + b)
    assert fa | fb == both
    assert fa.union(fb) == both
    inter = fa & fb
    assert np.array_equal(inter.bits, fa.bits & fb.bits)
    assert all(inter.contains(k) for k in set(a) & set(b))
    c = fa.copy()
    c |= fb
    assert c == both
    c &= fa
    assert c == fa & both


def test_incompatible_combinations_raise():
    a = BloomFilter(1024, 3)
    for other in (BloomFilter(2048, 3), BloomFilter(1024, 4), BloomFilter(1024, 3, seed=1),
                  BloomFilter(1024, 3, blocked=True)):
        with pytest.raises(IncompatibleError):
            a | other
        with pytest.raises(IncompatibleError):
            a.intersection_update(other)
    with pytest.raises(IncompatibleError):
        a | {"x"}  # the operators take filters only; union({"x"}) adds keys (test_bloom_setapi)


def test_copy_and_clear_are_independent():
    a = BloomFilter(1024, 3)
    a.add("x")
    b = a.copy()
    a.clear()
    assert not a.contains("x") and b.contains("x") and a.bit_count() == 0


# ----------------------------------------------------------------- persistence


@pytest.mark.parametrize("blocked", [False, True])
def test_round_trips(tmp_path, blocked):
    bf = BloomFilter.for_capacity(5000, 0.01, seed=42, blocked=blocked)
    bf.add_many([f"k{i}" for i in range(5000)])
    again = BloomFilter.from_bytes(bf.to_bytes())
    assert again == bf and again.capacity == 5000 and again.target_false_positive_rate == 0.01
    assert pickle.loads(pickle.dumps(bf)) == bf
    path = tmp_path / "f.bloom"
    bf.save(path)
    assert BloomFilter.load(path) == bf
    mapped = BloomFilter.load(path, mmap=True)
    assert mapped == bf
    assert mapped.contains_many([f"k{i}" for i in range(5000)]).all()
    assert mapped.contains("k1")
    with pytest.raises(ReadOnlyFilterError):
        mapped.add("new")
    with pytest.raises(ReadOnlyFilterError):
        mapped.add_many(["new"])
    writable = mapped.copy()
    writable.add("new")
    assert writable.contains("new")


def test_truncated_or_corrupted_bytes_raise():
    bf = BloomFilter(4096, 3)
    bf.add_many(["a", "b"])
    blob = bf.to_bytes()
    for bad in (blob[:-1], blob[: len(blob) // 2], b"", blob + b"\x00"):
        with pytest.raises(SerializationError):
            BloomFilter.from_bytes(bad)
    flipped = bytearray(blob)
    flipped[len(blob) // 2] ^= 0x01
    with pytest.raises(SerializationError):
        BloomFilter.from_bytes(bytes(flipped))
    from sysprims._format import pack

    bad_params = pack("bloom", {"size": 4096, "num_hash_functions": 3, "blocked": False}, {"bits": np.zeros(3, np.uint64)})
    with pytest.raises(SerializationError):
        BloomFilter.from_bytes(bad_params)


def test_golden_bytes_are_pinned():
    """tests/data/bloom_v1.bin was written by this version; the format must not drift."""
    golden = (DATA / "bloom_v1.bin").read_bytes()
    bf = BloomFilter(1024, 3, seed=7)
    bf.add_many(["alice", "bob", "charlie", "david", "eve"])
    assert bf.to_bytes() == golden
    loaded = BloomFilter.from_bytes(golden)
    assert loaded.contains("alice") and loaded.seed == 7
    ref = ReferenceBloom(1024, 3, 7)
    for u in ["alice", "bob", "charlie", "david", "eve"]:
        ref.add(u)
    assert np.array_equal(loaded.bits, _bits_of(ref))


def test_reference_hash_is_mmh3():
    import mmh3

    assert hash_pair("abc", 3) == mmh3.hash64(b"abc", 3, signed=False)


def test_every_bloom_kernel_compiles_from_its_warmup_arguments():
    from sysprims import _jit
    from sysprims._kernels import bloom  # noqa: F401  (registers the kernels)

    names = [n for n in _jit._REGISTRY if n.startswith("bloom.")]
    assert "bloom.popcount_words" in names and "bloom.bloom_add" in names
    for name in names:
        dispatcher, factory = _jit._REGISTRY[name]
        for args in factory():
            dispatcher(*args)
