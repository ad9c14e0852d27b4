"""Bloom filter kernels over a packed ``uint64`` bit array.

Probe positions of a key with MurmurHash3 halves ``(h1, h2)`` (all uint64 and
wrapping mod 2**64, never truncated to 32 bits):

* standard layout over ``m`` bits: ``h = h1 + i*h2`` for ``i = 0..k-1`` and
  position ``mulhi(h, m) = (h * m) >> 64`` (Lemire's multiply-shift range
  reduction: no division, no modulo bias beyond ``m / 2**64``);
* blocked layout over ``nblocks`` blocks of 512 bits (8 words): block
  ``mulhi(h1, nblocks)``; inside it, bit ``x_i >> 55`` for
  ``x_i = fmix64(h2) * C**i`` (``C = 0x9E3779B97F4A7C15``, ``fmix64`` MurmurHash3's
  finaliser), so all k probes share one cache line. (The finaliser matters: for
  keys under 8 bytes MurmurHash3's h2 is tied to h1, and the raw top bits of h2
  set ~10% fewer distinct bits per block than uniform probes would.)

Bit ``p`` lives in word ``p >> 6`` at bit ``p & 63``. The scalar Python path in
:mod:`sysprims.bloom` computes the same positions. ``blocked`` is passed as an
int64 flag (0/1) so each kernel compiles once. Writers are serial (a batch is
exactly the loop of scalar calls); read-only queries are serial too (the memory
system, not the core count, bounds them on this machine).
"""

from __future__ import annotations

import numpy as np

from .._jit import kernel
from .murmur3 import fmix64, mulhi64, murmur3_x64_128_one, murmur3_x64_128_u64_one

_U55 = np.uint64(55)
_U6 = np.uint64(6)
_U63 = np.uint64(63)
_ONE = np.uint64(1)
_GOLD = np.uint64(0x9E3779B97F4A7C15)


def _ex_bits():
    return np.zeros(16, dtype=np.uint64)


def _ex_hashes():
    return np.array([[1, 2], [3, 4], [1, 2]], dtype=np.uint64)


def _ex_var():
    data = np.frombuffer(b"abcab", dtype=np.uint8).copy()
    return data, np.array([0, 3], dtype=np.int64), np.array([3, 5], dtype=np.int64)


def _ex_add_hashes():
    return [(_ex_hashes(), np.int64(3), np.uint64(1024), np.int64(b), _ex_bits()) for b in (0, 1)]


def _ex_add_var():
    d, s, e = _ex_var()
    return (d, s, e, np.uint64(0), np.int64(3), np.uint64(1024), np.int64(0), _ex_bits())


def _ex_add_u64():
    return (np.arange(3, dtype=np.uint64), np.uint64(0), np.int64(3), np.uint64(1024), np.int64(0), _ex_bits())


def _ex_contains_hashes():
    return (_ex_hashes(), np.int64(3), np.uint64(1024), np.int64(0), _ex_bits(), np.zeros(3, np.bool_))


def _ex_contains_var():
    d, s, e = _ex_var()
    return (d, s, e, np.uint64(0), np.int64(3), np.uint64(1024), np.int64(0), _ex_bits(), np.zeros(2, np.bool_))


def _ex_contains_u64():
    return (
        np.arange(3, dtype=np.uint64), np.uint64(0), np.int64(3), np.uint64(1024), np.int64(0),
        _ex_bits(), np.zeros(3, np.bool_),
    )


def _ex_add_new():
    return (_ex_hashes(), np.int64(3), np.uint64(1024), np.int64(0), _ex_bits(), np.int64(2), np.zeros(3, np.bool_))


def _ex_counters():
    return np.zeros(64, dtype=np.uint8)


def _ex_count_add():
    return (_ex_hashes(), np.int64(3), np.uint64(64), _ex_counters())


def _ex_count_remove():
    return (_ex_hashes(), np.int64(3), np.uint64(64), _ex_counters(), np.zeros(3, np.bool_))


def _ex_count_contains():
    return (_ex_hashes(), np.int64(3), np.uint64(64), _ex_counters(), np.zeros(3, np.bool_))


@kernel(inline="always")
def _set_probes(h1, h2, k, m, blocked, bits):
    if blocked:
        base = mulhi64(h1, m) << np.uint64(3)
        x = fmix64(h2)
        for _ in range(k):
            b = x >> _U55
            w = base + (b >> _U6)
            bits[w] |= _ONE << (b & _U63)
            x = x * _GOLD
    else:
        h = h1
        for _ in range(k):
            p = mulhi64(h, m)
            bits[p >> _U6] |= _ONE << (p & _U63)
            h = h + h2


@kernel(inline="always")
def _test_probes(h1, h2, k, m, blocked, bits):
    if blocked:
        base = mulhi64(h1, m) << np.uint64(3)
        x = fmix64(h2)
        for _ in range(k):
            b = x >> _U55
            w = base + (b >> _U6)
            if (bits[w] >> (b & _U63)) & _ONE == 0:
                return False
            x = x * _GOLD
        return True
    h = h1
    for _ in range(k):
        p = mulhi64(h, m)
        if (bits[p >> _U6] >> (p & _U63)) & _ONE == 0:
            return False
        h = h + h2
    return True


@kernel(_ex_add_hashes)
def bloom_add_hashes(hashes, k, m, blocked, bits):
    """Set the probes of every (h1, h2) row. ``m``: bits, or blocks if ``blocked``."""
    for i in range(hashes.shape[0]):
        _set_probes(hashes[i, 0], hashes[i, 1], k, m, blocked, bits)


@kernel(_ex_add_var)
def bloom_add_var(data, starts, ends, seed, k, m, blocked, bits):
    """Hash ``data[starts[i]:ends[i]]`` and set its probes (fused, no hash array)."""
    for i in range(starts.shape[0]):
        h1, h2 = murmur3_x64_128_one(data, starts[i], ends[i], seed)
        _set_probes(h1, h2, k, m, blocked, bits)


@kernel(_ex_add_u64)
def bloom_add_u64(values, seed, k, m, blocked, bits):
    """Hash the 8 little-endian bytes of ``values[i]`` and set its probes."""
    for i in range(values.shape[0]):
        h1, h2 = murmur3_x64_128_u64_one(values[i], seed)
        _set_probes(h1, h2, k, m, blocked, bits)


@kernel(_ex_contains_hashes)
def bloom_contains_hashes(hashes, k, m, blocked, bits, out):
    for i in range(hashes.shape[0]):
        out[i] = _test_probes(hashes[i, 0], hashes[i, 1], k, m, blocked, bits)


@kernel(_ex_contains_var)
def bloom_contains_var(data, starts, ends, seed, k, m, blocked, bits, out):
    for i in range(starts.shape[0]):
        h1, h2 = murmur3_x64_128_one(data, starts[i], ends[i], seed)
        out[i] = _test_probes(h1, h2, k, m, blocked, bits)


@kernel(_ex_contains_u64)
def bloom_contains_u64(values, seed, k, m, blocked, bits, out):
    for i in range(values.shape[0]):
        h1, h2 = murmur3_x64_128_u64_one(values[i], seed)
        out[i] = _test_probes(h1, h2, k, m, blocked, bits)


@kernel(_ex_add_new)
def bloom_add_new_hashes(hashes, k, m, blocked, bits, limit, added):
    """Serially: a key whose probes are all set already is skipped; others are
    added and marked in ``added``. Stops after ``limit`` additions; returns the
    number of rows consumed (for scalable filters that fill one stage at a time)."""
    count = 0
    n = hashes.shape[0]
    for i in range(n):
        if count >= limit:
            return i
        if _test_probes(hashes[i, 0], hashes[i, 1], k, m, blocked, bits):
            added[i] = False
        else:
            _set_probes(hashes[i, 0], hashes[i, 1], k, m, blocked, bits)
            added[i] = True
            count += 1
    return n


@kernel(lambda: (_ex_bits(),))
def popcount_words(bits):
    """Number of set bits in a uint64 array (SWAR popcount)."""
    total = 0
    for i in range(bits.shape[0]):
        x = bits[i]
        x = x - ((x >> _ONE) & np.uint64(0x5555555555555555))
        x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
        x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
        total += np.int64((x * np.uint64(0x0101010101010101)) >> np.uint64(56))
    return total


# ------------------------------------------------------------ counting filter


@kernel(inline="always")
def _count_positions(h1, h2, k, m, pos):
    h = h1
    for j in range(k):
        pos[j] = mulhi64(h, m)
        h = h + h2


@kernel(_ex_count_add)
def counting_add_hashes(hashes, k, m, counters):
    """Increment the k counters of every key, saturating at 255 (a probe that
    repeats within one key increments its counter once per occurrence)."""
    pos = np.empty(k, dtype=np.uint64)
    for i in range(hashes.shape[0]):
        _count_positions(hashes[i, 0], hashes[i, 1], k, m, pos)
        for j in range(k):
            c = counters[pos[j]]
            if c < 255:
                counters[pos[j]] = c + 1


@kernel(_ex_count_remove)
def counting_remove_hashes(hashes, k, m, counters, removed):
    """Serially remove keys. A key is removed only if each of its counters holds
    at least as many as its probes that hit it (else it was never added: nothing
    changes, ``removed[i] = False``). Saturated counters (255) stay saturated."""
    pos = np.empty(k, dtype=np.uint64)
    for i in range(hashes.shape[0]):
        _count_positions(hashes[i, 0], hashes[i, 1], k, m, pos)
        ok = True
        for j in range(k):
            need = 0
            for t in range(k):
                if pos[t] == pos[j]:
                    need += 1
            c = counters[pos[j]]
            if c != 255 and c < need:
                ok = False
                break
        removed[i] = ok
        if ok:
            for j in range(k):
                c = counters[pos[j]]
                if c != 255:
                    counters[pos[j]] = c - 1


@kernel(_ex_count_contains)
def counting_contains_hashes(hashes, k, m, counters, out):
    pos = np.empty(k, dtype=np.uint64)
    for i in range(hashes.shape[0]):
        _count_positions(hashes[i, 0], hashes[i, 1], k, m, pos)
        hit = True
        for j in range(k):
            if counters[pos[j]] == 0:
                hit = False
                break
        out[i] = hit


def _ex_positions():
    return [(_ex_hashes(), np.int64(3), np.uint64(1024), np.int64(b), np.zeros((3, 3), np.uint64)) for b in (0, 1)]


@kernel(_ex_positions)
def bloom_positions(hashes, k, m, blocked, out):
    """The k bit positions of every key (for tests and introspection)."""
    for i in range(hashes.shape[0]):
        h1 = hashes[i, 0]
        h2 = hashes[i, 1]
        if blocked:
            base = mulhi64(h1, m) << np.uint64(9)
            x = fmix64(h2)
            for j in range(k):
                out[i, j] = base + (x >> _U55)
                x = x * _GOLD
        else:
            h = h1
            for j in range(k):
                out[i, j] = mulhi64(h, m)
                h = h + h2


def _ex_one():
    return [
        (np.int64(1), np.int64(-2), np.int64(3), np.uint64(16), np.int64(b), _ex_bits())
        for b in (0, 1)
    ]


@kernel(_ex_one)
def bloom_add_one(h1, h2, k, m, blocked, bits):
    """Scalar add: ``h1``/``h2`` are the int64 (signed) views of the hash halves."""
    _set_probes(np.uint64(h1), np.uint64(h2), k, m, blocked, bits)


@kernel(_ex_one)
def bloom_contains_one(h1, h2, k, m, blocked, bits):
    """Scalar query: ``h1``/``h2`` are the int64 (signed) views of the hash halves."""
    return _test_probes(np.uint64(h1), np.uint64(h2), k, m, blocked, bits)
