"""Count-Min Sketch and streaming top-K kernels over a ``depth x width`` counter table.

Row ``r`` of key (h1, h2) uses column ``(fmix64((h1 + r*h2) mod 2**64) * width) >> 64``:
double hashing on the full 64-bit halves, each row's value passed through
MurmurHash3's 64-bit finalizer, then mapped to ``[0, width)`` by a 128-bit
multiply-high (Lemire's fast range: no division, no 32-bit truncation). Without the
finalizer, two keys whose ``h1 mod width`` and ``h2 mod width`` agree collide in
*every* row (about 13 tail keys per heavy hitter on a 1M-key stream at width 2719,
each then estimated as heavy); with it, rows collide independently. The scalar
Python path in :mod:`sysprims.countmin` computes the very same positions.

Counters are uint32 or uint64 tables; additions saturate at ``cap`` (the dtype's
maximum) instead of wrapping. ``counts`` is a uint64 array of one count per key,
or an empty array meaning "1 for every key". All update kernels are serial, so a
batch gives exactly what the loop of scalar updates gives.
"""

from __future__ import annotations

import numpy as np

from .._jit import kernel
from .bloom import BLOCK, _hash_block, _scratch, batch_len
from .machine import mulhi, prefetch
from .murmur3 import fmix64, mulhi64

_ONE = np.uint64(1)


def _table(dtype):
    return np.zeros((3, 17), dtype=dtype)


def _caps():
    return [(np.uint32, np.uint64(0xFFFFFFFF)), (np.uint64, np.uint64(0xFFFFFFFFFFFFFFFF))]


def _ex_query_hashes():
    h = np.array([[1, 2], [3, 4]], dtype=np.uint64)
    return [(_table(dt), h, np.empty(2, np.int64)) for dt in (np.uint32,)] + [
        (_table(np.uint64), h, np.empty(2, np.uint64))
    ]


def _ex_add():
    return [
        (_table(np.uint32), _table(np.uint32), np.uint64(0xFFFFFFFF)),
        (_table(np.uint64), _table(np.uint64), np.uint64(0xFFFFFFFFFFFFFFFF)),
    ]


@kernel()
def column(h1, h2, r, width):
    """Column of row ``r`` (see the module docstring); ``width`` is uint64."""
    return mulhi64(fmix64(h1 + np.uint64(r) * h2), width)


@kernel()
def sat_add(v, c, cap):
    s = v + c
    if s < v or s > cap:
        return cap
    return s


@kernel()
def update_one(table, h1, h2, c, cap, conservative):
    """Add ``c`` to the key's counters; returns the key's estimate afterwards."""
    depth = table.shape[0]
    width = np.uint64(table.shape[1])
    if conservative:
        est = cap
        for r in range(depth):
            v = np.uint64(table[r, column(h1, h2, r, width)])
            if v < est:
                est = v
        target = sat_add(est, c, cap)
        for r in range(depth):
            j = column(h1, h2, r, width)
            if np.uint64(table[r, j]) < target:
                table[r, j] = target
        return target
    est = cap
    for r in range(depth):
        j = column(h1, h2, r, width)
        v = sat_add(np.uint64(table[r, j]), c, cap)
        table[r, j] = v
        if v < est:
            est = v
    return est


@kernel()
def query_one(table, h1, h2):
    depth = table.shape[0]
    width = np.uint64(table.shape[1])
    est = table[0, column(h1, h2, 0, width)]
    for r in range(1, depth):
        v = table[r, column(h1, h2, r, width)]
        if v < est:
            est = v
    return est


@kernel(_ex_query_hashes)
def cms_query_hashes(table, hashes, out):
    for i in range(hashes.shape[0]):
        out[i] = query_one(table, hashes[i, 0], hashes[i, 1])


# ------------------------------------------------------------ pipelined batches
#
# Batch kernels take every key form ((mode, hashes, ints, data, starts, ends,
# seed) as in sysprims._kernels.bloom) and run BLOCK keys at a time: hash the
# block (unless given hashes), compute all its columns (and prefetch them when
# the table is beyond the caches), then apply the keys in order. Columns are a
# pure function of the hash, so computing them ahead changes nothing: updates
# are applied serially in batch order, exactly the loop of scalar updates.

#: Tables with more counters than this are prefetched (smaller ones stay cached).
PREFETCH_MIN = 1 << 18


@kernel(inline="always")
def _cms_columns(src, off, cnt, table, cols):
    """Columns of keys ``src[off..off+cnt]`` into ``cols[j*depth + r]``."""
    depth = table.shape[0]
    width = np.uint64(table.shape[1])
    far = table.size > PREFETCH_MIN
    flat = table.reshape(table.size)
    for j in range(cnt):
        h1 = src[off + j, 0]
        h2 = src[off + j, 1]
        for r in range(depth):
            col = mulhi(fmix64(h1 + np.uint64(r) * h2), width)
            cols[j * depth + r] = col
            if far:
                prefetch(flat, np.uint64(r) * width + col)


@kernel(inline="always")
def _cms_apply(table, cols, base, c, cap, conservative):
    """:func:`update_one` with the key's columns ``cols[base:base+depth]``."""
    depth = table.shape[0]
    if conservative:
        est = cap
        for r in range(depth):
            v = np.uint64(table[r, cols[base + r]])
            if v < est:
                est = v
        target = sat_add(est, c, cap)
        for r in range(depth):
            j = cols[base + r]
            if np.uint64(table[r, j]) < target:
                table[r, j] = target
        return target
    est = cap
    for r in range(depth):
        j = cols[base + r]
        v = sat_add(np.uint64(table[r, j]), c, cap)
        table[r, j] = v
        if v < est:
            est = v
    return est


@kernel(inline="always")
def _block_src(mode, lo, cnt, hashes, ints, data, starts, ends, seed, hs):
    """The hashes of block ``lo..lo+cnt`` as ``(array, offset)``."""
    if mode == 0:
        return hashes, lo
    _hash_block(mode, lo, cnt, ints, data, starts, ends, seed, hs)
    return hs, 0


@kernel(inline="always")
def _cms_block(mode, lo, n, hashes, ints, data, starts, ends, seed, table, hs, cols):
    """Stage the block of keys from ``lo``: its hashes (``(src, off)``) and columns."""
    cnt = min(BLOCK, n - lo)
    src, off = _block_src(mode, lo, cnt, hashes, ints, data, starts, ends, seed, hs)
    _cms_columns(src, off, cnt, table, cols)
    return cnt, src, off


def _ex_batch(dt):
    from .bloom import _ex_keys

    return [_ex_keys(md) for md in (0, 1, 2)], _table(dt)


def _ex_update():
    out = []
    for dt, cap in _caps():
        keys, table = _ex_batch(dt)
        for kk in keys:
            for counts in (np.zeros(0, np.uint64), np.ones(3, np.uint64)):
                out += [(*kk, table, counts, cap, cons) for cons in (False, True)]
    return out


def _ex_query():
    out = []
    for dt, odt in ((np.uint32, np.int64), (np.uint64, np.uint64)):
        keys, table = _ex_batch(dt)
        out += [(*kk, table, np.empty(3, odt)) for kk in keys]
    return out


@kernel(_ex_update)
def cms_update(mode, hashes, ints, data, starts, ends, seed, table, counts, cap, conservative):
    """Serial update of every key of a batch (``counts`` empty: once each)."""
    n, unit = batch_len(mode, hashes, ints, starts), counts.shape[0] == 0
    depth = table.shape[0]
    hs, cols = _scratch(depth)
    for lo in range(0, n, BLOCK):
        cnt, src, off = _cms_block(mode, lo, n, hashes, ints, data, starts, ends, seed, table, hs, cols)
        for j in range(cnt):
            _cms_apply(table, cols, j * depth, _ONE if unit else counts[lo + j], cap, conservative)


@kernel(_ex_query)
def cms_query(mode, hashes, ints, data, starts, ends, seed, table, out):
    """``out[i]``: the estimate of key ``i``. Read-only, so disjoint slices of a
    batch may run on several threads."""
    n = out.shape[0]
    depth = table.shape[0]
    hs, cols = _scratch(depth)
    for lo in range(0, n, BLOCK):
        cnt, src, off = _cms_block(mode, lo, n, hashes, ints, data, starts, ends, seed, table, hs, cols)
        for j in range(cnt):
            est = table[0, cols[j * depth]]
            for r in range(1, depth):
                v = table[r, cols[j * depth + r]]
                if v < est:
                    est = v
            out[lo + j] = est


@kernel(_ex_add)
def cms_add(table, other, cap):
    """table += other, saturating at cap."""
    depth, width = table.shape
    for r in range(depth):
        for j in range(width):
            table[r, j] = sat_add(np.uint64(table[r, j]), np.uint64(other[r, j]), cap)


# --------------------------------------------------------------------- top-K
#
# Candidate state (struct of arrays, k slots):
#   slot_h1, slot_h2 (uint64): the candidate's hash; slot_est (uint64): its value
#   (sketch estimate at entry + exact count since); slot_src (int64): index in the current batch of the key that
#   last (re)entered the slot, -1 otherwise; heap (int64, k): a binary min-heap of
#   slots by (est, slot); pos (int64, k): heap index of each slot;
#   index (int64, cap, power of two): open addressing on h1, slot+1 or 0 (empty);
#   meta (int64, 1): number of candidates.


@kernel()
def _heap_less(slot_est, a, b):
    ea = slot_est[a]
    eb = slot_est[b]
    return ea < eb or (ea == eb and a < b)


@kernel()
def _sift_down(heap, pos, slot_est, i, size):
    while True:
        left = 2 * i + 1
        if left >= size:
            return
        small = left
        right = left + 1
        if right < size and _heap_less(slot_est, heap[right], heap[left]):
            small = right
        if _heap_less(slot_est, heap[small], heap[i]):
            a = heap[i]
            b = heap[small]
            heap[i] = b
            heap[small] = a
            pos[b] = i
            pos[a] = small
            i = small
        else:
            return


@kernel()
def _sift_up(heap, pos, slot_est, i):
    while i > 0:
        parent = (i - 1) // 2
        if _heap_less(slot_est, heap[i], heap[parent]):
            a = heap[i]
            b = heap[parent]
            heap[i] = b
            heap[parent] = a
            pos[b] = i
            pos[a] = parent
            i = parent
        else:
            return


@kernel()
def _index_find(index, slot_h1, slot_h2, h1, h2):
    """Position in ``index`` holding the key, or -(empty position) - 1."""
    mask = np.uint64(index.shape[0] - 1)
    p = np.int64(h1 & mask)
    while True:
        s = index[p]
        if s == 0:
            return -p - 1
        s -= 1
        if slot_h1[s] == h1 and slot_h2[s] == h2:
            return p
        p = np.int64((np.uint64(p) + _ONE) & mask)


@kernel()
def _index_delete(index, slot_h1, p):
    """Remove the entry at ``p`` with backward-shift deletion (linear probing)."""
    n = index.shape[0]
    mask = np.uint64(n - 1)
    index[p] = 0
    q = p
    while True:
        q = np.int64((np.uint64(q) + _ONE) & mask)
        s = index[q]
        if s == 0:
            return
        home = np.int64(slot_h1[s - 1] & mask)
        # move s back to p if its home is not cyclically in (p, q]
        if p <= q:
            stays = p < home <= q
        else:
            stays = home > p or home <= q
        if not stays:
            index[p] = s
            index[q] = 0
            p = q


@kernel()
def topk_offer(slot_h1, slot_h2, slot_est, slot_src, heap, pos, index, meta, h1, h2, est, c, cap, src):
    """Offer a key just counted ``c`` more times, whose sketch estimate is now ``est``.

    A candidate's value is the sketch estimate when it (last) entered plus the exact
    count since: never below its true count, never above its sketch estimate, and
    far tighter than the sketch for keys that entered early (heavy hitters).
    """
    k = heap.shape[0]
    size = meta[0]
    if size == k and est <= slot_est[heap[0]]:
        # cannot enter; a candidate here has value + c <= est <= min value, so c == 0
        return
    p = _index_find(index, slot_h1, slot_h2, h1, h2)
    if p >= 0:
        s = index[p] - 1
        if c > 0:
            slot_est[s] = sat_add(slot_est[s], c, cap)
            _sift_down(heap, pos, slot_est, pos[s], size)
        return
    empty = -p - 1
    if size < k:
        s = size
        slot_h1[s] = h1
        slot_h2[s] = h2
        slot_est[s] = est
        slot_src[s] = src
        heap[size] = s
        pos[s] = size
        meta[0] = size + 1
        index[empty] = s + 1
        _sift_up(heap, pos, slot_est, size)
        return
    s = heap[0]
    q = _index_find(index, slot_h1, slot_h2, slot_h1[s], slot_h2[s])
    _index_delete(index, slot_h1, q)
    slot_h1[s] = h1
    slot_h2[s] = h2
    slot_est[s] = est
    slot_src[s] = src
    _sift_down(heap, pos, slot_est, 0, size)
    p = _index_find(index, slot_h1, slot_h2, h1, h2)
    index[-p - 1] = s + 1


def _ex_topk():
    k = 4
    state = (
        np.zeros(k, np.uint64),
        np.zeros(k, np.uint64),
        np.zeros(k, np.uint64),
        np.full(k, -1, np.int64),
        np.zeros(k, np.int64),
        np.zeros(k, np.int64),
        np.zeros(16, np.int64),
        np.zeros(1, np.int64),
    )
    return state


def _ex_topk_update():
    out = []
    for dt, cap in _caps():
        keys, table = _ex_batch(dt)
        out += [(*kk, table, np.zeros(0, np.uint64), cap, *_ex_topk()) for kk in keys]
    return out


@kernel(_ex_topk_update)
def topk_update(mode, hashes, ints, data, starts, ends, seed, table, counts, cap,
                slot_h1, slot_h2, slot_est, slot_src, heap, pos, index, meta):
    """Count every key of a batch in the sketch and offer it to the candidates,
    serially in batch order (pipelined as :func:`cms_update`)."""
    n, unit = batch_len(mode, hashes, ints, starts), counts.shape[0] == 0
    full = heap.shape[0]
    depth = table.shape[0]
    hs, cols = _scratch(depth)
    for lo in range(0, n, BLOCK):
        cnt, src, off = _cms_block(mode, lo, n, hashes, ints, data, starts, ends, seed, table, hs, cols)
        for j in range(cnt):
            c = _ONE if unit else counts[lo + j]
            est = _cms_apply(table, cols, j * depth, c, cap, False)
            if meta[0] == full and est <= slot_est[heap[0]]:
                continue  # the common case: cannot enter, is no candidate
            h1 = src[off + j, 0]
            h2 = src[off + j, 1]
            p = _index_find(index, slot_h1, slot_h2, h1, h2)
            if p >= 0:  # a candidate: inline here (3-4x faster than inside topk_offer)
                s = index[p] - 1
                slot_est[s] = sat_add(slot_est[s], c, cap)
                _sift_down(heap, pos, slot_est, pos[s], meta[0])
            else:
                topk_offer(slot_h1, slot_h2, slot_est, slot_src, heap, pos, index, meta, h1, h2, est, c, cap, lo + j)
