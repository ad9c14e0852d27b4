"""Single-key rate limiters: the classic primer API's classes, thread-safe, clock-driven.

``TokenBucket``, ``LeakyBucket``, ``FixedWindow``, ``SlidingWindowLog`` and
``SlidingWindowCounter`` each guard one stream of requests. ``allow_request(cost=1)``
returns a bool, ``decide(cost=1)`` a :class:`Decision`. Time comes from
``clock.time()`` (the system clock by default); if the clock steps backwards the
limiter keeps using the latest time it saw, so a clock step never refunds quota.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

from .._html import html_table
from ..clock import Clock, resolve_clock
from . import algorithms as A


@dataclass(frozen=True)
class Decision:
    """The outcome of one request, enough for the IETF ``RateLimit`` headers.

    ``remaining``: requests of cost 1 still allowed now; ``retry_after``: seconds
    until the same request would be allowed (0 when allowed, ``inf`` when its cost
    exceeds the limit); ``reset_after``: seconds until the key is back to its
    fresh state.
    """

    allowed: bool
    limit: float
    remaining: int
    retry_after: float
    reset_after: float
    cost: float = 1.0

    def __bool__(self) -> bool:
        return self.allowed

    def headers(self) -> dict[str, str]:
        """HTTP headers: ``RateLimit-Limit/-Remaining/-Reset`` and, when denied, ``Retry-After``
        (delta-seconds, rounded up)."""
        h = {
            "RateLimit-Limit": str(int(self.limit))
            if float(self.limit).is_integer()
            else str(self.limit),
            "RateLimit-Remaining": str(max(0, self.remaining)),
            "RateLimit-Reset": str(int(math.ceil(self.reset_after))),
        }
        if not self.allowed and math.isfinite(self.retry_after):
            h["Retry-After"] = str(int(math.ceil(self.retry_after)))
        return h


class _SingleKeyLimiter:
    ALGORITHM = ""
    _LIMIT_ATTR = ""
    _SECOND_ATTR = ""

    def __init__(self, limit: Any, second: Any, clock: Clock | None):
        self._spec = A.SPECS[self.ALGORITHM]
        self._params = A.check_params(self._spec, limit, second)
        self._clock = resolve_clock(clock)
        self._lock = threading.Lock()
        self._now = float(self._clock.time())
        self._row = A.fresh_row(self._spec.code, self._params, self._now)

    # -- time --------------------------------------------------------------
    def _tick(self) -> float:
        now = float(self._clock.time())
        if now > self._now:
            self._now = now
        return self._now

    # -- public API ---------------------------------------------------------
    def allow_request(self, cost: float = 1) -> bool:
        """Consume ``cost`` if the limit allows it; True if allowed, False if rate limited."""
        c = A.check_cost(self._spec, cost) if cost != 1 else 1.0
        with self._lock:
            return A.step(self._row, self._spec.code, self._params, self._tick(), c)

    def decide(self, cost: float = 1) -> Decision:
        """Like :meth:`allow_request`, returning a :class:`Decision` with the header fields."""
        c = A.check_cost(self._spec, cost)
        with self._lock:
            now = self._tick()
            allowed = A.step(self._row, self._spec.code, self._params, now, c)
            remaining, retry, reset = A.details(
                self._row, self._spec.code, self._params, now, c, allowed
            )
        return Decision(allowed, self._params[0], remaining, retry, reset, c)

    def reset(self) -> None:
        """Forget all usage (back to the fresh state)."""
        with self._lock:
            self._row = A.fresh_row(self._spec.code, self._params, self._tick())

    @property
    def clock(self) -> Clock:
        return self._clock

    def _state_items(self) -> list[tuple[str, Any]]:
        return []

    def __repr__(self) -> str:
        args = f"{self._LIMIT_ATTR}={getattr(self, self._LIMIT_ATTR)!r}, {self._SECOND_ATTR}={getattr(self, self._SECOND_ATTR)!r}"
        state = ", ".join(f"{k}={v}" for k, v in self._state_items())
        return f"{type(self).__name__}({args}; {state})"

    def _repr_html_(self) -> str:
        rows = [
            (self._LIMIT_ATTR, getattr(self, self._LIMIT_ATTR)),
            (self._SECOND_ATTR, getattr(self, self._SECOND_ATTR)),
            *self._state_items(),
            ("clock", repr(self._clock)),
        ]
        return html_table(type(self).__name__, rows)


class TokenBucket(_SingleKeyLimiter):
    """Token bucket: ``capacity`` tokens (the burst), refilled at ``refill_rate`` per second.

    A request of cost ``c`` takes ``c`` tokens if there are that many.
    """

    ALGORITHM = "token_bucket"
    _LIMIT_ATTR = "capacity"
    _SECOND_ATTR = "refill_rate"

    def __init__(self, capacity: float, refill_rate: float, *, clock: Clock | None = None):
        super().__init__(capacity, refill_rate, clock)
        self.capacity = capacity
        self.refill_rate = refill_rate

    @property
    def tokens(self) -> float:
        """Tokens left as of the last request (refill is applied on the next request)."""
        return self._row[0]

    @property
    def last_refill(self) -> float:
        return self._row[1]

    def _state_items(self):
        return [("tokens", f"{self.tokens:.2f}")]


class LeakyBucket(_SingleKeyLimiter):
    """Leaky bucket (as a meter): each request adds its cost to a bucket of
    ``capacity`` that drains at ``leak_rate`` per second; a request that would
    overflow is denied. Admits bursts of at most ``capacity``, then a steady
    ``leak_rate``."""

    ALGORITHM = "leaky_bucket"
    _LIMIT_ATTR = "capacity"
    _SECOND_ATTR = "leak_rate"

    def __init__(self, capacity: float, leak_rate: float, *, clock: Clock | None = None):
        super().__init__(capacity, leak_rate, clock)
        self.capacity = capacity
        self.leak_rate = leak_rate

    @property
    def level(self) -> float:
        return self._row[0]

    def _state_items(self):
        return [("level", f"{self.level:.2f}")]


class FixedWindow(_SingleKeyLimiter):
    """Fixed window: at most ``max_requests`` per window ``[k*W, (k+1)*W)`` of the
    clock (windows aligned to the epoch). Up to ``2*max_requests`` can pass
    around a window boundary."""

    ALGORITHM = "fixed_window"
    _LIMIT_ATTR = "max_requests"
    _SECOND_ATTR = "window_seconds"

    def __init__(self, max_requests: int, window_seconds: float, *, clock: Clock | None = None):
        super().__init__(max_requests, window_seconds, clock)
        self.max_requests = max_requests
        self.window_seconds = window_seconds

    @property
    def count(self) -> int:
        return int(self._row[1])

    @property
    def window_start(self) -> float:
        return self._row[0] * self._params[2]

    def _state_items(self):
        return [("count", self.count), ("window_start", self.window_start)]


class SlidingWindowLog(_SingleKeyLimiter):
    """Sliding window log: a request at ``t`` is allowed if fewer than
    ``max_requests`` accepted requests lie in ``[t - window_seconds, t]``. Exact.

    Only the last ``max_requests`` accepted timestamps are kept (a ring), so a
    request costs O(1) and a key O(max_requests) memory.
    """

    ALGORITHM = "sliding_window_log"
    _LIMIT_ATTR = "max_requests"
    _SECOND_ATTR = "window_seconds"

    def __init__(self, max_requests: int, window_seconds: float, *, clock: Clock | None = None):
        super().__init__(max_requests, window_seconds, clock)
        self.max_requests = max_requests
        self.window_seconds = window_seconds

    @property
    def request_log(self) -> deque:
        """Accepted timestamps still in the window as of the latest request, oldest first."""
        with self._lock:
            return deque(A.log_in_window(self._row, self._params[0], self._params[2], self._now))

    def _state_items(self):
        return [("in_window", len(self.request_log))]


class SlidingWindowCounter(_SingleKeyLimiter):
    """Sliding window counter (Cloudflare's approximation): the count of the
    previous epoch-aligned window, weighted by its overlap with the sliding
    window, plus the current window's count must stay within ``max_requests``.
    O(1) memory; it can deny or allow slightly differently from the exact log."""

    ALGORITHM = "sliding_window_counter"
    _LIMIT_ATTR = "max_requests"
    _SECOND_ATTR = "window_seconds"

    def __init__(self, max_requests: int, window_seconds: float, *, clock: Clock | None = None):
        super().__init__(max_requests, window_seconds, clock)
        self.max_requests = max_requests
        self.window_seconds = window_seconds

    @property
    def current_window_count(self) -> int:
        return int(self._row[1])

    @property
    def prev_window_count(self) -> int:
        return int(self._row[2])

    @property
    def current_window_start(self) -> float:
        return self._row[0] * self._params[2]

    def _state_items(self):
        return [("current", self.current_window_count), ("previous", self.prev_window_count)]


CLASSES = {
    cls.ALGORITHM: cls
    for cls in (TokenBucket, LeakyBucket, FixedWindow, SlidingWindowLog, SlidingWindowCounter)
}
