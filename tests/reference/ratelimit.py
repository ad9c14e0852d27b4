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
from fractions import Fraction

# The buckets in exact rational arithmetic on the float inputs, with the documented
# slack (docs/ratelimit.md, "Exact pacing"): a request that is due within
# 1 ns + 2**-50 * |now| seconds (at the rate), or 2**-50 of the capacity, passes and
# owes the difference.
_NS = Fraction(1, 10**9)
_REL = Fraction(1, 2**50)


def _slack(now, rate, capacity):
    return (_NS + abs(now) * _REL) * rate + capacity * _REL


class RefTokenBucket:
    """Bucket of ``capacity`` tokens, full for a new key, refilled at ``refill_rate``/s;
    a request of cost c <= capacity takes c tokens if at least c are there (up to
    the slack, which it then owes)."""

    def __init__(self, capacity, refill_rate):
        self.capacity, self.rate = Fraction(float(capacity)), Fraction(float(refill_rate))
        self.buckets = {}  # key -> [tokens, last]

    def allow(self, key, now, cost=1.0):
        now, cost = Fraction(float(now)), Fraction(float(cost))
        tokens, last = self.buckets.get(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self.rate)
        ok = cost <= self.capacity and tokens + _slack(now, self.rate, self.capacity) >= cost
        if ok:
            tokens -= cost
        self.buckets[key] = (tokens, now)
        return ok


class RefLeakyBucket:
    """Bucket of ``capacity`` that drains at ``leak_rate``/s, empty for a new key;
    a request adds its cost unless that would overflow (beyond the slack)."""

    def __init__(self, capacity, leak_rate):
        self.capacity, self.rate = Fraction(float(capacity)), Fraction(float(leak_rate))
        self.buckets = {}

    def allow(self, key, now, cost=1.0):
        now, cost = Fraction(float(now)), Fraction(float(cost))
        level, last = self.buckets.get(key, (Fraction(0), now))
        level = max(Fraction(0), level - (now - last) * self.rate)
        ok = cost <= self.capacity and level + cost <= self.capacity + _slack(
            now, self.rate, self.capacity
        )
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
