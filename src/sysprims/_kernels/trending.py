"""Sliding-window Count-Min and windowed top-K kernels (``sysprims.countmin.trending``).

State (struct of arrays):

* ``win`` (depth, width), uint32 or uint64: the Count-Min table of exactly the
  events of the recent window (the last ``window`` buckets);
* ``snaps`` (history, depth, width): ``snaps[b % history]`` is the table of
  *every* event before bucket ``b`` started (the cumulative table ``cum``), for
  the last ``history`` buckets;
* ``snap_tot`` (history,) uint64 and ``tot`` (1,) uint64: the same for the
  event total;
* ``meta`` int64 ``[candidates, current bucket, first bucket, started]``.

All counter arithmetic wraps modulo ``mask + 1`` (never saturates), so table
differences are exact: ``cum = win + snaps[ws]`` with ``ws`` the slot of the
window's first bucket, and the counters of buckets ``b0..b1`` are
``snaps[b1 + 1] - snaps[b0]``, Count-Min tables of exactly those events whose
row minimum never undercounts them. An event costs what a plain top-K update
costs (``depth`` read-modify-writes of ``win``); a bucket change rebuilds
``cum``, copies it into a snapshot and subtracts the new window start
(O(depth * width) each) and re-values the candidates.

Candidates are the top-K structure of :mod:`sysprims._kernels.countmin`
(``slot_*``, ``heap``, ``pos``, ``index``) valued by the recent-window
estimate; ``slot_ref`` is the batch index of the key that (re)entered a slot,
or a negative number the wrapper set before the batch (the key it already holds).
An event's bucket is ``floor(timestamp / interval)``; an event of an earlier
bucket than the current one counts in the current bucket.
"""

from __future__ import annotations

import numpy as np

from .._jit import kernel
from .bloom import batch_len, key_hash
from .countmin import _ex_topk, _index_find, _sift_down, column, query_one, sat_add, topk_offer

_ONE = np.uint64(1)
_M32 = np.uint64(0xFFFFFFFF)
_M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def _ex_state(dt, history=3):
    return (
        np.zeros((2, 17), dt),
        np.zeros((history, 2, 17), dt),
        np.zeros(history, np.uint64),
        np.zeros(1, np.uint64),
    )


def _ex_cands():
    """The top-K candidate arrays, with this module's longer ``meta``."""
    return (*_ex_topk()[:7], np.zeros(4, np.int64))


def _masks():
    return [(np.uint32, _M32), (np.uint64, _M64)]


@kernel()
def _boundary(b, interval):
    """The smallest float64 ``t`` with ``floor(t / interval) >= b``: division is
    monotone, so ``t >= _boundary(b)`` decides the bucket without dividing."""
    t = np.float64(b) * interval
    while np.floor(t / interval) < b:
        t = np.nextafter(t, np.inf)
    while np.floor(np.nextafter(t, -np.inf) / interval) >= b:
        t = np.nextafter(t, -np.inf)
    return t


@kernel()
def _rebuild(win, slot_h1, slot_h2, slot_est, slot_ref, heap, pos, index, meta):
    """Re-value every candidate from the window table, drop those at 0, rebuild heap and index."""
    m = meta[0]
    w = 0
    for s in range(m):
        e = np.uint64(query_one(win, slot_h1[s], slot_h2[s]))
        if e > 0:
            slot_h1[w] = slot_h1[s]
            slot_h2[w] = slot_h2[s]
            slot_est[w] = e
            slot_ref[w] = slot_ref[s]
            w += 1
    meta[0] = w
    for s in range(w):
        heap[s] = s
        pos[s] = s
    for i in range(w // 2 - 1, -1, -1):
        _sift_down(heap, pos, slot_est, i, w)
    index[:] = 0
    cap = np.uint64(index.shape[0] - 1)
    for s in range(w):
        p = np.int64(slot_h1[s] & cap)
        while index[p] != 0:
            p = np.int64((np.uint64(p) + _ONE) & cap)
        index[p] = s + 1


@kernel()
def _add_into(a, b, mask, sign):
    """a = a + b (sign 1) or a - b (sign -1), modulo mask + 1."""
    for r in range(a.shape[0]):
        for j in range(a.shape[1]):
            if sign > 0:
                a[r, j] = (np.uint64(a[r, j]) + np.uint64(b[r, j])) & mask
            else:
                a[r, j] = (np.uint64(a[r, j]) - np.uint64(b[r, j])) & mask


@kernel()
def _advance(win, snaps, snap_tot, tot, mask, window, b, cands_h1, cands_h2, cands_est, cands_ref, heap, pos, index, meta):  # fmt: skip
    """Start bucket ``b`` (> the current one): snapshot, slide the window, re-value the candidates."""
    history = snaps.shape[0]
    cur = meta[1]
    _add_into(win, snaps[(cur - window + 1) % history], mask, 1)  # win now holds cum
    first = b - history + 1
    if first < cur + 1:
        first = cur + 1
    for nb in range(first, b + 1):
        slot = nb % history
        snaps[slot, :, :] = win
        snap_tot[slot] = tot[0]
    meta[1] = b
    _add_into(win, snaps[(b - window + 1) % history], mask, -1)
    _rebuild(win, cands_h1, cands_h2, cands_est, cands_ref, heap, pos, index, meta)


@kernel()
def _run(win, snaps, snap_tot, tot, mask, window, hashes, times, interval, counts, base,
         slot_h1, slot_h2, slot_est, slot_ref, heap, pos, index, meta):  # fmt: skip
    """The serial loop: event ``i`` is key ``hashes[i]`` at ``times[i]``, counted
    ``counts[i]`` times (once if ``counts`` is empty), batch index ``base + i``."""
    depth = win.shape[0]
    width = np.uint64(win.shape[1])
    unit = counts.shape[0] == 0
    full = heap.shape[0]
    n = hashes.shape[0]
    if n == 0:
        return
    if meta[3] == 0:
        b = np.int64(np.floor(times[0] / interval))
        meta[1] = b
        meta[2] = b
        meta[3] = 1
    nxt = _boundary(meta[1] + 1, interval)
    total = tot[0]
    for i in range(n):
        if times[i] >= nxt:  # exactly when floor(times[i] / interval) > the current bucket
            cur = np.int64(np.floor(times[i] / interval))
            tot[0] = total
            _advance(win, snaps, snap_tot, tot, mask, window, cur, slot_h1, slot_h2, slot_est, slot_ref, heap, pos, index, meta)  # fmt: skip
            nxt = _boundary(cur + 1, interval)
        h1 = hashes[i, 0]
        h2 = hashes[i, 1]
        c = _ONE if unit else counts[i]
        total += c
        est = mask
        for r in range(depth):
            j = column(h1, h2, r, width)
            v = (np.uint64(win[r, j]) + c) & mask
            win[r, j] = v
            if v < est:
                est = v
        if meta[0] == full and est <= slot_est[heap[0]]:
            continue  # the common case, kept out of topk_offer for speed
        p = _index_find(index, slot_h1, slot_h2, h1, h2)
        if p >= 0:
            s = index[p] - 1
            slot_est[s] = sat_add(slot_est[s], c, mask)
            _sift_down(heap, pos, slot_est, pos[s], meta[0])
        else:
            topk_offer(slot_h1, slot_h2, slot_est, slot_ref, heap, pos, index, meta, h1, h2, est, c, mask, base + i)  # fmt: skip
    tot[0] = total


def _ex_update():
    from .bloom import _ex_keys

    t = np.array([5.0, 5.5, 7.0])
    return [
        (*_ex_state(dt), mask, np.int64(2), *_ex_keys(md), t, 1.0, np.zeros(0, np.uint64), *_ex_cands())
        for dt, mask in _masks()
        for md in (0, 1, 2)
    ]


# Keys of the int and bytes forms are hashed here, 1024 at a time into a buffer
# that stays in L1 (no (n, 2) hash array to write and read back), then the same loop.


@kernel(_ex_update)
def trend_update(win, snaps, snap_tot, tot, mask, window, mode, hashes, ints, data, starts, ends, seed,
                 times, interval, counts, slot_h1, slot_h2, slot_est, slot_ref, heap, pos, index, meta):  # fmt: skip
    """Serial update: event ``i`` is key ``i`` of the batch (any kernel form, as in
    :func:`sysprims._kernels.bloom.key_hash`) at ``times[i]``, in bucket
    ``floor(times[i] / interval)`` (the wrapper checked that every bucket fits int64)."""
    if mode == 0:
        _run(win, snaps, snap_tot, tot, mask, window, hashes, times, interval, counts, 0,
             slot_h1, slot_h2, slot_est, slot_ref, heap, pos, index, meta)  # fmt: skip
        return
    n = batch_len(mode, hashes, ints, starts)
    block = 1024
    buf = np.empty((block, 2), np.uint64)
    for lo in range(0, n, block):
        hi = min(lo + block, n)
        for i in range(lo, hi):
            buf[i - lo, 0], buf[i - lo, 1] = key_hash(mode, i, hashes, ints, data, starts, ends, seed)
        c = counts if counts.shape[0] == 0 else counts[lo:hi]
        _run(win, snaps, snap_tot, tot, mask, window, buf[: hi - lo], times[lo:hi], interval, c, lo,
             slot_h1, slot_h2, slot_est, slot_ref, heap, pos, index, meta)  # fmt: skip


def _ex_advance():
    return [(*_ex_state(dt), mask, np.int64(2), np.int64(9), *_ex_cands()) for dt, mask in _masks()]


@kernel(_ex_advance)
def trend_advance(win, snaps, snap_tot, tot, mask, window, b,
                  slot_h1, slot_h2, slot_est, slot_ref, heap, pos, index, meta):  # fmt: skip
    """Move the clock to bucket ``b`` with no event (no-op unless ``b`` is later)."""
    if meta[3] == 0:
        meta[1] = b
        meta[2] = b
        meta[3] = 1
    elif b > meta[1]:
        _advance(win, snaps, snap_tot, tot, mask, window, b, slot_h1, slot_h2, slot_est, slot_ref, heap, pos, index, meta)  # fmt: skip


def _ex_query():
    h = np.array([[1, 2], [3, 4]], dtype=np.uint64)
    return [
        (np.zeros((2, 17), dt), np.zeros((2, 17), dt), mask, h, np.empty(2, np.uint64))
        for dt, mask in _masks()
    ]


@kernel(_ex_query)
def trend_query(top, bottom, mask, hashes, out):
    """``out[i]`` = row minimum of ``top - bottom`` (mod mask + 1) at key i's columns."""
    depth = top.shape[0]
    width = np.uint64(top.shape[1])
    for i in range(hashes.shape[0]):
        h1 = hashes[i, 0]
        h2 = hashes[i, 1]
        est = mask
        for r in range(depth):
            j = column(h1, h2, r, width)
            v = (np.uint64(top[r, j]) - np.uint64(bottom[r, j])) & mask
            if v < est:
                est = v
        out[i] = est


def _ex_rebuild():
    return [(np.zeros((2, 17), dt), *_ex_cands()) for dt, _mask in _masks()]


@kernel(_ex_rebuild)
def trend_rebuild(win, slot_h1, slot_h2, slot_est, slot_ref, heap, pos, index, meta):
    """:func:`_rebuild` for the wrapper (after loading or merging)."""
    _rebuild(win, slot_h1, slot_h2, slot_est, slot_ref, heap, pos, index, meta)


__all__ = [
    "trend_advance",
    "trend_query",
    "trend_rebuild",
    "trend_update",
]
