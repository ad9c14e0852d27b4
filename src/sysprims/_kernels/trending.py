"""Sliding-window Count-Min and windowed top-K kernels (``sysprims.countmin.trending``).

State (struct of arrays):

* ``cum`` (depth, width), uint32 or uint64: a Count-Min table of *every* event
  so far, added with wrap-around (never saturating), so differences are exact
  modulo ``mask + 1``;
* ``snaps`` (history, depth, width): ``snaps[b % history]`` is ``cum`` as it
  was when bucket ``b`` started, for the last ``history`` buckets;
* ``snap_tot`` (history,) uint64 and ``tot`` (1,) uint64: the same for the
  event total;
* ``meta`` int64 ``[candidates, current bucket, first bucket, started]``.

The counters of buckets ``b0..cur`` are ``cum - snaps[b0 % history]`` (mod
``mask + 1``): a Count-Min table of exactly the events of those buckets, so its
row minimum never undercounts them. Each event costs the table's ``depth``
read-modify-writes plus ``depth`` reads of one snapshot; a bucket change copies
``cum`` into one snapshot (O(depth*width)) and re-values the candidates.

Candidates are the top-K structure of :mod:`sysprims._kernels.countmin`
(``slot_*``, ``heap``, ``pos``, ``index``) valued by the recent-window
estimate; ``slot_ref`` is the batch index of the key that (re)entered a slot,
or a negative number the wrapper set before the batch (the key it already holds).
Buckets come pre-computed (``floor(timestamp / interval)``, int64); an event of an
earlier bucket than the current one counts in the current bucket.
"""

from __future__ import annotations

import numpy as np

from .._jit import kernel
from .countmin import _ex_topk, _index_find, _sift_down, column, sat_add, topk_offer

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
def window_est(cum, snap, h1, h2, mask):
    """Row minimum of ``cum - snap`` (mod mask+1) at the key's columns."""
    depth = cum.shape[0]
    width = np.uint64(cum.shape[1])
    est = mask
    for r in range(depth):
        j = column(h1, h2, r, width)
        v = (np.uint64(cum[r, j]) - np.uint64(snap[r, j])) & mask
        if v < est:
            est = v
    return est


@kernel()
def _rebuild(cum, snap, mask, slot_h1, slot_h2, slot_est, slot_ref, heap, pos, index, meta):
    """Re-value every candidate from the window table, drop those at 0, rebuild heap and index."""
    m = meta[0]
    w = 0
    for s in range(m):
        e = window_est(cum, snap, slot_h1[s], slot_h2[s], mask)
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
def _advance(
    cum,
    snaps,
    snap_tot,
    tot,
    mask,
    window,
    b,
    slot_h1,
    slot_h2,
    slot_est,
    slot_ref,
    heap,
    pos,
    index,
    meta,
):
    """Start bucket ``b`` (> the current one): snapshot, then re-value the candidates."""
    history = snaps.shape[0]
    cur = meta[1]
    steps = b - cur
    if steps > history:
        steps = history
    for nb in range(b - steps + 1, b + 1):
        slot = nb % history
        snaps[slot, :, :] = cum
        snap_tot[slot] = tot[0]
    meta[1] = b
    ws = (b - window + 1) % history
    _rebuild(cum, snaps[ws], mask, slot_h1, slot_h2, slot_est, slot_ref, heap, pos, index, meta)


def _ex_update():
    h = np.array([[1, 2], [3, 4], [1, 2]], dtype=np.uint64)
    b = np.array([5, 5, 7], dtype=np.int64)
    return [
        (*_ex_state(dt), mask, np.int64(2), h, b, np.zeros(0, np.uint64), *_ex_cands())
        for dt, mask in _masks()
    ]


@kernel(_ex_update)
def trend_update(cum, snaps, snap_tot, tot, mask, window, hashes, buckets, counts,
                 slot_h1, slot_h2, slot_est, slot_ref, heap, pos, index, meta):  # fmt: skip
    """Serial update: event ``i`` is key ``hashes[i]`` in bucket ``buckets[i]``."""
    history = snaps.shape[0]
    depth = cum.shape[0]
    width = np.uint64(cum.shape[1])
    unit = counts.shape[0] == 0
    full = heap.shape[0]
    ws = (meta[1] - window + 1) % history
    for i in range(hashes.shape[0]):
        b = buckets[i]
        if meta[3] == 0:
            meta[1] = b
            meta[2] = b
            meta[3] = 1
            ws = (b - window + 1) % history
        elif b > meta[1]:
            _advance(
                cum,
                snaps,
                snap_tot,
                tot,
                mask,
                window,
                b,
                slot_h1,
                slot_h2,
                slot_est,
                slot_ref,
                heap,
                pos,
                index,
                meta,
            )
            ws = (b - window + 1) % history
        h1 = hashes[i, 0]
        h2 = hashes[i, 1]
        c = _ONE if unit else counts[i]
        tot[0] += c
        est = mask
        for r in range(depth):
            j = column(h1, h2, r, width)
            v = (np.uint64(cum[r, j]) + c) & mask
            cum[r, j] = v
            d = (v - np.uint64(snaps[ws, r, j])) & mask
            if d < est:
                est = d
        if meta[0] == full and est <= slot_est[heap[0]]:
            continue
        p = _index_find(index, slot_h1, slot_h2, h1, h2)
        if p >= 0:
            s = index[p] - 1
            slot_est[s] = sat_add(slot_est[s], c, mask)
            _sift_down(heap, pos, slot_est, pos[s], meta[0])
        else:
            topk_offer(
                slot_h1,
                slot_h2,
                slot_est,
                slot_ref,
                heap,
                pos,
                index,
                meta,
                h1,
                h2,
                est,
                c,
                mask,
                i,
            )


def _ex_advance():
    return [(*_ex_state(dt), mask, np.int64(2), np.int64(9), *_ex_cands()) for dt, mask in _masks()]


@kernel(_ex_advance)
def trend_advance(cum, snaps, snap_tot, tot, mask, window, b,
                  slot_h1, slot_h2, slot_est, slot_ref, heap, pos, index, meta):  # fmt: skip
    """Move the clock to bucket ``b`` with no event (no-op unless ``b`` is later)."""
    if meta[3] == 0:
        meta[1] = b
        meta[2] = b
        meta[3] = 1
    elif b > meta[1]:
        _advance(
            cum,
            snaps,
            snap_tot,
            tot,
            mask,
            window,
            b,
            slot_h1,
            slot_h2,
            slot_est,
            slot_ref,
            heap,
            pos,
            index,
            meta,
        )


def _ex_query():
    h = np.array([[1, 2], [3, 4]], dtype=np.uint64)
    return [
        (np.zeros((2, 17), dt), np.zeros((2, 17), dt), mask, h, np.empty(2, np.uint64))
        for dt, mask in _masks()
    ]


@kernel(_ex_query)
def trend_query(top, bottom, mask, hashes, out):
    """``out[i]`` = row minimum of ``top - bottom`` at key i's columns."""
    for i in range(hashes.shape[0]):
        out[i] = window_est(top, bottom, hashes[i, 0], hashes[i, 1], mask)


def _ex_rebuild():
    return [
        (np.zeros((2, 17), dt), np.zeros((2, 17), dt), mask, *_ex_cands()) for dt, mask in _masks()
    ]


@kernel(_ex_rebuild)
def trend_rebuild(cum, snap, mask, slot_h1, slot_h2, slot_est, slot_ref, heap, pos, index, meta):
    """:func:`_rebuild` for the wrapper (after loading or merging)."""
    _rebuild(cum, snap, mask, slot_h1, slot_h2, slot_est, slot_ref, heap, pos, index, meta)


def _ex_add():
    return [(np.zeros((3, 2, 17), dt), np.zeros((3, 2, 17), dt), mask) for dt, mask in _masks()]


@kernel(_ex_add)
def wrap_add(a, b, mask):
    """a += b modulo mask+1 (3-D tables: snapshots, or a (1, depth, width) view)."""
    for i in range(a.shape[0]):
        for r in range(a.shape[1]):
            for j in range(a.shape[2]):
                a[i, r, j] = (np.uint64(a[i, r, j]) + np.uint64(b[i, r, j])) & mask


__all__ = [
    "trend_advance",
    "trend_query",
    "trend_rebuild",
    "trend_update",
    "window_est",
    "wrap_add",
]
