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
from .bloom import batch_len
from .machine import mulhi, prefetch
from .murmur3 import (
    block128,
    finish128,
    fmix64,
    load64,
    mix_k1,
    mix_k2,
    mulhi64,
    murmur3_x64_128_u64_one,
)

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


# ---------------------------------------------------------------- blocked batches
#
# Batch kernels take every key form ((mode, hashes, ints, data, starts, ends,
# seed) as in sysprims._kernels.bloom) and run B keys at a time in stages, each
# a loop over the block with no branch per key, so that LLVM turns it into SIMD
# code (AVX2 / AVX-512 where the machine has them):
#
# 1. per key, scalar: its hash (given), or for bytes keys the words MurmurHash3
#    reads: the last 16-byte body block and the masked tail (the body blocks
#    before the last, which only keys of 32 bytes or more have, run here too);
# 2. lane-wise, all keys at once: the rest of MurmurHash3 (the last block, the
#    tail, the finaliser), bit-exact with the scalar hash;
# 3. lane-wise: every row's column; the multiply-high splits into two 32-bit
#    products when width < 2**32, which vectorises (one 128-bit product does not);
# 4. when the table is beyond the caches, the block's counters are prefetched a
#    whole block before they are touched (stages 1-4 run one block ahead);
# 5. the updates are applied.
#
# Columns are a pure function of the hash, so staging them ahead changes
# nothing. A standard update adds non-negative amounts with saturation, so its
# table is the same in any order and is applied row by row; conservative updates
# and top-K apply key by key in batch order: exactly the loop of scalar updates.

#: Keys per block.
B = 32
#: Tables with more counters than this are prefetched (smaller ones stay cached).
PREFETCH_MIN = 1 << 18
_M32 = np.uint64(0xFFFFFFFF)
_U32 = np.uint64(32)
_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)
_ZERO = np.uint64(0)


@kernel(inline="always")
def mulhi_narrow(x, w):
    """``(x * w) >> 64`` for ``w < 2**32`` from 32x32->64-bit products: equal to
    ``mulhi(x, w)``, since ``x * w / 2**64 = (xh*w + xl*w / 2**32) / 2**32`` and the
    fraction dropped inside never carries (``xh*w + (xl*w >> 32) < 2**64``)."""
    return ((x >> _U32) * w + (((x & _M32) * w) >> _U32)) >> _U32


@kernel(inline="always")
def _tail_words(data, p, rem):
    """MurmurHash3's tail words ``(k1, k2)`` of the ``rem`` (< 16) bytes at ``p``:
    two masked loads, or byte by byte where 16 bytes would run past the buffer."""
    if data.shape[0] - p >= 16:
        m1 = _ALL if rem >= 8 else (_ONE << np.uint64(8 * rem)) - _ONE
        m2 = (_ONE << np.uint64(8 * (rem - 8))) - _ONE if rem > 8 else _ZERO
        return load64(data, p) & m1, load64(data, p + 8) & m2
    k1 = _ZERO
    k2 = _ZERO
    for i in range(rem):
        if i >= 8:
            k2 |= np.uint64(data[p + i]) << np.uint64(8 * (i - 8))
        else:
            k1 |= np.uint64(data[p + i]) << np.uint64(8 * i)
    return k1, k2


@kernel(inline="always")
def _hash_bytes_block(lo, cnt, data, starts, ends, seed, scr, hq):
    """MurmurHash3_x64_128 of byte keys ``lo..lo+cnt`` into ``hq[0, j], hq[1, j]``
    (stage 1 scalar into the rows of ``scr``, stage 2 lane-wise)."""
    for j in range(cnt):
        p = starts[lo + j]
        length = ends[lo + j] - p
        h1 = seed
        h2 = seed
        nb = length >> 4
        for _ in range(nb - 1):
            h1, h2 = block128(h1, h2, load64(data, p), load64(data, p + 8))
            p += 16
        if nb > 0:
            scr[2, j] = load64(data, p)
            scr[3, j] = load64(data, p + 8)
            scr[4, j] = _ALL
            p += 16
        else:
            scr[2, j] = _ZERO
            scr[3, j] = _ZERO
            scr[4, j] = _ZERO
        scr[0, j] = h1
        scr[1, j] = h2
        scr[5, j], scr[6, j] = _tail_words(data, p, length & 15)
        scr[7, j] = np.uint64(length)
    for j in range(cnt):
        h1 = scr[0, j]
        h2 = scr[1, j]
        x1, x2 = block128(h1, h2, scr[2, j], scr[3, j])
        m = scr[4, j]
        h1 = (x1 & m) | (h1 & ~m)
        h2 = (x2 & m) | (h2 & ~m)
        # an absent tail word is 0, and mix_k(0) == 0: no branch needed
        h1 ^= mix_k1(scr[5, j])
        h2 ^= mix_k2(scr[6, j])
        hq[0, j], hq[1, j] = finish128(h1, h2, scr[7, j])


@kernel(inline="always")
def _stage(mode, lo, cnt, hashes, ints, data, starts, ends, seed, flat, depth, width, scr, hq, cq):
    """Stages 1-4 for keys ``lo..lo+cnt``: hashes into ``hq`` (2 x B), flat counter
    indexes of row ``r`` into ``cq[r*B + j]``, prefetched for large tables."""
    if mode == 0:
        for j in range(cnt):
            hq[0, j] = hashes[lo + j, 0]
            hq[1, j] = hashes[lo + j, 1]
    elif mode == 1:
        for j in range(cnt):
            hq[0, j], hq[1, j] = murmur3_x64_128_u64_one(ints[lo + j], seed)
    else:
        _hash_bytes_block(lo, cnt, data, starts, ends, seed, scr, hq)
    if width <= _M32:
        for r in range(depth):
            ur = np.uint64(r)
            base = ur * width
            for j in range(cnt):
                cq[r * B + j] = base + mulhi_narrow(fmix64(hq[0, j] + ur * hq[1, j]), width)
    else:
        for r in range(depth):
            ur = np.uint64(r)
            base = ur * width
            for j in range(cnt):
                cq[r * B + j] = base + mulhi(fmix64(hq[0, j] + ur * hq[1, j]), width)
    if flat.shape[0] > PREFETCH_MIN:
        for i in range(depth * B):
            if i % B < cnt:
                prefetch(flat, cq[i])


@kernel(inline="always")
def _buffers(table):
    """``(depth, width, flat table, stage scratch, hashes, columns)``: the hashes
    and columns of two blocks, the one being applied and the next."""
    depth = table.shape[0]
    return (depth, np.uint64(table.shape[1]), table.reshape(table.size), np.empty((8, B), np.uint64),
            np.empty((2, 2, B), np.uint64), np.empty((2, depth * B), np.uint64))


@kernel(inline="always")
def _advance(b, n, mode, hashes, ints, data, starts, ends, seed, flat, depth, width, scr, hsh, cols):
    """Block ``b``'s ``(lo, cnt, hashes, columns)``, staging block ``b + 1`` into
    the other buffers first (and block 0 itself when ``b == 0``)."""
    lo = b * B
    if b == 0:
        _stage(mode, 0, min(B, n), hashes, ints, data, starts, ends, seed, flat, depth, width, scr, hsh[0], cols[0])
    nlo = lo + B
    if nlo < n:
        _stage(mode, nlo, min(B, n - nlo), hashes, ints, data, starts, ends, seed, flat, depth, width,
               scr, hsh[(b + 1) & 1], cols[(b + 1) & 1])
    return lo, min(B, n - lo), hsh[b & 1], cols[b & 1]


@kernel(inline="always")
def _apply_conservative(flat, cq, j, depth, c, cap):
    """:func:`update_one`'s conservative update for key ``j`` of a staged block."""
    est = cap
    for r in range(depth):
        est = min(est, np.uint64(flat[cq[r * B + j]]))
    target = sat_add(est, c, cap)
    for r in range(depth):  # raise to target: a max, stored unconditionally (no branch to mispredict)
        i = cq[r * B + j]
        flat[i] = max(np.uint64(flat[i]), target)


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
    """Update every key of a batch (``counts`` empty: once each): the table the
    loop of scalar updates leaves."""
    n, unit = batch_len(mode, hashes, ints, starts), counts.shape[0] == 0
    depth, width, flat, scr, hsh, cols = _buffers(table)
    for b in range((n + B - 1) // B):
        lo, cnt, hq, cq = _advance(b, n, mode, hashes, ints, data, starts, ends, seed, flat, depth, width,
                                   scr, hsh, cols)
        if conservative:
            for j in range(cnt):
                _apply_conservative(flat, cq, j, depth, _ONE if unit else counts[lo + j], cap)
        elif unit:
            for r in range(depth):
                for j in range(cnt):
                    i = cq[r * B + j]
                    v = flat[i]
                    if np.uint64(v) < cap:
                        flat[i] = v + _ONE
        else:
            for r in range(depth):
                for j in range(cnt):
                    i = cq[r * B + j]
                    flat[i] = sat_add(np.uint64(flat[i]), counts[lo + j], cap)


@kernel(_ex_query)
def cms_query(mode, hashes, ints, data, starts, ends, seed, table, out):
    """``out[i]``: the estimate of key ``i``. Read-only, so disjoint slices of a
    batch may run on several threads."""
    n = out.shape[0]
    depth, width, flat, scr, hsh, cols = _buffers(table)
    for b in range((n + B - 1) // B):
        lo, cnt, hq, cq = _advance(b, n, mode, hashes, ints, data, starts, ends, seed, flat, depth, width,
                                   scr, hsh, cols)
        for j in range(cnt):
            e = flat[cq[j]]
            for r in range(1, depth):
                e = min(e, flat[cq[r * B + j]])
            out[lo + j] = e


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
    k = heap.shape[0]
    depth, width, flat, scr, hsh, cols = _buffers(table)
    ests = np.empty(B, np.uint64)
    mask = np.uint64(index.shape[0] - 1)
    # the entry test's operands, kept in registers and renewed whenever the
    # candidates change: a key enters or is counted only if the set is not
    # full or its estimate beats the smallest candidate's value
    full = meta[0] == k
    floor = slot_est[heap[0]]
    for b in range((n + B - 1) // B):
        lo, cnt, hq, cq = _advance(b, n, mode, hashes, ints, data, starts, ends, seed, flat, depth, width,
                                   scr, hsh, cols)
        # The block's sketch updates first, row by row: within a row the keys
        # still go in batch order, so ests[j] (the smallest counter right after
        # key j) is the estimate the loop of scalar updates sees.
        for r in range(depth):
            for j in range(cnt):
                i = cq[r * B + j]
                v = sat_add(np.uint64(flat[i]), _ONE if unit else counts[lo + j], cap)
                flat[i] = v
                ests[j] = v if r == 0 or v < ests[j] else ests[j]
        # then the candidates, key by key in batch order
        for j in range(cnt):
            est = ests[j]
            if full and est <= floor:
                continue  # the common case: cannot enter, is no candidate
            c = _ONE if unit else counts[lo + j]
            h1 = hq[0, j]
            h2 = hq[1, j]
            s = index[np.int64(h1 & mask)] - 1  # most candidates sit in their home slot
            if s < 0 or slot_h1[s] != h1 or slot_h2[s] != h2:
                p = _index_find(index, slot_h1, slot_h2, h1, h2)
                s = index[p] - 1 if p >= 0 else -1
            if s >= 0:  # a candidate: counted exactly
                slot_est[s] = sat_add(slot_est[s], c, cap)
                i = pos[s]
                if 2 * i + 1 < meta[0]:  # not a leaf of the heap
                    _sift_down(heap, pos, slot_est, i, meta[0])
                    floor = slot_est[heap[0]]
                elif i == 0:
                    floor = slot_est[heap[0]]
            else:
                topk_offer(slot_h1, slot_h2, slot_est, slot_src, heap, pos, index, meta, h1, h2, est, c, cap, lo + j)
                full = meta[0] == k
                floor = slot_est[heap[0]]
