"""The seed's Bloom filter example, run unchanged against sysprims and against
the seed's own (md5-based) class: both must print the same deterministic lines."""

from __future__ import annotations

import contextlib
import io

from sysprims.bloom import BloomFilter

# The seed document's class, verbatim (the reference we did not write).
SEED_CLASS = '''
import hashlib
from typing import List

class BloomFilter:
    """
    Bloom Filter: Probabilistic set membership testing.

    Properties:
    - False positives possible (says "yes" when should be "no")
    - False negatives NEVER (if says "no", definitely not in set)
    - Space-efficient: ~10 bits per element for 1% false positive rate

    Time Complexity: O(k) where k = number of hash functions
    Space Complexity: O(m) where m = bit array size

    Real-world: Bitcoin uses Bloom filters in SPV wallets, Medium uses
    for read history, Chrome uses for malicious URL detection
    """

    def __init__(self, size: int, num_hash_functions: int):
        """
        size: Size of bit array (larger = fewer false positives)
        num_hash_functions: Number of hash functions (optimal k = m/n * ln(2))

        Rule of thumb:
        - For 1% FP rate: size = 10 * expected_items
        - For 0.1% FP rate: size = 15 * expected_items
        """
        self.size = size
        self.num_hash_functions = num_hash_functions
        self.bit_array = [0] * size

    def _hash(self, item: str, seed: int) -> int:
        """Generate hash with seed for multiple hash functions"""
        h = hashlib.md5(f"{item}{seed}".encode())
        return int(h.hexdigest(), 16) % self.size

    def add(self, item: str) -> None:
        """Add item to the filter"""
        for i in range(self.num_hash_functions):
            index = self._hash(item, i)
            self.bit_array[index] = 1

    def contains(self, item: str) -> bool:
        """
        Check if item might be in the set.

        Returns:
        - True: Maybe in set (could be false positive)
        - False: Definitely NOT in set (100% accurate)
        """
        for i in range(self.num_hash_functions):
            index = self._hash(item, i)
            if self.bit_array[index] == 0:
                return False  # Definitely not in set
        return True  # Probably in set

    def false_positive_rate(self, n: int) -> float:
        """
        Calculate theoretical false positive rate.

        Formula: (1 - e^(-kn/m))^k
        where k = hash functions, n = items, m = size
        """
        import math
        k = self.num_hash_functions
        m = self.size
        return (1 - math.exp(-k * n / m)) ** k
'''

# The seed document's example, verbatim.
SEED_EXAMPLE = '''
# Example: Check if username is taken
print("=== Bloom Filter Example ===")
bf = BloomFilter(size=1000, num_hash_functions=3)

# Add existing usernames
existing_users = ["alice", "bob", "charlie", "david", "eve"]
for user in existing_users:
    bf.add(user)

# Check membership
print(f"'alice' exists: {bf.contains('alice')}")  # True (correct)
print(f"'frank' exists: {bf.contains('frank')}")  # False (correct)
print(f"'xyz' exists: {bf.contains('xyz')}")      # Might be True (false positive)

# Calculate FP rate with 5 items
fp_rate = bf.false_positive_rate(5)
print(f"\\nFalse positive rate with 5 items: {fp_rate*100:.2f}%")

# Practical usage
def check_username_available(username: str, bloom: BloomFilter) -> bool:
    """
    Two-stage check:
    1. Bloom filter (fast, in-memory)
    2. Database (slow, if Bloom says "maybe exists")
    """
    if not bloom.contains(username):
        # Definitely available! No DB query needed
        return True
    else:
        # Maybe taken - need to check DB
        # (This is where false positives cost a DB query)
        return check_database(username)  # Actual DB query

def check_database(username: str) -> bool:
    # Simulated DB query
    return username not in existing_users

# Test the two-stage check
print("\\nTwo-stage username check:")
print(f"'newuser' available: {check_username_available('newuser', bf)}")  # No DB hit!
print(f"'alice' available: {check_username_available('alice', bf)}")      # DB hit
'''


def _run(namespace: dict) -> list[str]:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(SEED_EXAMPLE, namespace)
    return buf.getvalue().splitlines()


def test_seed_example_runs_unchanged_against_sysprims():
    ours_ns: dict = {"BloomFilter": BloomFilter}
    ours = _run(ours_ns)
    seed_ns: dict = {}
    exec(SEED_CLASS, seed_ns)
    theirs = _run(seed_ns)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        if a.startswith("'xyz' exists"):
            # may be a false positive, and which keys are is hash-specific
            assert a == f"'xyz' exists: {ours_ns['bf'].contains('xyz')}"
        else:
            assert a == b
    assert "'alice' exists: True" in ours
    assert "'frank' exists: False" in ours
    assert "'newuser' available: True" in ours
    assert "'alice' available: False" in ours
    assert isinstance(ours_ns["bf"], BloomFilter)


def test_seed_false_positive_rate_formula_matches_seed_class():
    seed_ns: dict = {}
    exec(SEED_CLASS, seed_ns)
    for size, k, n in [(1000, 3, 5), (10_000, 7, 1000), (64, 1, 100)]:
        assert BloomFilter(size, k).false_positive_rate(n) == seed_ns["BloomFilter"](size, k).false_positive_rate(n)
