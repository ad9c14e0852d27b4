"""What a rate-limiter store must do (the memory backend and the Redis one both do).

A key is identified by ``hk = (h1, h2)``, its MurmurHash3_x64_128 under the
limiter's seed; ``hashes`` is the ``(n, 2)`` uint64 array of them; times are
float64 seconds (``None``: the store keeps time itself, ``server_time``).
Inputs arrive validated by :class:`~sysprims.ratelimit.RateLimiter`.

Required: the three methods of :class:`RateLimitStore`. Optional, used only by
the limiter methods of the same names: ``get_row(hk) -> list | None``,
``reset(hk, now)``, ``reclaim(now) -> int``, ``__len__`` (keys held) and
``close()``.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

__all__ = ["RateLimitStore"]


@runtime_checkable
class RateLimitStore(Protocol):
    def allow_many(self, hashes: Any, ts: Any, costs: Any) -> Any:
        """Bool array; serial semantics (request i sees the state left by 0..i-1)."""

    def allow_one(self, hk: tuple[int, int], now: float | None, cost: float) -> bool:
        """One request's verdict."""

    def decide(self, hk: tuple[int, int], now: float | None, cost: float) -> tuple[bool, float, float, float]:
        """``(allowed, remaining, retry_after, reset_after)``."""
