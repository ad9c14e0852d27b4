"""Plain-Python twins of the rate-limiting algorithms (one dict entry per key).

Written the textbook way, independently of ``sysprims.ratelimit``: the sliding log
keeps an unbounded deque and prunes it, as the seed does. These are also the
specification the Redis Lua scripts (issue #6) are checked against: each
``Ref*.allow(key, now, cost)`` gives the decision for one request, and time
never decreases. Windows of the window-based algorithms are aligned to the
epoch: window k is ``[k*W, (k+1)*W)`` with ``k = floor(now / W)``.
"""

from __future__ import annotations

import math
from collections import deque


class RefTokenBucket:
    """Bucket of ``capacity`` tokens, full for a new key, refilled at ``refill_rate``/s;
    a request of cost c takes c tokens if at least c are there."""

    def __init__(self, capacity, refill_rate):
        self.capacity, self.rate = float(capacity), float(refill_rate)
        self.buckets = {}  # key -> [tokens, last]

    def allow(self, key, now, cost=1.0):
        tokens, last = self.buckets.get(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self.rate)
        ok = tokens >= cost
        if ok:
            tokens -= cost
        self.buckets[key] = (tokens, now)
        return ok


class RefLeakyBucket:
    """Bucket of ``capacity`` that drains at ``leak_rate``/s, empty for a new key;
    a request adds its cost unless that would overflow."""

    def __init__(self, capacity, leak_rate):
        self.capacity, self.rate = float(capacity), float(leak_rate)
        self.buckets = {}

    def allow(self, key, now, cost=1.0):
        level, last = self.buckets.get(key, (0.0, now))
        level = max(0.0, level - (now - last) * self.rate)
        ok = level + cost <= self.capacity
        if ok:
            level += cost
        self.buckets[key] = (level, now)
        return ok


class RefFixedWindow:
    def __init__(self, max_requests, window_seconds):
        self.limit, self.window = max_requests, float(window_seconds)
        self.counts = {}  # (key, window index) -> count

    def allow(self, key, now, cost=1.0):
        k = (key, math.floor(now / self.window))
        used = self.counts.get(k, 0)
        ok = used + cost <= self.limit
        if ok:
            self.counts[k] = used + cost
        return ok


class RefSlidingWindowLog:
    """Allowed iff (accepted requests with timestamp >= now - W) + cost <= limit."""

    def __init__(self, max_requests, window_seconds):
        self.limit, self.window = max_requests, float(window_seconds)
        self.logs = {}

    def allow(self, key, now, cost=1):
        log = self.logs.setdefault(key, deque())
        while log and log[0] < now - self.window:
            log.popleft()
        ok = len(log) + cost <= self.limit
        if ok:
            log.extend([now] * int(cost))
        return ok


class RefSlidingWindowCounter:
    """estimate = previous window's count * (share of the sliding window that still
    overlaps it) + current window's count; allowed iff estimate + cost <= limit."""

    def __init__(self, max_requests, window_seconds):
        self.limit, self.window = max_requests, float(window_seconds)
        self.counts = {}  # (key, window index) -> count

    def allow(self, key, now, cost=1.0):
        w = self.window
        idx = math.floor(now / w)
        cur = self.counts.get((key, idx), 0)
        prev = self.counts.get((key, idx - 1), 0)
        elapsed = now - idx * w
        estimate = prev * ((w - elapsed) / w) + cur
        ok = estimate + cost <= self.limit
        if ok:
            self.counts[(key, idx)] = cur + cost
        return ok


REFERENCES = {
    "token_bucket": (RefTokenBucket, ("capacity", "refill_rate")),
    "leaky_bucket": (RefLeakyBucket, ("capacity", "leak_rate")),
    "fixed_window": (RefFixedWindow, ("max_requests", "window_seconds")),
    "sliding_window_log": (RefSlidingWindowLog, ("max_requests", "window_seconds")),
    "sliding_window_counter": (RefSlidingWindowCounter, ("max_requests", "window_seconds")),
}


def reference(algorithm, **params):
    cls, names = REFERENCES[algorithm]
    return cls(*(params[n] for n in names))
