"""Plain-Python twins for ``sysprims._kernels.feed`` and a brute-force model of
the whole feed service (unbounded lists, sets and full sorts)."""

from __future__ import annotations

import heapq
from collections import defaultdict


def merge_one(authors, extra_author, heads, prev, ring, ring_n, ring_end, limit):
    """Twin of the kernel ``merge_one``: all candidates collected, then a heap."""
    cands = []
    srcs = list(authors) + ([extra_author] if extra_author >= 0 else [])
    for a in srcs:
        p = heads[a]
        while p >= 0:
            cands.append(p)
            p = prev[p]
    cap = len(ring)
    for j in range(ring_n):
        cands.append(ring[(ring_end - 1 - j) % cap])
    return heapq.nlargest(limit, cands)


class BruteFeed:
    """The feed semantics written the slow, obvious way.

    Post order is time order. A post by an author with more than ``threshold``
    followers at post time is delivered only to the author; otherwise to the
    author and every follower at post time. A timeline shows the newest
    ``capacity`` deliveries. push = timeline; pull = newest posts of the current
    followees and the user; hybrid = timeline + undelivered posts of current
    followees. Every read returns at most ``min(limit, capacity)`` posts.
    """

    def __init__(self, n_users, capacity, threshold):
        self.n = n_users
        self.capacity = capacity
        self.threshold = threshold
        self.following = defaultdict(set)
        self.authors = []
        self.pushed = []
        self.delivered = defaultdict(list)

    def follow(self, u, v):
        self.following[u].add(v)

    def unfollow(self, u, v):
        self.following[u].discard(v)

    def followers(self, v):
        return {u for u in range(self.n) if v in self.following[u]}

    def post(self, a):
        p = len(self.authors)
        fol = self.followers(a)
        pushed = self.threshold is None or len(fol) <= self.threshold
        self.authors.append(a)
        self.pushed.append(pushed)
        self.delivered[a].append(p)
        if pushed:
            for f in fol:
                self.delivered[f].append(p)
        return p

    def _top(self, posts, limit):
        return sorted(set(posts), reverse=True)[: min(limit, self.capacity)]

    def push(self, u, limit):
        return self._top(self.delivered[u][-self.capacity:], limit)

    def pull(self, u, limit):
        srcs = self.following[u] | {u}
        return self._top([p for p, a in enumerate(self.authors) if a in srcs], limit)

    def hybrid(self, u, limit):
        f = self.following[u]
        extra = [p for p, a in enumerate(self.authors) if a in f and not self.pushed[p]]
        return self._top(self.delivered[u][-self.capacity:] + extra, limit)
