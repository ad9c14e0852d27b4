"""The classic primer API of the URL shortener: ``URLShortener()`` with
``shorten_counter_based``, ``shorten_hash_based``, ``expand`` and the base62
helpers, and ``DistributedURLShortener(machine_id)``, checked through the
behaviour the primer documents, not its code."""

from __future__ import annotations

import string

from sysprims.clock import ManualClock
from sysprims.ids import SnowflakeID
from sysprims.shortener import DistributedURLShortener, URLShortener, decode_base62

ALPHABET = string.digits + string.ascii_lowercase + string.ascii_uppercase


def _base62(n: int) -> str:
    """Positional base 62 over 0-9, a-z, A-Z (most significant digit first)."""
    digits = []
    while True:
        n, r = divmod(n, 62)
        digits.append(ALPHABET[r])
        if n == 0:
            return "".join(reversed(digits))


def test_alphabet_and_base62_helpers():
    s = URLShortener()
    assert URLShortener.BASE62 == ALPHABET and len(URLShortener.BASE62) == 62
    # 12345 = 3*62**2 + 13*62 + 7, and digit 13 is "d" in this alphabet (the
    # primer's comment says "3D7", which would be another alphabet's order)
    assert s._encode_base62(12345) == "3d7" == _base62(12345)
    for n in [0, 1, 61, 62, 100_000, 62**7 - 1, 2**63 - 1]:
        assert s._encode_base62(n) == _base62(n)
        assert s._decode_base62(_base62(n)) == n


def test_counter_codes_start_at_100000_and_expand_back():
    s = URLShortener()
    long1 = "https://www.example.com/very/long/path/to/resource?param=value"
    long2 = "https://github.com/user/repo/pull/12345"
    code1 = s.shorten_counter_based(long1)
    code2 = s.shorten_counter_based(long2)
    assert (code1, code2) == (_base62(100_000), _base62(100_001)) == ("q0U", "q0V")
    assert s.expand(code1) == long1 and s.expand(code2) == long2
    assert s.shorten_counter_based(long1) == code1  # one code per URL
    assert s.expand("nope") is None


def test_capacity_of_each_code_length():
    # 6 characters already give 56.8 billion codes
    assert [len(URLShortener.BASE62) ** n for n in (4, 6, 8)] == [14_776_336, 56_800_235_584, 218_340_105_584_896]


def test_hash_codes_are_deterministic_and_distinct():
    a, b = URLShortener(), URLShortener()
    urls = [f"https://example.com/page/{i}" for i in range(200)]
    codes = [a.shorten_hash_based(u) for u in urls]
    assert codes == [b.shorten_hash_based(u) for u in urls]
    assert len(set(codes)) == len(codes)
    assert [a.expand(c) for c in codes] == urls
    assert a.shorten_hash_based(urls[0]) == codes[0]  # a URL keeps its code


def test_two_servers_give_one_url_different_codes_that_decode_to_their_machine():
    clock = ManualClock(1_700_000_000.0)
    server1 = DistributedURLShortener(machine_id=1, clock=clock)
    server2 = DistributedURLShortener(machine_id=2, clock=clock)
    url = "https://example.com/page"
    code1, code2 = server1.shorten(url), server2.shorten(url)
    assert code1 != code2
    # the whole 64-bit ID is kept (11 base62 digits), so the machine bits survive
    assert len(code1) == len(code2) == 11
    assert server1.id_generator.decode(decode_base62(code1)).machine_id == 1
    assert server2.id_generator.decode(decode_base62(code2)).machine_id == 2
    assert isinstance(server1.id_generator, SnowflakeID)
    assert server1.expand(code1) == url and server2.expand(code2) == url
