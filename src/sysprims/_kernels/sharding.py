"""Shard-routing kernels: hash-mod, jump consistent hash, ring lookup, rendezvous.

Every router takes its keys as ``(mode, h1, ints, data, starts, ends, seed)``
(see :func:`key_h1`: hashing is fused into the routing loop) and writes int64 shard ids into a caller-allocated ``out``.
Read-only over shared tables, so ``get_shards(threads=T)`` runs these same
serial kernels over T slices of the batch at once (the shared read runner,
:func:`sysprims._threads.run_sliced`).
"""

from __future__ import annotations

import numpy as np

from .._jit import kernel
from .murmur3 import murmur3_x64_128_one, murmur3_x64_128_u64_one

_JUMP_MUL = np.uint64(2862933555777941757)
_ONE = np.uint64(1)
_U33 = np.uint64(33)
_TWO31 = float(1 << 31)


def _ex_keys(mode):
    """(mode, h1, ints, data, starts, ends, seed) for each key form."""
    e64 = np.zeros(0, dtype=np.uint64)
    ei = np.zeros(0, dtype=np.int64)
    eb = np.zeros(0, dtype=np.uint8)
    if mode == 0:
        return (0, np.arange(4, dtype=np.uint64), e64, eb, ei, ei, np.uint64(0))
    if mode == 1:
        return (1, e64, np.arange(4, dtype=np.uint64), eb, ei, ei, np.uint64(0))
    data = np.frombuffer(b"abcdefgh", dtype=np.uint8).copy()
    return (2, e64, e64, data, np.array([0, 1, 2, 4], dtype=np.int64), np.array([1, 2, 4, 8], dtype=np.int64), np.uint64(0))


def _ex_mod():
    return (*_ex_keys(2), np.uint64(3), np.empty(4, dtype=np.int64))


def _ex_jump():
    return (np.arange(4, dtype=np.uint64), 3, np.empty(4, dtype=np.int64))


def _ex_jump_table():
    return (*_ex_keys(2), np.array([0, 1, 2], dtype=np.int64), np.empty(4, dtype=np.int64))


def _ex_ring():
    points = np.array([10, 2**63, 2**64 - 5], dtype=np.uint64)
    owners = np.array([0, 1, 2], dtype=np.int32)
    buckets = np.array([0, 1, 3], dtype=np.int32)
    return (*_ex_keys(2), points, owners, buckets, np.array([5, 6, 7], dtype=np.int64), np.uint64(63), np.empty(4, dtype=np.int64))


def _ex_hrw():
    return (
        *_ex_keys(2),
        np.array([1, 2, 3], dtype=np.uint64),
        np.array([0, 1, 2], dtype=np.int64),
        np.empty(4, dtype=np.int64),
    )


def _ex_hrw_w():
    return (
        *_ex_keys(2),
        np.array([1, 2, 3], dtype=np.uint64),
        np.array([1.0, 2.0, 1.0]),
        np.array([0, 1, 2], dtype=np.int64),
        np.empty(4, dtype=np.int64),
    )


@kernel(inline="always")
def key_h1(mode, i, h1, ints, data, starts, ends, seed):
    """``h1`` of key ``i``: precomputed (mode 0), hashed from a uint64 key
    (mode 1) or from ``data[starts[i]:ends[i]]`` (mode 2), fused into the router."""
    if mode == 0:
        return h1[i]
    if mode == 1:
        return murmur3_x64_128_u64_one(ints[i], seed)[0]
    return murmur3_x64_128_one(data, starts[i], ends[i], seed)[0]


@kernel(inline="always")
def n_keys(mode, h1, ints, starts):
    if mode == 0:
        return h1.shape[0]
    if mode == 1:
        return ints.shape[0]
    return starts.shape[0]


@kernel(inline="always")
def _mod_range(lo, hi, mode, h1, ints, data, starts, ends, seed, n, out):
    if n & (n - _ONE) == 0:  # a power of two: the mask is the remainder, without a division
        mask = n - _ONE
        for i in range(lo, hi):
            out[i] = np.int64(key_h1(mode, i, h1, ints, data, starts, ends, seed) & mask)
    else:
        for i in range(lo, hi):
            out[i] = np.int64(key_h1(mode, i, h1, ints, data, starts, ends, seed) % n)


@kernel(_ex_mod)
def hash_mod(mode, h1, ints, data, starts, ends, seed, n, out):
    """out[i] = h1 % n (uint64 arithmetic, no modulo of a truncated hash)."""
    _mod_range(0, n_keys(mode, h1, ints, starts), mode, h1, ints, data, starts, ends, seed, n, out)


@kernel(inline="always")
def jump_one(key, num_buckets):
    """Lamping & Veach, "A Fast, Minimal Memory, Consistent Hash Algorithm", fig. 1."""
    b = np.int64(-1)
    j = np.int64(0)
    while j < num_buckets:
        b = j
        key = key * _JUMP_MUL + _ONE
        j = np.int64((b + 1) * (_TWO31 / float((key >> _U33) + _ONE)))
    return b


@kernel(_ex_jump)
def jump_u64(keys, num_buckets, out):
    """out[i] = JumpConsistentHash(keys[i], num_buckets)."""
    for i in range(keys.shape[0]):
        out[i] = jump_one(keys[i], num_buckets)


@kernel(inline="always")
def _jump_range(lo, hi, mode, h1, ints, data, starts, ends, seed, table, out):
    n = np.int64(table.shape[0])
    for i in range(lo, hi):
        out[i] = table[jump_one(key_h1(mode, i, h1, ints, data, starts, ends, seed), n)]


@kernel(_ex_jump_table)
def jump_table(mode, h1, ints, data, starts, ends, seed, table, out):
    """out[i] = table[JumpConsistentHash(h1 of key i, len(table))]."""
    _jump_range(0, n_keys(mode, h1, ints, starts), mode, h1, ints, data, starts, ends, seed, table, out)


@kernel(inline="always")
def _ring_range(lo, hi, mode, h1, ints, data, starts, ends, seed, points, owners, bucket_start, node_ids, shift, out):
    m = points.shape[0]
    for i in range(lo, hi):
        h = key_h1(mode, i, h1, ints, data, starts, ends, seed)
        b = np.int64(h >> shift)
        a = np.int64(bucket_start[b])
        z = np.int64(bucket_start[b + 1])
        while a < z:
            mid = (a + z) >> 1
            if points[mid] < h:
                a = mid + 1
            else:
                z = mid
        if a == m:
            a = 0
        out[i] = node_ids[owners[a]]


@kernel(_ex_ring)
def ring_lookup(mode, h1, ints, data, starts, ends, seed, points, owners, bucket_start, node_ids, shift, out):
    """``node_ids[owners[j]]`` for ``j`` the first ring point >= h (wrapping to 0).

    ``bucket_start[b]`` (int32) is the index of the first point whose top bits
    are >= b (``b = h >> shift``), so each search scans a bucket of a few
    points; int32 tables keep the working set small (it is cache-bound).
    """
    _ring_range(0, n_keys(mode, h1, ints, starts), mode, h1, ints, data, starts, ends, seed,
                points, owners, bucket_start, node_ids, shift, out)


@kernel(inline="always")
def hrw_score(h, node_hash):
    """64-bit score of (key, node): the MurmurHash3 finaliser of their XOR."""
    k = h ^ node_hash
    k ^= k >> _U33
    k *= np.uint64(0xFF51AFD7ED558CCD)
    k ^= k >> _U33
    k *= np.uint64(0xC4CEB9FE1A85EC53)
    k ^= k >> _U33
    return k


@kernel(inline="always")
def _hrw_range(lo, hi, mode, h1, ints, data, starts, ends, seed, node_hashes, node_ids, out):
    m = node_hashes.shape[0]
    for i in range(lo, hi):
        h = key_h1(mode, i, h1, ints, data, starts, ends, seed)
        best = 0
        best_s = hrw_score(h, node_hashes[0])
        for j in range(1, m):
            s = hrw_score(h, node_hashes[j])
            if s > best_s:
                best_s = s
                best = j
        out[i] = node_ids[best]


@kernel(_ex_hrw)
def rendezvous(mode, h1, ints, data, starts, ends, seed, node_hashes, node_ids, out):
    """Highest random weight: the node with the largest score (first on ties)."""
    _hrw_range(0, n_keys(mode, h1, ints, starts), mode, h1, ints, data, starts, ends, seed, node_hashes, node_ids, out)


@kernel(inline="always")
def _hrw_w_range(lo, hi, mode, h1, ints, data, starts, ends, seed, node_hashes, weights, node_ids, out):
    m = node_hashes.shape[0]
    for i in range(lo, hi):
        h = key_h1(mode, i, h1, ints, data, starts, ends, seed)
        best = 0
        best_s = -np.inf
        for j in range(m):
            s = hrw_score(h, node_hashes[j])
            u = (float(s >> np.uint64(11)) + 0.5) * 1.1102230246251565e-16
            score = -weights[j] / np.log(u)
            if score > best_s:
                best_s = score
                best = j
        out[i] = node_ids[best]


@kernel(_ex_hrw_w)
def rendezvous_weighted(mode, h1, ints, data, starts, ends, seed, node_hashes, weights, node_ids, out):
    """Weighted HRW (Schindelhauer & Schomaker): maximise ``-w / ln(u)``, u in (0, 1)."""
    _hrw_w_range(0, n_keys(mode, h1, ints, starts), mode, h1, ints, data, starts, ends, seed,
                 node_hashes, weights, node_ids, out)
