"""The classic primer API's ``DistributedTokenBucket``: one token bucket shared through Redis.

Fixed relative to the textbook implementation: the refill-and-consume step is one atomic Lua script
(``backends/lua/ratelimit_token_bucket.lua``) over one hash per bucket with an
expiry (the textbook implementation used two loose keys that never expired), and time comes from
the Redis server (``TIME``) unless ``now`` is given explicitly for a replay or a
test (the textbook implementation trusted each caller's clock).

The bucket of ``user_id`` is the same Redis state as key ``user_id`` of
``RateLimiter("token_bucket", ..., backend=url)`` with the same namespace and
seed, so both APIs can share one limit.
"""

from __future__ import annotations

from typing import Any

from .._html import html_table
from ..clock import Clock
from ..hashing import check_seed, hash128
from . import algorithms as A
from .single import Decision

DEFAULT_URL = "redis://localhost:6379/0"


class DistributedTokenBucket:
    """Token bucket of ``capacity`` tokens refilled at ``refill_rate`` per second,
    shared by every process that uses the same Redis, ``user_id``, namespace and seed.

    ``redis``: a ``redis.Redis`` client (used as given) or a URL; ``url`` is the
    URL used when ``redis`` is None (default ``redis://localhost:6379/0``, the
    classic primer API's ``redis.Redis()``). ``on_error``: ``"raise"`` (``BackendError``),
    ``"allow"`` or ``"deny"``; ``timeout``: socket timeout in seconds for a client
    built from a URL. ``clock``: take time from this clock instead of the server
    (a ``ManualClock`` for tests). Other keyword options go to
    :class:`~sysprims.backends.redis_ratelimit.RedisRateLimitBackend`
    (``namespace``, ``retries``, ``cooldown``, ``grace``).
    """

    def __init__(
        self,
        user_id: Any,
        capacity: float,
        refill_rate: float,
        *,
        redis: Any = None,
        url: str = DEFAULT_URL,
        on_error: str = "raise",
        timeout: float | None = 1.0,
        seed: int = 0,
        clock: Clock | None = None,
        **options: Any,
    ):
        from ..backends.registry import engine

        RedisRateLimitBackend = engine("ratelimit", "redis")

        self.user_id = user_id
        spec = A.SPECS["token_bucket"]
        self._params = A.check_params(spec, capacity, refill_rate)
        self.capacity = capacity
        self.refill_rate = refill_rate
        self._seed = check_seed(seed)
        self._clock = clock
        self._hk = hash128(user_id, self._seed)  # validates the key's type too
        self._backend = RedisRateLimitBackend(
            spec,
            self._params,
            self._seed,
            url if redis is None else redis,
            on_error=on_error,
            timeout=timeout,
            **options,
        )

    @property
    def backend(self):
        return self._backend

    @property
    def key(self) -> str:
        """The Redis key holding this bucket's state (a hash: tokens ``a``, time ``t``)."""
        return self._backend.key_of(self._hk)

    def _now(self, now: Any) -> float | None:
        if now is None:
            return None if self._clock is None else float(self._clock.time())
        from .table import _scalar_seconds

        return _scalar_seconds(now)

    def allow_request(self, cost: float = 1, now: Any = None) -> bool:
        """Take ``cost`` tokens if there are that many; True if allowed.

        ``now`` (float seconds or datetime64) replaces the server's time, for replays
        and tests; a time earlier than the bucket's latest is raised to it.
        """
        c = 1.0 if cost == 1 else A.check_cost(self._backend.spec, cost)
        return self._backend.allow_one(self._hk, self._now(now), c)

    def decide(self, cost: float = 1, now: Any = None) -> Decision:
        """Like :meth:`allow_request`, returning a :class:`Decision` (remaining,
        retry-after and reset-after in seconds, ``headers()``)."""
        c = A.check_cost(self._backend.spec, cost)
        allowed, remaining, retry, reset = self._backend.decide(self._hk, self._now(now), c)
        return Decision(allowed, self._params[0], remaining, retry, reset, c)

    @property
    def tokens(self) -> float:
        """Tokens in the bucket now (server time; refills the stored state, takes none)."""
        _allowed, _now, row = self._backend.step_row(self._hk, self._now(None), 0.0)
        return row[0]

    def reset(self) -> None:
        """Forget this bucket's usage (deletes its Redis key): it is full again."""
        self._backend.reset(self._hk)

    def close(self) -> None:
        self._backend.close()

    def __repr__(self) -> str:
        return (
            f"DistributedTokenBucket({self.user_id!r}, capacity={self.capacity!r}, "
            f"refill_rate={self.refill_rate!r}, key={self.key!r}, on_error={self._backend.on_error!r})"
        )

    def _repr_html_(self) -> str:
        return html_table(
            "DistributedTokenBucket",
            [
                ("user_id", self.user_id),
                ("capacity", self.capacity),
                ("refill_rate", f"{self.refill_rate} tokens/s"),
                ("Redis key", self.key),
                ("on_error", self._backend.on_error),
                ("time", self._backend.time),
            ],
        )
