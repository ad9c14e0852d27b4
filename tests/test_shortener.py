"""URL shortener: base62, permuted codes, the seed's bugs, batch == loop, validation,
aliases, expiry, clicks, over memory, SQLite and a real Redis server."""

from __future__ import annotations

import hashlib
import string

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reference import ids as ref
from sysprims.clock import ManualClock
from sysprims.errors import InvalidParameterError, NotFoundError
from sysprims.shortener import (
    BASE62,
    AliasTakenError,
    DistributedURLShortener,
    FeistelPermutation,
    MemoryLinkStore,
    URLShortener,
    decode_base62,
    decode_base62_many,
    encode_base62,
    encode_base62_many,
)

U64 = (1 << 64) - 1
T0 = 1_700_000_000.0


# -- base62 -------------------------------------------------------------------
def test_alphabet_is_the_seeds():
    assert BASE62 == string.digits + string.ascii_lowercase + string.ascii_uppercase
    assert URLShortener.BASE62 == BASE62


def test_known_values():
    # 12345 = 3*62**2 + 13*62 + 7 and digit 13 is 'd' in the seed's alphabet
    assert encode_base62(12345) == "3d7" == ref.encode_base62(12345)
    assert encode_base62(0) == "0" and encode_base62(61) == "Z" and encode_base62(62) == "10"
    assert encode_base62(U64) == ref.encode_base62(U64)
    assert len(encode_base62(U64)) == 11


@settings(max_examples=200, deadline=None)
@given(st.integers(0, U64), st.integers(0, 12))
def test_base62_round_trip_and_reference(n, width):
    code = encode_base62(n, width)
    assert code == ref.encode_base62(n, width)
    assert decode_base62(code) == n
    assert URLShortener()._decode_base62(URLShortener()._encode_base62(n)) == n


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, U64), max_size=50), st.integers(0, 12))
def test_base62_batch_equals_loop(values, width):
    got = encode_base62_many(values, width)
    assert got == [encode_base62(v, width) for v in values]
    if values:
        assert decode_base62_many(got).tolist() == values


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 62**7 - 1), st.integers(0, 62**7 - 1))
def test_base62_preserves_order(a, b):
    """Fixed-width codes compare like their numbers under the alphabet's order;
    unpadded codes compare by (length, digits)."""
    rank = BASE62.index
    key = lambda code: [rank(c) for c in code]  # noqa: E731
    assert (key(encode_base62(a, 7)) < key(encode_base62(b, 7))) == (a < b)
    ua, ub = encode_base62(a), encode_base62(b)
    assert ((len(ua), key(ua)) < (len(ub), key(ub))) == (a < b)


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=BASE62 + "-_ /é", max_size=13))
def test_batch_decode_matches_reference(code):
    want = ref.decode_base62(code)
    if want is None:
        with pytest.raises(InvalidParameterError, match=r"codes\[0\]"):
            decode_base62_many([code])
    else:
        assert decode_base62_many([code]).tolist() == [want]


@pytest.mark.parametrize("bad", ["", "ab-c", "é"])
def test_scalar_decode_rejects_bad_codes(bad):
    with pytest.raises(InvalidParameterError):
        decode_base62(bad)


@pytest.mark.parametrize("bad", [-1, 1.5, "7", True])
def test_encode_rejects_non_naturals(bad):
    with pytest.raises(InvalidParameterError):
        encode_base62(bad)
    with pytest.raises(InvalidParameterError):
        encode_base62_many([bad])


# -- keyed permutation ----------------------------------------------------------
@pytest.mark.parametrize("length", [1, 2])
def test_feistel_is_a_bijection_of_the_code_space(length):
    p = FeistelPermutation(length, b"secret")
    n = 62**length
    fwd = p.forward_many(np.arange(n, dtype=np.uint64))
    assert sorted(fwd.tolist()) == list(range(n))
    assert p.inverse_many(fwd).tolist() == list(range(n))


def test_feistel_batch_matches_scalar_and_reference():
    p = FeistelPermutation(7, "k")
    vals = np.random.default_rng(3).integers(0, 62**7, size=300, dtype=np.int64).astype(np.uint64)
    fwd = p.forward_many(vals)
    keys = p.round_keys.tolist()
    for v, f in zip(vals.tolist(), fwd.tolist(), strict=False):
        assert f == p.forward(v) == ref.feistel(v, keys, p.half_bits, p.domain, False)
        assert p.inverse(f) == v == ref.feistel(f, keys, p.half_bits, p.domain, True)


def test_permuted_codes_are_not_enumerable():
    """Consecutive counters give codes in no order: the fraction of increasing
    neighbours is ~1/2 (binomial, n=9999: 6 sigma = 0.03), where a plain
    counter gives 1."""
    s = URLShortener(strategy="permuted", secret=b"s3cret")
    codes = s.shorten_many([f"https://e.com/{i}" for i in range(10_000)])
    assert {len(c) for c in codes} == {7} and len(set(codes)) == 10_000
    nums = decode_base62_many(codes).astype(np.float64)
    frac_up = float(np.mean(np.diff(nums) > 0))
    assert abs(frac_up - 0.5) < 6 * 0.5 / np.sqrt(9999)
    # and a different secret gives different codes for the same counters
    other = URLShortener(strategy="permuted", secret=b"other").shorten_many([f"https://e.com/{i}" for i in range(100)])
    assert len(set(other) & set(codes[:100])) < 3


# -- the seed's bugs ------------------------------------------------------------
def test_distributed_codes_are_never_truncated(clock):
    """Seed bug: ``_encode_base62(id)[:7]`` keeps the timestamp digits only, so
    two IDs of one millisecond shared a code."""
    d = DistributedURLShortener(1, clock=clock)
    codes = [d.shorten(f"https://e.com/{i}") for i in range(50)]
    assert len(set(codes)) == 50
    seed_codes = [encode_base62(decode_base62(c))[:7] for c in codes]
    assert len(set(seed_codes)) == 1  # what the seed would have stored
    for i, c in enumerate(codes):
        assert d.expand(c) == f"https://e.com/{i}"
        assert d.id_generator.decode(decode_base62(c)).sequence == i


def test_hash_based_keeps_a_urls_code():
    """Seed bug: shortening the same URL twice appended a digit and stored a second code."""
    s = URLShortener()
    a = s.shorten_hash_based("https://e.com/x")
    assert s.shorten_hash_based("https://e.com/x") == a and len(s) == 1
    md5 = int.from_bytes(hashlib.md5(b"https://e.com/x").digest()[:8], "big")
    assert a == encode_base62(md5 % 62**6, 6)


def test_hash_collisions_give_distinct_fixed_length_codes():
    """Seed bug: a collision appended digits, which can equal another URL's code.
    With 4-character codes (62**4 = 14.8M) 20k URLs collide ~13 times (birthday)."""
    s = URLShortener(hash_length=4)
    urls = [f"https://e.com/{i}" for i in range(20_000)]
    codes = [s.shorten_hash_based(u) for u in urls]
    primaries = [encode_base62(int.from_bytes(hashlib.md5(u.encode()).digest()[:8], "big") % 62**4, 4) for u in urls]
    assert len(set(primaries)) < len(urls)  # the test really has collisions
    assert len(set(codes)) == len(urls) and {len(c) for c in codes} == {4}
    assert all(s.expand(c) == u for c, u in zip(codes, urls, strict=False))
    # the batch twin gives the same codes on a fresh shortener
    assert URLShortener(hash_length=4).shorten_many(urls, strategy="hash").tolist() == codes


def test_counter_codes_skip_codes_taken_by_aliases():
    s = URLShortener()
    s.shorten("https://alias.example", alias="q0V")  # the counter's second code
    a, b = s.shorten_counter_based("https://e.com/1"), s.shorten_counter_based("https://e.com/2")
    assert (a, b) == ("q0U", "q0W")
    assert s.expand("q0V") == "https://alias.example"


# -- batch == loop --------------------------------------------------------------
_URL = st.integers(0, 30).map(lambda i: f"https://e.com/{i}")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(st.lists(_URL, max_size=30), min_size=1, max_size=4), strategy=st.sampled_from(["counter", "permuted", "hash"]))
def test_shorten_many_equals_loop(batches, strategy):
    a = URLShortener(strategy=strategy, secret=b"k", hash_length=4, chunk_size=7)
    b = URLShortener(strategy=strategy, secret=b"k", hash_length=4)
    a.shorten("https://pre.example", alias="q0W")  # a taken code inside the batch's range
    b.shorten("https://pre.example", alias="q0W")
    for batch in batches:
        got = a.shorten_many(batch)
        assert isinstance(got, np.ndarray)
        assert got.tolist() == [b.shorten(u) for u in batch]
        assert a.expand_many(got).tolist() == batch


def test_shorten_many_snowflake_and_ttl_equal_loop():
    ca, cb = ManualClock(T0), ManualClock(T0)
    a, b = DistributedURLShortener(3, clock=ca), DistributedURLShortener(3, clock=cb)
    urls = [f"https://e.com/{i % 5}" for i in range(9000)]
    assert a.shorten_many(urls).tolist() == [b.shorten(u) for u in urls]
    c, d = URLShortener(clock=ManualClock(T0)), URLShortener(clock=ManualClock(T0))
    assert c.shorten_many(urls[:50], ttl=60).tolist() == [d.shorten(u, ttl=60) for u in urls[:50]]
    assert len(set(c.shorten_many(urls[:10], ttl=5, strategy="hash"))) == 10


# -- validation -------------------------------------------------------------------
BAD_URLS = [
    "ftp://e.com/x", "javascript:alert(1)", "e.com/x", "https://", "http:///path",
    "https://e.com/a b", "https://e.com/\x00", "https://e.com/\n", "https://e.com/\x85",
    "https://e.com/" + "a" * 2100, 42, None,
]


@pytest.mark.parametrize("bad", BAD_URLS)
def test_invalid_urls_raise_and_store_nothing(bad):
    s = URLShortener()
    with pytest.raises(InvalidParameterError, match="url"):
        s.shorten(bad)
    with pytest.raises(InvalidParameterError, match=r"urls\[2\]"):
        s.shorten_many(["https://ok.example/1", "https://ok.example/2", bad])
    assert len(s) == 0


@pytest.mark.parametrize("good", ["http://e.com", "HTTPS://E.COM/x?y=1#z", "https://[::1]:8080/p", "https://é.example/ü"])
def test_valid_urls(good):
    s = URLShortener()
    assert s.expand(s.shorten(good)) == good


# -- aliases, expiry, clicks --------------------------------------------------------
def test_aliases():
    s = URLShortener()
    assert s.shorten("https://e.com/a", alias="my-link_1") == "my-link_1"
    with pytest.raises(AliasTakenError):
        s.shorten("https://e.com/b", alias="my-link_1")
    for bad in ["ab", "x" * 65, "has space", "sl/ash", "ünï"]:
        with pytest.raises(InvalidParameterError, match="alias"):
            s.shorten("https://e.com/b", alias=bad)
    for reserved in ["api", "Admin", "STATIC"]:
        with pytest.raises(InvalidParameterError, match="reserved"):
            s.shorten("https://e.com/b", alias=reserved)
    assert s.expand("my-link_1") == "https://e.com/a" and len(s) == 1


def test_unknown_code_and_bad_arguments():
    s = URLShortener()
    assert s.expand("nope") is None and s.click("nope") is None
    with pytest.raises(NotFoundError):
        s.clicks("nope")
    with pytest.raises(InvalidParameterError):
        s.expand(5)
    with pytest.raises(InvalidParameterError):
        s.shorten("https://e.com", strategy="random")
    with pytest.raises(InvalidParameterError):
        s.shorten("https://e.com", ttl=0)
    with pytest.raises(InvalidParameterError):
        URLShortener(strategy="snowflake")


def test_repr_and_html():
    s = URLShortener(strategy="permuted", secret=b"k")
    s.shorten("https://e.com")
    assert "links=1" in repr(s) and "<table>" in s._repr_html_()
    assert "MemoryLinkStore" in repr(s)


def test_memory_store_is_the_default():
    assert isinstance(URLShortener().store, MemoryLinkStore)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="hHtTpPsS:/?#@.é \n\x00\x7f\x85ab", max_size=20))
def test_batch_url_check_never_accepts_what_validate_url_rejects(text):
    from sysprims.shortener._core import validate_url

    for candidate in [text, "https://" + text, "http://e" + text]:
        if URLShortener._batch_valid([candidate, "https://ok.example"], 2048):
            assert validate_url(candidate) == candidate
