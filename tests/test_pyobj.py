"""The in-place reader of str/bytes batches (sysprims._pyobj): bit-exact with mmh3,
equal to the safe path everywhere, leaves reference counts and memory alone, and
refuses (so the safe path answers, errors included) whatever it does not read.

Run both ways in CI: with ``SYSPRIMS_SAFE_KEYS=1`` every test here checks the
safe path against the same references.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

import mmh3
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sysprims
from sysprims import KeyTypeError, _pyobj, hash_keys, murmur3_32, murmur3_128
from sysprims.hashing import _hash_batch128, kernel_keys
from sysprims.keys import normalize_keys

SAFE = os.environ.get("SYSPRIMS_SAFE_KEYS", "") not in ("", "0")

# every Unicode plane, no surrogates (those cannot be encoded: tested apart)
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


def expect128(keys, seed=0):
    return np.array([mmh3.hash64(k, seed, signed=False) for k in keys], dtype=np.uint64).reshape(-1, 2)


def expect32(keys, seed=0):
    return np.array([mmh3.hash(k, seed, signed=False) for k in keys], dtype=np.uint32)


def safe128(keys, seed=0):
    """Today's path: normalise into one buffer, then hash."""
    return _hash_batch128(normalize_keys(keys), seed)


def fresh(s: str) -> str:
    """A new str object with the characters of ``s`` (not interned, not cached)."""
    return (s + "\x00")[:-1]


def test_fast_path_is_on_unless_forced_off():
    reason = _pyobj.disabled_reason()
    if SAFE:
        assert reason is not None and "SYSPRIMS_SAFE_KEYS" in reason
    else:
        assert reason is None, reason
        assert _pyobj.murmur3_128(["a", "b"], 0) is not None


def check_str_keys(keys, seed):
    """Every in-place form and the safe path against mmh3 on fresh copies of ``keys``."""
    keys = [fresh(k) for k in keys]
    want = expect128(keys, seed)
    assert np.array_equal(murmur3_128(keys, seed), want)
    assert np.array_equal(murmur3_128(tuple(keys), seed), want)
    arr = np.empty(len(keys), dtype=object)
    arr[:] = keys
    assert np.array_equal(murmur3_128(arr, seed), want)
    assert np.array_equal(murmur3_32(keys, seed), expect32(keys, seed))
    assert np.array_equal(hash_keys(keys, seed).hashes, want)
    assert np.array_equal(safe128(keys, seed), want)
    h1 = _pyobj.murmur3_h1(keys, seed)
    assert (h1 is None) == SAFE
    if h1 is not None:
        assert np.array_equal(h1, want[:, 0])


@settings(max_examples=150, deadline=None)
@given(st.lists(TEXT, min_size=1, max_size=30), st.integers(0, 2**32 - 1))
def test_str_lists_bit_exact_with_mmh3(keys, seed):
    check_str_keys(keys, seed)

# latin-1 keys (compact kind 1, not ASCII) take their own UTF-8 transcoder
# (murmur3_128_latin1): ASCII runs of every length around the 16-byte blocks and
# 8-byte words it reads, with non-ASCII characters anywhere
LATIN1 = st.text(st.one_of(st.characters(max_codepoint=0x7F), st.characters(min_codepoint=0x80, max_codepoint=0xFF)), max_size=70)


@settings(max_examples=200, deadline=None)
@given(st.lists(LATIN1, min_size=1, max_size=30), st.integers(0, 2**32 - 1))
def test_latin1_lists_bit_exact_with_mmh3(keys, seed):
    check_str_keys(keys, seed)

@pytest.mark.parametrize("at", range(0, 41))
def test_latin1_one_accent_at_every_position(at):
    """ASCII keys of 0..48 characters with one non-ASCII latin-1 character at
    position ``at``: every split between in-place blocks and built words."""
    keys = [fresh("k" * at + c + "x" * tail) for c in ("\x80", "\xe9", "\xff") for tail in range(0, 9)]
    want = expect128(keys, 3)
    assert np.array_equal(murmur3_128(keys, 3), want)
    h1 = _pyobj.murmur3_h1(keys, 3)
    assert h1 is None or np.array_equal(h1, want[:, 0])


@pytest.mark.parametrize("at", range(0, 41))
def test_wide_one_character_at_every_position(at):
    """UCS-2 and UCS-4 keys (murmur3_128_wide): ASCII runs of every length
    around the 16-character blocks packed in registers and the words read
    after them, with one 2-, 3- or 4-byte character at ``at``, then a lone
    surrogate at the same place (the safe path's error, same position)."""
    wide = ("\u0100", "\u07ff", "\u0800", "\u20ac", "\uffff", "\U00010000", "\U0001f600", "\U0010ffff")
    keys = [fresh("k" * at + c + "x" * tail) for c in wide for tail in range(0, 9)]
    keys += [fresh("\U0001f600" + "k" * at + "\u20ac"), fresh("\u20ac" * at + "ab")]
    want = expect128(keys, 5)
    assert np.array_equal(murmur3_128(keys, 5), want)
    h1 = _pyobj.murmur3_h1(keys, 5)
    assert h1 is None or np.array_equal(h1, want[:, 0])
    for lone, other in (("\ud800", "\u20ac"), ("\udfff", "\U0001f600")):
        bad = [fresh("ok" + other), fresh("k" * at + lone + "x" + other)]
        with pytest.raises(KeyTypeError, match=r"keys\[1\] is a str that cannot be encoded"):
            murmur3_128(bad)


@pytest.mark.parametrize("bits", [True, False], ids=["pdep-pext", "by-character"])
def test_latin1_words_both_transcoders(bits):
    """Both ways of building a word's UTF-8 (BMI2 ``pdep``/``pext`` where fast,
    character by character elsewhere: only one of them runs inside the reader
    on a given machine) against ``str.encode`` on every count of characters,
    ASCII / non-ASCII at every position, the edges 0x7F 0x80 0xBF 0xC0 0xFF."""
    from sysprims._kernels.pyobj import latin1_words

    rng = np.random.default_rng(11)
    alphabet = np.array([0x00, 0x41, 0x7F, 0x80, 0xBF, 0xC0, 0xE9, 0xFF], dtype=np.uint8)
    words = [bytes(alphabet[rng.integers(0, 8, cnt)]) for cnt in rng.integers(1, 9, 4000)]
    words += [bytes([c]) * cnt for c in range(256) for cnt in (1, 4, 5, 8)]
    xs = np.array([int.from_bytes(w, "little") for w in words], dtype=np.uint64)
    cnts = np.array([len(w) for w in words], dtype=np.int64)
    out = np.empty((len(words), 3), dtype=np.uint64)
    latin1_words(xs, cnts, bits, out)
    for w, (k1, k2, n) in zip(words, out.tolist(), strict=True):
        utf8 = w.decode("latin-1").encode()
        assert (n, k1, k2) == (len(utf8), int.from_bytes(utf8[:8], "little"), int.from_bytes(utf8[8:], "little")), w


def test_bit_gather_scatter_loops_match_their_definition():
    """The loop forms of ``pdep``/``pext`` (hosts without fast BMI2; the
    instructions themselves are checked through the latin-1 words above)
    against the instructions' definition bit by bit."""
    from sysprims._kernels.pyobj import _pdep_loop, _pext_loop

    rng = np.random.default_rng(5)
    cases = [(int(x), int(m)) for x, m in rng.integers(0, 2**64, (300, 2), dtype=np.uint64)]
    cases += [(0, 0), (2**64 - 1, 0), (2**64 - 1, 2**64 - 1), (0x1234, 0x00FF00FF00FF00FF), (2**63, 2**63)]
    for x, m in cases:
        bits = [i for i in range(64) if m >> i & 1]
        want_ext = sum(((x >> b) & 1) << i for i, b in enumerate(bits))
        want_dep = sum(((x >> i) & 1) << b for i, b in enumerate(bits))
        assert int(_pext_loop(np.uint64(x), np.uint64(m))) == want_ext
        assert int(_pdep_loop(np.uint64(x), np.uint64(m))) == want_dep


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=40), min_size=1, max_size=30), st.integers(0, 2**32 - 1))
def test_bytes_lists_bit_exact_with_mmh3(keys, seed):
    want = expect128(keys, seed)
    assert np.array_equal(murmur3_128(keys, seed), want)
    assert np.array_equal(murmur3_128(tuple(keys), seed), want)
    assert np.array_equal(murmur3_128(np.array(keys + [None], dtype=object)[:-1].copy(), seed), want)
    assert np.array_equal(murmur3_32(keys, seed), expect32(keys, seed))


@pytest.mark.parametrize(
    "keys",
    [
        ["", "", ""],
        ["a\x00b", "\x00", "\x00\x00\x00", "é\x00", "\U0001f600\x00x"],
        ["x" * n for n in range(0, 41)],
        ["é" * n for n in range(0, 41)],
        ["\u20ac" * n for n in range(0, 41)],
        ["\U0001f600" * n for n in range(0, 41)],
        ["a" * (1 << 20), "é" * (1 << 20), "\u4e2d" * (1 << 19), "\U0001f600" * (1 << 18) + "tail"],
        ["\x7f\x80\xff", "\u07ff\u0800\uffff", "\U00010000\U0010ffff", "\ud7ff\ue000"],
        ["mostly ascii with one é at the end of a long key", "\u4e2d and ascii" * 5],
    ],
    ids=["empty", "nul", "ascii-lengths", "latin1-lengths", "ucs2-lengths", "ucs4-lengths", "1MB", "boundaries", "mixed"],
)
def test_edge_keys(keys):
    keys = [fresh(k) for k in keys]
    want = expect128(keys)
    assert np.array_equal(murmur3_128(keys), want)
    assert np.array_equal(murmur3_32(keys), expect32(keys))
    enc = [k.encode() for k in keys]
    assert np.array_equal(murmur3_128(enc), want)


def test_interned_cached_and_fresh_strings():
    interned = [sys.intern(f"key-{i}") for i in range(50)]
    cached = [fresh(f"kéy-{i}") for i in range(50)]
    for s in cached:
        hash(s)  # fills the hash cache
        s.encode()
    fresh_keys = [fresh(s) for s in interned]
    for keys in (interned, cached, fresh_keys, interned + cached):
        assert np.array_equal(murmur3_128(keys), expect128(keys))


def test_other_forms_take_the_safe_path_with_equal_results():
    class S(str):
        pass

    class B(bytes):
        pass

    words = ["alpha", "é", "", "\U0001f600"]
    enc = [w.encode() for w in words]
    want = expect128(words)
    for keys in (
        [S(w) for w in words],
        words[:2] + [S(words[2]), words[3]],  # one subclass late in the batch
        [B(b) for b in enc],
        [bytearray(b) for b in enc],
        [memoryview(b) for b in enc],
        [enc[0], bytearray(enc[1]), memoryview(enc[2]), enc[3]],
        np.array(words, dtype=object)[::-1][::-1],  # a non-contiguous object array
        iter(words),
    ):
        assert np.array_equal(murmur3_128(keys), want)


@pytest.mark.parametrize(
    "keys, match",
    [
        (["a", None], r"keys\[1\] is a missing value \(None, of type NoneType\)"),
        (["a", "b", 1.5], r"keys\[2\] must be a str.*float"),
        (["a", b"b"], r"keys\[1\] must be a str.*bytes"),
        ([b"a", "b"], r"keys\[1\] must be bytes-like.*str"),
        ([b"a", b"b", 3], r"keys\[2\] must be bytes-like.*int"),
        (["ok", "fine", "bad\udc80"], r"keys\[2\] is a str that cannot be encoded"),
        (["ok", "\ud800\U0001f600"], r"keys\[1\] is a str that cannot be encoded"),
        (["ok", "\ud800", 5], r"keys\[2\] must be a str.*int"),  # the type error wins, as before
    ],
)
def test_bad_elements_same_errors_as_the_safe_path(keys, match):
    with pytest.raises(KeyTypeError, match=match) as fast:
        murmur3_128(keys)
    with pytest.raises(KeyTypeError) as safe:
        normalize_keys(keys)  # the safe path never reads objects in place
    assert str(fast.value) == str(safe.value)
    with pytest.raises(KeyTypeError, match=match):
        murmur3_128(tuple(keys))
    with pytest.raises(KeyTypeError, match=match):
        sysprims.BloomFilter(1024, 3).add_many(keys)


def test_every_structure_reads_lists_in_place_and_agrees_with_the_safe_path():
    keys = [fresh(f"user:{i:015d}") for i in range(300)] + [fresh("ünïcødé"), ""]
    kk = kernel_keys(keys, 5, "test")
    assert kk.kind == ("bytes" if SAFE else "hashes")
    assert np.array_equal(kk.all_hashes(), expect128(keys, 5))
    enc = np.array([k.encode() for k in keys])  # fixed-width bytes: never read in place
    bf, bf2 = sysprims.BloomFilter(1 << 14, 5, seed=5), sysprims.BloomFilter(1 << 14, 5, seed=5)
    bf.add_many(keys)
    bf2.add_many([k.encode() for k in keys])
    assert np.array_equal(bf.bits, bf2.bits) and bf.contains_many(keys).all()
    cm = sysprims.CountMinSketch(256, 4, seed=5)
    cm.update_many(keys + keys[:10])
    assert np.array_equal(cm.query_many(keys), cm.query_many(enc))


def test_reference_counts_unchanged():
    keys = [fresh(f"k{i}é" if i % 2 else f"k{i}") for i in range(100)]
    blobs = [k.encode() for k in keys]
    for batch in (keys, tuple(keys), blobs, np.array(keys, dtype=object)):
        before = [sys.getrefcount(k) for k in batch]
        container = sys.getrefcount(batch)
        murmur3_128(batch)
        murmur3_32(batch)
        sysprims.BloomFilter(1024, 3).add_many(batch)
        assert [sys.getrefcount(k) for k in batch] == before
        assert sys.getrefcount(batch) == container


def test_memory_does_not_grow_over_1000_calls():
    keys = [fresh(f"key {i} é\U0001f600") for i in range(200)]
    for _ in range(20):
        murmur3_128(keys)
    gc.collect()
    tracemalloc.start()
    try:
        for _ in range(50):
            murmur3_128(keys)
        first, _ = tracemalloc.get_traced_memory()
        for _ in range(1000):
            murmur3_128(keys)
        gc.collect()
        last, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # one call's output is 3.2 kB; 1,000 leaking calls would hold megabytes
    assert last - first < 64 * 1024, (first, last)


def _run(code: str, **env: str) -> subprocess.CompletedProcess:
    src = str(Path(sysprims.__file__).resolve().parents[1])
    full_env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]), **env}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=full_env, timeout=600)


def test_keys_dropped_right_after_a_call_under_the_debug_allocator():
    code = """
        import gc, mmh3, numpy as np
        from sysprims import murmur3_128, BloomFilter, _pyobj
        print("fast" if _pyobj.disabled_reason() is None else "safe")
        bf = BloomFilter(1 << 12, 3)
        for r in range(30):
            keys = [(f"round {r} key {i} " + "é\U0001f600"[: i % 3]) for i in range(500)]
            want = [mmh3.hash64(k, 0, signed=False) for k in keys]
            got = murmur3_128(keys)
            bf.add_many(keys)
            del keys
            gc.collect()
            assert [tuple(x) for x in got.tolist()] == want
            blobs = [bytes([r, i % 256]) * (i % 40) for i in range(500)]
            got = murmur3_128(tuple(blobs))
            del blobs
        print("ok")
    """
    res = _run(code, PYTHONMALLOC="debug")
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.split() == ["safe" if SAFE else "fast", "ok"]


def test_env_var_forces_the_safe_path():
    res = _run(
        "from sysprims import _pyobj, murmur3_128; import mmh3; "
        "assert murmur3_128(['é', 'b']).tolist() == [list(mmh3.hash64(k, 0, signed=False)) for k in ['é', 'b']]; "
        "print(_pyobj.disabled_reason())",
        SYSPRIMS_SAFE_KEYS="1",
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert "SYSPRIMS_SAFE_KEYS" in res.stdout


def test_address_hash_is_bit_exact_at_every_alignment_and_tail_rule():
    """murmur3_128_at reads the key from a raw address: with whole tail words
    (8-aligned, or spare bytes promised) and byte by byte (unaligned, no
    promise). Every alignment 0..7 and length 0..40, both rules, against mmh3."""
    import numba

    from sysprims._kernels.pyobj import murmur3_128_at

    @numba.njit
    def at(addr, length, seed, tail_words):
        return murmur3_128_at(addr, length, seed, tail_words)

    rng = np.random.default_rng(4)
    buf = rng.integers(0, 256, 128, dtype=np.uint8)
    base = buf.ctypes.data
    for off in range(8):
        for length in range(41):
            key = buf[off : off + length].tobytes()
            want = mmh3.hash64(key, 99, signed=False)
            for tail_words in (False, True):  # the buffer has spare bytes after every key here
                assert at(base + off, length, np.uint64(99), tail_words) == want, (off, length, tail_words)
