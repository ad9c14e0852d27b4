"""Kernels of the news-feed fan-out (``sysprims.feed``).

State is struct-of-arrays, all int64:

* posts are dense indices ``0..n_posts-1`` in post order (which is also time
  order, the wrappers enforce non-decreasing timestamps), so "newer" simply
  means "larger index";
* ``author_last[a]`` is the newest post of author ``a`` and ``post_prev[p]``
  the author's previous post (-1 ends the list): every author's history is a
  linked list, newest first, in two flat arrays;
* posts of celebrities (more followers than the threshold when they posted)
  are not pushed; they sit on a second list ``author_last_unpushed`` /
  ``prev_unpushed`` that hybrid reads pull from;
* timelines are one ``(n_users, capacity)`` matrix of ring buffers with
  ``tl_count[u]`` entries ever written to row ``u``; the matrix is int32
  (post indices < 2**31) to halve the memory traffic of a fan-out.

Kernels trust their inputs (validated by ``sysprims.feed``).
"""

from __future__ import annotations

import numpy as np

from .._jit import kernel


def _examples_fanout():
    # users 0,1,2; 1 and 2 follow 0; the follower CSR (indptr, indices).
    indptr = np.array([0, 2, 2, 2], dtype=np.int64)
    indices = np.array([1, 2], dtype=np.int64)
    n_posts = 2
    return (
        np.array([0, 1], dtype=np.int64),
        np.int64(0),
        indptr,
        indices,
        np.int64(1 << 62),
        np.full(n_posts, -1, dtype=np.int64),
        np.zeros(n_posts, dtype=np.uint8),
        np.full(n_posts, -1, dtype=np.int64),
        np.full(3, -1, dtype=np.int64),
        np.full(3, -1, dtype=np.int64),
        np.zeros((3, 4), dtype=np.int32),
        np.zeros(3, dtype=np.int64),
    )


@kernel(_examples_fanout)
def fanout_many(authors, first_post, f_indptr, f_indices, threshold, post_prev, post_pushed,
                prev_unpushed, author_last, author_last_unpushed, tl, tl_count):
    """Append posts ``first_post + i`` by ``authors[i]`` in order; returns the
    number of timeline writes. An author with more than ``threshold`` followers
    (CSR ``f_indptr``/``f_indices``, followers of each user) is not fanned out:
    the post only goes to the author's own timeline and unpushed list."""
    cap = tl.shape[1]
    writes = 0
    for i in range(authors.shape[0]):
        a = authors[i]
        p = first_post + i
        post_prev[p] = author_last[a]
        author_last[a] = p
        # the author's own timeline
        c = tl_count[a]
        tl[a, c % cap] = np.int32(p)
        tl_count[a] = c + 1
        writes += 1
        lo = f_indptr[a]
        hi = f_indptr[a + 1]
        if hi - lo > threshold:
            post_pushed[p] = 0
            prev_unpushed[p] = author_last_unpushed[a]
            author_last_unpushed[a] = p
        else:
            post_pushed[p] = 1
            prev_unpushed[p] = -1
            for j in range(lo, hi):
                f = f_indices[j]
                c = tl_count[f]
                tl[f, c % cap] = np.int32(p)
                tl_count[f] = c + 1
            writes += hi - lo
    return writes


def _examples_merge():
    return (
        np.array([0, 1], dtype=np.int64),
        np.int64(0),
        np.int64(2),
        np.int64(-1),
        np.array([1, 2], dtype=np.int64),
        np.array([-1, 0, -1], dtype=np.int64),
        np.zeros(4, dtype=np.int32),
        np.int64(0),
        np.int64(0),
        np.int64(3),
        np.empty(3, dtype=np.int64),
        np.empty(3, dtype=np.int64),
    )


@kernel()
def _sift_down(heap, size, i):
    x = heap[i]
    while True:
        child = 2 * i + 1
        if child >= size:
            break
        if child + 1 < size and heap[child + 1] > heap[child]:
            child += 1
        if heap[child] <= x:
            break
        heap[i] = heap[child]
        i = child
    heap[i] = x


@kernel(_examples_merge)
def merge_one(authors, lo, hi, extra_author, heads, prev, ring, ring_n, ring_end, limit, out, heap):
    """k-way merge, newest first, of the linked lists of ``authors[lo:hi]``
    (plus ``extra_author`` when >= 0; head ``heads[a]``, next ``prev[p]``) and
    of the ``ring_n`` newest entries of ring buffer ``ring`` (ending just
    before index ``ring_end`` modulo its length). Writes up to ``limit`` post
    indices to ``out`` and returns how many. ``heap`` needs ``hi - lo + 1``
    slots. Sources must be disjoint (the callers guarantee it)."""
    size = 0
    for j in range(lo, hi):
        h = heads[authors[j]]
        if h >= 0:
            heap[size] = h
            size += 1
    if extra_author >= 0:
        h = heads[extra_author]
        if h >= 0:
            heap[size] = h
            size += 1
    for i in range(size // 2 - 1, -1, -1):
        _sift_down(heap, size, i)
    cap = ring.shape[0]
    rj = 0
    k = 0
    while k < limit:
        rc = -1
        if rj < ring_n:
            rc = ring[(ring_end - 1 - rj) % cap]
        hc = -1
        if size > 0:
            hc = heap[0]
        if rc < 0 and hc < 0:
            break
        if rc > hc:
            out[k] = rc
            rj += 1
        else:
            out[k] = hc
            nxt = prev[hc]
            if nxt >= 0:
                heap[0] = nxt
            else:
                size -= 1
                heap[0] = heap[size]
            if size > 0:
                _sift_down(heap, size, 0)
        k += 1
    return k


def _examples_feeds():
    return (
        np.array([0, 1, 2], dtype=np.int64),
        np.int64(1),
        np.array([0, 0, 1, 2], dtype=np.int64),
        np.array([0, 0], dtype=np.int64),
        np.array([1, -1, -1], dtype=np.int64),
        np.array([-1, 0], dtype=np.int64),
        np.array([-1, -1, -1], dtype=np.int64),
        np.array([-1, -1], dtype=np.int64),
        np.zeros((3, 4), dtype=np.int32),
        np.array([2, 2, 2], dtype=np.int64),
        np.full((3, 2), -1, dtype=np.int64),
        np.zeros(3, dtype=np.int64),
        np.empty(3, dtype=np.int64),
    )


@kernel(_examples_feeds)
def feeds_many(users, mode, g_indptr, g_indices, author_last, post_prev, author_last_unpushed,
               prev_unpushed, tl, tl_count, out, counts, heap):
    """Feeds of many users: ``mode`` 0 push (timeline only), 1 pull (merge of
    the followed authors' and the user's own posts), 2 hybrid (timeline merged
    with the unpushed posts of followed authors). ``g_indptr``/``g_indices`` is
    the following CSR. ``out`` is ``(n, limit)``; ``counts[i]`` valid entries."""
    cap = tl.shape[1]
    limit = out.shape[1]
    for i in range(users.shape[0]):
        u = users[i]
        row = out[i]
        c = tl_count[u]
        n_ring = min(c, cap)
        if mode == 0:
            k = 0
            while k < limit and k < n_ring:
                row[k] = tl[u, (c - 1 - k) % cap]
                k += 1
            counts[i] = k
        elif mode == 1:
            counts[i] = merge_one(g_indices, g_indptr[u], g_indptr[u + 1], u, author_last, post_prev,
                                  tl[u], 0, 0, limit, row, heap)
        else:
            counts[i] = merge_one(g_indices, g_indptr[u], g_indptr[u + 1], -1, author_last_unpushed,
                                  prev_unpushed, tl[u], n_ring, c, limit, row, heap)
