"""The heavy-prefix table of an autocomplete index, and the query kernels that use it.

A byte prefix whose range of sorted words holds more than ``LIGHT`` words is
*heavy*. The table keeps every heavy prefix of the index (a few thousand for
300k English words: a prefix tree has few wide nodes) with its range and its
best ``TOP`` word ids in rank order, found by a hash of the prefix bytes
(open addressing). Every other prefix ranges over at most ``LIGHT`` words, all
inside the range of its deepest heavy ancestor, so a query costs

* heavy prefix, ``k <= TOP``: one hash probe, ``k`` ids copied;
* light prefix: a few probes for the ancestor, a binary search inside its range,
  a scan of at most ``LIGHT`` contiguous frequencies;
* ``k > TOP``: the segment tree's ``O(k log n)`` walk over the range.

Frequency changes keep the table exact in place (:func:`set_frequency`): a
word that grew moves up in, or enters, the answers of its heavy prefixes; a
word of an answer that shrank has that answer recomputed from the tree.

A heavy row is ``(lo, hi, length, hash, ids[TOP])``: the prefix is the first
``length`` bytes of word ``lo``.
"""

from __future__ import annotations

import numpy as np

from .._jit import kernel
from .autocomplete import (
    _better,
    _cmp_full,
    _ex_index,
    _ro,
    _topk,
    find_exact,
    prefix_range_in,
    tree_build,
)
from .autocomplete import tree_update as _tree_update

LIGHT = 32  # a prefix with more words than this is heavy (LIGHT >= TOP: heavy answers are full)
TOP = 16  # ids kept per heavy prefix
_LO, _HI, _LEN, _HASH, _ANS = 0, 1, 2, 3, 4
WIDTH = _ANS + TOP
_OFFSET = np.uint64(0xCBF29CE484222325)  # FNV-1a
_PRIME = np.uint64(0x100000001B3)
_MASK62 = np.uint64((1 << 62) - 1)

# ---------------------------------------------------------------- examples


def _ex_table():
    data, offsets, freq, tree = _ex_index()
    tree_build(freq, tree)
    slots, heavy = table_build(data, offsets, freq, tree)
    return data, offsets, freq, tree, slots, heavy


def _ex_build():
    return _ex_table()[:4]


def _ex_set():
    return (*_ex_table(), np.int64(1), np.float64(7.0))


def _ex_find_add():
    p = _ro(np.frombuffer(b"abd", dtype=np.uint8))
    return (*_ex_table(), p, np.int64(0), np.int64(3), np.float64(1.0))


def _ex_static():
    p = _ro(np.frombuffer(b"ab", dtype=np.uint8))
    return (*_ex_table(), p, np.int64(2), np.zeros(2, dtype=np.int64))


def _empty_table():
    data = _ro(np.frombuffer(b"", np.uint8))
    offsets = _ro(np.zeros(1, np.int64))
    freq = np.zeros(0, np.float64)
    tree = np.zeros(0, np.int64)
    slots, heavy = table_build(data, offsets, freq, tree)
    return data, offsets, freq, tree, slots, heavy


def _ex_one():
    a = _ex_static()
    return (*a[:6], *_empty_table(), a[6], a[7], a[8])


def _ex_batch():
    q = _ro(np.frombuffer(b"ab", dtype=np.uint8))
    st = np.array([0, 0], np.int64)
    en = np.array([2, 0], np.int64)
    return (*_ex_table(), *_empty_table(), q, st, en, np.int64(2), np.zeros(4, np.int64), np.zeros(3, np.int64))


# ---------------------------------------------------------------- hashing and lookup


@kernel()
def _step(h, b):
    return (h ^ np.uint64(b)) * _PRIME


@kernel()
def _fin(h):
    return np.int64((h ^ (h >> np.uint64(29))) & _MASK62)


@kernel()
def _cpl(data, offsets, i, j):
    """Length of the common byte prefix of words i and j."""
    a = offsets[i]
    b = offsets[j]
    la = offsets[i + 1] - a
    lb = offsets[j + 1] - b
    m = la if la < lb else lb
    t = 0
    while t < m and data[a + t] == data[b + t]:
        t += 1
    return t


@kernel()
def _lookup(data, offsets, slots, heavy, q, q0, length, h):
    """Row of the heavy prefix ``q[q0:q0+length]`` (hash ``h``), or -1."""
    mask = slots.shape[0] - 1
    s = h & mask
    while True:
        e = slots[s]
        if e < 0:
            return -1
        if heavy[e, _HASH] == h and heavy[e, _LEN] == length:
            a = offsets[heavy[e, _LO]]
            same = True
            for t in range(length):
                if data[a + t] != q[q0 + t]:
                    same = False
                    break
            if same:
                return e
        s = (s + 1) & mask


# ---------------------------------------------------------------- build


@kernel(_ex_build)
def table_build(data, offsets, freq, tree):
    """``(slots, heavy)`` for an index whose segment tree is built."""
    n = offsets.shape[0] - 1
    count = 1 if n > LIGHT else 0  # the empty prefix
    for i in range(n - LIGHT):  # a node first at word i is heavy iff word i + LIGHT shares it
        c = _cpl(data, offsets, i, i + LIGHT)
        shared = _cpl(data, offsets, i - 1, i) if i > 0 else 0
        if c > shared:
            count += c - shared
    heavy = np.zeros((count, WIDTH), dtype=np.int64)
    size = 16
    while size < 2 * count:
        size <<= 1
    slots = np.full(size, -1, dtype=np.int64)
    cap = 2 * TOP + 2
    hb = np.empty(cap, np.int64)
    hl = np.empty(cap, np.int64)
    hr = np.empty(cap, np.int64)
    e = 0
    if n > LIGHT:
        _add_row(data, offsets, freq, tree, slots, heavy, e, 0, n, 0, _fin(_OFFSET), hb, hl, hr)
        e += 1
    for i in range(n - LIGHT):
        c = _cpl(data, offsets, i, i + LIGHT)
        shared = _cpl(data, offsets, i - 1, i) if i > 0 else 0
        h = _OFFSET
        a = offsets[i]
        for j in range(1, c + 1):
            h = _step(h, data[a + j - 1])
            if j > shared:
                # the node's words run from i to the first word past i + LIGHT without the prefix
                lo = i + LIGHT
                hi = n
                while lo < hi:
                    mid = (lo + hi) >> 1
                    if _cpl(data, offsets, i, mid) >= j:
                        lo = mid + 1
                    else:
                        hi = mid
                _add_row(data, offsets, freq, tree, slots, heavy, e, i, lo, j, _fin(h), hb, hl, hr)
                e += 1
    return slots, heavy


@kernel()
def _add_row(data, offsets, freq, tree, slots, heavy, e, lo, hi, length, h, hb, hl, hr):
    heavy[e, _LO] = lo
    heavy[e, _HI] = hi
    heavy[e, _LEN] = length
    heavy[e, _HASH] = h
    _topk(freq, tree, lo, hi, TOP, heavy[e, _ANS:], hb, hl, hr)
    mask = slots.shape[0] - 1
    s = h & mask
    while slots[s] >= 0:
        s = (s + 1) & mask
    slots[s] = e


# ---------------------------------------------------------------- updates


@kernel(_ex_set)
def set_frequency(data, offsets, freq, tree, slots, heavy, i, value):
    """Set ``freq[i] = value`` and restore the tree and the heavy answers."""
    grew = value >= freq[i]
    freq[i] = value
    _tree_update(freq, tree, i)
    a = offsets[i]
    b = offsets[i + 1]
    h = _OFFSET
    hb = np.empty(0, np.int64)
    hl = hb
    hr = hb
    for j in range(b - a + 1):
        if j > 0:
            h = _step(h, data[a + j - 1])
        e = _lookup(data, offsets, slots, heavy, data, a, j, _fin(h))
        if e < 0:
            break  # the heavy prefixes of a word are a chain from the empty one
        pos = -1
        for t in range(TOP):
            if heavy[e, _ANS + t] == i:
                pos = t
                break
        if grew:
            if pos < 0:
                if not _better(freq, i, heavy[e, _ANS + TOP - 1]):
                    continue
                pos = TOP - 1
            while pos > 0 and _better(freq, i, heavy[e, _ANS + pos - 1]):
                heavy[e, _ANS + pos] = heavy[e, _ANS + pos - 1]
                pos -= 1
            heavy[e, _ANS + pos] = i
        elif pos >= 0:  # the next best could be any word of the range: ask the tree
            if hb.shape[0] == 0:
                hb = np.empty(2 * TOP + 2, np.int64)
                hl = np.empty(2 * TOP + 2, np.int64)
                hr = np.empty(2 * TOP + 2, np.int64)
            _topk(freq, tree, heavy[e, _LO], heavy[e, _HI], TOP, heavy[e, _ANS:], hb, hl, hr)


@kernel(_ex_find_add)
def find_add(data, offsets, freq, tree, slots, heavy, p, p0, p1, by):
    """Add ``by >= 0`` to the frequency of word ``p[p0:p1]`` if present; its index or -1."""
    i = find_exact(data, offsets, p, p0, p1)
    if i >= 0:
        set_frequency(data, offsets, freq, tree, slots, heavy, i, freq[i] + by)
    return i


# ---------------------------------------------------------------- queries


@kernel()
def _scan_top(freq, lo, hi, k, out):
    """Best ``k`` of ``[lo, hi)`` by insertion (a light range: at most LIGHT words)."""
    c = 0
    for i in range(lo, hi):
        if c < k:
            pos = c
            c += 1
        elif _better(freq, i, out[k - 1]):
            pos = k - 1
        else:
            continue
        while pos > 0 and _better(freq, i, out[pos - 1]):
            out[pos] = out[pos - 1]
            pos -= 1
        out[pos] = i
    return c


@kernel()
def _index_top(data, offsets, freq, tree, slots, heavy, q, q0, q1, k, out, hs, hb, hl, hr):
    """Best ``k`` ids of one index for the prefix ``q[q0:q1]``; ``hs`` holds >= q1 - q0 + 1."""
    n = offsets.shape[0] - 1
    if n == 0 or k <= 0:
        return 0
    length = q1 - q0
    h = _OFFSET
    hs[0] = _fin(h)
    for t in range(length):
        h = _step(h, q[q0 + t])
        hs[t + 1] = _fin(h)
    e = _lookup(data, offsets, slots, heavy, q, q0, length, hs[length])
    if e >= 0:
        if k <= TOP:
            for t in range(k):
                out[t] = heavy[e, _ANS + t]
            return k
        return _topk(freq, tree, heavy[e, _LO], heavy[e, _HI], k, out, hb, hl, hr)
    lo = 0
    hi = n
    for j in range(length - 1, -1, -1):  # the deepest heavy ancestor bounds the search
        e = _lookup(data, offsets, slots, heavy, q, q0, j, hs[j])
        if e >= 0:
            lo = heavy[e, _LO]
            hi = heavy[e, _HI]
            break
    lo, hi = prefix_range_in(data, offsets, q, q0, q1, lo, hi)
    if k > TOP and hi - lo > TOP:
        return _topk(freq, tree, lo, hi, k, out, hb, hl, hr)
    return _scan_top(freq, lo, hi, k, out)


@kernel()
def _scratch(longest, k):
    """Work arrays of a query of at most ``longest`` bytes and ``k`` answers:
    prefix hashes, the tree walk's heap (only for ``k > TOP``), two answer lists."""
    cap = 2 * k + 2 if k > TOP else 0
    hs = np.empty(longest + 1, np.int64)
    return hs, np.empty(cap, np.int64), np.empty(cap, np.int64), np.empty(cap, np.int64), np.empty(k, np.int64), np.empty(k, np.int64)


@kernel(_ex_static)
def suggest_static(data, offsets, freq, tree, slots, heavy, p, k, out):
    """Top ``k`` ids of the prefix ``p`` in one index (no delta) into ``out``; the count."""
    hs, hb, hl, hr, _ta, _tb = _scratch(p.shape[0], k)
    return _index_top(data, offsets, freq, tree, slots, heavy, p, 0, p.shape[0], k, out, hs, hb, hl, hr)


@kernel()
def _suggest_into(
    sdata, soffs, sfreq, stree, sslots, sheavy,
    ddata, doffs, dfreq, dtree, dslots, dheavy,
    q, q0, q1, k, out, ta, tb, hs, hb, hl, hr,
):  # fmt: skip
    """Top ``k`` of the static and the delta index merged: ids ``< n_static`` are
    static, the others ``n_static + delta index``. Returns the count."""
    ns = soffs.shape[0] - 1
    ca = _index_top(sdata, soffs, sfreq, stree, sslots, sheavy, q, q0, q1, k, ta, hs, hb, hl, hr)
    cb = _index_top(ddata, doffs, dfreq, dtree, dslots, dheavy, q, q0, q1, k, tb, hs, hb, hl, hr)
    i = 0
    j = 0
    c = 0
    while c < k and (i < ca or j < cb):
        take_a = j >= cb
        if not take_a and i < ca:
            a = ta[i]
            b = tb[j]
            fa = sfreq[a]
            fb = dfreq[b]
            take_a = fa > fb or (
                fa == fb and _cmp_full(sdata, soffs[a], soffs[a + 1], ddata, doffs[b], doffs[b + 1]) < 0
            )
        if take_a:
            out[c] = ta[i]
            i += 1
        else:
            out[c] = ns + tb[j]
            j += 1
        c += 1
    return c


@kernel(_ex_one)
def suggest_one(
    sdata, soffs, sfreq, stree, sslots, sheavy, ddata, doffs, dfreq, dtree, dslots, dheavy, p, k, out
):
    """Top ``k`` ids of the prefix ``p`` over the static and delta index into ``out``; the count."""
    hs, hb, hl, hr, ta, tb = _scratch(p.shape[0], k)
    return _suggest_into(
        sdata, soffs, sfreq, stree, sslots, sheavy, ddata, doffs, dfreq, dtree, dslots, dheavy,
        p, 0, p.shape[0], k, out, ta, tb, hs, hb, hl, hr,
    )  # fmt: skip


@kernel(_ex_batch)
def suggest_batch(
    sdata, soffs, sfreq, stree, sslots, sheavy,
    ddata, doffs, dfreq, dtree, dslots, dheavy,
    q, qstarts, qends, k, out, bounds,
):  # fmt: skip
    """Every query ``q[qstarts[r]:qends[r]]``: its ids are ``out[bounds[r]:bounds[r + 1]]``
    (``out`` holds ``n * k``, ``bounds`` ``n + 1``)."""
    nq = qstarts.shape[0]
    longest = 0
    for r in range(nq):
        if qends[r] - qstarts[r] > longest:
            longest = qends[r] - qstarts[r]
    hs, hb, hl, hr, ta, tb = _scratch(longest, k)
    pos = 0
    bounds[0] = 0
    for r in range(nq):
        c = _suggest_into(
            sdata, soffs, sfreq, stree, sslots, sheavy, ddata, doffs, dfreq, dtree, dslots, dheavy,
            q, qstarts[r], qends[r], k, out[pos : pos + k], ta, tb, hs, hb, hl, hr,
        )  # fmt: skip
        pos += c
        bounds[r + 1] = pos
