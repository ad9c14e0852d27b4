"""Kernels of the array-backed autocomplete index.

An index is three arrays plus a tree:

* ``data`` (uint8): the UTF-8 bytes of the unique words, sorted bytewise (which
  is code-point order), concatenated;
* ``offsets`` (int64, n + 1): word ``i`` is ``data[offsets[i]:offsets[i + 1]]``;
* ``freq`` (float64, n): the frequency of each word;
* ``tree`` (int64, ``2 * ceil(n / BLOCK)``): a bottom-up segment tree over
  blocks of ``BLOCK`` words whose node holds the index of the best word of its
  range. "Best" is the ranking order of suggestions:
  higher frequency first, then the smaller word, which for sorted words is the
  smaller index.

A prefix selects a contiguous range ``[lo, hi)`` of the sorted words (two
binary searches). The top ``k`` of a range come from a heap of sub-ranges:
pop the range whose best word ranks highest, emit that word, push the two
sub-ranges left and right of it. That costs ``O(k log n)`` whatever the size
of the range, instead of visiting every completion.

This module holds the searches, the tree and the rebuild kernels; the table of
precomputed answers for wide prefixes and the query kernels that use it are in
:mod:`sysprims._kernels.autocomplete_table`.
"""

from __future__ import annotations

import numpy as np

from .._jit import kernel

# ---------------------------------------------------------------- examples


def _ro(a):
    """A read-only view: the wrappers pass words, offsets and queries read-only."""
    v = a.view()
    v.flags.writeable = False
    return v


def _ex_index():
    data = np.frombuffer(b"abcabdb", dtype=np.uint8)
    offsets = _ro(np.array([0, 3, 6, 7], dtype=np.int64))
    freq = np.array([2.0, 5.0, 1.0], dtype=np.float64)
    tree = np.zeros(2, dtype=np.int64)
    return data, offsets, freq, tree


def _ex_build():
    _, _, freq, tree = _ex_index()
    return (freq, tree)


def _ex_update():
    _, _, freq, tree = _ex_index()
    tree_build(freq, tree)
    return (freq, tree, np.int64(1))


def _ex_range():
    data, offsets, _, _ = _ex_index()
    p = np.frombuffer(b"ab", dtype=np.uint8)
    return (data, offsets, p, np.int64(0), np.int64(2))


def _ex_merge():
    data, offsets, freq, _ = _ex_index()
    b = np.frombuffer(b"aa", dtype=np.uint8)
    return (
        data,
        offsets,
        freq,
        b,
        _ro(np.array([0, 2], dtype=np.int64)),
        np.array([3.0]),
        np.zeros(9, np.uint8),
        np.zeros(5, np.int64),
        np.zeros(4, np.float64),
    )


def _ex_check():
    data, offsets, _, _ = _ex_index()
    return (data, offsets)


# ---------------------------------------------------------------- helpers


@kernel()
def _better(freq, i, j):
    """True when word i ranks before word j (higher frequency, then smaller index)."""
    fi = freq[i]
    fj = freq[j]
    return fi > fj or (fi == fj and i < j)


@kernel()
def _cmp_prefix(data, a0, a1, p, p0, p1):
    """Compare word ``data[a0:a1]`` cut to the prefix length with ``p[p0:p1]``."""
    la = a1 - a0
    lp = p1 - p0
    m = la if la < lp else lp
    for t in range(m):
        x = data[a0 + t]
        y = p[p0 + t]
        if x != y:
            return -1 if x < y else 1
    if la < lp:
        return -1
    return 0


@kernel()
def _cmp_full(adata, a0, a1, bdata, b0, b1):
    """Bytewise comparison of two words: -1, 0 or 1."""
    la = a1 - a0
    lb = b1 - b0
    m = la if la < lb else lb
    for t in range(m):
        x = adata[a0 + t]
        y = bdata[b0 + t]
        if x != y:
            return -1 if x < y else 1
    if la < lb:
        return -1
    if la > lb:
        return 1
    return 0


@kernel()
def prefix_range_in(data, offsets, p, p0, p1, lo, hi):
    """``(first, last)``: inside ``[lo, hi)``, the words ``first .. last-1`` are those
    starting with ``p[p0:p1]`` (words before ``lo`` sort below the prefix's, from ``hi`` above)."""
    end = hi
    while lo < hi:
        mid = (lo + hi) >> 1
        if _cmp_prefix(data, offsets[mid], offsets[mid + 1], p, p0, p1) < 0:
            lo = mid + 1
        else:
            hi = mid
    first = lo
    hi = end
    while lo < hi:
        mid = (lo + hi) >> 1
        if _cmp_prefix(data, offsets[mid], offsets[mid + 1], p, p0, p1) <= 0:
            lo = mid + 1
        else:
            hi = mid
    return first, lo


@kernel(_ex_range)
def prefix_range(data, offsets, p, p0, p1):
    """``(lo, hi)``: the words ``lo .. hi-1`` are those starting with ``p[p0:p1]``."""
    return prefix_range_in(data, offsets, p, p0, p1, 0, offsets.shape[0] - 1)


@kernel(_ex_range)
def find_exact(data, offsets, p, p0, p1):
    """Index of the word equal to ``p[p0:p1]``, or -1."""
    n = offsets.shape[0] - 1
    lo = 0
    hi = n
    while lo < hi:
        mid = (lo + hi) >> 1
        if _cmp_full(data, offsets[mid], offsets[mid + 1], p, p0, p1) < 0:
            lo = mid + 1
        else:
            hi = mid
    if lo < n and _cmp_full(data, offsets[lo], offsets[lo + 1], p, p0, p1) == 0:
        return lo
    return -1


# ---------------------------------------------------------------- segment tree

# Words per leaf of the segment tree: a leaf holds the best index of a block of
# BLOCK consecutive words, so the tree (2 * ceil(n / BLOCK) int64) stays small
# enough to live in cache; the ends of a range are scanned linearly.
BLOCK = 8


def tree_size(n: int) -> int:
    """Length of the ``tree`` array for ``n`` words."""
    return 2 * ((n + BLOCK - 1) // BLOCK)


@kernel()
def _block_best(freq, lo, hi):
    best = lo
    for i in range(lo + 1, hi):
        if _better(freq, i, best):
            best = i
    return best


@kernel(_ex_build)
def tree_build(freq, tree):
    """Fill ``tree`` (length ``tree_size(n)``): node ``nb + b`` holds the best
    index of block ``b``, node ``i < nb`` the better of its two children."""
    n = freq.shape[0]
    nb = tree.shape[0] // 2
    for b in range(nb):
        lo = b * BLOCK
        hi = lo + BLOCK if lo + BLOCK < n else n
        tree[nb + b] = _block_best(freq, lo, hi)
    for i in range(nb - 1, 0, -1):
        a = tree[2 * i]
        c = tree[2 * i + 1]
        tree[i] = a if _better(freq, a, c) else c


@kernel(_ex_update)
def tree_update(freq, tree, i):
    """Restore the tree after ``freq[i]`` changed."""
    n = freq.shape[0]
    nb = tree.shape[0] // 2
    b = i // BLOCK
    lo = b * BLOCK
    hi = lo + BLOCK if lo + BLOCK < n else n
    tree[nb + b] = _block_best(freq, lo, hi)
    pos = (b + nb) >> 1
    while pos >= 1:
        a = tree[2 * pos]
        c = tree[2 * pos + 1]
        tree[pos] = a if _better(freq, a, c) else c
        pos >>= 1


@kernel()
def _range_best(freq, tree, lo, hi):
    """Best index in ``[lo, hi)`` (requires lo < hi)."""
    bl = lo // BLOCK
    bh = (hi - 1) // BLOCK
    if bl == bh:
        return _block_best(freq, lo, hi)
    best = _block_best(freq, lo, (bl + 1) * BLOCK)
    c = _block_best(freq, bh * BLOCK, hi)
    if _better(freq, c, best):
        best = c
    nb = tree.shape[0] // 2
    left = bl + 1 + nb
    right = bh + nb
    while left < right:
        if left & 1:
            c = tree[left]
            if _better(freq, c, best):
                best = c
            left += 1
        if right & 1:
            right -= 1
            c = tree[right]
            if _better(freq, c, best):
                best = c
        left >>= 1
        right >>= 1
    return best


@kernel()
def _heap_push(freq, hb, hl, hr, size, b, lo, hi):
    pos = size
    while pos > 0:
        parent = (pos - 1) >> 1
        if _better(freq, b, hb[parent]):
            hb[pos] = hb[parent]
            hl[pos] = hl[parent]
            hr[pos] = hr[parent]
            pos = parent
        else:
            break
    hb[pos] = b
    hl[pos] = lo
    hr[pos] = hi
    return size + 1


@kernel()
def _heap_pop_top(freq, hb, hl, hr, size):
    """Remove the root (the caller read it already); returns the new size."""
    size -= 1
    b = hb[size]
    lo = hl[size]
    hi = hr[size]
    pos = 0
    while True:
        child = 2 * pos + 1
        if child >= size:
            break
        if child + 1 < size and _better(freq, hb[child + 1], hb[child]):
            child += 1
        if _better(freq, hb[child], b):
            hb[pos] = hb[child]
            hl[pos] = hl[child]
            hr[pos] = hr[child]
            pos = child
        else:
            break
    if size > 0:
        hb[pos] = b
        hl[pos] = lo
        hr[pos] = hi
    return size


@kernel()
def _topk(freq, tree, lo, hi, k, out, hb, hl, hr):
    """Write the best ``k`` indices of ``[lo, hi)`` in rank order; return how many."""
    count = 0
    if lo >= hi or k <= 0:
        return 0
    size = _heap_push(freq, hb, hl, hr, 0, _range_best(freq, tree, lo, hi), lo, hi)
    while size > 0 and count < k:
        b = hb[0]
        a = hl[0]
        z = hr[0]
        size = _heap_pop_top(freq, hb, hl, hr, size)
        out[count] = b
        count += 1
        if count == k:
            break
        if a < b:
            size = _heap_push(freq, hb, hl, hr, size, _range_best(freq, tree, a, b), a, b)
        if b + 1 < z:
            size = _heap_push(freq, hb, hl, hr, size, _range_best(freq, tree, b + 1, z), b + 1, z)
    return count


# ---------------------------------------------------------------- rebuilds


@kernel(_ex_merge)
def merge_sorted(adata, aoffs, afreq, bdata, boffs, bfreq, odata, ooffs, ofreq):
    """Merge two sorted indexes with disjoint words into preallocated outputs."""
    na = aoffs.shape[0] - 1
    nb = boffs.shape[0] - 1
    i = 0
    j = 0
    w = 0
    pos = 0
    ooffs[0] = 0
    while i < na or j < nb:
        take_a = j >= nb or (
            i < na and _cmp_full(adata, aoffs[i], aoffs[i + 1], bdata, boffs[j], boffs[j + 1]) < 0
        )
        if take_a:
            s = aoffs[i]
            e = aoffs[i + 1]
            for t in range(s, e):
                odata[pos] = adata[t]
                pos += 1
            ofreq[w] = afreq[i]
            i += 1
        else:
            s = boffs[j]
            e = boffs[j + 1]
            for t in range(s, e):
                odata[pos] = bdata[t]
                pos += 1
            ofreq[w] = bfreq[j]
            j += 1
        w += 1
        ooffs[w] = pos


@kernel(_ex_check)
def strictly_sorted(data, offsets):
    """True when the words are strictly increasing (sorted and unique)."""
    n = offsets.shape[0] - 1
    for i in range(1, n):
        if _cmp_full(data, offsets[i - 1], offsets[i], data, offsets[i], offsets[i + 1]) >= 0:
            return False
    return True
