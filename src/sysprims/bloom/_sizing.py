"""Sizing formulas for standard and blocked Bloom filters."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from ..errors import InvalidParameterError

LN2 = math.log(2.0)
BLOCK_BITS = 512
#: The blocked layout is sized so that its *theoretical* rate is this fraction of
#: the target, which keeps measured rates at capacity under the target.
BLOCKED_MARGIN = 0.95


def optimal_bits(capacity: int, p: float) -> int:
    """m = -n ln p / (ln 2)^2, rounded up to whole 64-bit words."""
    m = math.ceil(-capacity * math.log(p) / (LN2 * LN2))
    return max(64, -(-m // 64) * 64)


def optimal_hashes(m: int, capacity: int) -> int:
    """k = round(m/n ln 2), at least 1."""
    return max(1, round(m / capacity * LN2))


def standard_fpr(m: int, k: int, n: float) -> float:
    """(1 - e^(-kn/m))^k."""
    return (1.0 - math.exp(-k * n / m)) ** k


@lru_cache(maxsize=64)
def _occupancy_moments(k: int, max_keys: int) -> np.ndarray:
    """E[(X/512)^k] where X = bits set in one 512-bit block after j keys of k
    uniform probes each, for j = 0..max_keys (exact occupancy distribution)."""
    b = BLOCK_BITS
    dist = np.zeros(b + 1)
    dist[0] = 1.0
    x = np.arange(b + 1, dtype=np.float64)
    stay = x / b
    move = (b - x + 1) / b  # probability to reach x from x-1
    frac_k = (x / b) ** k
    out = np.empty(max_keys + 1)
    out[0] = 0.0
    for j in range(1, max_keys + 1):
        for _ in range(k):
            new = dist * stay
            new[1:] += dist[:-1] * move[1:]
            dist = new
        out[j] = float(dist @ frac_k)
    return out


def blocked_fpr(n: int, nblocks: int, k: int) -> float:
    """Expected false-positive rate of a blocked filter: block loads are Poisson
    (a conservative stand-in for the binomial) and each block is an exact small
    Bloom filter of 512 bits."""
    lam = n / nblocks
    jmax = int(math.ceil(lam + 12 * math.sqrt(lam) + 20))
    moments = _occupancy_moments(k, jmax)
    j = np.arange(jmax + 1, dtype=np.float64)
    if lam <= 0:
        return 0.0
    logpmf = j * math.log(lam) - lam - np.array([math.lgamma(v + 1) for v in j])
    return float(np.exp(logpmf) @ moments)


def blocked_size(capacity: int, p: float) -> tuple[int, int]:
    """(nblocks, k) of the smallest blocked filter whose expected rate at
    ``capacity`` keys is at most ``BLOCKED_MARGIN * p``."""
    target = BLOCKED_MARGIN * p
    m0 = optimal_bits(capacity, target)
    lo = max(1, m0 // BLOCK_BITS)

    def best(nb: int) -> tuple[float, int]:
        k0 = max(1, round(-math.log2(target)))
        cands = range(max(1, k0 - 2), k0 + 4)
        return min((blocked_fpr(capacity, nb, k), k) for k in cands)

    hi = lo
    while best(hi)[0] > target:
        hi = max(hi + 1, int(hi * 1.05))
    # binary search for the smallest nblocks that meets the target
    left, right = lo, hi
    while left < right:
        mid = (left + right) // 2
        if best(mid)[0] <= target:
            right = mid
        else:
            left = mid + 1
    return left, best(left)[1]


#: A split-block filter sets exactly one bit in each of the 8 words of a block.
SPLIT_K = 8


def split_fpr(n: int, nblocks: int) -> float:
    """Expected false-positive rate of a split-block filter: Poisson block
    loads ``j``, and given ``j`` keys each 64-bit word has each bit set with
    probability ``1 - (63/64)**j`` independently of the other words, so a
    query (one bit per word) hits with ``(1 - (63/64)**j)**8``."""
    lam = n / nblocks
    if lam <= 0:
        return 0.0
    jmax = int(math.ceil(lam + 12 * math.sqrt(lam) + 20))
    j = np.arange(jmax + 1, dtype=np.float64)
    logpmf = j * math.log(lam) - lam - np.array([math.lgamma(v + 1) for v in j])
    return float(np.exp(logpmf) @ (1.0 - (63.0 / 64.0) ** j) ** SPLIT_K)


def split_size(capacity: int, p: float) -> int:
    """The fewest 512-bit blocks whose split-block rate at ``capacity`` keys is
    at most ``BLOCKED_MARGIN * p``."""
    target = BLOCKED_MARGIN * p
    lo = hi = max(1, optimal_bits(capacity, target) // BLOCK_BITS)
    while split_fpr(capacity, hi) > target:
        lo, hi = hi, max(hi + 1, int(hi * 1.1))
    while split_fpr(capacity, lo) <= target and lo > 1:
        lo = max(1, lo // 2)
    while lo < hi:
        mid = (lo + hi) // 2
        if split_fpr(capacity, mid) <= target:
            hi = mid
        else:
            lo = mid + 1
    return lo


def capacity_call_hint(cls: str, size: object, num_hash_functions: object) -> None:
    """Refuse the rbloom / pybloom-live call shape ``cls(capacity, error_rate)``
    with a pointer to ``for_capacity`` (the constructor takes bits and probes)."""
    if isinstance(num_hash_functions, (float, np.floating)) and 0 < num_hash_functions < 1:
        raise InvalidParameterError(
            f"{cls}(size, num_hash_functions) takes a number of bits and of probes, got "
            f"num_hash_functions={num_hash_functions!r}; for a capacity and a false-positive rate use "
            f"{cls}.for_capacity({size!r}, {num_hash_functions!r})"
        )
