"""The classic primer API of the Bloom filter: ``BloomFilter(size, num_hash_functions)``
with ``add``, ``contains`` and ``false_positive_rate(n)``, checked through the
behaviour the primer documents (a username-availability check), not its code."""

from __future__ import annotations

import math

import pytest

from sysprims.bloom import BloomFilter

TAKEN = ["alice", "bob", "charlie", "david", "eve"]


def _username_filter() -> BloomFilter:
    bf = BloomFilter(size=1000, num_hash_functions=3)
    for name in TAKEN:
        bf.add(name)
    return bf


def test_constructor_takes_the_primer_arguments_by_name_and_by_position():
    by_name = BloomFilter(size=1000, num_hash_functions=3)
    by_position = BloomFilter(1000, 3)
    assert (by_name.size, by_name.num_hash_functions) == (by_position.size, by_position.num_hash_functions) == (1000, 3)
    assert by_name == by_position


def test_added_names_are_reported_present_and_others_mostly_absent():
    bf = _username_filter()
    assert all(bf.contains(name) for name in TAKEN)
    assert all(name in bf for name in TAKEN)
    # 5 keys, 3 probes, 1000 bits: at most 15 bits set, so a random absent key is a
    # false positive with probability <= (15/1000)**3; none of these may be one
    absent = ["frank", "grace", "heidi", "ivan", "judy", "mallory", "newuser"]
    assert [bf.contains(name) for name in absent] == [False] * len(absent)
    assert bf.bit_count() <= 3 * len(TAKEN)


def test_two_stage_username_check():
    """Ask the filter first; only a "maybe present" answer costs a database look-up."""
    bf = _username_filter()
    database = set(TAKEN)
    lookups = []

    def available(name: str) -> bool:
        if not bf.contains(name):
            return True  # definitely never added: no database query
        lookups.append(name)
        return name not in database

    assert available("newuser") is True
    assert available("alice") is False
    assert lookups == ["alice"]


def test_false_positive_rate_is_the_textbook_formula():
    for size, k, n in [(1000, 3, 5), (10_000, 7, 1000), (64, 1, 100), (1 << 20, 10, 0)]:
        expected = (1.0 - math.exp(-k * n / size)) ** k
        assert BloomFilter(size, k).false_positive_rate(n) == pytest.approx(expected, rel=1e-12, abs=0.0)
    # the primer's example: 5 names in 1000 bits with 3 probes print as 0.00%
    assert f"{BloomFilter(1000, 3).false_positive_rate(5) * 100:.2f}%" == "0.00%"


def test_measured_false_positive_rate_follows_the_formula():
    n, size, k = 2_000, 20_000, 7
    bf = BloomFilter(size, k)
    bf.add_many([f"member-{i}" for i in range(n)])
    probes = [f"other-{i}" for i in range(50_000)]
    measured = float(bf.contains_many(probes).mean())
    theory = bf.false_positive_rate(n)
    # binomial standard error of the measured rate, 5 sigma either side
    sigma = math.sqrt(theory * (1 - theory) / len(probes))
    assert abs(measured - theory) < 5 * sigma
