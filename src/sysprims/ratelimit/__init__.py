"""Rate limiting: five algorithms for one key, and :class:`RateLimiter` for many.

* single-key, thread-safe, clock-driven (the classic primer API): :class:`TokenBucket`,
  :class:`LeakyBucket`, :class:`FixedWindow`, :class:`SlidingWindowLog`,
  :class:`SlidingWindowCounter` with ``allow_request(cost=1)`` and ``decide(cost=1)``;
* multi-key: :class:`RateLimiter` with ``allow(key, now=None)``, ``decide`` and the
  batch replay ``allow_many(keys, timestamps)`` over an array-backed key table;
* :class:`DistributedTokenBucket`: the classic primer API's Redis-shared bucket (one Lua script);
* :func:`accuracy_report`: the sliding-window counter against the exact log.
"""

from __future__ import annotations

from .accuracy import accuracy_report
from .distributed import DistributedTokenBucket
from .single import (
    Decision,
    FixedWindow,
    LeakyBucket,
    SlidingWindowCounter,
    SlidingWindowLog,
    TokenBucket,
)
from .table import MemoryBackend, RateLimiter

ALGORITHMS = (
    "token_bucket",
    "leaky_bucket",
    "fixed_window",
    "sliding_window_log",
    "sliding_window_counter",
)

__all__ = [
    "ALGORITHMS",
    "Decision",
    "DistributedTokenBucket",
    "FixedWindow",
    "LeakyBucket",
    "MemoryBackend",
    "RateLimiter",
    "SlidingWindowCounter",
    "SlidingWindowLog",
    "TokenBucket",
    "accuracy_report",
]
